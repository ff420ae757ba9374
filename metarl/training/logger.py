"""Run logging: TensorBoard event files plus a ``scalars.jsonl`` mirror that scripts and tests can read.

Tags follow one convention across agents: ``charts/`` (returns), ``adaptation/`` (return per inner
episode or gradient step), ``losses/``, ``perf/`` (throughput, learning rate), and an hparams entry.
On resume, whatever the interrupted run logged after its last checkpoint is discarded from both
(:func:`~metarl.training.history.cut_history`), and :meth:`RunLogger.sync` makes the logs durable before
each checkpoint, so a run killed at any moment resumes with every step logged exactly once.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams as hparams_summary

from metarl.files import fsync_file
from metarl.training.history import SCALARS_FILE, cut_history, event_files, read_jsonl_rows


class RunLogger:
    """Writes scalars, figures and hyperparameters of one run to ``logdir``.

    Example:
        >>> import pathlib, tempfile
        >>> tmp = tempfile.TemporaryDirectory(); run_dir = pathlib.Path(tmp.name) / "run"
        >>> log = RunLogger(run_dir)
        >>> log.scalars({"charts/trial_return": 1.0}, step=100)
        >>> log.close()
        >>> import json
        >>> [json.loads(line) for line in (run_dir / SCALARS_FILE).read_text().splitlines()]
        [{'step': 100, 'charts/trial_return': 1.0}]
    """

    def __init__(self, logdir: str | Path, resume_step: int | None = None) -> None:
        """Log into ``logdir``; ``resume_step`` keeps the history up to that step, None starts the logs afresh."""
        self.logdir = Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        cut_history(self.logdir, self.logdir, -1 if resume_step is None else resume_step)
        self.writer = SummaryWriter(str(self.logdir))
        self._file = (self.logdir / SCALARS_FILE).open("a")

    def scalars(self, values: dict[str, float], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)
        row = {"step": step, **{k: (v if math.isfinite(v) else str(v)) for k, v in values.items()}}
        self._file.write(json.dumps(row) + "\n")

    def figure(self, tag: str, figure: Any, step: int) -> None:
        self.writer.add_figure(tag, figure, step)

    def hparams(self, params: dict[str, Any], metrics: list[str]) -> None:
        """Record the run's hyperparameters (flattened) against the named metric tags in the HPARAMS tab."""
        flat = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in _flatten(params).items()}
        experiment, session_start, session_end = hparams_summary(flat, {m: math.nan for m in metrics})
        file_writer = self.writer._get_file_writer()
        for summary in (experiment, session_start, session_end):
            file_writer.add_summary(summary)

    def flush(self) -> None:
        self.writer.flush()
        self._file.flush()

    def sync(self) -> None:
        """Flush both logs and fsync them, so that a checkpoint saved next never covers a step the logs lost."""
        self.flush()
        os.fsync(self._file.fileno())
        for path in event_files(self.logdir):
            fsync_file(path)

    def close(self) -> None:
        self.writer.close()
        self._file.close()


def _flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def read_scalars(logdir: str | Path) -> list[dict[str, Any]]:
    """The rows of a run's ``scalars.jsonl``: one dict per logging call, with its ``step``."""
    return read_jsonl_rows(Path(logdir) / SCALARS_FILE)
