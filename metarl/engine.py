"""The batched engine: B environments, each with its own task, stepped as tensor ops on one device.

A family subclasses :class:`BatchedEnv` and supplies four pieces: how tasks are made from random
keys, how an inner episode starts, one transition, and the observation. The base class does the
rest the same way for every family: trial bookkeeping (``episodes`` inner episodes of ``horizon``
steps at most, one task per trial), per-environment autoreset, counter-based randomness, input
checks and task imposition.

Semantics of :meth:`BatchedEnv.step`:

* ``terminated`` / ``truncated`` describe the *inner episode* (the underlying MDP): a terminal
  state was reached, or the inner episode hit ``horizon`` steps without one.
* ``trial_end`` marks the last inner episode of a trial. It implies ``terminated | truncated``.
* Inner-episode ends restart the inner state in the same step; trial ends also draw a new task in
  the same step (unless ``autoreset`` is off, as in the Gymnasium views that reset themselves).
  ``final_obs`` is the observation before any restart, for bootstrapping truncations.

Randomness is a pure function of (seed, environment index, global step or trial number), see
:mod:`metarl.random`: environment i behaves the same whatever B, device or thread count.
"""

from __future__ import annotations

import abc
import secrets
from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple

import gymnasium
import numpy as np
import torch

from metarl import random as mrandom
from metarl.checks import SPLITS, check_action, check_count, check_mask, check_seed, check_split, resolve_device
from metarl.env_state import copied_state
from metarl.env_state import join_env_states as join_env_states  # re-exported: the engine's state API
from metarl.env_state import split_env_state as split_env_state
from metarl.errors import BadArgumentError, BadTaskError, CheckpointError, MetaRLError
from metarl.params import Param, resolve_params
from metarl.tasks import Task, check_task

_TASK_STREAM = 0x5EED7A5C
_STEP_STREAM = 0x57E9F00D
_BLOCK_NUMBERS = 1 << 17  # per-step uniforms are generated this many at a time (in cache)
_RING = 32  # trials of tasks drawn ahead for families with small tasks and variable-length trials
_RING_MAX_TASK_SIZE = 64
_ENGINE_STATE = ("seed", "_task_keys", "_step_keys", "_trial_index", "_episode_step", "_episode_index",
                 "_global_step", "_countdown", "_block")
_RING_STATE = ("_ring", "_ring_offset", "_ring_age")  # present once the first trials' tasks are drawn


class Step(NamedTuple):
    """What :meth:`BatchedEnv.step` returns; every field has leading dimension B."""

    obs: torch.Tensor
    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    trial_end: torch.Tensor
    final_obs: torch.Tensor

    @property
    def episode_end(self) -> torch.Tensor:
        """Inner episode ended this step (terminated or truncated)."""
        return self.terminated | self.truncated


class BatchedEnv(abc.ABC):
    """Base class of natively batched task-distribution environments.

    Subclasses set the class attributes and implement the hooks marked below.

    Example:
        >>> import metarl
        >>> env = metarl.make("metarl/BernoulliBandit-v0", num_envs=8, seed=0)
        >>> obs = env.reset()
        >>> step = env.step(torch.zeros(8, dtype=torch.int64))
        >>> step.reward.shape
        torch.Size([8])
    """

    family: ClassVar[str] = ""
    description: ClassVar[str] = ""
    source: ClassVar[str] = ""
    params: ClassVar[Mapping[str, Param]] = {}
    task_type: ClassVar[type[Task]] = Task
    uniforms_per_step: ClassVar[int] = 0
    can_terminate: ClassVar[bool] = True
    """False for families whose inner episodes always run ``horizon`` steps (lets the engine skip tests)."""
    state_attributes: ClassVar[tuple[str, ...]] = ()
    """The family's inner state: attributes that stepping changes (tensors, numbers, dicts of tensors), saved by
    :meth:`state_dict` with the engine's own counters and keys."""

    def __init__(
        self,
        num_envs: int = 1,
        device: torch.device | str | None = "cpu",
        seed: int | None = None,
        split: str = "train",
        check: bool = True,
        env_id: str | None = None,
        first_env: int = 0,
        **kwargs: Any,
    ) -> None:
        self.id = env_id or f"metarl/{self.family}-v0"
        self.first_env = int(first_env)
        """Index of the first of these environments in a larger batch (a data-parallel shard): environment i here
        is environment ``first_env + i`` of the run, with its tasks and randomness."""
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise BadArgumentError(f"{self.id}: num_envs must be a positive integer, got {num_envs!r}")
        check_split(split, env_id=self.id)
        self.config = resolve_params(self.params, kwargs, env_id=self.id)
        self.num_envs = int(num_envs)
        self.device = resolve_device(device)
        self.split = split
        self.check = check
        self.autoreset = True
        self._on_cpu = self.device.type == "cpu"
        self.horizon, self.episodes = self._trial_shape()
        self.single_observation_space, self.single_action_space = self._spaces()
        self._discrete = isinstance(self.single_action_space, gymnasium.spaces.Discrete)
        self.task: Task | None = None
        zeros = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)
        self._episode_step, self._episode_index, self._trial_index = zeros, zeros.clone(), zeros.clone()
        self._block_steps = max(1, min(64, _BLOCK_NUMBERS // (self.num_envs * max(1, self.uniforms_per_step))))
        self._countdown: int | None = None
        task_size = sum(int(np.prod(shape[1:])) for shape, _ in self.task_shapes(1).values())
        self._use_ring = self.can_terminate and task_size <= _RING_MAX_TASK_SIZE
        self._seed_streams(int(secrets.randbits(63)) if seed is None else check_seed(seed, env_id=self.id))

    def _seed_streams(self, seed: int) -> None:
        """Derive every environment's task and step streams from ``seed`` and restart the counters."""
        self.seed = seed
        keys = mrandom.env_keys(seed, self.num_envs, offset=self.first_env, device=self.device)
        self._task_keys = mrandom.combine(keys, _TASK_STREAM + SPLITS[self.split])
        self._step_keys = mrandom.combine(keys, _STEP_STREAM)
        self._trial_index.zero_()
        self._global_step = 0
        self._block: torch.Tensor | None = None

    # ------------------------------------------------------------------ family hooks
    @abc.abstractmethod
    def _trial_shape(self) -> tuple[int, int]:
        """(horizon of an inner episode, inner episodes per trial) from ``self.config``."""

    @abc.abstractmethod
    def _spaces(self) -> tuple[gymnasium.Space, gymnasium.Space]:
        """(single observation space, single action space)."""

    @abc.abstractmethod
    def task_shapes(self, batch: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        """Expected shape and dtype of each task field for ``batch`` tasks."""

    @abc.abstractmethod
    def tasks_from_keys(self, keys: torch.Tensor, split: str) -> Task:
        """Tasks as a deterministic function of hashed keys (one task per key; see ``metarl.random.lanes``).

        ``split`` ("train", "test" or "validation") is the split the tasks are drawn for: the keys already
        differ between splits, so only a family with per-split data (images, classes) needs to read it.
        """

    def _task_error(self, task: Task) -> str | None:
        """A message if task values are invalid (e.g. probabilities outside [0, 1]); checked mode only."""
        return None

    @abc.abstractmethod
    def _start_episode(self, mask: torch.Tensor | None) -> None:
        """Restart the inner-episode state where ``mask`` (B,) is true, or everywhere when None."""

    @abc.abstractmethod
    def _transition(self, action: torch.Tensor, u: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Advance the inner state; return (reward (B,), terminal (B,) bool).

        ``u``: (uniforms_per_step, B) fresh uniforms in (0, 1) (after ``_step_noise``), or None when the
        family needs none. ``terminal`` may be None for families that never terminate early.
        """

    @abc.abstractmethod
    def _observe(self) -> torch.Tensor:
        """Current observation, (B, *obs_shape) float32. Never modified in place afterwards."""

    def _step_noise(self, u: torch.Tensor) -> torch.Tensor:
        """Transform a block of step uniforms (T, uniforms_per_step, B) once, e.g. into normals."""
        return u

    # ------------------------------------------------------------------ tasks
    def sample_tasks(
        self,
        n: int,
        generator: torch.Generator | None = None,
        split: str | None = None,
        device: torch.device | str | None = None,
    ) -> Task:
        """``n`` tasks from the ``split`` distribution ("train", "test" or "validation").

        Splits use separate random streams: the same generator state gives different, reproducible
        tasks in each split, and a sequence of draws never repeats across splits.

        Example:
            >>> import metarl
            >>> env = metarl.make("metarl/Navigation2D-v0")
            >>> env.sample_tasks(4, torch.Generator().manual_seed(0), split="test").goal.shape
            torch.Size([4, 2])
        """
        n = check_count(n, "n", env_id=self.id)
        split = check_split(self.split if split is None else split, env_id=self.id)
        raw = torch.randint(0, 1 << 32, (n,), generator=generator, dtype=torch.int64)
        keys = mrandom.combine(raw.to(self.device if device is None else device), SPLITS[split])
        return self.tasks_from_keys(keys, split)

    def _trial_tasks(self, index: torch.Tensor | None = None) -> Task:
        """Tasks of the current trials: of every environment, or of those at ``index``."""
        if index is None:
            return self.tasks_from_keys(mrandom.combine(self._task_keys, self._trial_index), self.split)
        return self.tasks_from_keys(mrandom.combine(self._task_keys[index], self._trial_index[index]), self.split)

    def _refill_ring(self) -> None:
        """Draw the tasks of each environment's next ``_RING`` trials in one bulk hash.

        An environment starts at most one trial per step, so for ``_RING`` steps after a refill every
        new trial's task is already in the ring: no data-dependent check, no host sync.
        """
        self._ring_offset = self._trial_index + 1  # slot of trial t is t - offset
        ahead = torch.arange(_RING, device=self.device).unsqueeze(1) + self._ring_offset
        tasks = self.tasks_from_keys(mrandom.combine(self._task_keys, ahead).view(-1), self.split)
        self._ring = {k: v.view(_RING, self.num_envs, *v.shape[1:]) for k, v in tasks.fields().items()}
        self._ring_age = 0

    def _upcoming_tasks(self, index: torch.Tensor | None) -> Task:
        """Tasks of the current trials at ``index`` (all when None), from the prefetch ring if there is one."""
        if not self._use_ring:
            return self._trial_tasks(index)
        if index is None:  # all rows; -1 where no trial started (those rows are masked out)
            index = torch.arange(self.num_envs, device=self.device)
            slot = (self._trial_index - self._ring_offset).clamp_(min=0)
        else:
            slot = self._trial_index[index] - self._ring_offset[index]
        return self.task_type(**{k: v[slot, index] for k, v in self._ring.items()})

    def _new_trials(self, ended: torch.Tensor) -> None:
        """Start the next trial (and install its task) where ``ended``."""
        self._trial_index += ended
        if self.episodes > 1:
            self._episode_index.masked_fill_(ended, 0)
        if self._on_cpu:  # only the tasks that change
            index = ended.nonzero().squeeze(1)
            self.task = self.task.put(index, self._upcoming_tasks(index))
        else:  # every row under a mask: no host sync
            self.task = self.task.where(ended, self._upcoming_tasks(None))

    def set_task(self, task: Task | Mapping[str, Any], mask: torch.Tensor | None = None) -> None:
        """Impose ``task`` (B tasks) on the environments in ``mask`` (all when None) and restart their trials."""
        self.reset(task=task, mask=mask)

    def _checked_task(self, task: Task | Mapping[str, Any]) -> Task:
        task = self.task_type.coerce(task, env_id=self.id, device=self.device)
        check_task(task, self.task_shapes(self.num_envs), env_id=self.id, device=self.device)
        task = type(task)(**{k: v.contiguous() for k, v in task.fields().items()})
        message = self._task_error(task)
        if message:
            raise BadTaskError(f"{self.id}: {message}")
        return task

    # ------------------------------------------------------------------ reset / step
    def reset(
        self,
        seed: int | None = None,
        task: Task | Mapping[str, Any] | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Start new trials and return the observation (B, *obs_shape).

        ``seed`` re-seeds every environment (and resets all of them). ``mask`` (B,) bool restarts
        only those environments. A new trial gets the next task of its environment's stream unless
        ``task`` (B tasks; rows outside ``mask`` are ignored) is given. Every argument is checked
        before anything changes: a rejected call leaves the environment exactly as it was.
        """
        if seed is not None and mask is not None:
            raise BadArgumentError(f"{self.id}: reset takes a seed or a mask, not both")
        if mask is not None:
            if self.task is None:
                raise MetaRLError(f"{self.id}: call reset() without a mask before resetting a subset")
            mask = self._checked_mask(mask)
        if seed is not None:
            seed = check_seed(seed, env_id=self.id)
        imposed = self._checked_task(task) if task is not None else None
        if seed is not None:
            self._seed_streams(seed)
        elif self.task is not None:
            self._trial_index += 1 if mask is None else mask.long()
        new = imposed if imposed is not None else self._trial_tasks()
        if mask is None:
            self.task = new
            self._episode_step.zero_()
            self._episode_index.zero_()
            self._start_episode(None)
            self._countdown = None if self.can_terminate else self.horizon
        else:
            self._countdown = None
            self.task = self.task.where(mask, new)
            self._episode_step.masked_fill_(mask, 0)
            self._episode_index.masked_fill_(mask, 0)
            self._start_episode(mask)
        if self._use_ring:
            self._refill_ring()
        return self._observe()

    def _checked_mask(self, mask: Any) -> torch.Tensor:
        return check_mask(mask, self.num_envs, self.device, env_id=self.id)

    def _step_uniforms(self) -> torch.Tensor:
        i = self._global_step % self._block_steps
        if i == 0 or self._block is None:  # None mid-block after joining or splitting states: the same numbers
            first = self._global_step - i
            steps = torch.arange(first, first + self._block_steps, device=self.device)
            u = mrandom.uniform(self._step_keys, steps[:, None], self.uniforms_per_step)
            self._block = self._step_noise(u.transpose(1, 2).contiguous())  # (T, lanes, B): lanes contiguous
        self._global_step += 1
        return self._block[i]

    def _some(self, mask: torch.Tensor) -> bool:
        """Whether masked work must run. On CPU a cheap exact test; on accelerators always (no host sync)."""
        return bool(mask.any()) if self._on_cpu else True

    def step(self, action: torch.Tensor) -> Step:
        """Advance every environment by one step; see the module docstring for the semantics."""
        if self.task is None:
            raise MetaRLError(f"{self.id}: call reset() before step()")
        if self.check:
            action = self._checked_action(action)
        return self._advance(action)

    def _advance(self, action: torch.Tensor) -> Step:
        u = self._step_uniforms() if self.uniforms_per_step else None
        if u is None:
            self._global_step += 1
        reward, terminated = self._transition(action, u)
        self._episode_step += 1
        final_obs = self._observe()
        if self._use_ring:  # refill before any trial of this step can need slot _RING
            if self._ring_age == _RING:
                self._refill_ring()
            self._ring_age += 1
        if self._countdown is not None:  # aligned, never-terminating envs: the host knows when episodes end
            self._countdown -= 1
            if self._countdown > 0:
                return Step(final_obs, reward, *self._flags(False, False, False), final_obs)
            self._countdown = self.horizon if self.autoreset else None
            terminated, truncated = self._flags(False, True)
            episode_end = truncated
        elif terminated is None:
            truncated = self._episode_step >= self.horizon
            terminated, episode_end = torch.zeros_like(truncated), truncated
        else:
            episode_end = (self._episode_step >= self.horizon).logical_or_(terminated)
            truncated = episode_end ^ terminated  # time limit reached without a terminal state
        if not self._some(episode_end):
            return Step(final_obs, reward, terminated, truncated, torch.zeros_like(terminated), final_obs)
        if self.episodes == 1:  # every inner-episode end ends the trial
            trial_end = episode_end
        else:
            self._episode_index += episode_end
            trial_end = self._episode_index >= self.episodes
        if not self.autoreset:
            self._episode_step.masked_fill_(episode_end & ~trial_end, 0)
            self._start_episode(episode_end & ~trial_end)
            return Step(self._observe(), reward, terminated, truncated, trial_end, final_obs)
        self._episode_step.masked_fill_(episode_end, 0)
        if self.episodes == 1 or self._some(trial_end):
            self._new_trials(trial_end)
        self._start_episode(episode_end)
        return Step(self._observe(), reward, terminated, truncated, trial_end, final_obs)

    def _flags(self, *values: bool) -> tuple[torch.Tensor, ...]:
        """Constant bool flags of shape (B,), one per value, as rows of one fresh allocation."""
        flags = torch.zeros(len(values), self.num_envs, dtype=torch.bool, device=self.device)
        for i, value in enumerate(values):
            if value:
                flags[i] = True
        return flags.unbind(0)

    def _checked_action(self, action: Any) -> torch.Tensor:
        return check_action(action, self.single_action_space, self.num_envs, self.device, env_id=self.id)

    # ------------------------------------------------------------------ state
    def _state_names(self) -> tuple[str, ...]:
        return (*_ENGINE_STATE, *(_RING_STATE if self._use_ring else ()), *self.state_attributes)

    def state_dict(self) -> dict[str, Any]:
        """A copy of everything a step reads that stepping changes (tasks in force, counters, random keys and blocks,
        the family's :attr:`state_attributes`): tensors, numbers and dicts of them, loadable with ``weights_only``.

        Example:
            >>> import metarl
            >>> env = metarl.make("metarl/BernoulliBandit-v0", num_envs=2, seed=0); _ = env.reset()
            >>> sorted(env.state_dict())
            ['attributes', 'config', 'id', 'num_envs', 'task']
        """
        attributes = {name: copied_state(getattr(self, name)) for name in self._state_names() if hasattr(self, name)}
        return {"id": self.id, "config": dict(self.config), "num_envs": self.num_envs, "attributes": attributes,
                "task": copied_state(self.task.fields()) if self.task is not None else None}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a :meth:`state_dict` of an env made with the same id and arguments (exact resume).

        A state of another environment, or one that lacks a part, is refused with a :class:`CheckpointError`.
        """
        saved = (state.get("id"), state.get("config"), state.get("num_envs"))
        if saved != (self.id, dict(self.config), self.num_envs):
            raise CheckpointError(f"the saved environment state does not fit this environment: saved {saved[0]} "
                                  f"{saved[1]} x {saved[2]}, this is {self.id} {dict(self.config)} x {self.num_envs}")
        attributes = state.get("attributes", {})
        missing = [n for n in self._state_names() if n not in attributes and n not in _RING_STATE]
        if missing or "task" not in state:
            raise CheckpointError(f"{self.id}: the saved environment state lacks {', '.join(missing) or 'the task'} "
                                  "(saved by another version of metarl?); start a new run")
        try:
            fields = state["task"]
            for name in self._state_names():
                if name in attributes:
                    setattr(self, name, copied_state(attributes[name], self.device))
            self.task = None if fields is None else self.task_type(**copied_state(fields, self.device))
        except (KeyError, TypeError, AttributeError) as exc:
            raise CheckpointError(f"{self.id}: the saved environment state is malformed ({exc})") from exc

    # ------------------------------------------------------------------ conveniences
    def reward_bounds(self) -> tuple[float, float]:
        """Smallest and largest possible reward of one step (infinite where unbounded)."""
        return -np.inf, np.inf

    @property
    def episode_step(self) -> torch.Tensor:
        """Steps taken so far in the current inner episode of each environment, (B,) int64."""
        return self._episode_step

    @property
    def trial_steps(self) -> int:
        """Most steps a trial can take (``episodes * horizon``)."""
        return self.episodes * self.horizon

    def sample_actions(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Uniformly random valid actions for all environments (for baselines and benchmarks)."""
        space = self.single_action_space
        if self._discrete:
            return torch.randint(0, space.n, (self.num_envs,), generator=generator).to(self.device)
        low = torch.as_tensor(space.low, device=self.device)
        high = torch.as_tensor(space.high, device=self.device)
        u = torch.rand((self.num_envs, *space.shape), generator=generator).to(self.device)
        return low + (high - low) * u

    def __repr__(self) -> str:
        kwargs = ", ".join(f"{k}={v}" for k, v in self.config.items())
        return f"<{type(self).__name__} {self.id} num_envs={self.num_envs} device={self.device} {kwargs}>"
