"""PEARL's probabilistic context encoder: each transition gives a Gaussian factor over the latent task
variable z, and the posterior q(z | c) is the normalised product of the factors (permutation invariant, and
updated online one transition at a time by adding natural parameters).

With no transition the belief is the prior N(0, I); that is where a trial starts, and a z drawn from it
makes the first episode explore (posterior sampling).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from metarl.rl.heads import Draw, draw_whole
from metarl.rl.sac import mlp

MIN_VARIANCE = 1e-7
"""Smallest variance of a factor: a factor may be very sure, never infinitely so."""


class ContextEncoder(nn.Module):
    """``transition (..., C) -> (mean, variance)`` of one Gaussian factor over z (..., latent).

    Example:
        >>> encoder = ContextEncoder(5, 3, (16,))
        >>> mean, var = encoder.posterior(torch.zeros(4, 10, 5))  # 4 tasks, 10 transitions each
        >>> mean.shape, bool((var > 0).all())
        (torch.Size([4, 3]), True)
    """

    def __init__(self, context_size: int, latent: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.latent = latent
        self.net = mlp(context_size, hidden, 2 * latent)

    def forward(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, raw = self.net(context).split(self.latent, -1)
        return mean, F.softplus(raw).clamp(min=MIN_VARIANCE)

    def posterior(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of the product of the factors of the transitions ``context`` (M, N, C), over N."""
        mean, var = self(context)
        precision = var.reciprocal().sum(-2)
        posterior_var = precision.reciprocal()
        return posterior_var * (mean / var).sum(-2), posterior_var


class OnlineBelief:
    """The posterior of B trials, updated after each transition; the prior until the first one.

    Example:
        >>> belief = OnlineBelief(2, 3, torch.device("cpu"))
        >>> round(float(belief.entropy()[0]), 3)  # the prior N(0, I) in 3 dimensions
        4.257
        >>> belief.update(torch.ones(2, 3), torch.full((2, 3), 0.5))
        >>> belief.mean[0].tolist(), belief.var[0].tolist()
        ([1.0, 1.0, 1.0], [0.5, 0.5, 0.5])
    """

    def __init__(self, batch: int, latent: int, device: torch.device) -> None:
        self.precision = torch.zeros(batch, latent, device=device)
        self.weighted = torch.zeros(batch, latent, device=device)

    def update(self, mean: torch.Tensor, var: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """Multiply in one factor per trial (rows with ``mask`` False are left alone)."""
        precision = var.reciprocal()
        if mask is not None:
            precision = precision * mask.unsqueeze(-1)
        self.precision = self.precision + precision
        self.weighted = self.weighted + precision * mean

    @property
    def _seen(self) -> torch.Tensor:
        return self.precision.sum(-1, keepdim=True) > 0

    @property
    def var(self) -> torch.Tensor:
        return torch.where(self._seen, self.precision.clamp(min=MIN_VARIANCE).reciprocal(), 1.0)

    @property
    def mean(self) -> torch.Tensor:
        return torch.where(self._seen, self.weighted * self.var, 0.0)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.randn(self.precision.shape, generator=generator, device=self.precision.device)
        return self.mean + self.var.sqrt() * noise

    def entropy(self) -> torch.Tensor:
        """Differential entropy of each trial's belief, in nats, (B,)."""
        return gaussian_entropy(self.var)


def gaussian_entropy(var: torch.Tensor) -> torch.Tensor:
    """Entropy of diagonal Gaussians with variances ``var`` (..., d): 0.5 sum log(2 pi e var).

    Example:
        >>> round(float(gaussian_entropy(torch.ones(5))), 3)
        7.095
    """
    return 0.5 * (var.log() + math.log(2 * math.pi * math.e)).sum(-1)


def kl_to_prior(mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, var) || N(0, I)) of each row (..., d) -> (...).

    Example:
        >>> float(kl_to_prior(torch.zeros(2, 4), torch.ones(2, 4))[0])
        0.0
    """
    return 0.5 * (var + mean.square() - 1.0 - var.log()).sum(-1)


def sample_posterior(mean: torch.Tensor, var: torch.Tensor, generator: torch.Generator | None = None,
                     draw: Draw | None = None) -> torch.Tensor:
    """z = mean + sqrt(var) * noise, differentiable in ``mean`` and ``var`` (the reparameterisation trick);
    ``draw``: see :meth:`metarl.rl.heads.ActionHead.sample`."""
    noise = (draw or draw_whole)(torch.randn, mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    return mean + var.sqrt() * noise
