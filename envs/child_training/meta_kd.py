"""Meta-learned knowledge distillation (Meta-KD; Zhou et al. 2022, BERT learns to teach) as a family.

A teacher network (a softmax regression fitted once to the whole fit part of the training pool) gives soft targets
``softmax(teacher(x) / T)`` to a student that sees only ``train_size`` images. The agent's action is a change
``delta`` of the teacher's weights: plain knowledge distillation from the fixed teacher is the zero action, and a
meta-trained teacher is one whose soft targets make students generalise better. The students' loss is
``(1 - alpha) * CE(student, soft targets) + alpha * CE(student, labels)``.

Because the students' training is differentiable in ``delta``, the same family serves a differentiable meta-KD
(:meth:`~metarl.envs.child_training.base.ChildProcess.held_out_loss`) and a policy-gradient one (the reward).
"""

from __future__ import annotations

import torch
from metarl.envs.child_training.base import (
    ChildProcess,
    ChildTrainingEnv,
    Forward,
    Params,
    child_params,
    linear_forward,
)

from metarl.checks import SPLITS
from metarl.params import Param
from metarl.tasks import Task

_TEACHERS: dict[tuple[str, int, float], torch.Tensor] = {}


PARAMS = {
    "temperature": Param(2.0, low=1e-3, high=1e3, doc="T: softmax temperature of the soft targets"),
    "alpha": Param(0.0, low=0.0, high=1.0, doc="weight of the hard-label cross-entropy in the student's loss"),
    "bound": Param(1.0, low=1e-3, high=1e3, doc="each teacher weight changes by at most this much"),
    "teacher_steps": Param(300, low=1, high=100_000, doc="full-batch steps that fit the fixed teacher"),
    **child_params(train_size=50, steps=30),
}


class MetaKDProcess(ChildProcess):
    """One continuous decision, the teacher's weight change; each child is a student distilled from that teacher."""

    defaults = {name: param.default for name, param in PARAMS.items()}
    differentiable = True

    def __init__(self, config: dict | None = None, device: torch.device | str = "cpu") -> None:
        super().__init__(config, device)
        d = self.data
        self.action_size = (d.features + 1) * d.classes
        self.bound = float(self.config["bound"])

    def teacher(self) -> torch.Tensor:
        """The fixed teacher's flat weights ``((64 + 1) * 10,)``: full-batch gradient descent on the training pool's
        whole fit part (``teacher_steps`` steps), computed once per device and dtype."""
        steps, lr = int(self.config["teacher_steps"]), 0.5
        key = (str(self.device), steps, lr, torch.get_default_dtype())
        if key not in _TEACHERS:
            d, split = self.data, SPLITS["train"]
            rows = slice(int(d.fit_start[split]), int(d.fit_start[split] + d.fit_size[split]))
            x, y = d.x[rows].to(torch.get_default_dtype()), d.y[rows]
            weight = torch.zeros(d.features, d.classes, device=self.device, requires_grad=True)
            bias = torch.zeros(d.classes, device=self.device, requires_grad=True)
            with torch.enable_grad():
                for _ in range(steps):
                    loss = torch.nn.functional.cross_entropy(x @ weight + bias, y)
                    grads = torch.autograd.grad(loss, [weight, bias])
                    with torch.no_grad():
                        weight -= lr * grads[0]
                        bias -= lr * grads[1]
            _TEACHERS[key] = torch.cat([weight.detach().flatten(), bias.detach()])
        return _TEACHERS[key]

    def teacher_forward(self, choices: torch.Tensor) -> Forward:
        """The teachers' logits function for weight changes ``choices (B, (64 + 1) * 10)``."""
        d = self.data
        flat = self.teacher() + choices
        params = [flat[:, : d.features * d.classes].view(-1, d.features, d.classes), flat[:, d.features * d.classes :]]
        return lambda _, x: linear_forward(params, x)

    def child(self, task: Task, choices: torch.Tensor, differentiable: bool = False
              ) -> tuple[Params, Forward, torch.Tensor]:
        teacher = self.teacher_forward(choices)
        T, alpha = float(self.config["temperature"]), float(self.config["alpha"])

        def loss(logits: torch.Tensor, labels: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
            soft = torch.softmax(teacher(None, inputs) / T, -1)
            log_p = torch.log_softmax(logits, -1)
            distil = -(soft * log_p).sum(-1)
            hard = -log_p.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
            return ((1.0 - alpha) * distil + alpha * hard).mean(1)

        d = self.data
        initial = [self.init_normal(task, 0, (d.features, d.classes)) * 0.01,
                   torch.zeros(task.batch_size, d.classes, device=self.device)]
        params, failed = self.fit(task, initial, linear_forward, loss, differentiable=differentiable)
        return params, linear_forward, failed

    def baselines(self) -> dict[str, torch.Tensor]:
        """Plain knowledge distillation from the fixed teacher (the zero action), and from the same teacher with
        its weights halved (softer targets: the one-parameter change a meta-trained teacher can at least find)."""
        softer = (-0.5 * self.teacher()).clamp(-self.bound, self.bound).cpu()
        return {"plain KD": torch.zeros(self.action_size), "plain KD, teacher x0.5": softer}


class MetaKD(ChildTrainingEnv):
    """Each environment is one student distilled from a teacher whose weights the agent changes.

    - **Task**: ``data_key``, ``init_key``, ``pool`` (:mod:`metarl.envs.child_training.base`); the student trains on
      ``train_size`` images of its pool's fit part.
    - **Action** ``Box(650)`` in ``[-bound, bound]``: the change of the teacher's weights (module doc); zero is
      plain knowledge distillation from the fixed teacher.
    - **Observation** ``(1,)``: zeros (one decision, nothing to see before it).
    - **Reward**: the student's accuracy on the eval part of its pool after ``steps`` SGD steps.

    Example:
        >>> import metarl, torch
        >>> env = metarl.make("metarl/MetaKD-v0", num_envs=2, seed=0, steps=5)
        >>> _ = env.reset()
        >>> step = env.step(torch.zeros(2, 650))  # plain knowledge distillation
        >>> bool(step.terminated.all())
        True
    """

    family = "MetaKD"
    description = "change a teacher's weights for distilling into digits students; reward = their held-out accuracy"
    source = "Zhou et al. 2022, BERT learns to teach: knowledge distillation with meta learning"
    process_type = MetaKDProcess
    params = PARAMS


__all__ = ["MetaKD", "MetaKDProcess"]
