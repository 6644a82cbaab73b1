"""Reward functions of simulated paths, for REINFORCE and other policy-gradient losses.

Every reward function here maps :class:`~jumpax.SimulationResults` to one reward per step,
aligned with :meth:`jumpax.ReactionNetwork.log_prob`: for event-list results of
``max_steps`` steps the rewards have shape ``(max_steps,)``, reward ``i`` belonging to step
``i`` (``x[i] -> x[i+1]``). Ensembles give ``(n_trajectories, max_steps)``, and a target can
then be a scalar or one value per trajectory (shape ``(n_trajectories,)``). Grid-mode results
work too: the steps are then the intervals between saved times.

Example:
    >>> rewards_fn = neg_final_state_distance(species="X", distance="L2")
    >>> rewards = rewards_fn(results, 50.0)           # (n, max_steps)
    >>> returns = discounted_returns(rewards, GAMMA=1.0)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._results import SimulationResults

__all__ = ["neg_final_state_distance", "rewards_from_state_metric", "steady_state_distance"]

RewardFn = Callable[..., Array]
"""``rewards_fn(results, ...) -> rewards``, shape ``(..., n_steps)``."""

_DISTANCES: dict[str, Callable[[Array], Array]] = {"L1": jnp.abs, "L2": jnp.square}


def _check_species(species: int | str) -> None:
    if isinstance(species, bool) or not isinstance(species, int | str):
        raise TypeError(f"species must be an index (int) or a name (str), got {species!r}")


def _counts(results: SimulationResults, species: int | str) -> Array:
    """Counts of one species over the rows of a path: ``(..., n_rows)``."""
    if results.mode == "final":
        raise ValueError(
            "rewards need a path: simulate with save_at=None (event list) or an array of times"
        )
    return results.species_counts(species)


def _as_target(target: ArrayLike) -> Array:
    """A scalar target, or one per trajectory, broadcastable against ``(..., n_rows)``."""
    return jnp.expand_dims(jnp.asarray(target), -1)


def _final_step(results: SimulationResults, n_steps: int) -> Array:
    """Index of the step whose reward is the final state's: the last row with a log-prob term.

    In event-list mode that is the survival row after the last event (``n_steps``), or the last
    step if the budget ran out; in grid mode the last interval.
    """
    if results.mode == "events":
        return jnp.minimum(results.n_steps, n_steps - 1)
    return jnp.full(results.n_steps.shape, n_steps - 1)


def neg_final_state_distance(
    species: int | str = 0, distance: Literal["L1", "L2"] = "L1"
) -> RewardFn:
    """Compute the negative distance from a target final state.

    This is useful for creating a reward function where the goal is to minimize the distance to
    a target state at the end of the simulation. The reward sits on the last step that has a
    likelihood term (for an event list, the survival row after the last event), so that with
    :func:`~jumpax.optimization.discounted_returns` every step before it is credited.

    Args:
        species: the index or name of the species to track.
        distance: the distance metric, ``"L1"`` (``|x - target|``) or ``"L2"``
            (``(x - target)**2``).

    Returns:
        ``rewards_fn(results, target_ss)`` returning the reward vector ``(..., n_steps)``: zero
        except ``-distance(x_final, target_ss)`` at the final step. ``target_ss`` is a scalar or
        one target per trajectory.

    Raises:
        ValueError: for an unknown ``distance`` or a ``species`` that is neither an int nor a
            str; the returned function raises it for an unknown species name or final-state
            results.
    """
    _check_species(species)
    if distance not in _DISTANCES:
        raise ValueError(f"distance must be one of {sorted(_DISTANCES)}, got {distance!r}")
    distance_fn = _DISTANCES[distance]

    def rewards_fn(ssa_results: SimulationResults, target_ss: ArrayLike) -> Array:
        counts = _counts(ssa_results, species)
        n_steps = counts.shape[-1] - 1
        reward = -distance_fn(counts[..., -1:] - _as_target(target_ss))
        is_final = jnp.arange(n_steps) == _final_step(ssa_results, n_steps)[..., None]
        return jnp.where(is_final, reward, 0.0)

    return rewards_fn


def steady_state_distance(from_t: float = 0.0, species: int | str = 0) -> RewardFn:
    """Compute the distance from a target steady state.

    A state metric for :func:`rewards_from_state_metric`: the absolute distance
    ``|x - target_ss|`` of one species at every row of the path whose time is at least
    ``from_t``, and 0 before.

    Example:
        >>> rewards_fn = rewards_from_state_metric(steady_state_distance(5.0, "X"), "cost")
        >>> rewards = rewards_fn(results, target_ss=50.0)

    Args:
        from_t: the time from which to start computing the distance.
        species: the index or name of the species to track.

    Returns:
        ``metric_fn(results, target_ss)`` returning the distances ``(..., n_rows)``, one per
        row of ``results.x`` (``target_ss`` a scalar or one per trajectory).

    Raises:
        ValueError: for a ``species`` that is neither an int nor a str; the returned function
            raises it for an unknown species name or final-state results.
    """
    _check_species(species)

    def metric_fn(ssa_results: SimulationResults, target_ss: ArrayLike) -> Array:
        counts = _counts(ssa_results, species)
        distance = jnp.abs(counts - _as_target(target_ss))
        return jnp.where(ssa_results.t < from_t, 0.0, distance)

    return metric_fn


def rewards_from_state_metric(
    metric_fn: Callable[..., Array], metric_type: Literal["cost", "reward"] = "cost"
) -> RewardFn:
    """Generate a reward function from the differences of a state metric.

    The reward of step ``i`` is the change of the metric over that step, ``m[i+1] - m[i]``
    (``metric_type="reward"``) or its negative (``"cost"``); the rewards of a path sum to the
    metric's total change. Differences are taken along the last axis, so ensembles work.

    Args:
        metric_fn: a function of :class:`~jumpax.SimulationResults` (and any further
            arguments) returning one metric value per row of the path, ``(..., n_rows)``.
        metric_type: either ``"cost"`` or ``"reward"``. If ``"cost"``, the reward is the
            negative difference of the metric. If ``"reward"``, it is the positive difference.

    Returns:
        ``rewards_fn(results, *args, **kwargs)``, the rewards ``(..., n_rows - 1)``; extra
        arguments are passed on to ``metric_fn``.

    Raises:
        ValueError: for an unknown ``metric_type``.
    """
    signs = {"cost": -1.0, "reward": 1.0}
    if metric_type not in signs:
        raise ValueError(f"metric_type must be 'cost' or 'reward', got {metric_type!r}")
    sign = signs[metric_type]

    def rewards_fn(ssa_results: SimulationResults, *args, **kwargs) -> Array:
        return sign * jnp.diff(metric_fn(ssa_results, *args, **kwargs), axis=-1)

    return rewards_fn
