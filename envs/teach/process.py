"""The teaching process: many students trained at once on data a teacher keeps or drops, as pure functions.

:class:`TeachingProcess` is the core of the ``metarl/Teach-v0`` family and of the learned teacher's
meta-training (Fan et al. 2018, learning to teach). Each instance is a student (a batched softmax regression
or MLP from :mod:`metarl.envs.learning_process.optimizees`) and a data stream. At every step a minibatch of M
examples arrives; the teacher keeps or drops each one; kept examples accumulate in a buffer, and the student
takes one SGD step on M of them as soon as M are there. After each student step the dev accuracy is measured.

- ``start(task)`` -> :class:`TeachState`; ``observe(state, task)`` -> per-example features ``(B, M, F)``;
  ``advance(state, keep, task)`` -> (state, reward, terminal).
- Features of each arriving example (F = 2 C + 5 for C classes): the label one-hot (C), the fraction of the
  student-update budget used, the average training loss of the student's past updates, its best dev accuracy
  so far, its predicted probabilities (C), the example's loss and its margin p_y - max_{c != y} p_c. Losses are
  clipped to [0, :data:`LOSS_CAP`] so every feature is bounded.
- Reward: 0 until the end; ``-log(i_tau / T')`` at the student update i_tau at which dev accuracy first
  reaches ``tau`` (T' = ``max_updates``; accuracies are measured after each update, so i_tau >= 1). A student
  that uses its T' updates without reaching tau ends with reward 0 (= -log(T' / T'), as if it reached tau at
  the last update).
- Terminal: dev accuracy reached tau, T' updates used, or a non-finite student loss or parameters (that
  update is not applied; reward 0, ``state.failed`` is set). Truncation (a cap on arriving minibatches) is the
  environment's ``horizon``.
- Data (digits): the stream of a task of split s samples (with replacement) from the first ``stream`` images of
  the fit part of pool s (:mod:`metarl.envs.learning_process.digits`); the eval part of pool s is cut in halves,
  the dev set (reward) and the test set (reports). Pools are disjoint across splits, so teachers trained on
  train-split students are assessed on test-split students whose stream, dev and test images they never saw.
  Synthetic tasks draw x ~ N(0, I_d) labelled 1[x . w > b] (b sets the positive rate ``1 - imbalance``), each
  stream label flipped with probability ``noise`` (dev and test labels are clean); the dev and test sets are
  separate counter ranges of the same hash.

Example:
    >>> process = TeachingProcess("logistic", {"batch_size": 8})
    >>> task = process.tasks_from_keys(mrandom.env_keys(0, 3), split=0)
    >>> state = process.start(task)
    >>> process.observe(state, task).shape
    torch.Size([3, 8, 25])
    >>> state, reward, terminal = process.advance(state, torch.ones(3, 8, dtype=torch.bool), task)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from metarl.envs.learning_process.base import LearningProcess, where_rows
from metarl.envs.learning_process.optimizees import MLPClassifier, make_optimizee

from metarl import random as mrandom
from metarl.tasks import Task

STUDENTS = ("logistic", "mlp", "synthetic")
LOSS_CAP = 20.0
SYNTHETIC_EVAL = 512  # examples in each of the synthetic dev and test sets
_DATA, _TEACHER = 0x7EAC, 0x7EAD
_DEV, _TEST = -(1 << 30), -(1 << 29)  # synthetic dev and test example counters (the stream counts up from 0)
DEFAULTS = {"batch_size": 20, "lr": 0.5, "tau": 0.9, "max_updates": 200, "hidden": 20, "layers": 1, "dims": 10,
            "noise": 0.1, "imbalance": 0.5, "stream_size": 0}


@dataclasses.dataclass
class DigitsTeachTask(Task):
    """``init (B, n)`` student parameters, ``data_key (B,)`` stream key, ``pool (B,)`` split number of the data,
    ``stream (B,)`` how many images of the pool's fit part the stream draws from (at least 1)."""

    init: torch.Tensor
    data_key: torch.Tensor
    pool: torch.Tensor
    stream: torch.Tensor


@dataclasses.dataclass
class SyntheticTeachTask(Task):
    """``init (B, n)`` student parameters, ``teacher (B, d)`` labelling direction, ``data_key (B,)`` stream key,
    ``stream (B,)`` number of distinct examples in the stream (at least 1)."""

    init: torch.Tensor
    teacher: torch.Tensor
    data_key: torch.Tensor
    stream: torch.Tensor


class TeachState(NamedTuple):
    """State of B students: parameters ``theta (B, n)``, the ``buffer (B, 2M)`` of kept example ids and its
    ``count (B,)``, minibatches seen ``arrivals (B,)``, student ``updates (B,)``, examples ``kept (B,)``, the mean
    training loss of past updates ``avg_loss (B,)``, dev accuracy ``dev_acc`` and its best ``best_acc (B,)``, test
    accuracy ``test_acc (B,)``, kept examples when test accuracy first reached tau ``test_kept (B,)`` (-1: not yet),
    the update at which dev accuracy reached tau ``reached_at (B,)`` (-1: not yet) and ``failed (B,)``
    (non-finite student)."""

    theta: torch.Tensor
    buffer: torch.Tensor
    count: torch.Tensor
    arrivals: torch.Tensor
    updates: torch.Tensor
    kept: torch.Tensor
    avg_loss: torch.Tensor
    dev_acc: torch.Tensor
    best_acc: torch.Tensor
    test_acc: torch.Tensor
    test_kept: torch.Tensor
    reached_at: torch.Tensor
    failed: torch.Tensor

    where = where_rows  # where(mask, other): rows of ``other`` where ``mask (B,)`` is true, of ``self`` elsewhere


class TeachingProcess(LearningProcess):
    """Students of one kind taught from a stream, as pure functions of :class:`TeachState` (see the module doc)."""

    state_type = TeachState

    def __init__(self, student: str, config: Mapping[str, Any] | None = None,
                 device: torch.device | str = "cpu") -> None:
        if student not in STUDENTS:
            raise ValueError(f"unknown student {student!r}; expected one of {list(STUDENTS)}")
        self.student, self.config = student, {**DEFAULTS, **(config or {})}
        c = self.config
        model = make_optimizee(student, {"hidden": c["hidden"], "layers": c["layers"], "dims": c["dims"]}, device)
        assert isinstance(model, MLPClassifier)
        self.model, self.device = model, torch.device(device)
        self._eval_cache: dict[int, tuple[Any, ...]] = {}
        self.M, self.lr, self.tau, self.max_updates = c["batch_size"], float(c["lr"]), float(c["tau"]), c["max_updates"]
        self.classes = model.outputs
        self.features = 2 * self.classes + 5
        self.task_type = SyntheticTeachTask if student == "synthetic" else DigitsTeachTask
        if student == "synthetic":  # threshold so that P(x . w > b) = 1 - imbalance for unit-norm w
            self._threshold = math.sqrt(2.0) * float(torch.erfinv(torch.tensor(2.0 * c["imbalance"] - 1.0)))

    # ------------------------------------------------------------------ tasks and data
    def task_shapes(self, batch: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        shapes = {"init": ((batch, self.model.size), torch.float32), "data_key": ((batch,), torch.int64),
                  "stream": ((batch,), torch.int64)}
        if self.student == "synthetic":
            return {**shapes, "teacher": ((batch, self.model.inputs), torch.float32)}
        return {**shapes, "pool": ((batch,), torch.int64)}

    def tasks_from_keys(self, keys: torch.Tensor, split: int) -> Task:
        """Tasks (student init, stream key, ...) from hashed keys; ``split`` is the split number of the data."""
        size = int(self.config["stream_size"])
        init = self.model._init(keys)
        data_key = mrandom.combine(keys, _DATA).to(torch.int64)
        if self.student == "synthetic":
            w = mrandom.normal_from_uniform(mrandom.lanes(mrandom.combine(keys, _TEACHER), self.model.inputs))
            stream = torch.full(keys.shape, size if size > 0 else 1 << 40, dtype=torch.int64, device=keys.device)
            return SyntheticTeachTask(init=init, teacher=w / w.norm(dim=1, keepdim=True), data_key=data_key,
                                      stream=stream)
        pool = torch.full(keys.shape, split, dtype=torch.int64, device=keys.device)
        fit = self.model.data.fit_size[pool]
        return DigitsTeachTask(init=init, data_key=data_key, pool=pool,
                               stream=fit.clamp(max=size) if size > 0 else fit)

    def task_error(self, task: Task) -> str | None:
        """A message for invalid task values (an empty data stream, an unknown pool), else None."""
        if bool((task.stream < 1).any()):
            return "task field 'stream' must be at least 1: the data stream is empty"
        if self.student != "synthetic":
            if bool(((task.pool < 0) | (task.pool > 2)).any()):
                return "task field 'pool' must hold split numbers 0 (train), 1 (test) or 2 (validation)"
            if bool((task.stream > self.model.data.fit_size[task.pool]).any()):
                return "task field 'stream' is larger than the fit part of the task's pool"
        return None

    def examples(self, task: Task, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs ``(B, K, d)`` and labels ``(B, K)`` of the stream examples ``ids (B, K)`` of each task.

        Example:
            >>> process = TeachingProcess("logistic", {"batch_size": 8})
            >>> task = process.tasks_from_keys(mrandom.env_keys(0, 3), split=0)
            >>> x, y = process.examples(task, torch.zeros(3, 2, dtype=torch.int64))
            >>> x.shape, y.shape
            (torch.Size([3, 2, 64]), torch.Size([3, 2]))
        """
        ids = torch.where(ids >= 0, ids % task.stream.unsqueeze(1), ids)  # a finite stream repeats
        key = mrandom.combine(task.data_key.unsqueeze(1), ids)
        if self.student == "synthetic":
            d = self.model.inputs
            u = mrandom.lanes(key, d + 1)
            x = mrandom.normal_from_uniform(u[..., :d].contiguous())
            flip = (u[..., d] < self.config["noise"]) & (ids >= 0)  # noisy stream, clean dev and test sets
            return x, ((torch.einsum("bkd,bd->bk", x, task.teacher) > self._threshold) ^ flip).long()
        data = self.model.data
        u = mrandom.lanes(key, 1)[..., 0]
        index = data.fit_start[task.pool].unsqueeze(1) + (u * task.stream.unsqueeze(1)).long().clamp(
            max=task.stream.unsqueeze(1) - 1)
        return data.x[index], data.y[index]

    def eval_set(self, task: Task, part: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The dev (``part`` 0) or test (1) set of each task: inputs ``(B, K, d)``, labels and validity ``(B, K)``."""
        B, device = task.batch_size, task.data_key.device
        if self.student == "synthetic":
            ids = torch.arange(SYNTHETIC_EVAL, device=device) + (_DEV, _TEST)[part]
            x, y = self.examples(task, ids.expand(B, -1))
            return x, y, torch.ones(y.shape, dtype=torch.bool, device=device)
        data = self.model.data
        half = data.eval_size // 2
        start = data.eval_start + half * part
        size = half if part == 0 else data.eval_size - half
        offsets = torch.arange(int(size.max()), device=device)
        valid = offsets < size[task.pool].unsqueeze(1)
        index = (start[task.pool].unsqueeze(1) + offsets).clamp(max=data.x.shape[0] - 1)
        return data.x[index], data.y[index], valid

    def _cached_eval_set(self, task: Task, part: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`eval_set`, rebuilt only when ``task``'s tensors change (it is read after every student update)."""
        key = tuple((id(t), t._version) for t in task.fields().values())
        cached = self._eval_cache.get(part)
        if cached is None or cached[0] != key:
            cached = self._eval_cache[part] = (key, self.eval_set(task, part), task)  # the task keeps ids unique
        return cached[1]

    def _accuracy(self, theta: torch.Tensor, task: Task, part: int, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Accuracy (B,) on the dev (``part`` 0) or test (1) set of each task (of the students ``rows`` only, with
        ``theta`` holding just their parameters, when given)."""
        x, y, valid = self._cached_eval_set(task, part)
        if rows is not None:
            x, y, valid = x[rows], y[rows], valid[rows]
        correct = (self.model.logits(theta, x).argmax(-1) == y).float() * valid
        return correct.sum(1) / valid.sum(1)

    def _updated_accuracy(self, theta: torch.Tensor, task: Task, part: int, updated: torch.Tensor,
                          old: torch.Tensor) -> torch.Tensor:
        """``old`` accuracies with those of the ``updated`` students measured anew. On CPU only those students are
        scored (a selective teacher updates few per step); elsewhere all are, to keep the step free of host syncs."""
        if theta.device.type != "cpu":
            return torch.where(updated, self._accuracy(theta, task, part), old)
        rows = updated.nonzero().squeeze(1)
        if rows.numel() == 0:
            return old
        return old.index_put((rows,), self._accuracy(theta[rows], task, part, rows))

    # ------------------------------------------------------------------ the process
    def start(self, task: Task) -> TeachState:
        """Students at their initial parameters, nothing seen or kept."""
        theta = task.init
        B, dev = theta.shape[0], theta.device
        zeros = torch.zeros(B, dtype=torch.int64, device=dev)
        dev_acc, test_acc = self._accuracy(theta, task, 0), self._accuracy(theta, task, 1)
        return TeachState(theta, torch.zeros(B, 2 * self.M, dtype=torch.int64, device=dev), zeros, zeros, zeros,
                          zeros, torch.zeros(B, device=dev), dev_acc, dev_acc, test_acc, zeros - 1, zeros - 1,
                          torch.zeros(B, dtype=torch.bool, device=dev))

    def current_ids(self, state: TeachState) -> torch.Tensor:
        """Stream ids ``(B, M)`` of the minibatch arriving now."""
        return state.arrivals.unsqueeze(1) * self.M + torch.arange(self.M, device=state.arrivals.device)

    def per_example(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(probabilities (B, K, C), cross-entropy losses (B, K)) of each student on its examples."""
        logits = self.model.logits(theta, x)
        loss = F.cross_entropy(logits.transpose(1, 2), y, reduction="none")
        return logits.softmax(-1), loss

    def observe(self, state: TeachState, task: Task) -> torch.Tensor:
        """Features ``(B, M, 2 C + 5)`` of the arriving minibatch's examples (see the module doc)."""
        x, y = self.examples(task, self.current_ids(state))
        probs, loss = self.per_example(state.theta.detach(), x, y)
        return example_features(probs, y, loss, state.updates.float() / self.max_updates, state.avg_loss,
                                state.best_acc)

    def advance(self, state: TeachState, keep: torch.Tensor, task: Task
                ) -> tuple[TeachState, torch.Tensor, torch.Tensor]:
        """Keep the arriving examples where ``keep (B, M)`` is true; update the students that have M kept examples.

        Returns (new state, reward (B,), terminal (B,)); see the module doc for both.
        """
        M, keep = self.M, keep.bool()
        ids = self.current_ids(state)
        slot = torch.where(keep, state.count.unsqueeze(1) + keep.long().cumsum(1) - 1, 2 * M)  # 2M: a dropped slot
        buffer = torch.cat([state.buffer, torch.zeros_like(state.buffer[:, :1])], 1).scatter(1, slot, ids)[:, :2 * M]
        total = state.count + keep.sum(1)
        ready = total >= M
        x, y = self.examples(task, buffer[:, :M])
        with torch.enable_grad():
            theta = state.theta.detach().requires_grad_(True)
            losses = self.model.cross_entropy(self.model.logits(theta, x), y)
            (grad,) = torch.autograd.grad(losses.sum(), theta)
        losses = losses.detach()
        stepped = state.theta - self.lr * grad
        bad = ready & ~(torch.isfinite(losses) & torch.isfinite(stepped).all(1))
        apply = ready & ~bad
        theta = torch.where(apply.unsqueeze(1), stepped, state.theta)
        updates = state.updates + apply.long()
        avg_loss = torch.where(apply, state.avg_loss + (losses.nan_to_num(0.0) - state.avg_loss) / updates.clamp(min=1),
                               state.avg_loss)
        dev_acc = self._updated_accuracy(theta, task, 0, apply, state.dev_acc)
        test_acc = self._updated_accuracy(theta, task, 1, apply, state.test_acc)
        kept = state.kept + torch.where(apply, M, 0)
        first_test = (state.test_kept < 0) & apply & (test_acc >= self.tau)
        reached = (state.reached_at < 0) & apply & (dev_acc >= self.tau)
        new = TeachState(theta, torch.where(ready.unsqueeze(1), buffer.roll(-M, 1), buffer),
                         torch.where(ready, total - M, total), state.arrivals + 1, updates, kept, avg_loss, dev_acc,
                         torch.maximum(state.best_acc, dev_acc), test_acc,
                         torch.where(first_test, kept, state.test_kept),
                         torch.where(reached, updates, state.reached_at), state.failed | bad)
        reward = torch.where(reached, -torch.log(updates.clamp(min=1).float() / self.max_updates), 0.0)
        terminal = reached | (updates >= self.max_updates) | bad
        return new, reward, terminal


def example_features(probs: torch.Tensor, labels: torch.Tensor, loss: torch.Tensor, progress: torch.Tensor,
                     avg_loss: torch.Tensor, best_acc: torch.Tensor) -> torch.Tensor:
    """The L2T state features ``(B, K, 2 C + 5)`` of K examples per student (module doc), from the student's
    probabilities ``(B, K, C)``, the labels and losses ``(B, K)`` and the per-student ``progress``, ``avg_loss``
    and ``best_acc (B,)``. :class:`metarl.agents.learned_teacher.DataSelector` calls it on a user's model.

    Example:
        >>> example_features(torch.full((1, 2, 3), 1 / 3), torch.tensor([[0, 2]]), torch.ones(1, 2),
        ...                  torch.zeros(1), torch.zeros(1), torch.zeros(1)).shape
        torch.Size([1, 2, 11])
    """
    K, C = labels.shape[1], probs.shape[-1]
    onehot = F.one_hot(labels, C).to(probs.dtype)
    true_p = (probs * onehot).sum(-1)
    other = probs.masked_fill(onehot.bool(), -1.0).amax(-1)
    student = torch.stack([progress.clamp(0, 1), avg_loss.clamp(0, LOSS_CAP), best_acc], -1)
    return torch.cat([onehot, student.unsqueeze(1).expand(-1, K, -1), probs,
                      loss.clamp(0, LOSS_CAP).nan_to_num(LOSS_CAP).unsqueeze(-1), (true_p - other).unsqueeze(-1)], -1)


__all__ = ["LOSS_CAP", "STUDENTS", "DigitsTeachTask", "SyntheticTeachTask", "TeachState", "TeachingProcess",
           "example_features"]
