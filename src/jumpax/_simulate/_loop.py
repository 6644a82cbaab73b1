"""The one simulation loop, shared by every solver.

The loop is an early-exit ``lax.while_loop`` written directly over a batch of trajectories (not
a ``vmap`` of a per-trajectory loop): each iteration advances every unfinished trajectory by one
solver step toward its next *stop* (the next save time, time event or ``t1``), then settles the
model: after a step that changed the state, the assignment rules are applied and state events
whose trigger became true fire; at a time event's time its assignments are applied. The loop
owns the step budget, the overflow flags, the outputs (event list, grid or final state) and the
checks of every assignment; the solver (:mod:`jumpax._solver`) only draws steps. Event-list,
grid and final-state outputs share the loop and the random streams, so for the same key they
describe the same path.

Counts of integer solvers stay integers: assignments are evaluated in floating point and written
back only to the species they assign, after checking that each value is a finite, non-negative
whole number; a trajectory whose assignment fails that check stops and is reported.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PyTree

from .._network._network import MAX_COUNT, ReactionNetwork
from .._numerics import Clock
from .._results import SimulationResults, time_event_code
from .._solver._base import LEAPED, STOPPED, AbstractSolver
from ._output import BLOCK, AbstractOutput


class LoopState(eqx.Module):
    """Everything the loop carries from one iteration to the next.

    Attributes:
        x: ``(batch, n_species)`` counts.
        t: ``(batch,)`` times (compensated clocks).
        solver_state: the solver's own state.
        rng: ``(batch, 4)`` random streams.
        armed: ``(batch, n_state_events)`` which state events may fire.
        timed: ``(batch, n_time_events)`` which time events have fired (or were before t0).
        steps: ``(batch,)`` steps taken (reactions, leaps and time events).
        done: ``(batch,)`` finished trajectories.
        overflow: ``(batch,)`` trajectories that ran out of steps before ``t1``.
        invalid: ``(batch,)`` trajectories stopped by an invalid assignment.
        output: what is recorded.
        stop: where the next step stops (carried with time events only, else ``None``).
    """

    x: Array
    t: Clock
    solver_state: PyTree
    rng: Array
    armed: Array
    timed: Array
    steps: Array
    done: Array
    overflow: Array
    invalid: Array
    output: AbstractOutput
    stop: Stop | None


class Stop(eqx.Module):
    """The next stop of each trajectory: the earliest of its next time event, save time and t1.

    With time events it is computed once, at the end of each iteration, and carried to the
    next: XLA's CPU backend would otherwise recompute it (a minimum over the pending events)
    inside every kernel that writes part of the loop state. Without, it is the output's next
    save time (``t1`` when none is left), a single lookup, cheaper to repeat than to carry.
    Whether the stop is a save time is not stored: it is the output's
    :meth:`~jumpax._simulate._output.AbstractOutput.saving` where the stop is not a time event.

    Attributes:
        t: ``(batch,)`` the stop time.
        k_event: ``(batch,)`` the pending time event that comes first.
        at_event: ``(batch,)`` whether the stop is that time event.
    """

    t: Array
    k_event: Array
    at_event: Array


class Model(eqx.Module):
    """The network's discrete changes (rules and events) applied to one trajectory's counts.

    Attributes:
        network: the reaction network.
    """

    network: ReactionNetwork

    @property
    def rule_species(self) -> tuple[str, ...]:
        """The species set by assignment rules."""
        return tuple(rule.species for rule in self.network.assignment_rules)

    def _assign(self, x: Array, update, names: tuple[str, ...]) -> tuple[Array, Array]:
        """``(counts, ok)`` after ``update`` (a function of the float state) sets ``names``.

        Only the assigned entries change, so counts beyond float precision stay exact.
        ``ok`` is False if an assigned value is negative, non-finite or (for integer counts)
        not a whole number below ``2**31``.
        """
        if not names:
            return x, jnp.ones((), bool)
        positions = np.asarray(sorted({self.network.species.index(n) for n in names}))
        values = update(x.astype(jnp.result_type(float)))[positions]
        ok = jnp.isfinite(values) & (values >= 0)
        if jnp.issubdtype(x.dtype, jnp.integer):
            # MAX_COUNT + 1 = 2**31 is exact in float32 (MAX_COUNT itself rounds up to it).
            ok = ok & (values == jnp.round(values)) & (values < float(MAX_COUNT + 1))
            values = jnp.where(ok, values, 0).astype(x.dtype)
        return x.at[positions].set(values.astype(x.dtype)), jnp.all(ok)

    def apply_rules(self, x: Array) -> tuple[Array, Array]:
        """The counts with every assignment rule applied, and whether the values were valid."""
        return self._assign(x, self.network.apply_rules, self.rule_species)

    def settle(self, x: Array, armed: Array) -> tuple[Array, Array, Array]:
        """Fires the state events whose trigger went from false to true, in order.

        Returns:
            ``(counts, armed, ok)``.
        """
        ok = jnp.ones((), bool)
        flags = []
        for k, event in enumerate(self.network.state_events):
            fire = event.trigger(x.astype(jnp.result_type(float))) & armed[k]
            fired, valid = self._assign(
                x,
                lambda xf, event=event: self.network.apply_assignments(event.assignments, xf),
                event.assignments.species + self.rule_species,
            )
            x = jnp.where(fire, fired, x)
            ok = ok & (valid | ~fire)
            flags.append(~event.trigger(x.astype(jnp.result_type(float))))
        return x, jnp.stack(flags) if flags else armed, ok

    def after_step(self, x: Array, armed: Array) -> tuple[Array, Array, Array]:
        """Rules, then state events, after a step changed the counts: ``(x, armed, ok)``."""
        x, ok_rules = self.apply_rules(x)
        x, armed, ok = self.settle(x, armed)
        return x, armed, ok & ok_rules

    def time_event(self, x: Array, k: Array, armed: Array) -> tuple[Array, Array, Array]:
        """Time event ``k``'s assignments (then the rules and state events): ``(x, armed, ok)``."""
        candidates = [
            self._assign(
                x,
                lambda xf, event=event: self.network.apply_assignments(event.assignments, xf),
                event.assignments.species + self.rule_species,
            )
            for event in self.network.time_events
        ]
        x = jnp.stack([c[0] for c in candidates])[k]
        ok = jnp.stack([c[1] for c in candidates])[k]
        x, armed, ok_settle = self.settle(x, armed)
        return x, armed, ok & ok_settle


def _while(cond, body, state, bound: int | None):
    """``lax.while_loop``; with a ``bound``, the checkpointed loop gradients can flow through."""
    if bound is None:
        return jax.lax.while_loop(cond, body, state)
    return eqx.internal.while_loop(cond, body, state, max_steps=bound, kind="checkpointed")


def run(
    network: ReactionNetwork,
    solver: AbstractSolver,
    rng: Array,
    x0: Array,
    t0: Array,
    t1: Array,
    make_output: Callable[[Array], AbstractOutput],
    max_steps: int,
) -> tuple[SimulationResults, Array]:
    """Simulates a batch from ``x0`` at ``t0`` to ``t1``.

    Args:
        network: the reaction network.
        solver: how steps are drawn.
        rng: ``(batch, 4)`` per-trajectory random streams.
        x0: ``(batch, n_species)`` initial counts, in the solver's count dtype.
        t0: the start time.
        t1: the end time.
        make_output: builds the empty output (:class:`~jumpax._simulate._output.EventList`,
            ``Grid`` or ``FinalState``) from the initial counts (rules and events applied).
        max_steps: the per-trajectory step budget.

    Returns:
        ``(results, invalid)``: batched results, and per trajectory whether an assignment set
        an invalid count (that trajectory stopped there).
    """
    batch = x0.shape[0]
    model = Model(network)
    time_events, state_events = network.time_events, network.state_events
    settles = bool(network.rules or state_events)

    armed0 = jnp.array([not e.initial_value for e in state_events], dtype=bool)
    x0, armed, ok = jax.vmap(model.after_step, in_axes=(0, None))(x0, armed0)
    clock = Clock.at(jnp.broadcast_to(t0, (batch,)))
    solver_state, rng = solver.init(network, x0, clock, rng)
    if time_events:
        event_times = jnp.stack([e.firing_time for e in time_events]).astype(t0.dtype)
        timed = jnp.broadcast_to(event_times <= t0, (batch, len(time_events)))
    else:
        timed = jnp.zeros((batch, 0), bool)
    t1_batch = jnp.broadcast_to(t1, (batch,))
    output0 = make_output(x0)
    saves = output0.saving() is not None

    def next_stop(timed: Array, output: AbstractOutput) -> Stop:
        """The next stop after the time events ``timed`` have fired and ``output`` saved."""
        t_save = output.next_save(t1_batch)
        if not time_events:
            return Stop(t_save, jnp.zeros(batch, jnp.int32), jnp.zeros(batch, bool))
        pending = jnp.where(timed, jnp.inf, event_times)
        t_event = jnp.min(pending, axis=1)
        # A time event at a save time comes first; one after t1 never does (t_save <= t1).
        t_stop = jnp.minimum(t_event, t_save)
        return Stop(t_stop, jnp.argmin(pending, axis=1).astype(jnp.int32), t_event == t_stop)

    state = LoopState(
        x=x0,
        t=clock,
        solver_state=solver_state,
        rng=rng,
        armed=armed,
        timed=timed,
        steps=jnp.zeros(batch, jnp.int32),
        done=~ok,
        overflow=jnp.zeros(batch, bool),
        invalid=~ok,
        output=output0,
        stop=next_stop(timed, output0) if time_events else None,
    )
    output = state.output

    def body(s: LoopState) -> LoopState:
        no = jnp.zeros(batch, bool)
        stop = s.stop if time_events else next_stop(s.timed, s.output)
        k_event = stop.k_event
        # A finished trajectory, or one out of budget, keeps its counts whatever it draws.
        allowed = ~s.done & (s.steps < max_steps)
        x, t, code, solver_state, rng = solver.step(
            network, s.x, s.t, stop.t, s.solver_state, s.rng, allowed
        )
        # Static shortcuts keep the decisions short: XLA repeats them in every consumer.
        arrived = code == STOPPED
        at_event = arrived & stop.at_event if time_events else no
        at_save = arrived & s.output.saving() if saves else no
        at_save = at_save & ~at_event if time_events and saves else at_save
        at_end = arrived & ~at_event & ~at_save if time_events or saves else arrived
        moved = code >= 0 if solver.records_events else (code >= 0) | (code == LEAPED)
        fire = moved | at_event if time_events else moved

        armed, ok = s.armed, jnp.ones(batch, bool)
        changed = jnp.zeros(batch, bool)
        if settles:
            settled, settled_armed, settled_ok = jax.vmap(model.after_step)(x, s.armed)
            x = jnp.where(moved[:, None], settled, x)
            armed = jnp.where(moved[:, None], settled_armed, armed)
            ok = ~moved | settled_ok
            changed = moved
        if time_events:
            timed_x, timed_armed, timed_ok = jax.vmap(model.time_event)(x, k_event, armed)
            x = jnp.where(at_event[:, None], timed_x, x)
            armed = jnp.where(at_event[:, None], timed_armed, armed)
            ok = jnp.where(at_event, timed_ok, ok)
            changed = changed | at_event
            code = jnp.where(at_event, time_event_code(k_event.astype(jnp.int32)), code)

        # Event lists need a row after the last step for t1: a full buffer is truncated.
        short = fire | at_end if s.output.needs_row_at_t1 else fire
        over = short & (s.steps >= max_steps)
        live = ~s.done
        accept = live & ~over
        # Only what outlives a trajectory's end is guarded: once done (finished, out of budget
        # or stopped by an invalid assignment) its clock, solver state and streams are unused.
        # The step kept the counts of the trajectories it was not allowed to move; rules and
        # events may have changed them since. The solver observes the guarded counts, the
        # array the loop carries: reading the counts before the guard would make XLA
        # recompute the step inside the propensities and copy the carried counts every
        # iteration.
        if settles or time_events:
            x = jnp.where(accept[:, None], x, s.x)
        solver_state, rng = solver.observe(network, x, t, code, changed, solver_state, rng)
        fired = accept & fire
        output = s.output.update(x, t.hi, code, fired, accept & at_save)
        done = s.done | over | at_end
        invalid = s.invalid
        timed = s.timed
        if settles or time_events:
            invalid = invalid | (accept & ~ok)
            done = done | invalid
        if time_events:
            applied = jax.nn.one_hot(k_event, len(time_events), dtype=bool)
            timed = timed | (applied & (accept & at_event)[:, None])
        return LoopState(
            x=x,
            t=t,
            solver_state=solver_state,
            rng=rng,
            armed=armed,
            timed=timed,
            steps=s.steps + fired,
            done=done,
            overflow=s.overflow | (live & over),
            invalid=invalid,
            output=output,
            stop=next_stop(timed, output) if time_events else None,
        )

    def unfinished(s: LoopState) -> Array:
        return ~jnp.all(s.done)

    # A bounded, checkpointed loop lets reverse-mode gradients flow through the path.
    bound = None
    if solver.reverse_differentiable:
        bound = max_steps + output.num_saves + len(time_events) + 2
    if output.blocked:

        def block(s: LoopState) -> LoopState:
            """Up to ``BLOCK`` iterations, then the event list's staged block copied out."""
            first = s.output.i
            s = _while(
                lambda s: unfinished(s) & (s.output.i - first < BLOCK), body, s,
                BLOCK if bound else None,
            )
            return eqx.tree_at(lambda s: s.output, s, s.output.flush(first))

        state = _while(unfinished, block, state, bound // BLOCK + 2 if bound else None)
    else:
        state = _while(unfinished, body, state, bound)
    results = state.output.finish(state.x, state.steps, state.overflow, t1_batch, network.species)
    return results, state.invalid
