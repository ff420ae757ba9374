"""The shared base of families whose reward is the held-out accuracy of a briefly trained child network.

ArchitectureSearch-v0, Augment-v0, LearnedLoss-v0 and MetaKD-v0 all ask the agent for a design decision that
cannot be differentiated through (or, for MetaKD, need not be): an architecture, an augmentation policy, a loss,
a teacher. Each environment then trains one child on scikit-learn's digits with that decision, all B children at
once as batched tensors (the same code on CPU and CUDA), and pays the child's accuracy on held-out images.

- **Task** (explicit tensors): ``data_key (B,)`` (which training images and minibatches), ``init_key (B,)`` (the
  child's initial weights) and ``pool (B,)``, the split number whose digits pool the child trains and is scored on
  (:mod:`metarl.envs.learning_process.digits`): train-split tasks never see a test-split image.
- **Decisions**: a discrete family takes ``decisions`` steps, one ``Discrete(choices)`` action each (the NAS
  controller's sequence); its observation is the one-hot of the decision index and of the previous choice. A
  continuous family takes one step whose ``Box`` action is the whole decision; its observation is ``(1,)`` zeros.
- **Reward**: 0 until the last decision, then the child's accuracy on the eval part of its pool. A child whose
  loss or weights turn non-finite scores 0. Every trial is one episode and ends (terminated) at the last decision.

:class:`ChildProcess` holds what the four share: the data, the batched SGD loop and the scoring. A family says how
a decision becomes a child (:meth:`ChildProcess.train_children`) and which hand-made decisions are its baselines.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import gymnasium
import numpy as np
import torch
import torch.nn.functional as F
from metarl.envs.learning_process.base import LearningProcess, LearningProcessEnv, where_rows
from metarl.envs.learning_process.digits import load_digits

from metarl import random as mrandom
from metarl.params import Param
from metarl.tasks import Task

_DATA, _INIT, _SUBSET = 0xC41D, 0xC41E, 0xC41F
Params = list[torch.Tensor]
Forward = Callable[[Params, torch.Tensor], torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclasses.dataclass
class ChildTrainingTask(Task):
    """``data_key (B,)`` training images and minibatches, ``init_key (B,)`` initial weights, ``pool (B,)`` the split
    number of the digits pool the child trains and is scored on."""

    data_key: torch.Tensor
    init_key: torch.Tensor
    pool: torch.Tensor


class ChildState(NamedTuple):
    """``decision (B,)`` decisions made, ``choices (B, K)`` the decisions so far (discrete choices as floats, or the
    continuous action), ``accuracy (B,)`` the child's held-out accuracy (-1 before it is trained) and ``failed (B,)``
    (a non-finite loss or weight)."""

    decision: torch.Tensor
    choices: torch.Tensor
    accuracy: torch.Tensor
    failed: torch.Tensor

    where = where_rows


class ChildProcess(LearningProcess):
    """Decisions, then one batched child training per environment (see the module doc).

    Subclasses set ``decisions`` and ``choices`` (discrete) or ``action_size`` and ``bound`` (continuous) and
    implement :meth:`train_children` and :meth:`baselines`.
    """

    state_type = ChildState
    task_type = ChildTrainingTask
    defaults: Mapping[str, Any] = {}
    decisions: int = 1
    choices: int = 0  # 0: one continuous decision of ``action_size`` values in [-bound, bound]
    action_size: int = 0
    bound: float = 1.0
    differentiable = False  # held_out_loss differentiates through the children's training

    def __init__(self, config: Mapping[str, Any] | None = None, device: torch.device | str = "cpu") -> None:
        self.config = {**self.defaults, **(config or {})}
        self.device = torch.device(device)
        self.data = load_digits(self.device)

    @property
    def discrete(self) -> bool:
        return self.choices > 0

    @property
    def decision_types(self) -> tuple[str, ...]:
        """The kind of each decision (``(decisions,)`` names): decisions of one kind share what their choice index
        means, those of different kinds do not (a controller gives each kind its own output head). One kind unless
        the family says otherwise."""
        return ("choice",) * self.decisions

    @property
    def width(self) -> int:
        """Values stored per environment in ``ChildState.choices``."""
        return self.decisions if self.discrete else self.action_size

    @property
    def observation_size(self) -> int:
        return self.decisions + self.choices + 1 if self.discrete else 1

    # ------------------------------------------------------------------ tasks and data
    def task_shapes(self, batch: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        return {"data_key": ((batch,), torch.int64), "init_key": ((batch,), torch.int64),
                "pool": ((batch,), torch.int64)}

    def tasks_from_keys(self, keys: torch.Tensor, split: int) -> Task:
        return ChildTrainingTask(data_key=mrandom.combine(keys, _DATA).to(torch.int64),
                                 init_key=mrandom.combine(keys, _INIT).to(torch.int64),
                                 pool=torch.full(keys.shape, split, dtype=torch.int64, device=keys.device))

    def task_error(self, task: Task) -> str | None:
        if bool(((task.pool < 0) | (task.pool > 2)).any()):
            return "task field 'pool' must hold split numbers 0 (train), 1 (test) or 2 (validation)"
        return None

    def training_rows(self, task: Task) -> torch.Tensor | None:
        """Rows ``(B, train_size)`` of the digits each child trains on: ``train_size`` images of the fit part of its
        pool chosen by its ``data_key``; None when ``train_size`` is 0 (the pool's whole fit part)."""
        wanted = int(self.config.get("train_size", 0))
        if wanted == 0:
            return None
        d = self.data
        size = d.fit_size[task.pool].unsqueeze(1)
        scores = mrandom.lanes(mrandom.combine(task.data_key, _SUBSET), int(d.fit_size.max()))
        scores = scores.masked_fill(torch.arange(scores.shape[1], device=scores.device) >= size, 2.0)
        picked = scores.topk(wanted, 1, largest=False).indices  # a pool smaller than train_size repeats its images
        return d.fit_start[task.pool].unsqueeze(1) + picked % size

    def minibatch(self, task: Task, rows: torch.Tensor | None, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs ``(B, M, 64)`` and labels ``(B, M)`` of training step ``step`` (M = ``batch_size``)."""
        u = mrandom.lanes(mrandom.combine(task.data_key, step), int(self.config["batch_size"]))
        if rows is None:
            size = self.data.fit_size[task.pool].unsqueeze(1)
            pick = self.data.fit_start[task.pool].unsqueeze(1) + (u * size).long().clamp_(max=size - 1)
        else:
            pick = rows.gather(1, (u * rows.shape[1]).long().clamp_(max=rows.shape[1] - 1))
        return self.data.x[pick].to(torch.get_default_dtype()), self.data.y[pick]  # children: default dtype

    def eval_set(self, task: Task) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The eval part of each task's pool (its first ``eval_size`` images when that is set): inputs ``(B, K, 64)``,
        labels and validity ``(B, K)``; when every task has the same pool, inputs ``(K, 64)``, labels and validity
        ``(K,)`` shared by all (no copy per child)."""
        d = self.data
        pools = task.pool
        if bool((pools == pools[0]).all()):
            pools = pools[:1]
        sizes = d.eval_size[pools]
        limit = int(self.config.get("eval_size", 0))
        sizes = sizes.clamp(max=limit) if limit > 0 else sizes
        offsets = torch.arange(int(sizes.max()), device=self.device)
        valid = offsets < sizes.unsqueeze(1)
        index = (d.eval_start[pools].unsqueeze(1) + offsets).clamp(max=d.x.shape[0] - 1)
        if pools.shape[0] == 1 and task.batch_size != 1:
            return d.x[index[0]].to(torch.get_default_dtype()), d.y[index[0]], valid[0]
        return d.x[index].to(torch.get_default_dtype()), d.y[index], valid

    def init_normal(self, task: Task, salt: int, shape: tuple[int, ...]) -> torch.Tensor:
        """Standard normal values ``(B, *shape)`` from each task's ``init_key`` (independent of B)."""
        size = int(np.prod(shape))
        z = mrandom.normal_from_uniform(mrandom.lanes(mrandom.combine(task.init_key, salt), size))
        return z.view(-1, *shape).to(torch.get_default_dtype())

    # ------------------------------------------------------------------ training and scoring
    def fit(self, task: Task, params: Params, forward: Forward, loss_fn: LossFn | None = None,
            augment: Callable[[torch.Tensor, int], torch.Tensor] | None = None, differentiable: bool = False
            ) -> tuple[Params, torch.Tensor]:
        """``steps`` steps of SGD with momentum on every child at once; returns (parameters, failed (B,)).

        ``loss_fn(logits (B, M, C), labels (B, M), inputs (B, M, 64)) -> (B,)`` defaults to cross-entropy;
        ``augment(inputs, step)`` transforms each minibatch. A child whose loss or step turns non-finite keeps its
        last finite parameters and is marked failed. With ``differentiable`` the steps stay on the autograd graph
        (for meta-gradients through the whole training).
        """
        c = self.config
        loss_fn = loss_fn or cross_entropy
        rows = self.training_rows(task)
        velocity = [torch.zeros_like(p) for p in params]
        failed = torch.zeros(task.batch_size, dtype=torch.bool, device=self.device)
        for step in range(int(c["steps"])):
            x, y = self.minibatch(task, rows, step)
            if augment is not None:
                x = augment(x, step)
            with torch.enable_grad():
                live = [p if differentiable and p.requires_grad else p.detach().requires_grad_(True) for p in params]
                loss = loss_fn(forward(live, x), y, x)
                grads = torch.autograd.grad(loss.sum(), live, create_graph=differentiable)
            velocity = [c["momentum"] * v + g for v, g in zip(velocity, grads, strict=True)]
            stepped = [p - c["lr"] * v for p, v in zip(live, velocity, strict=True)]
            bad = ~torch.isfinite(loss.detach())
            for s in stepped:
                bad = bad | ~torch.isfinite(s.detach().flatten(1)).all(1)
            failed = failed | bad
            params = [torch.where(_rows(failed, s), p, s) for p, s in zip(params, stepped, strict=True)]
            velocity = [torch.where(_rows(failed, v), torch.zeros_like(v), v) for v in velocity]
        return params, failed

    def score(self, task: Task, params: Params, forward: Forward, logit_scale: float = 0.0
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """(accuracy (B,), mean cross-entropy (B,)) of each child on the eval part of its pool.

        With ``logit_scale`` > 0 the cross-entropy is scale-free: each logit vector is centred and rescaled to that
        root-mean-square first, so a child cannot lower it by growing more confident without ranking better.
        """
        x, y, valid = self.eval_set(task)
        logits = forward(params, x)
        y, valid = y.expand(logits.shape[:2]), valid.expand(logits.shape[:2])
        correct = (logits.argmax(-1) == y).float() * valid
        if logit_scale > 0:
            logits = logits - logits.mean(-1, keepdim=True)
            logits = logit_scale * logits * logits.square().mean(-1, keepdim=True).clamp(min=1e-12).rsqrt()
        loss = F.cross_entropy(logits.transpose(1, 2), y, reduction="none") * valid
        return correct.sum(1) / valid.sum(1), loss.sum(1) / valid.sum(1)

    @abc.abstractmethod
    def child(self, task: Task, choices: torch.Tensor, differentiable: bool = False
              ) -> tuple[Params, Forward, torch.Tensor]:
        """Train one child per environment with its decisions ``choices (B, K)``: (parameters, forward, failed (B,))."""

    def train_children(self, task: Task, choices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(held-out accuracy (B,), failed (B,)) of children trained with decisions ``choices (B, K)``."""
        with torch.no_grad():
            params, forward, failed = self.child(task, choices)
            return self.score(task, params, forward)[0], failed

    def held_out_loss(self, task: Task, choices: torch.Tensor) -> torch.Tensor:
        """Held-out cross-entropy (B,) of children trained with continuous decisions ``choices (B, K)``,
        differentiable with respect to them through every training step (families with ``differentiable``); a
        family with a ``held_out_scale`` setting above 0 scores the logits scale-free (:meth:`score`)."""
        if not self.differentiable:
            raise NotImplementedError(f"{type(self).__name__} children cannot be differentiated through")
        params, forward, _ = self.child(task, choices, differentiable=True)
        return self.score(task, params, forward, float(self.config.get("held_out_scale", 0.0)))[1]

    @abc.abstractmethod
    def baselines(self) -> dict[str, torch.Tensor]:
        """Hand-made decisions ``(K,)`` by name, to compare a learned one with."""

    # ------------------------------------------------------------------ the process
    def start(self, task: Task) -> ChildState:
        B = task.batch_size
        return ChildState(torch.zeros(B, dtype=torch.int64, device=self.device),
                          torch.zeros(B, self.width, device=self.device), torch.full((B,), -1.0, device=self.device),
                          torch.zeros(B, dtype=torch.bool, device=self.device))

    def advance(self, state: ChildState, action: torch.Tensor, task: Task
                ) -> tuple[ChildState, torch.Tensor, torch.Tensor]:
        if self.discrete:
            here = F.one_hot(state.decision.clamp(max=self.decisions - 1), self.decisions).bool()
            choices = torch.where(here, action.float().unsqueeze(1), state.choices)
        else:
            choices = action.float().reshape(state.choices.shape)
        decision = state.decision + 1
        done = decision >= self.decisions
        accuracy, failed = state.accuracy, state.failed
        if bool(done.any()):  # discrete families decide in lockstep: every child trains at the same step
            accuracy, failed = self.train_children(task, choices)
            accuracy = torch.where(failed, torch.zeros_like(accuracy), accuracy)
            accuracy, failed = torch.where(done, accuracy, state.accuracy), failed & done
        reward = torch.where(done, accuracy, torch.zeros_like(accuracy))
        return ChildState(decision, choices, accuracy, failed), reward, done

    def observe(self, state: ChildState, task: Task) -> torch.Tensor:
        if not self.discrete:
            return torch.zeros(state.decision.shape[0], 1, device=self.device)
        index = F.one_hot(state.decision.clamp(max=self.decisions - 1), self.decisions).float()
        previous = state.choices.gather(1, (state.decision - 1).clamp(min=0).unsqueeze(1))[:, 0].long() + 1
        previous = torch.where(state.decision > 0, previous, torch.zeros_like(previous))
        return torch.cat([index, F.one_hot(previous, self.choices + 1).float()], 1)


def _rows(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return mask.view(-1, *[1] * (like.dim() - 1))


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, inputs: torch.Tensor | None = None) -> torch.Tensor:
    """Mean cross-entropy per child: logits ``(B, M, C)``, labels ``(B, M)`` -> ``(B,)``.

    Example:
        >>> cross_entropy(torch.zeros(2, 3, 10), torch.zeros(2, 3, dtype=torch.int64))
        tensor([2.3026, 2.3026])
    """
    return F.cross_entropy(logits.transpose(1, 2), labels, reduction="none").mean(1)


def linear_forward(params: Params, x: torch.Tensor) -> torch.Tensor:
    """Softmax-regression logits ``(B, M, C)`` from ``params = [weight (B, 64, C), bias (B, C)]`` and inputs
    ``x (B, M, 64)`` (or ``(M, 64)`` shared by every child)."""
    return dense(x, *params)


def dense(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``x @ weight + bias`` per child: ``x (B, M, a)`` or shared ``(M, a)``, ``weight (B, a, b)``, ``bias (B, b)``.

    Example:
        >>> dense(torch.ones(5, 3), torch.ones(2, 3, 4), torch.zeros(2, 4)).shape
        torch.Size([2, 5, 4])
    """
    if x.dim() == 2:
        return torch.matmul(x, weight) + bias.unsqueeze(1)
    return torch.baddbmm(bias.unsqueeze(1), x, weight)


def child_params(**defaults: Any) -> dict[str, Param]:
    """The training settings every child-training family has, with the family's ``defaults``.

    Example:
        >>> child_params(steps=20)["steps"].default
        20
    """
    values = {"steps": 100, "batch_size": 32, "lr": 0.1, "momentum": 0.9, "train_size": 0, "eval_size": 0, **defaults}
    return {
        "steps": Param(values["steps"], low=1, high=100_000, doc="SGD steps of each child"),
        "batch_size": Param(values["batch_size"], low=1, high=4096, doc="examples per SGD step"),
        "lr": Param(values["lr"], low=1e-9, high=1e3, doc="the child's learning rate"),
        "momentum": Param(values["momentum"], low=0.0, high=0.999, doc="the child's SGD momentum"),
        "train_size": Param(values["train_size"], low=0, high=100_000,
                            doc="training images per child (0: the pool's whole fit part)"),
        "eval_size": Param(values["eval_size"], low=0, high=100_000,
                           doc="held-out images that score each child (0: the pool's whole eval part)"),
    }


class ChildTrainingEnv(LearningProcessEnv):
    """A family whose trial is the decisions that shape one child, rewarded with its held-out accuracy."""

    process_type: type[ChildProcess]

    def _make_process(self) -> ChildProcess:
        return self.process_type(dict(self.config), self.device)

    def _trial_shape(self) -> tuple[int, int]:
        return self.process.decisions, 1

    def _process_input(self, action: torch.Tensor) -> torch.Tensor:
        if self.process.discrete:
            return action.long()
        return action.clamp(-self.process.bound, self.process.bound)

    def _spaces(self) -> tuple[gymnasium.Space, gymnasium.Space]:
        p = self.process
        obs = gymnasium.spaces.Box(np.float32(0), np.float32(1), (p.observation_size,), np.float32)
        if p.discrete:
            return obs, gymnasium.spaces.Discrete(p.choices)
        return obs, gymnasium.spaces.Box(np.float32(-p.bound), np.float32(p.bound), (p.action_size,), np.float32)

    def reward_bounds(self) -> tuple[float, float]:
        return 0.0, 1.0


__all__ = ["ChildProcess", "ChildState", "ChildTrainingEnv", "ChildTrainingTask", "child_params", "cross_entropy",
           "dense", "linear_forward"]
