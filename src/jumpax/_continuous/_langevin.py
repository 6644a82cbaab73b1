"""The chemical Langevin equation of a network (Gillespie 2000), an Itô SDE solved with Diffrax.

:class:`LangevinModel` solves ``dx = S^T a(x) dt + S^T diag(sqrt(a(x))) dW`` with the
simulator's own propensities ``a``, one Brownian motion per reaction. For linear networks it
has the exact mean and variance of the jump process.
"""

from __future__ import annotations

from typing import Literal

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from .._checks import check_positive_int
from .._network._network import ReactionNetwork
from .._numerics import where_positive
from .._results import SimulationResults
from .._simulate._arguments import warn_on_overflow
from ._path import continuous_times, solve


def _propensities(network: ReactionNetwork, x: Array) -> Array:
    """Propensities at a continuous state (rules applied): at ``max(x, 0)``, clipped at 0."""
    return jnp.maximum(network.propensities(jnp.maximum(network.apply_rules(x), 0.0)), 0.0)


def _drift(t: Array, x: Array, network: ReactionNetwork) -> Array:
    """``S^T a(x)``: the drift of the Langevin equation (its deterministic part)."""
    del t
    return _propensities(network, x) @ jnp.asarray(network.stoichiometry, dtype=x.dtype)


def _diffusion(t: Array, x: Array, network: ReactionNetwork) -> Array:
    """``S^T diag(sqrt(a))``, ``(n_species, n_reactions)``, with a zero gradient where a = 0."""
    del t
    amplitude = where_positive(_propensities(network, x), jnp.sqrt, 0.0)
    return jnp.asarray(network.stoichiometry.T, dtype=x.dtype) * amplitude


class _Increment(diffrax.AbstractPath):
    """The Brownian increment of one step, computed beforehand (the path's only query)."""

    t0: Array
    t1: Array
    increment: Array

    def evaluate(self, t0: Array, t1: Array | None = None, left: bool = True) -> Array:
        """The increment over the step ``[t0, t1]`` the path was built for."""
        del t0, t1, left
        return self.increment


class LangevinModel(eqx.Module):
    """The chemical Langevin equation of a network, an Itô SDE solved with Diffrax.

    ``dx = S^T a(x) dt + S^T diag(sqrt(a(x))) dW`` with the simulator's propensities ``a``
    (evaluated at ``max(x, 0)`` and clipped at 0), one independent Brownian motion per
    reaction, on ``num_steps`` equal steps over ``[t0, t1]``. It is a large-count approximation:
    counts are continuous and may dip slightly below 0 near 0. Save times between steps are
    interpolated by the solver (linearly for Euler: an error of the order of one step, like
    the Euler-Maruyama error); with ``num_steps`` a multiple of ``(t1 - t0) / spacing`` they
    fall on steps.

    The network's assignment rules and events are honoured as by :func:`jumpax.simulate`: the
    rules hold at all times and time events fire exactly at their time (the step around one is
    split there). A state event's trigger is checked at the end of every step, and the event
    fires there, at the end of the step where its trigger turned true: state events have the
    time resolution of a step, ``(t1 - t0) / num_steps``.

    Randomness follows :func:`jumpax.simulate`: a single trajectory uses ``key``, an ensemble
    ``jax.random.split(key, num_trajectories)``. Step ``k`` draws its Brownian increment
    ``sqrt(dt) Z`` from ``fold_in(key, k)``; a step split by time events takes the pieces from
    a Brownian bridge over it (with normals from ``fold_in(fold_in(key, k), piece)``), so the
    increment over the whole step is the same with and without events. For a fixed key the
    solution is a smooth function of the rate parameters, and pathwise gradients
    (``jax.grad``) are exact for the discretised SDE.

    Example:
        >>> cle = jx.LangevinModel(net)
        >>> results = cle(key, {"X": 0}, 50.0, save_at=jnp.arange(51.0), num_trajectories=1000)

    Attributes:
        network: the reaction network (its rate parameters are the trainable leaves).
        solver: an Itô-consistent Diffrax SDE solver (default ``diffrax.Euler()``, i.e.
            Euler-Maruyama, weak order 1).
        num_steps: the number of equal steps over ``[t0, t1]`` (static: changing ``t1``
            changes the step length, not the compiled program).
    """

    network: ReactionNetwork
    solver: diffrax.AbstractSolver
    num_steps: int = eqx.field(static=True)

    def __init__(
        self,
        network: ReactionNetwork,
        solver: diffrax.AbstractSolver | None = None,
        num_steps: int = 1000,
    ):
        """Stores and validates the settings.

        Args:
            network: the reaction network.
            solver: a Diffrax SDE solver that converges to the Itô solution; ``None`` for
                ``diffrax.Euler()``.
            num_steps: steps per solve, a positive integer.

        Raises:
            ValueError: for a non-network or a bad ``num_steps``.
        """
        if not isinstance(network, ReactionNetwork):
            raise TypeError(f"LangevinModel needs a ReactionNetwork, got {network!r}")
        check_positive_int("num_steps", num_steps)
        self.network = network
        self.solver = diffrax.Euler() if solver is None else solver
        self.num_steps = int(num_steps)

    def __call__(
        self,
        key: PRNGKeyArray,
        x0: ArrayLike | dict[str, int],
        t1: ArrayLike,
        *,
        t0: ArrayLike = 0.0,
        save_at: ArrayLike | Literal["final"] = "final",
        num_trajectories: int | None = None,
    ) -> SimulationResults:
        """Simulates the Langevin equation from ``x0`` at ``t0`` to ``t1``.

        Args:
            key: a JAX PRNG key.
            x0: initial counts, ``(n_species,)`` or a dict; with ``num_trajectories`` also
                ``(num_trajectories, n_species)``.
            t1: the end time (traced).
            t0: the start time.
            save_at: increasing times in ``[t0, t1]`` (grid mode) or ``"final"``.
            num_trajectories: ``None`` for one trajectory, else the ensemble size (leading
                axis on every result array).

        Returns:
            :class:`~jumpax.SimulationResults` with ``reactions=None``; ``n_steps`` counts the
            steps (``num_steps``, plus one for each step split by time events).

        Raises:
            ValueError: for a bad ``x0``, times, ``save_at`` or ``num_trajectories``.
        """
        check_positive_int("num_trajectories", num_trajectories)
        self.network.check_jump_process("LangevinModel")
        x0 = self.network.as_state(x0)
        t0, t1, ts = continuous_times("LangevinModel", t0, t1, save_at, x0.dtype)
        if num_trajectories is None:
            if x0.ndim == 2:
                raise ValueError(
                    f"x0 of shape {tuple(x0.shape)} holds one state per trajectory: "
                    f"pass num_trajectories={x0.shape[0]}"
                )
            keys = key[None]
        else:
            if x0.ndim == 2 and x0.shape[0] != num_trajectories:
                raise ValueError(
                    f"x0 has {x0.shape[0]} initial states for {num_trajectories} trajectories"
                )
            keys = jax.random.split(key, num_trajectories)
        x0 = jnp.broadcast_to(x0, (keys.shape[0], self.network.n_species))
        results = _solve_batch(self, keys, x0, t0, t1, ts)
        if num_trajectories is None:
            results = jax.tree.map(lambda leaf: leaf[0], results)
        warn_on_overflow(results.overflow)
        return results


@eqx.filter_jit
def _solve_batch(
    model: LangevinModel, keys: PRNGKeyArray, x0: Array, t0: Array, t1: Array, ts: Array | None
) -> SimulationResults:
    """Solves the Langevin equation once per key, from the matching row of ``x0``."""
    network, solver, n = model.network.with_rate_table(), model.solver, model.num_steps

    def grid_time(k: Array) -> Array:
        return jnp.where(k >= n, t1, t0 + (t1 - t0) * (k / n))

    def trajectory(key: PRNGKeyArray, x0: Array) -> SimulationResults:
        def advance(carry, x, armed, a, t_next):
            """One step from ``a`` to the next grid time, or to ``t_next`` if sooner.

            ``carry`` is ``(k, w, piece)``: the grid step ``[T_k, T_k+1]`` under way, the
            Brownian increment already used of it (from ``T_k`` to ``a``) and how many pieces
            of it are done.
            """
            del armed
            k, w, piece = carry
            step_start, step_end = grid_time(k), grid_time(k + 1)
            b = jnp.minimum(step_end, t_next)
            size = (network.n_reactions,)
            step_noise = jax.random.normal(jax.random.fold_in(key, k), size, x.dtype)
            whole = jnp.sqrt(step_end - step_start) * step_noise
            # The Brownian bridge from (a, w) to (step_end, whole), sampled at b.
            left = step_end - a
            spread = where_positive((b - a) * (step_end - b) / left, jnp.sqrt, 0.0)
            bridge_key = jax.random.fold_in(jax.random.fold_in(key, k), piece)
            increment = (b - a) / left * (whole - w) + spread * jax.random.normal(
                bridge_key, size, x.dtype
            )
            terms = diffrax.MultiTerm(
                diffrax.ODETerm(_drift),
                diffrax.ControlTerm(_diffusion, _Increment(a, b, increment)),
            )
            state = solver.init(terms, a, b, x, network)
            y, _, dense, _, result = solver.step(terms, a, b, x, network, state, False)
            saved = None
            if ts is not None:
                interpolation = solver.interpolation_cls(t0=a, t1=b, **dense)
                saved = jax.vmap(interpolation.evaluate)(jnp.clip(ts, a, b))
            finished = b >= step_end
            carry = (
                k + finished,
                jnp.where(finished, 0.0, w + increment),
                jnp.where(finished, 0, piece + 1),
            )
            return carry, y, b, saved, 1, result == diffrax.RESULTS.successful

        carry = (jnp.zeros((), jnp.int32), jnp.zeros(network.n_reactions, x0.dtype), 0)
        max_pieces = n + len(network.time_events)
        return solve(network, advance, carry, x0, t0, t1, ts, max_pieces)

    return jax.vmap(trajectory)(keys, x0)
