"""Batched MuJoCo physics behind the continuous-control families: many simulations, one call per step.

Two backends share one small interface (:class:`Physics`):

* :class:`CPUPhysics` (``device="cpu"``): the ``mjbatch`` package steps N ``MjData`` on a C++ thread pool with
  the GIL released; its bound arrays are live NumPy views that torch shares without a copy. Per-simulation
  model fields (``expand``) carry the per-task body masses, inertias, damping and friction of the RandParams
  families, and ``set_const`` recomputes the derived constants of the simulations whose task changed.
* :class:`WarpPhysics` (``device="cuda"``): MuJoCo Warp (the ``mujoco-warp`` extra) keeps the whole batch on the
  GPU; its arrays are exchanged with torch through ``warp.to_torch`` / ``warp.from_torch``, which share memory.

Both step ``frame_skip`` substeps of ``mj_step`` per call, so, as after Gymnasium's ``do_simulation``, derived
quantities (``xpos``, ``cinert``, ...) are those of the last substep's forward pass, one substep behind
``qpos`` and ``qvel``.
"""

from __future__ import annotations

import abc
import functools
import os
from collections.abc import Mapping, Sequence

import gymnasium
import mujoco
import numpy as np
import torch

ASSETS = os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets")
"""Gymnasium's MuJoCo model files (part of the ``gymnasium`` package itself): the v5 robots' exact XML."""

MODEL_FIELDS = ("body_mass", "body_inertia", "dof_damping", "geom_friction")
"""The model fields a task may scale per simulation (the RandParams families)."""


@functools.cache
def load_model(xml: str) -> mujoco.MjModel:
    """The compiled model of one of Gymnasium's robot files, e.g. ``"half_cheetah.xml"`` (cached; do not edit it).

    Example:
        >>> load_model("half_cheetah.xml").nu
        6
    """
    return mujoco.MjModel.from_xml_path(os.path.join(ASSETS, xml))


class Physics(abc.ABC):
    """N simulations of one model: state in, ``frame_skip`` substeps, fields out, all as torch tensors.

    ``fields`` names the derived ``MjData`` fields the family reads after a step (``xpos``, ``cinert``, ...).
    """

    model: mujoco.MjModel
    num_sims: int

    @abc.abstractmethod
    def read(self, name: str) -> torch.Tensor:
        """The current values of field ``name`` of every simulation, (N, ...) float64 (a view; copy to keep it)."""

    @abc.abstractmethod
    def set_state(self, mask: torch.Tensor | None, qpos: torch.Tensor, qvel: torch.Tensor) -> None:
        """Restart the simulations in ``mask`` (all when None) at ``qpos``/``qvel`` (rows of all N), then forward."""

    @abc.abstractmethod
    def step(self, ctrl: torch.Tensor, nstep: int) -> None:
        """Apply ``ctrl`` (N, nu) and advance every simulation by ``nstep`` substeps of ``mj_step``."""

    @abc.abstractmethod
    def set_model(self, index: torch.Tensor, values: Mapping[str, torch.Tensor]) -> None:
        """Give simulations ``index`` the model fields ``values`` (their rows), and recompute derived constants."""

    @abc.abstractmethod
    def get_integration_state(self) -> torch.Tensor:
        """A copy of every simulation's full integration state (qpos, qvel, act, warm start, ...), (N, nstate)."""

    @abc.abstractmethod
    def set_integration_state(self, state: torch.Tensor) -> None:
        """Restore states from :meth:`get_integration_state`: the next step continues exactly from them."""


class CPUPhysics(Physics):
    """``mjbatch.Batch`` over ``model``: N simulations on ``threads`` C++ threads (0: every logical CPU).

    Example:
        >>> physics = CPUPhysics(load_model("half_cheetah.xml"), 3, ("xpos",), threads=1)
        >>> physics.step(torch.zeros(3, 6, dtype=torch.float64), nstep=5)
        >>> physics.read("qpos").shape
        torch.Size([3, 9])
    """

    def __init__(self, model: mujoco.MjModel, num_sims: int, fields: Sequence[str], threads: int = 0) -> None:
        import mjbatch

        self.model, self.num_sims = model, num_sims
        self.batch = mjbatch.Batch(model, num_sims, num_threads=threads)
        self._views = {name: torch.from_numpy(self.batch.bind(name)) for name in ("qpos", "qvel", "ctrl", *fields)}
        self._state = self.batch.bind("state")
        self._expanded: dict[str, torch.Tensor] = {}
        self.batch.reset()

    def read(self, name: str) -> torch.Tensor:
        return self._views[name]

    def set_state(self, mask: torch.Tensor | None, qpos: torch.Tensor, qvel: torch.Tensor) -> None:
        if mask is None:
            self.batch.reset()
            self._views["qpos"].copy_(qpos)
            self._views["qvel"].copy_(qvel)
            self.batch.forward()
            return
        ids = np.ascontiguousarray(mask.nonzero().squeeze(1).numpy().astype(np.int64))
        if ids.size == 0:
            return
        self.batch.reset(ids)  # clears warm starts and activations, as mj_resetData does
        index = torch.from_numpy(ids)
        self._views["qpos"][index] = qpos[index].to(torch.float64)
        self._views["qvel"][index] = qvel[index].to(torch.float64)
        self.batch.forward(ids)

    def step(self, ctrl: torch.Tensor, nstep: int) -> None:
        self._views["ctrl"].copy_(ctrl)
        self.batch.step(nstep=nstep)

    def set_model(self, index: torch.Tensor, values: Mapping[str, torch.Tensor]) -> None:
        ids = np.ascontiguousarray(index.numpy().astype(np.int64))
        if ids.size == 0:
            return
        for name, rows in values.items():
            if name not in self._expanded:
                self._expanded[name] = torch.from_numpy(self.batch.expand(name))
            self._expanded[name][index] = rows.to(torch.float64)
        self.batch.set_const(ids)

    def get_integration_state(self) -> torch.Tensor:
        return torch.from_numpy(self._state.copy())

    def set_integration_state(self, state: torch.Tensor) -> None:
        self._state[:] = state.numpy()
