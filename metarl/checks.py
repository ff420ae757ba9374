"""Input validation for the engine's checked mode: each failure names the env id and what was expected."""

from __future__ import annotations

import math
from typing import Any

import gymnasium
import numpy as np
import torch

from metarl.errors import BadActionError, BadArgumentError

SPLITS = {"train": 0, "test": 1, "validation": 2}
"""Task splits and the stream offset of each: disjoint, reproducible task distributions."""


def check_split(split: Any, *, env_id: str) -> str:
    """Return ``split`` if it names a split, else raise :class:`BadArgumentError` listing the valid ones.

    Example:
        >>> check_split("test", env_id="x")
        'test'
    """
    if split not in SPLITS:
        raise BadArgumentError(f"{env_id}: split must be one of {sorted(SPLITS)}, got {split!r}")
    return split


def check_action(
    action: Any, space: gymnasium.Space, num_envs: int, device: torch.device, *, env_id: str
) -> torch.Tensor:
    """Return ``action`` as a (B, *space.shape) tensor ready for the engine, or raise :class:`BadActionError`.

    Discrete actions must be integers in [0, n); continuous actions must be finite (values outside
    the box are left to the family, which clips them).

    Example:
        >>> check_action(torch.tensor([0, 2]), gymnasium.spaces.Discrete(3), 2, torch.device("cpu"), env_id="x")
        tensor([0, 2])
    """
    if not isinstance(action, torch.Tensor):
        action = torch.as_tensor(np.asarray(action), device=device)
    expected = (num_envs, *space.shape)
    if tuple(action.shape) != expected:
        raise BadActionError(f"{env_id}: action has shape {tuple(action.shape)}, expected {expected}")
    if action.device != device:
        raise BadActionError(f"{env_id}: action is on {action.device}, the environment is on {device}")
    if isinstance(space, gymnasium.spaces.Discrete):
        if action.is_floating_point() or action.dtype == torch.bool:
            raise BadActionError(f"{env_id}: discrete actions must be integers, got {action.dtype}")
        low, high = (int(v) for v in torch.aminmax(action))
        if low < 0 or high >= space.n:
            raise BadActionError(
                f"{env_id}: action index out of range: got values in [{low}, {high}], "
                f"expected integers in [0, {space.n - 1}]"
            )
        return action.long()
    if not action.is_floating_point():
        action = action.float()
    low, high = (float(v) for v in torch.aminmax(action))  # NaN and infinities reach the extremes
    if not (math.isfinite(low) and math.isfinite(high)):
        raise BadActionError(f"{env_id}: action contains NaN or infinite values")
    return action.to(torch.float32)


def check_mask(mask: Any, num_envs: int, device: torch.device, *, env_id: str) -> torch.Tensor:
    """Return ``mask`` as a (B,) bool tensor on ``device``, or raise :class:`BadArgumentError`."""
    mask = torch.as_tensor(mask, device=device)
    if mask.dtype != torch.bool or tuple(mask.shape) != (num_envs,):
        raise BadArgumentError(
            f"{env_id}: reset mask must be a bool array of shape ({num_envs},), got {mask.dtype} {tuple(mask.shape)}"
        )
    return mask


def resolve_device(device: torch.device | str | None) -> torch.device:
    """``"auto"`` (or None) picks CUDA when present, else CPU."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise BadArgumentError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BadArgumentError("device 'cuda' was requested but CUDA is not available; use 'auto' or 'cpu'")
    return device
