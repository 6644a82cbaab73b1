"""Exact stochastic simulation algorithms: how the next event is drawn.

A solver turns the propensities ``a`` of the current state into the waiting time ``tau`` to the
next event and the index ``r`` of the reaction that fires. Both solvers here sample the same
(exact) distribution: ``tau ~ Exp(a0)`` with ``a0 = sum(a)`` and ``P(r) = a_r / a0``.
A reaction with propensity 0 is never chosen.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

if TYPE_CHECKING:
    from .network import ReactionNetwork
    from .results import SimulationResults


class AbstractSolver(eqx.Module):
    """Base class of exact event samplers.

    Attributes:
        reverse_differentiable: whether the simulation loop must support reverse-mode
            differentiation through the path (a pathwise estimator). Exact solvers leave it
            False and get the faster early-exit loop.
    """

    reverse_differentiable: ClassVar[bool] = False

    @abc.abstractmethod
    def sample(self, key: PRNGKeyArray, propensities: Array) -> tuple[Array, Array]:
        """Draws the next event.

        Args:
            key: a PRNG key used for this event only.
            propensities: ``(n_reactions,)`` non-negative propensities.

        Returns:
            ``(tau, r)``: the waiting time (``inf`` when every propensity is 0) and the index
            of the reaction that fires (int32; meaningless when ``tau`` is ``inf``).
        """

    def update(
        self, key: PRNGKeyArray, x: Array, propensities: Array, r: Array, stoichiometry: Array
    ) -> Array:
        """The state after reaction ``r`` fires.

        Args:
            key: the key that drew ``r`` in :meth:`sample` (for solvers that reuse its noise).
            x: counts before the event, ``(n_species,)``.
            propensities: the propensities that drew ``r``.
            r: the reaction index.
            stoichiometry: ``(n_reactions, n_species)`` net changes.

        Returns:
            ``x + stoichiometry[r]``; pathwise solvers override it to let gradients through.
        """
        return x + stoichiometry[r]


def _waiting_time(u: Array, a0: Array) -> Array:
    """``Exp(a0)`` from a uniform ``u`` in [0, 1); ``inf`` when ``a0 == 0``."""
    positive = a0 > 0
    return jnp.where(positive, -jnp.log1p(-u) / jnp.where(positive, a0, 1.0), jnp.inf)


class Direct(AbstractSolver):
    """Gillespie's direct method: two uniforms per event.

    The reaction is the first index whose cumulative propensity exceeds ``u * a0``. If
    floating-point rounding leaves no such index, the last reaction with positive propensity is
    taken, so a zero-propensity reaction can never fire.
    """

    def sample(self, key, propensities):
        """Draws ``(tau, r)`` by inversion of the cumulative propensities."""
        u = jax.random.uniform(key, (2,), dtype=propensities.dtype)
        cumulative = jnp.cumsum(propensities)
        a0 = cumulative[-1]
        above = cumulative > u[1] * a0
        last_positive = propensities.shape[0] - 1 - jnp.argmax((propensities > 0)[::-1])
        r = jnp.where(jnp.any(above), jnp.argmax(above), last_positive)
        return _waiting_time(u[0], a0), r.astype(jnp.int32)


class FirstReaction(AbstractSolver):
    """Gillespie's first-reaction method: one exponential clock per reaction.

    Each reaction with positive propensity draws ``tau_r ~ Exp(a_r)``; the earliest fires.
    Costs one random number per reaction per event; equivalent in distribution to
    :class:`Direct`.
    """

    def sample(self, key, propensities):
        """Draws ``(tau, r)`` as the minimum of independent exponential clocks."""
        u = jax.random.uniform(key, propensities.shape, dtype=propensities.dtype)
        clocks = _waiting_time(u, propensities)
        r = jnp.argmin(clocks)
        return clocks[r], r.astype(jnp.int32)


class AbstractApproximateSolver(eqx.Module):
    """Base class of approximate simulators that own their time-stepping loop (e.g. tau-leaping).

    They produce grid-mode and final-state results only: there is no event list to record.
    """

    @abc.abstractmethod
    def simulate_batch(
        self,
        keys: PRNGKeyArray,
        network: ReactionNetwork,
        x0: Array,
        t0: Array,
        t1: Array,
        ts: Array | None,
        max_steps: int,
    ) -> SimulationResults:
        """Simulates a batch of trajectories.

        Args:
            keys: one PRNG key per trajectory, ``(batch,)``.
            network: the reaction network.
            x0: initial counts, ``(batch, n_species)``.
            t0: start time (scalar).
            t1: end time (scalar).
            ts: save times ``(n_times,)`` for grid mode, or ``None`` for the final state only.
            max_steps: the per-trajectory step budget.

        Returns:
            Batched results (leading axis ``batch``) in grid or final-state layout, with
            ``overflow`` set where the budget ran out before ``t1``.
        """
