"""The clipped-surrogate PPO loss (Schulman et al. 2017) with its diagnostics.

Every agent that does a PPO-style update calls :func:`ppo_loss`; the diagnostics (approximate KL,
clip fraction) are computed here once so their TensorBoard curves mean the same thing everywhere.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class PPOLoss(NamedTuple):
    """The total loss to minimise and its parts (detached, for logging)."""

    loss: torch.Tensor
    policy_loss: torch.Tensor
    value_loss: torch.Tensor
    entropy: torch.Tensor
    approx_kl: torch.Tensor
    clip_fraction: torch.Tensor


def ppo_loss(
    logprob: torch.Tensor,
    old_logprob: torch.Tensor,
    advantages: torch.Tensor,
    value: torch.Tensor,
    old_value: torch.Tensor,
    returns: torch.Tensor,
    entropy: torch.Tensor,
    clip: float = 0.2,
    value_clip: float | None = None,
    value_coef: float = 0.5,
    entropy_coef: float = 0.0,
) -> PPOLoss:
    """PPO loss over a minibatch of any shape (all arguments share it).

    ``approx_kl`` is the low-variance estimator mean((r - 1) - log r) of KL(old || new).
    ``value_clip`` clips the value change like the policy ratio (None: plain squared error).

    Example:
        >>> z = torch.zeros(4)
        >>> out = ppo_loss(z, z, torch.ones(4), z, z, torch.ones(4), z)
        >>> float(out.policy_loss), float(out.value_loss)
        (-1.0, 0.5)
    """
    log_ratio = logprob - old_logprob
    ratio = log_ratio.exp()
    unclipped = ratio * advantages
    clipped = ratio.clamp(1.0 - clip, 1.0 + clip) * advantages
    policy_loss = -torch.minimum(unclipped, clipped).mean()
    value_error = (value - returns).square()
    if value_clip is not None:
        value_clipped = old_value + (value - old_value).clamp(-value_clip, value_clip)
        value_error = torch.maximum(value_error, (value_clipped - returns).square())
    value_loss = 0.5 * value_error.mean()
    mean_entropy = entropy.mean()
    loss = policy_loss + value_coef * value_loss - entropy_coef * mean_entropy
    with torch.no_grad():
        approx_kl = ((ratio - 1.0) - log_ratio).mean()
        clip_fraction = ((ratio - 1.0).abs() > clip).float().mean()
    return PPOLoss(loss, policy_loss.detach(), value_loss.detach(), mean_entropy.detach(), approx_kl, clip_fraction)


def explained_variance(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """1 - Var(target - predicted) / Var(target): 1 is perfect, 0 is no better than a constant."""
    variance = target.var()
    if float(variance) == 0.0:
        return float("nan")
    return float(1.0 - (target - predicted).var() / variance)
