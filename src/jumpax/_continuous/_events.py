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
(:func:`equinox.error_if`; fractional values are fine). The exception for negative inputs is
the Langevin equation's: its counts may dip slightly below 0 near 0, and a rule such as
``Y := 2 X`` follows them.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .._network._events import Assignments
from .._network._network import ReactionNetwork


def _checked(
    network: ReactionNetwork, new: Array, old: Array, names: tuple[str, ...], when: Array, what: str
) -> Array:
    """``new``, with an error where ``when`` holds and an assigned value is invalid."""
    values = new[jnp.asarray([network.species.index(name) for name in names])]
    invalid = ~jnp.all(jnp.isfinite(values)) | (jnp.any(values < 0) & jnp.all(old >= 0))
    return eqx.error_if(new, when & invalid, f"{what} gave a negative or non-finite value")


def _checked_rules(network: ReactionNetwork, new: Array, old: Array, when: Array | bool) -> Array:
    """``new`` with every rule's value checked where ``when`` holds."""
    for rule in network.rules:
        what = f"the assignment rule for {rule.species!r}"
        new = _checked(network, new, old, (rule.species,), when, what)
    return new


def apply_rules(network: ReactionNetwork, x: Array, when: Array | bool = True) -> Array:
    """``network.apply_rules(x)``, checked where ``when`` holds (a boolean scalar)."""
    return _checked_rules(network, network.apply_rules(x), x, when)


def _assign(
    network: ReactionNetwork, assignments: Assignments, x: Array, fire: Array, what: str
) -> Array:
    """The state after ``assignments`` (then the rules) where ``fire`` holds, else ``x``."""
    new = network.apply_assignments(assignments, x)
    what = f"{what} assigning {list(assignments.species)}"
    new = _checked_rules(
        network, _checked(network, new, x, assignments.species, fire, what), x, fire
    )
    return jnp.where(fire, new, x)


def triggers(network: ReactionNetwork, x: Array) -> Array:
    """The state events' triggers in ``x`` (rules applied), ``(n_state_events,)`` booleans."""
    return jnp.asarray([event.trigger(x) for event in network.state_events], dtype=bool)


def settle(network: ReactionNetwork, x: Array, armed: Array) -> tuple[Array, Array]:
    """Fires the armed state events whose trigger holds, in order: ``(x, armed)`` after."""
    flags = []
    for k, event in enumerate(network.state_events):
        fire = event.trigger(x) & armed[k]
        x = _assign(network, event.assignments, x, fire, f"state event {k}")
        flags.append(~event.trigger(x))
    return x, jnp.asarray(flags, dtype=bool)


def start(network: ReactionNetwork, x0: Array, t0: Array) -> tuple[Array, Array, Array]:
    """The state at ``t0`` after the rules and the initial settle: ``(x, armed, pending)``.

    ``pending`` flags the time events still to fire: those later than ``t0``.
    """
    armed = jnp.asarray([not event.initial_value for event in network.state_events], dtype=bool)
    x, armed = settle(network, apply_rules(network, x0), armed)
    return x, armed, event_times(network, x0.dtype) > t0


def event_times(network: ReactionNetwork, dtype: jnp.dtype) -> Array:
    """The time events' times, ``(n_time_events,)``."""
    return jnp.asarray([event.firing_time for event in network.time_events], dtype=dtype)


def next_event_time(network: ReactionNetwork, pending: Array, dtype: jnp.dtype) -> Array:
    """The earliest pending time event's time, ``inf`` if none is pending."""
    return jnp.min(jnp.where(pending, event_times(network, dtype), jnp.inf), initial=jnp.inf)


def jump(
    network: ReactionNetwork, x: Array, t: Array, armed: Array, pending: Array
) -> tuple[Array, Array, Array]:
    """The jump at ``t``: a settle, then every pending time event due by ``t`` with its settle.

    Returns:
        ``(x, armed, pending)`` after the jump.
    """
    x, armed = settle(network, x, armed)
    due = pending & (event_times(network, x.dtype) <= t)
    for i, event in enumerate(network.time_events):
        fired = _assign(network, event.assignments, x, due[i], f"time event {i}")
        settled, settled_armed = settle(network, fired, armed & due[i])
        x = jnp.where(due[i], settled, x)
        armed = jnp.where(due[i], settled_armed, armed)
    return x, armed, pending & ~due
