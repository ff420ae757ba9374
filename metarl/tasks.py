"""Tasks as explicit tensor data.

A family's task is a dataclass of tensors that share a leading batch dimension B (one task per
environment). Only primitive parameters are stored; anything derived is computed from them.

Example:
    >>> import torch
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class GoalTask(Task):
    ...     goal: torch.Tensor  # (B, 2)
    >>> t = GoalTask(goal=torch.zeros(3, 2))
    >>> t.batch_size
    3
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np
import torch

from metarl.errors import BadTaskError

T = TypeVar("T", bound="Task")


@dataclasses.dataclass
class Task:
    """Base class of task dataclasses: every field is a tensor with leading batch dimension."""

    def fields(self) -> dict[str, torch.Tensor]:
        """The task's tensors by field name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @property
    def batch_size(self) -> int:
        """Number of tasks B."""
        return next(iter(self.fields().values())).shape[0]

    def to(self: T, device: torch.device | str) -> T:
        """The same tasks on ``device``."""
        return type(self)(**{k: v.to(device) for k, v in self.fields().items()})

    def where(self: T, mask: torch.Tensor, other: T) -> T:
        """Tasks taken from ``other`` where ``mask`` (B,) is true and from ``self`` elsewhere."""
        out = {}
        for name, mine in self.fields().items():
            m = mask.view(-1, *([1] * (mine.dim() - 1)))
            out[name] = torch.where(m, getattr(other, name), mine)
        return type(self)(**out)

    def put(self: T, index: torch.Tensor, other: T) -> T:
        """Tasks taken from ``other`` (one per entry of the sorted ``index``) at ``index``, from ``self`` elsewhere."""
        if index.numel() == self.batch_size:
            return other
        out = {}
        for name, mine in self.fields().items():
            out[name] = mine.index_copy(0, index, getattr(other, name))
        return type(self)(**out)

    def __getitem__(self: T, index: Any) -> T:
        """Tasks selected along the batch dimension (an int keeps a batch of one)."""
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        return type(self)(**{k: v[index] for k, v in self.fields().items()})

    def numpy(self) -> dict[str, np.ndarray]:
        """The task's fields as numpy arrays (for the Gymnasium views)."""
        return {k: v.detach().cpu().numpy() for k, v in self.fields().items()}

    @classmethod
    def coerce(cls: type[T], value: Any, *, env_id: str, device: torch.device) -> T:
        """Accept a task of this class or a mapping of field name to array-like (numpy or tensor)."""
        if isinstance(value, cls):
            return value
        if isinstance(value, Task):
            raise BadTaskError(f"{env_id}: expected a {cls.__name__}, got a {type(value).__name__}")
        if not isinstance(value, Mapping):
            raise BadTaskError(
                f"{env_id}: a task must be a {cls.__name__} or a dict of its fields "
                f"{[f.name for f in dataclasses.fields(cls)]}, got {type(value).__name__}"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        if set(value) != names:
            raise BadTaskError(f"{env_id}: task fields must be exactly {sorted(names)}, got {sorted(value)}")
        out = {}
        for name in names:
            v = value[name]
            out[name] = v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v), device=device)
        return cls(**out)


def check_task(
    task: Task, expected: Mapping[str, tuple[tuple[int, ...], torch.dtype]], *, env_id: str, device: torch.device
) -> None:
    """Raise :class:`BadTaskError` unless every field has the expected shape, dtype and device."""
    for name, (shape, dtype) in expected.items():
        value = getattr(task, name)
        if not isinstance(value, torch.Tensor):
            raise BadTaskError(f"{env_id}: task field '{name}' must be a torch.Tensor, got {type(value).__name__}")
        if tuple(value.shape) != tuple(shape):
            raise BadTaskError(
                f"{env_id}: task field '{name}' has shape {tuple(value.shape)}, expected {tuple(shape)}"
            )
        if value.dtype != dtype:
            raise BadTaskError(f"{env_id}: task field '{name}' has dtype {value.dtype}, expected {dtype}")
        if value.device != device:
            raise BadTaskError(
                f"{env_id}: task field '{name}' is on {value.device}, the environment is on {device}; "
                f"move it with task.to({str(device)!r})"
            )
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise BadTaskError(f"{env_id}: task field '{name}' contains NaN or infinite values")
