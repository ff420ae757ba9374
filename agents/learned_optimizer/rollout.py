"""Optimization runs driven by an update rule: the learned LSTM (one weight set or a population) or a
hand-designed optimizer (SGD, NAG, RMSprop, Adam), all through the same
:class:`~metarl.envs.learn_to_optimize.process.OptimizationProcess`.

A run that diverges (see :mod:`metarl.envs.learn_to_optimize.process`) is frozen from then on and counts at the
divergence cap, the loss the environment's reward assigns it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from metarl.agents.learned_optimizer.network import CoordinatewiseLSTM, Params
from metarl.envs.learn_to_optimize.process import OptimizationProcess, ProcessState

from metarl.tasks import Task

UpdateRule = Callable[[torch.Tensor, ProcessState, Any], tuple[torch.Tensor, Any]]
"""(observation (B, n, F), process state, memory) -> (update (B, n), memory)."""

BASELINES = ("sgd", "nag", "rmsprop", "adam")
LR_GRID = tuple(10.0 ** (k / 2) for k in range(-8, 5))
"""The 13-point log grid of learning rates the baselines are tuned on: 1e-4, 3.2e-4, ..., 1e2."""
OBJECTIVES = ("mean_loss", "mean_log_loss", "final_log_loss", "final_error")


class Carry(NamedTuple):
    """What a run carries between chunks: the process state, the rule's memory, and which runs diverged."""

    state: ProcessState
    memory: Any
    finished: torch.Tensor


def start(process: OptimizationProcess, task: Task, memory: Any = None) -> Carry:
    """Fresh runs of ``task`` at their initial parameters."""
    state = process.start(task)
    return Carry(state, memory, torch.zeros_like(state.loss, dtype=torch.bool))


def unroll(process: OptimizationProcess, task: Task, rule: UpdateRule, steps: int, carry: Carry, max_update: float,
           differentiable: bool = False) -> tuple[Carry, torch.Tensor]:
    """``steps`` updates of every run; returns the new carry and the losses ``(steps, B)`` after each update.

    With ``differentiable``, the losses keep their graph through the parameters to whatever produced the updates.

    Example:
        >>> import metarl
        >>> env = metarl.make("metarl/LearnToOptimize-v0", num_envs=8, optimizee="quadratic", dims=4)
        >>> process, task = env.process, env.sample_tasks(8, torch.Generator().manual_seed(0))
        >>> carry, losses = unroll(process, task, TorchRule("sgd", 0.01), 20, start(process, task), 1.0)
        >>> losses.shape  # (steps, runs)
        torch.Size([20, 8])
    """
    state, memory, finished = carry
    losses = []
    for _ in range(steps):
        obs = process.observe(state) if getattr(rule, "observes", True) else None
        update, memory = rule(obs, state, memory)
        update = update.clamp(-max_update, max_update) * (~finished).unsqueeze(1)
        state, _, diverged = process.advance(state, update, task, differentiable)
        finished = finished | diverged
        losses.append(torch.where(finished, process.cap(state), state.loss))
    return Carry(state, memory, finished), torch.stack(losses)


def lstm_rule(net: CoordinatewiseLSTM, params: Params | None = None, population: int | None = None,
              sample: Callable[[torch.Tensor], torch.Tensor] | None = None) -> UpdateRule:
    """The learned optimizer as an update rule; memory is its recurrent state (start it with ``None``).

    ``params`` with a leading dimension ``population`` runs P weight sets: runs are then ordered member-major
    (run p * B' + b is task b under member p). ``sample`` turns the mean update into the one applied (the
    Gaussian policy of the policy-gradient estimator).
    """
    params = net.mean_parameters() if params is None else params

    def rule(obs: torch.Tensor, state: ProcessState, memory: Any) -> tuple[torch.Tensor, Any]:
        B, n, F = obs.shape
        rows = obs.reshape(B * n, F) if population is None else obs.reshape(population, B // population * n, F)
        if memory is None:
            memory = net.initial_state(rows.shape[-2], obs.device, population)
        mean, memory = net.forward_with(params, rows, memory)
        update = mean.reshape(B, n)
        return (update if sample is None else sample(update)), memory

    return rule


class TorchRule:
    """A ``torch.optim`` optimizer as an update rule. It updates one (B, n) tensor, and SGD, NAG, RMSprop and Adam
    act elementwise, so each run gets exactly the optimizer it would get alone.

    Example:
        >>> import metarl
        >>> env = metarl.make("metarl/LearnToOptimize-v0", num_envs=8, optimizee="quadratic", dims=4)
        >>> process, task = env.process, env.sample_tasks(8, torch.Generator().manual_seed(0))
        >>> rule = TorchRule("adam", 0.1)
        >>> carry, losses = unroll(process, task, rule, 100, start(process, task), 1.0)
        >>> bool((losses[-1] < process.start(task).loss).all())
        True
    """

    observes = False  # works from the gradient alone

    def __init__(self, name: str, lr: float) -> None:
        if name not in BASELINES:
            raise ValueError(f"unknown baseline {name!r}; expected one of {list(BASELINES)}")
        self.name, self.lr = name, lr

    def _make(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.optim.Optimizer]:
        p = theta.detach().clone().requires_grad_(True)
        optimizers = {"sgd": lambda: torch.optim.SGD([p], lr=self.lr),
                      "nag": lambda: torch.optim.SGD([p], lr=self.lr, momentum=0.9, nesterov=True),
                      "rmsprop": lambda: torch.optim.RMSprop([p], lr=self.lr),
                      "adam": lambda: torch.optim.Adam([p], lr=self.lr)}
        return p, optimizers[self.name]()

    def __call__(self, obs: torch.Tensor | None, state: ProcessState, memory: Any) -> tuple[torch.Tensor, Any]:
        p, optimizer = memory if memory is not None else self._make(state.theta)
        with torch.no_grad():
            p.copy_(state.theta)
        p.grad = state.grad.clone()
        optimizer.step()
        return p.detach() - state.theta, (p, optimizer)


@dataclasses.dataclass
class RunResult:
    """``curve (T + 1, B)``: loss before each update and after the last; ``final_loss (B,)`` on all the fit data
    (the cap for diverged runs); ``accuracy (B,)`` on held-out data (NaN for non-classifiers); ``diverged (B,)``."""

    curve: torch.Tensor
    final_loss: torch.Tensor
    accuracy: torch.Tensor
    diverged: torch.Tensor

    @property
    def log10_mean_final_loss(self) -> float:
        return math.log10(float(self.final_loss.double().mean()))


def run(process: OptimizationProcess, task: Task, rule: UpdateRule, steps: int, max_update: float) -> RunResult:
    """Optimize every task of ``task`` for ``steps`` updates with ``rule`` (no meta-gradient) and score the result."""
    with torch.no_grad():
        carry = start(process, task)
        carry, losses = unroll(process, task, rule, steps, carry, max_update)
        final_loss, accuracy = process.optimizee.scores(carry.state.theta, task)
        final_loss = torch.where(carry.finished, process.cap(carry.state), final_loss)
    return RunResult(torch.cat([carry.state.loss0.unsqueeze(0), losses]).cpu(), final_loss.cpu(), accuracy.cpu(),
                     carry.finished.cpu())


def objective_values(name: str, losses: torch.Tensor, final_loss: torch.Tensor, accuracy: torch.Tensor
                     ) -> torch.Tensor:
    """Per-run meta-objective to minimise (B,): ``mean_loss`` / ``mean_log_loss`` over the steps' losses
    ``(T, B)``, ``final_log_loss`` (log of the final loss on all fit data), ``final_error`` (1 - held-out accuracy).
    """
    if name == "mean_loss":
        return losses.mean(0)
    if name == "mean_log_loss":
        return losses.clamp(min=1e-30).log().mean(0)
    if name == "final_log_loss":
        return final_loss.clamp(min=1e-30).log()
    if name == "final_error":
        return 1.0 - accuracy
    raise ValueError(f"unknown objective {name!r}; expected one of {list(OBJECTIVES)}")


def tune_learning_rates(process: OptimizationProcess, task: Task, steps: int, max_update: float,
                        names: Sequence[str] = BASELINES, grid: Sequence[float] = LR_GRID) -> dict[str, float]:
    """For each baseline, the learning rate of ``grid`` with the lowest mean final loss on ``task`` (training tasks).

    Example:
        >>> import metarl
        >>> env = metarl.make("metarl/LearnToOptimize-v0", optimizee="quadratic", dims=4)
        >>> train_tasks = env.sample_tasks(8, torch.Generator().manual_seed(0), split="train")
        >>> tune_learning_rates(env.process, train_tasks, 20, 1.0, grid=[0.001, 0.01, 0.1])
        {'sgd': 0.01, 'nag': 0.01, 'rmsprop': 0.1, 'adam': 0.1}
    """
    best = {}
    for name in names:
        scores = [run(process, task, TorchRule(name, lr), steps, max_update).log10_mean_final_loss for lr in grid]
        best[name] = grid[min(range(len(grid)), key=lambda i: (scores[i], i))]
    return best


__all__ = ["BASELINES", "LR_GRID", "OBJECTIVES", "Carry", "RunResult", "TorchRule", "lstm_rule", "objective_values",
           "run", "start", "tune_learning_rates", "unroll"]
