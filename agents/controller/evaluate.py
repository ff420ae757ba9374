"""Decisions of a controller for a batch of tasks, and their held-out evaluation beside the family's baselines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from metarl.agents.controller.policy import observation

from metarl.rl.heads import Draw
from metarl.stats import mean_ci95, paired_interval
from metarl.tasks import Task


class Decisions(NamedTuple):
    """``obs (K, N, D)`` and ``actions (K, N, ...)`` of the K decisions for N tasks, the children's held-out
    accuracy ``returns (N,)``, ``failed (N,)`` and the decisions as the process stores them ``choices (N, W)``."""

    obs: torch.Tensor
    actions: torch.Tensor
    returns: torch.Tensor
    failed: torch.Tensor
    choices: torch.Tensor


def decide(policy: Any, process: Any, tasks: Task, generator: torch.Generator | None,
           population: Mapping[str, torch.Tensor] | None = None, members: int = 1,
           fixed: torch.Tensor | None = None, draw: Draw | None = None) -> Decisions:
    """Make every decision for ``tasks`` and train the children.

    Sampled with ``generator``, greedy (the policy's mode) without; with ``population`` (parameters with a leading
    dimension of ``members``), member m decides for the m-th block of ``tasks``. ``fixed (K,)`` replaces the
    policy's decisions with the same ones for every task (a baseline), ``fixed (N, K)`` with one decision per task.
    ``draw`` makes the sampling noise (a data-parallel process's :meth:`~metarl.training.parallel.Parallel.draw`).
    """
    state, obs_seen, actions = process.start(tasks), [], []
    reward = torch.zeros(tasks.batch_size, device=process.device)
    for k in range(process.decisions):
        obs = observation(policy, process, state, tasks).to(torch.get_default_dtype())  # the controller's precision
        if fixed is not None:
            value = fixed.to(process.device).expand(tasks.batch_size, -1)
            action = value[:, k].long() if process.discrete else value
        else:
            with torch.no_grad():
                if population is None:
                    out = policy(obs)
                else:
                    out = policy.per_task_forward(population, obs.view(members, -1, obs.shape[-1])).flatten(0, 1)
                action = policy.sample(out, generator, draw) if generator is not None else policy.mode(out)
        obs_seen.append(obs)
        actions.append(action)
        state, reward, _ = process.advance(state, action, tasks)
    return Decisions(torch.stack(obs_seen), torch.stack(actions), reward, state.failed, state.choices)


def held_out(trainer: Any, tasks: int, split: str, seed: int) -> dict[str, torch.Tensor]:
    """Accuracy ``(tasks,)`` of children on ``tasks`` seeded tasks of ``split``: the controller's greedy decision,
    each of the family's baselines, and (discrete families) a uniformly random decision for each task.

    Every method trains children on the same tasks (data and initial weights), so differences are paired.
    """
    process = trainer.process
    task = trainer.env.sample_tasks(tasks, trainer.generator("tasks", seed=seed), split=split)
    results = {"controller": decide(trainer.policy, process, task, None).returns}
    for name, choices in process.baselines().items():
        results[name] = decide(None, process, task, None, fixed=choices).returns
    if process.discrete:
        generator = trainer.generator("noise", seed=seed)
        random = torch.randint(0, process.choices, (tasks, process.decisions), generator=generator)
        results["random"] = decide(None, process, task, None, fixed=random).returns
    return results


def greedy_choices(trainer: Any) -> torch.Tensor:
    """The controller's greedy decisions ``(W,)`` (its observation does not depend on the task)."""
    return policy_choices(trainer)[0]


def policy_choices(trainer: Any, count: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
    """``count`` decisions ``(count, W)`` of the controller without training children: sampled with ``generator``,
    greedy without (NAS keeps the best of the architectures its controller samples; see benchmarks/controller.py).

    Example:
        >>> from metarl.agents.controller import ControllerConfig, ControllerTrainer
        >>> trainer = ControllerTrainer(ControllerConfig(env_kwargs={"layers": 1, "steps": 1}, hidden=4))
        >>> policy_choices(trainer, 5, torch.Generator().manual_seed(0)).shape
        torch.Size([5, 3])
    """
    task = trainer.env.sample_tasks(count, trainer.generator("tasks", seed=0), split="test")
    process, state, policy = trainer.process, trainer.process.start(task), trainer.policy
    with torch.no_grad():
        for _ in range(process.decisions):
            out = policy(observation(policy, process, state, task).to(torch.get_default_dtype()))
            action = policy.mode(out) if generator is None else policy.sample(out, generator)
            state = state._replace(choices=_record(process, state, action), decision=state.decision + 1)
    return state.choices.cpu()


def _record(process: Any, state: Any, action: torch.Tensor) -> torch.Tensor:
    if not process.discrete:
        return action.float().reshape(state.choices.shape)
    choices = state.choices.clone()
    choices[:, int(state.decision[0])] = action.float()
    return choices


def format_report(trainer: Any, results: Mapping[str, torch.Tensor], tasks: int, split: str, seed: int
                  ) -> list[str]:
    """Lines of the table ``metarl eval`` prints: mean held-out accuracy per method with its 95% interval, and each
    method's paired difference to the controller (percentage points, 95% interval over the tasks)."""
    env, cfg, process = trainer.env, trainer.config, trainer.process
    settings = ", ".join(f"{k}={v}" for k, v in env.config.items())
    lines = [f"{cfg.env} ({settings}): {tasks} {split} tasks (seed {seed}); checkpoint at "
             f"{trainer.global_step:,} child trainings ({cfg.estimator} estimator)"]
    if hasattr(process, "describe"):
        lines.append(f"  controller's decision: {process.describe(greedy_choices(trainer))}")
    lines.append(f"  {'method':24s} {'accuracy %':>16s} {'controller - method (pp)':>26s}")
    mine = results["controller"]
    for name, accuracy in results.items():
        mean, half = mean_ci95(100.0 * accuracy)
        row = f"  {name:24s} {f'{float(mean):.2f} ± {float(half):.2f}':>16s}"
        if name != "controller":
            diff, width = paired_interval(100.0 * (mine - accuracy))
            row += f" {f'{diff:+.2f} ± {width:.2f}':>26s}"
        lines.append(row)
    return lines


__all__ = ["Decisions", "decide", "format_report", "greedy_choices", "held_out", "policy_choices"]
