"""``simulate``: exact stochastic simulation of reaction networks, compiled and batched.

The loop is an early-exit ``lax.while_loop`` written directly over a batch of trajectories
(not a ``vmap`` of a per-trajectory loop): it runs until every trajectory has reached ``t1``,
each iteration advancing every unfinished trajectory by one step, and writes into the output
buffers with per-trajectory scatters. Event-list, grid and final-state outputs share the same
loop and the same random stream, so for the same key they describe the same path.
"""

from __future__ import annotations

import functools
import warnings
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from . import _random
from ._checks import is_concrete, operand_array
from .events import StateEvent, TimeEvent
from .network import ReactionNetwork, checked_state
from .results import SimulationResults
from .solvers import AbstractApproximateSolver, AbstractSolver, Direct

DEFAULT_MAX_STEPS_EVENTS = 10_000
"""Default step budget (buffer length) in event-list mode."""

DEFAULT_MAX_STEPS_GRID = 100_000_000
"""Default step budget in grid and final-state modes (no memory cost: only a runaway guard)."""

Mode = Literal["events", "grid", "final"]


class OverflowWarning(UserWarning):
    """The step budget ran out before ``t1``: some trajectories are truncated."""


def _check_times(t0: Array, t1: Array) -> None:
    if is_concrete(t0) and is_concrete(t1):
        t0_, t1_ = np.asarray(t0), np.asarray(t1)
        if not (np.isfinite(t0_) and np.isfinite(t1_)):
            raise ValueError(f"t0 and t1 must be finite, got t0={t0_}, t1={t1_}")
        if not t1_ > t0_:
            raise ValueError(f"t1 must be greater than t0, got t0={t0_}, t1={t1_}")


def _check_save_at(save_at: Array, t0: Array, t1: Array) -> None:
    if save_at.ndim != 1 or save_at.shape[0] == 0:
        raise ValueError(
            f"save_at must be a non-empty 1-D array of times, got shape {save_at.shape}"
        )
    if is_concrete(save_at):
        ts = np.asarray(save_at)
        if not np.all(np.isfinite(ts)):
            raise ValueError("save_at must contain finite times")
        if np.any(np.diff(ts) <= 0):
            raise ValueError(f"save_at must be strictly increasing, got {ts}")
        if is_concrete(t0) and is_concrete(t1) and (ts[0] < t0 or ts[-1] > t1):
            raise ValueError(
                f"save_at must lie in [t0, t1] = [{np.asarray(t0)}, {np.asarray(t1)}], "
                f"got [{ts[0]}, {ts[-1]}]"
            )


def _check_positive_int(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | np.integer)
                              or value < 1):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def simulate(
    key: PRNGKeyArray,
    network: ReactionNetwork,
    x0: ArrayLike | dict[str, int],
    t1: ArrayLike,
    *,
    t0: ArrayLike = 0.0,
    solver: AbstractSolver | AbstractApproximateSolver = Direct(),
    save_at: ArrayLike | Literal["final"] | None = None,
    max_steps: int | None = None,
    num_trajectories: int | None = None,
    first_trajectory: int = 0,
) -> SimulationResults:
    """Simulates a reaction network exactly (Gillespie) from ``t0`` to ``t1``.

    A key defines an endless ensemble: trajectory ``i`` draws from its own random stream,
    seeded from the key and ``i``. ``num_trajectories=n`` simulates trajectories ``0..n-1``
    (one trajectory: trajectory 0), so any chunk of an ensemble can be recomputed alone with
    ``first_trajectory`` (for progress bars, memory limits or several hosts), and the result
    never depends on batch size or the number of devices.

    Args:
        key: a JAX PRNG key. The same key gives the same result.
        network: the reaction network.
        x0: initial counts, an array ``(n_species,)`` or a ``{species: count}`` dict; with
            ``num_trajectories`` also ``(num_trajectories, n_species)``.
        t1: the end time (traced: changing it never recompiles).
        t0: the start time.
        solver: an exact solver, :class:`~jumpax.Direct` (default),
            :class:`~jumpax.FirstReaction` or the pathwise :class:`~jumpax.GumbelSoftmaxDirect`,
            or the approximate :class:`~jumpax.TauLeaping` (grid and final modes only).
        save_at: ``None`` for the event list (every event; what ``log_prob`` and the
            REINFORCE losses consume), an increasing array of times in ``[t0, t1]`` for grid
            mode (memory independent of the number of events), or ``"final"`` for the state at
            ``t1`` only.
        max_steps: the per-trajectory step budget. Event-list mode stores ``max_steps`` events
            (default ``DEFAULT_MAX_STEPS_EVENTS`` = 10,000); grid and final modes store nothing
            per event and default to ``DEFAULT_MAX_STEPS_GRID`` = 10**8 as a runaway guard.
            When the budget runs out before ``t1``, ``results.overflow`` is True and an
            :class:`OverflowWarning` is issued.
        num_trajectories: ``None`` for one trajectory, else the ensemble size (every result
            array gets a leading trajectory axis).
        first_trajectory: the index of the first trajectory simulated.

    Returns:
        :class:`~jumpax.SimulationResults`. In grid mode, times a truncated trajectory never
        reached hold NaN; in final mode a truncated trajectory's state is NaN.

    Raises:
        ValueError: for a bad initial state, times, ``save_at``, ``max_steps``,
            ``num_trajectories`` or ``first_trajectory``.
    """
    _check_positive_int("num_trajectories", num_trajectories)
    if isinstance(first_trajectory, bool) or not isinstance(first_trajectory, int | np.integer) \
            or first_trajectory < 0:
        raise ValueError(f"first_trajectory must be an integer >= 0, got {first_trajectory!r}")
    x0 = checked_state(network.species, x0)
    if num_trajectories is None and x0.ndim == 2:
        raise ValueError(
            f"x0 of shape {tuple(x0.shape)} holds one state per trajectory: "
            f"pass num_trajectories={x0.shape[0]}"
        )
    indices = np.arange(first_trajectory, first_trajectory + (num_trajectories or 1))
    results = _simulate_streams(
        key, indices.astype(np.uint32), network, x0, t1, t0, solver, save_at, max_steps,
        single=num_trajectories is None,
    )
    _warn_on_overflow(results.overflow)
    return results


def _simulate_streams(
    key, indices, network, x0, t1, t0, solver, save_at, max_steps, single=False
) -> SimulationResults:
    """Validates the other arguments and simulates trajectories ``indices`` of the ensemble.

    ``x0`` comes checked by :func:`checked_state`. With ``single``, the one trajectory is
    returned without the trajectory axis.
    """
    _check_positive_int("max_steps", max_steps)
    if not isinstance(solver, AbstractSolver | AbstractApproximateSolver):
        raise ValueError(f"solver must be a jumpax solver such as Direct(), got {solver!r}")
    dtype = x0.dtype
    t0 = operand_array(t0, dtype)
    t1 = operand_array(t1, dtype)
    if t0.ndim or t1.ndim:
        raise ValueError("t0 and t1 must be scalars")
    _check_times(t0, t1)
    if save_at is None:
        mode: Mode = "events"
        ts = None
    elif isinstance(save_at, str):
        if save_at != "final":
            raise ValueError(f"save_at must be None, an array of times or 'final', got {save_at!r}")
        mode, ts = "final", None
    else:
        mode = "grid"
        ts = operand_array(save_at, dtype)
        _check_save_at(ts, t0, t1)
    if max_steps is None:
        max_steps = DEFAULT_MAX_STEPS_EVENTS if mode == "events" else DEFAULT_MAX_STEPS_GRID
    batch = indices.shape[0]
    if x0.ndim == 2 and x0.shape[0] != batch:
        raise ValueError(
            f"x0 has {x0.shape[0]} initial states for {batch} trajectories"
        )
    if isinstance(solver, AbstractApproximateSolver) and mode == "events":
        raise ValueError(
            f"{type(solver).__name__} records no event list: pass save_at=ts or 'final'"
        )
    local_devices = jax.local_devices()
    mesh = None
    # Pathwise solvers are differentiated through the loop, which shard_map does not support.
    pathwise = getattr(solver, "reverse_differentiable", False)
    if len(local_devices) > 1 and batch >= len(local_devices) and not pathwise:
        # One shard of the ensemble per device: pad to a multiple of the device count.
        indices = np.concatenate([indices, indices[: (-batch) % len(local_devices)]])
        mesh = _ensemble_mesh(tuple(local_devices))
    return _run(
        key, indices, x0, network, t0, t1, ts, solver, mode, int(max_steps), mesh, batch, single
    )


@functools.cache
def _ensemble_mesh(devices: tuple[jax.Device, ...]) -> jax.sharding.Mesh:
    """A one-axis mesh over ``devices`` that ensembles are sharded on."""
    return jax.sharding.Mesh(
        np.asarray(devices), ("trajectories",), axis_types=(jax.sharding.AxisType.Auto,)
    )


def _warn(count: int) -> None:
    if count:
        warnings.warn(
            f"{count} trajectories exhausted the max_steps budget before t1 and are truncated "
            "(results.overflow is True for them); increase max_steps",
            OverflowWarning,
            stacklevel=4,
        )


def _warn_on_overflow(overflow: Array) -> None:
    if is_concrete(overflow):
        _warn(int(np.sum(np.asarray(overflow))))
    else:
        # The count, not the flags: a scalar reaches the host without gathering a sharded array.
        jax.debug.callback(lambda count: _warn(int(count)), jnp.sum(overflow, dtype=jnp.int32))


@eqx.filter_jit
def _run(key, indices, x0, network, t0, t1, ts, solver, mode, max_steps, mesh, batch, single):
    """Compiled entry point: the whole batch on one device, or one shard per device.

    ``indices`` may be padded to a multiple of the device count; the first ``batch``
    trajectories are returned (the first alone, unbatched, with ``single``). Everything here is
    traced, so a first call compiles once and later calls dispatch one computation.
    """
    results = _run_padded(key, indices, x0, network, t0, t1, ts, solver, mode, max_steps, mesh)
    if single:
        return jax.tree.map(lambda leaf: leaf[0], results)
    return jax.tree.map(lambda leaf: leaf[:batch], results) if indices.shape[0] > batch else results


def _run_padded(key, indices, x0, network, t0, t1, ts, solver, mode, max_steps, mesh):
    """All (possibly padded) trajectories of ``indices``."""
    words = _random.key_words(key)
    padded = indices.shape[0]
    if x0.ndim == 1:
        x0 = jnp.broadcast_to(x0, (padded, x0.shape[0]))
    else:
        x0 = jnp.concatenate([x0, x0[: padded - x0.shape[0]]])

    def local(indices, x0, words, network, t0, t1, ts):
        streams = jax.vmap(_random.seed, in_axes=(None, 0))(words, indices)
        if isinstance(solver, AbstractApproximateSolver):
            keys = jax.random.wrap_key_data(streams[:, :2])
            return solver.simulate_batch(keys, network, x0, t0, t1, ts, max_steps)
        return _exact_loop(streams, network, x0, t0, t1, ts, solver, mode, max_steps)

    args = (indices, x0, words, network, t0, t1, ts)
    if mesh is None:
        return local(*args)
    sharded, replicated = P("trajectories"), P()
    return jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(sharded, sharded) + (replicated,) * 5,
        out_specs=sharded,
        check_vma=False,
    )(*args)


_BLOCK = 32
"""Iterations per block of the event loop (see :class:`_EventList`)."""


SPARSE_UPDATES_FROM = 24
"""Mass-action networks with at least this many reactions update propensities sparsely."""


def _sparse_dependents(network: ReactionNetwork) -> np.ndarray | None:
    """The network's propensity dependents, if sparse updates pay off for it, else ``None``.

    They pay off when a firing changes at most a quarter of the propensities of a network
    with at least ``SPARSE_UPDATES_FROM`` reactions.
    """
    if network.n_reactions < SPARSE_UPDATES_FROM:
        return None
    dependents = network.propensity_dependents()
    if dependents is None or 4 * dependents.shape[1] > network.n_reactions:
        return None
    return dependents


class _EventList(eqx.Module):
    """The event-list buffers of a batch, filled one step of every trajectory at a time.

    Iteration ``i`` holds step ``i`` of every unfinished trajectory: its state and time go to
    column ``i + 1`` of ``xs``/``ts`` and its reaction code to column ``i`` of ``rs``. Writing
    one column of every trajectory would touch one memory page per trajectory, so a block of
    iterations is staged step-major and copied out at once. The buffers have the results'
    shapes, so padding them at the end happens in place.
    """

    xs: Array  # (batch, max_steps + 1, n_species)
    ts: Array  # (batch, max_steps + 1)
    rs: Array  # (batch, max_steps)
    staged_x: Array  # (_BLOCK, batch, n_species)
    staged_t: Array  # (_BLOCK, batch)
    staged_r: Array  # (_BLOCK, batch)

    @classmethod
    def empty(cls, x0: Array, t0: Array, max_steps: int) -> _EventList:
        batch, n_species = x0.shape
        dtype = x0.dtype
        return cls(
            xs=jnp.zeros((batch, max_steps + 1, n_species), dtype).at[:, 0].set(x0),
            ts=jnp.zeros((batch, max_steps + 1), dtype).at[:, 0].set(t0),
            rs=jnp.full((batch, max_steps), -1, dtype=jnp.int32),
            staged_x=jnp.zeros((_BLOCK, batch, n_species), dtype),
            staged_t=jnp.zeros((_BLOCK, batch), dtype),
            staged_r=jnp.full((_BLOCK, batch), -1, dtype=jnp.int32),
        )

    def record(self, k: Array, x: Array, t: Array, code: Array, fire: Array) -> _EventList:
        """Stages the ``k``-th iteration of the block.

        It holds the new state, time and reaction code of the trajectories that fire; what is
        staged for the others is padded over.
        """
        return eqx.tree_at(
            lambda e: (e.staged_x, e.staged_t, e.staged_r),
            self,
            (
                jax.lax.dynamic_update_index_in_dim(self.staged_x, x, k, 0),
                jax.lax.dynamic_update_index_in_dim(self.staged_t, t, k, 0),
                jax.lax.dynamic_update_index_in_dim(self.staged_r, jnp.where(fire, code, -1), k, 0),
            ),
        )

    def flush(self, first: Array, count: Array) -> _EventList:
        """Copies the ``count`` staged iterations ``first, first + 1, ...`` to the buffers."""
        return eqx.tree_at(
            lambda e: (e.xs, e.ts, e.rs),
            self,
            (
                _copy_block(self.xs, self.staged_x, first + 1, count),
                _copy_block(self.ts, self.staged_t, first + 1, count),
                _copy_block(self.rs, self.staged_r, first, count),
            ),
        )

    def finish(self, steps: Array, x: Array, t1: Array) -> tuple[Array, Array, Array]:
        """The results' ``x``, ``t`` and ``reactions``.

        The rows after each trajectory's last step are padded with its final state ``x``
        and ``t1``.
        """
        after_last = jnp.arange(self.xs.shape[1])[None, :] > steps[:, None]
        xs = jnp.where(after_last[..., None], x[:, None, :], self.xs)
        ts = jnp.where(after_last, t1, self.ts)
        return xs, ts, self.rs


def _copy_block(buffer: Array, staged: Array, column: Array, count: Array) -> Array:
    """Writes ``staged[:count]`` (step-major) to columns ``column, ...`` of ``buffer``.

    ``buffer`` is trajectory-major; it takes one block write.
    Near the end of the buffer the block is moved left to fit, keeping what the columns
    before ``column`` hold; columns past the end are dropped (the final iteration, in which
    nothing fires, can stage one).
    """
    width = min(staged.shape[0], buffer.shape[1])
    start = jnp.minimum(column, buffer.shape[1] - width)
    positions = start + jnp.arange(width) - column
    new = (positions >= 0) & (positions < count)
    rows = jnp.take(staged, jnp.clip(positions, 0, staged.shape[0] - 1), axis=0)
    new = new.reshape((1, width) + (1,) * (buffer.ndim - 2))
    old = jax.lax.dynamic_slice_in_dim(buffer, start, width, 1)
    block = jnp.where(new, rows.swapaxes(0, 1), old)
    return jax.lax.dynamic_update_slice_in_dim(buffer, block, start, 1)


def _while(cond, body, state, bound: int | None):
    """``lax.while_loop``; with a ``bound``, the checkpointed loop gradients can flow through."""
    if bound is None:
        return jax.lax.while_loop(cond, body, state)
    return eqx.internal.while_loop(cond, body, state, max_steps=bound, kind="checkpointed")


def _exact_loop(
    streams: Array,
    network: ReactionNetwork,
    x0: Array,
    t0: Array,
    t1: Array,
    ts: Array | None,
    solver: AbstractSolver,
    mode: Mode,
    max_steps: int,
) -> SimulationResults:
    """The batched event loop: one iteration advances every unfinished trajectory by one step.

    A step is one of: save the current state at the next grid time (grid mode), apply the next
    time event, or fire the pending reaction. After a reaction or an event, state events whose
    trigger became true fire at once and assignment rules are re-applied; then the next
    reaction is drawn from the new state.
    """
    batch, n_species = x0.shape
    dtype = x0.dtype
    stoichiometry = jnp.asarray(network.stoichiometry, dtype=dtype)
    rows = jnp.arange(batch)
    time_events = [e for e in network.events if isinstance(e, TimeEvent)]
    state_events = [e for e in network.events if isinstance(e, StateEvent)]

    n_uniforms = solver.num_uniforms(network.n_reactions)

    # Large mass-action networks keep their propensities and recompute after each event only
    # those the fired reaction changes (the same arithmetic, so the same values).
    dependents = _sparse_dependents(network)

    def all_propensities(x: Array) -> Array:
        # The barrier keeps XLA from fusing the propensities into the cumulative sums of the
        # selection, which would recompute them once per reaction (quadratic cost).
        return jax.lax.optimization_barrier(jax.vmap(network.propensities)(x))

    def updated_propensities(a: Array, x: Array, fired: Array) -> Array:
        which = jnp.asarray(dependents)[fired]
        fresh = jax.vmap(network.propensities_of)(x, which)
        return jax.lax.optimization_barrier(a.at[rows[:, None], which].set(fresh))

    def draw(a: Array, rng: Array) -> tuple[Array, Array, Array, Array]:
        """Next reaction of every trajectory from its own stream: ``(tau, r, u, new rng)``."""
        rng, u = _random.uniforms(rng, n_uniforms, dtype)
        tau, r = jax.vmap(solver.sample)(u, a)
        return tau, r, u, rng

    def settle(x: Array, armed: Array) -> tuple[Array, Array]:
        """Fires the state events whose trigger went from false to true, in order."""
        flags = []
        for k, event in enumerate(state_events):
            triggered = event.trigger(x)
            x = jnp.where(
                triggered & armed[k], network.apply_assignments(event.assignments, x), x
            )
            flags.append(~event.trigger(x))
        return x, jnp.stack(flags) if flags else armed

    def react(u: Array, x: Array, r: Array, armed: Array) -> tuple[Array, Array]:
        # Exact solvers ignore u and the propensities, and XLA drops their computation.
        x = solver.update(u, x, network.propensities(x), r, stoichiometry)
        return settle(network.apply_rules(x), armed)

    def apply_time_event(x: Array, k: Array, armed: Array) -> tuple[Array, Array]:
        candidates = jnp.stack([network.apply_assignments(e.assignments, x) for e in time_events])
        return settle(candidates[k], armed)

    x0 = jax.vmap(network.apply_rules)(x0)
    armed = jnp.array([not e.initial_value for e in state_events], dtype=bool)
    x0, armed = jax.vmap(settle, in_axes=(0, None))(x0, armed)
    a0 = all_propensities(x0)
    tau, r_next, u_next, rng = draw(a0, streams)
    t_start = jnp.broadcast_to(t0, (batch,))
    state = {
        "x": x0,
        "armed": armed,
        "t_next": t_start + tau,
        "r_next": r_next,
        "u_next": u_next,
        "rng": rng,
        "steps": jnp.zeros(batch, dtype=jnp.int32),
        "done": jnp.zeros(batch, dtype=bool),
        "overflow": jnp.zeros(batch, dtype=bool),
    }
    if dependents is not None:
        state["a"] = a0
    if time_events:
        event_times = jnp.stack([e.time for e in time_events]).astype(dtype)
        state["time_events_done"] = jnp.broadcast_to(
            event_times <= t0, (batch, len(time_events))
        )
    if mode == "events":
        state["events"] = _EventList.empty(x0, t_start, max_steps)
        state["i"] = jnp.zeros((), dtype=jnp.int32)
    elif mode == "grid":
        n_times = ts.shape[0]
        state["grid"] = jnp.full((batch, n_times, n_species), jnp.nan, dtype)
        state["j"] = jnp.zeros(batch, dtype=jnp.int32)

    def body(state: dict) -> dict:
        state = dict(state)
        x, t_next, steps, done = state["x"], state["t_next"], state["steps"], state["done"]
        if time_events:
            pending_times = jnp.where(state["time_events_done"], jnp.inf, event_times)
            k_event = jnp.argmin(pending_times, axis=1)
            t_event = jnp.min(pending_times, axis=1)
        else:
            t_event = jnp.full_like(t_next, jnp.inf)
        t_step = jnp.minimum(t_next, t_event)
        if mode == "grid":
            j = state["j"]
            pending = j < ts.shape[0]
            record = ~done & pending & (ts[jnp.minimum(j, ts.shape[0] - 1)] < t_step)
            write_at = jnp.where(record, j, ts.shape[0])
            state["grid"] = state["grid"].at[rows, write_at].set(x, mode="drop")
            state["j"] = j + record
            active = ~done & pending & ~record
        else:
            record = jnp.zeros_like(done)
            active = ~done & (t_step <= t1)
        budget_left = steps < max_steps
        fire = active & budget_left
        state["overflow"] = state["overflow"] | (active & ~budget_left)
        # Event-list paths need a row after the last step for t1: a full buffer is truncated.
        if mode == "events":
            state["overflow"] = state["overflow"] | (~done & ~active & ~budget_left)
        state["done"] = done | (~record & ~fire)

        x_new, armed_new = jax.vmap(react)(state["u_next"], x, state["r_next"], state["armed"])
        code = state["r_next"]
        if time_events:
            timed = t_event <= t_next
            x_timed, armed_timed = jax.vmap(apply_time_event)(x, k_event, state["armed"])
            x_new = jnp.where(timed[:, None], x_timed, x_new)
            armed_new = jnp.where(timed[:, None], armed_timed, armed_new)
            code = jnp.where(timed, -2 - k_event.astype(jnp.int32), code)
            applied = jax.nn.one_hot(k_event, len(time_events), dtype=bool)
            state["time_events_done"] |= applied & (fire & timed)[:, None]
        x_new = jnp.where(fire[:, None], x_new, x)
        steps_new = steps + fire
        if mode == "events":
            k = state["i"] % _BLOCK
            state["events"] = state["events"].record(k, x_new, t_step, code, fire)
            state["i"] = state["i"] + 1
        if dependents is None:
            a = all_propensities(x_new)
        else:
            a = jnp.where(fire[:, None], updated_propensities(state["a"], x_new, code), state["a"])
            state["a"] = a
        tau, r_next, u_next, rng = draw(a, state["rng"])
        state["x"] = x_new
        if state_events:
            state["armed"] = jnp.where(fire[:, None], armed_new, state["armed"])
        state["steps"] = steps_new
        state["t_next"] = jnp.where(fire, t_step + tau, t_next)
        state["r_next"] = jnp.where(fire, r_next, state["r_next"])
        state["u_next"] = jnp.where(fire[:, None], u_next, state["u_next"])
        state["rng"] = jnp.where(fire[:, None], rng, state["rng"])
        return state

    def block(state: dict) -> dict:
        """Up to ``_BLOCK`` iterations, then the event list's staged block copied out."""
        first = state["i"]
        state = _while(
            lambda s: ~jnp.all(s["done"]) & (s["i"] - first < _BLOCK), body, state,
            _BLOCK if bound else None,
        )
        state["events"] = state["events"].flush(first, state["i"] - first)
        return state

    # A bounded, checkpointed loop lets reverse-mode gradients flow through the path.
    bound = None
    if solver.reverse_differentiable:
        bound = max_steps + 2 + (0 if ts is None else ts.shape[0])
    if mode == "events":
        state = _while(lambda s: ~jnp.all(s["done"]), block, state,
                       bound // _BLOCK + 2 if bound else None)
    else:
        state = _while(lambda s: ~jnp.all(s["done"]), body, state, bound)

    steps, overflow, x = state["steps"], state["overflow"], state["x"]
    t1_batch = jnp.broadcast_to(t1, (batch,))
    if mode == "events":
        xs, times, reactions = state["events"].finish(steps, x, t1)
        return SimulationResults(
            x=xs, t=times, reactions=reactions, overflow=overflow, n_steps=steps,
            t1=t1_batch, species=network.species,
        )
    if mode == "grid":
        return SimulationResults(
            x=state["grid"], t=jnp.broadcast_to(ts, (batch, ts.shape[0])), reactions=None,
            overflow=overflow, n_steps=steps, t1=t1_batch, species=network.species,
        )
    final = jnp.where(overflow[:, None], jnp.nan, x)
    return SimulationResults(
        x=final, t=t1_batch, reactions=None, overflow=overflow, n_steps=steps, t1=t1_batch,
        species=network.species,
    )

