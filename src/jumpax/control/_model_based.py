"""Model-based control with the seed-001 pieces, and the comparison with baselines.

The loop: collect transitions from the environment (:func:`collect_transitions`, as a
:class:`~jumpax.transitions.TransitionBatch`), fit a
:class:`~jumpax.dynamics.StochasticTransitionModel` of the observations with a
:class:`~jumpax.model_updaters.ModelUpdater` (:func:`fit_dynamics`), plan on it
(:class:`~jumpax.control.MPCController` over :class:`~jumpax.control.LearnedModel`), act,
collect more and refit. :func:`compare_controllers` runs it next to a tuned constant input, a
tuned PI controller and the oracle (MPC planning with exact simulation of the true network).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jaxtyping import PRNGKeyArray

from ..learning._count_surrogate import CountSurrogate
from ..learning._dynamics import StochasticTransitionModel
from ..learning._model_updaters import fit_on_minibatches
from ..learning._transitions import TransitionBatch
from ._controllers import (
    AbstractController,
    ConstantController,
    ExactModel,
    LearnedModel,
    MPCController,
    PIController,
    RandomController,
)
from ._env import ControlEnv, Episodes, rollout

__all__ = [
    "collect_transitions", "compare_controllers", "fit_dynamics", "tune_constant", "tune_pi",
]


def collect_transitions(
    env: ControlEnv, controller: AbstractController, key: PRNGKeyArray, num_episodes: int
) -> tuple[TransitionBatch, Episodes]:
    """Run episodes and return their transitions ``(obs, action, reward, next obs)``.

    Args:
        env: The environment.
        controller: The controller that acts (e.g. :class:`~jumpax.control.RandomController`
            to explore).
        key: A JAX random key.
        num_episodes: The number of episodes (run in parallel).

    Returns:
        The transitions (``num_episodes * env.horizon`` rows; ``In = 1``: a time limit is not
        a terminal state) and the episodes.
    """
    episodes = rollout(env, controller, key, num_episodes)
    n_obs, n_in = len(env.observed), len(env.inputs)
    batch = TransitionBatch(
        S=np.asarray(episodes.observations[:, :-1]).reshape(-1, n_obs),
        A=np.asarray(episodes.actions).reshape(-1, n_in),
        S_next=np.asarray(episodes.observations[:, 1:]).reshape(-1, n_obs),
        Rn=np.asarray(episodes.rewards).reshape(-1),
    )
    return batch, episodes


def _concatenate(batches: list[TransitionBatch]) -> TransitionBatch:
    """One batch holding the rows of several."""
    return TransitionBatch(
        **{
            name: np.concatenate([np.asarray(getattr(b, name)) for b in batches])
            for name in ("S", "A", "S_next", "Rn")
        }
    )


def fit_dynamics(
    key: PRNGKeyArray,
    env: ControlEnv,
    batch: TransitionBatch,
    *,
    model: StochasticTransitionModel | None = None,
    steps: int = 2000,
    batch_size: int = 512,
    learning_rate: float = 3e-3,
    width: int = 64,
    progress: bool = False,
) -> StochasticTransitionModel:
    """Fit (or refit) a stochastic model of the next observation by maximum likelihood.

    The model is a :class:`~jumpax.dynamics.StochasticTransitionModel` whose ``func`` is a
    :class:`~jumpax.dynamics.CountSurrogate` (a Gaussian step in counts, scaled by the mean
    observation), trained with :class:`~jumpax.model_updaters.ModelUpdater` and Adam with a
    cosine-decayed learning rate on minibatches drawn with replacement.

    Args:
        key: A JAX random key.
        env: The environment (its observation and action spaces).
        batch: The transitions.
        model: A model to keep training (a refit); ``None`` builds a new one.
        steps: Optimizer steps.
        batch_size: Transitions per step.
        learning_rate: The initial learning rate.
        width: Hidden width of a new model's MLP.
        progress: Whether to show a progress bar (on stderr).

    Returns:
        The fitted model.
    """
    init_key, rows_key = jax.random.split(key)
    if model is None:
        scale = np.maximum(np.abs(np.asarray(batch.S)).mean(axis=0), 1.0)
        func = CountSurrogate(scale, n_actions=len(env.inputs), width=width, key=init_key)
        model = StochasticTransitionModel(func, env.observation_space, env.action_space)
    fit_on_minibatches(
        model, batch, rows_key, steps=steps, batch_size=batch_size,
        learning_rate=learning_rate, progress=progress,
    )
    return model


def _episode_costs(episodes: Episodes) -> np.ndarray:
    """The mean cost per step of each episode."""
    return -np.asarray(episodes.rewards).mean(axis=1)


def _best(
    env: ControlEnv,
    key: PRNGKeyArray,
    candidates: list[AbstractController],
    num_episodes: int,
) -> tuple[int, float]:
    """The index and mean cost of the cheapest candidate (the same episodes' keys for each)."""
    costs = [float(_episode_costs(rollout(env, c, key, num_episodes)).mean()) for c in candidates]
    best = int(np.argmin(costs))
    return best, costs[best]


def tune_constant(
    env: ControlEnv, key: PRNGKeyArray, *, levels: int = 6, num_episodes: int = 32
) -> ConstantController:
    """The best constant action on a grid of ``levels`` values per input (by rollouts)."""
    grids = [
        np.linspace(lo, hi, levels) for lo, hi in zip(env.action_low, env.action_high, strict=True)
    ]
    candidates = [ConstantController(np.array(a)) for a in itertools.product(*grids)]
    best, _ = _best(env, key, candidates, num_episodes)
    return candidates[best]


def tune_pi(
    env: ControlEnv,
    key: PRNGKeyArray,
    *,
    kp: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0),
    ki: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.4),
    num_episodes: int = 32,
) -> PIController:
    """The best PI gains on a grid (by rollouts), with the bias at the middle of the bounds."""
    bias = (env.action_low + env.action_high) / 2
    candidates = [PIController(env, p, i, bias) for p, i in itertools.product(kp, ki)]
    best, _ = _best(env, key, candidates, num_episodes)
    return candidates[best]


def compare_controllers(
    env: ControlEnv,
    key: PRNGKeyArray,
    *,
    eval_episodes: int = 20,
    explore_episodes: int = 64,
    refit_episodes: int = 16,
    fit_steps: int = 2000,
    mpc: dict[str, Any] | None = None,
    report: Callable[[str], None] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Compare a constant input, PI, MPC on a learned model and MPC on the true network.

    1. ``constant``: the best constant action on a grid; ``pi``: the best PI gains on a grid.
    2. ``learned_mpc``: ``explore_episodes`` episodes of random actions, a model fitted to them
       (:func:`fit_dynamics`), ``refit_episodes`` episodes of MPC on it, a refit on all the
       transitions; then MPC on the refitted model.
    3. ``oracle_mpc``: the same MPC planning with exact simulations from the true state.

    Every controller is evaluated on ``eval_episodes`` episodes with the same keys.

    Args:
        env: The environment.
        key: A JAX random key.
        eval_episodes: Evaluation episodes per controller.
        explore_episodes: Random-action episodes for the first fit.
        refit_episodes: Learned-MPC episodes collected before the refit.
        fit_steps: Optimizer steps of each fit.
        mpc: Keyword arguments of :class:`~jumpax.control.MPCController` (both MPCs).
        report: Called with a line of text after each stage (e.g. ``print``).
        progress: Whether to show the fits' progress bars.

    Returns:
        ``{"controllers": {name: {"cost", "sem", "seconds", ...}}, "episodes": {name:
        Episodes}}``: the mean tracking cost per step over the evaluation episodes, its
        standard error, the wall-clock time of the stage, and for ``learned_mpc`` the number of
        environment transitions the model was fitted on.
    """
    mpc = mpc or {}
    report = report or (lambda line: None)
    stages = ("tune", "explore", "fit", "refit_run", "refit", "eval")
    keys = dict(zip(stages, jax.random.split(key, len(stages)), strict=True))
    results: dict[str, Any] = {}
    episodes: dict[str, Episodes] = {}

    def evaluate(name: str, controller: AbstractController, start: float, **extra: Any) -> None:
        runs = rollout(env, controller, keys["eval"], eval_episodes)
        costs = _episode_costs(runs)
        episodes[name] = runs
        results[name] = {
            "cost": float(costs.mean()),
            "sem": float(costs.std(ddof=1) / np.sqrt(len(costs))) if len(costs) > 1 else 0.0,
            "seconds": time.perf_counter() - start,
            **extra,
        }
        report(f"{name}: cost {results[name]['cost']:.4f} +- {results[name]['sem']:.4f}")

    start = time.perf_counter()
    constant = tune_constant(env, keys["tune"])
    evaluate("constant", constant, start, action=np.asarray(constant.action).tolist())

    start = time.perf_counter()
    pi = tune_pi(env, keys["tune"])
    evaluate("pi", pi, start, kp=np.asarray(pi.kp).tolist(), ki=np.asarray(pi.ki).tolist())

    start = time.perf_counter()
    data, _ = collect_transitions(env, RandomController(env), keys["explore"], explore_episodes)
    model = fit_dynamics(keys["fit"], env, data, steps=fit_steps, progress=progress)
    more, _ = collect_transitions(
        env, MPCController(env, LearnedModel(model, env), **mpc), keys["refit_run"],
        refit_episodes,
    )
    data = _concatenate([data, more])
    model = fit_dynamics(keys["refit"], env, data, model=model, steps=fit_steps, progress=progress)
    evaluate(
        "learned_mpc", MPCController(env, LearnedModel(model, env), **mpc), start,
        transitions=len(data),
    )

    start = time.perf_counter()
    evaluate("oracle_mpc", MPCController(env, ExactModel(env), **mpc), start)
    return {"controllers": results, "episodes": episodes}

