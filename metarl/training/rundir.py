"""Run directories: one training process at a time, and forks of a run from one of its earlier checkpoints.

A run's history is never rewritten by a second process or from an old checkpoint: training takes
an exclusive lock on the run directory (:class:`RunLock`), and continuing from a file other than
the run's latest ``checkpoint.pt`` (such as ``best.pt``) starts a new run directory beside it
(:func:`fork_destination`) that inherits the history up to that checkpoint.
"""

from __future__ import annotations

import os
from pathlib import Path

from metarl.errors import TrainingError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, runs are not guarded
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".lock"
"""File in the run directory that a training process holds locked (it records the process id)."""


class RunLock:
    """An exclusive lock on ``run_dir`` while this process trains in it; the kernel drops it if the process dies.

    Example:
        >>> import tempfile
        >>> tmp = tempfile.TemporaryDirectory()
        >>> lock = RunLock(tmp.name)  # a second RunLock(tmp.name), in any process, raises TrainingError now
        >>> lock.release()
    """

    def __init__(self, run_dir: str | Path) -> None:
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is None:
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(self._fd, 32).decode(errors="replace").strip() or "unknown"
            self.release()
            raise TrainingError(f"{run_dir} is being trained by another process (pid {holder}); wait for it to end "
                                "or stop it, then resume the run") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None


def fork_destination(source: Path, iteration: int, logdir: str | None = None, run_name: str | None = None) -> Path:
    """A new run directory for a fork of ``source`` (a checkpoint file) at ``iteration``, not yet existing.

    Default: ``<source run>__from-<file stem>-it<iteration>`` beside the source run; ``logdir`` and ``run_name``
    choose another place or name. A suffix ``-1``, ``-2``, ... avoids existing directories.
    """
    run = source.resolve().parent
    parent = Path(logdir) if logdir else run.parent
    name = run_name or f"{run.name}__from-{source.stem}-it{iteration}"
    path, suffix = parent / name, 1
    while path.exists():
        path, suffix = parent / f"{name}-{suffix}", suffix + 1
    return path


def file_identity(path: Path) -> tuple[int, int, int] | None:
    """(inode, mtime, size) of ``path``, or None: every atomic save gives a checkpoint a new identity."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size
