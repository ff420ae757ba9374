"""Held-out evaluation of a learned teacher beside NoTeach, RandTeach and self-paced learning (Fan et al. 2018).

The measure is the paper's: the number of training instances (kept examples) a student needs until its test
accuracy reaches tau. Every method teaches the same held-out students (same initial parameters and streams).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import torch
from metarl.agents.learned_teacher.rollout import instances_to_tau, no_teach, rand_teach, self_paced, teach, teacher

from metarl.stats import paired_interval
from metarl.training.figures import method_curves_figure

BASELINES = ("noteach", "randteach", "spl")
EVAL_HORIZON = 4
"""Held-out students may see this many times the training ``horizon`` of minibatches: the measure is the
examples kept, not the examples seen, so a selective teacher is not cut off by the training cap."""


class TeachResult(NamedTuple):
    """Per student: ``instances (B,)`` needed to reach tau on the test set (the budget if never), ``reached (B,)``;
    the ``keep_rate``; and the mean test accuracy and kept examples after each minibatch (curves)."""

    instances: torch.Tensor
    reached: torch.Tensor
    keep_rate: float
    test_curve: torch.Tensor
    kept_curve: torch.Tensor


def run_selector(process: Any, task: Any, select: Any, horizon: int) -> TeachResult:
    """Teach ``task``'s students with ``select`` until each reaches tau on its test set (or its budget ends)."""
    episode = teach(process, task, select, horizon, until="test")
    live = episode.live.unsqueeze(-1).expand_as(episode.keeps)
    rate = float(episode.keeps[live].float().mean())
    return TeachResult(instances_to_tau(episode.state, process), episode.state.test_kept >= 0, rate,
                       episode.test_curve.cpu(), episode.kept_curve.cpu())


def held_out(trainer: Any, students: int, split: str, seed: int,
             baselines: Iterable[str] = BASELINES) -> dict[str, TeachResult]:
    """The trainer's teacher and the ``baselines`` on ``students`` students of ``split`` (seeded).

    RandTeach keeps at random with the learned teacher's keep rate on these students. Students get
    :data:`EVAL_HORIZON` times the training horizon of minibatches.

    Example:
        >>> from metarl.agents.learned_teacher import LearnedTeacherConfig, LearnedTeacherTrainer
        >>> small = {"student": "logistic", "batch_size": 8, "max_updates": 20, "tau": 0.5}
        >>> trainer = LearnedTeacherTrainer(LearnedTeacherConfig(students=8, env_kwargs=small))
        >>> path = trainer.fit(progress=False)  # doctest: +SKIP
        >>> results = held_out(trainer, 4, "test", seed=0)
        >>> sorted(results), results["learned"].instances.shape  # examples each student needed to reach tau
        (['learned', 'noteach', 'randteach', 'spl'], torch.Size([4]))
        >>> ratio = float(results["learned"].instances.mean() / results["noteach"].instances.mean())  # < 1: it helps
    """
    task = trainer.env.sample_tasks(students, trainer.generator("tasks", seed=seed), split=split)
    process, horizon = trainer.process, EVAL_HORIZON * trainer.horizon
    noise = trainer.generator("noise", seed=seed)
    results = {"learned": run_selector(process, task, teacher(trainer.net, noise), horizon)}
    for name in baselines:
        select = {"noteach": lambda: no_teach, "spl": lambda: self_paced(process),
                  "randteach": lambda: rand_teach(results["learned"].keep_rate, noise)}[name]()
        results[name] = run_selector(process, task, select, horizon)
    return results


def curve_figure(results: Mapping[str, TeachResult], tau: float, title: str = "") -> Any:
    """Mean test accuracy of the held-out students against the examples they were trained on, per method."""
    curves = {name: (result.kept_curve.numpy(), result.test_curve.numpy()) for name, result in results.items()}
    return method_curves_figure(curves, "training instances (kept examples), mean over students", "mean test accuracy",
                                title, reference=tau)


def format_report(trainer: Any, results: Mapping[str, TeachResult], students: int, split: str, seed: int
                  ) -> list[str]:
    """Lines of the table ``metarl eval`` prints: instances to reach tau per method, the fraction that reached it,
    the keep rate, and each method's instances relative to NoTeach with the paired 95% interval."""
    env, cfg = trainer.env, trainer.config
    settings = ", ".join(f"{k}={v}" for k, v in env.config.items())
    lines = [f"{cfg.env} ({settings}): {students} {split} students (seed {seed}); checkpoint at "
             f"{trainer.global_step:,} minibatches ({cfg.estimator} estimator)",
             "  instances = kept examples until test accuracy >= tau (the budget when never reached)",
             f"  {'teacher':12s} {'mean instances':>15s} {'reached':>8s} {'keep rate':>10s} {'/ noteach':>18s}"]
    base = results.get("noteach")
    for name, result in results.items():
        row = (f"  {name:12s} {float(result.instances.mean()):15.1f} {float(result.reached.float().mean()):8.2f} "
               f"{result.keep_rate:10.2f}")
        if base is not None:
            mean, half = paired_interval(result.instances / base.instances)
            row += f" {f'{mean:.3f} ± {half:.3f}':>18s}"
        lines.append(row)
    return lines


__all__ = ["BASELINES", "TeachResult", "curve_figure", "format_report", "held_out", "run_selector"]
