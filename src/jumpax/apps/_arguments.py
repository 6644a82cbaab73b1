"""Argument checks shared by the ``jumpax`` sub-commands.

Every value is checked when the command line is parsed, before anything runs: the ``argparse``
types below raise :class:`argparse.ArgumentTypeError` with a message that says what was
expected, and ``argparse`` reports it as ``jumpax CMD: error: argument --NAME: MESSAGE`` (exit
status 2). Checks that need several arguments or a file's contents raise :class:`UsageError`
from the command itself, before any simulation; :func:`jumpax.apps.cli.main` reports those the
same way.
"""

from __future__ import annotations

import argparse
import math
import os
import pathlib
from collections.abc import Callable

__all__ = [
    "MAX_SEED",
    "UsageError",
    "image_file",
    "output_dir",
    "output_file",
    "positive_float",
    "positive_float_list",
    "integer_at_least",
    "positive_int",
    "seed",
]

MAX_SEED = 2**32 - 1
"""The largest ``--seed``: JAX keys keep 32 bits of the seed, so larger seeds would repeat."""


class UsageError(ValueError):
    """A bad command-line argument found by a command before it runs; the message names it."""


def integer_at_least(minimum: int, *, even: bool = False) -> Callable[[str], int]:
    """An ``argparse`` type: an integer of at least ``minimum`` (and even, with ``even``)."""
    if minimum == 1 and not even:
        wanted = "a positive integer"
    else:
        wanted = f"{'an even' if even else 'an'} integer >= {minimum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
        if value < minimum or (even and value % 2):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text}")
        return value

    return parse


positive_int = integer_at_least(1)
"""An ``argparse`` type: an integer of at least 1."""


def positive_float(text: str) -> float:
    """An ``argparse`` type: a finite number greater than 0 (a time or a time step)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite positive number, got {text}")
    return value


def positive_float_list(text: str) -> list[float]:
    """An ``argparse`` type: comma-separated finite positive numbers, e.g. ``1,2.5,10``."""
    values = [v for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive numbers, got {text!r}")
    return [positive_float(v) for v in values]


def seed(text: str) -> int:
    """An ``argparse`` type: a PRNG seed, an integer from 0 to :data:`MAX_SEED`."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to {MAX_SEED}, got {text!r}")
    return value


def output_file(*suffixes: str) -> Callable[[str], pathlib.Path]:
    """An ``argparse`` type for a file to write, with one of ``suffixes`` (e.g. ``".csv"``).

    The file's folder must exist and be writable, and the path must not be a folder, so that a
    long run never fails at the end for want of a place to write.
    """

    def check(text: str) -> pathlib.Path:
        return _check_output_file(text, suffixes)

    check.__name__ = "output file"
    return check


def image_file(text: str) -> pathlib.Path:
    """An ``argparse`` type for an image to write, in a format matplotlib knows (``.png``, ...)."""
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    preferred = [f".{f}" for f in ("png", "pdf", "svg") if f in formats]
    others = sorted(f".{f}" for f in formats if f".{f}" not in preferred)
    return _check_output_file(text, (*preferred, *others), ignore_case=True)


def output_dir(text: str) -> pathlib.Path:
    """An ``argparse`` type for a folder to write into, created if missing."""
    path = pathlib.Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a folder")
    existing = next(p for p in (path.absolute(), *path.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write into {text}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write into {text}: {existing} is not writable")
    return path


def _check_output_file(
    text: str, suffixes: tuple[str, ...], *, ignore_case: bool = False
) -> pathlib.Path:
    path = pathlib.Path(text)
    if (path.suffix.lower() if ignore_case else path.suffix) not in suffixes:
        kind = f"unknown extension {path.suffix!r}" if path.suffix else "no extension"
        raise argparse.ArgumentTypeError(f"{text} has {kind}; use one of {', '.join(suffixes)}")
    folder = path.parent
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise argparse.ArgumentTypeError(f"cannot write {text}: folder {folder} {problem}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text}: folder {folder} is not writable")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {text}: it is a folder")
    return path
