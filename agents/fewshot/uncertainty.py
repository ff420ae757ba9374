"""How well a probabilistic few-shot learner knows what it does not know: calibration and predictive figures.

Example:
    >>> round(expected_calibration_error(torch.tensor([0.9, 0.9]), torch.tensor([True, False]), bins=10), 6)
    0.4
"""

from __future__ import annotations

from typing import Any

import torch

from metarl.fewshot import Episodes


def expected_calibration_error(confidence: torch.Tensor, correct: torch.Tensor, bins: int = 15) -> float:
    """ECE: the mean over equal-width confidence bins of |accuracy - mean confidence|, weighted by the bin's share.

    ``confidence (n,)`` is the predicted class's probability, ``correct (n,)`` whether it was right (Guo et al.
    2017). 0 is perfectly calibrated.

    Example:
        >>> round(expected_calibration_error(torch.full((5,), 0.8), torch.tensor([1, 1, 1, 1, 0]).bool()), 6)
        0.0
        >>> round(expected_calibration_error(torch.full((5,), 0.99), torch.tensor([1, 1, 1, 1, 0]).bool()), 6)
        0.19
    """
    confidence = confidence.double()
    correct = correct.double()
    which = (confidence * bins).ceil().clamp(1, bins).long() - 1
    count = torch.zeros(bins, dtype=torch.float64).index_add_(0, which, torch.ones_like(confidence))
    gap = (torch.zeros(bins, dtype=torch.float64).index_add_(0, which, confidence - correct)).abs()
    return float(gap.sum() / count.sum().clamp(min=1))


def coverage(inside: torch.Tensor) -> float:
    """Share of points inside their predictive interval (``inside``: 1 or 0 per point).

    Example:
        >>> coverage(torch.tensor([1.0, 1.0, 0.0, 1.0]))
        0.75
    """
    return float(inside.float().mean())


def predictive_figure(episodes: Episodes, mean: torch.Tensor, half_width: torch.Tensor, title: str = "") -> Any:
    """One panel per regression task: the true function (its query points), the support points, the
    predictive mean and its interval ``mean ± half_width``.

    Example:
        >>> x = torch.linspace(-5, 5, 20).view(1, 20, 1)
        >>> ep = Episodes(x[:, :5], x[:, :5].sin(), x, x.sin())
        >>> fig = predictive_figure(ep, x.sin(), torch.full_like(x, 0.2))
    """
    from metarl.training.figures import blank_figure

    tasks = episodes.batch_size
    figure = blank_figure((3.2 * tasks, 3))
    axes = figure.subplots(1, tasks, squeeze=False)[0]
    for t, ax in enumerate(axes):
        order = episodes.query_x[t, :, 0].argsort()
        x = episodes.query_x[t, order, 0].cpu()
        m, h = mean[t, order, 0].cpu(), half_width[t, order, 0].cpu()
        ax.plot(x, episodes.query_y[t, order, 0].cpu(), color="black", linewidth=1, label="true function")
        ax.plot(x, m, color="tab:blue", label="predictive mean")
        ax.fill_between(x, m - h, m + h, color="tab:blue", alpha=0.25, label="90% interval")
        ax.scatter(episodes.support_x[t, :, 0].cpu(), episodes.support_y[t, :, 0].cpu(), color="tab:red", s=14,
                   zorder=3, label="support")
    axes[0].legend(fontsize=7)
    if title:
        figure.suptitle(title, fontsize=9)
    return figure


__all__ = ["coverage", "expected_calibration_error", "predictive_figure"]
