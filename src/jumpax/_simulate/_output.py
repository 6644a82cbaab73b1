"""What a simulation records, one class per mode: every event, a time grid, or the final state.

Each output is filled by the loop (:mod:`jumpax._simulate._loop`) and turned into
:class:`~jumpax.SimulationResults` by its ``finish`` method: the one place where results are
assembled from a simulation.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from .._results import PADDING, SimulationResults, unreached

BLOCK = 32
"""Iterations per block of the event-list loop (see :class:`EventList`)."""


class AbstractOutput(eqx.Module):
    """Base class of the outputs.

    Attributes:
        blocked: whether the loop runs in blocks of :data:`BLOCK` iterations (event lists).
        needs_row_at_t1: whether a trajectory needs a free row after its last step (event
            lists end with a row at ``t1``), so a full buffer at ``t1`` is an overflow.
        num_saves: the number of save times.
    """

    blocked: ClassVar[bool] = False
    needs_row_at_t1: ClassVar[bool] = False

    num_saves: ClassVar[int] = 0

    def next_save(self, t1: Array) -> Array:
        """``(batch,)`` the next save time, ``t1`` when none is left before ``t1``."""
        return t1

    def saving(self) -> Array | None:
        """``(batch,)`` whether :meth:`next_save` is a save time (``None``: never)."""
        return None

    def update(
        self, x: Array, t: Array, code: Array, fired: Array, saved: Array
    ) -> AbstractOutput:
        """Records one iteration.

        Args:
            x: ``(batch, n_species)`` counts after the iteration.
            t: ``(batch,)`` times after it.
            code: ``(batch,)`` reaction codes of the steps.
            fired: ``(batch,)`` where a step (reaction or time event) was taken.
            saved: ``(batch,)`` where the trajectory is at its next save time.
        """
        return self

    @abc.abstractmethod
    def finish(
        self, x: Array, steps: Array, overflow: Array, t1: Array, species: tuple[str, ...]
    ) -> SimulationResults:
        """The results, given the final counts, step counts and overflow flags."""


class FinalState(AbstractOutput):
    """Records nothing along the way: the results hold the state at ``t1`` only."""

    def finish(self, x, steps, overflow, t1, species):
        """``x`` at ``t1``; a truncated trajectory's state is marked unreached."""
        final = jnp.where(overflow[:, None], unreached(x.dtype), x)
        return SimulationResults(
            x=final, t=t1, reactions=None, overflow=overflow, n_steps=steps, t1=t1,
            species=species,
        )


class Grid(AbstractOutput):
    """The state at given save times (memory independent of the number of events).

    Attributes:
        ts: ``(n_times,)`` the save times.
        stops: ``(n_times + 1,)`` the save times up to ``t1``, then ``t1``: where a trajectory
            that has saved ``j`` times stops next (one lookup, no test, per iteration).
        reachable: how many save times lie at or before ``t1``.
        x: ``(batch, n_times, n_species)`` the states saved so far (unreached elsewhere).
        j: ``(batch,)`` how many times each trajectory has saved.
    """

    ts: Array
    stops: Array
    reachable: Array
    x: Array
    j: Array

    @classmethod
    def empty(cls, ts: Array, x0: Array, t1: Array) -> Grid:
        """An empty grid for a batch starting in ``x0`` and ending at ``t1``."""
        batch, n_species = x0.shape
        return cls(
            ts=ts,
            stops=jnp.minimum(jnp.append(ts, t1), t1),
            reachable=jnp.sum(ts <= t1, dtype=jnp.int32),
            x=jnp.full((batch, ts.shape[0], n_species), unreached(x0.dtype), x0.dtype),
            j=jnp.zeros(batch, jnp.int32),
        )

    def next_save(self, t1):
        """The next grid time of each trajectory, ``t1`` after the last."""
        return self.stops[self.j]

    def saving(self):
        """Where a grid time at or before ``t1`` is left."""
        return self.j < self.reachable

    @property
    def num_saves(self) -> int:
        """The number of save times."""
        return self.ts.shape[0]

    def update(self, x, t, code, fired, saved):
        """Saves ``x`` at the next grid time of the trajectories where ``saved`` is True."""
        rows = jnp.arange(x.shape[0])
        at = jnp.where(saved, self.j, self.ts.shape[0])
        return eqx.tree_at(
            lambda g: (g.x, g.j), self, (self.x.at[rows, at].set(x, mode="drop"), self.j + saved)
        )

    def finish(self, x, steps, overflow, t1, species):
        """The saved states at the grid times."""
        return SimulationResults(
            x=self.x, t=jnp.broadcast_to(self.ts, self.x.shape[:2]), reactions=None,
            overflow=overflow, n_steps=steps, t1=t1, species=species,
        )


class EventList(AbstractOutput):
    """Every event of a batch, filled one step of every trajectory at a time.

    Iteration ``i`` holds step ``i`` of every unfinished trajectory: its state and time go to
    column ``i + 1`` of ``xs``/``ts`` and its reaction code to column ``i`` of ``rs``. Writing
    one column of every trajectory would touch one memory page per trajectory, so a block of
    iterations is staged step-major and copied out at once. The buffers have the results'
    shapes, so padding them at the end happens in place.

    Attributes:
        xs: ``(batch, max_steps + 1, n_species)`` states.
        ts: ``(batch, max_steps + 1)`` times.
        rs: ``(batch, max_steps)`` reaction codes.
        staged_x: ``(BLOCK, batch, n_species)`` the block being staged.
        staged_t: ``(BLOCK, batch)``.
        staged_r: ``(BLOCK, batch)``.
        i: the iteration count.
    """

    xs: Array
    ts: Array
    rs: Array
    staged_x: Array
    staged_t: Array
    staged_r: Array
    i: Array
    blocked: ClassVar[bool] = True
    needs_row_at_t1: ClassVar[bool] = True

    @classmethod
    def empty(cls, x0: Array, t0: Array, max_steps: int) -> EventList:
        """Empty buffers for a batch starting in ``x0`` at ``t0``."""
        batch, n_species = x0.shape
        return cls(
            xs=jnp.zeros((batch, max_steps + 1, n_species), x0.dtype).at[:, 0].set(x0),
            ts=jnp.zeros((batch, max_steps + 1), t0.dtype).at[:, 0].set(t0),
            rs=jnp.full((batch, max_steps), PADDING, dtype=jnp.int32),
            staged_x=jnp.zeros((BLOCK, batch, n_species), x0.dtype),
            staged_t=jnp.zeros((BLOCK, batch), t0.dtype),
            staged_r=jnp.full((BLOCK, batch), PADDING, dtype=jnp.int32),
            i=jnp.zeros((), jnp.int32),
        )

    def update(self, x, t, code, fired, saved):
        """Stages this iteration: the new state, time and code where ``fired``, else padding."""
        k = self.i % BLOCK
        return eqx.tree_at(
            lambda e: (e.staged_x, e.staged_t, e.staged_r, e.i),
            self,
            (
                jax.lax.dynamic_update_index_in_dim(self.staged_x, x, k, 0),
                jax.lax.dynamic_update_index_in_dim(self.staged_t, t, k, 0),
                jax.lax.dynamic_update_index_in_dim(
                    self.staged_r, jnp.where(fired, code, PADDING), k, 0
                ),
                self.i + 1,
            ),
        )

    def flush(self, first: Array) -> EventList:
        """Copies the iterations staged since iteration ``first`` to the buffers."""
        count = self.i - first
        return eqx.tree_at(
            lambda e: (e.xs, e.ts, e.rs),
            self,
            (
                _copy_block(self.xs, self.staged_x, first + 1, count),
                _copy_block(self.ts, self.staged_t, first + 1, count),
                _copy_block(self.rs, self.staged_r, first, count),
            ),
        )

    def finish(self, x, steps, overflow, t1, species):
        """The event list; rows after each trajectory's last step repeat its state and ``t1``."""
        after_last = jnp.arange(self.xs.shape[1])[None, :] > steps[:, None]
        xs = jnp.where(after_last[..., None], x[:, None, :], self.xs)
        ts = jnp.where(after_last, t1[:, None], self.ts)
        return SimulationResults(
            x=xs, t=ts, reactions=self.rs, overflow=overflow, n_steps=steps, t1=t1,
            species=species,
        )


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
