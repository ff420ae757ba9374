"""Gymnasium views of a batched family: a vector env and a single env, numpy in and out.

In both views one Gymnasium episode is one *trial*: ``terminated`` / ``truncated`` are reported
when the trial's last inner episode ends (by a terminal state, or by its time limit). Inner
episode ends are in ``info["episode_end"]``. Inputs are always checked here.

Example:
    >>> import gymnasium, metarl
    >>> envs = gymnasium.make_vec("metarl/BernoulliBandit-v0", num_envs=4, arms=5, pulls=10)
    >>> obs, info = envs.reset(seed=0)
    >>> obs.shape
    (4, 1)
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from metarl.checks import as_action_tensor, check_seed
from metarl.errors import BadArgumentError, MetaRLError


def _numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy()


class VectorView(VectorEnv):
    """``num_envs`` environments of one family as a Gymnasium vector env (numpy arrays).

    ``autoreset_mode`` is ``"NextStep"`` (default), ``"SameStep"`` or ``"Disabled"``. Options of
    ``reset``: ``{"task": ...}`` imposes tasks (a task dataclass or a dict of arrays with leading
    dimension ``num_envs``); ``{"reset_mask": m}`` restarts only environments where ``m`` is true
    (the way to restart finished trials in the Disabled mode).
    """

    def __init__(
        self,
        env_id: str,
        num_envs: int = 1,
        device: str = "cpu",
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        rl2: bool = False,
        split: str = "train",
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        from metarl.registry import make

        try:
            mode = AutoresetMode(autoreset_mode)
        except ValueError as exc:
            valid = [m.value for m in AutoresetMode]
            raise BadArgumentError(f"{env_id}: autoreset_mode must be one of {valid}, got {autoreset_mode!r}") from exc
        self.env = make(env_id, num_envs=num_envs, device=device, seed=seed, split=split, rl2=rl2, check=True, **kwargs)
        self.env.autoreset = mode == AutoresetMode.SAME_STEP
        self.num_envs = num_envs
        self.metadata = {"autoreset_mode": mode, "render_modes": []}
        self.single_observation_space = self.env.single_observation_space
        self.single_action_space = self.env.single_action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._ended = np.zeros(num_envs, dtype=bool)

    @property
    def autoreset_mode(self) -> AutoresetMode:
        return self.metadata["autoreset_mode"]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        options = dict(options or {})
        unknown = set(options) - {"task", "reset_mask"}
        if unknown:
            raise BadArgumentError(f"{self.env.id}: unknown reset options {sorted(unknown)}; use 'task', 'reset_mask'")
        mask = options.get("reset_mask")
        if mask is not None:
            mask = np.asarray(mask)
            if mask.dtype != bool or mask.shape != (self.num_envs,):
                raise BadArgumentError(
                    f"{self.env.id}: reset_mask must be a bool array of shape ({self.num_envs},), "
                    f"got {mask.dtype} {mask.shape}"
                )
        task = options.get("task")
        if mask is not None and seed is None and self.env.task is not None:
            obs = self.env.reset(task=task, mask=torch.as_tensor(mask, device=self.env.device))
            self._ended &= ~mask
        else:
            obs = self.env.reset(seed=seed, task=task)  # checks every argument before changing anything
            self._ended[:] = False
        if seed is not None:
            super().reset(seed=seed)
        return _numpy(obs), {}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        if self.env.task is None:
            raise MetaRLError(f"{self.env.id}: call reset() before step()")
        mode = self.autoreset_mode
        if mode == AutoresetMode.DISABLED and self._ended.any():
            raise MetaRLError(
                f"{self.env.id}: environments {np.flatnonzero(self._ended).tolist()} finished their trial; "
                "restart them with reset(options={'reset_mask': mask}) before stepping (autoreset is Disabled)"
            )
        actions = as_action_tensor(actions, self.env.device, env_id=self.env.id)
        if mode == AutoresetMode.NEXT_STEP and self._ended.any():
            actions = self._with_valid_rows(actions, self._ended)
        step = self.env.step(actions)
        trial_end = _numpy(step.trial_end)
        terminated = trial_end & _numpy(step.terminated)
        truncated = trial_end & ~terminated
        obs, reward = _numpy(step.obs), _numpy(step.reward).astype(np.float64)
        info: dict[str, Any] = {"episode_end": _numpy(step.episode_end), "_episode_end": np.ones(self.num_envs, bool)}
        if mode == AutoresetMode.NEXT_STEP:
            obs = _numpy(step.final_obs)
            if self._ended.any():
                restarted = torch.as_tensor(self._ended, device=self.env.device)
                obs[self._ended] = _numpy(self.env.reset(mask=restarted))[self._ended]
                reward[self._ended] = 0.0
                for flags in (terminated, truncated, info["episode_end"]):
                    flags[self._ended] = False
            self._ended = terminated | truncated
        elif mode == AutoresetMode.SAME_STEP:
            ended = terminated | truncated
            if ended.any():
                info["final_obs"] = np.where(ended[:, None], _numpy(step.final_obs), 0.0).astype(np.float32)
                info["_final_obs"] = ended
        else:
            self._ended = terminated | truncated
        return obs, reward, terminated, truncated, info

    def _with_valid_rows(self, actions: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
        """Actions of environments about to be restarted are ignored; give them a valid placeholder."""
        if actions.dim() == 0 or actions.shape[0] != self.num_envs:
            return actions  # let the engine report the shape error
        filler = torch.as_tensor(self.single_action_space.sample() * 0, device=actions.device, dtype=actions.dtype)
        actions = actions.clone()
        actions[torch.as_tensor(rows, device=actions.device)] = filler
        return actions

    def close_extras(self, **kwargs: Any) -> None:
        pass


class SingleView(gymnasium.Env):
    """One environment of a family as a standard ``gymnasium.Env`` (numpy in and out, CPU).

    ``reset(options={"task": ...})`` imposes a task (a task dataclass or a dict of arrays, with or
    without the leading batch dimension of 1).
    """

    metadata = {"render_modes": []}

    def __init__(
        self, env_id: str, rl2: bool = False, split: str = "train", render_mode: str | None = None, **kwargs: Any
    ) -> None:
        from metarl.registry import make

        if render_mode is not None:
            raise BadArgumentError(f"{env_id}: metarl families have no renderer; use render_mode=None")
        self.render_mode = None
        self.env = make(env_id, num_envs=1, device="cpu", split=split, rl2=rl2, check=True, **kwargs)
        self.env.autoreset = False
        self.observation_space = self.env.single_observation_space
        self.action_space = self.env.single_action_space
        self._ended = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        if seed is not None:
            seed = check_seed(seed, env_id=self.env.id)
        options = dict(options or {})
        unknown = set(options) - {"task"}
        if unknown:
            raise BadArgumentError(f"{self.env.id}: unknown reset options {sorted(unknown)}; use 'task'")
        task = options.get("task")
        if isinstance(task, dict):
            task = {k: np.asarray(v)[None] if np.ndim(v) == len(self._field_shape(k)) else v for k, v in task.items()}
        if task is not None:
            task = self.env._checked_task(task)  # before the generator below moves
        super().reset(seed=seed)
        if seed is None and self.env.task is None:
            seed = int(self.np_random.integers(0, 2**63 - 1))
        obs = self.env.reset(seed=seed, task=task)
        self._ended = False
        return _numpy(obs)[0], {}

    def _field_shape(self, name: str) -> tuple[int, ...]:
        shapes = self.env.task_shapes(1)
        return shapes[name][0][1:] if name in shapes else ()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._ended:
            raise MetaRLError(f"{self.env.id}: the trial has ended; call reset() before step()")
        step = self.env.step(as_action_tensor(action, self.env.device, env_id=self.env.id).unsqueeze(0))
        trial_end = bool(step.trial_end[0])
        terminated = trial_end and bool(step.terminated[0])
        truncated = trial_end and not terminated
        self._ended = trial_end
        obs = _numpy(step.final_obs if trial_end else step.obs)[0]
        info = {"episode_end": bool(step.episode_end[0])}
        return obs, float(step.reward[0]), terminated, truncated, info


def make_single(env_id: str, **kwargs: Any) -> SingleView:
    """Gymnasium ``entry_point`` of every registered id."""
    return SingleView(env_id, **kwargs)


def make_vector(env_id: str, num_envs: int = 1, **kwargs: Any) -> VectorView:
    """Gymnasium ``vector_entry_point`` of every registered id."""
    return VectorView(env_id, num_envs=num_envs, **kwargs)
