"""Figures logged to TensorBoard (matplotlib, drawn off-screen): the scaffolding every agent's figure shares.

:func:`blank_figure` sets matplotlib up once; :func:`method_curves_figure` draws a learned method beside its
baselines; :func:`adaptation_figure` draws a meta-RL agent's adaptation within a trial.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch


def blank_figure(size: tuple[float, float]) -> Any:
    """An empty matplotlib ``Figure`` of ``size`` inches, constrained layout, on the off-screen Agg backend.

    Example:
        >>> axes = blank_figure((6, 4)).subplots()
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def method_curves_figure(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], xlabel: str, ylabel: str,
                         title: str = "", highlight: str = "learned", log_y: bool = False,
                         reference: float | None = None) -> Any:
    """One curve ``(x, y)`` per method, labelled by its key; the ``highlight`` method drawn bold.

    ``log_y`` puts the y axis on a log scale; ``reference`` draws a dotted horizontal line (a target).

    Example:
        >>> fig = method_curves_figure({"learned": ([0, 1], [1.0, 0.1]), "adam": ([0, 1], [1.0, 0.5])},
        ...                            "step", "loss", log_y=True)
    """
    figure = blank_figure((6, 4))
    axes = figure.subplots()
    for label, (x, y) in curves.items():
        axes.plot(x, y, label=label, linewidth=2.5 if label == highlight else 1.2)
    if log_y:
        axes.set_yscale("log")
    if reference is not None:
        axes.axhline(reference, color="grey", linestyle=":", linewidth=1)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.legend()
    if title:
        axes.set_title(title, fontsize=9)
    return figure


def adaptation_figure(episode_returns: torch.Tensor, step_rewards: torch.Tensor, title: str = "") -> Any:
    """Two panels: mean return of each inner episode of a trial, and mean reward at each step of a trial.

    Both rise within a trial when the agent adapts to its task.

    Example:
        >>> fig = adaptation_figure(torch.tensor([1.0, 2.0]), torch.rand(20))
    """
    figure = blank_figure((8, 3))
    left, right = figure.subplots(1, 2)
    episodes = torch.arange(1, len(episode_returns) + 1)
    left.plot(episodes.numpy(), episode_returns.numpy(), marker="o")
    left.set_xlabel("inner episode of the trial")
    left.set_ylabel("mean return")
    right.plot(torch.arange(1, len(step_rewards) + 1).numpy(), step_rewards.numpy())
    right.set_xlabel("step of the trial")
    right.set_ylabel("mean reward")
    if title:
        figure.suptitle(title)
    return figure


__all__ = ["adaptation_figure", "blank_figure", "method_curves_figure"]
