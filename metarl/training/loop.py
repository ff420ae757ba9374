"""The training loop every agent shares: run directory, progress bar, logging, checkpoints, resume.

An agent subclasses :class:`Trainer` and writes one training iteration plus its state; the loop does
the rest the same way for all agents. A run interrupted at any point resumes from its last checkpoint
and, on CPU with the same seed, logs exactly the scalars an uninterrupted run logs.
"""

from __future__ import annotations

import abc
import dataclasses
import math
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, ClassVar

import torch
from tqdm.auto import tqdm

from metarl.checks import resolve_device
from metarl.errors import CheckpointError, ConfigError, TrainingError
from metarl.training.checkpoint import load_checkpoint, resolve_checkpoint_path, save_checkpoint
from metarl.training.config import build_config, check_ranges, config_dict
from metarl.training.logger import RunLogger

CHECKPOINT_FILE = "checkpoint.pt"
RESUME_OVERRIDES = {"total_steps", "device", "checkpoint_every"}
"""Config keys that may change when a run is resumed; the others are the run's identity."""


BEST_FILE = "best.pt"
"""The checkpoint of the best validation score, beside the last one, for agents with ``keep_best``."""


@dataclasses.dataclass
class TrainConfig:
    """Settings every agent has. Agents' config dataclasses extend this one."""

    seed: int = 0
    device: str = "auto"
    total_steps: int = 1_000_000
    logdir: str = "runs"
    run_name: str | None = None
    checkpoint_every: int = 25

    def __post_init__(self) -> None:
        check_ranges(self, at_least={"total_steps": 1, "checkpoint_every": 1})
        resolve_device(self.device)


class Trainer(abc.ABC):
    """Base class of agent trainers: subclasses implement :meth:`train_iteration` and the state.

    Example:
        >>> from metarl.agents.rl2 import RL2Config, RL2Trainer
        >>> trainer = RL2Trainer(RL2Config(total_steps=20_000))
        >>> checkpoint = trainer.fit()  # doctest: +SKIP
    """

    agent: ClassVar[str] = ""
    config_type: ClassVar[type[TrainConfig]] = TrainConfig

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        self.iteration = 0
        self.global_step = 0
        self.run_dir: Path | None = None
        self.best = math.inf
        """The best validation score so far, for agents with ``keep_best`` (:meth:`keep_if_best`)."""
        self._resumed = False

    # ------------------------------------------------------------------ what agents implement
    @abc.abstractmethod
    def train_iteration(self) -> dict[str, float]:
        """Collect and learn once; advance ``self.global_step``; return the scalars to log."""

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: model, optimizer, env and generator states."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def run_label(self) -> str:
        """``<family>__<agent>`` part of the default run directory name."""
        return self.agent

    def figures(self) -> dict[str, Any]:
        """Matplotlib figures to log now (called every ``checkpoint_every`` iterations)."""
        return {}

    def headline(self, scalars: dict[str, float]) -> str:
        """A short text for the progress bar."""
        return ""

    def evaluation_report(self, trials: int, split: str, seed: int, greedy: bool = False) -> list[str]:
        """Lines that ``metarl eval`` prints: the agent on held-out tasks beside its baselines."""
        raise ConfigError(f"agent {self.agent!r} has no evaluation")

    metrics: ClassVar[tuple[str, ...]] = ()
    """Scalar tags shown against the hyperparameters in TensorBoard's HPARAMS tab."""

    # ------------------------------------------------------------------ the loop
    @property
    def checkpoint_path(self) -> Path:
        assert self.run_dir is not None
        return self.run_dir / CHECKPOINT_FILE

    def prepare_run_dir(self) -> Path:
        """The run directory: the resumed run's, or a new ``<logdir>/<family>__<agent>__<seed>__<time>``."""
        if self.run_dir is not None:
            return self.run_dir
        name = self.config.run_name or f"{self.run_label()}__{self.config.seed}__{time.strftime('%Y%m%d-%H%M%S')}"
        path = Path(self.config.logdir) / name
        suffix = 1
        while (path / CHECKPOINT_FILE).exists():
            path = Path(self.config.logdir) / f"{name}-{suffix}"
            suffix += 1
        self.run_dir = path
        return path

    def save(self, path: Path | None = None, iteration: int | None = None) -> Path:
        """Write the checkpoint (to ``path``, default the run's ``checkpoint.pt``) atomically; returns its path."""
        path = self.checkpoint_path if path is None else path
        save_checkpoint(path, agent=self.agent, config=config_dict(self.config),
                        progress={"iteration": self.iteration if iteration is None else iteration,
                                  "global_step": self.global_step},
                        state=self.state_dict())
        return path

    def keep_if_best(self, value: float, higher_is_better: bool) -> None:
        """Make ``value`` the trainer's ``best`` and save the state as ``best.pt`` (:data:`BEST_FILE`) when it beats it.

        Called from inside :meth:`train_iteration`, so the saved counters are those after this iteration and
        ``metarl eval RUN/best.pt`` or ``resume`` continue from it like from any checkpoint. The trainer keeps
        ``self.best`` in its :meth:`state_dict`.
        """
        better = value > self.best if higher_is_better else value < self.best
        if not (math.isfinite(value) and better):
            return
        self.best = value
        self.save(self.prepare_run_dir() / BEST_FILE, iteration=self.iteration + 1)

    @classmethod
    def resume(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> Trainer:
        """The trainer saved at ``path`` (a checkpoint or run directory), ready to continue with :meth:`fit`."""
        path = resolve_checkpoint_path(path)
        payload = load_checkpoint(path, agent=cls.agent)
        changed = sorted(set(overrides or {}) - RESUME_OVERRIDES)
        if changed:
            raise ConfigError(f"cannot change {', '.join(changed)} when resuming; only {sorted(RESUME_OVERRIDES)} "
                              "may change (start a new run for the others)")
        trainer = cls(build_config(cls.config_type, payload["config"], overrides))
        try:
            trainer.load_state_dict(payload["state"])
        except (KeyError, RuntimeError, ValueError) as exc:  # parameters or state that this version does not have
            detail = textwrap.shorten(str(exc), 300, placeholder=" ...") or type(exc).__name__
            raise CheckpointError(f"{path} does not fit this version of the {cls.agent} agent ({detail}); "
                                  "resume it with the metarl version that wrote it, or start a new run") from exc
        trainer.iteration = int(payload["progress"]["iteration"])
        trainer.global_step = int(payload["progress"]["global_step"])
        trainer.run_dir = path.parent
        trainer._resumed = True
        return trainer

    def fit(self, max_iterations: int | None = None, progress: bool = True, max_seconds: float | None = None) -> Path:
        """Train to ``total_steps`` (or ``max_iterations`` more iterations, or ``max_seconds``); return the checkpoint.

        Checkpoints every ``checkpoint_every`` iterations and at the end. A non-finite loss raises
        :class:`TrainingError` and leaves the last checkpoint as it was.
        """
        self.prepare_run_dir()
        logger = RunLogger(self.run_dir, resume_step=self.global_step if self._resumed else None)
        if not self._resumed:
            logger.hparams(config_dict(self.config), list(self.metrics))
            self._resumed = True  # a second fit() on this object continues the same run
        bar = tqdm(total=self.config.total_steps, initial=self.global_step, unit="step", unit_scale=True,
                   disable=not progress, dynamic_ncols=True, desc=self.agent,
                   mininterval=0.1 if sys.stderr.isatty() else 30.0)  # logs piped to a file stay short
        done, saved_at, began = 0, None, time.perf_counter()

        def more() -> bool:
            return (self.global_step < self.config.total_steps and (max_iterations is None or done < max_iterations)
                    and (max_seconds is None or time.perf_counter() - began < max_seconds))

        try:
            while more():
                start, before = time.perf_counter(), self.global_step
                try:
                    scalars = self.train_iteration()
                except TrainingError as exc:
                    raise TrainingError(f"{exc} at iteration {self.iteration + 1}; {self._last_checkpoint_note()}") \
                        from exc
                self.iteration += 1
                done += 1
                seconds = time.perf_counter() - start
                scalars["perf/steps_per_second"] = (self.global_step - before) / max(seconds, 1e-9)
                logger.scalars(scalars, self.global_step)
                if self.iteration % self.config.checkpoint_every == 0:
                    for tag, figure in self.figures().items():
                        logger.figure(tag, figure, self.global_step)
                    self.save()
                    saved_at = self.iteration
                bar.update(self.global_step - before)
                bar.set_postfix_str(self.headline(scalars), refresh=False)
            if saved_at != self.iteration:
                for tag, figure in self.figures().items():
                    logger.figure(tag, figure, self.global_step)
                self.save()
        except KeyboardInterrupt:
            bar.close()
            print(f"\ninterrupted at iteration {self.iteration}; {self._last_checkpoint_note()}")
            raise
        finally:
            bar.close()
            logger.close()
        return self.checkpoint_path

    def _last_checkpoint_note(self) -> str:
        if self.checkpoint_path.exists():
            return f"the last checkpoint {self.checkpoint_path} is intact (resume with --resume {self.checkpoint_path})"
        return "no checkpoint was written yet"


def check_finite(name: str, value: torch.Tensor) -> None:
    """Raise :class:`TrainingError` if ``value`` is NaN or infinite (one host sync)."""
    number = float(value.detach())
    if not math.isfinite(number):
        raise TrainingError(f"{name} is {number}: training stopped before the update; lower the learning rate "
                            "or check the rewards for NaN")
