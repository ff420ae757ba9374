"""The 95% interval of a mean that every report in the project prints: 1.96 standard errors."""

from __future__ import annotations

import math

import torch


def mean_ci95(values: torch.Tensor, dim: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of ``values`` over ``dim`` and the half-width of its normal-approximation 95% interval, in float64.

    The half-width is NaN where fewer than two values are given.

    Example:
        >>> mean, half = mean_ci95(torch.tensor([1.0, 2.0, 3.0, 4.0]))
        >>> round(float(mean), 2), round(float(half), 3)
        (2.5, 1.265)
    """
    values = values.double()
    n = values.shape[dim]
    mean = values.mean(dim)
    if n < 2:
        return mean, torch.full_like(mean, math.nan)
    return mean, 1.96 * values.std(dim) / math.sqrt(n)


__all__ = ["mean_ci95"]
