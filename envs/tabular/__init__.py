"""Random tabular MDPs (RL² paper, Table 2 setting), their reference solvers and published scores.

Published scores: Duan et al. 2016, "RL²: Fast Reinforcement Learning via Slow Reinforcement Learning",
arXiv:1611.02779, Table 2 (|S| = 10, |A| = 5, H = 10).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import gymnasium
import numpy as np
import torch
from metarl.envs.tabular.solvers import TABULAR_POLICIES, PSRLPolicy

from metarl import random as mrandom
from metarl.engine import BatchedEnv, Step
from metarl.params import Param
from metarl.solvers import register_solver
from metarl.tasks import Task

MDP_COLUMNS = ("random", "psrl", "opsrl", "ucrl2", "beb", "epsilon-greedy", "greedy", "rl2")

RL2_TABLE2: dict[int, dict[str, float]] = {
    n: dict(zip(MDP_COLUMNS, values, strict=True))
    for n, values in {
        10: (100.1, 138.1, 144.1, 146.6, 150.2, 132.8, 134.8, 156.2),
        25: (250.2, 408.8, 425.2, 424.1, 427.8, 377.3, 368.8, 445.7),
        50: (499.7, 904.4, 930.7, 918.9, 917.8, 823.3, 769.3, 936.1),
        75: (749.9, 1417.1, 1449.2, 1427.6, 1422.6, 1293.9, 1172.9, 1428.8),
        100: (999.4, 1939.5, 1973.9, 1942.1, 1935.1, 1778.2, 1578.5, 1913.7),
    }.items()
}
"""RL² Table 2, keyed by episodes per trial n (|S| = 10, |A| = 5, H = 10)."""


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

    @staticmethod
    def published_scores(config: dict) -> dict[str, float]:
        """RL² Table 2's column values for ``config``'s episodes (see :mod:`metarl.published`).

        ``psrl-n01`` (PSRL with a zero-mean reward prior) is scored against the published PSRL column.
        """
        if (config["states"], config["actions"], config["horizon"]) != (10, 5, 10):
            return {}
        scores = RL2_TABLE2.get(config["episodes"], {})
        return {**scores, "psrl-n01": scores["psrl"]} if scores else {}

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


class TabularSolver:
    """A tabular MDP policy as a reference solver, fed with states, actions, rewards and next states."""

    def __init__(self, cls: Callable, env: TabularMDP, generator: torch.Generator | None) -> None:
        cfg, B = env.config, env.num_envs
        self.env = env
        self.policy = cls(cfg["states"], cfg["actions"], cfg["horizon"], B, device=env.device, generator=generator)
        if hasattr(self.policy, "set_task"):  # the oracle is told the MDPs of this trial
            self.policy.set_task(env.task.transitions, env.task.reward_mean)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        self.state = self.env.state.clone()
        return self.policy.act(self.state, self.env.episode_step)

    def observe(self, action: torch.Tensor, step: Step) -> None:
        next_state = step.final_obs.argmax(1)  # before any restart at an episode end
        self.policy.update(self.state, action, step.reward, next_state, step.episode_end, step.trial_end)


# The published PSRL column matches a zero-mean reward prior (the true prior is N(1, 1)).
for _name, _policy in {**TABULAR_POLICIES, "psrl-n01": functools.partial(PSRLPolicy, reward_prior_mean=0.0)}.items():
    register_solver(TabularMDP, _name, functools.partial(TabularSolver, _policy))
