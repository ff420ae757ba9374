"""Meta-World's meta-learning benchmarks ML1, ML10 and ML45 as batched metarl families.

B Meta-World environments step in one loop over the package's own ``step``: the simulation is MuJoCo's, the
batching, trials, tasks, splits and views are metarl's. A task is data: which of the benchmark's environments
(``env_index``) and where its objects and goal are (``rand_vec``, Meta-World's random reset vector). The train
and test tasks are the package's own ``train_tasks`` and ``test_tasks`` (ML1: 50 goals each of one environment;
ML10 and ML45: 10 or 45 training environments and 5 held-out ones, 50 goals each), drawn with ``benchmark_seed``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import gymnasium
import numpy as np
import torch
from metarl.envs.metaworld.benchmark import ML1_TASKS, RAND_VEC, Pool, Table, load

from metarl import random as mrandom
from metarl.engine import BatchedEnv
from metarl.errors import BadArgumentError
from metarl.params import Param
from metarl.tasks import Task

SOURCE = ("Yu et al. 2019, Meta-World (CoRL 2019, arXiv:1910.10897); McLean et al. 2025, Meta-World+ "
          "(arXiv:2505.11289), package metaworld 3.x")

PUBLISHED_SUCCESS = {
    "ML10": {"maml": 0.316, "rl2": 0.358, "pearl": 0.130},
    "ML45": {"maml": 0.399, "rl2": 0.333, "pearl": 0.220},
}
"""Meta-test success rates (held-out environments) of Yu et al. 2019, arXiv:1910.10897v2, after about 400M
environment steps of meta-training (RL² on ML45). The paper shows ML1 only as learning curves, with no table."""
PUBLISHED_SOURCE = "Yu et al. 2019 v2"

_COMMON = {
    "horizon": Param(500, low=1, high=500, doc="steps per inner episode (Meta-World's max_path_length is 500)"),
    "episodes": Param(10, low=1, high=100_000, doc="inner episodes per trial, all on the trial's task"),
    "terminate_on_success": Param(0, low=0, high=1,
                                  doc="1: an inner episode terminates at the first success (Meta-World's test envs)"),
    "benchmark_seed": Param(0, low=0, high=2**31 - 1, doc="seed of Meta-World's own draw of the train and test goals"),
}


@dataclasses.dataclass
class MetaWorldTask(Task):
    """``rand_vec`` (B, 6) float64: the task's object and goal positions, Meta-World's random reset vector (3 to 6
    numbers by environment), zero-padded; ``env_index`` (B,) int64: its environment in the benchmark's list
    (training environments, then the held-out ones)."""

    rand_vec: torch.Tensor
    env_index: torch.Tensor


class MetaWorld(BatchedEnv):
    """Base of the three Meta-World families; subclasses name the benchmark.

    The goal is hidden from the observation (39 numbers: hand, gripper and objects now and one step before, and
    three zeros where the goal would be), as in every Meta-World meta-learning benchmark. ``success`` (B,) bool
    is Meta-World's success flag of the last step; the benchmark's score is whether an inner episode ever
    raised it (see ``metarl.protocols``).
    """

    benchmark: ClassVar[str] = ""
    source = SOURCE
    params = _COMMON
    task_type = MetaWorldTask
    state_attributes = ("_actions", "success")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.split == "validation":
            raise BadArgumentError(f"{self.id}: Meta-World has train and test tasks only, no validation split")
        self._pool = Pool(self.table, self.num_envs)
        self._obs = np.zeros((self.num_envs, self.single_observation_space.shape[0]), dtype=np.float64)
        self._actions = torch.zeros(self.num_envs, self.horizon, 4, device=self.device)
        self.success = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)

    @classmethod
    def success_published(cls, config: dict) -> dict[str, float]:
        """The paper's meta-test success rate of each method on this benchmark (see :mod:`metarl.published`)."""
        rates = PUBLISHED_SUCCESS.get(cls.benchmark, {})
        return {f"{method} ({PUBLISHED_SOURCE})": rate for method, rate in rates.items()}

    @property
    def table(self) -> Table:
        """Meta-World's environments and tasks for this benchmark and ``benchmark_seed`` (built once per process)."""
        return load(self.benchmark, self.config.get("task", ""), self.config["benchmark_seed"])

    @property
    def env_names(self) -> tuple[str, ...]:
        """The benchmark's environments, as ``env_index`` counts them."""
        return self.table.names

    def split_names(self, split: str) -> list[str]:
        """The environments whose tasks make up ``split``."""
        return [self.table.names[i] for i in sorted(set(self.table.env_index[split].tolist()))]

    def benchmark_tasks(self, split: str) -> MetaWorldTask:
        """Every task of Meta-World's ``split`` list, in its order (a protocol evaluates on all of them)."""
        table = self.table
        return MetaWorldTask(env_index=table.env_index[split].to(self.device),
                             rand_vec=table.rand_vec[split].to(self.device))

    # ------------------------------------------------------------------ family hooks
    def _trial_shape(self) -> tuple[int, int]:
        return self.config["horizon"], self.config["episodes"]

    def _spaces(self) -> tuple[gymnasium.Space, gymnasium.Space]:
        low, high = self.table.observation_bounds
        observation = gymnasium.spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)
        return observation, gymnasium.spaces.Box(-1.0, 1.0, (4,), np.float32)

    def task_shapes(self, batch: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        return {"env_index": ((batch,), torch.int64), "rand_vec": ((batch, RAND_VEC), torch.float64)}

    def tasks_from_keys(self, keys: torch.Tensor, split: str) -> MetaWorldTask:
        if split not in ("train", "test"):
            raise BadArgumentError(f"{self.id}: Meta-World has train and test tasks only, not '{split}'")
        index, vectors = self.table.env_index[split], self.table.rand_vec[split]
        row = (mrandom.lanes(keys, 1)[:, 0] * len(index)).long().clamp_(max=len(index) - 1).cpu()
        return MetaWorldTask(env_index=index[row].to(keys.device), rand_vec=vectors[row].to(keys.device))

    def _task_error(self, task: Task) -> str | None:
        count = len(self.table.names)
        if bool(((task.env_index < 0) | (task.env_index >= count)).any()):
            return f"env_index must be in [0, {count - 1}] (the benchmark's environments {list(self.table.names)})"
        sizes = torch.tensor(self.table.sizes, device=task.env_index.device)[task.env_index.clamp(0, count - 1)]
        padding = torch.arange(RAND_VEC, device=sizes.device) >= sizes.unsqueeze(1)
        if bool((task.rand_vec.abs() * padding).any()):
            return "rand_vec must be zero beyond the environment's own random vector (3 to 6 numbers)"
        return None

    def reward_bounds(self) -> tuple[float, float]:
        return 0.0, 10.0

    def _start_episode(self, mask: torch.Tensor | None) -> None:
        rows = range(self.num_envs) if mask is None else mask.nonzero().squeeze(1).tolist()
        index = self.task.env_index.tolist()
        vectors = self.task.rand_vec.cpu().numpy()
        for i in rows:
            self._obs[i] = self._pool.start(i, index[i], vectors[i])

    def _transition(self, action: torch.Tensor, u: None) -> tuple[torch.Tensor, torch.Tensor]:
        actions = action.detach().to("cpu", torch.float32).numpy()
        rewards = np.empty(self.num_envs)
        success = np.empty(self.num_envs, dtype=bool)
        obs = self._obs
        for i, env in enumerate(self._pool.envs):
            obs[i], rewards[i], _, _, info = env.step(actions[i])
            success[i] = info["success"]
        rows = torch.arange(self.num_envs, device=self.device)
        self._actions[rows, self._episode_step.clamp(max=self.horizon - 1)] = action.to(self._actions)
        self.success = torch.from_numpy(success).to(self.device)
        terminal = self.success if self.config["terminate_on_success"] else torch.zeros_like(self.success)
        return torch.from_numpy(rewards).to(self.device, torch.float32), terminal

    def _observe(self) -> torch.Tensor:
        return torch.from_numpy(self._obs.astype(np.float32)).to(self.device)

    # ------------------------------------------------------------------ state
    def load_state_dict(self, state: Any) -> None:
        """Continue from a :meth:`state_dict`: the MuJoCo state is rebuilt by resetting each environment to its
        task and replaying the actions of its current inner episode (the simulation is deterministic)."""
        super().load_state_dict(state)
        steps = self._episode_step.tolist()
        actions = self._actions.cpu().numpy()
        index = self.task.env_index.tolist()
        vectors = self.task.rand_vec.cpu().numpy()
        for i in range(self.num_envs):
            self._obs[i] = self._pool.start(i, index[i], vectors[i])
            for t in range(min(steps[i], self.horizon)):
                self._obs[i] = self._pool.envs[i].step(actions[i, t])[0]

    def close(self) -> None:
        """Close the Meta-World environments."""
        self._pool.close()


class ML1(MetaWorld):
    """ML1: one Meta-World environment (``task``), 50 training goals and 50 held-out goals.

    Example (``metarl.make("metarl/ML1-v0", task="push-v3")`` makes one, with the extra installed):
        >>> len(ML1.params["task"].choices), ML1.params["task"].default
        (50, 'reach-v3')
    """

    family = "ML1"
    benchmark = "ML1"
    description = "Meta-World ML1: one manipulation task, goals and object positions vary (metarl[metaworld])"
    params = {"task": Param("reach-v3", choices=ML1_TASKS, doc="the Meta-World environment"), **_COMMON}


class ML10(MetaWorld):
    """ML10: 10 training environments and 5 held-out ones, 50 goals each."""

    family = "ML10"
    benchmark = "ML10"
    description = "Meta-World ML10: 10 training manipulation tasks, 5 held-out ones (metarl[metaworld])"


class ML45(MetaWorld):
    """ML45: 45 training environments and 5 held-out ones, 50 goals each."""

    family = "ML45"
    benchmark = "ML45"
    description = "Meta-World ML45: 45 training manipulation tasks, 5 held-out ones (metarl[metaworld])"
