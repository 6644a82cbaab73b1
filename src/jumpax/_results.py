"""``SimulationResults``: what :func:`jumpax.simulate` returns."""

from __future__ import annotations

import csv
import pathlib

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from ._checks import species_position
from ._files import atomic_write

PADDING = -1
"""Reaction code of event-list rows after a trajectory's last event."""

FIRST_TIME_EVENT = -2
"""Reaction code of the network's time event 0 in event lists; time event ``k`` has code
``FIRST_TIME_EVENT - k`` (``-2``, ``-3``, ...)."""

UNREACHED_COUNT = -1
"""Marks integer counts at times a truncated trajectory never reached (float results: NaN)."""


def time_event_code(k: Array | int) -> Array | int:
    """The event-list reaction code of the network's time event ``k``."""
    return FIRST_TIME_EVENT - k


def unreached(dtype: jnp.dtype) -> float | int:
    """The marker of a state never reached: NaN for floats, :data:`UNREACHED_COUNT` for ints."""
    return jnp.nan if jnp.issubdtype(dtype, jnp.floating) else UNREACHED_COUNT


class SimulationResults(eqx.Module):
    """Simulated trajectories, as an event list or on a time grid.

    **Event-list mode** (``save_at=None``): ``x`` is ``(max_steps + 1, n_species)`` with
    ``x[0] = x0``, ``t`` is ``(max_steps + 1,)`` with ``t[0] = t0``, and ``reactions`` is
    ``(max_steps,)``: step ``i`` takes ``x[i]`` to ``x[i+1]`` by reaction ``reactions[i]`` at
    time ``t[i+1]`` (time event ``k`` of the network has code :func:`time_event_code`
    ``(k) = -2 - k``). After the last event the rows are padding: ``reactions ==`` :data:`PADDING`
    (-1), ``x`` repeated and ``t = t1``.

    **Grid mode** (``save_at=ts``): ``x`` is ``(len(ts), n_species)``, the state just after the
    last event at or before each time, ``t`` is ``ts`` and ``reactions`` is ``None``.

    **Final-state mode** (``save_at="final"``): ``x`` is ``(n_species,)``, the state at ``t1``,
    ``t`` is ``t1`` and ``reactions`` is ``None``.

    Ensembles (``num_trajectories=n``) carry a leading trajectory axis on every array, and an
    ensemble can be mapped over with ``jax.vmap``. Counts of the exact and leaping solvers are
    integers (``int32``, ``int64`` with x64), exact to ``2**31 - 1``; pathwise solvers and the
    continuous models return floats. Grid times and final states a truncated trajectory never
    reached hold :data:`UNREACHED_COUNT` (-1) in integer results and NaN in float results;
    :meth:`mean` and :meth:`var` give NaN there.

    Attributes:
        x: counts.
        t: times.
        reactions: the reaction index of each step (event-list mode), else ``None``.
        species: the species names (static).
        overflow: True where the step budget ran out before ``t1``: such a trajectory is
            truncated and must not be used as if it were complete.
        n_steps: number of reaction events simulated per trajectory.
        t1: the simulation horizon.
    """

    x: Array
    t: Array
    reactions: Array | None
    overflow: Array
    n_steps: Array
    t1: Array
    species: tuple[str, ...] = eqx.field(static=True)

    # ----------------------------------------------------------------------------- layout
    @property
    def mode(self) -> str:
        """``"events"``, ``"grid"`` or ``"final"``."""
        if self.reactions is not None:
            return "events"
        return "final" if self.t.ndim == self.overflow.ndim else "grid"

    @property
    def is_ensemble(self) -> bool:
        """Whether the arrays carry a leading trajectory axis."""
        return self.overflow.ndim == 1

    @property
    def num_trajectories(self) -> int | None:
        """Number of trajectories of an ensemble, ``None`` for a single one."""
        return int(self.overflow.shape[0]) if self.is_ensemble else None

    def __getitem__(self, index: int | slice | ArrayLike) -> SimulationResults:
        """Selects trajectories of an ensemble, e.g. ``results[0]`` or ``results[:10]``.

        Raises:
            ValueError: for results of a single trajectory.
            IndexError: for a trajectory index out of range (JAX would clamp it silently).
        """
        if not self.is_ensemble:
            raise ValueError("indexing selects trajectories and needs ensemble results")
        _check_index(index, self.num_trajectories)
        return SimulationResults(
            x=self.x[index],
            t=self.t[index],
            reactions=None if self.reactions is None else self.reactions[index],
            overflow=self.overflow[index],
            n_steps=self.n_steps[index],
            t1=self.t1[index],
            species=self.species,
        )

    # ----------------------------------------------------------------------------- queries
    @property
    def final_state(self) -> Array:
        """The last state: at ``t1`` (event list, final mode) or at the last saved time (grid).

        Shape ``(n_species,)``, or ``(n_trajectories, n_species)`` for an ensemble.
        """
        return self.x if self.mode == "final" else self.x[..., -1, :]

    def at(self, times: ArrayLike) -> SimulationResults:
        """The state at arbitrary times, as grid-mode results.

        For event-list results this is the state just after the last event at or before each
        time (the same convention as grid mode). A time outside ``[t0, t1]``, NaN, or after the
        last event of a trajectory that ran out of steps (``overflow``) was never reached: its
        state is marked unreached (:data:`UNREACHED_COUNT` in integer results, NaN in float
        ones; see :attr:`reached`), never the start or final state.

        Args:
            times: increasing times, shape ``(n_times,)``.

        Raises:
            ValueError: for results that are not an event list, or times that are not 1-D.
        """
        if self.mode != "events":
            raise ValueError(f"at() needs event-list results, these are {self.mode}-mode")
        times = jnp.asarray(times, dtype=self.t.dtype)
        if times.ndim != 1:
            raise ValueError(f"at() needs a 1-D array of times, got shape {times.shape}")

        def lookup(x: Array, t: Array, reactions: Array, overflow: Array, t1: Array) -> Array:
            # Padding rows repeat t1, so searching the event times finds the last event <= time.
            i = jnp.searchsorted(t, times, side="right") - 1
            last = jnp.where(overflow, t[jnp.sum(reactions != PADDING)], t1)
            known = (times >= t[0]) & (times <= last)  # False for NaN
            return jnp.where(known[:, None], x[jnp.clip(i, 0, x.shape[0] - 1)], unreached(x.dtype))

        fields = (self.x, self.t, self.reactions, self.overflow, self.t1)
        if self.is_ensemble:
            x = jax.vmap(lookup)(*fields)
            t = jnp.broadcast_to(times, (x.shape[0], times.shape[0]))
        else:
            x, t = lookup(*fields), times
        return SimulationResults(
            x=x,
            t=t,
            reactions=None,
            overflow=self.overflow,
            n_steps=self.n_steps,
            t1=self.t1,
            species=self.species,
        )

    def _grid_ensemble(self) -> Array:
        """The ensemble's grid or final states (refusing single results and event lists)."""
        if not self.is_ensemble:
            raise ValueError("ensemble statistics need results with num_trajectories")
        if self.mode == "events":
            raise ValueError(
                "ensemble statistics of event lists need common times: use results.at(ts) "
                "or simulate with save_at=ts"
            )
        return self.x

    @property
    def reached(self) -> Array:
        """Where ``x`` holds a state the simulation reached (False at unreached times)."""
        if jnp.issubdtype(self.x.dtype, jnp.floating):
            return ~jnp.isnan(self.x)
        return self.x != UNREACHED_COUNT

    def _grid_values(self) -> Array:
        """The grid or final states as floats, NaN where unreached."""
        x = self._grid_ensemble()
        return jnp.where(self.reached, x, jnp.nan).astype(jnp.result_type(float))

    def mean(self) -> Array:
        """Ensemble mean over trajectories: ``(len(ts), n_species)`` (or ``(n_species,)``)."""
        return self._grid_values().mean(axis=0)

    def var(self) -> Array:
        """Ensemble variance (``ddof=1``) over trajectories, same shape as :meth:`mean`."""
        return self._grid_values().var(axis=0, ddof=1)

    def species_counts(self, species: int | str) -> Array:
        """Counts of one species (by name or index): ``x[..., i]``.

        Raises:
            ValueError: for an unknown name or an out-of-range index.
        """
        return self.x[..., species_position(self.species, species)]

    # ----------------------------------------------------------------------------- export
    def to_numpy(self) -> dict[str, np.ndarray]:
        """All arrays as NumPy, in a dict (``species`` as an array of names)."""
        arrays = {
            "x": np.asarray(self.x),
            "t": np.asarray(self.t),
            "overflow": np.asarray(self.overflow),
            "n_steps": np.asarray(self.n_steps),
            "t1": np.asarray(self.t1),
            "species": np.asarray(self.species),
        }
        if self.reactions is not None:
            arrays["reactions"] = np.asarray(self.reactions)
        return arrays

    def to_table(self) -> dict[str, np.ndarray]:
        """A long-format table: columns ``trajectory``, ``time`` and one per species.

        Event-list padding rows are dropped (each trajectory keeps ``t0``, its events and
        the row at ``t1``). The dict can be passed to ``pandas.DataFrame`` directly.
        """
        x = np.asarray(self.x)
        t = np.asarray(self.t)
        if not self.is_ensemble:
            x, t = x[None], t[None]
        if self.mode == "final":
            x, t = x[:, None, :], t[:, None]
        keep = np.ones(t.shape, dtype=bool)
        if self.mode == "events":
            n_steps = np.atleast_1d(np.asarray(self.n_steps))
            keep = np.arange(t.shape[1])[None, :] <= (n_steps[:, None] + 1)
        trajectory = np.broadcast_to(np.arange(t.shape[0])[:, None], t.shape)
        table = {"trajectory": trajectory[keep], "time": t[keep]}
        for i, name in enumerate(self.species):
            table[name] = x[..., i][keep]
        return table

    def save(self, path: str | pathlib.Path) -> None:
        """Writes the results to ``.csv`` (the :meth:`to_table` layout) or ``.npz``.

        Raises:
            ValueError: for another file extension.
        """
        # The file is written whole or not at all (a temporary file renamed into place), so an
        # interrupted save never leaves a truncated CSV or a corrupt archive under ``path``.
        path = pathlib.Path(path)
        if path.suffix not in (".csv", ".npz"):
            raise ValueError(f"unsupported output format {path.suffix!r}; use .csv or .npz")
        with atomic_write(path) as temporary:
            if path.suffix == ".npz":
                np.savez_compressed(temporary, **self.to_numpy())
            else:
                table = self.to_table()
                with temporary.open("w", newline="") as handle:
                    writer = csv.writer(handle)
                    writer.writerow(list(table))
                    writer.writerows(zip(*table.values(), strict=True))


def _check_index(index: int | slice | ArrayLike, size: int) -> None:
    """Refuses concrete trajectory indices outside ``[-size, size)``.

    Raises:
        IndexError: naming the index and the number of trajectories.
    """
    if isinstance(index, slice) or isinstance(index, jax.core.Tracer):
        return
    values = np.asarray(index)
    if values.dtype == bool or not np.issubdtype(values.dtype, np.integer) or values.size == 0:
        return
    if np.any((values < -size) | (values >= size)):
        raise IndexError(f"trajectory index {index!r} out of range for {size} trajectories")
