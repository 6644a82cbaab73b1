"""Simulation settings files of the SBML Test Suite (``*-settings.txt``)."""

from __future__ import annotations

import dataclasses
import math
import os
import pathlib

import numpy as np

from ._load import _read_file


@dataclasses.dataclass(frozen=True)
class SimulationSettings:
    """A simulation request in the SBML Test Suite's ``*-settings.txt`` format.

    Attributes:
        start: the start time.
        duration: the simulated duration.
        steps: the number of output intervals (``steps + 1`` output times).
        variables: the species to report.
        amount: the species to report as amounts.
        concentration: the species to report as concentrations.
        absolute: the absolute tolerance of the suite's comparison, if given.
        relative: the relative tolerance of the suite's comparison, if given.
    """

    start: float
    duration: float
    steps: int
    variables: tuple[str, ...]
    amount: tuple[str, ...]
    concentration: tuple[str, ...]
    absolute: float | None = None
    relative: float | None = None

    @property
    def t0(self) -> float:
        """The start time."""
        return self.start

    @property
    def t1(self) -> float:
        """The end time."""
        return self.start + self.duration

    @property
    def save_at(self) -> np.ndarray:
        """The ``steps + 1`` equally spaced output times from :attr:`t0` to :attr:`t1`."""
        return np.linspace(self.t0, self.t1, self.steps + 1)


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def load_settings(path: str | os.PathLike) -> SimulationSettings:
    """Reads an SBML Test Suite settings file (``start:``, ``duration:``, ``steps:``, ...).

    Args:
        path: the settings file.

    Raises:
        FileNotFoundError: for a missing file.
        ValueError: for a path that is not a regular file (see :func:`jumpax.load_sbml`), a
            file that is not UTF-8 text, a line that is not ``key: value``, missing or
            invalid ``start``, ``duration`` or ``steps``, or an invalid tolerance.
    """
    try:
        text = _read_file(pathlib.Path(path)).decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: settings files must be UTF-8 encoded: {error}") from None
    entries = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"{path}, line {number}: expected 'key: value', got {line!r}")
        entries[key.strip()] = value.strip()
    try:
        start, duration = float(entries["start"]), float(entries["duration"])
        steps = int(entries["steps"])
    except (KeyError, ValueError) as error:
        raise ValueError(f"{path}: missing or invalid start, duration or steps ({error})") from None
    if not (math.isfinite(start) and 0 < duration < math.inf and steps > 0):
        raise ValueError(f"{path}: need a finite start, a finite duration > 0 and steps > 0")
    tolerances = {}
    for key in ("absolute", "relative"):
        if entries.get(key):
            try:
                tolerances[key] = float(entries[key])
            except ValueError:
                raise ValueError(f"{path}: invalid {key} tolerance {entries[key]!r}") from None
            if not 0 <= tolerances[key] < math.inf:
                raise ValueError(f"{path}: the {key} tolerance must be finite and >= 0")
    return SimulationSettings(
        start=start,
        duration=duration,
        steps=steps,
        variables=_names(entries.get("variables", "")),
        amount=_names(entries.get("amount", "")),
        concentration=_names(entries.get("concentration", "")),
        **tolerances,
    )


def find_settings(model_path: str | os.PathLike) -> SimulationSettings | None:
    """The settings file beside a model in the SBML Test Suite layout, if there is one.

    For ``00001-sbml-l3v2.xml`` that is ``00001-settings.txt`` in the same folder.

    Args:
        model_path: the SBML file.

    Returns:
        The settings, or ``None`` if there is no such file.
    """
    path = pathlib.Path(model_path)
    prefix = path.name.split("-sbml")[0] if "-sbml" in path.name else path.stem
    candidate = path.with_name(f"{prefix}-settings.txt")
    return load_settings(candidate) if candidate.is_file() else None

