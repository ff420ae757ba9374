"""Durable, atomic file writes: what checkpoints, logs, caches and benchmark results all rely on.

A file written with :func:`write_atomically` is complete or absent, never half written, even when the process
is killed or the machine loses power: the bytes go to a temporary file beside the target, are fsynced, and the
temporary file is renamed over the target, after which the folder is fsynced too.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "result.json"
    >>> write_atomically(path, b'{"steps": 1}')
    >>> path.read_text()
    '{"steps": 1}'
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: str | os.PathLike, data: bytes | memoryview) -> None:
    """Replace ``path`` with ``data`` (creating its folder): a reader sees the old content or the new, never a mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def fsync_file(path: str | os.PathLike) -> None:
    """Make what was written to ``path`` (by any open handle) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(path: str | os.PathLike) -> None:
    """Make a rename or a new file in directory ``path`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
