"""What a resumed run may change: a few settings, never its identity, never the data it was trained on.

A run continues exactly as saved. :func:`resume_overrides` accepts the keys that may change
(:data:`RESUME_OVERRIDES`), accepts any other key given with the run's own value, and refuses the
rest in one line. ``logdir`` and ``run_name`` name the new run of a fork (resuming from a file other
than the run's ``checkpoint.pt``). :func:`data_mismatches` compares the data settings saved with a
run (environment variables such as ``METARL_GLYPHS_CLASSES`` that change scores) with this process's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from metarl.errors import ConfigError
from metarl.training.config import build_config

RESUME_OVERRIDES = {"total_steps", "device", "checkpoint_every"}
"""Config keys that may change when a run is resumed; the others are the run's identity."""
FORK_OVERRIDES = {"logdir", "run_name"}
"""Config keys that name the new run directory of a fork."""


def resume_overrides(config_type: type, saved: Mapping[str, Any], given: Mapping[str, Any] | None, checkpoint: Path,
                     fork: bool) -> dict[str, Any]:
    """The values of ``given`` to apply to the run saved in ``checkpoint``, or a one-line :class:`ConfigError`.

    Example:
        >>> import dataclasses
        >>> @dataclasses.dataclass
        ... class Config:
        ...     seed: int = 0
        ...     total_steps: int = 100
        >>> resume_overrides(Config, {"seed": 0}, {"seed": 0, "total_steps": 10}, Path("run/checkpoint.pt"),
        ...                  fork=False)
        {'total_steps': 10}
    """
    base = build_config(config_type, saved)
    location = {"logdir": checkpoint.resolve().parent.parent, "run_name": checkpoint.resolve().parent.name}
    applied, conflicts = {}, []
    for key, value in (given or {}).items():
        if key in RESUME_OVERRIDES or (fork and key in FORK_OVERRIDES):
            applied[key] = value
        elif key in FORK_OVERRIDES:
            here = location[key]
            if (Path(value).resolve() if key == "logdir" else value) != here:
                conflicts.append(f"{key} (the run is in {here}, given {value!r}; a fork from a file other than "
                                 "checkpoint.pt may name a new run)")
        elif getattr(build_config(config_type, saved, {key: value}), key) != getattr(base, key):
            conflicts.append(f"{key} (the run has {getattr(base, key)!r}, given {value!r})")
    if conflicts:
        raise ConfigError(f"cannot change {'; '.join(conflicts)} when resuming {checkpoint}; only "
                          f"{', '.join(sorted(RESUME_OVERRIDES))} may change (start a new run for the others)")
    return applied


def data_mismatches(saved: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """``"the run was trained with K=a; this process has K=b"`` for each data setting that differs.

    Example:
        >>> data_mismatches({"METARL_GLYPHS_CLASSES": "60"}, {"METARL_GLYPHS_CLASSES": "100"})
        ['the run was trained with METARL_GLYPHS_CLASSES=60; this process has METARL_GLYPHS_CLASSES=100']
    """
    return [f"the run was trained with {key}={saved[key]}; this process has {key}={current[key]}"
            for key in sorted(set(saved) & set(current)) if saved[key] != current[key]]
