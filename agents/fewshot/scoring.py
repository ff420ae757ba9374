"""Per-task losses and scores of few-shot episodes, adaptation by gradient steps, and 95% intervals.

Classification is recognised by integer targets (``(E, n)`` labels against ``(E, n, N)`` logits),
regression by float targets (``(E, n, d)`` against outputs of the same shape). Every function returns
one value per episode, so a meta-batch is a sum or mean over the episode dimension.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from metarl.fewshot import Episodes
from metarl.rl.functional import Params, adapt, per_task_call
from metarl.stats import mean_ci95


def is_classification(targets: torch.Tensor) -> bool:
    """Whether ``targets`` are class labels (integers) rather than regression values."""
    return not targets.is_floating_point()


def task_losses(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (labels) or mean squared error (values) of each episode: ``(E,)``.

    Example:
        >>> task_losses(torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.long))  # log 4 each
        tensor([1.3863, 1.3863])
        >>> task_losses(torch.ones(2, 5, 1), torch.zeros(2, 5, 1))
        tensor([1., 1.])
    """
    if is_classification(targets):
        return F.cross_entropy(outputs.flatten(0, 1), targets.flatten(), reduction="none").view(targets.shape).mean(1)
    return (outputs - targets).pow(2).flatten(1).mean(1)


def task_scores(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Accuracy (labels) or mean squared error (values) of each episode: ``(E,)``.

    Example:
        >>> task_scores(torch.tensor([[[2.0, 1.0], [0.0, 1.0]]]), torch.tensor([[0, 0]]))
        tensor([0.5000])
    """
    if is_classification(targets):
        return (outputs.argmax(-1) == targets).float().mean(1)
    return (outputs - targets).pow(2).flatten(1).mean(1)


def support_loss(module: nn.Module, support_x: torch.Tensor, support_y: torch.Tensor):
    """``loss_fn(params, k)`` for :func:`metarl.rl.functional.adapt`: the sum over episodes of the support loss.

    Example:
        >>> from metarl.rl import task_params
        >>> net, x, y = torch.nn.Linear(1, 1), torch.randn(3, 5, 1), torch.randn(3, 5, 1)  # 3 episodes of 5 examples
        >>> params = task_params(dict(net.named_parameters()), 3)
        >>> adapted = adapt(support_loss(net, x, y), params, [0.01])[-1]  # one step on each episode's support set
        >>> adapted["weight"].shape
        torch.Size([3, 1, 1])
    """

    def loss(params: Params, _step: int) -> torch.Tensor:
        return task_losses(per_task_call(module, params, support_x), support_y).sum()

    return loss


def scored_steps(steps: int) -> list[int]:
    """The gradient steps after which the query set is scored: every step up to 10, then every fifth, and the last.

    Example:
        >>> scored_steps(3), scored_steps(22)
        ([0, 1, 2, 3], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 22])
    """
    return sorted({*range(min(steps, 10) + 1), *range(0, steps + 1, 5), steps})


@torch.no_grad()
def adaptation_scores(module: nn.Module, params: Params, episodes: Episodes, step_sizes: Sequence[float]
                      ) -> torch.Tensor:
    """Query score of every episode after k gradient steps on its support set, for k in
    ``scored_steps(len(step_sizes))``: ``(E, number of scored steps)``.

    ``params``: task parameters (leading dimension E) of ``module``, or of the part of it being
    adapted when ``module`` is that part (e.g. a head on fixed embeddings). The whole batch adapts at
    once; only the current step's parameters are kept.

    Example:
        >>> from metarl.rl import task_params
        >>> net = torch.nn.Linear(1, 1)
        >>> ep = Episodes(torch.randn(4, 5, 1), torch.randn(4, 5, 1), torch.randn(4, 9, 1), torch.randn(4, 9, 1))
        >>> adaptation_scores(net, task_params(dict(net.named_parameters()), 4), ep, [0.1, 0.1]).shape
        torch.Size([4, 3])
    """
    loss = support_loss(module, episodes.support_x, episodes.support_y)
    scored = set(scored_steps(len(step_sizes)))
    scores = [task_scores(per_task_call(module, params, episodes.query_x), episodes.query_y)]
    for k, size in enumerate(step_sizes, start=1):
        params = adapt(loss, params, [size])[-1]
        if k in scored:
            scores.append(task_scores(per_task_call(module, params, episodes.query_x), episodes.query_y))
    return torch.stack(scores, 1)


def baseline_scores(episodes: Episodes) -> dict[str, torch.Tensor]:
    """Scores that need no learning, per episode: chance accuracy, or the MSE of predicting 0 and the support mean.

    Example:
        >>> ep = Episodes(torch.zeros(1, 2, 1), torch.ones(1, 2, 1), torch.zeros(1, 3, 1), torch.full((1, 3, 1), 3.0))
        >>> {k: v.tolist() for k, v in baseline_scores(ep).items()}
        {'predict 0': [9.0], 'predict the support mean': [4.0]}
    """
    if is_classification(episodes.query_y):
        ways = int(episodes.support_y.max()) + 1
        return {"chance": torch.full((episodes.batch_size,), 1.0 / ways)}
    mean = episodes.support_y.mean(1, keepdim=True).expand_as(episodes.query_y)
    return {"predict 0": task_scores(torch.zeros_like(episodes.query_y), episodes.query_y),
            "predict the support mean": task_scores(mean, episodes.query_y)}


@dataclasses.dataclass
class Scores:
    """Per-episode scores ``values (E, S)``, column j after ``steps[j]`` test-time gradient steps, with means and
    95% intervals; ``baselines`` maps a name to the ``(E,)`` scores of a baseline on the same episodes.

    Example:
        >>> s = Scores(torch.tensor([[0.5], [1.0]]))
        >>> s.means, [round(c, 3) for c in s.ci95], s.at(0)[0]
        ([0.75], [0.49], 0.75)
    """

    values: torch.Tensor
    baselines: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)
    steps: list[int] = dataclasses.field(default_factory=lambda: [0])

    def at(self, step: int) -> tuple[float, float]:
        """(mean, 95% half-width) after ``step`` gradient steps; a KeyError names the scored steps otherwise."""
        if step not in self.steps:
            raise KeyError(f"no scores after {step} steps; scored after {self.steps}")
        j = self.steps.index(step)
        return self.means[j], self.ci95[j]

    @property
    def means(self) -> list[float]:
        return mean_ci95(self.values)[0].tolist()

    @property
    def ci95(self) -> list[float]:
        """Half-width of the normal-approximation 95% interval of each mean (over episodes)."""
        return mean_ci95(self.values)[1].tolist()


def format_score(mean: float, ci95: float, classification: bool) -> str:
    """``"93.41% ± 0.52%"`` for an accuracy, ``"0.512 ± 0.031"`` for an MSE.

    Example:
        >>> format_score(0.93412, 0.0052, True), format_score(0.5123, 0.0311, False)
        ('93.41% ± 0.52%', '0.512 ± 0.031')
    """
    if classification:
        return f"{100 * mean:.2f}% ± {100 * ci95:.2f}%"
    return f"{mean:.3f} ± {ci95:.3f}"


__all__ = ["Scores", "adaptation_scores", "baseline_scores", "format_score", "is_classification", "scored_steps",
           "support_loss",
           "task_losses", "task_scores"]
