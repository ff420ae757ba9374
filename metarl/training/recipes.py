"""Configs and runs built from YAML recipes; a run continues when its run directory already holds a checkpoint.

:func:`load_config` is the one route from a recipe (or none) and values on top of it to a validated config:
``metarl train``, :func:`recipe_trainer` and the benchmark scripts all use it.

Benchmark scripts train the recipes in ``configs/`` with a few values on top (device, seed, log directory,
run name) and often stop and restart: a run interrupted by a time cap continues from its checkpoint on the
next call, and the wall time it has cost adds up over calls in a small file beside the checkpoint.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from metarl.errors import ConfigError
from metarl.training.config import build_config, config_values, parse_assignments
from metarl.training.loop import CHECKPOINT_FILE, RESUME_OVERRIDES, Trainer

BENCHMARK_FLAGS = {"seed": "pass --seed", "device": "pass --device", "logdir": "pass --logdir",
                   "run_name": "the run is named SETTING__SEED under --logdir"}
"""Recipe keys a benchmark script sets from its own flags, and how to change each instead of ``--set``."""

TIME_FILE = "benchmark_time.json"
"""Seconds of training a run has cost over all the calls of :func:`timed_fit` (wall, and this process's CPU as
``cpu_seconds``), kept in its run directory."""


def recipe_trainer(recipe: str | Path, values: Mapping[str, Any] | None = None, trainer_cls: type | None = None,
                   resume: bool = True) -> Trainer:
    """A trainer for ``recipe`` with ``values`` on top, or the saved run it names when there is one.

    The config comes from :func:`load_config` (defaults, the recipe, ``values``);
    ``trainer_cls`` defaults to the trainer of the recipe's ``agent`` key. With ``resume`` and a checkpoint in
    ``logdir/run_name``, the run continues from it; only the keys a resumed run may change (``device``,
    ``total_steps``, ``checkpoint_every``) are taken from ``values`` then.

    Example:
        >>> import pathlib, tempfile
        >>> tmp = tempfile.TemporaryDirectory(); folder = pathlib.Path(tmp.name)
        >>> recipe = folder / "rl2_bandit.yaml"
        >>> _ = recipe.write_text("{agent: rl2, env: metarl/BernoulliBandit-v0, num_envs: 16}")
        >>> trainer = recipe_trainer(recipe, {"logdir": str(folder / "runs"), "run_name": "demo__0"})
        >>> trainer.fit(max_seconds=60)  # doctest: +SKIP
    """
    values = dict(values or {})
    trainer_cls, config = load_config(recipe, values, trainer_cls=trainer_cls)
    run_dir = Path(config.logdir) / config.run_name if config.run_name else None
    if resume and run_dir is not None and (run_dir / CHECKPOINT_FILE).exists():
        overrides = {key: getattr(config, key) for key in RESUME_OVERRIDES if key in values or key == "device"}
        return trainer_cls.resume(run_dir, overrides)
    return trainer_cls(config)


def load_config(path: str | Path | None = None, *sources: Mapping[str, Any] | None, agent: str | None = None,
                trainer_cls: type | None = None) -> tuple[type, Any]:
    """(trainer class, validated config): the agent's defaults, then the YAML file at ``path``, then each source.

    This is the one place configs are assembled: ``metarl train``, :func:`recipe_trainer` and the benchmark
    scripts all come here. The trainer is ``trainer_cls``, else the one of ``agent``, else the one of the
    file's ``agent`` key. A bad key or value raises :class:`ConfigError` before any environment or model
    exists. (It lives here rather than in :mod:`metarl.training.config` because the agent registry imports
    the training loop, which imports that module.)

    Example:
        >>> import pathlib, tempfile
        >>> tmp = tempfile.TemporaryDirectory(); recipe = pathlib.Path(tmp.name) / "rl2_bandit.yaml"
        >>> _ = recipe.write_text("{agent: rl2, env: metarl/BernoulliBandit-v0, lr: 0.003}")
        >>> _, config = load_config(recipe, {"lr": 0.01})  # later sources override the file
        >>> config.lr, config.env
        (0.01, 'metarl/BernoulliBandit-v0')
    """
    named, values = config_values(path, *sources)
    if trainer_cls is None:
        from metarl.agent_registry import trainer_class

        agent = agent or named
        if agent is None:
            where = f"put `agent: rl2` in {path}" if path is not None else "give a config file with `agent: rl2`"
            raise ConfigError(f"name the agent to train (e.g. `metarl train rl2`) or {where}")
        trainer_cls = trainer_class(agent)
    return trainer_cls, build_config(trainer_cls.config_type, values)


def timed_fit(trainer: Trainer, max_seconds: float | None = None, progress: bool = True) -> float:
    """Train ``trainer`` to its ``total_steps`` (or for ``max_seconds``); return the seconds its run has cost in all.

    The total includes earlier calls on the same run directory, read from and written back to :data:`TIME_FILE`.
    A run already at ``total_steps`` or given ``max_seconds <= 0`` is not trained.
    """
    trainer.prepare_run_dir()
    path = Path(trainer.run_dir) / TIME_FILE
    spent = json.loads(path.read_text()) if path.exists() else {"seconds": 0.0}
    if trainer.global_step < trainer.config.total_steps and (max_seconds is None or max_seconds > 0):
        began, cpu = time.perf_counter(), time.process_time()
        trainer.fit(progress=progress, max_seconds=max_seconds)
        spent = {"seconds": spent["seconds"] + time.perf_counter() - began,
                 "cpu_seconds": spent.get("cpu_seconds", 0.0) + time.process_time() - cpu}
        path.write_text(json.dumps(spent))
    return spent["seconds"]


def run_cpu_seconds(trainer: Trainer) -> float | None:
    """CPU seconds (this process's, all threads) that :func:`timed_fit` has spent on the run over all its calls;
    None for a run trained before they were recorded.

    Example:
        >>> import pathlib, tempfile, types
        >>> run_cpu_seconds(types.SimpleNamespace(run_dir=pathlib.Path(tempfile.mkdtemp()))) is None
        True
    """
    path = Path(trainer.run_dir) / TIME_FILE
    return json.loads(path.read_text()).get("cpu_seconds") if path.exists() else None


def benchmark_values(setting: str, assignments: list[str] | None, device: str, seed: int, logdir: str
                     ) -> dict[str, Any]:
    """The values a benchmark script puts on top of a setting's recipe: its ``--set`` assignments, then the device,
    seed, log directory and the run name ``SETTING__SEED``. A ``--set`` of a key in :data:`BENCHMARK_FLAGS` is a
    :class:`ConfigError` that names the flag to use instead.

    Example:
        >>> benchmark_values("dense", ["lr=0.01"], "cpu", 3, "runs/b")["run_name"]
        'dense__3'
    """
    values = parse_assignments(assignments)
    clashes = sorted(values.keys() & BENCHMARK_FLAGS.keys())
    if clashes:
        raise ConfigError(f"--set {clashes[0]}=... is not used here; {BENCHMARK_FLAGS[clashes[0]]}")
    return {**values, "device": device, "seed": seed, "logdir": logdir, "run_name": f"{setting}__{seed}"}
