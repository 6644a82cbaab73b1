"""Assignment rules, time events and state events on a continuous path: the jumps.

The continuous models integrate between *jump points* and apply the network's rules and events
there exactly as the exact simulator (:func:`jumpax.simulate`) applies them between reactions:

- at ``t0``: the assignment rules, then a *settle* of the state events with each event armed
  unless its ``initial_value`` is True;
- a settle goes through the state events in order: an event whose trigger is true and which is
  armed assigns (and the rules are re-applied); its armed flag is then ``not trigger(x)``;
- a time event later than ``t0`` fires exactly at its time, followed by a settle; several at one
  time fire in list order;
- the state between jump points always satisfies the rules (the models evaluate their vector
  fields on ``network.apply_rules(x)`` and save states with the rules applied).

An assigned value (by an event or a rule) that is not finite, or negative although every count
it was computed from is non-negative, stops the computation with an error
(:func:`equinox.error_if`; fractional values are fine, and variables may be negative). The
exception for negative inputs is the Langevin equation's: its counts may dip slightly below 0
near 0, and a rule such as ``Y := 2 X`` follows them.
"""

from __future__ import annotations

import functools

import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._network._events import Assignments
from .._network._expressions import StateFunction, compared_differences
from .._network._network import ReactionNetwork


def _checked(
    network: ReactionNetwork, new: Array, old: Array, names: tuple[str, ...], when: Array, what: str
) -> Array:
    """``new``, with an error where ``when`` holds and an assigned value is invalid."""
    values = new[jnp.asarray([network.species.index(name) for name in names])]
    counts = jnp.asarray([name not in network.variables for name in names])
    negative = jnp.any(counts & (values < 0))
    counts_before = np.array([name not in network.variables for name in network.species])
    invalid = ~jnp.all(jnp.isfinite(values)) | (negative & jnp.all(old[counts_before] >= 0))
    return eqx.error_if(new, when & invalid, f"{what} gave a negative or non-finite value")


def _checked_rules(network: ReactionNetwork, new: Array, old: Array, when: Array | bool) -> Array:
    """``new`` with every rule's value checked where ``when`` holds."""
    for rule in network.assignment_rules:
        what = f"the assignment rule for {rule.species!r}"
        new = _checked(network, new, old, (rule.species,), when, what)
    return new


def apply_rules(network: ReactionNetwork, x: Array, when: Array | bool = True) -> Array:
    """``network.apply_rules(x)``, checked where ``when`` holds (a boolean scalar)."""
    return _checked_rules(network, network.apply_rules(x), x, when)


def _assign(
    network: ReactionNetwork,
    assignments: Assignments,
    x: Array,
    fire: Array,
    what: str,
    values: Array | None = None,
) -> Array:
    """The state after ``assignments`` (then the rules) where ``fire`` holds, else ``x``.

    ``values`` are the assigned values if computed earlier (a delayed event's), else the
    assignments are evaluated in ``x``.
    """
    new = network.apply_assignments(assignments, x, values)
    what = f"{what} assigning {list(assignments.species)}"
    new = _checked_rules(
        network, _checked(network, new, x, assignments.species, fire, what), x, fire
    )
    return jnp.where(fire, new, x)


def triggers(network: ReactionNetwork, x: Array) -> Array:
    """The state events' triggers in ``x`` (rules applied), ``(n_state_events,)`` booleans."""
    return jnp.asarray([event.trigger(x) for event in network.state_events], dtype=bool)


LEVEL_TOLERANCE = 1024
"""A level within this many machine epsilons of its operands' magnitude counts as 0."""


def trigger_level_signs(network: ReactionNetwork, x: Array) -> Array:
    """The signs of the levels the state events' triggers compare, in ``x``: ``(n_levels,)``.

    One entry per order comparison ``a < b`` (``a >= b``, ...) in a trigger that is a
    :class:`~jumpax.StateFunction`: the sign of ``a - b``, 0 where it is within
    :data:`LEVEL_TOLERANCE` epsilons of ``|a| + |b|`` (at the threshold, up to rounding). A
    trigger built from comparisons can change only where one of them changes sign. Empty
    where there are none.
    """
    signs = []
    for event in network.state_events:
        if isinstance(event.trigger, StateFunction):
            for difference, magnitude in compared_differences(event.trigger.expression):
                level = StateFunction(difference, event.trigger.species)(x)
                scale = StateFunction(magnitude, event.trigger.species)(x)
                tolerance = LEVEL_TOLERANCE * jnp.finfo(x.dtype).eps * scale
                signs.append(jnp.where(jnp.abs(level) > tolerance, jnp.sign(level), 0.0))
    return jnp.stack(signs).astype(x.dtype) if signs else jnp.zeros(0, x.dtype)


MAX_PENDING = 16
"""The most pending (delayed) firings one state event may have at a time."""

TIE_SEED = 20_011
"""The seed of the draws that break ties between equal priorities (see :func:`_execute_next`)."""

Queue = dict | None
"""The pending firings of state events with SBML semantics (see :func:`scheduled`):
``{"due": (n_state_events, MAX_PENDING) times (inf: free), "values": (..., n_assigned),
"draws": how many firings were carried out}``, or ``None`` for a network without such
events."""


def scheduled(network: ReactionNetwork) -> bool:
    """Whether any state event has a delay, a priority or is not persistent.

    Such a network's state events follow SBML's semantics (:func:`_settle_scheduled`); the
    others fire in list order as in the exact simulator (:func:`settle`).
    """
    return any(event.is_scheduled for event in network.state_events)


def empty_queue(network: ReactionNetwork, dtype: jnp.dtype) -> Queue:
    """No pending firings (``None`` where the network needs no queue)."""
    if not scheduled(network):
        return None
    events = network.state_events
    width = max(len(event.assignments.species) for event in events)
    return {
        "due": jnp.full((len(events), MAX_PENDING), jnp.inf, dtype),
        "values": jnp.zeros((len(events), MAX_PENDING, width), dtype),
        "draws": jnp.zeros((), jnp.uint32),
    }


def settle(
    network: ReactionNetwork, x: Array, armed: Array, queue: Queue = None, t: Array | None = None
) -> tuple[Array, Array, Queue]:
    """Fires the armed state events whose trigger holds: ``(x, armed, queue)`` after.

    Without SBML semantics they fire in list order, each trigger read after the assignments
    of the events before it, as in the exact simulator.
    """
    if queue is not None:
        return _settle_scheduled(network, x, armed, queue, t)
    flags = []
    for k, event in enumerate(network.state_events):
        fire = event.trigger(x) & armed[k]
        x = _assign(network, event.assignments, x, fire, f"state event {k}")
        flags.append(~event.trigger(x))
    return x, jnp.asarray(flags, dtype=bool), queue


def _schedule(
    network: ReactionNetwork, x: Array, t: Array, armed: Array, queue: dict
) -> tuple[Array, dict]:
    """Queues the firing of every armed event whose trigger holds, due after its delay.

    Then re-arms the events whose trigger is false and drops the pending firings of the
    non-persistent ones among them. Returns ``(armed, queue)``.
    """
    trigger = triggers(network, x)
    due, values = queue["due"], queue["values"]
    for k, event in enumerate(network.state_events):
        fire = armed[k] & trigger[k]
        delay = jnp.zeros((), x.dtype) if event.delay is None else event.delay(x)
        delay = eqx.error_if(
            delay, fire & ~(delay >= 0), f"state event {k}: the delay is negative or NaN"
        )
        free = due[k] == jnp.inf
        slot = jnp.argmax(free)
        fire = eqx.error_if(
            fire, fire & ~jnp.any(free),
            f"state event {k} has more than {MAX_PENDING} pending firings",
        )
        now = [value(x) for value in event.assignments.values]
        row = jnp.zeros(values.shape[-1], x.dtype).at[: len(now)].set(jnp.stack(now))
        due = due.at[k, slot].set(jnp.where(fire, t + delay, due[k, slot]))
        values = values.at[k, slot].set(jnp.where(fire, row, values[k, slot]))
        if not event.persistent:
            due = due.at[k].set(jnp.where(trigger[k], due[k], jnp.inf))
    return ~trigger, {**queue, "due": due, "values": values}


def _execute_next(
    network: ReactionNetwork, x: Array, t: Array, queue: dict
) -> tuple[Array, dict, Array]:
    """Carries out the due firing of highest priority, if any: ``(x, queue, executed)``.

    Events without a priority come after those with one, in list order among themselves.
    Firings tied at the highest explicit priority go in random order, as SBML requires: one
    of them is drawn uniformly, from a stream seeded by :data:`TIE_SEED` and the number of
    firings so far, so a solve is reproducible.
    """
    events = network.state_events
    due = queue["due"]
    lowest = jnp.finfo(x.dtype).min
    priority = jnp.stack([
        lowest if event.priority is None else jnp.maximum(event.priority(x), lowest / 2)
        for event in events
    ]).astype(x.dtype)
    score = jnp.where(due <= t, priority[:, None], -jnp.inf).reshape(-1)
    explicit = np.repeat([event.priority is not None for event in events], MAX_PENDING)
    tied = explicit & (score == jnp.max(score))
    draw = jax.random.uniform(
        jax.random.fold_in(jax.random.key(TIE_SEED), queue["draws"]), score.shape
    )
    chosen = jnp.where(
        jnp.any(tied), jnp.argmax(jnp.where(tied, draw, -1.0)), jnp.argmax(score)
    )
    k_chosen, slot = chosen // MAX_PENDING, chosen % MAX_PENDING
    executed = jnp.any(due <= t)
    for k, event in enumerate(events):
        fire = executed & (k_chosen == k)
        held = queue["values"][k, slot] if event.values_at_trigger else None
        x = _assign(network, event.assignments, x, fire, f"state event {k}", held)
    due = due.at[k_chosen, slot].set(jnp.where(executed, jnp.inf, due[k_chosen, slot]))
    draws = queue["draws"] + executed.astype(jnp.uint32)
    return x, {**queue, "due": due, "draws": draws}, executed


def _settle_scheduled(
    network: ReactionNetwork, x: Array, armed: Array, queue: dict, t: Array
) -> tuple[Array, Array, dict]:
    """SBML's events at ``t``: queue the firings, then carry out those due one at a time.

    The highest priority goes first; the firings are queued again after each, until none is
    due.
    """

    def body(carry):
        x, armed, queue, _ = carry
        armed, queue = _schedule(network, x, t, armed, queue)
        x, queue, executed = _execute_next(network, x, t, queue)
        return x, armed, queue, executed

    carry = body((x, armed, queue, jnp.ones((), bool)))
    x, armed, queue, _ = eqxi.while_loop(
        lambda carry: carry[3],
        body,
        carry,
        max_steps=MAX_PENDING * len(network.state_events) + 1,
        kind="checkpointed",
    )
    return x, armed, queue


def start(
    network: ReactionNetwork, x0: Array, t0: Array
) -> tuple[Array, Array, Array, Queue]:
    """The state at ``t0`` after the rules and the initial settle.

    Returns:
        ``(x, armed, pending, queue)``: ``pending`` flags the time events still to fire
        (those later than ``t0``), ``queue`` holds the delayed firings.
    """
    armed = jnp.asarray([not event.initial_value for event in network.state_events], dtype=bool)
    queue = empty_queue(network, x0.dtype)
    x, armed, queue = settle(network, apply_rules(network, x0), armed, queue, t0)
    return x, armed, event_times(network, x0.dtype) > t0, queue


def event_times(network: ReactionNetwork, dtype: jnp.dtype) -> Array:
    """The time events' times, ``(n_time_events,)``."""
    return jnp.asarray([event.firing_time for event in network.time_events], dtype=dtype)


def next_event_time(
    network: ReactionNetwork, pending: Array, queue: Queue, dtype: jnp.dtype
) -> Array:
    """The earliest pending time event's or delayed firing's time, ``inf`` if none."""
    times = jnp.min(jnp.where(pending, event_times(network, dtype), jnp.inf), initial=jnp.inf)
    if queue is not None:
        times = jnp.minimum(times, jnp.min(queue["due"]))
    return times


def jump(
    network: ReactionNetwork, x: Array, t: Array, armed: Array, pending: Array, queue: Queue
) -> tuple[Array, Array, Array, Queue]:
    """The jump at ``t``: a settle, then every pending time event due by ``t`` with its settle.

    Returns:
        ``(x, armed, pending, queue)`` after the jump.
    """
    x, armed, queue = settle(network, x, armed, queue, t)
    due = pending & (event_times(network, x.dtype) <= t)
    for i, event in enumerate(network.time_events):
        fired = _assign(network, event.assignments, x, due[i], f"time event {i}")
        settled, settled_armed, settled_queue = settle(
            network, fired, armed & due[i], queue, t
        )
        x, armed, queue = jax.tree.map(
            functools.partial(jnp.where, due[i]),
            (settled, settled_armed, settled_queue),
            (x, armed, queue),
        )
    return x, armed, pending & ~due, queue
