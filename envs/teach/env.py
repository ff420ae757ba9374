"""Learning to teach (Fan et al. 2018) as a family: the agent keeps or drops each arriving example of a student."""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import torch
from metarl.envs.learning_process.base import LearningProcessEnv
from metarl.envs.teach.process import LOSS_CAP, STUDENTS, TeachingProcess

from metarl.params import Param


class Teach(LearningProcessEnv):
    """Each environment is one student trained on the examples the agent keeps from its data stream.

    - **Task** (explicit tensors): ``init (B, n)`` student parameters, ``data_key (B,)`` stream key, ``stream
      (B,)`` stream size, and ``pool (B,)`` (digits: which split's images) or ``teacher (B, d)`` (synthetic:
      labelling direction). Train, test and validation tasks use disjoint data (:mod:`metarl.envs.teach.process`).
    - **Observation** ``(M, 2 C + 5)``: per example of the arriving minibatch, the label one-hot, the fraction of
      the update budget used, the average historical training loss, the best dev accuracy so far, the student's
      predicted probabilities, the example's loss and its margin.
    - **Action** ``MultiBinary(M)``: 1 keeps the example, 0 drops it. The student takes one SGD step (``lr``)
      whenever M kept examples have accumulated.
    - **Reward**: ``-log(i_tau / max_updates)`` when dev accuracy first reaches ``tau`` after student update
      i_tau, else 0 (also 0 when the budget of ``max_updates`` student updates runs out).
    - **End**: terminated when dev accuracy reaches tau, the update budget is used, or the student's loss turns
      non-finite (that update is not applied); truncated after ``horizon`` minibatches. A task with an empty
      stream is refused with :class:`metarl.BadTaskError`.

    Example:
        >>> import metarl, torch
        >>> env = metarl.make("metarl/Teach-v0", num_envs=4, seed=0, student="logistic", batch_size=8)
        >>> env.reset().shape
        torch.Size([4, 8, 25])
        >>> step = env.step(torch.ones(4, 8))  # keep everything (NoTeach)
    """

    family = "Teach"
    description = "keep/drop each arriving example of a batched student (digits logistic/MLP, synthetic)"
    source = "Fan et al. 2018, learning to teach"
    params = {
        "student": Param("logistic", choices=STUDENTS, doc="the student model and its data"),
        "batch_size": Param(20, low=1, high=4096, doc="M: examples per arriving minibatch and per student update"),
        "lr": Param(0.5, low=1e-9, high=1e6, doc="the student's SGD learning rate"),
        "tau": Param(0.9, low=0.0, high=1.0, doc="dev accuracy that ends the episode"),
        "max_updates": Param(200, low=1, high=1_000_000, doc="T': the student's update budget"),
        "horizon": Param(800, low=1, high=10_000_000, doc="arriving minibatches per trial (truncation)"),
        "hidden": Param(20, low=1, high=4096, doc="mlp, synthetic: units per hidden layer"),
        "layers": Param(1, low=1, high=8, doc="mlp, synthetic: hidden layers"),
        "dims": Param(10, low=1, high=4096, doc="synthetic: input dimension"),
        "noise": Param(0.1, low=0.0, high=0.5, doc="synthetic: probability that a label is flipped"),
        "imbalance": Param(0.5, low=0.01, high=0.99, doc="synthetic: fraction of class 0 before label noise"),
        "stream_size": Param(0, low=0, high=1 << 40, doc="distinct examples in a stream (0: the whole fit part / "
                                                          "unlimited)"),
    }

    def _make_process(self) -> TeachingProcess:
        return TeachingProcess(self.config["student"], self.config, self.device)

    def _process_input(self, action: torch.Tensor) -> torch.Tensor:
        return action > 0.5

    def _spaces(self) -> tuple[gymnasium.Space, gymnasium.Space]:
        C, M = self.process.classes, self.config["batch_size"]
        low = np.concatenate([np.zeros(2 * C + 4), [-1.0]]).astype(np.float32)
        high = np.concatenate([np.ones(C + 1), [LOSS_CAP, 1.0], np.ones(C), [LOSS_CAP, 1.0]]).astype(np.float32)
        box = gymnasium.spaces.Box(np.tile(low, (M, 1)), np.tile(high, (M, 1)), dtype=np.float32)
        return box, gymnasium.spaces.MultiBinary(M)

    def reward_bounds(self) -> tuple[float, float]:
        return 0.0, math.log(self.config["max_updates"])

    def sample_actions(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Keep each example with probability 1/2."""
        shape = (self.num_envs, self.config["batch_size"])
        return (torch.rand(shape, generator=generator) < 0.5).float().to(self.device)
