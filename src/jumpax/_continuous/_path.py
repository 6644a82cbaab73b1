"""The path of a continuous model: pieces of integration between jumps, saves and results.

Both continuous models run the same bounded loop; each iteration integrates one *piece* from
the current time towards the next pending time event (or ``t1``), with a model-specific
``advance`` (a Diffrax solve that may stop early at a state event for the ODE, one
Euler-Maruyama step for the Langevin equation), records the save times the piece covered, and
applies the jump at its end (:func:`~jumpax._continuous._events.jump`). A save time equal to a
jump's time records the state after the jump, as in :func:`jumpax.simulate`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import equinox.internal as eqxi
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._network._network import ReactionNetwork
from .._results import SimulationResults
from .._simulate._arguments import times
from . import _events

Advance = Callable[[Any, Array, Array, Array, Array], tuple[Any, Array, Array, Array, Array, Array]]
"""``advance(carry, x, armed, t, t_next) -> (carry, y, t_end, saved, n_steps, ok)``.

Integrates from the state ``x`` at ``t`` towards ``t_next`` and stops at ``t_end <= t_next``
in the state ``y`` (before the jump there). ``saved`` holds the states at the save times
clipped to the piece (only those in ``[t, t_end)`` are used; ``None`` in final mode),
``n_steps`` counts the solver steps and ``ok`` is False where the solver failed.
"""


def continuous_times(
    model: str,
    t0: ArrayLike,
    t1: ArrayLike,
    save_at: ArrayLike | Literal["final"],
    dtype: jnp.dtype,
) -> tuple[Array, Array, Array | None]:
    """Validated ``(t0, t1, ts)``, checked as :func:`jumpax.simulate` checks them.

    ``ts`` is ``None`` for ``save_at="final"``.

    Raises:
        ValueError: for bad times, and for ``save_at=None``: a continuous model has no events
            to list.
    """
    t0, t1, ts, mode = times(t0, t1, save_at, dtype)
    if mode == "events":
        raise ValueError(
            f"{model} records no events (save_at=None): pass save_at=ts or save_at='final'"
        )
    return t0, t1, ts


def _record(network: ReactionNetwork, grid: Array, ts: Array, a: Array, b: Array, saved: Array):
    """``grid`` with the save times in ``[a, b)`` set to ``saved`` (rules applied)."""
    covered = (ts >= a) & (ts < b)
    saved = jax.vmap(network.at_time)(jnp.where(covered[:, None], saved, 0.0), ts)
    saved = jax.vmap(lambda x, when: _events.apply_rules(network, x, when))(saved, covered)
    return jnp.where(covered[:, None], saved, grid)


def solve(
    network: ReactionNetwork,
    advance: Advance,
    carry: Any,
    x0: Array,
    t0: Array,
    t1: Array,
    ts: Array | None,
    max_pieces: int,
) -> SimulationResults:
    """One path from ``x0`` at ``t0`` to ``t1`` in at most ``max_pieces`` pieces.

    Returns:
        Grid-mode (``ts``) or final-mode results of one trajectory. ``overflow`` is True where
        the solver failed or the pieces ran out before ``t1``; the final state is then NaN, as
        are the save times not reached.
    """
    x, armed, pending, queue = _events.start(network, network.at_time(x0, t0), t0)
    state = {
        "carry": carry,
        "x": x,
        "armed": armed,
        "pending": pending,
        "queue": queue,
        "t": t0,
        "steps": jnp.zeros((), jnp.int32),
        "done": jnp.zeros((), bool),
        "failed": jnp.zeros((), bool),
    }
    if ts is not None:
        state["grid"] = jnp.full((ts.shape[0], network.n_species), jnp.nan, x0.dtype)

    def body(state: dict) -> dict:
        state = dict(state)
        x, t = state["x"], state["t"]
        t_next = jnp.minimum(
            _events.next_event_time(network, state["pending"], state["queue"], x.dtype), t1
        )
        carry, y, t_end, saved, steps, ok = advance(state["carry"], x, state["armed"], t, t_next)
        if ts is not None:
            state["grid"] = _record(network, state["grid"], ts, t, t_end, saved)
        # While a trigger is false the event re-arms, so at the end of a piece an event is
        # armed if it was at its start or its trigger was false there.
        armed = state["armed"] | ~_events.triggers(network, x)
        y = _events.apply_rules(network, network.at_time(jnp.where(ok, y, x), t_end))
        state["x"], state["armed"], state["pending"], state["queue"] = _events.jump(
            network, y, t_end, armed, state["pending"], state["queue"]
        )
        state["carry"] = carry
        state["t"] = t_end
        state["steps"] += steps
        state["done"] = ok & (t_end >= t1)
        state["failed"] = ~ok
        return state

    if max_pieces == 1:  # no events: no loop to compile and differentiate
        state = body(state)
    else:
        state = eqxi.while_loop(
            lambda s: ~s["done"] & ~s["failed"],
            body,
            state,
            max_steps=max_pieces,
            kind="checkpointed",
        )
    overflow = ~state["done"]
    x = jnp.where(overflow, jnp.nan, state["x"])
    if ts is None:
        x_out, t_out = x, t1
    else:
        x_out = jnp.where((ts >= t1)[:, None] & ~overflow, x, state["grid"])
        t_out = ts
    return SimulationResults(
        x=x_out,
        t=t_out,
        reactions=None,
        overflow=overflow,
        n_steps=state["steps"],
        t1=t1,
        species=network.species,
    )
