"""Random tabular MDPs (RL² paper, Table 2 setting)."""

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
class TabularTask(Task):
    """``transitions`` (B, S, A, S) next-state probabilities; ``reward_mean`` (B, S, A)."""

    transitions: torch.Tensor
    reward_mean: torch.Tensor


class TabularMDP(BatchedEnv):
    """MDPs with flat-Dirichlet transitions and N(1, 1) reward means; rewards add unit Gaussian noise.

    Every inner episode starts in state 0 and lasts ``horizon`` steps; a trial is ``episodes``
    inner episodes of the same MDP. Observations are one-hot states.

    Example:
        >>> import metarl, torch
        >>> env = metarl.make("metarl/TabularMDP-v0", num_envs=2, episodes=10, seed=0)
        >>> env.reset().shape
        torch.Size([2, 10])
    """

    family = "TabularMDP"
    description = "random MDPs: Dirichlet(1) transitions, N(1,1) reward means, n episodes per trial"
    source = "Duan et al. 2016 (RL²), Table 2"
    state_attributes = ("_state",)
    params = {
        "states": Param(10, low=1, high=1000, doc="number of states |S|"),
        "actions": Param(5, low=1, high=1000, doc="number of actions |A|"),
        "horizon": Param(10, low=1, high=100_000, doc="steps per inner episode"),
        "episodes": Param(10, low=1, high=100_000, doc="inner episodes per trial"),
    }
    task_type = TabularTask
    uniforms_per_step = 2
    can_terminate = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        S, A = self.config["states"], self.config["actions"]
        self._row_base = torch.arange(self.num_envs, device=self.device) * (S * A)
        self._state = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)
        self._one_hot = torch.eye(S, device=self.device)

    def _trial_shape(self) -> tuple[int, int]:
        return self.config["horizon"], self.config["episodes"]

    def _spaces(self) -> tuple[gymnasium.Space, gymnasium.Space]:
        obs = gymnasium.spaces.Box(0.0, 1.0, (self.config["states"],), np.float32)
        return obs, gymnasium.spaces.Discrete(self.config["actions"])

    def task_shapes(self, batch: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        S, A = self.config["states"], self.config["actions"]
        return {"transitions": ((batch, S, A, S), torch.float32), "reward_mean": ((batch, S, A), torch.float32)}

    def tasks_from_keys(self, keys: torch.Tensor, split: str) -> TabularTask:
        S, A = self.config["states"], self.config["actions"]
        transitions = mrandom.dirichlet_from_uniform(mrandom.lanes(keys, S * A * S).view(-1, S, A, S))
        reward_mean = mrandom.normal_from_uniform(mrandom.lanes(keys, S * A, start=S * A * S)).add_(1.0)
        return TabularTask(transitions=transitions, reward_mean=reward_mean.view(-1, S, A))

    def _task_error(self, task: TabularTask) -> str | None:
        if bool((task.transitions < 0).any()) or not torch.allclose(
            task.transitions.sum(-1), torch.ones((), device=self.device), atol=1e-4
        ):
            return "task field 'transitions' must be non-negative with rows summing to 1 over the last axis"
        return None

    def _start_episode(self, mask: torch.Tensor | None) -> None:
        self._state = torch.zeros_like(self._state) if mask is None else self._state.masked_fill(mask, 0)

    def _transition(self, action: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        S, A = self.config["states"], self.config["actions"]
        row = self._row_base + self._state * A + action
        cdf = self.task.transitions.view(-1, S).index_select(0, row).cumsum_(1)
        next_state = torch.searchsorted(cdf, u[0].unsqueeze(1)).squeeze(1).clamp_max_(S - 1)
        reward = self.task.reward_mean.view(-1).take(row) + u[1]
        self._state = next_state
        return reward, None

    def _observe(self) -> torch.Tensor:
        return self._one_hot.index_select(0, self._state)

    def _step_noise(self, u: torch.Tensor) -> torch.Tensor:
        u[:, 1] = mrandom.normal_from_uniform(u[:, 1])  # lane 1 is the reward noise
        return u

    @property
    def state(self) -> torch.Tensor:
        """Current state index of each environment, (B,) int64."""
        return self._state
