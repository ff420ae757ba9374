"""Bernoulli multi-armed bandits (RL² paper, Table 1 setting)."""

from __future__ import annotations

import dataclasses

import gymnasium
import numpy as np
import torch

from metarl import random as mrandom
from metarl.engine import BatchedEnv
from metarl.params import Param
from metarl.tasks import Task


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
