"""The VariBAD paper's gridworld: find a hidden goal cell, then return to it in the trial's later episodes.

Zintgraf et al. 2020, "VariBAD: A Very Good Method for Bayes-Adaptive Deep RL via Meta-Learning", ICLR 2020,
section 5.1: a 5x5 grid, the agent starts in the bottom-left corner, the goal lies in one of the cells that are
not the start or next to it (21 cells), each step that ends off the goal costs 0.1 and each that ends on it
earns 1, an episode is 15 steps and a trial 4 episodes of the same goal. The goal is not observed: the agent
sees only its own cell, so it must search in the first episode and go straight back in the later ones.
"""

from __future__ import annotations

import dataclasses
import functools

import gymnasium
import numpy as np
import torch

from metarl import random as mrandom
from metarl.engine import BatchedEnv, Step
from metarl.params import Param
from metarl.solvers import register_solver
from metarl.tasks import Task

MOVES = ((0, 0), (0, 1), (1, 0), (0, -1), (-1, 0))
"""(dx, dy) of each action: stay, up, right, down, left."""

GOAL_REWARD, STEP_COST = 1.0, -0.1

PAPER_EPISODE_RETURNS = {
    "source": "Zintgraf et al. 2020 (VariBAD), ICLR 2020, section 5.1 and Figure 3",
    "text": "the paper shows the return per episode only as a figure, with variBAD close to its Bayes-optimal "
            "agent: searching in episode 1, going straight to the goal from episode 2 on",
}
"""What the VariBAD paper reports for this gridworld. It prints no numbers, so ours are set beside the
``search`` solver, which behaves the way the paper's Bayes-optimal agent does."""


@dataclasses.dataclass
class GoalGridTask(Task):
    """``goal`` (B, 2) int64: the (x, y) cell of the hidden goal."""

    goal: torch.Tensor


def goal_cells(cells: int) -> torch.Tensor:
    """(G, 2) every cell a goal may occupy: all but the start (0, 0) and the three cells next to it.

    Example:
        >>> goal_cells(5).shape
        torch.Size([21, 2])
    """
    xy = torch.cartesian_prod(torch.arange(cells), torch.arange(cells))
    return xy[(xy[:, 0] > 1) | (xy[:, 1] > 1)]


class GoalGrid(BatchedEnv):
    """A ``cells`` x ``cells`` grid with a hidden goal; reward 1 for a step that ends on it, -0.1 otherwise.

    The observation is the agent's own cell (x, y); the episode never ends early (on the goal the agent stays
    with action 0 and keeps earning), every episode starts again at (0, 0).

    Example:
        >>> import metarl, torch
        >>> env = metarl.make("metarl/GoalGrid-v0", num_envs=2, seed=0)
        >>> env.reset()
        tensor([[0., 0.],
                [0., 0.]])
        >>> env.step(torch.tensor([1, 2])).obs  # up, right
        tensor([[0., 1.],
                [1., 0.]])
    """

    family = "GoalGrid"
    description = "5x5 gridworld with a hidden goal, 4 episodes of 15 steps per trial (VariBAD)"
    source = "Zintgraf et al. 2020 (VariBAD), section 5.1"
    params = {
        "cells": Param(5, low=3, high=100, doc="width and height of the grid"),
        "horizon": Param(15, low=1, high=100_000, doc="steps per inner episode"),
        "episodes": Param(4, low=1, high=100_000, doc="inner episodes per trial"),
    }
    task_type = GoalGridTask
    can_terminate = False
    state_attributes = ("_position",)

    @staticmethod
    def published_episode_returns(config: dict) -> dict | None:
        """The VariBAD paper's return per inner episode on its gridworld, for that setting only, else None."""
        if (config["cells"], config["horizon"], config["episodes"]) != (5, 15, 4):
            return None
        return PAPER_EPISODE_RETURNS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._moves = torch.tensor(MOVES, device=self.device)
        self._goals = goal_cells(self.config["cells"]).to(self.device)
        self._position = torch.zeros(self.num_envs, 2, dtype=torch.int64, device=self.device)

    def _trial_shape(self) -> tuple[int, int]:
        return self.config["horizon"], self.config["episodes"]

    def _spaces(self) -> tuple[gymnasium.Space, gymnasium.Space]:
        obs = gymnasium.spaces.Box(0.0, float(self.config["cells"] - 1), (2,), np.float32)
        return obs, gymnasium.spaces.Discrete(len(MOVES))

    def task_shapes(self, batch: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        return {"goal": ((batch, 2), torch.int64)}

    def tasks_from_keys(self, keys: torch.Tensor, split: str) -> GoalGridTask:
        index = (mrandom.lanes(keys, 1)[:, 0] * len(self._goals)).long().clamp_(max=len(self._goals) - 1)
        return GoalGridTask(goal=self._goals.index_select(0, index))

    def _task_error(self, task: GoalGridTask) -> str | None:
        goal = task.goal
        if bool(((goal < 0) | (goal >= self.config["cells"])).any()):
            return f"task field 'goal' must hold cells (x, y) in [0, {self.config['cells'] - 1}]"
        return None

    def reward_bounds(self) -> tuple[float, float]:
        return STEP_COST, GOAL_REWARD

    def _start_episode(self, mask: torch.Tensor | None) -> None:
        if mask is None:
            self._position = torch.zeros_like(self._position)
        else:
            self._position = self._position.masked_fill(mask.unsqueeze(1), 0)

    def _transition(self, action: torch.Tensor, u: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        self._position = (self._position + self._moves.index_select(0, action)).clamp_(0, self.config["cells"] - 1)
        on_goal = (self._position == self.task.goal).all(1)
        return torch.where(on_goal, GOAL_REWARD, STEP_COST), None

    def _observe(self) -> torch.Tensor:
        return self._position.to(torch.float32)

    @property
    def position(self) -> torch.Tensor:
        """(B, 2) int64 the agent's cell."""
        return self._position


def _toward(position: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The action that takes one step from ``position`` toward ``target`` (both (B, 2)): x first, then y."""
    dx, dy = (target - position).sign().unbind(1)
    action = torch.zeros_like(dx)
    action = torch.where(dy > 0, 1, action)
    action = torch.where(dy < 0, 3, action)
    action = torch.where(dx > 0, 2, action)
    return torch.where(dx < 0, 4, action)


class GoalGridSolver:
    """A reference policy of the gridworld.

    ``oracle`` is told the goal and walks straight to it; ``search`` walks to the nearest cell that may still
    hold the goal (ruling out every cell it has stood on) until it finds it, then returns to it in every later
    episode: the shape of the Bayes-optimal behaviour the paper describes; ``random`` moves at random.
    """

    def __init__(self, kind: str, env: GoalGrid, generator: torch.Generator | None) -> None:
        self.kind, self.env, self.generator = kind, env, generator
        cells = goal_cells(env.config["cells"]).to(env.device)
        self.cells = cells
        self.possible = torch.ones(env.num_envs, len(cells), dtype=torch.bool, device=env.device)
        self.found = torch.zeros(env.num_envs, 2, dtype=torch.int64, device=env.device)
        self.known = torch.zeros(env.num_envs, dtype=torch.bool, device=env.device)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        env = self.env
        if self.kind == "random":
            return env.sample_actions(self.generator).to(env.device)
        if self.kind == "oracle":
            return _toward(env.position, env.task.goal)
        distance = (self.cells.unsqueeze(0) - env.position.unsqueeze(1)).abs().sum(-1)
        distance = distance.masked_fill(~self.possible, 10**6)
        nearest = self.cells.index_select(0, distance.argmin(1))
        return _toward(env.position, torch.where(self.known.unsqueeze(1), self.found, nearest))

    def observe(self, action: torch.Tensor, step: Step) -> None:
        position = step.final_obs.long()
        here = (self.cells.unsqueeze(0) == position.unsqueeze(1)).all(-1)
        on_goal = step.reward > 0
        self.possible &= ~here
        self.found = torch.where(on_goal.unsqueeze(1), position, self.found)
        self.known |= on_goal


for _kind in ("random", "search", "oracle"):
    register_solver(GoalGrid, _kind, functools.partial(GoalGridSolver, _kind))
