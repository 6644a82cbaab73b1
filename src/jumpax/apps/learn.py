"""Deep abstraction: a learned stochastic surrogate of a reaction network (``jumpax learn``).

The recipe, each step a public function:

1. :func:`fit_surrogate`: simulate the network exactly on a time grid of step ``dt``, turn the
   grid into transitions ``x(t) -> x(t + dt)``
   (:meth:`~jumpax.transitions.TransitionBatch.from_simulation`) and fit a
   :class:`~jumpax.dynamics.StochasticTransitionModel` with
   :class:`~jumpax.dynamics.CountSurrogate` as its network by maximum likelihood
   (:class:`~jumpax.model_updaters.ModelUpdater`).
2. :func:`rollout`: sample the surrogate forward, ``dt`` at a time.
3. :func:`compare`: compare the surrogate's marginal distributions at several horizons with a
   fresh exact ensemble (:func:`wasserstein_1`, :func:`total_variation`, means and variances),
   next to the sampling-noise floor of the same statistics between two exact ensembles.

:func:`main` runs the whole experiment and prints a report; :func:`add_arguments` declares its
command-line options.
"""

import argparse
import functools as ft
import math
import sys
import time

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from jumpax import ReactionNetwork, models, simulate
from jumpax.dynamics import CountSurrogate, StochasticTransitionModel
from jumpax.learning._model_updaters import fit_on_minibatches
from jumpax.transitions import TransitionBatch

from ._arguments import UsageError, positive_float, positive_float_list, positive_int, seed

__all__ = [
    "add_arguments",
    "compare",
    "fit_surrogate",
    "main",
    "rollout",
    "total_variation",
    "wasserstein_1",
]

NO_ACTION = gymnasium.spaces.Box(-np.inf, np.inf, shape=(0,))
"""The action space of an autonomous system: actions are empty vectors."""


def fit_surrogate(
    key: Array,
    network: ReactionNetwork,
    *,
    dt: float,
    t1: float,
    num_trajectories: int = 2000,
    steps: int = 6000,
    batch_size: int = 1024,
    learning_rate: float = 3e-3,
    width: int = 32,
    progress: bool = False,
) -> tuple[StochasticTransitionModel, dict[str, float]]:
    """Learn a ``dt``-step stochastic surrogate of a network from exact simulations.

    Args:
        key: A JAX random key.
        network: The reaction network; trajectories start from ``network.x0``.
        dt: The time step of the surrogate.
        t1: The horizon of the training simulations.
        num_trajectories: The number of exact training trajectories.
        steps: The number of optimizer steps.
        batch_size: Transitions per step, drawn with replacement.
        learning_rate: The initial Adam learning rate (cosine-decayed to 5% of it).
        width: The width of :class:`~jumpax.dynamics.CountSurrogate`'s hidden layers.
        progress: Whether to show a progress bar of the optimizer steps (on stderr).

    Returns:
        The fitted model and a dict with ``transitions`` (number of training transitions),
        ``loss`` (the final negative log-likelihood per transition), ``simulation_s`` and
        ``training_s`` (wall-clock seconds).
    """
    sim_key, init_key, batch_key = jax.random.split(key, 3)
    start = time.perf_counter()
    times = jnp.linspace(0.0, t1, round(t1 / dt) + 1)
    results = simulate(
        sim_key, network, network.x0, t1, save_at=times, num_trajectories=num_trajectories
    )
    data = jax.tree.map(np.asarray, TransitionBatch.from_simulation(results))
    simulation_s = time.perf_counter() - start

    scale = np.maximum(data.S.mean(axis=0), 1.0)
    observation_space = gymnasium.spaces.Box(0.0, np.inf, shape=(network.n_species,))
    func = CountSurrogate(scale, width=width, key=init_key)
    model = StochasticTransitionModel(func, observation_space, NO_ACTION)
    start = time.perf_counter()
    metrics = fit_on_minibatches(
        model, data, batch_key, steps=steps, batch_size=batch_size,
        learning_rate=learning_rate, progress=progress,
    )
    training_s = time.perf_counter() - start
    info = {
        "transitions": float(len(data)),
        "loss": float(metrics["ModelUpdater/loss"]),
        "simulation_s": simulation_s,
        "training_s": training_s,
    }
    return model, info


@ft.partial(jax.jit, static_argnums=(0, 3))
def _rollout(model: StochasticTransitionModel, params, key: Array, num_steps: int, x0: Array):
    actions = jnp.zeros((x0.shape[0], 0))

    def step(x: Array, key: Array) -> tuple[Array, Array]:
        dist_params, _ = model.forward(params, model.function_state, x, actions)
        x = jnp.maximum(jnp.round(model.distribution.sample(dist_params, key)), 0.0)
        return x, x

    _, xs = jax.lax.scan(step, x0, jax.random.split(key, num_steps))
    return jnp.concatenate([x0[None], xs])


def rollout(model: StochasticTransitionModel, key: Array, x0: Array, num_steps: int) -> Array:
    """Sample trajectories of an autonomous surrogate, one model step at a time.

    Each sample is projected onto the count lattice (rounded to the nearest integer and floored
    at 0) before it is fed back, so that the surrogate's states are valid molecule counts.

    Args:
        model: A stochastic transition model with an empty action space.
        key: A JAX random key.
        x0: Initial states, shape ``(n, n_species)``.
        num_steps: The number of steps.

    Returns:
        The states, shape ``(num_steps + 1, n, n_species)``, starting with ``x0``.
    """
    return _rollout(model, model.params, key, num_steps, jnp.asarray(x0, jnp.float32))


def wasserstein_1(a: np.ndarray, b: np.ndarray) -> float:
    """The Wasserstein-1 distance between two 1-D empirical distributions.

    It is ``integral |F_a(x) - F_b(x)| dx`` for the empirical CDFs, in the units of the samples.

    Args:
        a: Samples of the first distribution.
        b: Samples of the second distribution.

    Returns:
        The distance.
    """
    a, b = np.sort(np.ravel(a)), np.sort(np.ravel(b))
    support = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(a, support[:-1], side="right") / a.size
    cdf_b = np.searchsorted(b, support[:-1], side="right") / b.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * np.diff(support)))


def total_variation(a: np.ndarray, b: np.ndarray, num_bins: int = 30) -> float:
    """The total-variation distance between histograms of two 1-D samples.

    Both histograms share ``num_bins`` bins of integer width spanning the pooled samples (so
    integer counts are never split between bins). It is 0 for identical histograms and 1 for
    disjoint ones.

    Args:
        a: Samples of the first distribution.
        b: Samples of the second distribution.
        num_bins: The (approximate) number of bins.

    Returns:
        The distance.
    """
    low, high = min(a.min(), b.min()), max(a.max(), b.max())
    width = max(1.0, math.ceil((high - low + 1) / num_bins))
    edges = np.arange(np.floor(low), high + width + 1, width) - 0.5
    p = np.histogram(a, edges)[0] / np.size(a)
    q = np.histogram(b, edges)[0] / np.size(b)
    return float(0.5 * np.sum(np.abs(p - q)))


def compare(
    surrogate: np.ndarray, exact: np.ndarray, reference: np.ndarray
) -> list[dict[str, float]]:
    """Distribution statistics of the surrogate against exact simulation, per species.

    Args:
        surrogate: Surrogate samples at one time, shape ``(n, n_species)``.
        exact: Exact samples at the same time, shape ``(n, n_species)``.
        reference: A second, independent exact ensemble of the same size: the distances between
            ``exact`` and ``reference`` are the sampling-noise floor.

    Returns:
        One dict per species with ``w1``, ``w1_floor``, ``tv``, ``tv_floor``, ``mean_exact``,
        ``mean_surrogate``, ``var_exact`` and ``var_surrogate``.
    """
    rows = []
    for j in range(exact.shape[1]):
        s, e, r = surrogate[:, j], exact[:, j], reference[:, j]
        rows.append(
            {
                "w1": wasserstein_1(s, e),
                "w1_floor": wasserstein_1(r, e),
                "tv": total_variation(s, e),
                "tv_floor": total_variation(r, e),
                "mean_exact": float(e.mean()),
                "mean_surrogate": float(s.mean()),
                "var_exact": float(e.var()),
                "var_surrogate": float(s.var()),
            }
        )
    return rows


def _timed(fn, *args) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return time.perf_counter() - start, np.asarray(out)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``jumpax learn`` on a parser.

    Args:
        parser: The (sub-command) parser.
    """
    parser.add_argument(
        "--model",
        default="two_stage_gene_expression",
        choices=sorted(models.CATALOGUE),
        help="built-in network to abstract (default: two_stage_gene_expression)",
    )
    parser.add_argument(
        "--t1", type=positive_float, help="longest horizon (default: the model's t1)"
    )
    parser.add_argument(
        "--dt", type=positive_float, help="surrogate time step (default: t1 / 40)"
    )
    parser.add_argument(
        "--horizons",
        type=positive_float_list,
        help="comparison times, multiples of dt (default: about t1 x 0.1,0.25,0.5,1)",
    )
    parser.add_argument("--train-trajectories", type=positive_int, default=2000)
    parser.add_argument("--steps", type=positive_int, default=6000, help="optimizer steps")
    parser.add_argument("--width", type=positive_int, default=32, help="hidden layer width")
    parser.add_argument("--eval-trajectories", type=positive_int, default=10000)
    parser.add_argument("--seed", type=seed, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def _time_grid(args: argparse.Namespace) -> tuple[float, list[float], list[int]]:
    """The time step, the comparison horizons and their numbers of steps.

    Raises:
        UsageError: if a horizon is not a positive multiple of ``dt``, or ``dt`` exceeds ``t1``.
    """
    t1 = models.CATALOGUE[args.model].t1 if args.t1 is None else args.t1
    dt = t1 / 40 if args.dt is None else args.dt
    if args.horizons is None:  # about 0.1, 0.25, 0.5 and 1 times t1, on the dt grid
        if dt > t1:
            raise UsageError(f"argument --dt: the time step {dt:g} exceeds t1 = {t1:g}")
        horizons = sorted({max(1, round(f * t1 / dt)) * dt for f in (0.1, 0.25, 0.5, 1.0)})
    else:
        horizons = args.horizons
    steps_at = [round(h / dt) for h in horizons]
    if any(k < 1 or not math.isclose(k * dt, h) for k, h in zip(steps_at, horizons, strict=True)):
        raise UsageError(
            f"argument --horizons: horizons {horizons} must be positive multiples of dt = {dt:g}"
        )
    return dt, horizons, steps_at


def main(args: argparse.Namespace) -> int:
    """Run the deep-abstraction experiment and print its report (``jumpax learn``).

    All options are checked before anything is simulated. Progress goes to stderr unless
    ``args.quiet``.

    Args:
        args: Options declared by :func:`add_arguments`.

    Returns:
        The exit status, 0.

    Raises:
        ValueError: A :class:`UsageError` if a horizon is not a positive multiple of ``dt``, or
            the default horizons are asked for with ``dt`` greater than ``t1``.
    """
    dt, horizons, steps_at = _time_grid(args)
    network = models.CATALOGUE[args.model].build()
    t_max = max(horizons)
    train_key, eval_key, reference_key, rollout_key = jax.random.split(jax.random.key(args.seed), 4)

    def say(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr)

    print(f"deep abstraction of {args.model} ({', '.join(network.species)}), dt = {dt:g}")
    say(f"simulating {args.train_trajectories} exact training trajectories, then training ...")
    model, info = fit_surrogate(
        train_key,
        network,
        dt=dt,
        t1=t_max,
        num_trajectories=args.train_trajectories,
        steps=args.steps,
        width=args.width,
        progress=not args.quiet,
    )
    print(
        f"trained on {info['transitions']:.0f} exact transitions: simulation "
        f"{info['simulation_s']:.1f} s, {args.steps} steps {info['training_s']:.1f} s, "
        f"final NLL {info['loss']:.3f} per transition"
    )

    n = args.eval_trajectories
    grid = jnp.linspace(0.0, t_max, max(steps_at) + 1)

    def exact(key: Array) -> Array:
        return simulate(key, network, network.x0, t_max, save_at=grid, num_trajectories=n).x

    x0 = np.broadcast_to(np.asarray(network.x0), (n, network.n_species))
    say(f"simulating 2 x {n} exact and {n} surrogate evaluation trajectories ...")
    exact(eval_key)  # compile
    exact_s, exact_x = _timed(exact, eval_key)
    _, reference_x = _timed(exact, reference_key)
    rollout(model, rollout_key, x0, max(steps_at))  # compile
    surrogate_s, surrogate_x = _timed(rollout, model, rollout_key, x0, max(steps_at))
    surrogate_x = np.moveaxis(surrogate_x, 0, 1)  # (n, time, species), like exact_x

    print(
        f"{n} trajectories to t = {t_max:g}: exact {exact_s:.3f} s, surrogate "
        f"{surrogate_s:.4f} s, speedup {exact_s / surrogate_s:.0f}x (compilation excluded)"
    )
    print(
        "horizon  species       W1 (floor)        TV (floor)      mean exact/surr"
        "       var exact/surr"
    )
    for h, k in zip(horizons, steps_at, strict=True):
        rows = compare(surrogate_x[:, k], exact_x[:, k], reference_x[:, k])
        for name, row in zip(network.species, rows, strict=True):
            print(
                f"{h:7g}  {name:8s} {row['w1']:7.3f} ({row['w1_floor']:.3f})  "
                f"{row['tv']:7.3f} ({row['tv_floor']:.3f})  "
                f"{row['mean_exact']:8.2f}/{row['mean_surrogate']:<8.2f}  "
                f"{row['var_exact']:9.1f}/{row['var_surrogate']:<9.1f}"
            )
    return 0
