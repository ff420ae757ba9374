"""The shared body of the MuJoCo families: Gymnasium v5's robots, rewards, terminations and observations.

A family is a robot (:class:`Robot`, the constants of the Gymnasium v5 environment it comes from) plus a task:
what the agent must find out. The reward is Gymnasium's, with its forward term ``w * x_velocity`` replaced by
the family's task term (:meth:`MujocoFamily.task_term`); healthy bonus, control cost, termination, frame skip,
reset noise and observation are the v5 environment's. Contact forces are left out of the Ant and Humanoid
observations and rewards (Gymnasium's ``include_cfrc_ext_in_observation=False, contact_cost_weight=0``): the
batched stepper cannot run ``mj_rnePostConstraint`` after the last substep as Gymnasium does.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, ClassVar

import gymnasium
import numpy as np
import torch

from metarl import random as mrandom
from metarl.engine import BatchedEnv
from metarl.errors import BadArgumentError
from metarl.params import Param

_NOISE_STREAM = 0x4E015E5


def _finite(qpos: torch.Tensor, qvel: torch.Tensor) -> torch.Tensor:
    return torch.isfinite(qpos).all(1) & torch.isfinite(qvel).all(1)


def _ant_health(qpos: torch.Tensor, qvel: torch.Tensor) -> torch.Tensor:
    z = qpos[:, 2]
    return _finite(qpos, qvel) & (z >= 0.2) & (z <= 1.0)


def _humanoid_health(qpos: torch.Tensor, qvel: torch.Tensor) -> torch.Tensor:
    return (qpos[:, 2] > 1.0) & (qpos[:, 2] < 2.0)


def _walker_health(qpos: torch.Tensor, qvel: torch.Tensor) -> torch.Tensor:
    z, angle = qpos[:, 1], qpos[:, 2]
    return (z > 0.8) & (z < 2.0) & (angle > -1.0) & (angle < 1.0)


def _hopper_health(qpos: torch.Tensor, qvel: torch.Tensor) -> torch.Tensor:
    state = torch.cat([qpos[:, 2:], qvel], dim=1)
    z, angle = qpos[:, 1], qpos[:, 2]
    return ((state > -100.0) & (state < 100.0)).all(1) & (z > 0.7) & (angle > -0.2) & (angle < 0.2)


@dataclasses.dataclass(frozen=True)
class Robot:
    """The constants of one Gymnasium v5 locomotion environment (their defaults, read from its source)."""

    xml: str
    frame_skip: int
    forward_weight: float
    ctrl_weight: float
    healthy_reward: float
    reset_noise: float
    normal_qvel_noise: bool
    """True: qvel noise is ``reset_noise * N(0, 1)`` (HalfCheetah, Ant); False: uniform like qpos's."""
    skipped: int
    """Leading qpos entries left out of the observation (the x, or x and y, position)."""
    position: str
    """What moves the robot: "qpos" (qpos[0]), "torso" (xy of body 1's xpos), "com" (xy of the mass center)."""
    health: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    clip_qvel: float | None = None
    extras: tuple[tuple[str, int], ...] = ()
    """Derived fields appended to the observation, each from this row on (Humanoid: cinert[1:], ...)."""


ROBOTS = {
    "half_cheetah": Robot("half_cheetah.xml", 5, 1.0, 0.1, 0.0, 0.1, True, 1, "qpos"),
    "ant": Robot("ant.xml", 5, 1.0, 0.5, 1.0, 0.1, True, 2, "torso", _ant_health),
    "humanoid": Robot("humanoid.xml", 5, 1.25, 0.1, 5.0, 1e-2, False, 2, "com", _humanoid_health,
                      extras=(("cinert", 1), ("cvel", 1), ("qfrc_actuator", 6))),
    "walker2d": Robot("walker2d_v5.xml", 4, 1.0, 1e-3, 1.0, 5e-3, False, 1, "qpos", _walker_health, 10.0),
    "hopper": Robot("hopper.xml", 4, 1.0, 1e-3, 1.0, 5e-3, False, 1, "qpos", _hopper_health, 10.0),
}
"""Gymnasium's HalfCheetah-v5, Ant-v5, Humanoid-v5, Walker2d-v5 and Hopper-v5."""


def common_params(robot: Robot) -> dict[str, Param]:
    """The arguments every MuJoCo family takes, with the robot's Gymnasium defaults."""
    return {
        "horizon": Param(200, low=1, high=100_000, doc="steps per inner episode (200 in MAML, ProMP and PEARL)"),
        "episodes": Param(1, low=1, high=10_000, doc="inner episodes per trial"),
        "ctrl_cost_weight": Param(robot.ctrl_weight, low=0.0, high=1e6,
                                  doc="weight of the squared-action cost (Gymnasium v5's default)"),
        "threads": Param(0, low=0, high=4096, doc="CPU threads stepping the simulations (0: every logical CPU)"),
    }


class MujocoFamily(BatchedEnv):
    """A Gymnasium v5 robot whose forward reward is replaced by a task term; subclasses define the task."""

    robot: ClassVar[Robot]
    uniforms_per_step = 0
    state_attributes = ("_obs", "_position", "_physics_state")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        robot, model = self.robot, self.model()
        fields = {name for name, _ in robot.extras} | {"torso": {"xpos"}, "com": {"xipos"}}.get(robot.position, set())
        if self.device.type == "cpu":
            from metarl.envs.mujoco.physics import CPUPhysics

            self._physics = CPUPhysics(model, self.num_envs, sorted(fields), self.config["threads"])
        elif self.device.type == "cuda":
            from metarl.envs.mujoco.warp import WarpPhysics

            self._physics = WarpPhysics(model, self.num_envs, sorted(fields), self.device)
        else:
            raise BadArgumentError(f"{self.id}: MuJoCo runs on cpu or cuda, not {self.device.type}")
        self.dt = model.opt.timestep * robot.frame_skip
        def as_tensor(array: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(array, dtype=np.float64), device=self.device)

        self._init_qpos, self._init_qvel = as_tensor(model.qpos0), as_tensor(np.zeros(model.nv))
        self._body_mass = as_tensor(model.body_mass)
        self._obs = torch.zeros(self.num_envs, *self.single_observation_space.shape, device=self.device)
        self._position = torch.zeros(self.num_envs, 2, dtype=torch.float64, device=self.device)

    @classmethod
    def model(cls) -> Any:
        """The robot's compiled ``mujoco.MjModel`` (shared; do not edit it)."""
        from metarl.envs.mujoco.physics import load_model

        return load_model(cls.robot.xml)

    # ------------------------------------------------------------------ family hooks
    def task_term(self, velocity: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """The task's reward term, (B,) float64, from the robot's velocity and position (B, 2) (y is 0 in 2-D)."""
        raise NotImplementedError

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "robot" in cls.__dict__:
            cls.can_terminate = cls.robot.health is not None

    # ------------------------------------------------------------------ engine hooks
    def _trial_shape(self) -> tuple[int, int]:
        return self.config["horizon"], self.config["episodes"]

    def _spaces(self) -> tuple[gymnasium.Space, gymnasium.Space]:
        model, robot = self.model(), self.robot
        size = model.nq - robot.skipped + model.nv
        for name, start in robot.extras:
            rows = {"cinert": model.nbody, "cvel": model.nbody, "qfrc_actuator": model.nv}[name]
            size += (rows - start) * {"cinert": 10, "cvel": 6, "qfrc_actuator": 1}[name]
        observation = gymnasium.spaces.Box(-np.inf, np.inf, (size,), np.float32)
        low, high = model.actuator_ctrlrange.T.astype(np.float32)
        return observation, gymnasium.spaces.Box(low, high, (model.nu,), np.float32)

    def _start_episode(self, mask: torch.Tensor | None) -> None:
        model, robot = self.model(), self.robot
        key = mrandom.combine(mrandom.combine(self._step_keys, _NOISE_STREAM), self._trial_index)
        u = mrandom.uniform(key, self._episode_index, model.nq + model.nv).to(torch.float64)
        scale = robot.reset_noise
        qpos = self._init_qpos + scale * (2.0 * u[:, : model.nq] - 1.0)
        v = u[:, model.nq :]
        qvel = self._init_qvel + scale * (mrandom.normal_from_uniform(v) if robot.normal_qvel_noise else 2.0 * v - 1.0)
        self._physics.set_state(mask, qpos, qvel)
        if mask is None:
            self._position, self._obs = self._read_position(), self._make_obs()
        else:  # the other environments keep what their last step gave
            self._position = torch.where(mask.unsqueeze(1), self._read_position(), self._position)
            self._obs = torch.where(mask.unsqueeze(1), self._make_obs(), self._obs)

    def _transition(self, action: torch.Tensor, u: None) -> tuple[torch.Tensor, torch.Tensor | None]:
        ctrl = action.to(torch.float64)
        self._physics.step(ctrl, self.robot.frame_skip)
        position = self._read_position()
        velocity = (position - self._position) / self.dt
        self._position = position
        reward = self.task_term(velocity, position) - self.config["ctrl_cost_weight"] * ctrl.square().sum(1)
        self._obs = self._make_obs()
        if self.robot.health is None:
            return reward.float(), None
        healthy = self.robot.health(self._physics.read("qpos"), self._physics.read("qvel"))
        reward = reward + self.robot.healthy_reward * healthy
        return reward.float(), ~healthy

    def _observe(self) -> torch.Tensor:
        return self._obs

    # ------------------------------------------------------------------ helpers
    def _read_position(self) -> torch.Tensor:
        physics, kind = self._physics, self.robot.position
        if kind == "qpos":
            x = physics.read("qpos")[:, :1]
            return torch.cat([x, torch.zeros_like(x)], dim=1)
        if kind == "torso":
            return physics.read("xpos")[:, 1, :2].clone()
        mass = self._body_mass
        return torch.einsum("b,nbj->nj", mass, physics.read("xipos")[:, :, :2]) / mass.sum()

    def _make_obs(self) -> torch.Tensor:
        physics, robot = self._physics, self.robot
        qvel = physics.read("qvel")
        if robot.clip_qvel is not None:
            qvel = qvel.clamp(-robot.clip_qvel, robot.clip_qvel)
        parts = [physics.read("qpos")[:, robot.skipped :], qvel]
        parts += [physics.read(name)[:, start:].flatten(1) for name, start in robot.extras]
        return torch.cat(parts, dim=1).float()

    @property
    def _physics_state(self) -> torch.Tensor:
        return self._physics.get_integration_state()

    @_physics_state.setter
    def _physics_state(self, state: torch.Tensor) -> None:
        self._physics.set_integration_state(state)


def direction_vector(angle: torch.Tensor) -> torch.Tensor:
    """Unit vectors (B, 2) of angles (B,) in radians."""
    return torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)


TWO_PI = 2.0 * math.pi
