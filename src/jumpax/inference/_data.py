"""Data for inference, read from long-format CSV files (documented in ``docs/inference.md``).

- **Complete paths** (event lists): columns ``trajectory``, ``time`` and one per species (every
  species of the network), optionally ``reaction``. Each trajectory's rows are its initial
  state, the state after each event, and optionally a last row with an unchanged state at the
  end of observation: exactly what :meth:`jumpax.SimulationResults.save` writes for event lists.
  The reaction of each event is read from the ``reaction`` column (a reaction name) or
  identified from the change of state, which must match exactly one reaction.
- **Time series**: columns ``trajectory``, ``time`` and one per observed species (a subset of
  the network's), possibly with measurement noise; each trajectory starts from the network's
  initial state at its first time.
"""

from __future__ import annotations

import csv
import pathlib
from collections.abc import Sequence
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from .._network._network import ReactionNetwork
from .._results import PADDING, SimulationResults

__all__ = [
    "TimeSeries",
    "observed_species",
    "paths_from_table",
    "read_paths",
    "read_table",
    "read_timeseries",
]


def read_table(path: str | pathlib.Path, required: Sequence[str]) -> dict[str, list[str]]:
    """A CSV file's columns as lists of strings.

    Raises:
        ValueError: naming the file and what is wrong (missing columns, ragged rows, no rows).
    """
    path = pathlib.Path(path)
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}: empty file")
        header = [h.strip() for h in header]
        missing = [c for c in required if c not in header]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}; the header is {header}")
        columns: dict[str, list[str]] = {h: [] for h in header}
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise ValueError(
                    f"{path}, line {line}: {len(row)} fields, the header has {len(header)}"
                )
            for h, value in zip(header, row, strict=True):
                columns[h].append(value.strip())
    if not columns[header[0]]:
        raise ValueError(f"{path}: no data rows")
    return columns


def _numbers(path, column: str, values: list[str], *, integer: bool = False) -> np.ndarray:
    try:
        out = np.array([float(v) for v in values])
    except ValueError:
        bad = next(i for i, v in enumerate(values) if not _is_number(v))
        raise ValueError(
            f"{path}, line {bad + 2}, column {column!r}: not a number: {values[bad]!r}"
        ) from None
    if not np.all(np.isfinite(out)):
        bad = int(np.argmin(np.isfinite(out)))
        raise ValueError(f"{path}, line {bad + 2}, column {column!r}: not finite")
    if integer and not np.all((out == np.round(out)) & (out >= 0)):
        bad = int(np.argmin((out == np.round(out)) & (out >= 0)))
        raise ValueError(
            f"{path}, line {bad + 2}, column {column!r}: counts are whole numbers >= 0, "
            f"got {values[bad]!r}"
        )
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _trajectories(path, columns) -> tuple[np.ndarray, list[np.ndarray]]:
    """The trajectory ids in order of appearance and the row indices of each."""
    ids = columns["trajectory"]
    order: dict[str, list[int]] = {}
    for i, v in enumerate(ids):
        order.setdefault(v, []).append(i)
    for rows in order.values():
        if any(b != a + 1 for a, b in zip(rows, rows[1:], strict=False)):
            raise ValueError(f"{path}: the rows of trajectory {ids[rows[0]]!r} are not together")
    return np.array(list(order)), [np.asarray(r) for r in order.values()]


def observed_species(
    path, columns: dict[str, list[str]], network: ReactionNetwork, besides: Sequence[str]
) -> tuple[str, ...]:
    """The columns other than ``besides``: observed species of ``network``.

    Raises:
        ValueError: naming the file, for no such column or a column that is no species.
    """
    observed = tuple(c for c in columns if c not in besides)
    if not observed:
        raise ValueError(f"{path}: no observed species column besides {', '.join(besides)}")
    unknown = [c for c in observed if c not in network.species]
    if unknown:
        raise ValueError(f"{path}: columns {unknown} are not species of the network "
                         f"{list(network.species)}")
    return observed


def read_paths(path: str | pathlib.Path, network: ReactionNetwork) -> SimulationResults:
    """Complete paths from a CSV file, as event-list results of ``network``.

    Raises:
        ValueError: for a missing species column, decreasing times, a change of state that
            matches no reaction or several (without a ``reaction`` column), or an unknown
            reaction name, naming the file and line.
    """
    columns = read_table(path, ["trajectory", "time", *network.species])
    return paths_from_table(columns, network, source=str(path))


def paths_from_table(
    columns: dict[str, list[str]], network: ReactionNetwork, *, source: str = "data"
) -> SimulationResults:
    """Complete paths from CSV columns (see :func:`read_paths`)."""
    time = _numbers(source, "time", columns["time"])
    x = np.stack(
        [_numbers(source, s, columns[s], integer=True) for s in network.species], axis=1
    )
    names = columns.get("reaction")
    labels = [r.label for r in network.reactions]
    stoichiometry = np.asarray(network.stoichiometry, np.float64)  # (n_reactions, n_species)
    _, groups = _trajectories(source, columns)
    paths = []
    for rows in groups:
        t, states = time[rows], x[rows]
        if np.any(np.diff(t) < 0):
            bad = rows[1 + int(np.argmax(np.diff(t) < 0))]
            raise ValueError(f"{source}, line {bad + 2}: time decreases within a trajectory")
        changes = np.diff(states, axis=0)
        reactions = []
        end = len(rows) - 1
        for k, change in enumerate(changes):
            line = rows[k + 1] + 2
            if not change.any():
                if k == len(changes) - 1:
                    end = k  # the end-of-observation row
                    break
                raise ValueError(f"{source}, line {line}: no change of state before the end")
            if names is not None and names[rows[k + 1]]:
                name = names[rows[k + 1]]
                try:
                    r = network.reaction_index(name)
                except ValueError as error:
                    raise ValueError(f"{source}, line {line}: {error}") from None
                if not np.array_equal(stoichiometry[r], change):
                    raise ValueError(
                        f"{source}, line {line}: the change {change.astype(int).tolist()} is "
                        f"not that of reaction {name!r}"
                    )
            else:
                matches = np.flatnonzero(np.all(stoichiometry == change, axis=1))
                if len(matches) != 1:
                    what = "no reaction" if not len(matches) else (
                        "several reactions (" + ", ".join(labels[m] for m in matches)
                        + "): add a 'reaction' column"
                    )
                    raise ValueError(
                        f"{source}, line {line}: the change {change.astype(int).tolist()} "
                        f"matches {what}"
                    )
                r = int(matches[0])
            reactions.append(r)
        paths.append((t[: end + 1], states[: end + 1], np.asarray(reactions, np.int32), t[-1]))
    return _as_results(paths, network)


def _as_results(paths, network: ReactionNetwork) -> SimulationResults:
    """Padded event-list results from ``(times, states, reactions, t_end)`` per path."""
    steps = max(len(r) for _, _, r, _ in paths) + 1
    n, s = len(paths), network.n_species
    x = np.zeros((n, steps + 1, s), np.int32)
    t = np.zeros((n, steps + 1), np.float32)
    reactions = np.full((n, steps), PADDING, np.int32)
    for i, (times, states, fired, t_end) in enumerate(paths):
        m = len(fired)
        x[i, : m + 1], x[i, m + 1 :] = states, states[-1]
        t[i, : m + 1], t[i, m + 1 :] = times, t_end
        reactions[i, :m] = fired
    return SimulationResults(
        x=jnp.asarray(x),
        t=jnp.asarray(t),
        reactions=jnp.asarray(reactions),
        overflow=jnp.zeros(n, bool),
        n_steps=jnp.asarray([len(r) for _, _, r, _ in paths], jnp.int32),
        t1=jnp.asarray(t[:, -1]),
        species=network.species,
    )


class TimeSeries(NamedTuple):
    """Observed time series, padded to a common length.

    Attributes:
        times: ``(n_series, n_times)`` observation times (padding repeats the last time).
        values: ``(n_series, n_times, n_observed)`` observed values.
        mask: ``(n_series, n_times)`` True for real observations.
        observed: The observed species.
    """

    times: np.ndarray
    values: np.ndarray
    mask: np.ndarray
    observed: tuple[str, ...]


def read_timeseries(path: str | pathlib.Path, network: ReactionNetwork) -> TimeSeries:
    """Time series from a CSV file: ``trajectory``, ``time`` and observed species columns.

    Raises:
        ValueError: for no species column, an unknown species column, decreasing times or a
            non-number, naming the file and line.
    """
    columns = read_table(path, ["trajectory", "time"])
    observed = observed_species(path, columns, network, ("trajectory", "time"))
    time = _numbers(path, "time", columns["time"])
    values = np.stack([_numbers(path, c, columns[c]) for c in observed], axis=1)
    _, groups = _trajectories(path, columns)
    length = max(len(rows) for rows in groups)
    n = len(groups)
    times = np.zeros((n, length))
    ys = np.zeros((n, length, len(observed)))
    mask = np.zeros((n, length), bool)
    for i, rows in enumerate(groups):
        if np.any(np.diff(time[rows]) < 0):
            raise ValueError(f"{path}: time decreases in trajectory {i}")
        m = len(rows)
        times[i, :m], times[i, m:] = time[rows], time[rows][-1]
        ys[i, :m] = values[rows]
        mask[i, :m] = True
    return TimeSeries(times, ys, mask, observed)
