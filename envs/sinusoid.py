"""Sinusoid regression (MAML paper setting): few-shot episodes, an online RL view and the paper's numbers.

Published numbers: Finn et al. 2017, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks",
arXiv:1703.03400, Section 5.1, Figure 2 (trained with K = 10, one inner step of 0.01; 5-shot MSE after
1 / 5 / 10 steps).
"""

from __future__ import annotations

import dataclasses
import math

import gymnasium
import numpy as np
import torch

from metarl import random as mrandom
from metarl.engine import BatchedEnv
from metarl.errors import BadArgumentError
from metarl.fewshot import Episodes, check_episode_request, episode_keys
from metarl.params import Param
from metarl.tasks import Task

MAML_SINUSOID = {
    "source": "MAML (Finn et al. 2017), sinusoid, trained with K = 10, evaluated 5-shot",
    "shots": 5,
    "maml": {1: 0.67, 5: 0.38, 10: 0.35},
    "pretrained": {1: 2.41, 5: 2.23, 10: 2.19},
}
"""Mean squared error after k gradient steps on 5 points (k -> MSE); our targets are the MAML row."""


@dataclasses.dataclass
class SinusoidTask(Task):
    """``inputs (B, horizon)``: the x shown at each step of a trial; ``amplitude (B,)`` and ``phase (B,)`` of
    y = amplitude * sin(x - phase)."""

    inputs: torch.Tensor
    amplitude: torch.Tensor
    phase: torch.Tensor


class Sinusoid(BatchedEnv):
    """Regress y = A sin(x - phase) with A ~ U[0.1, 5], phase ~ U[0, pi], x ~ U[-5, 5] (Finn et al. 2017).

    **Episodes view.** ``sample_episodes(batch, shots=K, queries=Q)`` gives ``support_x``, ``support_y``
    ``(E, K, 1)`` and ``query_x``, ``query_y`` ``(E, Q, 1)``; splits are separate random streams.

    **RL view** (online regression). A trial is one function and ``horizon`` steps. Step t shows
    ``[x_t, y_{t-1}, 1]`` (``[x_0, 0, 0]`` at the start of a trial: the last entry says whether a previous
    target exists); the action is the prediction of y_t, clipped to [-amplitude_high, amplitude_high], and
    the reward is minus its squared error. The observation after the last step shows x = 0 and the last
    target. So a recurrent agent sees every (x, y) pair one step late, as in online learning.

    Example:
        >>> import metarl, torch
        >>> env = metarl.make("metarl/Sinusoid-v0", num_envs=4, seed=0)
        >>> env.reset().shape
        torch.Size([4, 3])
        >>> env.sample_episodes(2, shots=10, queries=5, generator=torch.Generator().manual_seed(0)).query_y.shape
        torch.Size([2, 5, 1])
    """

    family = "Sinusoid"
    description = "regress A sin(x - phase), A~U[0.1,5], phase~U[0,pi], x~U[-5,5]; one point per step, reward -error^2"
    source = "Finn et al. 2017 (MAML), sinusoid regression"
    params = {
        "horizon": Param(20, low=1, high=100_000, doc="points (steps) per trial"),
        "amplitude_low": Param(0.1, low=0.0, high=1e6, doc="amplitudes are uniform in [amplitude_low, amplitude_high]"),
        "amplitude_high": Param(5.0, low=1e-6, high=1e6, doc="largest amplitude; predictions are clipped to it"),
        "phase_high": Param(math.pi, low=0.0, high=1e6, doc="phases are uniform in [0, phase_high]"),
        "input_range": Param(5.0, low=1e-6, high=1e6, doc="inputs are uniform in [-input_range, input_range]"),
    }
    task_type = SinusoidTask
    can_terminate = False

    @staticmethod
    def fewshot_published(agent: str, ways: int, shots: int) -> dict | None:
        """The MAML paper's 5-shot MSE row for ``maml`` or ``pretrain`` (see :mod:`metarl.published`)."""
        if agent not in ("maml", "pretrain") or shots != MAML_SINUSOID["shots"]:
            return None
        row = MAML_SINUSOID["maml" if agent == "maml" else "pretrained"]
        steps = " / ".join(str(k) for k in row)
        values = " / ".join(f"{v:.2f}" for v in row.values())
        return {"source": MAML_SINUSOID["source"], "text": f"MSE after {steps} steps: {values}"}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.config["amplitude_low"] > self.config["amplitude_high"]:
            raise BadArgumentError(f"{self.id}: amplitude_low must not exceed amplitude_high, got "
                                   f"{self.config['amplitude_low']} > {self.config['amplitude_high']}")

    def _trial_shape(self) -> tuple[int, int]:
        return self.config["horizon"], 1

    def _spaces(self) -> tuple[gymnasium.Space, gymnasium.Space]:
        x, a = np.float32(self.config["input_range"]), np.float32(self.config["amplitude_high"])
        obs = gymnasium.spaces.Box(np.array([-x, -a, 0], np.float32), np.array([x, a, 1], np.float32), dtype=np.float32)
        return obs, gymnasium.spaces.Box(-a, a, (1,), np.float32)

    def task_shapes(self, batch: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        return {"inputs": ((batch, self.horizon), torch.float32), "amplitude": ((batch,), torch.float32),
                "phase": ((batch,), torch.float32)}

    def _functions(self, keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        u = mrandom.lanes(keys, 2)
        return c["amplitude_low"] + (c["amplitude_high"] - c["amplitude_low"]) * u[:, 0], c["phase_high"] * u[:, 1]

    def _inputs(self, keys: torch.Tensor, count: int) -> torch.Tensor:
        return (2.0 * mrandom.lanes(keys, count, start=2) - 1.0) * self.config["input_range"]

    def tasks_from_keys(self, keys: torch.Tensor, split: str) -> SinusoidTask:
        amplitude, phase = self._functions(keys)
        return SinusoidTask(inputs=self._inputs(keys, self.horizon), amplitude=amplitude, phase=phase)

    def _task_error(self, task: SinusoidTask) -> str | None:
        if bool(((task.amplitude < 0) | (task.amplitude > self.config["amplitude_high"])).any()):
            return f"task field 'amplitude' must lie in [0, amplitude_high={self.config['amplitude_high']}]"
        if bool((task.inputs.abs() > self.config["input_range"]).any()):
            return f"task field 'inputs' must lie in [-input_range, input_range] = ±{self.config['input_range']}"
        return None

    def reward_bounds(self) -> tuple[float, float]:
        return -4.0 * self.config["amplitude_high"] ** 2, 0.0

    def sample_episodes(
        self,
        batch: int,
        ways: int = 1,
        shots: int = 10,
        queries: int = 10,
        *,
        split: str | None = None,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        part: slice | None = None,
    ) -> Episodes:
        """``batch`` K-shot regression episodes: K support and Q query points of one sinusoid each (with ``part``,
        only those episodes of the ``batch``: see :func:`metarl.fewshot.episode_keys`).

        ``ways`` must be 1 (one function per episode). Episode e uses the function of task key e, so
        ``sample_episodes(n, ...)`` and ``sample_tasks(n, ...)`` with the same generator state describe the same
        functions, and the support inputs are the first K inputs of that task's trial.

        Example:
            >>> import metarl
            >>> env = metarl.make("metarl/Sinusoid-v0")
            >>> g = torch.Generator().manual_seed(1)
            >>> ep = env.sample_episodes(4, shots=5, queries=20, split="test", generator=g)
            >>> ep.support_x.shape, ep.query_y.shape
            (torch.Size([4, 5, 1]), torch.Size([4, 20, 1]))
        """
        split = self.split if split is None else split
        check_episode_request(self.id, batch, ways, shots, queries, split)
        if ways != 1:
            raise BadArgumentError(f"{self.id}: a regression episode has one function; use ways=1, got {ways}")
        keys = episode_keys(batch, generator, split, self.device if device is None else device, part)
        amplitude, phase = self._functions(keys)
        x = self._inputs(keys, shots + queries)
        y = amplitude[:, None] * torch.sin(x - phase[:, None])
        x, y = x.unsqueeze(-1), y.unsqueeze(-1)
        return Episodes(x[:, :shots], y[:, :shots], x[:, shots:], y[:, shots:])

    def _start_episode(self, mask: torch.Tensor | None) -> None:
        pass

    def _targets(self, t: torch.Tensor) -> torch.Tensor:
        x = self.task.inputs.gather(1, t.clamp(max=self.horizon - 1).unsqueeze(1)).squeeze(1)
        return self.task.amplitude * torch.sin(x - self.task.phase)

    def _transition(self, action: torch.Tensor, u: None) -> tuple[torch.Tensor, None]:
        a = self.config["amplitude_high"]
        error = action[:, 0].clamp(-a, a) - self._targets(self._episode_step)
        return -(error * error), None

    def _observe(self) -> torch.Tensor:
        t = self._episode_step
        x = self.task.inputs.gather(1, t.clamp(max=self.horizon - 1).unsqueeze(1)).squeeze(1)
        x = torch.where(t < self.horizon, x, torch.zeros_like(x))
        started = t > 0
        previous = torch.where(started, self._targets((t - 1).clamp(min=0)), torch.zeros_like(x))
        return torch.stack([x, previous, started.to(torch.float32)], 1)
