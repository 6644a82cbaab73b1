"""Reaction networks as control environments: the pure, functional face.

A :class:`ControlEnv` is an Equinox module whose :meth:`~ControlEnv.reset` and
:meth:`~ControlEnv.step` are pure functions of a key, a state and an action, so they compile
and ``jax.vmap`` over thousands of parallel environments (the gymnax convention, without
auto-reset: an episode is always ``horizon`` steps). Between two sampling times the network is
simulated exactly (:func:`jumpax.simulate`) under the action held constant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from .._checks import check_positive_int
from .._network._network import ReactionNetwork, checked_state
from .._simulate._simulate import simulate
from .._solver._base import AbstractSolver
from .._solver._direct import Direct
from ._inputs import AbstractInput

__all__ = ["ControlEnv", "EnvState", "Episodes", "SetpointCost", "rollout"]


class SetpointCost(eqx.Module):
    """The tracking cost of one step: squared relative error to a (scheduled) set-point.

    ``cost(y, u, k) = mean_i ((y_i - r_i(k)) / scale_i)**2 + action_weight * mean(u**2)``, where
    ``y`` are the true counts of the tracked species after the step (sampling time ``k``), ``r(k)``
    the set-point at that time and ``u`` the action. The reward of a step is ``-cost``.

    Attributes:
        species: The tracked species (each must be observed by the environment).
        targets: The set-points, ``(n_times, n_species)``: row ``k`` applies at sampling time
            ``k`` (times past the last row use the last row).
        scale: The error scale of each species (default: its largest set-point).
        action_weight: The weight of the action penalty.
    """

    species: tuple[str, ...] = eqx.field(static=True)
    targets: Array
    scale: Array
    action_weight: float = eqx.field(static=True)

    def __init__(
        self,
        targets: dict[str, ArrayLike],
        *,
        scale: dict[str, float] | None = None,
        action_weight: float = 0.0,
    ):
        """Create the cost.

        Args:
            targets: ``{species: set-point}``: a number (constant), or a schedule with one
                value per sampling time ``0..horizon``.
            scale: ``{species: scale}``; default: the largest set-point of each species.
            action_weight: The weight of ``mean(u**2)``, non-negative.

        Raises:
            ValueError: for no species, schedules of different lengths, non-finite or negative
                set-points, non-positive scales or a negative ``action_weight``.
        """
        if not targets:
            raise ValueError("SetpointCost needs at least one tracked species")
        columns = [np.atleast_1d(np.asarray(v, np.float64)) for v in targets.values()]
        length = max(len(c) for c in columns)
        if any(c.ndim != 1 or len(c) not in (1, length) for c in columns):
            raise ValueError("set-point schedules must be numbers or 1-D, all of one length")
        table = np.stack([np.broadcast_to(c, (length,)) for c in columns], axis=1)
        if not np.all(np.isfinite(table) & (table >= 0)):
            raise ValueError(f"set-points must be finite and non-negative, got {targets}")
        scale = scale or {}
        unknown = set(scale) - set(targets)
        if unknown:
            raise ValueError(f"scale given for untracked species {sorted(unknown)}")
        scales = np.array(
            [scale.get(name, max(float(table[:, i].max()), 1.0)) for i, name in enumerate(targets)]
        )
        if not np.all(np.isfinite(scales) & (scales > 0)):
            raise ValueError(f"scales must be finite and positive, got {scales}")
        if not action_weight >= 0:
            raise ValueError(f"action_weight must be non-negative, got {action_weight}")
        self.species = tuple(targets)
        self.targets = jnp.asarray(table, jnp.float32)
        self.scale = jnp.asarray(scales, jnp.float32)
        self.action_weight = float(action_weight)

    def reference(self, k: ArrayLike) -> Array:
        """The set-points at sampling time ``k``, shape ``(n_species,)``."""
        return self.targets[jnp.clip(k, 0, self.targets.shape[0] - 1)]

    def __call__(self, y: Array, u: Array, k: ArrayLike) -> Array:
        """The cost of reaching tracked counts ``y`` at sampling time ``k`` under action ``u``."""
        error = (y - self.reference(k)) / self.scale
        penalty = self.action_weight * jnp.mean(u**2) if u.size else 0.0
        return jnp.mean(error**2) + penalty


class EnvState(eqx.Module):
    """The state of one environment.

    Attributes:
        x: The true counts, ``(n_species,)``.
        k: The sampling time index (0 after reset; the episode ends at ``horizon``).
    """

    x: Array
    k: Array


class ControlEnv(eqx.Module):
    """A reaction network with control inputs, an observation model and a tracking cost.

    One step holds the action for ``dt`` time units, simulates the network exactly over the
    interval (absolute times ``[k dt, (k + 1) dt]``, so time events of the network fire when
    they should), observes the counts of the ``observed`` species with optional Gaussian
    measurement noise, and rewards ``-cost``. Episodes last ``horizon`` steps.

    Attributes:
        network: The reaction network (its rate parameters outside the inputs stay fixed).
        inputs: One :class:`~jumpax.control.AbstractInput` per action entry.
        observed: The observed species, in observation order.
        noise_sd: The standard deviation of additive Gaussian measurement noise, in molecules.
        cost: The per-step tracking cost.
        dt: The sampling interval.
        horizon: The number of steps per episode.
        x0: The initial counts.
        solver: The solver of the intervals (exact :class:`~jumpax.Direct` by default).
        max_steps: The step budget of one interval; running out is an error.
    """

    network: ReactionNetwork
    inputs: tuple[AbstractInput, ...]
    observed: tuple[str, ...] = eqx.field(static=True)
    noise_sd: float = eqx.field(static=True)
    cost: SetpointCost
    dt: float = eqx.field(static=True)
    horizon: int = eqx.field(static=True)
    x0: Array
    solver: AbstractSolver
    max_steps: int = eqx.field(static=True)

    def __init__(
        self,
        network: ReactionNetwork,
        inputs: Sequence[AbstractInput],
        cost: SetpointCost,
        *,
        dt: float,
        horizon: int,
        observed: Sequence[str] | None = None,
        noise_sd: float = 0.0,
        x0: ArrayLike | dict[str, int] | None = None,
        solver: AbstractSolver = Direct(),
        max_steps: int = 10_000_000,
    ):
        """Create the environment.

        Args:
            network: The reaction network.
            inputs: The control inputs, one per action entry (at least one).
            cost: The tracking cost; its species must be observed.
            dt: The sampling interval, positive.
            horizon: Steps per episode, positive.
            observed: The observed species (default: all).
            noise_sd: Measurement noise standard deviation, non-negative.
            x0: The initial counts (default: ``network.x0``).
            solver: The solver of each interval: an exact solver, or ``TauLeaping``.
            max_steps: The step budget of one interval.

        Raises:
            ValueError: for an input that does not fit the network, unknown or untracked
                species, or a non-positive ``dt``, ``horizon`` or ``max_steps``.
        """
        if not inputs:
            raise ValueError("a control environment needs at least one input")
        for control in inputs:
            if not isinstance(control, AbstractInput):
                raise TypeError(f"inputs must be RateInput or SpeciesInput, got {control!r}")
            control.check(network)
        observed = tuple(network.species if observed is None else observed)
        if not observed:
            raise ValueError("at least one species must be observed")
        for name in observed:
            network.species_index(name)
        missing = [name for name in cost.species if name not in observed]
        if missing:
            raise ValueError(f"the cost tracks {missing}, which are not observed {observed}")
        if not (np.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be positive and finite, got {dt}")
        check_positive_int("horizon", horizon)
        check_positive_int("max_steps", max_steps)
        if not (np.isfinite(noise_sd) and noise_sd >= 0):
            raise ValueError(f"noise_sd must be finite and non-negative, got {noise_sd}")
        solver.check(network)
        x0 = network.x0 if x0 is None else x0
        self.network = network
        self.inputs = tuple(inputs)
        self.observed = observed
        self.noise_sd = float(noise_sd)
        self.cost = cost
        self.dt = float(dt)
        self.horizon = int(horizon)
        self.x0 = checked_state(network.species, x0, integer=solver.integer_counts)
        self.solver = solver
        self.max_steps = int(max_steps)

    # ------------------------------------------------------------------ spaces and helpers
    @property
    def action_low(self) -> np.ndarray:
        """The lower bounds of the action entries."""
        return np.array([control.low for control in self.inputs], np.float32)

    @property
    def action_high(self) -> np.ndarray:
        """The upper bounds of the action entries."""
        return np.array([control.high for control in self.inputs], np.float32)

    @property
    def action_space(self) -> gymnasium.spaces.Box:
        """``Box(low, high)`` with one entry per input."""
        return gymnasium.spaces.Box(self.action_low, self.action_high, dtype=np.float32)

    @property
    def observation_space(self) -> gymnasium.spaces.Box:
        """Counts of the observed species: ``[0, inf)``, or the real line with noise."""
        low = -np.inf if self.noise_sd > 0 else 0.0
        return gymnasium.spaces.Box(low, np.inf, shape=(len(self.observed),), dtype=np.float32)

    @property
    def observed_index(self) -> np.ndarray:
        """Positions of the observed species in the state."""
        return np.array([self.network.species_index(name) for name in self.observed])

    @property
    def tracked_index(self) -> np.ndarray:
        """Positions of the cost's species in the observation."""
        return np.array([self.observed.index(name) for name in self.cost.species])

    def tracked_counts(self, x: Array) -> Array:
        """The true counts of the cost's species in counts ``x`` (what the cost is paid on)."""
        return x[self.observed_index][self.tracked_index].astype(jnp.float32)

    def clip(self, action: ArrayLike) -> Array:
        """The action as a float32 vector clipped to the bounds.

        Raises:
            ValueError: for an action of the wrong shape.
        """
        action = jnp.asarray(action, jnp.float32)
        if action.shape != (len(self.inputs),):
            raise ValueError(
                f"an action has shape ({len(self.inputs)},) (one entry per input), got "
                f"{action.shape}"
            )
        action = eqx.error_if(action, ~jnp.all(jnp.isfinite(action)), "actions must be finite")
        return jnp.clip(action, self.action_low, self.action_high)

    # ---------------------------------------------------------------------------- dynamics
    def transition(self, key: PRNGKeyArray, x: Array, action: ArrayLike, k: ArrayLike) -> Array:
        """The true counts one interval after counts ``x`` at sampling time ``k``.

        The action is clipped to its bounds; the interval is simulated exactly.
        """
        return self._interval(key, x, self.clip(action), k)

    def _interval(self, key: PRNGKeyArray, x: Array, u: Array, k: ArrayLike) -> Array:
        """:meth:`transition` under an action already clipped."""
        network = self.network
        for i, control in enumerate(self.inputs):
            network, x = control.apply(network, x, u[i])
        t0 = jnp.asarray(k, jnp.float32) * self.dt
        results = simulate(
            key, network, x, t0 + self.dt, t0=t0, solver=self.solver, save_at="final",
            max_steps=self.max_steps,
        )
        return eqx.error_if(
            results.x, results.overflow,
            f"an interval needed more than max_steps={self.max_steps} steps: raise max_steps",
        )

    def observe(self, key: PRNGKeyArray, x: Array) -> Array:
        """The observation of counts ``x``: the observed counts plus measurement noise."""
        y = x[self.observed_index].astype(jnp.float32)
        if self.noise_sd > 0:
            y = y + self.noise_sd * jax.random.normal(key, y.shape, jnp.float32)
        return y

    def reset(self, key: PRNGKeyArray) -> tuple[Array, EnvState]:
        """Start an episode: ``(observation, state)`` at sampling time 0."""
        state = EnvState(x=jnp.asarray(self.x0), k=jnp.zeros((), jnp.int32))
        return self.observe(key, state.x), state

    def step(
        self, key: PRNGKeyArray, state: EnvState, action: ArrayLike
    ) -> tuple[Array, EnvState, Array, Array, dict[str, Array]]:
        """One sampling interval: ``(observation, state, reward, done, info)``.

        ``done`` is True after ``horizon`` steps (a time limit: there is no terminal state).
        ``info`` holds ``cost``, the set-point ``reference`` at the new sampling time and the
        ``action`` applied (clipped to the bounds).
        """
        sim_key, obs_key = jax.random.split(key)
        u = self.clip(action)
        x = self._interval(sim_key, state.x, u, state.k)
        k = state.k + 1
        cost = self.cost(self.tracked_counts(x), u, k)
        info = {"cost": cost, "reference": self.cost.reference(k), "action": u}
        new = EnvState(x=x, k=k)
        return self.observe(obs_key, x), new, -cost, k >= self.horizon, info


class Episodes(eqx.Module):
    """Whole episodes, with a leading episode axis.

    Attributes:
        observations: ``(n, horizon + 1, n_observed)``.
        states: The true counts, ``(n, horizon + 1, n_species)``.
        actions: ``(n, horizon, n_inputs)``.
        rewards: ``(n, horizon)``.
    """

    observations: Array
    states: Array
    actions: Array
    rewards: Array

    @property
    def mean_cost(self) -> Array:
        """The tracking cost per step, averaged over steps and episodes."""
        return -jnp.mean(self.rewards)


def _episode(env: ControlEnv, controller: Any, key: PRNGKeyArray) -> Episodes:
    """One episode from ``key``: the key chain that the Gymnasium face uses for one seed."""
    reset_key, key = jax.random.split(key)
    obs, state = env.reset(reset_key)
    carry = controller.init(env, obs)

    def one(c, _):
        key, obs, state, carry = c
        step_key, key = jax.random.split(key)
        action, carry = controller(jax.random.fold_in(step_key, 1), carry, obs, state)
        new_obs, new_state, reward, _, info = env.step(step_key, state, action)
        return (key, new_obs, new_state, carry), (new_obs, new_state.x, info["action"], reward)

    _, (observations, xs, actions, rewards) = jax.lax.scan(
        one, (key, obs, state, carry), length=env.horizon
    )
    return Episodes(
        observations=jnp.concatenate([obs[None], observations]),
        states=jnp.concatenate([state.x[None], xs]),
        actions=actions,
        rewards=rewards,
    )


@eqx.filter_jit
def _episodes(env: ControlEnv, controller: Any, keys: Array) -> Episodes:
    return jax.vmap(lambda key: _episode(env, controller, key))(keys)


def rollout(
    env: ControlEnv, controller: Any, key: PRNGKeyArray, num_episodes: int | None = None
) -> Episodes:
    """Run parallel episodes under a controller, compiled as one computation.

    With one key, episode ``i`` uses ``jax.random.fold_in(key, i)``; a batch of keys gives one
    episode per key. An episode with key ``k`` is the episode that the Gymnasium face
    (:class:`~jumpax.control.ReactionNetworkEnv`) runs after ``reset(seed=s)`` when
    ``k = jax.random.key(s)`` and it is fed the same actions.

    Args:
        env: The environment.
        controller: A controller (:class:`~jumpax.control.AbstractController`): ``init(env,
            obs)`` and ``controller(key, carry, obs, state) -> (action, carry)``.
        key: A JAX random key, or a batch of keys ``(n,)``, one per episode.
        num_episodes: The number of episodes with one key (default 1); with a batch of keys,
            ``None`` or the batch size.

    Returns:
        The :class:`Episodes`.

    Raises:
        ValueError: for a ``num_episodes`` that is not positive or does not match the keys.
    """
    key = jnp.asarray(key)
    if key.ndim == 1:
        if num_episodes not in (None, key.shape[0]):
            raise ValueError(f"{key.shape[0]} keys for num_episodes={num_episodes}")
        keys = key
    else:
        num_episodes = 1 if num_episodes is None else num_episodes
        check_positive_int("num_episodes", num_episodes)
        keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(num_episodes))
    return _episodes(env, controller, keys)
