"""The seven continuous-control meta-RL families of MAML, ProMP and PEARL, on Gymnasium v5's robots.

Sources of the task definitions (checked against each paper's released code):

* HalfCheetahVel: Finn et al. 2017 (MAML), rllab ``half_cheetah_env_rand.py``: target velocity U[0, 2], task term
  ``-|v_x - v_goal|``; the same in ProMP (Rothfuss et al. 2019) and PEARL (Rakelly et al. 2019).
* HalfCheetahDir: MAML ``half_cheetah_env_rand_direc.py``: direction -1 or +1 with probability 1/2, task term
  ``d * v_x``.
* AntDir: MAML and ProMP ``ant_rand_direc.py``: forward or backward along x, task term ``d * v_x``.
* AntGoal: PEARL ``ant_goal.py`` (after ProMP's ``ant_rand_goal.py``): goal uniform in the disc of radius 3
  (angle U[0, 2 pi), radius 3 sqrt(U)), task term ``-||xy_torso - goal||_1``.
* HumanoidDir: PEARL ``humanoid_dir.py``: direction angle U[0, 2 pi), task term the center-of-mass velocity
  along it.
* Walker2DRandParams, HopperRandParams: ProMP and PEARL ``rand_param_envs``: per task, body masses and inertias
  scaled by ``1.5**U[-3, 3]``, joint damping by ``1.3**U[-3, 3]``, geom friction by ``1.5**U[-3, 3]``, each entry
  drawn on its own; the reward is the v5 environment's.

Every task term carries the robot's Gymnasium forward weight (1, or 1.25 for Humanoid).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from metarl.envs.mujoco.base import ROBOTS, TWO_PI, MujocoFamily, common_params, direction_vector

from metarl import random as mrandom
from metarl.params import Param
from metarl.tasks import Task

_NAN = math.nan
MAML_HALF_CHEETAH = {
    "HalfCheetahVel": {"source": "MAML (Finn et al. 2017), Fig. 5, read off the plot (+-10)",
                       "maml": (_NAN, -80.0, _NAN, _NAN), "targets": ("-", ">= -88", "-", "-"),
                       "target_values": {1: -88.0}},
    "HalfCheetahDir": {"source": "MAML (Finn et al. 2017), Fig. 5, read off the plot (+-30)",
                       "maml": (_NAN, 300.0, _NAN, _NAN), "targets": ("-", ">= 270", "-", "-"),
                       "target_values": {1: 270.0}},
}
"""MAML's average return after one policy-gradient step on held-out HalfCheetah tasks (horizon 200, control cost
0.05). The paper gives these only as curves; the values are read off its Fig. 5, and the target is 10% of them."""

PAPER_SETTING = {"horizon": 200, "episodes": 1, "ctrl_cost_weight": 0.05}
"""The MAML paper's HalfCheetah setting, which :data:`MAML_HALF_CHEETAH` belongs to."""


def _maml_published(family: str, config: dict) -> dict | None:
    paper = dict(PAPER_SETTING, **({"velocity_low": 0.0, "velocity_high": 2.0} if family == "HalfCheetahVel" else {}))
    return MAML_HALF_CHEETAH[family] if all(config.get(k) == v for k, v in paper.items()) else None


@dataclasses.dataclass
class VelocityTask(Task):
    """Target forward velocity of each environment, ``velocity`` (B, 1)."""

    velocity: torch.Tensor


@dataclasses.dataclass
class DirectionTask(Task):
    """Direction of motion along x of each environment, ``direction`` (B, 1): -1 (backward) or +1 (forward)."""

    direction: torch.Tensor


@dataclasses.dataclass
class AngleTask(Task):
    """Direction of motion in the plane of each environment, ``angle`` (B, 1) in radians."""

    angle: torch.Tensor


@dataclasses.dataclass
class GoalTask(Task):
    """Goal position in the plane of each environment, ``goal`` (B, 2)."""

    goal: torch.Tensor


@dataclasses.dataclass
class ScalesTask(Task):
    """Per-task multipliers of the robot's model: ``body_mass`` (B, nbody), ``body_inertia`` (B, nbody, 3),
    ``dof_damping`` (B, nv) and ``geom_friction`` (B, ngeom, 3)."""

    body_mass: torch.Tensor
    body_inertia: torch.Tensor
    dof_damping: torch.Tensor
    geom_friction: torch.Tensor


def _signs(keys: torch.Tensor) -> torch.Tensor:
    return torch.where(mrandom.lanes(keys, 1) < 0.5, -1.0, 1.0)


def _direction_error(task: DirectionTask) -> str | None:
    if not bool(((task.direction == 1) | (task.direction == -1)).all()):
        return "direction must be -1 (backward) or +1 (forward)"
    return None


class HalfCheetahVel(MujocoFamily):
    """HalfCheetah-v5 rewarded for running at a hidden target velocity: ``-|v_x - v_goal| - ctrl cost``.

    Example:
        >>> import metarl
        >>> env = metarl.make("metarl/HalfCheetahVel-v0", num_envs=2, seed=0, threads=1)
        >>> env.reset().shape
        torch.Size([2, 17])
    """

    family = "HalfCheetahVel"
    description = "HalfCheetah-v5 running at a hidden target velocity U[0, 2]"
    source = "Finn et al. 2017 (MAML); Rothfuss et al. 2019 (ProMP)"
    robot = ROBOTS["half_cheetah"]
    task_type = VelocityTask
    params = {**common_params(robot),
              "velocity_low": Param(0.0, low=-100.0, high=100.0, doc="smallest target velocity"),
              "velocity_high": Param(2.0, low=-100.0, high=100.0, doc="largest target velocity")}

    @staticmethod
    def maml_published(config: dict) -> dict | None:
        """:data:`MAML_HALF_CHEETAH`'s row when ``config`` is the paper's setting, else None."""
        return _maml_published("HalfCheetahVel", config)

    def task_shapes(self, batch: int) -> dict[str, Any]:
        return {"velocity": ((batch, 1), torch.float32)}

    def tasks_from_keys(self, keys: torch.Tensor, split: str) -> VelocityTask:
        low, high = self.config["velocity_low"], self.config["velocity_high"]
        return VelocityTask(velocity=low + (high - low) * mrandom.lanes(keys, 1))

    def _task_error(self, task: VelocityTask) -> str | None:
        return None if bool(torch.isfinite(task.velocity).all()) else "target velocities must be finite"

    def task_term(self, velocity: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        return -self.robot.forward_weight * (velocity[:, 0] - self.task.velocity[:, 0]).abs()


class HalfCheetahDir(MujocoFamily):
    """HalfCheetah-v5 rewarded for running forward or backward (hidden): ``d * v_x - ctrl cost``."""

    family = "HalfCheetahDir"
    description = "HalfCheetah-v5 running forward or backward (hidden direction)"
    source = "Finn et al. 2017 (MAML); Rothfuss et al. 2019 (ProMP)"
    robot = ROBOTS["half_cheetah"]
    task_type = DirectionTask
    params = common_params(robot)

    @staticmethod
    def maml_published(config: dict) -> dict | None:
        """:data:`MAML_HALF_CHEETAH`'s row when ``config`` is the paper's setting, else None."""
        return _maml_published("HalfCheetahDir", config)

    def task_shapes(self, batch: int) -> dict[str, Any]:
        return {"direction": ((batch, 1), torch.float32)}

    def tasks_from_keys(self, keys: torch.Tensor, split: str) -> DirectionTask:
        return DirectionTask(direction=_signs(keys))

    def _task_error(self, task: DirectionTask) -> str | None:
        return _direction_error(task)

    def task_term(self, velocity: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        return self.robot.forward_weight * self.task.direction[:, 0] * velocity[:, 0]


class AntDir(HalfCheetahDir):
    """Ant-v5 rewarded for walking forward or backward along x (hidden), with its healthy bonus and termination."""

    family = "AntDir"
    description = "Ant-v5 walking forward or backward (hidden direction)"
    source = "Finn et al. 2017 (MAML); Rothfuss et al. 2019 (ProMP)"
    robot = ROBOTS["ant"]
    params = common_params(robot)

    @staticmethod
    def maml_published(config: dict) -> dict | None:
        return None


class AntGoal(MujocoFamily):
    """Ant-v5 rewarded for reaching a hidden goal: ``-||xy - goal||_1`` replaces the forward term."""

    family = "AntGoal"
    description = "Ant-v5 walking to a hidden goal in the disc of radius 3"
    source = "Rakelly et al. 2019 (PEARL); Rothfuss et al. 2019 (ProMP)"
    robot = ROBOTS["ant"]
    task_type = GoalTask
    params = {**common_params(robot), "radius": Param(3.0, low=0.0, high=1000.0, doc="goals lie in this disc")}

    def task_shapes(self, batch: int) -> dict[str, Any]:
        return {"goal": ((batch, 2), torch.float32)}

    def tasks_from_keys(self, keys: torch.Tensor, split: str) -> GoalTask:
        u = mrandom.lanes(keys, 2).double()  # float64 then rounded, the same whatever B (see RandParams)
        radius = self.config["radius"] * u[:, 1].sqrt()
        return GoalTask(goal=(radius.unsqueeze(1) * direction_vector(TWO_PI * u[:, 0])).float())

    def _task_error(self, task: GoalTask) -> str | None:
        return None if bool(torch.isfinite(task.goal).all()) else "goals must be finite"

    def task_term(self, velocity: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        return -self.robot.forward_weight * (position - self.task.goal).abs().sum(1)


class HumanoidDir(MujocoFamily):
    """Humanoid-v5 rewarded for moving its center of mass along a hidden direction in the plane."""

    family = "HumanoidDir"
    description = "Humanoid-v5 walking in a hidden direction U[0, 2 pi)"
    source = "Rakelly et al. 2019 (PEARL)"
    robot = ROBOTS["humanoid"]
    task_type = AngleTask
    params = common_params(robot)

    def task_shapes(self, batch: int) -> dict[str, Any]:
        return {"angle": ((batch, 1), torch.float32)}

    def tasks_from_keys(self, keys: torch.Tensor, split: str) -> AngleTask:
        return AngleTask(angle=TWO_PI * mrandom.lanes(keys, 1))

    def _task_error(self, task: AngleTask) -> str | None:
        return None if bool(torch.isfinite(task.angle).all()) else "angles must be finite"

    def task_term(self, velocity: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        along = (velocity * direction_vector(self.task.angle[:, 0].double())).sum(1)
        return self.robot.forward_weight * along


class RandParams(MujocoFamily):
    """A robot whose masses, inertias, joint damping and friction are scaled per task; Gymnasium's v5 reward."""

    task_type = ScalesTask
    BASES = {"body_mass": 1.5, "body_inertia": 1.5, "dof_damping": 1.3, "geom_friction": 1.5}
    """The base b of each multiplier ``b**U[-log_scale, log_scale]`` (rand_param_envs)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._applied: dict[str, torch.Tensor] | None = None
        super().__init__(*args, **kwargs)
        model = self.model()
        self._base = {name: torch.as_tensor(getattr(model, name).copy(), device=self.device) for name in self.BASES}

    @classmethod
    def scaled_params(cls, robot_params: dict[str, Param]) -> dict[str, Param]:
        return {**robot_params, "log_scale": Param(3.0, low=0.0, high=10.0,
                                                   doc="multipliers are base**U[-log_scale, log_scale]")}

    def task_shapes(self, batch: int) -> dict[str, Any]:
        model = self.model()
        return {"body_mass": ((batch, model.nbody), torch.float32),
                "body_inertia": ((batch, model.nbody, 3), torch.float32),
                "dof_damping": ((batch, model.nv), torch.float32),
                "geom_friction": ((batch, model.ngeom, 3), torch.float32)}

    def tasks_from_keys(self, keys: torch.Tensor, split: str) -> ScalesTask:
        shapes = self.task_shapes(keys.shape[0])
        sizes = {name: int(torch.Size(shape[1:]).numel()) for name, (shape, _) in shapes.items()}
        u = mrandom.lanes(keys, sum(sizes.values()))
        fields, start = {}, 0
        for name, size in sizes.items():
            exponent = (2.0 * u[:, start : start + size].double() - 1.0) * self.config["log_scale"]
            # float64 then rounded: float32 pow's vector and scalar paths may differ in the last bit with B
            fields[name] = torch.pow(self.BASES[name], exponent).float().view(shapes[name][0])
            start += size
        return ScalesTask(**fields)

    def _task_error(self, task: ScalesTask) -> str | None:
        for name, value in task.fields().items():
            if not bool((torch.isfinite(value) & (value > 0)).all()):
                return f"{name} multipliers must be finite and positive"
        return None

    def task_term(self, velocity: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        return self.robot.forward_weight * velocity[:, 0]

    @property
    def task(self) -> ScalesTask | None:
        return self._task

    @task.setter
    def task(self, task: ScalesTask | None) -> None:
        """Installing tasks also gives the simulations whose multipliers changed their new model."""
        self._task = task
        if task is None or not hasattr(self, "_physics"):
            return
        fields = task.fields()
        if self._applied is None:
            changed = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        else:
            changed = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
            for name, value in fields.items():
                changed |= (value != self._applied[name]).flatten(1).any(1)
        index = changed.nonzero().squeeze(1)
        if index.numel():
            values = {name: self._base[name] * fields[name][index].double() for name in fields}
            self._physics.set_model(index.cpu(), values)
        self._applied = {name: value.clone() for name, value in fields.items()}


class Walker2DRandParams(RandParams):
    """Walker2d-v5 with per-task masses, inertias, damping and friction (ProMP, PEARL)."""

    family = "Walker2DRandParams"
    description = "Walker2d-v5 with hidden per-task masses, inertias, damping and friction"
    source = "Rothfuss et al. 2019 (ProMP); Rakelly et al. 2019 (PEARL)"
    robot = ROBOTS["walker2d"]
    params = RandParams.scaled_params(common_params(robot))


class HopperRandParams(RandParams):
    """Hopper-v5 with per-task masses, inertias, damping and friction (ProMP, PEARL)."""

    family = "HopperRandParams"
    description = "Hopper-v5 with hidden per-task masses, inertias, damping and friction"
    source = "Rothfuss et al. 2019 (ProMP); Rakelly et al. 2019 (PEARL)"
    robot = ROBOTS["hopper"]
    params = RandParams.scaled_params(common_params(robot))


FAMILIES = {cls.family: cls for cls in (HalfCheetahVel, HalfCheetahDir, AntDir, AntGoal, HumanoidDir,
                                        Walker2DRandParams, HopperRandParams)}
"""Every MuJoCo family by name; registered as ``metarl/<name>-v0``."""
