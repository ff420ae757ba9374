"""Running mean and variance, for normalising value targets whose scale varies by family."""

from __future__ import annotations

import torch


class RunningMeanStd:
    """Mean and variance of everything passed to :meth:`update` (parallel-merge formula), as tensors.

    Example:
        >>> stats = RunningMeanStd(device="cpu")
        >>> stats.update(torch.tensor([1.0, 3.0]))
        >>> round(float(stats.mean), 3), round(float(stats.var), 3)  # a tiny prior count keeps var defined at first
        (2.0, 1.0)
    """

    def __init__(self, device: torch.device | str = "cpu", epsilon: float = 1e-4) -> None:
        self.mean = torch.zeros((), dtype=torch.float64, device=device)
        self.var = torch.ones((), dtype=torch.float64, device=device)
        self.count = torch.full((), epsilon, dtype=torch.float64, device=device)

    def update(self, x: torch.Tensor) -> None:
        x = x.detach().to(torch.float64).reshape(-1)
        batch_mean, batch_var, n = x.mean(), x.var(unbiased=False), x.numel()
        delta = batch_mean - self.mean
        total = self.count + n
        self.mean = self.mean + delta * n / total
        self.var = (self.var * self.count + batch_var * n + delta.square() * self.count * n / total) / total
        self.count = total

    @property
    def std(self) -> torch.Tensor:
        return self.var.clamp(min=1e-8).sqrt()

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / self.std).to(x.dtype)

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.std + self.mean).to(x.dtype)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"mean": self.mean, "var": self.var, "count": self.count}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        device = self.mean.device
        self.mean, self.var, self.count = (state[k].to(device) for k in ("mean", "var", "count"))
