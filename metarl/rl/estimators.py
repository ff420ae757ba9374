"""Gradient estimators for objectives that cannot be differentiated: REINFORCE with a leave-one-out baseline
and antithetic evolution strategies, shared by the learned optimizer and the learned teacher.

Both are plain functions of tensors, so their unbiasedness is checked on toy objectives with a known
gradient (``tests/test_learned_optimizer.py``), and the trainers call exactly the same code.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def gaussian_log_prob(sample: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """Elementwise log-density of ``sample`` under N(mean, exp(log_std)^2).

    Example:
        >>> float(gaussian_log_prob(torch.zeros(1), torch.zeros(1), torch.zeros(())))  # -log sqrt(2 pi)
        -0.9189385175704956
    """
    z = (sample - mean) * torch.exp(-log_std)
    return -0.5 * z.square() - log_std - 0.5 * math.log(2 * math.pi)


def leave_one_out_advantages(scores: torch.Tensor) -> torch.Tensor:
    """``scores (G, S)`` (S >= 2 samples of each of G groups) minus the mean of the other samples of their group.

    The baseline of a sample does not depend on it, so the score-function estimator stays unbiased.

    Example:
        >>> leave_one_out_advantages(torch.tensor([[1.0, 3.0]]))
        tensor([[-2.,  2.]])
    """
    samples = scores.shape[1]
    others = (scores.sum(1, keepdim=True) - scores) / (samples - 1)
    return scores - others


def reinforce_surrogate(log_prob: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """A scalar whose gradient is the REINFORCE estimate of the gradient of E[score].

    ``log_prob (G, S)``: log-probability of each sample's whole trajectory (differentiable); ``scores (G, S)``:
    what each sample achieved (constants). Uses the leave-one-out baseline within each group (samples of the
    same task), so the estimate is unbiased.

    Example:
        >>> mu = torch.zeros(1, requires_grad=True)
        >>> x = torch.tensor([[0.5, -0.5]])
        >>> reinforce_surrogate(gaussian_log_prob(x, mu, torch.zeros(())), x.square()).backward()
    """
    advantages = leave_one_out_advantages(scores.detach())
    return (log_prob * advantages).mean()


def antithetic_gradient(objective: Callable[[torch.Tensor], torch.Tensor], center: torch.Tensor, sigma: float,
                        pairs: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Antithetic evolution-strategies estimate of the gradient of E[objective(center + sigma * eps)].

    ``objective`` maps a population ``(P, D)`` to values ``(P,)``; it is called once, with the ``pairs`` points
    ``center + sigma * eps`` followed by their mirror images. Returns (gradient (D,), values (P,)). For a
    quadratic objective the smoothed gradient is the true gradient.

    Example:
        >>> grad, _ = antithetic_gradient(lambda p: p.square().sum(1), torch.ones(3), 0.1, 64,
        ...                               torch.Generator().manual_seed(0))
        >>> grad.shape
        torch.Size([3])
    """
    eps = torch.randn(pairs, center.numel(), generator=generator).to(center.device)
    values = objective(torch.cat([center + sigma * eps, center - sigma * eps]))
    difference = values[:pairs] - values[pairs:]
    return (difference.unsqueeze(1) * eps).sum(0) / (2.0 * sigma * pairs), values


def population_parameters(params: dict[str, torch.Tensor], vectors: torch.Tensor) -> dict[str, torch.Tensor]:
    """``params`` shaped like the module's, from population vectors ``(P, D)`` (leading dimension P on each).

    Example:
        >>> params = {"w": torch.zeros(2, 3), "b": torch.zeros(2)}
        >>> population_parameters(params, torch.zeros(4, 8))["w"].shape
        torch.Size([4, 2, 3])
    """
    out, first = {}, 0
    for name, p in params.items():
        out[name] = vectors[:, first : first + p.numel()].reshape(vectors.shape[0], *p.shape)
        first += p.numel()
    return out


__all__ = ["antithetic_gradient", "gaussian_log_prob", "leave_one_out_advantages", "population_parameters",
           "reinforce_surrogate"]
