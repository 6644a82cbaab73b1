"""Continuous approximations of a reaction network: the reaction-rate ODE and the Langevin SDE.

:class:`MeanFieldModel` solves the reaction-rate equations ``dx/dt = S^T r(x)`` with the
network's deterministic rates ``r = network.ode_rates`` (the large-volume limit of the
propensities: ``k x^2 / 2`` for ``2 X -> ...`` where the simulator uses ``k x (x - 1) / 2``).
:class:`LangevinModel` solves the chemical Langevin equation (Gillespie 2000)
``dx = S^T a(x) dt + S^T diag(sqrt(a(x))) dW`` with the simulator's own propensities ``a``, one
Brownian motion per reaction. For linear networks both reproduce the exact mean, and the
Langevin equation the exact variance too; all three agree in the large-count limit.

Both are Equinox modules solved with Diffrax and return :class:`~jumpax.SimulationResults` with
the conventions of :func:`jumpax.simulate` (``x0`` as array or dict, ``t0``, ``t1``,
``save_at=ts`` or ``"final"``). They are differentiable in every rate parameter of the network,
e.g. ``eqx.filter_grad(loss)(model)`` with ``loss`` built on ``model(x0, t1, save_at=ts)``.
"""

from __future__ import annotations

from typing import Literal

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from ._checks import as_float_array
from .network import ReactionNetwork
from .results import SimulationResults
from .simulate import _check_positive_int, _check_save_at, _check_times, _warn_on_overflow


def _times(
    x0: Array, t0: ArrayLike, t1: ArrayLike, save_at: ArrayLike | Literal["final"]
) -> tuple[Array, Array, Array | None]:
    """Validates ``t0``, ``t1`` and ``save_at`` as :func:`jumpax.simulate` does.

    Returns:
        ``(t0, t1, ts)`` in the dtype of ``x0``; ``ts`` is ``None`` for ``save_at="final"``.

    Raises:
        ValueError: for non-scalar or unordered times, ``save_at=None`` (a continuous model has
            no event list) and bad save times.
    """
    t0 = as_float_array(t0).astype(x0.dtype)
    t1 = as_float_array(t1).astype(x0.dtype)
    if t0.ndim or t1.ndim:
        raise ValueError("t0 and t1 must be scalars")
    _check_times(t0, t1)
    if isinstance(save_at, str):
        if save_at != "final":
            raise ValueError(f"save_at must be an array of times or 'final', got {save_at!r}")
        return t0, t1, None
    if save_at is None:
        raise ValueError("a continuous model records no events: pass save_at=ts or save_at='final'")
    ts = as_float_array(save_at).astype(x0.dtype)
    _check_save_at(ts, t0, t1)
    return t0, t1, ts


def _results(
    solution: diffrax.Solution, t1: Array, ts: Array | None, species: tuple[str, ...]
) -> SimulationResults:
    """Converts one Diffrax solution to grid-mode or final-state results.

    Times the solver did not reach (it stopped early) hold NaN, as in :func:`jumpax.simulate`.
    """
    reached = jnp.isfinite(solution.ts)
    x = jnp.where(reached[:, None], solution.ys, jnp.nan)
    if ts is None:
        x, t = x[0], t1
    else:
        t = ts
    return SimulationResults(
        x=x,
        t=t,
        reactions=None,
        overflow=solution.result != diffrax.RESULTS.successful,
        n_steps=solution.stats["num_accepted_steps"],
        t1=t1,
        species=species,
    )


def _save_at(ts: Array | None) -> diffrax.SaveAt:
    """What Diffrax saves: the save times, or the final state only."""
    return diffrax.SaveAt(t1=True) if ts is None else diffrax.SaveAt(ts=ts)


def _reaction_rate_field(t: Array, x: Array, network: ReactionNetwork) -> Array:
    """The reaction-rate equations as a Diffrax vector field (the network is the argument)."""
    return network.ode_rhs(t, x)


def _langevin_propensities(network: ReactionNetwork, x: Array) -> Array:
    """Propensities at a continuous state: evaluated at ``max(x, 0)`` and clipped at 0."""
    return jnp.maximum(network.propensities(jnp.maximum(x, 0.0)), 0.0)


def _langevin_drift(t: Array, x: Array, network: ReactionNetwork) -> Array:
    """``S^T a(x)``: the drift of the Langevin equation (its deterministic part)."""
    del t
    rates = _langevin_propensities(network, x)
    return rates @ jnp.asarray(network.stoichiometry, dtype=x.dtype)


def _langevin_diffusion(t: Array, x: Array, network: ReactionNetwork) -> Array:
    """``S^T diag(sqrt(a))``, ``(n_species, n_reactions)``, with a zero gradient where a = 0."""
    del t
    rates = _langevin_propensities(network, x)
    positive = rates > 0
    amplitude = jnp.where(positive, jnp.sqrt(jnp.where(positive, rates, 1.0)), 0.0)
    return jnp.asarray(network.stoichiometry.T, dtype=x.dtype) * amplitude


class _StepNoise(diffrax.AbstractPath):
    """Brownian increments over the steps of an equal-step grid, one fresh normal per step.

    The increment over step ``k`` is ``sqrt(dt) Z_k`` with ``Z_k`` drawn from
    ``fold_in(key, k)``: a pure function of the key and the step, so re-evaluating a step (as
    Diffrax's checkpointed adjoint does) gives the same noise, and reverse-mode gradients are
    exact for the discretised SDE. Only valid when queried over single grid steps, which the
    ``StepTo`` controller on the same grid guarantees; the values of the path are never needed.
    """

    t0: Array
    t1: Array
    key: PRNGKeyArray
    num_steps: int = eqx.field(static=True)
    size: int = eqx.field(static=True)

    def evaluate(self, t0: Array, t1: Array | None = None, left: bool = True) -> Array:
        """The increment over the step ``[t0, t1]`` (``t1`` is required)."""
        del left
        step = jnp.round((t0 - self.t0) / (self.t1 - self.t0) * self.num_steps).astype(jnp.int32)
        noise = jax.random.normal(jax.random.fold_in(self.key, step), (self.size,), self.t0.dtype)
        return jnp.sqrt(t1 - t0) * noise


class MeanFieldModel(eqx.Module):
    """The reaction-rate ODE of a network (the deterministic, large-count limit), via Diffrax.

    Calling it solves from ``x0`` at ``t0`` to ``t1``; the result has the layout of
    :func:`jumpax.simulate` in grid mode (``save_at=ts``: ``x`` is ``(len(ts), n_species)``)
    or final mode (``save_at="final"``: ``x`` is ``(n_species,)``). A 2-D ``x0`` of shape
    ``(n, n_species)`` solves ``n`` initial states at once (leading axis ``n``).
    ``results.overflow`` is True where the solver stopped before ``t1`` (step budget exhausted
    or a failed solve); unreached times hold NaN.

    Example:
        >>> net = jx.ReactionNetwork([jx.Reaction("0 -> X", 1000.0), jx.Reaction("X -> 0", 0.1)])
        >>> mean = jx.MeanFieldModel(net)({"X": 0}, 50.0, save_at=jnp.arange(51.0)).x

    Attributes:
        network: the reaction network (its rate parameters are the trainable leaves).
        solver: the Diffrax ODE solver (default ``diffrax.Tsit5()``; pass e.g.
            ``diffrax.Kvaerno5()`` for stiff networks).
        rtol: relative tolerance of the adaptive step-size controller.
        atol: absolute tolerance, in molecules.
        max_steps: the step budget of one solve.
    """

    network: ReactionNetwork
    solver: diffrax.AbstractSolver
    rtol: float = eqx.field(static=True)
    atol: float = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)

    def __init__(
        self,
        network: ReactionNetwork,
        solver: diffrax.AbstractSolver | None = None,
        rtol: float = 1e-6,
        atol: float = 1e-6,
        max_steps: int = 4096,
    ):
        """Stores and validates the settings.

        Args:
            network: the reaction network.
            solver: a Diffrax ODE solver; ``None`` for ``diffrax.Tsit5()``.
            rtol: relative tolerance, positive.
            atol: absolute tolerance in molecules, positive.
            max_steps: step budget, a positive integer.

        Raises:
            ValueError: for a non-network, non-positive tolerances or a bad ``max_steps``.
        """
        if not isinstance(network, ReactionNetwork):
            raise ValueError(f"MeanFieldModel needs a ReactionNetwork, got {network!r}")
        for name, value in (("rtol", rtol), ("atol", atol)):
            if not (isinstance(value, int | float) and value > 0):
                raise ValueError(f"MeanFieldModel {name} must be a positive number, got {value!r}")
        _check_positive_int("max_steps", max_steps)
        self.network = network
        self.solver = diffrax.Tsit5() if solver is None else solver
        self.rtol = float(rtol)
        self.atol = float(atol)
        self.max_steps = int(max_steps)

    def __call__(
        self,
        x0: ArrayLike | dict[str, int],
        t1: ArrayLike,
        *,
        t0: ArrayLike = 0.0,
        save_at: ArrayLike | Literal["final"] = "final",
    ) -> SimulationResults:
        """Solves the reaction-rate equations from ``x0`` at ``t0`` to ``t1``.

        Args:
            x0: initial counts, ``(n_species,)``, ``(n, n_species)`` or a ``{species: count}``
                dict.
            t1: the end time (traced: changing it never recompiles).
            t0: the start time.
            save_at: increasing times in ``[t0, t1]`` (grid mode) or ``"final"``.

        Returns:
            :class:`~jumpax.SimulationResults` with ``reactions=None``; ``n_steps`` counts the
            accepted solver steps.

        Raises:
            ValueError: for a bad ``x0``, times or ``save_at`` (including ``None``).
        """
        x0 = self.network.as_state(x0)
        t0, t1, ts = _times(x0, t0, t1, save_at)
        results = _solve_ode_batch(self, jnp.atleast_2d(x0), t0, t1, ts)
        if x0.ndim == 1:
            results = jax.tree.map(lambda leaf: leaf[0], results)
        _warn_on_overflow(results.overflow)
        return results


@eqx.filter_jit
def _solve_ode_batch(
    model: MeanFieldModel, x0: Array, t0: Array, t1: Array, ts: Array | None
) -> SimulationResults:
    """Solves the reaction-rate equations from each row of ``x0``."""
    return jax.vmap(lambda x: _solve_ode(model, x, t0, t1, ts))(x0)


def _solve_ode(
    model: MeanFieldModel, x0: Array, t0: Array, t1: Array, ts: Array | None
) -> SimulationResults:
    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(_reaction_rate_field),
        model.solver,
        t0,
        t1,
        dt0=None,
        y0=x0,
        args=model.network,
        saveat=_save_at(ts),
        stepsize_controller=diffrax.PIDController(rtol=model.rtol, atol=model.atol),
        max_steps=model.max_steps,
        throw=False,
    )
    return _results(solution, t1, ts, model.network.species)


class LangevinModel(eqx.Module):
    """The chemical Langevin equation of a network, an Itô SDE solved with Diffrax.

    ``dx = S^T a(x) dt + S^T diag(sqrt(a(x))) dW`` with the simulator's propensities ``a``
    (evaluated at ``max(x, 0)`` and clipped at 0), one independent Brownian motion per
    reaction, on ``num_steps`` equal steps over ``[t0, t1]``. It is a large-count approximation:
    counts are continuous and may dip slightly below 0 near 0. Save times between steps are
    linearly interpolated (an error of the order of one step, like the Euler-Maruyama error);
    with ``num_steps`` a multiple of ``(t1 - t0) / spacing`` they fall on steps.

    Randomness follows :func:`jumpax.simulate`: a single trajectory uses ``key``, an ensemble
    ``jax.random.split(key, num_trajectories)``; each step draws its Brownian increments from
    ``fold_in(key, step)``. For a fixed key the solution is a smooth function of the rate
    parameters, and pathwise gradients (``jax.grad``) are exact for the discretised SDE.

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
            raise ValueError(f"LangevinModel needs a ReactionNetwork, got {network!r}")
        _check_positive_int("num_steps", num_steps)
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
            :class:`~jumpax.SimulationResults` with ``reactions=None``.

        Raises:
            ValueError: for a bad ``x0``, times, ``save_at`` or ``num_trajectories``.
        """
        _check_positive_int("num_trajectories", num_trajectories)
        x0 = self.network.as_state(x0)
        t0, t1, ts = _times(x0, t0, t1, save_at)
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
        results = _solve_sde_batch(self, keys, x0, t0, t1, ts)
        if num_trajectories is None:
            results = jax.tree.map(lambda leaf: leaf[0], results)
        _warn_on_overflow(results.overflow)
        return results


@eqx.filter_jit
def _solve_sde_batch(
    model: LangevinModel, keys: PRNGKeyArray, x0: Array, t0: Array, t1: Array, ts: Array | None
) -> SimulationResults:
    """Solves the Langevin equation once per key, from the matching row of ``x0``."""
    return jax.vmap(lambda key, x: _solve_sde(model, key, x, t0, t1, ts))(keys, x0)


def _solve_sde(
    model: LangevinModel, key: PRNGKeyArray, x0: Array, t0: Array, t1: Array, ts: Array | None
) -> SimulationResults:
    network = model.network
    noise = _StepNoise(t0, t1, key, model.num_steps, network.n_reactions)
    terms = diffrax.MultiTerm(
        diffrax.ODETerm(_langevin_drift), diffrax.ControlTerm(_langevin_diffusion, noise)
    )
    solution = diffrax.diffeqsolve(
        terms,
        model.solver,
        t0,
        t1,
        dt0=None,
        y0=x0,
        args=network,
        saveat=_save_at(ts),
        stepsize_controller=diffrax.StepTo(ts=jnp.linspace(t0, t1, model.num_steps + 1)),
        max_steps=model.num_steps,
        throw=False,
    )
    return _results(solution, t1, ts, network.species)
