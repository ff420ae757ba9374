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


class InputNormalizer(torch.nn.Module):
    """Per-feature running mean and variance of a network's input, held as buffers (saved with the model).

    :meth:`forward` standardises inputs with the statistics so far and clips them to ``[-clip, clip]``;
    :meth:`update` adds a batch to the statistics. A network whose inputs live on scales that drift as
    training goes (a learnt belief's mean and log-variance) reads them standardised.

    Example:
        >>> norm = InputNormalizer(2)
        >>> norm.update(torch.tensor([[0.0, 10.0], [2.0, 30.0]]))
        >>> norm(torch.tensor([[1.0, 20.0], [2.0, 30.0]])).round(decimals=2)  # the means, then one std above
        tensor([[0., 0.],
                [1., 1.]])
    """

    def __init__(self, size: int, clip: float = 10.0, epsilon: float = 1e-4) -> None:
        super().__init__()
        self.clip = clip
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("var", torch.ones(size))
        self.register_buffer("count", torch.full((), epsilon))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Add every row of ``x`` (..., size) to the statistics (parallel-merge formula)."""
        x = x.detach().reshape(-1, self.mean.shape[0]).to(self.mean.dtype)
        batch_mean, batch_var, n = x.mean(0), x.var(0, unbiased=False), x.shape[0]
        delta, total = batch_mean - self.mean, self.count + n
        self.var.copy_((self.var * self.count + batch_var * n + delta.square() * self.count * n / total) / total)
        self.mean.add_(delta * n / total)
        self.count.copy_(total)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / (self.var + 1e-8).sqrt()).clamp(-self.clip, self.clip)
