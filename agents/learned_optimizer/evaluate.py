"""Held-out evaluation of a learned optimizer beside SGD, NAG, RMSprop and Adam with tuned learning rates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metarl.agents.learned_optimizer.rollout import BASELINES, RunResult, TorchRule, lstm_rule, run

from metarl.stats import paired_interval
from metarl.training.figures import method_curves_figure


def held_out_results(trainer: Any, tasks: int, split: str, seed: int, baselines: bool = True,
                     rates: Mapping[str, float] | None = None) -> dict[str, RunResult]:
    """The trainer's learned optimizer (and each baseline at its tuned learning rate) on ``tasks`` tasks of ``split``.

    Example:
        >>> from metarl.agents.learned_optimizer import LearnedOptimizerConfig, LearnedOptimizerTrainer
        >>> config = LearnedOptimizerConfig(env_kwargs={"optimizee": "quadratic", "dims": 4, "horizon": 20}, tasks=8)
        >>> trainer = LearnedOptimizerTrainer(config)
        >>> path = trainer.fit(progress=False)  # doctest: +SKIP
        >>> results = held_out_results(trainer, 8, "test", seed=0, rates={"adam": 0.1})  # rates: tuned if not given
        >>> sorted(results), results["learned"].curve.shape  # loss before each of the 20 updates and after the last
        (['adam', 'learned'], torch.Size([21, 8]))
    """
    task = trainer.env.sample_tasks(tasks, trainer.generator("tasks", seed=seed), split=split)
    process, steps, bound = trainer.process, trainer.horizon, trainer.max_update
    results = {"learned": run(process, task, lstm_rule(trainer.net), steps, bound)}
    if baselines:
        for name, lr in (rates or trainer.tuned_learning_rates()).items():
            results[name] = run(process, task, TorchRule(name, lr), steps, bound)
    return results


def _label(name: str, rates: Mapping[str, float]) -> str:
    return name if name == "learned" else f"{name} (lr {rates[name]:.3g})"


def curve_figure(results: Mapping[str, RunResult], rates: Mapping[str, float], title: str = "") -> Any:
    """Mean loss per step (log scale) on the held-out tasks, the learned optimizer beside the tuned baselines.

    Example:
        >>> from metarl.agents.learned_optimizer import LearnedOptimizerConfig, LearnedOptimizerTrainer
        >>> config = LearnedOptimizerConfig(env_kwargs={"optimizee": "quadratic", "dims": 4, "horizon": 20}, tasks=8)
        >>> trainer = LearnedOptimizerTrainer(config)
        >>> path = trainer.fit(progress=False)  # doctest: +SKIP
        >>> results = held_out_results(trainer, 8, "test", 0, rates={"adam": 0.1})
        >>> fig = curve_figure(results, {"adam": 0.1}, title="quadratic, 4 dimensions")
    """
    curves = {}
    for name, result in results.items():
        curve = result.curve.double().mean(1).numpy()
        curves[_label(name, rates)] = (range(len(curve)), curve)
    return method_curves_figure(curves, "optimizee step", "mean loss over held-out tasks", title, log_y=True)


def format_report(trainer: Any, results: Mapping[str, RunResult], tasks: int, split: str, seed: int) -> list[str]:
    """Lines of the table ``metarl eval`` prints: final loss, accuracy, diverged runs, and the per-task log10 final
    loss difference from the learned optimizer with its 95% interval."""
    env, cfg = trainer.env, trainer.config
    settings = ", ".join(f"{k}={v}" for k, v in env.config.items())
    rates = trainer.tuned_learning_rates()
    classifier = trainer.process.optimizee.classifier
    lines = [f"{cfg.env} ({settings}): {tasks} {split} tasks (seed {seed}), {trainer.horizon} steps; checkpoint at "
             f"{trainer.global_step:,} optimizee steps ({cfg.estimator} estimator, objective {cfg.objective})",
             "  baselines' learning rates tuned on a 13-point log grid on training tasks",
             f"  {'optimizer':22s} {'log10 mean final loss':>22s} {'mean final loss':>16s}"
             + (f" {'test accuracy':>14s}" if classifier else "") + f" {'diverged':>9s} {'minus learned (log10)':>24s}"]
    learned = results["learned"].final_loss.double().clamp(min=1e-30).log10()
    for name, result in results.items():
        mean_loss = float(result.final_loss.double().mean())
        row = f"  {_label(name, rates):22s} {result.log10_mean_final_loss:22.3f} {mean_loss:16.4g}"
        if classifier:
            row += f" {float(result.accuracy.mean()):14.3f}"
        row += f" {int(result.diverged.sum()):9d}"
        if name != "learned":
            mean, half = paired_interval(result.final_loss.double().clamp(min=1e-30).log10() - learned)
            row += f" {f'{mean:+.3f} ± {half:.3f}':>24s}"
        lines.append(row)
    return lines


__all__ = ["BASELINES", "curve_figure", "format_report", "held_out_results"]
