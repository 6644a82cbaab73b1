"""Exact stochastic simulation algorithms: how the next event is drawn.

A solver turns the propensities ``a`` of the current state into the waiting time ``tau`` to the
next event and the index ``r`` of the reaction that fires. Both solvers here sample the same
(exact) distribution: ``tau ~ Exp(a0)`` with ``a0 = sum(a)`` and ``P(r) = a_r / a0``.
A reaction with propensity 0 is never chosen. :class:`GumbelSoftmaxDirect` samples the same
distribution and adds a pathwise (straight-through Gumbel-softmax) gradient.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from ._selection import select

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
    def num_uniforms(self, n_reactions: int) -> int:
        """How many independent uniforms one event needs for a network of this size."""

    @abc.abstractmethod
    def sample(self, u: Array, propensities: Array) -> tuple[Array, Array]:
        """Draws the next event.

        Args:
            u: ``(num_uniforms,)`` independent uniforms in (0, 1), used for this event only.
            propensities: ``(n_reactions,)`` non-negative propensities.

        Returns:
            ``(tau, r)``: the waiting time (``inf`` when every propensity is 0) and the index
            of the reaction that fires (int32; meaningless when ``tau`` is ``inf``).
        """

    def update(
        self, u: Array, x: Array, propensities: Array, r: Array, stoichiometry: Array
    ) -> Array:
        """The state after reaction ``r`` fires.

        Args:
            u: the uniforms that drew ``r`` in :meth:`sample` (for solvers that reuse them).
            x: counts before the event, ``(n_species,)``.
            propensities: the propensities that drew ``r``.
            r: the reaction index.
            stoichiometry: ``(n_reactions, n_species)`` net changes.

        Returns:
            ``x + stoichiometry[r]``; pathwise solvers override it to let gradients through.
        """
        return x + stoichiometry[r]


def _waiting_time(u: Array, a0: Array) -> Array:
    """``Exp(a0)`` by inversion of a uniform ``u`` in (0, 1); ``inf`` when ``a0 == 0``."""
    positive = a0 > 0
    return jnp.where(positive, -jnp.log1p(-u) / jnp.where(positive, a0, 1.0), jnp.inf)


class Direct(AbstractSolver):
    """Gillespie's direct method: two uniforms per event.

    The reaction is the first index whose cumulative propensity exceeds ``u * a0`` (a two-level
    search for large networks). If floating-point rounding leaves no such index, the last
    reaction with positive propensity is taken, so a zero-propensity reaction can never fire.
    """

    def num_uniforms(self, n_reactions):
        """Two: one for the waiting time, one for the reaction."""
        return 2

    def sample(self, u, propensities):
        """Draws ``(tau, r)`` by inversion of the cumulative propensities."""
        a0 = jnp.sum(propensities)
        return _waiting_time(u[0], a0), select(propensities, u[1] * a0)


class FirstReaction(AbstractSolver):
    """Gillespie's first-reaction method: one exponential clock per reaction.

    Each reaction with positive propensity draws ``tau_r ~ Exp(a_r)``; the earliest fires.
    Costs one random number per reaction per event; equivalent in distribution to
    :class:`Direct`.
    """

    def num_uniforms(self, n_reactions):
        """One per reaction."""
        return n_reactions

    def sample(self, u, propensities):
        """Draws ``(tau, r)`` as the minimum of independent exponential clocks."""
        clocks = _waiting_time(u, propensities)
        r = jnp.argmin(clocks)
        return clocks[r], r.astype(jnp.int32)


class GumbelSoftmaxDirect(AbstractSolver):
    """The direct method with a straight-through Gumbel-softmax gradient: a pathwise estimator.

    **Forward pass: exact.** The waiting time is ``Exp(a0)`` and the reaction is drawn by the
    Gumbel-max trick, ``r = argmax_j (log a_j + g_j)`` with standard Gumbel noise ``g``, which
    is exactly ``P(r) = a_r / a0``. A reaction with propensity 0 has ``log a = -inf`` and is
    never chosen; the simulated paths have the same law as :class:`Direct`'s.

    **Backward pass: relaxed.** The state update is ``x + S^T y`` with the straight-through
    one-hot ``y = onehot(r) + (s - stop_gradient(s))``, ``s = softmax((log a + g) /
    temperature)``: its value is exactly ``onehot(r)`` (counts stay integers), its gradient is
    the softmax's. Waiting times are reparameterised (``tau = E / a0``), so event times carry
    gradients too. Gradients of a function of the path (``jax.grad`` through
    :func:`~jumpax.simulate` or a :class:`~jumpax.StochasticModel`) are low-variance but
    biased; lower temperatures reduce the bias and raise the variance.

    The simulation uses a bounded, checkpointed loop (``reverse_differentiable``), so set
    ``max_steps`` close to the number of events actually needed.

    Example:
        >>> model = jx.StochasticModel(net, GumbelSoftmaxDirect(temperature=0.5), 10.0, 500)
        >>> def mean_final(model):
        ...     return model(key, x0, save_at="final", num_trajectories=100).x.mean()
        >>> grads = eqx.filter_grad(mean_final)(model)

    Attributes:
        temperature: the softmax temperature of the backward pass (static), positive.
    """

    temperature: float = eqx.field(static=True)
    reverse_differentiable: ClassVar[bool] = True

    def __init__(self, temperature: float = 1.0):
        """Builds the solver.

        Args:
            temperature: the softmax temperature of the relaxation, positive.
        """
        if not (isinstance(temperature, int | float) and 0 < temperature < float("inf")):
            raise ValueError(f"temperature must be a positive number, got {temperature!r}")
        self.temperature = float(temperature)

    def num_uniforms(self, n_reactions):
        """One for the waiting time and one Gumbel variable per reaction."""
        return n_reactions + 1

    @staticmethod
    def _perturbed_logits(u: Array, propensities: Array) -> Array:
        """Gumbel-perturbed logits ``log a + g`` (``-inf`` where ``a == 0``), ``g`` from ``u[1:]``.

        :meth:`update` recomputes the same noise from the same uniforms :meth:`sample` used.
        """
        positive = propensities > 0
        log_a = jnp.where(positive, jnp.log(jnp.where(positive, propensities, 1.0)), -jnp.inf)
        gumbel = -jnp.log(-jnp.log(u[1:]))
        return log_a + gumbel

    def sample(self, u, propensities):
        """Draws ``(tau, r)`` exactly: an exponential waiting time and the Gumbel-max index."""
        logits = self._perturbed_logits(u, propensities)
        return _waiting_time(u[0], jnp.sum(propensities)), jnp.argmax(logits).astype(jnp.int32)

    def update(self, u, x, propensities, r, stoichiometry):
        """``x + S^T y`` with the straight-through one-hot ``y`` (value exactly ``onehot(r)``)."""
        soft = jax.nn.softmax(self._perturbed_logits(u, propensities) / self.temperature)
        hard = jax.nn.one_hot(r, propensities.shape[0], dtype=x.dtype)
        return x + (hard + (soft - jax.lax.stop_gradient(soft))) @ stoichiometry


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
