"""The 95% intervals the project's reports print: of a mean (1.96 standard errors) and of a mean paired
difference (Student's t, for the few tasks or students a comparison of methods runs on)."""

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


T_975 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23, 11: 2.20,
         12: 2.18, 13: 2.16, 14: 2.14, 15: 2.13, 19: 2.09, 24: 2.06, 29: 2.05}
"""97.5% quantiles of Student's t by degrees of freedom (1.96 beyond the table)."""


def t_quantile(dof: int) -> float:
    """The 97.5% quantile of Student's t with ``dof`` degrees of freedom (from the table, rounded down)."""
    if dof < 1:
        return math.nan
    return T_975[max(k for k in T_975 if k <= dof)] if dof < 30 else 1.96


def paired_interval(differences: torch.Tensor) -> tuple[float, float]:
    """Mean and 95% half-width (Student's t) of paired differences (n,).

    Example:
        >>> paired_interval(torch.tensor([1.0, 3.0]))
        (2.0, 12.71)
    """
    d = differences.double()
    n = d.numel()
    if n < 2:
        return float(d.mean()), math.nan
    return float(d.mean()), t_quantile(n - 1) * float(d.std()) / math.sqrt(n)


__all__ = ["T_975", "mean_ci95", "paired_interval", "t_quantile"]
