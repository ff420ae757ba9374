"""The RL² observation: what a recurrent meta-learner needs to infer the task within a trial.

Each observation is extended with the previous action (one-hot when discrete), the previous
reward and the previous inner-episode-end flag. All three are zero at the first step of a trial,
so nothing leaks from one task to the next.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np
import torch

from metarl.engine import BatchedEnv, Step
from metarl.errors import CheckpointError


class RL2Observation:
    """Wraps a :class:`BatchedEnv`; same interface, observations ``[obs, prev_action, prev_reward, prev_done]``.

    Example:
        >>> import metarl, torch
        >>> env = metarl.make("metarl/BernoulliBandit-v0", num_envs=2, arms=3, rl2=True, seed=0)
        >>> env.reset()
        tensor([[0., 0., 0., 0., 0., 0.],
                [0., 0., 0., 0., 0., 0.]])
    """

    def __init__(self, env: BatchedEnv) -> None:
        self.env = env
        action_space = env.single_action_space
        self._discrete = isinstance(action_space, gymnasium.spaces.Discrete)
        if self._discrete:
            act_low, act_high = np.zeros(action_space.n), np.ones(action_space.n)
            self._low = self._high = None
        else:  # a MultiBinary action is a box [0, 1]
            low = getattr(action_space, "low", np.zeros(action_space.shape, np.float32))
            high = getattr(action_space, "high", np.ones(action_space.shape, np.float32))
            act_low, act_high = low.ravel(), high.ravel()
            self._low = torch.as_tensor(low, device=env.device)
            self._high = torch.as_tensor(high, device=env.device)
        r_low, r_high = self._reward_bounds(env)
        obs_space = env.single_observation_space
        low = np.concatenate([obs_space.low.ravel(), act_low, [r_low, 0.0]]).astype(np.float32)
        high = np.concatenate([obs_space.high.ravel(), act_high, [r_high, 1.0]]).astype(np.float32)
        self.single_observation_space = gymnasium.spaces.Box(low, high, dtype=np.float32)
        self.extra_size = len(act_low) + 2
        self._last_extra: torch.Tensor | None = None  # what the latest observation appended, per env

    @staticmethod
    def _reward_bounds(env: BatchedEnv) -> tuple[float, float]:
        return env.reward_bounds()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def _extra(self, action: torch.Tensor, step: Step) -> torch.Tensor:
        if self._discrete:
            prev = torch.nn.functional.one_hot(action.long(), self.env.single_action_space.n).to(torch.float32)
        else:
            prev = torch.minimum(torch.maximum(action.to(torch.float32), self._low), self._high)
            prev = prev.reshape(self.env.num_envs, -1)
        flags = torch.stack([step.reward.to(torch.float32), step.episode_end.to(torch.float32)], 1)
        return torch.cat([prev, flags], 1)

    def reset(self, seed: int | None = None, task: Any = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        obs = self.env.reset(seed=seed, task=task, mask=mask).reshape(self.env.num_envs, -1)
        extra = torch.zeros(self.env.num_envs, self.extra_size, device=self.env.device)
        if mask is not None and self._last_extra is not None:
            extra = torch.where(torch.as_tensor(mask, device=self.env.device)[:, None], extra, self._last_extra)
        self._last_extra = extra
        return torch.cat([obs, extra], 1)

    def set_task(self, task: Any, mask: torch.Tensor | None = None) -> None:
        self.reset(task=task, mask=mask)

    def step(self, action: torch.Tensor) -> Step:
        if self.env.task is None:
            return self.env.step(action)  # raises the engine's "call reset() first"
        if self.env.check:
            action = self.env._checked_action(action)
        step = self.env._advance(action)
        extra = self._extra(action, step)
        final_obs = torch.cat([step.final_obs.reshape(self.env.num_envs, -1), extra], 1)
        if self.env.autoreset:
            extra = extra * (~step.trial_end).unsqueeze(1)
        self._last_extra = extra
        obs = torch.cat([step.obs.reshape(self.env.num_envs, -1), extra], 1)
        return step._replace(obs=obs, final_obs=final_obs)

    def state_dict(self) -> dict[str, Any]:
        """The wrapped env's :meth:`~metarl.engine.BatchedEnv.state_dict` and what the latest observation appended."""
        extra = None if self._last_extra is None else self._last_extra.clone()
        return {**self.env.state_dict(), "wrapper": {"_last_extra": extra}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a :meth:`state_dict` of a wrapper around an env made with the same id and arguments."""
        if "wrapper" not in state:
            raise CheckpointError(f"{self.env.id}: the saved environment state lacks the RL² observation's part")
        self.env.load_state_dict(state)
        extra = state["wrapper"].get("_last_extra")
        self._last_extra = None if extra is None else extra.to(self.env.device, copy=True)

    def __repr__(self) -> str:
        return f"<RL2Observation {self.env!r}>"
