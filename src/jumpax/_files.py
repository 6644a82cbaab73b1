"""Whole files or none: every file jumpax writes goes through :func:`atomic_write`.

A writer interrupted half-way (Ctrl-C, a full disk, an exception in the writer) must not leave a
truncated CSV that still parses or a corrupt archive under the name the user asked for. So each
file is written to a temporary file in the same folder, flushed to disk, and renamed onto its
name with :func:`os.replace` (atomic on POSIX and Windows): readers see the previous file or the
whole new one, never part of one.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import secrets
import stat
from collections.abc import Iterator

__all__ = ["atomic_write", "recording_writes"]

_recorders: list[list[pathlib.Path]] = []
"""The lists opened by :func:`recording_writes`; each gets every path written while it is open."""


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[pathlib.Path]:
    """Yields a temporary path to write; moves it onto ``path`` when the block succeeds.

    The temporary file is hidden, lies in the folder of ``path`` (so the final rename is atomic)
    and ends in the suffix of ``path`` (so writers that choose a format by extension, such as
    :func:`numpy.savez_compressed` or :meth:`matplotlib.figure.Figure.savefig`, see the right
    one). It is created empty, with the permissions ``path`` has (or would get), and the block
    writes it by name. If the block raises anything, ``KeyboardInterrupt`` included, the
    temporary file is removed and ``path`` is left as it was.

    Args:
        path: the file to write.

    Yields:
        The temporary path to write to.

    Raises:
        OSError: if the temporary file cannot be created or moved (e.g. a missing folder).
    """
    path = pathlib.Path(path)
    temporary = _create_temporary(path)
    try:
        yield temporary
        descriptor = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(descriptor)  # the data is on disk before the name points to it
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    for record in _recorders:
        record.append(path)


def _create_temporary(path: pathlib.Path) -> pathlib.Path:
    """Creates a new empty file ``.NAME.XXXXXXXX.tmpSUFFIX`` next to ``path``."""
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp{path.suffix}")
        try:
            # 0o666 less the umask: the permissions a plain open(path, "w") would give.
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        break
    try:
        os.chmod(temporary, stat.S_IMODE(os.stat(path).st_mode))  # replacing keeps the mode
    except FileNotFoundError:
        pass
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


@contextlib.contextmanager
def recording_writes() -> Iterator[list[pathlib.Path]]:
    """Yields a list that collects every path :func:`atomic_write` completes inside the block.

    The command line uses it to say, when interrupted, which files it had already written.
    """
    record: list[pathlib.Path] = []
    _recorders.append(record)
    try:
        yield record
    finally:
        del _recorders[next(i for i, r in enumerate(_recorders) if r is record)]
