"""Meta-learned knowledge distillation (Meta-KD; Zhou et al. 2022, BERT learns to teach) as a family.

A teacher network (a softmax regression fitted once to the whole fit part of the training pool) gives soft targets
``softmax(teacher(x) / T)`` to a student that sees only ``train_size`` images. The agent's action changes the
teacher: plain knowledge distillation from the fixed teacher is the zero action, and a meta-trained teacher is one
whose soft targets make students generalise better. The students' loss is
``(1 - alpha) * CE(student, soft targets) + alpha * CE(student, labels)``.

What the action changes (``change``): ``output`` (the default), 11 values on top of the fixed teacher network, the
log of a scale of its logits and an offset per class, ``teacher(x) * exp(a[0]) + a[1:]``; ``weights``, all 650
weights of the teacher. A meta-gradient or a population of 16 perturbations in 650 directions mostly carries noise
(docs/benchmarks.md), while the changes that matter to a student (softer or sharper targets, a class prior) lie
in the few directions of ``output``.

Because the students' training is differentiable in the action, the same family serves a differentiable meta-KD
(:meth:`~metarl.envs.child_training.base.ChildProcess.held_out_loss`) and a policy-gradient one (the reward). The
differentiable meta-objective is scale-free by default (``held_out_scale``): the raw held-out cross-entropy falls
when the teacher makes 30-step students more confident, even as their accuracy falls.
"""

from __future__ import annotations

import math

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
    "change": Param("output", choices=("output", "weights"),
                    doc="what the action changes: the teacher's logit scale and class offsets, or all its weights"),
    "bound": Param(1.0, low=1e-3, high=1e3, doc="each value of the action is at most this much"),
    "held_out_scale": Param(3.0, low=0.0, high=1e3,
                            doc="RMS the students' logits are scaled to before the differentiable meta-objective's "
                                "held-out cross-entropy (0: raw logits)"),
    "teacher_steps": Param(300, low=1, high=100_000, doc="full-batch steps that fit the fixed teacher"),
    **child_params(train_size=50, steps=30),
}


class MetaKDProcess(ChildProcess):
    """One continuous decision, the teacher's change; each child is a student distilled from that teacher."""

    defaults = {name: param.default for name, param in PARAMS.items()}
    differentiable = True

    def __init__(self, config: dict | None = None, device: torch.device | str = "cpu") -> None:
        super().__init__(config, device)
        d = self.data
        self.change = str(self.config["change"])
        self.action_size = 1 + d.classes if self.change == "output" else (d.features + 1) * d.classes
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
        """The teachers' logits function for changes ``choices (B, action_size)`` (see ``change``).

        Example:
            >>> process = MetaKDProcess({"teacher_steps": 5})
            >>> halved = torch.tensor([[-math.log(2.0)] + [0.0] * 10])
            >>> x = process.data.x[:3].float()
            >>> bool(torch.allclose(process.teacher_forward(halved)(None, x),
            ...                     0.5 * process.teacher_forward(torch.zeros(1, 11))(None, x), atol=1e-5))
            True
        """
        d = self.data
        if self.change == "output":
            fixed = self.teacher()
            params = [fixed[: d.features * d.classes].view(1, d.features, d.classes).expand(choices.shape[0], -1, -1),
                      fixed[d.features * d.classes :].expand(choices.shape[0], -1)]
            scale, offset = choices[:, :1].exp().unsqueeze(1), choices[:, 1:].unsqueeze(1)
            return lambda _, x: linear_forward(params, x) * scale + offset
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
        if self.change == "output":
            softer = torch.zeros(self.action_size)
            softer[0] = max(-math.log(2.0), -self.bound)
        else:
            softer = (-0.5 * self.teacher()).clamp(-self.bound, self.bound).cpu()
        return {"plain KD": torch.zeros(self.action_size), "plain KD, teacher x0.5": softer}


class MetaKD(ChildTrainingEnv):
    """Each environment is one student distilled from a teacher that the agent changes.

    - **Task**: ``data_key``, ``init_key``, ``pool`` (:mod:`metarl.envs.child_training.base`); the student trains on
      ``train_size`` images of its pool's fit part.
    - **Action** ``Box(11)`` in ``[-bound, bound]``: the log scale of the teacher's logits and an offset per class
      (``change="output"``), or ``Box(650)``, the change of all the teacher's weights (``change="weights"``); zero
      is plain knowledge distillation from the fixed teacher.
    - **Observation** ``(1,)``: zeros (one decision, nothing to see before it).
    - **Reward**: the student's accuracy on the eval part of its pool after ``steps`` SGD steps.

    Example:
        >>> import metarl, torch
        >>> env = metarl.make("metarl/MetaKD-v0", num_envs=2, seed=0, steps=5)
        >>> _ = env.reset()
        >>> step = env.step(torch.zeros(2, 11))  # plain knowledge distillation
        >>> bool(step.terminated.all())
        True
    """

    family = "MetaKD"
    description = "change a teacher for distilling into digits students; reward = their held-out accuracy"
    source = "Zhou et al. 2022, BERT learns to teach: knowledge distillation with meta learning"
    process_type = MetaKDProcess
    params = PARAMS


__all__ = ["MetaKD", "MetaKDProcess"]
