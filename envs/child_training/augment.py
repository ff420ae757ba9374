"""Learned data augmentation (AutoAugment, Cubuk et al. 2019) as a family, on a digits MLP trained on few images.

A policy is ``subpolicies`` sub-policies of two operations each; an operation is an image operation, a
probability and a magnitude. Every training example of every minibatch draws one sub-policy and applies its two
operations in turn, each with its probability. The geometric operations are one affine warp per example
(``grid_sample``), so B children with B different policies augment their minibatches in one pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from metarl.envs.child_training.base import ChildProcess, ChildTrainingEnv, Forward, Params, child_params, dense

from metarl import random as mrandom
from metarl.params import Param
from metarl.tasks import Task

OPERATIONS = ("identity", "translate-x", "translate-y", "rotate", "shear-x", "zoom", "cutout", "noise")
LEVELS = 8
"""Probabilities and magnitudes take LEVELS values: probability k / 7, magnitude (k + 1) / 8 of the operation's
largest change (translate 2 pixels, rotate 30 degrees, shear 0.5, zoom 30%, cutout side 4, noise std 0.3)."""
_AUGMENT = 0xA06E
_SIDE = 8
_BANKS: dict[torch.device, torch.Tensor] = {}


PARAMS = {
    "subpolicies": Param(2, low=1, high=25, doc="sub-policies of two operations each"),
    "hidden": Param(32, low=1, high=4096, doc="tanh units of the child's hidden layer"),
    **child_params(train_size=64, steps=150),
}


class AugmentProcess(ChildProcess):
    """Decisions (operation, probability, magnitude) for each of the two operations of each sub-policy."""

    defaults = {name: param.default for name, param in PARAMS.items()}
    choices = LEVELS

    def __init__(self, config: dict | None = None, device: torch.device | str = "cpu") -> None:
        super().__init__(config, device)
        self.subpolicies = int(self.config["subpolicies"])
        self.decisions = self.subpolicies * 2 * 3
        self.hidden = int(self.config["hidden"])

    @property
    def decision_types(self) -> tuple[str, ...]:
        """Operation, probability and magnitude, for each operation of each sub-policy."""
        return ("operation", "probability", "magnitude") * (2 * self.subpolicies)

    def describe(self, choices: torch.Tensor) -> str:
        """A policy (decisions ``(K,)``) in words.

        Example:
            >>> AugmentProcess({"subpolicies": 1}).describe(torch.tensor([1.0, 7, 3, 0, 0, 0]))
            '(translate-x p=1.00 m=0.50, identity p=0.00 m=0.12)'
        """
        c = choices.long().view(self.subpolicies, 2, 3).tolist()
        return " ".join("(" + ", ".join(f"{OPERATIONS[o]} p={p / (LEVELS - 1):.2f} m={(m + 1) / LEVELS:.2f}"
                                        for o, p, m in sub) + ")" for sub in c)

    def augmenter(self, task: Task, choices: torch.Tensor) -> Callable[[torch.Tensor, int], torch.Tensor]:
        """``augment(x (B, M, 64), step) -> x'``: each example through one random sub-policy of its child's policy."""
        policy = choices.long().view(-1, self.subpolicies, 2, 3)

        def augment(x: torch.Tensor, step: int) -> torch.Tensor:
            B, M, _ = x.shape
            u = mrandom.lanes(mrandom.combine(task.data_key, step + _AUGMENT), M * 8).view(B, M, 8)
            sub = (u[..., 0] * self.subpolicies).long().clamp_(max=self.subpolicies - 1)
            images = x.view(B, M, _SIDE, _SIDE)
            for slot in range(2):
                chosen = policy[:, :, slot].gather(1, sub.unsqueeze(-1).expand(B, M, 3))  # (B, M, 3)
                op, p, m = chosen[..., 0], chosen[..., 1].float() / (LEVELS - 1), (chosen[..., 2].float() + 1) / LEVELS
                on = u[..., 1 + 3 * slot] < p
                images = _apply(images, torch.where(on, op, 0), m, u[..., 2 + 3 * slot], u[..., 3 + 3 * slot])
            return images.reshape(B, M, _SIDE * _SIDE)

        return augment

    def _initial(self, task: Task) -> Params:
        d, H = self.data, self.hidden
        return [self.init_normal(task, 0, (d.features, H)) / math.sqrt(d.features),
                torch.zeros(task.batch_size, H, device=self.device),
                self.init_normal(task, 1, (H, d.classes)) / math.sqrt(H),
                torch.zeros(task.batch_size, d.classes, device=self.device)]

    @staticmethod
    def forward(params: Params, x: torch.Tensor) -> torch.Tensor:
        return dense(torch.tanh(dense(x, params[0], params[1])), params[2], params[3])

    def child(self, task: Task, choices: torch.Tensor, differentiable: bool = False
              ) -> tuple[Params, Forward, torch.Tensor]:
        params, failed = self.fit(task, self._initial(task), self.forward, augment=self.augmenter(task, choices))
        return params, self.forward, failed

    def baselines(self) -> dict[str, torch.Tensor]:
        """No augmentation (every probability 0)."""
        return {"no augmentation": torch.zeros(self.decisions)}


def _apply(images: torch.Tensor, op: torch.Tensor, magnitude: torch.Tensor, u1: torch.Tensor, u2: torch.Tensor
           ) -> torch.Tensor:
    """Operation ``op (B, M)`` at ``magnitude (B, M)`` on ``images (B, M, 8, 8)``; ``u1``, ``u2`` are uniforms that
    choose the direction (sign) and where a cutout goes."""
    sign = torch.where(u1 < 0.5, -1.0, 1.0)
    amount = sign * magnitude
    zeros, ones = torch.zeros_like(amount), torch.ones_like(amount)
    angle = torch.where(op == 3, amount * math.pi / 6, zeros)
    scale = torch.where(op == 5, 1.0 + 0.3 * amount, ones)
    shear = torch.where(op == 4, 0.5 * amount, zeros)
    shift = 2.0 * 2.0 / _SIDE * amount  # up to 2 pixels, in grid units of [-1, 1]
    tx, ty = torch.where(op == 1, shift, zeros), torch.where(op == 2, shift, zeros)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin + shear, tx], -1), torch.stack([sin, cos, ty], -1)], -2)
    flat = images.reshape(-1, 1, _SIDE, _SIDE)
    grid = F.affine_grid(theta.reshape(-1, 2, 3), list(flat.shape), align_corners=False)
    warped = F.grid_sample(flat, grid, align_corners=False, padding_mode="zeros").view(images.shape)
    geometric = (op >= 1) & (op <= 5)
    out = torch.where(geometric[..., None, None], warped, images)
    side = (1 + 3 * magnitude).round()  # cutout side, 1 to 4 pixels
    corner_r, corner_c = (u2 * _SIDE).floor(), (u1 * 2 % 1 * _SIDE).floor()
    pixel = torch.arange(_SIDE, device=images.device, dtype=images.dtype)
    inside_r = (pixel >= corner_r[..., None] - side[..., None] // 2) & (pixel < corner_r[..., None] + (side[..., None]
                                                                                                          + 1) // 2)
    inside_c = (pixel >= corner_c[..., None] - side[..., None] // 2) & (pixel < corner_c[..., None] + (side[..., None]
                                                                                                          + 1) // 2)
    hole = inside_r[..., :, None] & inside_c[..., None, :] & (op == 6)[..., None, None]
    out = out.masked_fill(hole, 0.0)
    bank = _noise_bank(images.device)
    noise = bank[(u2 * bank.shape[0]).long().clamp_(max=bank.shape[0] - 1)]
    noisy = (out + 0.3 * magnitude[..., None, None] * noise).clamp(0.0, 1.0)
    return torch.where((op == 7)[..., None, None], noisy, out)


def _noise_bank(device: torch.device) -> torch.Tensor:
    """A fixed table of 256 standard normal 8 x 8 patterns; the noise operation adds one picked per example."""
    if device not in _BANKS:
        key = mrandom.env_keys(_AUGMENT, 256, device=device)
        _BANKS[device] = mrandom.normal_from_uniform(mrandom.lanes(key, _SIDE * _SIDE)).view(-1, _SIDE, _SIDE)
    return _BANKS[device]


class Augment(ChildTrainingEnv):
    """Each environment is one digits classifier trained on few images with the augmentation policy the agent picks.

    - **Task**: ``data_key``, ``init_key``, ``pool`` (:mod:`metarl.envs.child_training.base`); the child trains on
      ``train_size`` images of its pool's fit part.
    - **Decisions** ``Discrete(8)``, three per operation, two operations per sub-policy: the operation (identity,
      translate-x, translate-y, rotate, shear-x, zoom, cutout, noise), its probability and its magnitude (8 levels
      each; see :data:`LEVELS`).
    - **Observation** ``(6 S + 9,)``: one-hot of the decision index and of the previous choice.
    - **Reward**: the child's accuracy on the eval part of its pool after ``steps`` SGD steps.

    Example:
        >>> import metarl, torch
        >>> env = metarl.make("metarl/Augment-v0", num_envs=2, seed=0, subpolicies=1, steps=5)
        >>> env.reset().shape
        torch.Size([2, 15])
    """

    family = "Augment"
    description = "pick an AutoAugment policy for a child trained on few digits; reward = its held-out accuracy"
    source = "Cubuk et al. 2019, AutoAugment: learning augmentation strategies from data"
    process_type = AugmentProcess
    params = PARAMS


__all__ = ["LEVELS", "OPERATIONS", "Augment", "AugmentProcess"]
