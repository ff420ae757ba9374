"""Checkpoints: written atomically, read with ``weights_only=True``, checked before use.

A checkpoint is a dict of tensors, numbers, strings and dicts of them (no pickled classes), so
loading one never runs code. It records what wrote it, so a foreign or truncated file, or a file of
another agent, is one clear :class:`CheckpointError` instead of a traceback.

Example:
    >>> import pathlib, tempfile
    >>> tmp = tempfile.TemporaryDirectory(); path = pathlib.Path(tmp.name) / "checkpoint.pt"
    >>> save_checkpoint(path, agent="rl2", config={}, progress={"iteration": 1}, state={})
    >>> load_checkpoint(path)["agent"]
    'rl2'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from metarl.errors import CheckpointError

FORMAT = "metarl-checkpoint"
VERSION = 1


def save_checkpoint(
    path: str | Path, *, agent: str, config: dict[str, Any], progress: dict[str, Any], state: dict[str, Any]
) -> None:
    """Write a checkpoint to ``path`` through a temporary file, so ``path`` is always complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, "agent": agent, "config": config, "progress": progress,
               "state": state}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def resolve_checkpoint_path(path: str | Path) -> Path:
    """A checkpoint file, or a run directory holding ``checkpoint.pt``."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; pass a checkpoint file or a run directory written by "
                              "`metarl train`")
    return path


def load_checkpoint(path: str | Path, agent: str | None = None, map_location: Any = "cpu") -> dict[str, Any]:
    """Read and check a checkpoint; ``agent`` (when given) must match the one that wrote it."""
    path = resolve_checkpoint_path(path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch.load raises many types for damaged files; all mean the same to the user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path} is not a readable metarl checkpoint (truncated or foreign file: {first})") \
            from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a torch file but not a metarl checkpoint")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {payload.get('version')}; this metarl reads {VERSION}")
    if agent is not None and payload.get("agent") != agent:
        raise CheckpointError(f"{path} was written by agent {payload.get('agent')!r}, not {agent!r}")
    return payload
