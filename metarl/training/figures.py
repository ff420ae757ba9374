"""Figures logged to TensorBoard (matplotlib, drawn off-screen)."""

from __future__ import annotations

from typing import Any

import torch


def adaptation_figure(episode_returns: torch.Tensor, step_rewards: torch.Tensor, title: str = "") -> Any:
    """Two panels: mean return of each inner episode of a trial, and mean reward at each step of a trial.

    Both rise within a trial when the agent adapts to its task.

    Example:
        >>> fig = adaptation_figure(torch.tensor([1.0, 2.0]), torch.rand(20))
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3), layout="constrained")
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
