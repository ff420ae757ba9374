"""Checkpoints: written atomically and durably, read with ``weights_only=True``, checked before use.

A checkpoint is a dict of tensors, numbers, strings and dicts of them (no pickled classes), so
loading one never runs code. It records what wrote it, so a foreign or truncated file, or a file of
another agent, is one clear :class:`CheckpointError` instead of a traceback. It also carries the
SHA-256 of its contents (:func:`payload_digest`), so a file damaged on disk (a flipped weight byte)
is refused instead of scored.

Example:
    >>> import pathlib, tempfile
    >>> tmp = tempfile.TemporaryDirectory(); path = pathlib.Path(tmp.name) / "checkpoint.pt"
    >>> save_checkpoint(path, agent="rl2", config={}, progress={"iteration": 1}, state={})
    >>> load_checkpoint(path)["agent"]
    'rl2'
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import torch

from metarl.errors import CheckpointError
from metarl.files import write_atomically

FORMAT = "metarl-checkpoint"
VERSION = 2
"""Version 2 adds the ``sha256`` digest; version 1 files (written before it) are still read, unchecked."""
READABLE_VERSIONS = (1, 2)
DIGEST_KEY = "sha256"


def payload_digest(payload: dict[str, Any]) -> str:
    """SHA-256 of everything in ``payload`` except its digest: tensors by dtype, shape and bytes, the rest by value.

    The digest depends on contents only, not on the file's zip layout or the device tensors are mapped to.

    Example:
        >>> payload_digest({"w": torch.zeros(2)}) == payload_digest({"w": torch.zeros(2)})
        True
        >>> payload_digest({"w": torch.zeros(2)}) == payload_digest({"w": torch.ones(2)})
        False
    """
    digest = hashlib.sha256()
    _feed(digest, {k: v for k, v in payload.items() if k != DIGEST_KEY})
    return digest.hexdigest()


def _feed(digest: Any, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"T{tensor.dtype}{tuple(tensor.shape)}:".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        digest.update(f"{{{len(value)}:".encode())
        for key, item in value.items():  # insertion order, which torch.save and torch.load keep
            digest.update(f"{type(key).__name__}:{key!r}=".encode())
            _feed(digest, item)
    elif isinstance(value, (list, tuple)):
        digest.update(f"[{len(value)}:".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(f"{type(value).__name__}:{value!r};".encode())


def save_checkpoint(
    path: str | Path, *, agent: str, config: dict[str, Any], progress: dict[str, Any], state: dict[str, Any],
    data: dict[str, str] | None = None,
) -> None:
    """Write a checkpoint to ``path``: a temporary file, fsynced, renamed over ``path``, then the directory fsynced.

    ``path`` is always a complete checkpoint, the old one or the new one, even after a power cut. ``data`` holds
    the data settings that change scores (see :meth:`metarl.training.Trainer.data_settings`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, "agent": agent, "config": config, "progress": progress,
               "state": state, "data": dict(data or {})}
    payload[DIGEST_KEY] = payload_digest(payload)
    buffer = io.BytesIO()  # serialized first, so a full disk is an OSError from write(), not torch's writer
    torch.save(payload, buffer)
    write_atomically(path, buffer.getbuffer())


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
    """Read and check a checkpoint; ``agent`` (when given) must match the one that wrote it.

    Raises :class:`CheckpointError` for a missing, truncated, foreign or damaged file (contents that do not match
    the digest saved with them).
    """
    path = resolve_checkpoint_path(path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch.load raises many types for damaged files; all mean the same to the user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path} is not a readable metarl checkpoint (truncated or foreign file: {first})") \
            from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a torch file but not a metarl checkpoint")
    if payload.get("version") not in READABLE_VERSIONS:
        raise CheckpointError(f"{path} has checkpoint version {payload.get('version')}; this metarl reads "
                              f"{', '.join(map(str, READABLE_VERSIONS))}")
    if payload["version"] >= 2 and payload.get(DIGEST_KEY) != payload_digest(payload):
        raise CheckpointError(f"{path} is damaged: its contents do not match the sha256 saved with them; use another "
                              "copy or the run's other checkpoint (checkpoint.pt or best.pt)")
    if agent is not None and payload.get("agent") != agent:
        raise CheckpointError(f"{path} was written by agent {payload.get('agent')!r}, not {agent!r}")
    return payload
