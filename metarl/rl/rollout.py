"""Rollout storage on the device: preallocated (T, B, ...) tensors filled one step at a time.

Filling is index assignment into preallocated memory, so the collection loop never syncs with the
host. Recurrent learners cut the rollout into chunks of whole time slices for truncated
backpropagation through time (:meth:`Rollout.chunks`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import torch


class Rollout:
    """Named (steps, batch, *shape) tensors.

    Example:
        >>> r = Rollout(3, 2, {"reward": ((), torch.float32), "obs": ((4,), torch.float32)})
        >>> r.put(0, reward=torch.ones(2), obs=torch.zeros(2, 4))
        >>> r["obs"].shape
        torch.Size([3, 2, 4])
    """

    def __init__(self, steps: int, batch: int, specs: Mapping[str, tuple[tuple[int, ...], torch.dtype]],
                 device: torch.device | str = "cpu") -> None:
        self.steps, self.batch = steps, batch
        self.data = {name: torch.zeros(steps, batch, *shape, dtype=dtype, device=device)
                     for name, (shape, dtype) in specs.items()}

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.data[name]

    def put(self, t: int, **values: torch.Tensor) -> None:
        """Store step ``t`` of each named field."""
        for name, value in values.items():
            self.data[name][t] = value

    def chunks(self, length: int, **extra: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every field (and each ``extra`` (T, B, ...) tensor) cut into (length, T // length * B, ...) sequences.

        Sequence j * B + b holds steps [j * length, (j + 1) * length) of environment b.
        """
        if self.steps % length:
            raise ValueError(f"chunk length {length} does not divide the rollout length {self.steps}")
        count = self.steps // length
        out = {}
        for name, value in {**self.data, **extra}.items():
            shaped = value.reshape(count, length, self.batch, *value.shape[2:]).transpose(0, 1)
            out[name] = shaped.reshape(length, count * self.batch, *value.shape[2:])
        return out


def minibatch_indices(total: int, minibatches: int, generator: torch.Generator,
                      device: torch.device | str = "cpu") -> Iterator[torch.Tensor]:
    """A random split of ``range(total)`` into ``minibatches`` nearly equal index tensors."""
    order = torch.randperm(total, generator=generator).to(device)
    yield from order.tensor_split(minibatches)
