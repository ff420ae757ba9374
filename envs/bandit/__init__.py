"""Bernoulli multi-armed bandits (RL² paper, Table 1 setting), their reference solvers and published scores.

Published scores: Duan et al. 2016, "RL²: Fast Reinforcement Learning via Slow Reinforcement Learning",
arXiv:1611.02779, Table 1 (score = total reward per trial, 1000 instances).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import gymnasium
import numpy as np
import torch
from metarl.envs.bandit.solvers import BANDIT_POLICIES

from metarl import random as mrandom
from metarl.engine import BatchedEnv, Step
from metarl.params import Param
from metarl.solvers import register_solver
from metarl.tasks import Task

BANDIT_COLUMNS = ("random", "gittins", "thompson", "ots", "ucb1", "epsilon-greedy", "greedy", "rl2")

RL2_TABLE1: dict[tuple[int, int], dict[str, float]] = {
    (n, k): dict(zip(BANDIT_COLUMNS, values, strict=True))
    for (n, k), values in {
        (10, 5): (5.0, 6.6, 5.7, 6.5, 6.7, 6.6, 6.6, 6.7),
        (10, 10): (5.0, 6.6, 5.5, 6.2, 6.7, 6.6, 6.6, 6.7),
        (10, 50): (5.1, 6.5, 5.2, 5.5, 6.6, 6.5, 6.5, 6.8),
        (100, 5): (49.9, 78.3, 74.7, 77.9, 78.0, 75.4, 74.8, 78.7),
        (100, 10): (49.9, 82.8, 76.7, 81.4, 82.4, 77.4, 77.1, 83.5),
        (100, 50): (49.8, 85.2, 64.5, 67.7, 84.3, 78.3, 78.0, 84.9),
        (500, 5): (249.8, 405.8, 402.0, 406.7, 405.8, 388.2, 380.6, 401.6),
        (500, 10): (249.0, 437.8, 429.5, 438.9, 437.1, 408.0, 395.0, 432.5),
        (500, 50): (249.6, 463.7, 427.2, 437.6, 457.6, 413.6, 402.8, 438.9),
    }.items()
}
"""RL² Table 1, keyed by (pulls n, arms k)."""


@dataclasses.dataclass
class BanditTask(Task):
    """Success probability of each arm, ``probs`` (B, arms)."""

    probs: torch.Tensor


class BernoulliBandit(BatchedEnv):
    """k arms with success probabilities drawn U[0, 1] per task; a trial is ``pulls`` pulls.

    The observation carries no information (a constant zero): everything the agent can learn about
    the task comes from its actions and rewards, which the RL² view appends. A trial is one inner
    episode of ``pulls`` steps that ends by truncation.

    Example:
        >>> import metarl, torch
        >>> env = metarl.make("metarl/BernoulliBandit-v0", num_envs=4, arms=10, pulls=10, seed=0)
        >>> _ = env.reset()
        >>> env.step(torch.zeros(4, dtype=torch.int64)).reward.shape
        torch.Size([4])
    """

    family = "BernoulliBandit"
    description = "k-armed Bernoulli bandit, arm means U[0,1] per task, n pulls per trial"
    source = "Duan et al. 2016 (RL²), Table 1"
    params = {
        "arms": Param(5, low=1, high=100_000, doc="number of arms k"),
        "pulls": Param(100, low=1, high=10_000_000, doc="pulls n per trial"),
    }
    task_type = BanditTask
    uniforms_per_step = 1
    can_terminate = False

    @staticmethod
    def published_scores(config: dict) -> dict[str, float]:
        """RL² Table 1's column values for ``config``'s pulls and arms (see :mod:`metarl.published`)."""
        return RL2_TABLE1.get((config["pulls"], config["arms"]), {})

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._row_base = torch.arange(self.num_envs, device=self.device) * self.config["arms"]

    def _trial_shape(self) -> tuple[int, int]:
        return self.config["pulls"], 1

    def _spaces(self) -> tuple[gymnasium.Space, gymnasium.Space]:
        obs = gymnasium.spaces.Box(0.0, 1.0, (1,), np.float32)
        return obs, gymnasium.spaces.Discrete(self.config["arms"])

    def task_shapes(self, batch: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        return {"probs": ((batch, self.config["arms"]), torch.float32)}

    def tasks_from_keys(self, keys: torch.Tensor, split: str) -> BanditTask:
        return BanditTask(probs=mrandom.lanes(keys, self.config["arms"]))

    def _task_error(self, task: BanditTask) -> str | None:
        if bool(((task.probs < 0) | (task.probs > 1)).any()):
            return "task field 'probs' must lie in [0, 1]"
        return None

    def reward_bounds(self) -> tuple[float, float]:
        return 0.0, 1.0

    def _start_episode(self, mask: torch.Tensor | None) -> None:
        pass

    def _transition(self, action: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.task.probs.view(-1).take(self._row_base + action)
        return (u[0] < p).to(torch.float32), None

    def _observe(self) -> torch.Tensor:
        return torch.zeros(self.num_envs, 1, device=self.device)


class BanditSolver:
    """A bandit policy as a reference solver: it sees only its own pulls and rewards."""

    def __init__(self, cls: Callable, env: BatchedEnv, generator: torch.Generator | None) -> None:
        cfg = env.config
        self.policy = cls(cfg["arms"], cfg["pulls"], env.num_envs, device=env.device, generator=generator)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return self.policy.act()

    def observe(self, action: torch.Tensor, step: Step) -> None:
        self.policy.update(action, step.reward, step.trial_end)


for _name, _policy in BANDIT_POLICIES.items():
    register_solver(BernoulliBandit, _name, functools.partial(BanditSolver, _policy))
