"""PPO's losses (Schulman et al. 2017), kept apart as CleanRL keeps ``pg_loss`` and ``v_loss``.

:func:`clipped_surrogate` is the policy part, with the diagnostics (approximate KL, clip fraction) computed
here once so their TensorBoard curves mean the same thing everywhere; :func:`value_loss` is the critic part.
An agent without a critic calls only the first; one with a critic adds the two (and its entropy bonus):

    >>> import torch
    >>> z = torch.zeros(4)
    >>> surrogate = clipped_surrogate(z, z, torch.ones(4))
    >>> loss = surrogate.loss + 0.5 * value_loss(z, z, torch.ones(4))
    >>> float(surrogate.loss), float(loss)
    (-1.0, -0.75)
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class Surrogate(NamedTuple):
    """The clipped surrogate to minimise (differentiable) and its diagnostics (detached, for logging)."""

    loss: torch.Tensor
    approx_kl: torch.Tensor
    clip_fraction: torch.Tensor


def clipped_surrogate(logprob: torch.Tensor, old_logprob: torch.Tensor, advantages: torch.Tensor,
                      clip: float = 0.2) -> Surrogate:
    """PPO's clipped policy loss -mean(min(r A, clip(r, 1 - clip, 1 + clip) A)) over a minibatch of any shape.

    ``approx_kl`` is the low-variance estimator mean((r - 1) - log r) of KL(old || new); ``clip_fraction`` the
    share of ratios outside the clip range.

    Example:
        >>> z = torch.zeros(4)
        >>> out = clipped_surrogate(z, z, torch.ones(4))
        >>> float(out.loss), float(out.approx_kl), float(out.clip_fraction)
        (-1.0, 0.0, 0.0)
    """
    log_ratio = logprob - old_logprob
    ratio = log_ratio.exp()
    unclipped = ratio * advantages
    clipped = ratio.clamp(1.0 - clip, 1.0 + clip) * advantages
    loss = -torch.minimum(unclipped, clipped).mean()
    with torch.no_grad():
        approx_kl = ((ratio - 1.0) - log_ratio).mean()
        clip_fraction = ((ratio - 1.0).abs() > clip).float().mean()
    return Surrogate(loss, approx_kl, clip_fraction)


def value_loss(value: torch.Tensor, old_value: torch.Tensor, returns: torch.Tensor,
               value_clip: float | None = None) -> torch.Tensor:
    """Half the mean squared error of ``value`` against ``returns`` (differentiable).

    ``value_clip`` clips the value change from ``old_value`` like the policy ratio and keeps the larger error
    (None: plain squared error).

    Example:
        >>> float(value_loss(torch.zeros(4), torch.zeros(4), torch.ones(4)))
        0.5
    """
    value_error = (value - returns).square()
    if value_clip is not None:
        value_clipped = old_value + (value - old_value).clamp(-value_clip, value_clip)
        value_error = torch.maximum(value_error, (value_clipped - returns).square())
    return 0.5 * value_error.mean()


def explained_variance(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """1 - Var(target - predicted) / Var(target): 1 is perfect, 0 is no better than a constant."""
    variance = target.var()
    if float(variance) == 0.0:
        return float("nan")
    return float(1.0 - (target - predicted).var() / variance)


__all__ = ["Surrogate", "clipped_surrogate", "explained_variance", "value_loss"]
