"""The reaction-rate ODE of a network (its deterministic, large-count limit), via Diffrax.

:class:`MeanFieldModel` solves ``dx/dt = S^T r(x)`` with the network's deterministic rates
``r = network.ode_rates`` (the large-volume limit of the propensities: ``k x^2 / 2`` for
``2 X -> ...`` where the simulator uses ``k x (x - 1) / 2``). For linear networks it is the
exact mean of the jump process.
"""

from __future__ import annotations

from typing import Literal

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import optimistix as optx
from jaxtyping import Array, ArrayLike

from .._checks import check_positive_int
from .._network._network import ReactionNetwork
from .._results import SimulationResults
from .._simulate._arguments import warn_on_overflow
from . import _events
from ._path import continuous_times, solve


@eqx.filter_jit
def _rates_of_change(network: ReactionNetwork, t: Array, x: Array) -> Array:
    """``dx/dt`` with the rules applied.

    One compiled function, so that the solver's stages (Tsit5 evaluates the field 7 times a
    step) trace the network's rate laws only once.
    """
    return network.ode_rhs(t, network.apply_rules(network.at_time(x, t)))


def _reaction_rate_field(t: Array, x: Array, args: tuple) -> Array:
    """The reaction-rate equations as a Diffrax vector field, with the rules applied."""
    network = args[0]
    return _rates_of_change(network, t, x)


def _piece_end(t: Array, y: Array, args: tuple, **kwargs) -> Array:
    """The Diffrax event ending a piece: -1 until a trigger may have changed, then 1.

    It turns to 1 once a trigger differs from its value at the piece's start, or
    once a level a trigger compares (see :func:`_events.trigger_level_signs`) leaves the sign
    it had there (``signs``; levels at 0 there are left out, the trigger change still ends
    the piece). Watching the levels finds a trigger that is true for less than a step.
    """
    del kwargs
    network, start, signs = args
    y = network.apply_rules(network.at_time(y, t))
    changed = jnp.any(_events.triggers(network, y) != start)
    left = jnp.any((signs != 0) & (_events.trigger_level_signs(network, y) != signs))
    return jnp.where(changed | left, 1.0, -1.0).astype(y.dtype)


class _FirstSwitch(optx.Bisection):
    """Bisection for the time a piece's event function (:func:`_piece_end`) turns non-negative.

    It halves the bracket until no float lies strictly inside and returns its upper end, the
    first time known to be past the switch (a trigger or a level has changed there).
    ``optimistix.Bisection`` needs the function to approach 0, which a step never does.
    """

    def terminate(self, fn, y, args, options, state, tags):
        """Stops once the bracket cannot be halved any further."""
        del fn, y, args, options, tags
        middle = state.lower + 0.5 * (state.upper - state.lower)
        return (middle <= state.lower) | (middle >= state.upper), optx.RESULTS.successful

    def postprocess(self, fn, y, aux, args, options, state, tags, result):
        """Returns the upper end of the bracket."""
        del fn, y, args, options, tags, result
        return state.upper, aux, {}


class MeanFieldModel(eqx.Module):
    """The reaction-rate ODE of a network (the deterministic, large-count limit), via Diffrax.

    Calling it solves from ``x0`` at ``t0`` to ``t1``; the result has the layout of
    :func:`jumpax.simulate` in grid mode (``save_at=ts``: ``x`` is ``(len(ts), n_species)``)
    or final mode (``save_at="final"``: ``x`` is ``(n_species,)``). A 2-D ``x0`` of shape
    ``(n, n_species)`` solves ``n`` initial states at once (leading axis ``n``).

    The network's assignment rules and events are honoured as by :func:`jumpax.simulate`: the
    rules hold at all times, time events fire exactly at their time, and a state event fires
    when its trigger turns true, at a time located by bisection on the solver's dense output to
    full float precision; the solve then restarts from the new state. Gradients flow through
    the states before and after each event; the firing time of a state event counts as fixed
    (a trigger is a boolean: it has no slope to differentiate).

    ``results.overflow`` is True where the solver stopped before ``t1`` (a piece between events
    used up ``max_steps``, a failed solve, or more than ``max_events`` state-event stops);
    unreached times hold NaN.

    Example:
        >>> net = jx.ReactionNetwork([jx.Reaction("0 -> X", 1000.0), jx.Reaction("X -> 0", 0.1)])
        >>> mean = jx.MeanFieldModel(net)({"X": 0}, 50.0, save_at=jnp.arange(51.0)).x

    Attributes:
        network: the reaction network (its rate parameters are the trainable leaves).
        solver: the Diffrax ODE solver (default ``diffrax.Tsit5()``; pass e.g.
            ``diffrax.Kvaerno5()`` for stiff networks).
        rtol: relative tolerance of the adaptive step-size controller.
        atol: absolute tolerance, in molecules.
        max_steps: the step budget of each piece of the solve between events (of the whole
            solve for a network without events).
        max_events: the budget of state-event stops in one solve: each change of a trigger
            (a firing, or a trigger turning false, which re-arms its event) is one.
        max_dt: the longest solver step, or ``None`` for no bound. Triggers are checked at
            the end of every step, so a trigger true for less than one step (a window in
            time, say) can be missed: bound the step below the shortest such window.
    """

    network: ReactionNetwork
    solver: diffrax.AbstractSolver
    rtol: float = eqx.field(static=True)
    atol: float = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    max_events: int = eqx.field(static=True)
    max_dt: float | None = eqx.field(static=True)

    def __init__(
        self,
        network: ReactionNetwork,
        solver: diffrax.AbstractSolver | None = None,
        rtol: float = 1e-6,
        atol: float = 1e-6,
        max_steps: int = 4096,
        max_events: int = 1000,
        max_dt: float | None = None,
    ):
        """Stores and validates the settings.

        Args:
            network: the reaction network.
            solver: a Diffrax ODE solver; ``None`` for ``diffrax.Tsit5()``.
            rtol: relative tolerance, positive.
            atol: absolute tolerance in molecules, positive.
            max_steps: step budget per piece between events, a positive integer.
            max_events: budget of state-event stops, a positive integer.
            max_dt: the longest solver step (positive), or ``None``.

        Raises:
            ValueError: for a non-network, non-positive tolerances or a bad ``max_steps`` or
                ``max_events`` or ``max_dt``.
        """
        if not isinstance(network, ReactionNetwork):
            raise TypeError(f"MeanFieldModel needs a ReactionNetwork, got {network!r}")
        for name, value in (("rtol", rtol), ("atol", atol)):
            if not (isinstance(value, int | float) and value > 0):
                raise ValueError(f"MeanFieldModel {name} must be a positive number, got {value!r}")
        check_positive_int("max_steps", max_steps)
        check_positive_int("max_events", max_events)
        if max_dt is not None and not (isinstance(max_dt, int | float) and 0 < max_dt < jnp.inf):
            raise ValueError(f"MeanFieldModel max_dt must be a positive number, got {max_dt!r}")
        self.network = network
        self.solver = diffrax.Tsit5() if solver is None else solver
        self.rtol = float(rtol)
        self.atol = float(atol)
        self.max_steps = int(max_steps)
        self.max_events = int(max_events)
        self.max_dt = None if max_dt is None else float(max_dt)

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
        t0, t1, ts = continuous_times("MeanFieldModel", t0, t1, save_at, x0.dtype)
        results = _solve_batch(self, jnp.atleast_2d(x0), t0, t1, ts)
        if x0.ndim == 1:
            results = jax.tree.map(lambda leaf: leaf[0], results)
        warn_on_overflow(results.overflow)
        return results


@eqx.filter_jit
def _solve_batch(
    model: MeanFieldModel, x0: Array, t0: Array, t1: Array, ts: Array | None
) -> SimulationResults:
    """Solves the reaction-rate equations from each row of ``x0``."""
    network = model.network.with_rate_table()  # stacked once, not in every step
    event = None
    if network.state_events:
        event = diffrax.Event(_piece_end, _FirstSwitch(rtol=0.0, atol=0.0, flip=False))

    def advance(carry, x, armed, t, t_next):
        start = _events.triggers(network, x)
        signs = _events.trigger_level_signs(network, x)
        # An event whose trigger an assignment just turned true fires at once.
        t_next = jnp.where(jnp.any(start & armed), t, t_next)
        saves = [diffrax.SubSaveAt(t1=True)]
        if ts is not None:
            saves.append(diffrax.SubSaveAt(ts=jnp.clip(ts, t, t_next)))
        solution = diffrax.diffeqsolve(
            diffrax.ODETerm(_reaction_rate_field),
            model.solver,
            t,
            t_next,
            dt0=None,
            y0=x,
            args=(network, start, signs),
            saveat=diffrax.SaveAt(subs=saves),
            stepsize_controller=diffrax.PIDController(
                rtol=model.rtol, atol=model.atol, dtmax=model.max_dt
            ),
            event=event,
            max_steps=model.max_steps,
            throw=False,
        )
        ok = (solution.result == diffrax.RESULTS.successful) | (
            solution.result == diffrax.RESULTS.event_occurred
        )
        return (
            carry,
            solution.ys[0][0],
            solution.ts[0][0],
            None if ts is None else solution.ys[1],
            solution.stats["num_accepted_steps"],
            ok,
        )

    max_pieces = len(network.time_events) + 1
    if event is not None:
        max_pieces += model.max_events
    return jax.vmap(lambda x: solve(network, advance, None, x, t0, t1, ts, max_pieces))(x0)
