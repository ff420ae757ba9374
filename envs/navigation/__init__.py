"""2D point navigation to a goal (MAML paper, 2D navigation setting), its reference solvers and published rows.

Published rows: Finn et al. 2017, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks",
arXiv:1703.03400, 2D navigation (average return after 0 / 1 / 2 / 3 policy-gradient steps of 40
trajectories each on held-out goals).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import gymnasium
import numpy as np
import torch
from metarl.envs.navigation.solvers import OracleNavigation, RandomNavigation

from metarl import random as mrandom
from metarl.engine import BatchedEnv
from metarl.params import Param
from metarl.solvers import register_solver
from metarl.tasks import Task

MAML_NAVIGATION = {
    "source": "MAML (Finn et al. 2017)",
    "maml": (-40.41, -11.68, -3.33, -3.23),
    "oracle": (-42.42, -13.90, -5.17, -3.18),
    "targets": ("-", ">= -11.7", "-", ">= -3.3"),
    "target_values": {1: -11.7, 3: -3.3},
}
"""Navigation2D with the paper's settings: the MAML row, the context-vector oracle row, and our targets."""

PAPER_SETTING = {"horizon": 100, "episodes": 1, "goal_range": 0.5, "max_speed": 0.1, "goal_radius": 0.01,
                 "goals": "square", "reward": "dense"}
"""The MAML paper's 2D navigation setting, which :data:`MAML_NAVIGATION` belongs to."""
PEARL_SPARSE = {
    "source": "PEARL (Rakelly et al. 2019, arXiv:1903.08254), Fig. 6, sparse 2D navigation",
    "text": "a learning curve against MAESN, no number in the text; the oracle's return is the reference",
}
"""What the PEARL paper reports for its sparse point robot (:data:`PEARL_SPARSE_SETTING`)."""
PEARL_SPARSE_SETTING = {"horizon": 20, "goal_range": 1.0, "goals": "semicircle", "reward": "sparse",
                        "sparse_radius": 0.2, "max_speed": 0.1}
"""The sparse point robot of the PEARL paper's code (``sparse-point-robot``): goals on the upper unit half circle,
reward 1 - distance within 0.2 of the goal, 20-step episodes."""
NEWER_PARAMS = ("goals", "reward")
"""Arguments added after the MAML rows were recorded: a setting that does not name them has their defaults."""


@dataclasses.dataclass
class NavigationTask(Task):
    """Goal position of each environment, ``goal`` (B, 2)."""

    goal: torch.Tensor


class Navigation2D(BatchedEnv):
    """A point starts at the origin and moves by its (clipped) velocity action towards a hidden goal.

    Reward is minus the distance to the goal after the move. An inner episode terminates when the point
    is within ``goal_radius`` of the goal along both axes (the square of the original MAML code, not a
    disc) and is truncated after ``horizon`` steps. Actions outside
    [-max_speed, max_speed]^2 are clipped, as in the MAML setting; NaN actions are an error.

    Example:
        >>> import metarl, torch
        >>> env = metarl.make("metarl/Navigation2D-v0", num_envs=3, seed=0)
        >>> env.reset().shape
        torch.Size([3, 2])
    """

    family = "Navigation2D"
    description = ("point robot to a goal U[-0.5,0.5]^2 (or on a half circle), velocity actions clipped to 0.1, "
                   "reward -distance (or sparse near the goal)")
    source = "Finn et al. 2017 (MAML), 2D navigation"
    state_attributes = ("_position", "_dense")
    params = {
        "horizon": Param(100, low=1, high=100_000, doc="steps per inner episode"),
        "episodes": Param(1, low=1, high=100_000, doc="inner episodes per trial"),
        "goal_range": Param(0.5, low=0.0, high=1e6, doc="goals are uniform in [-goal_range, goal_range]^2"),
        "max_speed": Param(0.1, low=1e-9, high=1e6, doc="actions are clipped to [-max_speed, max_speed]^2"),
        "goal_radius": Param(0.01, low=0.0, high=1e6,
                             doc="an inner episode terminates within this distance of the goal along both axes"),
        "goals": Param("square", choices=("square", "semicircle"),
                       doc="square: uniform in the square; semicircle: uniform angle on the upper half circle of "
                           "radius goal_range (PEARL's sparse point robot)"),
        "reward": Param("dense", choices=("dense", "sparse"),
                        doc="dense: -distance; sparse: 1 - distance within sparse_radius of the goal, else 0"),
        "sparse_radius": Param(0.2, low=0.0, high=1e6, doc="sparse reward: radius of the rewarding disc"),
    }
    task_type = NavigationTask

    @staticmethod
    def maml_published(config: dict) -> dict | None:
        """:data:`MAML_NAVIGATION` when ``config`` is the paper's setting, else None (see :mod:`metarl.published`)."""
        same = all(config.get(k, Navigation2D.params[k].default if k in NEWER_PARAMS else None) == v
                   for k, v in PAPER_SETTING.items())
        return MAML_NAVIGATION if same else None

    @staticmethod
    def pearl_published(config: dict) -> dict | None:
        """:data:`PEARL_SPARSE` when ``config`` is the PEARL paper's sparse point robot, else None."""
        return PEARL_SPARSE if all(config.get(k) == v for k, v in PEARL_SPARSE_SETTING.items()) else None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._position = torch.zeros(self.num_envs, 2, device=self.device)
        self._ones = torch.ones(2, device=self.device)
        self._dense = torch.zeros(self.num_envs, device=self.device)

    def _trial_shape(self) -> tuple[int, int]:
        return self.config["horizon"], self.config["episodes"]

    def _spaces(self) -> tuple[gymnasium.Space, gymnasium.Space]:
        v = self.config["max_speed"]
        bound = np.float32(self.config["horizon"] * v)
        obs = gymnasium.spaces.Box(-bound, bound, (2,), np.float32)
        return obs, gymnasium.spaces.Box(np.float32(-v), np.float32(v), (2,), np.float32)

    def task_shapes(self, batch: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        return {"goal": ((batch, 2), torch.float32)}

    def tasks_from_keys(self, keys: torch.Tensor, split: str) -> NavigationTask:
        r = self.config["goal_range"]
        u = mrandom.lanes(keys, 2)
        if self.config["goals"] == "semicircle":
            angle = u[:, 0] * math.pi
            return NavigationTask(goal=torch.stack([angle.cos(), angle.sin()], 1) * r)
        return NavigationTask(goal=(2.0 * u - 1.0) * r)

    def reward_bounds(self) -> tuple[float, float]:
        if self.config["reward"] == "sparse":
            return 0.0, 1.0
        reach = self.config["horizon"] * self.config["max_speed"] + self.config["goal_range"]
        return -float(np.sqrt(2.0) * reach), 0.0

    @property
    def dense_reward(self) -> torch.Tensor:
        """Minus the distance to the goal after the last step, (B,): the shaped reward behind a sparse one, which
        meta-training may use where the sparse reward alone gives too little signal (PEARL's sparse point robot)."""
        return self._dense

    def _start_episode(self, mask: torch.Tensor | None) -> None:
        if mask is None:
            self._position = torch.zeros_like(self._position)
        else:
            self._position = self._position.masked_fill(mask.unsqueeze(1), 0.0)

    def _transition(self, action: torch.Tensor, u: None) -> tuple[torch.Tensor, torch.Tensor]:
        v = self.config["max_speed"]
        self._position = self._position + action.clamp(-v, v)
        offset = self._position - self.task.goal
        distance = torch.mv(offset * offset, self._ones).sqrt_()  # row norms via one BLAS call
        self._dense = distance.neg()
        done = offset.abs().amax(1) < self.config["goal_radius"]
        if self.config["reward"] == "sparse":
            return torch.where(distance <= self.config["sparse_radius"], 1.0 - distance, 0.0), done
        return self._dense, done

    def _observe(self) -> torch.Tensor:
        return self._position  # never modified in place: each step makes a new tensor


class NavigationSolver:
    """A navigation policy as a reference solver; it may look at the goal (the oracle does)."""

    def __init__(self, cls: Callable, env: Navigation2D, generator: torch.Generator | None) -> None:
        self.env = env
        self.policy = cls(env.config["max_speed"], env.num_envs, device=env.device, generator=generator)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return self.policy.act(obs, self.env.task.goal)


for _policy in (RandomNavigation, OracleNavigation):
    register_solver(Navigation2D, _policy.name, functools.partial(NavigationSolver, _policy))
