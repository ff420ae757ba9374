r"""A run's logged history cut back to a checkpoint's step, so every step is logged exactly once.

A run interrupted after its last checkpoint has logged steps that the checkpoint does not cover;
the resumed run logs them again. TensorBoard's ``purge_step`` only marks such records for readers
to skip, and a reader that counts records still sees both copies, so the history is rewritten
instead: ``scalars.jsonl`` keeps its rows up to the step, and the TensorBoard event files become one
file holding each (tag, step) record up to the step once. Both are written to a temporary file,
fsynced and renamed into place. A torn last line or record (a process killed while writing) is
dropped.

Example:
    >>> import pathlib, tempfile
    >>> tmp = tempfile.TemporaryDirectory(); run = pathlib.Path(tmp.name)
    >>> _ = (run / SCALARS_FILE).write_text('{"step": 1}\n{"step": 2}\n{"step": 3}\n{"st')  # torn last line
    >>> cut_history(run, run, last_step=2)
    >>> read_jsonl_rows(run / SCALARS_FILE)
    [{'step': 1}, {'step': 2}]
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from metarl.files import fsync_directory, write_atomically

SCALARS_FILE = "scalars.jsonl"


def event_files(run_dir: str | Path) -> list[Path]:
    """The TensorBoard event files directly in ``run_dir``, in the order readers take them (by name)."""
    return sorted(p for p in Path(run_dir).glob("events.out.tfevents.*") if p.is_file())


def read_events(path: str | Path) -> Iterator[Any]:
    """The ``Event`` protos of one event file, stopping quietly at a torn last record."""
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto import event_pb2

    for raw in RawEventFileLoader(str(path)).Load():
        yield event_pb2.Event.FromString(raw)


def read_jsonl_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``scalars.jsonl``, without a torn (unparsable) line."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int):
            rows.append(row)
    return rows


def cut_history(source: str | Path, target: str | Path, last_step: int) -> None:
    """Write into ``target`` the history of the run in ``source`` up to ``last_step`` (inclusive), each step once.

    ``source`` may be ``target`` (a resume: the run's own logs are cut back) or another run's directory (a
    fork: the new run starts with the history it inherits). ``last_step < 0`` leaves no history.
    """
    source, target = Path(source), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    rows = [row for row in read_jsonl_rows(source / SCALARS_FILE) if row["step"] <= last_step]
    if rows or (target / SCALARS_FILE).exists():
        write_atomically(target / SCALARS_FILE, "".join(json.dumps(row) + "\n" for row in rows).encode())
    files = event_files(source)
    old = event_files(target)
    if files:
        write_atomically(target / files[0].name, _encode(_kept_events(files, last_step)))
    for path in old:
        if not files or path.name != files[0].name:
            path.unlink()
    fsync_directory(target)


def _kept_events(files: list[Path], last_step: int) -> list[Any]:
    """The events of ``files`` up to ``last_step``: the first file-version record, each (tag, step) value once.

    Restart marks (``session_log``) are dropped: with each step logged once there is nothing for readers to skip.
    """
    kept, seen, has_version = [], set(), False
    for path in files:
        for event in read_events(path):
            if event.HasField("file_version"):
                if not has_version:
                    kept.append(event)
                    has_version = True
            elif event.HasField("session_log") or event.step > last_step:
                continue
            elif event.HasField("summary"):
                fresh = [v for v in event.summary.value if (v.tag, event.step) not in seen]
                seen.update((v.tag, event.step) for v in fresh)
                if fresh:
                    del event.summary.value[:]
                    event.summary.value.extend(fresh)
                    kept.append(event)
            else:
                kept.append(event)
    return kept


def _encode(events: list[Any]) -> bytes:
    import io

    from tensorboard.summary.writer.record_writer import RecordWriter

    buffer = io.BytesIO()
    writer = RecordWriter(buffer)
    for event in events:
        writer.write(event.SerializeToString())
    return buffer.getvalue()


