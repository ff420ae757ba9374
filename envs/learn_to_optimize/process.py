"""The optimization process: many optimization runs stepped at once, as pure functions of explicit state.

:class:`OptimizationProcess` is the core of the learn-to-optimize family and of the learned optimizer's
meta-training: ``start`` begins one run per task at its initial parameters, ``advance`` applies one update
per instance and returns the reward (the decrease of the optimizee loss) and the terminal flags, and
``observe`` gives the per-coordinate features of the gradient history. The environment calls it with
plain tensors; the learned optimizer's unrolled meta-training calls the same code with updates that carry
a graph, so the meta-gradient flows through the parameters (the optimizee's gradient enters as an input,
without second derivatives, as in Andrychowicz et al. 2016).

Features of each coordinate: the LogAndSign preprocessing (p = 10) of the gradient and of its exponential
moving averages with decay 0.9 and 0.99 (bias-corrected), 6 numbers.

Divergence: an update after which the loss is NaN, infinite, or above ``diverge_factor`` times the run's
initial loss is not applied; the run terminates (a documented terminal state) with reward
``loss - diverge_factor * initial loss``, as if its loss had become that cap.

Example:
    >>> from metarl.envs.learning_process.optimizees import make_optimizee
    >>> process = OptimizationProcess(make_optimizee("quadratic", {"dims": 10}))
    >>> task = process.optimizee.tasks_from_keys(mrandom.env_keys(0, 3), pool=0)
    >>> state = process.start(task)
    >>> state, reward, terminal = process.advance(state, -0.01 * state.grad, task)
    >>> process.observe(state).shape
    torch.Size([3, 10, 6])
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from metarl.envs.learning_process.base import LearningProcess, where_rows
from metarl.envs.learning_process.optimizees import Optimizee

from metarl import random as mrandom  # noqa: F401  (used in the example)
from metarl.tasks import Task

LOG_AND_SIGN_P = 10.0
MOMENTUM_BETAS = (0.9, 0.99)
FEATURES = 2 * (1 + len(MOMENTUM_BETAS))
LOG_HIGH = math.log(torch.finfo(torch.float32).max) / LOG_AND_SIGN_P
"""Largest first LogAndSign component of a finite float32 gradient (8.87 for p = 10)."""


def log_and_sign(g: torch.Tensor, p: float = LOG_AND_SIGN_P) -> torch.Tensor:
    """Andrychowicz et al. 2016's preprocessing, ``(..., 2)``: (log|g| / p, sign g) when |g| >= e^-p, else (-1, e^p g).

    Both components are continuous at |g| = e^-p, where they equal (-1, sign g).

    Example:
        >>> log_and_sign(torch.tensor([1.0, -1e-6, 0.0]))
        tensor([[ 0.0000,  1.0000],
                [-1.0000, -0.0220],
                [-1.0000,  0.0000]])
    """
    threshold = math.exp(-p)
    magnitude = g.abs()
    large = magnitude >= threshold
    first = torch.where(large, magnitude.clamp(min=threshold).log() / p, torch.full_like(g, -1.0))
    second = torch.where(large, g.sign(), g * math.exp(p))
    return torch.stack([first, second], -1)


def update_moments(moments: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Exponential moving averages ``(..., n, k)`` of the gradient, one per decay in :data:`MOMENTUM_BETAS`."""
    betas = torch.tensor(MOMENTUM_BETAS, device=grad.device)
    return moments * betas + grad.unsqueeze(-1) * (1.0 - betas)


def gradient_features(grad: torch.Tensor, moments: torch.Tensor, count: torch.Tensor | int) -> torch.Tensor:
    """Per-coordinate features ``(..., n, 6)`` from the gradient ``(..., n)`` and its moving averages ``(..., n, k)``.

    ``count`` (shape ``grad.shape[:-1]``, or a number) is how many gradients the averages have seen; it undoes
    their bias towards zero.

    Example:
        >>> g = torch.tensor([[0.5, -2.0]])
        >>> gradient_features(g, update_moments(torch.zeros(1, 2, 2), g), 1)[0, :, 2:4]  # first average = g
        tensor([[-0.0693,  1.0000],
                [ 0.0693, -1.0000]])
    """
    count = torch.as_tensor(count, device=grad.device, dtype=torch.float32)
    betas = torch.tensor(MOMENTUM_BETAS, device=grad.device)
    correction = 1.0 - betas ** count.clamp(min=1).reshape(*count.shape, 1, 1)
    columns = torch.cat([grad.unsqueeze(-1), moments / correction], -1)  # (..., n, 1 + k)
    return log_and_sign(columns).flatten(-2)


class ProcessState(NamedTuple):
    """State of B runs: ``theta (B, n)``, ``loss (B,)`` and ``grad (B, n)`` at ``theta`` on the minibatch of
    ``step (B,)``, gradient averages ``moments (B, n, k)``, and each run's initial loss ``loss0 (B,)``."""

    theta: torch.Tensor
    loss: torch.Tensor
    grad: torch.Tensor
    moments: torch.Tensor
    loss0: torch.Tensor
    step: torch.Tensor

    where = where_rows  # where(mask, other): rows of ``other`` where ``mask (B,)`` is true, of ``self`` elsewhere


class OptimizationProcess(LearningProcess):
    """Optimization runs of one optimizee kind as pure functions of :class:`ProcessState` (see the module doc).

    Its tasks are the optimizee's: a split's tasks train on that split's data pool.
    """

    state_type = ProcessState

    def __init__(self, optimizee: Optimizee, diverge_factor: float = 100.0) -> None:
        self.optimizee = optimizee
        self.diverge_factor = float(diverge_factor)
        self.task_type = optimizee.task_type

    def task_shapes(self, batch: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        return self.optimizee.task_shapes(batch)

    def tasks_from_keys(self, keys: torch.Tensor, split: int) -> Task:
        return self.optimizee.tasks_from_keys(keys, split)

    def task_error(self, task: Task) -> str | None:
        return self.optimizee.task_error(task)

    def loss_and_grad(self, theta: torch.Tensor, task: Task, step: torch.Tensor, differentiable: bool = False
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss (B,) and its gradient (B, n) at ``theta``; with ``differentiable`` the loss keeps its graph to
        ``theta`` (whose own graph is kept) and the gradient is returned as a constant."""
        with torch.enable_grad():
            if not differentiable or not theta.requires_grad:
                theta = theta.detach().requires_grad_(True)
            loss = self.optimizee.loss(theta, task, step)
            (grad,) = torch.autograd.grad(loss.sum(), theta, retain_graph=differentiable)
        return (loss if differentiable else loss.detach()), grad.detach()

    def start(self, task: Task) -> ProcessState:
        """Runs at their initial parameters (step 0), with the first gradient in the averages."""
        theta = task.init
        step = torch.zeros(theta.shape[0], dtype=torch.int64, device=theta.device)
        loss, grad = self.loss_and_grad(theta, task, step)
        moments = update_moments(torch.zeros(*theta.shape, len(MOMENTUM_BETAS), device=theta.device), grad)
        return ProcessState(theta, loss, grad, moments, loss, step)

    def cap(self, state: ProcessState) -> torch.Tensor:
        """The loss above which a run counts as diverged, (B,)."""
        return self.diverge_factor * state.loss0.detach().clamp(min=1e-6)

    def advance(self, state: ProcessState, update: torch.Tensor, task: Task, differentiable: bool = False
                ) -> tuple[ProcessState, torch.Tensor, torch.Tensor]:
        """Apply ``update (B, n)``: (new state, reward (B,) = loss decrease, terminal (B,) = diverged).

        Example:
            >>> from metarl.envs.learning_process.optimizees import make_optimizee
            >>> process = OptimizationProcess(make_optimizee("quadratic", {"dims": 10}))
            >>> task = process.optimizee.tasks_from_keys(mrandom.env_keys(0, 3), pool=0)
            >>> state = process.start(task)
            >>> state, reward, diverged = process.advance(state, torch.zeros_like(state.theta), task)
            >>> reward, diverged  # a zero update changes nothing
            (tensor([0., 0., 0.]), tensor([False, False, False]))
        """
        theta = state.theta + update
        step = state.step + 1
        loss, grad = self.loss_and_grad(theta, task, step, differentiable)
        cap = self.cap(state)
        diverged = ~(loss.detach() <= cap) | ~torch.isfinite(grad).all(-1)  # NaN fails every comparison
        safe_loss = torch.where(diverged, cap, loss)
        reward = state.loss - safe_loss
        moments = update_moments(state.moments, grad)
        moved = ProcessState(theta, loss, grad, moments, state.loss0, step)
        kept = state._replace(step=step)
        return kept.where(~diverged, moved), reward, diverged

    def observe(self, state: ProcessState, task: Task | None = None) -> torch.Tensor:
        """Per-coordinate features (B, n, 6) of the gradient history (the task is not needed)."""
        return gradient_features(state.grad, state.moments, state.step + 1)


__all__ = ["FEATURES", "LOG_AND_SIGN_P", "MOMENTUM_BETAS", "OptimizationProcess", "ProcessState", "gradient_features",
           "log_and_sign", "update_moments"]
