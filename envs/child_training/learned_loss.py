"""A learned loss (ML^3, Bechtle et al. 2021) as a family: the agent's action is the loss the students train with.

The loss of one example with logits z and label y is

    exp(a) * CE(z, y) + sum_c g(log p_c, [c = y]),   g(u, v) = w2 . tanh(W1 [u, v] + b1)

with the action ``[a, W1 (2 x H), b1 (H), w2 (H)]``. The zero action is plain cross-entropy, so the family's own
baseline is one point of its action space. Students are softmax regressions trained for a few SGD steps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from metarl.envs.child_training.base import (
    ChildProcess,
    ChildTrainingEnv,
    Forward,
    Params,
    child_params,
    linear_forward,
)

from metarl.params import Param
from metarl.tasks import Task

PARAMS = {
    "loss_hidden": Param(8, low=1, high=256, doc="H: hidden units of the learned loss term"),
    "bound": Param(3.0, low=1e-3, high=1e3, doc="each loss parameter lies in [-bound, bound]"),
    **child_params(steps=20, lr=0.05),
}


class LearnedLossProcess(ChildProcess):
    """One continuous decision, the loss parameters; each child is a softmax regression trained with that loss."""

    defaults = {name: param.default for name, param in PARAMS.items()}
    differentiable = True

    def __init__(self, config: dict | None = None, device: torch.device | str = "cpu") -> None:
        super().__init__(config, device)
        self.hidden = int(self.config["loss_hidden"])
        self.action_size = 1 + 4 * self.hidden
        self.bound = float(self.config["bound"])

    def loss_for(self, choices: torch.Tensor) -> callable:
        """The batched loss ``(logits (B, M, C), labels (B, M), inputs) -> (B,)`` of each child's parameters.

        Example:
            >>> process = LearnedLossProcess({"loss_hidden": 4, "bound": 3.0})
            >>> loss = process.loss_for(torch.zeros(2, process.action_size))  # zero action: cross-entropy
            >>> loss(torch.zeros(2, 5, 10), torch.zeros(2, 5, dtype=torch.int64), None)
            tensor([2.3026, 2.3026])
        """
        H = self.hidden
        scale = choices[:, 0].exp()
        w1 = choices[:, 1 : 1 + 2 * H].view(-1, 1, 1, 2, H)
        b1 = choices[:, 1 + 2 * H : 1 + 3 * H].view(-1, 1, 1, H)
        w2 = choices[:, 1 + 3 * H :].view(-1, 1, 1, H)

        def loss(logits: torch.Tensor, labels: torch.Tensor, inputs: torch.Tensor | None) -> torch.Tensor:
            log_p = torch.log_softmax(logits, -1)
            onehot = F.one_hot(labels, logits.shape[-1]).to(logits.dtype)
            ce = -(log_p * onehot).sum(-1)
            features = torch.stack([log_p, onehot], -1)  # (B, M, C, 2)
            hidden = torch.tanh((features.unsqueeze(-1) * w1).sum(-2) + b1)
            extra = (hidden * w2).sum(-1).sum(-1)
            return (scale.unsqueeze(1) * ce + extra).mean(1)

        return loss

    def _initial(self, task: Task) -> Params:
        d = self.data
        return [self.init_normal(task, 0, (d.features, d.classes)) * 0.01,
                torch.zeros(task.batch_size, d.classes, device=self.device)]

    def child(self, task: Task, choices: torch.Tensor, differentiable: bool = False
              ) -> tuple[Params, Forward, torch.Tensor]:
        params, failed = self.fit(task, self._initial(task), linear_forward, self.loss_for(choices),
                                  differentiable=differentiable)
        return params, linear_forward, failed

    def baselines(self) -> dict[str, torch.Tensor]:
        """Cross-entropy (the zero action)."""
        return {"cross-entropy": torch.zeros(self.action_size)}


class LearnedLoss(ChildTrainingEnv):
    """Each environment is one softmax-regression student trained with the loss the agent's action describes.

    - **Task**: ``data_key``, ``init_key``, ``pool`` (:mod:`metarl.envs.child_training.base`).
    - **Action** ``Box(1 + 4 H)`` in ``[-bound, bound]``: the loss parameters (module doc); zero is cross-entropy.
    - **Observation** ``(1,)``: zeros (one decision, nothing to see before it).
    - **Reward**: the student's accuracy on the eval part of its pool after ``steps`` SGD steps with that loss.

    Example:
        >>> import metarl, torch
        >>> env = metarl.make("metarl/LearnedLoss-v0", num_envs=2, seed=0, steps=5)
        >>> _ = env.reset()
        >>> step = env.step(torch.zeros(2, env.single_action_space.shape[0]))  # cross-entropy
        >>> bool(step.terminated.all())
        True
    """

    family = "LearnedLoss"
    description = "the loss a digits student trains with (ML3-style); reward = its held-out accuracy"
    source = "Bechtle et al. 2021, meta learning via learned loss"
    process_type = LearnedLossProcess
    params = PARAMS


__all__ = ["LearnedLoss", "LearnedLossProcess"]
