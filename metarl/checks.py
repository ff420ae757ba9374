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


def check_count(n: Any, name: str, *, env_id: str) -> int:
    """Return ``n`` as an int if it is a non-negative integer, else raise :class:`BadArgumentError` naming ``name``.

    Example:
        >>> check_count(3, "n", env_id="x")
        3
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise BadArgumentError(f"{env_id}: {name} must be a non-negative integer, got {n!r}")
    return int(n)


def check_seed(seed: Any, *, env_id: str) -> int:
    """Return ``seed`` as an int, or raise :class:`BadArgumentError` (a bool, float or string is refused).

    Example:
        >>> check_seed(7, env_id="x")
        7
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise BadArgumentError(f"{env_id}: seed must be an integer, got {type(seed).__name__} {seed!r}")
    return int(seed)


def as_action_tensor(action: Any, device: torch.device, *, env_id: str) -> torch.Tensor:
    """``action`` as a tensor on ``device`` (a tensor is returned as it is), or :class:`BadActionError` for
    anything that is not an array of real numbers (None, strings, objects, complex numbers, ragged lists).

    Example:
        >>> as_action_tensor([1, 0], torch.device("cpu"), env_id="x")
        tensor([1, 0])
    """
    if isinstance(action, torch.Tensor):
        tensor = action
    else:
        try:
            array = np.asarray(action)
        except (ValueError, TypeError) as exc:  # ragged nested lists
            raise BadActionError(f"{env_id}: action is not a rectangular array of numbers ({exc})") from None
        if array.dtype.kind not in "biuf":
            raise BadActionError(f"{env_id}: action must be an array of real numbers, got {_describe(action)}")
        tensor = torch.as_tensor(array, device=device)
    if tensor.is_complex():
        raise BadActionError(f"{env_id}: action must be an array of real numbers, got a {tensor.dtype} tensor")
    return tensor


def _describe(value: Any) -> str:
    text = " ".join(repr(value).split())  # one line, however numpy prints it
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def check_action(
    action: Any, space: gymnasium.Space, num_envs: int, device: torch.device, *, env_id: str
) -> torch.Tensor:
    """Return ``action`` as a (B, *space.shape) tensor ready for the engine, or raise :class:`BadActionError`.

    Discrete actions must be integers in [0, n). MultiBinary actions must be 0 or 1: bool, integer, or
    floating-point values that are exactly 0.0 or 1.0 (they are passed on as float32). Continuous actions
    must be finite (values outside the box are left to the family, which clips them).

    Example:
        >>> check_action(torch.tensor([0, 2]), gymnasium.spaces.Discrete(3), 2, torch.device("cpu"), env_id="x")
        tensor([0, 2])
    """
    action = as_action_tensor(action, device, env_id=env_id)
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
    if isinstance(space, gymnasium.spaces.MultiBinary):
        bad = (action != 0) & (action != 1)  # NaN is neither
        if bool(bad.any()):
            value = action[bad][0].item()
            raise BadActionError(f"{env_id}: MultiBinary action values must be 0 or 1 (keep or drop), got "
                                 f"{'NaN' if value != value else repr(value)}")
        return action.to(torch.float32)
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
