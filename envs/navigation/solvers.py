"""Reference policies for 2D navigation: uniformly random, and an oracle that knows the goal."""

from __future__ import annotations

import torch


class RandomNavigation:
    """Uniformly random velocities in the action box."""

    name = "random"

    def __init__(self, max_speed: float, num_envs: int, device: torch.device | str = "cpu",
                 generator: torch.Generator | None = None) -> None:
        self.max_speed, self.num_envs, self.device, self.generator = max_speed, num_envs, device, generator

    def act(self, position: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        u = torch.rand(self.num_envs, 2, generator=self.generator).to(self.device)
        return (2.0 * u - 1.0) * self.max_speed


class OracleNavigation(RandomNavigation):
    """Heads straight for the (known) goal at full speed per axis, without overshooting: an upper bound."""

    name = "oracle"

    def act(self, position: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        return (goal - position).clamp(-self.max_speed, self.max_speed)
