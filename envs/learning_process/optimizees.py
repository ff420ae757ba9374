"""Batched optimizees: many instances of one model family, each with its own parameters and data, at once.

An optimizee's parameters are one flat tensor ``theta (B, n)``, a row per instance. ``loss(theta, task,
step)`` returns ``(B,)`` where row b depends only on row b of ``theta`` and task b, so one
``autograd.grad(loss.sum(), theta)`` gives every instance its own gradient. Models are evaluated with
batched matrix products over the instance dimension, never a Python loop over instances.

Kinds (``KINDS``):

- ``quadratic``: f(theta) = ||W theta - y||^2 with W (d x d) and y (d) standard normal, theta_0 ~ N(0, 0.01^2)
  (Andrychowicz et al. 2016, 10-d quadratics);
- ``logistic``, ``mlp``: softmax regression and a sigmoid MLP on scikit-learn's digits
  (:mod:`metarl.envs.learning_process.digits`), cross-entropy on a minibatch drawn at each step from the fit
  part of the task's pool;
- ``synthetic``: the same MLP on a 2-class problem, inputs N(0, I_d) labelled by a random linear teacher with
  5% label noise, a fresh minibatch per step.

Every random draw (initial parameters, minibatch indices, synthetic inputs) is a counter-based hash of the
task's keys and the step (:mod:`metarl.random`), so an instance's run is the same in any batch.

Example:
    >>> opt = make_optimizee("quadratic", {"dims": 10}, "cpu")
    >>> task = opt.tasks_from_keys(mrandom.env_keys(0, 4), pool=0)
    >>> opt.loss(task.init, task, torch.zeros(4, dtype=torch.int64)).shape
    torch.Size([4])
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from metarl.envs.learning_process.digits import load_digits

from metarl import random as mrandom
from metarl.tasks import Task

KINDS = ("quadratic", "logistic", "mlp", "synthetic")
_INIT, _DATA, _TEACHER, _MATRIX = 0x1A17, 0xDA7A, 0x7EAC, 0x3A71
_FIT_SET, _EVAL_SET = -1, -2  # step counters of the fixed sets that score synthetic tasks
SYNTHETIC_NOISE = 0.05
SYNTHETIC_SCORE_SAMPLES = 1024


@dataclasses.dataclass
class QuadraticTask(Task):
    """``matrix (B, d, d)`` W, ``target (B, d)`` y, ``init (B, d)`` theta_0."""

    matrix: torch.Tensor
    target: torch.Tensor
    init: torch.Tensor


@dataclasses.dataclass
class DigitsTask(Task):
    """``init (B, n)`` theta_0, ``data_key (B,)`` int64 minibatch key, ``pool (B,)`` int64 split number of the data."""

    init: torch.Tensor
    data_key: torch.Tensor
    pool: torch.Tensor


@dataclasses.dataclass
class SyntheticTask(Task):
    """``init (B, n)`` theta_0, ``teacher (B, d)`` labelling direction, ``data_key (B,)`` int64 minibatch key."""

    init: torch.Tensor
    teacher: torch.Tensor
    data_key: torch.Tensor


class Optimizee(abc.ABC):
    """One kind of optimizee: its task data, parameter count, per-step loss and final scores."""

    kind: ClassVar[str] = ""
    task_type: ClassVar[type[Task]] = Task
    classifier: ClassVar[bool] = True

    def __init__(self, config: Mapping[str, Any], device: torch.device | str) -> None:
        self.config, self.device = dict(config), torch.device(device)

    size: int
    """Number of coordinates n of theta."""

    @abc.abstractmethod
    def task_shapes(self, batch: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]: ...

    @abc.abstractmethod
    def tasks_from_keys(self, keys: torch.Tensor, pool: int) -> Task:
        """Tasks from hashed keys; ``pool`` is the split number whose data the tasks train on."""

    @abc.abstractmethod
    def loss(self, theta: torch.Tensor, task: Task, step: torch.Tensor) -> torch.Tensor:
        """Loss (B,) of each instance at its step ``step (B,)`` (its minibatch of that step)."""

    @abc.abstractmethod
    def scores(self, theta: torch.Tensor, task: Task) -> tuple[torch.Tensor, torch.Tensor]:
        """(final loss (B,), accuracy (B,)): the loss on all the task's fit data and the accuracy on held-out
        data of its pool (NaN for optimizees that are not classifiers)."""

    def task_error(self, task: Task) -> str | None:
        return None


class Quadratic(Optimizee):
    kind = "quadratic"
    task_type = QuadraticTask
    classifier = False

    def __init__(self, config: Mapping[str, Any], device: torch.device | str) -> None:
        super().__init__(config, device)
        self.size = self.config["dims"]

    def task_shapes(self, batch: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        d = self.size
        return {"matrix": ((batch, d, d), torch.float32), "target": ((batch, d), torch.float32),
                "init": ((batch, d), torch.float32)}

    def tasks_from_keys(self, keys: torch.Tensor, pool: int) -> QuadraticTask:
        d = self.size
        z = mrandom.normal_from_uniform(mrandom.lanes(keys, d * d + 2 * d))
        return QuadraticTask(matrix=z[:, : d * d].reshape(-1, d, d).contiguous(),
                             target=z[:, d * d : d * d + d].contiguous(), init=0.01 * z[:, d * d + d :])

    def loss(self, theta: torch.Tensor, task: QuadraticTask, step: torch.Tensor) -> torch.Tensor:
        residual = torch.bmm(task.matrix, theta.unsqueeze(-1)).squeeze(-1) - task.target
        return residual.square().sum(-1)

    def scores(self, theta: torch.Tensor, task: QuadraticTask) -> tuple[torch.Tensor, torch.Tensor]:
        loss = self.loss(theta, task, torch.zeros(theta.shape[0], dtype=torch.int64, device=theta.device))
        return loss, torch.full_like(loss, math.nan)


class MLPClassifier(Optimizee):
    """A batched MLP (sigmoid hidden layers, softmax output) with flat per-instance parameters."""

    inputs: int
    outputs: int

    def _layout(self, hidden: list[int]) -> None:
        self.sizes = [self.inputs, *hidden, self.outputs]
        self.size = sum(a * b + b for a, b in zip(self.sizes[:-1], self.sizes[1:], strict=False))
        std = []
        for a, b in zip(self.sizes[:-1], self.sizes[1:], strict=False):
            std += [1.0 / math.sqrt(a)] * (a * b) + [0.0] * b  # weights N(0, 1/fan_in), biases 0
        self.init_std = torch.tensor(std, device=self.device)

    def _init(self, keys: torch.Tensor) -> torch.Tensor:
        z = mrandom.normal_from_uniform(mrandom.lanes(mrandom.combine(keys, _INIT), self.size))
        return z * self.init_std

    def logits(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Outputs (B, m, C) of each instance's MLP on its inputs ``x (B, m, inputs)`` (or shared ``(m, inputs)``).

        Example:
            >>> mlp = make_optimizee("mlp", {"hidden": 20, "layers": 1}, "cpu")
            >>> mlp.logits(torch.zeros(3, mlp.size), torch.zeros(5, 64)).shape
            torch.Size([3, 5, 10])
        """
        B, offset, h = theta.shape[0], 0, x.to(theta.dtype)  # data in the parameters' precision
        for i, (a, b) in enumerate(zip(self.sizes[:-1], self.sizes[1:], strict=False)):
            weight = theta[:, offset : offset + a * b].view(B, a, b)
            bias = theta[:, offset + a * b : offset + a * b + b].unsqueeze(1)
            offset += a * b + b
            h = torch.baddbmm(bias, h, weight) if h.dim() == 3 else torch.matmul(h, weight) + bias
            if i < len(self.sizes) - 2:
                h = torch.sigmoid(h)
        return h

    @staticmethod
    def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy per instance: logits (B, m, C), labels (B, m) -> (B,)."""
        return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none").view(labels.shape).mean(1)

    def _minibatch_uniforms(self, task: Task, step: torch.Tensor, count: int) -> torch.Tensor:
        return mrandom.lanes(mrandom.combine(task.data_key, step), count)


class Digits(MLPClassifier):
    """Softmax regression (``logistic``) or an MLP (``mlp``) on the digits pool of each task's split."""

    task_type = DigitsTask

    def __init__(self, config: Mapping[str, Any], device: torch.device | str, kind: str) -> None:
        super().__init__(config, device)
        self.kind = kind
        self.data = load_digits(self.device)
        self.inputs, self.outputs = self.data.features, self.data.classes
        self._layout([] if kind == "logistic" else [self.config["hidden"]] * self.config["layers"])

    def task_shapes(self, batch: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        return {"init": ((batch, self.size), torch.float32), "data_key": ((batch,), torch.int64),
                "pool": ((batch,), torch.int64)}

    def tasks_from_keys(self, keys: torch.Tensor, pool: int) -> DigitsTask:
        return DigitsTask(init=self._init(keys), data_key=mrandom.combine(keys, _DATA).to(torch.int64),
                          pool=torch.full(keys.shape, pool, dtype=torch.int64, device=keys.device))

    def task_error(self, task: DigitsTask) -> str | None:
        if bool(((task.pool < 0) | (task.pool > 2)).any()):
            return "task field 'pool' must hold split numbers 0 (train), 1 (test) or 2 (validation)"
        return None

    def loss(self, theta: torch.Tensor, task: DigitsTask, step: torch.Tensor) -> torch.Tensor:
        u = self._minibatch_uniforms(task, step, self.config["batch_size"])
        size = self.data.fit_size[task.pool].unsqueeze(1)
        index = self.data.fit_start[task.pool].unsqueeze(1) + (u * size).long().clamp_(max=size - 1)
        return self.cross_entropy(self.logits(theta, self.data.x[index]), self.data.y[index])

    def scores(self, theta: torch.Tensor, task: DigitsTask) -> tuple[torch.Tensor, torch.Tensor]:
        d = self.data
        logits = self.logits(theta, d.x)  # every image for every instance; the masks pick each pool's parts
        row = torch.arange(d.x.shape[0], device=theta.device)
        losses = F.cross_entropy(logits.transpose(1, 2), d.y.expand(theta.shape[0], -1), reduction="none")
        fit = (row >= d.fit_start[task.pool, None]) & (row < (d.fit_start + d.fit_size)[task.pool, None])
        held = (row >= d.eval_start[task.pool, None]) & (row < (d.eval_start + d.eval_size)[task.pool, None])
        correct = (logits.argmax(-1) == d.y).float()
        return (losses * fit).sum(1) / fit.sum(1), (correct * held).sum(1) / held.sum(1)


class Synthetic(MLPClassifier):
    """An MLP on a 2-class problem: x ~ N(0, I_d), label 1[x . teacher > 0] flipped with probability 0.05."""

    kind = "synthetic"
    task_type = SyntheticTask

    def __init__(self, config: Mapping[str, Any], device: torch.device | str) -> None:
        super().__init__(config, device)
        self.inputs, self.outputs = self.config["dims"], 2
        self._layout([self.config["hidden"]] * self.config["layers"])

    def task_shapes(self, batch: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        return {"init": ((batch, self.size), torch.float32), "teacher": ((batch, self.inputs), torch.float32),
                "data_key": ((batch,), torch.int64)}

    def tasks_from_keys(self, keys: torch.Tensor, pool: int) -> SyntheticTask:
        teacher = mrandom.normal_from_uniform(mrandom.lanes(mrandom.combine(keys, _TEACHER), self.inputs))
        return SyntheticTask(init=self._init(keys), teacher=teacher,
                             data_key=mrandom.combine(keys, _DATA).to(torch.int64))

    def _examples(self, task: SyntheticTask, step: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        d = self.inputs
        u = self._minibatch_uniforms(task, step, count * (d + 1)).view(-1, count, d + 1)
        x = mrandom.normal_from_uniform(u[..., :d].contiguous())
        label = (torch.einsum("bmd,bd->bm", x, task.teacher) > 0) ^ (u[..., d] < SYNTHETIC_NOISE)
        return x, label.long()

    def loss(self, theta: torch.Tensor, task: SyntheticTask, step: torch.Tensor) -> torch.Tensor:
        x, y = self._examples(task, step, self.config["batch_size"])
        return self.cross_entropy(self.logits(theta, x), y)

    def scores(self, theta: torch.Tensor, task: SyntheticTask) -> tuple[torch.Tensor, torch.Tensor]:
        counter = torch.full((theta.shape[0],), _FIT_SET, dtype=torch.int64, device=theta.device)
        x_fit, y_fit = self._examples(task, counter, SYNTHETIC_SCORE_SAMPLES)
        loss = self.cross_entropy(self.logits(theta, x_fit), y_fit)
        x_eval, y_eval = self._examples(task, counter + (_EVAL_SET - _FIT_SET), SYNTHETIC_SCORE_SAMPLES)
        accuracy = (self.logits(theta, x_eval).argmax(-1) == y_eval).float().mean(1)
        return loss, accuracy


def make_optimizee(kind: str, config: Mapping[str, Any], device: torch.device | str = "cpu") -> Optimizee:
    """The optimizee ``kind`` (one of :data:`KINDS`) with the family's settings (``dims``, ``hidden``, ...).

    Example:
        >>> make_optimizee("mlp", {"hidden": 20, "layers": 1, "batch_size": 128}).size  # 64*20+20 + 20*10+10
        1510
    """
    defaults = {"dims": 10, "hidden": 20, "layers": 1, "batch_size": 128}
    config = {**defaults, **config}
    if kind == "quadratic":
        return Quadratic(config, device)
    if kind in ("logistic", "mlp"):
        return Digits(config, device, kind)
    if kind == "synthetic":
        return Synthetic(config, device)
    raise ValueError(f"unknown optimizee kind {kind!r}; expected one of {list(KINDS)}")


__all__ = ["KINDS", "DigitsTask", "Optimizee", "QuadraticTask", "SyntheticTask", "make_optimizee"]
