"""The CUDA backend of the MuJoCo families: MuJoCo Warp (the ``mujoco-warp`` extra), batch kept on the GPU.

Every field the family reads is a ``warp`` array of shape (nworld, ...); ``warp.to_torch`` gives a torch tensor
over the same memory, so control goes in and observations come out without a copy or a host sync. Per-task
model fields become (nworld, ...) arrays made from torch tensors with ``warp.from_torch`` (shared memory too).

This path is written against MuJoCo Warp's public API (``put_model``, ``make_data``, ``step``, ``forward``,
``set_const``) and has not run on a GPU here; the CPU tests cover the interface it shares with
:class:`~metarl.envs.mujoco.physics.CPUPhysics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import mujoco
import numpy as np
import torch
from metarl.envs.mujoco.physics import Physics

from metarl.errors import MissingExtraError


class WarpPhysics(Physics):
    """N MuJoCo Warp worlds of ``model`` on ``device`` (CUDA), read and written as torch tensors."""

    def __init__(self, model: mujoco.MjModel, num_sims: int, fields: Sequence[str], device: torch.device) -> None:
        try:
            import mujoco_warp as mjw
            import warp as wp
        except ImportError as exc:
            raise MissingExtraError(f'the MuJoCo families on CUDA need MuJoCo Warp ({exc}). Install it with: '
                                    'pip install "metarl[mujoco-warp]"') from None
        self.mjw, self.wp, self.model, self.num_sims, self.device = mjw, wp, model, num_sims, device
        self._wp_device = wp.device_from_torch(device)
        with wp.ScopedDevice(self._wp_device):
            self.m = mjw.put_model(model)
            self.d = mjw.make_data(model, nworld=num_sims)
        self._names = ("qpos", "qvel", "ctrl", "act", "qacc_warmstart", *fields)
        self._views = {name: wp.to_torch(getattr(self.d, name)) for name in self._names}
        self._reset_values = {"qacc_warmstart": 0.0, "act": 0.0}

    def read(self, name: str) -> torch.Tensor:
        return self._views[name]

    def _forward(self) -> None:
        with self.wp.ScopedDevice(self._wp_device):
            self.mjw.forward(self.m, self.d)

    def set_state(self, mask: torch.Tensor | None, qpos: torch.Tensor, qvel: torch.Tensor) -> None:
        rows = slice(None) if mask is None else mask.unsqueeze(1)
        views = self._views
        for name, value in (("qpos", qpos), ("qvel", qvel)):
            views[name].copy_(value if mask is None else torch.where(rows, value, views[name]))
        for name, value in self._reset_values.items():
            if views[name].numel():
                views[name].masked_fill_(torch.ones_like(views[name], dtype=torch.bool) if mask is None
                                         else rows.expand_as(views[name]), value)
        # derived fields of every world are recomputed; the family keeps its own rows where mask is false
        self._forward()

    def step(self, ctrl: torch.Tensor, nstep: int) -> None:
        self._views["ctrl"].copy_(ctrl)
        with self.wp.ScopedDevice(self._wp_device):
            for _ in range(nstep):
                self.mjw.step(self.m, self.d)

    def set_model(self, index: torch.Tensor, values: Mapping[str, torch.Tensor]) -> None:
        wp = self.wp
        for name, rows in values.items():
            current = getattr(self.m, name)
            table = wp.to_torch(current)
            if table.shape[0] != self.num_sims:  # still shared by every world: give each world its own row
                table = table.expand(self.num_sims, *table.shape[1:]).clone()
                setattr(self.m, name, wp.from_torch(table, dtype=current.dtype))
                table = wp.to_torch(getattr(self.m, name))
            table[index.to(self.device)] = rows.to(table.dtype).view(-1, *table.shape[1:]).to(self.device)
        set_const = getattr(self.mjw, "set_const", None)
        if set_const is None:
            raise MissingExtraError("per-task model parameters on CUDA need a MuJoCo Warp with set_const; "
                                    'upgrade it: pip install -U "metarl[mujoco-warp]"')
        with wp.ScopedDevice(self._wp_device):
            set_const(self.m, self.d)

    def get_integration_state(self) -> torch.Tensor:
        parts = [self._views[name].flatten(1) for name in ("qpos", "qvel", "act", "qacc_warmstart", "ctrl")]
        return torch.cat([p.to(torch.float64) for p in parts], dim=1)

    def set_integration_state(self, state: torch.Tensor) -> None:
        start = 0
        for name in ("qpos", "qvel", "act", "qacc_warmstart", "ctrl"):
            view = self._views[name]
            size = int(np.prod(view.shape[1:]))
            view.copy_(state[:, start : start + size].view_as(view).to(view.dtype))
            start += size
