"""Learned optimizer against SGD, NAG, RMSprop and Adam with tuned learning rates, on held-out optimizees.

Meta-trains the coordinatewise LSTM from the recipes in ``configs/`` (quadratics with each estimator; the digits
MLP with the unrolled one), each run for at most ``--max-minutes`` of wall time in this invocation. Runs live in
``--logdir`` and resume from their checkpoints, so the time of a run adds up over invocations (reported as its
meta-training cost). Then, for each evaluation setting, every baseline's learning rate is tuned on a 13-point log
grid (1e-4 ... 1e2) on training tasks, and the learned optimizer and the tuned baselines are run on ``--seeds``
sets of ``--eval-tasks`` held-out tasks (test split: held-out seeds and, for digits, held-out images). Per seed
the score is log10 of the mean final loss (and the mean held-out accuracy); the table shows means over seeds and
the paired 95% interval of each baseline's score minus the learned optimizer's (positive: learned is better).

Settings: ``quadratic`` (10-d, 100 steps; a public reproduction of the paper reports -0.70 learned vs -0.06
Adam), ``mlp`` (digits 64-20-10 sigmoid MLP, 100 steps), ``mlp-h200`` (the same optimizer for 200 steps) and
``mlp-wide-deep`` (2 hidden layers of 40: a network it was not trained on).

Usage:
    python benchmarks/learned_optimizer.py --max-minutes 25                  # everything, about two hours
    python benchmarks/learned_optimizer.py --estimators unrolled --settings quadratic --max-minutes 3
    python benchmarks/learned_optimizer.py --eval-only --json l2o.json       # score the runs in --logdir
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from metarl.agents.learned_optimizer import LearnedOptimizerTrainer
from metarl.agents.learned_optimizer.rollout import BASELINES, TorchRule, lstm_rule, run, tune_learning_rates

from metarl.registry import make
from metarl.stats import paired_interval
from metarl.training.recipes import recipe_trainer, timed_fit

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
RECIPES = {("quadratic", "unrolled"): "learned_optimizer_quadratic.yaml",
           ("quadratic", "reinforce"): "learned_optimizer_quadratic_reinforce.yaml",
           ("quadratic", "es"): "learned_optimizer_quadratic_es.yaml",
           ("mlp", "unrolled"): "learned_optimizer_mlp.yaml"}
SETTINGS = {"quadratic": ("quadratic", {}), "mlp": ("mlp", {}), "mlp-h200": ("mlp", {"horizon": 200}),
            "mlp-wide-deep": ("mlp", {"hidden": 40, "layers": 2})}


def train(family: str, estimator: str, args: argparse.Namespace) -> tuple[LearnedOptimizerTrainer, dict]:
    """Meta-train (or resume) one run for at most ``--max-minutes`` more; returns it and its cost so far."""
    name = f"{family}-{estimator}__{args.seed}"
    values = {"device": args.device, "seed": args.seed, "logdir": args.logdir, "run_name": name, "figures": False}
    trainer = recipe_trainer(CONFIGS / RECIPES[family, estimator], values, LearnedOptimizerTrainer)
    spent = timed_fit(trainer, 0.0 if args.eval_only else args.max_minutes * 60, progress=not args.no_progress)
    timing = {"run": name, "iterations": trainer.iteration, "optimizee_steps": trainer.global_step,
              "minutes": spent / 60, "finished": trainer.global_step >= trainer.config.total_steps}
    print(f"{name}: {trainer.iteration} iterations, {trainer.global_step:,} optimizee steps, {spent / 60:.1f} min of "
          f"meta-training", flush=True)
    return trainer, timing


def evaluate(setting: str, trainers: dict[str, LearnedOptimizerTrainer], args: argparse.Namespace) -> dict:
    """Tune the baselines on training tasks, then score everything on ``--seeds`` sets of held-out tasks."""
    family, overrides = SETTINGS[setting]
    first = next(iter(trainers.values()))
    env = make(first.config.env, device=first.device, **{**first.config.env_kwargs, **overrides})
    process, steps, bound = env.process, env.horizon, float(env.config["max_update"])
    began = time.perf_counter()
    tune_tasks = env.sample_tasks(args.tune_tasks, torch.Generator().manual_seed(10_000), split="train")
    rates = tune_learning_rates(process, tune_tasks, steps, bound)
    rules = {f"learned ({estimator})": lstm_rule(trainer.net) for estimator, trainer in trainers.items()}
    scores: dict[str, list[tuple[float, float]]] = {}
    for seed in range(args.seeds):
        tasks = env.sample_tasks(args.eval_tasks, torch.Generator().manual_seed(seed), split="test")
        for name, rule in [*rules.items(), *((b, TorchRule(b, rates[b])) for b in BASELINES)]:
            result = run(process, tasks, rule, steps, bound)
            scores.setdefault(name, []).append((result.log10_mean_final_loss, float(result.accuracy.mean())))
    table = {}
    for name, values in scores.items():
        loss = torch.tensor([v[0] for v in values])
        accuracy = torch.tensor([v[1] for v in values])
        table[name] = {"log10_mean_final_loss": float(loss.mean()), "accuracy": float(accuracy.mean()),
                       "per_seed": [list(v) for v in values], "lr": rates.get(name)}
        for other, other_values in scores.items():
            if other.startswith("learned") and other != name:
                diff = loss - torch.tensor([v[0] for v in other_values])
                table[name][f"minus {other}"] = paired_interval(diff)
                acc_diff = accuracy - torch.tensor([v[1] for v in other_values])
                table[name][f"accuracy minus {other}"] = paired_interval(acc_diff)
    settings = ", ".join(f"{k}={v}" for k, v in env.config.items())
    print(f"\n== {setting}: {args.seeds} seeds x {args.eval_tasks} held-out tasks, {steps} steps ({settings}); "
          f"evaluation {time.perf_counter() - began:.0f} s")
    classifier = process.optimizee.classifier
    header = f"  {'optimizer':24s} {'log10 mean final loss':>22s}" + (f" {'test accuracy':>14s}" if classifier else "")
    learned = [n for n in table if n.startswith("learned")]
    print(header + "".join(f" {'minus ' + n:>32s}" for n in learned))
    for name, row in table.items():
        label = name if row["lr"] is None else f"{name} (lr {row['lr']:.3g})"
        line = f"  {label:24s} {row['log10_mean_final_loss']:22.3f}"
        if classifier:
            line += f" {row['accuracy']:14.3f}"
        for other in learned:
            cell = "" if other == name else "{:+.3f} ± {:.3f}".format(*row[f"minus {other}"])
            line += f" {cell:>32s}"
        print(line)
    return {"setting": setting, "env": dict(env.config), "rows": table, "learning_rates": rates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--estimators", nargs="+", default=["unrolled", "reinforce", "es"],
                        choices=["unrolled", "reinforce", "es"], help="estimators meta-trained on the quadratics")
    parser.add_argument("--max-minutes", type=float, default=25.0, help="meta-training wall time per run, this call")
    parser.add_argument("--seeds", type=int, default=10, help="held-out task sets (paired across optimizers)")
    parser.add_argument("--eval-tasks", type=int, default=100, help="held-out tasks per seed")
    parser.add_argument("--tune-tasks", type=int, default=500, help="training tasks the learning rates are tuned on")
    parser.add_argument("--seed", type=int, default=0, help="meta-training seed")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--logdir", default="runs/learned-optimizer-benchmark")
    parser.add_argument("--eval-only", action="store_true", help="score the runs in --logdir as they are")
    parser.add_argument("--train-only", action="store_true", help="meta-train (or continue) the runs, score nothing")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    print(f"device {args.device}, {torch.get_num_threads()} CPU threads", flush=True)
    families = sorted({SETTINGS[s][0] for s in args.settings})
    trained: dict[str, dict[str, LearnedOptimizerTrainer]] = {}
    timings = []
    for family in families:
        for estimator in args.estimators if family == "quadratic" else ["unrolled"]:
            trainer, timing = train(family, estimator, args)
            trained.setdefault(family, {})[estimator] = trainer
            timings.append(timing)
    results = [] if args.train_only else [evaluate(s, trained[SETTINGS[s][0]], args) for s in args.settings]
    print("\nmeta-training cost (wall time on this machine):")
    for t in timings:
        print(f"  {t['run']:24s} {t['iterations']:6d} iterations {t['optimizee_steps']:>14,} optimizee steps "
              f"{t['minutes']:7.1f} min{'' if t['finished'] else '  (stopped by --max-minutes)'}")
    if args.json:
        payload = {"results": results, "timing": timings, "seeds": args.seeds, "eval_tasks": args.eval_tasks,
                   "device": args.device, "threads": torch.get_num_threads(),
                   "reference": {"quadratic": {"learned": -0.70, "adam": -0.06}}}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(payload, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
