"""The L2T teacher: a small MLP on each example's features with a sigmoid keep probability."""

from __future__ import annotations

import math

import torch
from torch import nn


class TeacherNetwork(nn.Module):
    """Keep probability of every example from its features ``(..., F)`` -> ``(...,)``.

    Example:
        >>> net = TeacherNetwork(features=25, hidden=8, init_keep=0.8)
        >>> net(torch.zeros(3, 20, 25)).shape, round(float(net(torch.zeros(25)).detach()), 2)
        (torch.Size([3, 20]), 0.8)
    """

    def __init__(self, features: int, hidden: int = 32, init_keep: float = 0.8) -> None:
        super().__init__()
        self.features = features
        self.body = nn.Sequential(nn.Linear(features, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        with torch.no_grad():
            self.body[2].weight.mul_(0.1)
            self.body[2].bias.fill_(math.log(init_keep / (1.0 - init_keep)))
            self.body[0].bias.zero_()

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """Log-odds of keeping each example, ``(...,)``."""
        return self.body(features).squeeze(-1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(features))

    def log_prob(self, features: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Log-probability ``(...,)`` of the keep decisions ``keep`` (0/1) under the Bernoulli policy."""
        return -nn.functional.binary_cross_entropy_with_logits(self.logits(features), keep.float(), reduction="none")


class StudentCritic(nn.Module):
    """Value of a student's state from its summary features ``(..., 3)`` (fraction of the update budget used,
    average training loss, best dev accuracy: the student columns of the L2T features) -> ``(...,)``.

    Example:
        >>> StudentCritic(hidden=8)(torch.zeros(5, 3)).shape
        torch.Size([5])
    """

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        return self.body(state).squeeze(-1)
