"""The training loop every agent shares: run directory, progress bar, logging, checkpoints, resume.

An agent subclasses :class:`Trainer` and writes one training iteration plus its state; the loop does
the rest the same way for all agents. A run interrupted at any point, even by ``kill -9``, resumes from
its last checkpoint and, on CPU with the same seed, logs exactly the scalars an uninterrupted run logs,
each step once. Nothing is lost: a run directory is trained by one process at a time, a run's history
is never rewritten (resuming from ``best.pt`` forks a new run), checkpoints are checksummed, and a run
that collapses says so and keeps its last checkpoint and ``best.pt``.
"""

from __future__ import annotations

import abc
import dataclasses
import math
import shutil
import sys
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch
from tqdm.auto import tqdm

from metarl.checks import resolve_device
from metarl.errors import CheckpointError, ConfigError, TrainingError
from metarl.random import stream_seed
from metarl.training.checkpoint import load_checkpoint, resolve_checkpoint_path, save_checkpoint
from metarl.training.config import build_config, check_ranges, config_dict
from metarl.training.health import (
    GROWTH_LIMIT,
    TrainingCollapsed,
    check_finite,
    parameter_collapse,
    parameter_rms,
    parameters_of,
    validation_collapse,
)
from metarl.training.history import cut_history
from metarl.training.logger import RunLogger
from metarl.training.parallel import Parallel, PeerLost, current
from metarl.training.resume import FORK_OVERRIDES, RESUME_OVERRIDES, data_mismatches, resume_overrides
from metarl.training.rundir import RunLock, file_identity, fork_destination

CHECKPOINT_FILE = "checkpoint.pt"
__all__ = ["BEST_FILE", "CHECKPOINT_FILE", "RESUME_OVERRIDES", "TrainConfig", "Trainer", "TrainingCollapsed",
           "check_finite", "stream_seed"]

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

    ``trainer.fit()`` trains it and returns the checkpoint's path; under ``torchrun`` every process builds the same
    trainer and ``trainer.parallel`` says which share of the global batch is its own.

    Example:
        >>> from metarl.agents.rl2 import RL2Config, RL2Trainer
        >>> trainer = RL2Trainer(RL2Config(total_steps=20_000, num_envs=8))
        >>> trainer.parallel.size, trainer.part  # one process: all 8 environments
        (1, slice(0, 8, None))
    """

    agent: ClassVar[str] = ""
    config_type: ClassVar[type[TrainConfig]] = TrainConfig

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        self.parallel: Parallel = current()
        """This process's place among the data-parallel processes (:mod:`metarl.training.parallel`)."""
        if self.parallel.active and not self.data_parallel:
            raise ConfigError(f"the {self.agent} agent does not train data-parallel; run it as one process (without "
                              "torchrun)")
        self.iteration = 0
        self.global_step = 0
        self.run_dir: Path | None = None
        self.best = math.inf
        """The best validation score so far (:meth:`keep_if_best`)."""
        self.data_mismatch: list[str] = []
        """Data settings that differ from those the resumed run was trained with (:meth:`data_settings`)."""
        self._resumed = False
        self._fork_source: Path | None = None
        self._checkpoint_seen: tuple[int, int, int] | None = None
        self._best_pending = False
        self._reference_rms: float | None = None

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

    def adaptive_agent(self, greedy: bool = False, seed: int = 0) -> Any:
        """The trained agent as a :class:`metarl.protocols.AdaptiveAgent`, which ``metarl eval --protocol`` runs."""
        raise ConfigError(f"agent {self.agent!r} cannot be run by an evaluation protocol (it offers no adaptive "
                          "agent: see metarl.protocols.AdaptiveAgent)")

    data_parallel: ClassVar[bool] = False
    """Whether the trainer splits its global batch between data-parallel processes (:mod:`metarl.training.parallel`)
    and equals one process with the same config."""

    metrics: ClassVar[tuple[str, ...]] = ()
    """Scalar tags shown against the hyperparameters in TensorBoard's HPARAMS tab."""

    seed_streams: ClassVar[Mapping[str, int]] = {}
    """The agent's named random streams that keep their original seeds: name -> offset added to the seed.

    This is the table of the streams an agent uses and how each is derived (see :func:`stream_seed`); names
    not in it are derived by hashing, so a new stream needs no entry.
    """

    # ------------------------------------------------------------------ random streams
    def stream_seed(self, name: str, seed: int | None = None) -> int:
        """The seed of the random stream ``name`` of this run (of ``seed`` instead, e.g. an evaluation's seed).

        Example:
            >>> from metarl.agents.rl2 import RL2Config, RL2Trainer
            >>> RL2Trainer(RL2Config(seed=7)).stream_seed("shuffle")  # a stream that kept its seed: 7 + 1
            8
        """
        return stream_seed(self.config.seed if seed is None else seed, name, self.seed_streams)

    def generator(self, name: str, device: torch.device | str | None = None, seed: int | None = None
                  ) -> torch.Generator:
        """A fresh ``torch.Generator`` on ``device`` (default CPU) seeded for the random stream ``name``.

        Named streams replace seed arithmetic (``seed + 1``) in agent code: each random source of an agent asks
        for its stream by name, and :attr:`seed_streams` keeps the original derivations so that saved results
        and published recipe numbers reproduce.

        Example:
            >>> from metarl.agents.rl2 import RL2Config, RL2Trainer
            >>> trainer = RL2Trainer(RL2Config(seed=7))
            >>> torch.equal(torch.rand(3, generator=trainer.generator("shuffle")),
            ...             torch.rand(3, generator=torch.Generator().manual_seed(8)))
            True
        """
        return torch.Generator(device or "cpu").manual_seed(self.stream_seed(name, seed))

    collapse_growth: ClassVar[float] = GROWTH_LIMIT
    """Growth of the parameters' root mean square over the run's start that counts as a collapse."""

    # ------------------------------------------------------------------ the loop
    @property
    def checkpoint_path(self) -> Path:
        assert self.run_dir is not None
        return self.run_dir / CHECKPOINT_FILE

    def prepare_run_dir(self) -> Path:
        """The run directory: the resumed run's, a fork's new one, or ``<logdir>/<family>__<agent>__<seed>__<time>``."""
        if self.run_dir is not None:
            return self.run_dir
        name = self.config.run_name or f"{self.run_label()}__{self.config.seed}__{time.strftime('%Y%m%d-%H%M%S')}"
        path = Path(self.config.logdir) / name
        suffix = 1
        while (path / CHECKPOINT_FILE).exists():
            path = Path(self.config.logdir) / f"{name}-{suffix}"
            suffix += 1
        self.run_dir = path = self.parallel.broadcast(path)  # rank 0's clock names the run
        return path

    @property
    def forked_from(self) -> Path | None:
        """The checkpoint this trainer forks (a resume from a file other than its run's ``checkpoint.pt``), or None."""
        return self._fork_source

    def save(self, path: Path | None = None, iteration: int | None = None) -> Path:
        """Write the checkpoint (to ``path``, default the run's ``checkpoint.pt``) atomically; returns its path."""
        path = self.checkpoint_path if path is None else path
        progress = {"iteration": self.iteration if iteration is None else iteration, "global_step": self.global_step}
        if self._reference_rms is not None:
            progress["parameter_rms_start"] = self._reference_rms
        state = self.state_dict()  # on every process: the global state may be gathered from all of them
        if not self.parallel.is_main:
            return path
        save_checkpoint(path, agent=self.agent, config=config_dict(self.config), progress=progress,
                        state=state, data=self.data_settings())
        if path == self.checkpoint_path:
            self._checkpoint_seen = file_identity(path)
        return path

    def data_settings(self) -> dict[str, str]:
        """Settings outside the config that change the data and so the scores (e.g. ``METARL_GLYPHS_CLASSES``).

        They come from the environment's ``data_settings()`` when it has one, go into every checkpoint, and a run
        is resumed (:meth:`fit`) only under the same values; ``metarl eval`` warns when they differ.
        """
        settings = getattr(getattr(self, "env", None), "data_settings", None)
        return dict(settings()) if callable(settings) else {}

    def keep_if_best(self, value: float, higher_is_better: bool, *, chance: float | None = None, noise: float = 0.0,
                     save: bool = True) -> None:
        """Track the best validation score ``self.best``; keep the state as ``best.pt`` (:data:`BEST_FILE`) when
        ``value`` beats it (with ``save``).

        Called from inside :meth:`train_iteration`; :meth:`fit` writes ``best.pt`` once the iteration's scalars are
        logged, so ``metarl eval RUN/best.pt`` or a fork from it continue like from any checkpoint. With ``chance``
        (the score of a learner that learned nothing) a ``value`` back at chance after a best clearly better raises
        :class:`TrainingCollapsed` and leaves ``best.pt`` as it was; ``noise`` is the value's 95% half-width.
        """
        reason = self._parameter_collapse()  # validation already waits for the device: one more sync is cheap
        if reason is None and chance is not None:
            reason = validation_collapse(value, self.best, chance, noise, higher_is_better)
        if reason is not None:
            raise self._collapse(reason, self.iteration + 1)
        better = value > self.best if higher_is_better else value < self.best
        if not (math.isfinite(value) and better):
            return
        self.best = value
        self._best_pending = save

    @classmethod
    def resume(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> Trainer:
        """The trainer saved at ``path`` (a checkpoint or run directory), ready to continue with :meth:`fit`.

        From the run's latest ``checkpoint.pt`` the run continues in place. From any other file (``best.pt``, a
        copy) :meth:`fit` forks a new run directory beside it (see :attr:`forked_from`), so that no run's history is
        rewritten. ``overrides`` may change the keys in :data:`RESUME_OVERRIDES`; any other key must equal the run's
        value (``logdir`` and ``run_name`` may name a fork's new directory). Checkpoints with NaN or infinite
        weights are refused.
        """
        path = resolve_checkpoint_path(path)
        payload = load_checkpoint(path, agent=cls.agent)
        fork = path.name != CHECKPOINT_FILE
        applied = resume_overrides(cls.config_type, payload["config"], overrides, path, fork)
        trainer = cls(build_config(cls.config_type, payload["config"],
                                   {k: v for k, v in applied.items() if k not in FORK_OVERRIDES}))
        try:
            trainer.load_state_dict(payload["state"])
        except (KeyError, RuntimeError, ValueError) as exc:  # parameters or state that this version does not have
            detail = textwrap.shorten(str(exc), 300, placeholder=" ...") or type(exc).__name__
            raise CheckpointError(f"{path} does not fit this version of the {cls.agent} agent ({detail}); "
                                  "resume it with the metarl version that wrote it, or start a new run") from exc
        trainer._refuse_non_finite_weights(path)
        progress = payload["progress"]
        trainer.iteration = int(progress["iteration"])
        trainer.global_step = int(progress["global_step"])
        start = progress.get("parameter_rms_start")  # absent in checkpoints older than the collapse check
        trainer._reference_rms = trainer._parameter_rms() if start is None else float(start)
        trainer.data_mismatch = data_mismatches(payload.get("data", {}), trainer.data_settings())
        trainer._resumed = True
        if fork:
            trainer._fork_source = path
            trainer.run_dir = trainer.parallel.broadcast(
                fork_destination(path, trainer.iteration, applied.get("logdir"), applied.get("run_name")))
            trainer.config.logdir, trainer.config.run_name = str(trainer.run_dir.parent), trainer.run_dir.name
        else:
            trainer.run_dir = path.parent
            trainer._checkpoint_seen = file_identity(path)
        return trainer

    def fit(self, max_iterations: int | None = None, progress: bool = True, max_seconds: float | None = None) -> Path:
        """Train to ``total_steps`` (or ``max_iterations`` more iterations, or ``max_seconds``); return the checkpoint.

        Checkpoints every ``checkpoint_every`` iterations and at the end, after making the logs that the checkpoint
        covers durable. The run directory is locked meanwhile: a second process training it gets a one-line
        :class:`TrainingError`. A non-finite loss raises :class:`TrainingError`, a collapse (parameters exploding,
        validation back at chance) :class:`TrainingCollapsed`; both leave the last checkpoint and ``best.pt`` as
        they were.
        """
        if self.data_mismatch:
            raise ConfigError(f"{'; '.join(self.data_mismatch)}; resume it under the run's values (the data, and so "
                              "the run, would differ)")
        self.prepare_run_dir()
        main = self.parallel.is_main
        lock = RunLock(self.run_dir) if main else None
        try:
            logger = self._open_logs() if main else None
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        try:
            self.parallel.barrier()  # every process starts once rank 0 holds the run
        except BaseException:
            self._close(logger, lock)
            raise
        if self._reference_rms is None:
            self._reference_rms = self._parameter_rms()
        bar = tqdm(total=self.config.total_steps, initial=min(self.global_step, self.config.total_steps), unit="step",
                   unit_scale=True, disable=not (progress and main), dynamic_ncols=True, desc=self.agent,
                   mininterval=0.1 if sys.stderr.isatty() else 30.0)  # logs piped to a file stay short
        done, saved_at, began, interrupted = 0, None, time.perf_counter(), False

        def more() -> bool:
            in_time = max_seconds is None or time.perf_counter() - began < max_seconds
            if max_seconds is not None:
                in_time = self.parallel.broadcast(in_time)  # rank 0's clock stops every process at once
            return (self.global_step < self.config.total_steps and (max_iterations is None or done < max_iterations)
                    and in_time)

        try:
            while more():
                start, before = time.perf_counter(), self.global_step
                try:
                    scalars = self.train_iteration()
                except TrainingCollapsed:
                    raise
                except TrainingError as exc:
                    raise type(exc)(f"{exc} at iteration {self.iteration + 1}; {self._kept_note()}") from exc
                self.iteration += 1
                done += 1
                seconds = time.perf_counter() - start
                scalars["perf/steps_per_second"] = (self.global_step - before) / max(seconds, 1e-9)
                scalars = self._global_scalars(scalars)
                if logger is not None:
                    logger.scalars(scalars, self.global_step)
                due = self.iteration % self.config.checkpoint_every == 0
                if due or self._best_pending:
                    self._save_durably(logger, figures=due, best=self._best_pending, last=due)
                    saved_at = self.iteration if due else saved_at
                bar.update(min(self.global_step, self.config.total_steps) - bar.n)
                bar.set_postfix_str(self.headline(scalars), refresh=False)
            if saved_at != self.iteration:
                self._save_durably(logger, figures=True, best=False, last=True)
        except PeerLost as exc:
            if " at iteration " in str(exc):
                raise
            raise PeerLost(f"{exc} after iteration {self.iteration}; {self._kept_note()}") from exc
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            bar.close()
            self._close(logger, lock)
            if interrupted and main:
                print(f"\ninterrupted at iteration {self.iteration}; {self._kept_note(resume_hint=True)}")
        return self.checkpoint_path

    # ------------------------------------------------------------------ internals of the loop
    def _global_scalars(self, scalars: dict[str, float]) -> dict[str, float]:
        """The scalars averaged over the data-parallel processes (each is a mean over its equal shard, or the same
        everywhere); the steps per second is the slowest process's."""
        if not self.parallel.active:
            return scalars
        every = self.parallel.gather_objects(scalars)
        merged = {key: sum(s[key] for s in every if key in s) / sum(key in s for s in every) for key in scalars}
        merged["perf/steps_per_second"] = min(s["perf/steps_per_second"] for s in every)
        return merged

    @staticmethod
    def _close(logger: RunLogger | None, lock: RunLock | None) -> None:
        if logger is not None:
            logger.close()
        if lock is not None:
            lock.release()

    def _open_logs(self) -> RunLogger:
        """The run's logger, after checking that nobody moved the run on and copying a fork's inherited history."""
        if file_identity(self.checkpoint_path) != self._checkpoint_seen:
            raise TrainingError(f"{self.checkpoint_path} changed since this trainer was made (another process "
                                "trained the run); resume the run again to continue from its latest checkpoint")
        if self._fork_source is not None:
            source = self._fork_source
            cut_history(source.parent, self.run_dir, self.global_step)
            if source.name == BEST_FILE:
                shutil.copyfile(source, self.run_dir / BEST_FILE)
            self._fork_source = None
        logger = RunLogger(self.run_dir, resume_step=self.global_step if self._resumed else None)
        if not self._resumed:
            logger.hparams(config_dict(self.config), list(self.metrics))
            self._resumed = True  # a second fit() on this object continues the same run
        return logger

    def _save_durably(self, logger: RunLogger | None, *, figures: bool, best: bool, last: bool) -> None:
        """Check the parameters for a collapse, make the logs durable, then write ``best.pt`` and/or the checkpoint."""
        reason = self._parameter_collapse()
        if reason is not None:
            raise self._collapse(reason, self.iteration)
        if logger is not None:  # rank 0
            if figures:
                for tag, figure in self.figures().items():
                    logger.figure(tag, figure, self.global_step)
            logger.sync()
        if best:
            self.save(self.prepare_run_dir() / BEST_FILE)
            self._best_pending = False
        if last:
            self.save()

    def _modules(self) -> list[torch.nn.Module]:
        return [value for value in vars(self).values() if isinstance(value, torch.nn.Module)]

    def _parameter_rms(self) -> float:
        return parameter_rms(parameters_of(self._modules()))

    def _parameter_collapse(self) -> str | None:
        if self._reference_rms is None:
            return None
        return parameter_collapse(self._parameter_rms(), self._reference_rms, self.collapse_growth)

    def _refuse_non_finite_weights(self, path: Path) -> None:
        for module in self._modules():
            for name, parameter in module.named_parameters():
                if not bool(torch.isfinite(parameter).all()):
                    raise CheckpointError(f"{path} holds NaN or infinite weights ({name}); use an earlier checkpoint "
                                          "or start a new run")

    def _collapse(self, reason: str, iteration: int) -> TrainingCollapsed:
        return TrainingCollapsed(f"training collapsed at iteration {iteration}: {reason}; {self._kept_note()}; start "
                                 "a new run with a lower learning rate (a resumed run keeps its learning rate)")

    def _kept_note(self, resume_hint: bool = False) -> str:
        if self.run_dir is None or not self.checkpoint_path.exists():
            return "no checkpoint was written yet"
        note = f"the last checkpoint {self.checkpoint_path} is intact"
        if (self.run_dir / BEST_FILE).exists():
            note += f", and so is {self.run_dir / BEST_FILE}"
        if resume_hint:
            note += f" (resume with --resume {self.run_dir})"
        return note
