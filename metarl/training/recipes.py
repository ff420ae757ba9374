"""Runs built from YAML recipes, continued when their run directory already holds a checkpoint.

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

from metarl.training.config import build_config, load_yaml
from metarl.training.loop import CHECKPOINT_FILE, RESUME_OVERRIDES, Trainer

TIME_FILE = "benchmark_time.json"
"""Seconds of training a run has cost over all the calls of :func:`timed_fit`, kept in its run directory."""


def recipe_trainer(recipe: str | Path, values: Mapping[str, Any] | None = None, trainer_cls: type | None = None,
                   resume: bool = True) -> Trainer:
    """A trainer for ``recipe`` with ``values`` on top, or the saved run it names when there is one.

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
    trainer_cls, config = recipe_config(recipe, values, trainer_cls)
    run_dir = Path(config.logdir) / config.run_name if config.run_name else None
    if resume and run_dir is not None and (run_dir / CHECKPOINT_FILE).exists():
        overrides = {key: getattr(config, key) for key in RESUME_OVERRIDES if key in values or key == "device"}
        return trainer_cls.resume(run_dir, overrides)
    return trainer_cls(config)


def recipe_config(recipe: str | Path, values: Mapping[str, Any] | None = None, trainer_cls: type | None = None
                  ) -> tuple[type, Any]:
    """(trainer class, validated config) for ``recipe`` with ``values`` on top, building nothing else.

    A bad key or value raises :class:`~metarl.errors.ConfigError` before any environment or model exists.

    Example:
        >>> import pathlib, tempfile
        >>> tmp = tempfile.TemporaryDirectory(); recipe = pathlib.Path(tmp.name) / "rl2_bandit.yaml"
        >>> _ = recipe.write_text("{agent: rl2, env: metarl/BernoulliBandit-v0, lr: 0.003}")
        >>> _, config = recipe_config(recipe, {"lr": 0.01})  # values override the recipe
        >>> config.lr, config.env
        (0.01, 'metarl/BernoulliBandit-v0')
    """
    from metarl.agent_registry import trainer_class

    settings = load_yaml(recipe)
    agent = settings.pop("agent", None)
    if trainer_cls is None:
        if agent is None:
            raise ValueError(f"recipe {recipe} has no 'agent' key; pass trainer_cls")
        trainer_cls = trainer_class(agent)
    return trainer_cls, build_config(trainer_cls.config_type, settings, dict(values or {}))


def timed_fit(trainer: Trainer, max_seconds: float | None = None, progress: bool = True) -> float:
    """Train ``trainer`` to its ``total_steps`` (or for ``max_seconds``); return the seconds its run has cost in all.

    The total includes earlier calls on the same run directory, read from and written back to :data:`TIME_FILE`.
    A run already at ``total_steps`` or given ``max_seconds <= 0`` is not trained.
    """
    trainer.prepare_run_dir()
    path = Path(trainer.run_dir) / TIME_FILE
    spent = json.loads(path.read_text())["seconds"] if path.exists() else 0.0
    if trainer.global_step < trainer.config.total_steps and (max_seconds is None or max_seconds > 0):
        began = time.perf_counter()
        trainer.fit(progress=progress, max_seconds=max_seconds)
        spent += time.perf_counter() - began
        path.write_text(json.dumps({"seconds": spent}))
    return spent
