"""MAML on sinusoid regression against the MAML paper (Finn et al. 2017, Section 5.1), with the pretrained baseline.

Trains MAML from ``configs/maml_sinusoid.yaml`` (K = 10 support points, one inner step of 0.01, 25 tasks
per meta-batch, Adam 1e-3; the paper runs 70,000 meta-iterations) and the pretrained-on-all-tasks baseline
from ``configs/pretrain_sinusoid.yaml`` with the same number of tasks. Both are then adapted on held-out
test tasks with ``--eval-shots`` points (default 5) and scored by the MSE on ``--eval-queries`` points
after each of ``--steps`` gradient steps: MAML with its inner step size first and, after it, the step size
that does best on validation tasks among 1, 1/2, ..., 1/16 of it (``--later-steps same``: the inner step
size throughout), the baseline with the step size that does best on validation tasks among
``--baseline-step-sizes`` (the paper tuned it automatically).
Prints the table with 95% intervals beside the paper (MAML 0.67 / 0.38 / 0.35 after 1 / 5 / 10 steps,
pretrained 2.41 / 2.23 / 2.19) and whether our MAML meets the paper's numbers. With ``--keep-best`` MAML
also keeps its parameters with the best validation MSE (after the last scored step, on 500 validation
tasks disjoint from the test tasks); those are scored beside the last ones and checked against the paper.

Usage:
    python benchmarks/maml_sinusoid.py                        # the paper's 70,000 meta-iterations
    python benchmarks/maml_sinusoid.py --iterations 500       # a quick check that everything runs
    python benchmarks/maml_sinusoid.py --keep-best            # also score the best-validation parameters
    python benchmarks/maml_sinusoid.py --eval-shots 10 --steps 1 5 10 --json sinusoid.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from metarl.agents.fewshot import EpisodicTrainer, Scores
from metarl.agents.fewshot.scoring import scored_steps
from metarl.envs.sinusoid import MAML_SINUSOID

from metarl.rl.functional import tune_later_steps
from metarl.training.loop import BEST_FILE
from metarl.training.recipes import load_config, recipe_trainer

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def train(recipe: str, args: argparse.Namespace) -> tuple[EpisodicTrainer, dict]:
    """Train one recipe for ``--iterations`` meta-iterations (or its own length); returns the trainer and its timing.

    With ``--resume`` a run already in ``--logdir`` continues, or is reused as it is when finished.
    """
    cls, recipe_config = load_config(CONFIGS / recipe)
    values = {"device": args.device, "seed": args.seed, "logdir": args.logdir, "run_name": f"{cls.agent}__{args.seed}",
              "eval_shots": args.eval_shots, "eval_queries": args.eval_queries, "eval_steps": max(args.steps)}
    if args.iterations is not None:
        values["total_steps"] = args.iterations * recipe_config.meta_batch
    if args.keep_best:
        values["keep_best"] = True
    trainer = recipe_trainer(CONFIGS / recipe, values, cls, resume=args.resume)
    first = trainer.iteration
    start = time.perf_counter()
    trainer.fit(progress=not args.no_progress)
    seconds = time.perf_counter() - start
    trained = trainer.iteration - first
    timing = {"iterations": trainer.iteration, "tasks": trainer.global_step, "minutes": seconds / 60,
              "iterations_this_call": trained, "iterations_per_second": trained / seconds if trained else None,
              "run_dir": str(trainer.run_dir)}
    rate = f"{trained / seconds:.0f} iterations/s" if trained else "reused, nothing trained"
    print(f"{cls.agent}: {trainer.iteration:,} iterations ({trainer.global_step:,} tasks); this call {trained:,} "
          f"iterations in {seconds / 60:.1f} min ({rate})", flush=True)
    return trainer, timing


def tune_later_lr(trainer: EpisodicTrainer, steps: list[int], tasks: int) -> dict[float, float]:
    """Set MAML's ``eval_later_lr`` to the later step size with the lowest validation MSE (mean over the reported
    steps after the first); returns the validation MSE of every size tried."""
    later = [k for k in steps if k > 1]

    def validation_mse(schedule: list[float]) -> float:
        trainer.config.eval_later_lr = schedule[1]
        scores = trainer.evaluate(tasks, "validation", seed=1)
        return sum(scores.at(k)[0] for k in later) / len(later)

    if not later:
        return {}
    schedule, tried = tune_later_steps(validation_mse, trainer.eval_lr, max(steps), maximize=False)
    trainer.config.eval_later_lr = schedule[1]
    return tried


def tune_step_size(trainer: EpisodicTrainer, sizes: list[float], steps: list[int], tasks: int
                   ) -> tuple[float, dict[float, float]]:
    """The fine-tuning step size with the lowest validation MSE, averaged over the reported steps."""
    found = {}
    for size in sizes:
        trainer.config.eval_lr = size
        scores = trainer.evaluate(tasks, "validation", seed=1)
        found[size] = sum(scores.at(k)[0] for k in steps) / len(steps)
    best = min(found, key=found.get)
    trainer.config.eval_lr = best
    return best, found


def summary(scores: Scores) -> dict:
    return {"steps": scores.steps, "means": scores.means, "ci95": scores.ci95}


def cells(scores: Scores, steps: list[int]) -> list[str]:
    return ["{:.3f} ± {:.3f}".format(*scores.at(k)) for k in steps]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, help="meta-iterations of each run (default: the recipe's 70,000)")
    parser.add_argument("--eval-shots", type=int, default=MAML_SINUSOID["shots"], help="support points at test time")
    parser.add_argument("--eval-queries", type=int, default=100, help="query points per test task")
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 5, 10], help="gradient steps to report")
    parser.add_argument("--eval-tasks", type=int, default=1000, help="held-out test tasks")
    parser.add_argument("--baseline-step-sizes", type=float, nargs="+", default=[0.001, 0.002, 0.005, 0.01, 0.02],
                        help="fine-tuning step sizes tried for the pretrained baseline (on validation tasks)")
    parser.add_argument("--keep-best", action="store_true",
                        help="also score MAML's parameters with the best validation MSE (model selection on validation "
                             "tasks; the target is then checked on them)")
    parser.add_argument("--later-steps", choices=["tune", "same"], default="tune",
                        help="MAML's step size after the first test-time step: chosen on validation tasks among 1 to "
                             "1/16 of the first, or the same as the first")
    parser.add_argument("--resume", action="store_true",
                        help="continue (or reuse, when finished) the runs already in --logdir instead of starting over")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--logdir", default="runs/maml-sinusoid")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    args.steps = sorted(set(args.steps))
    unscored = set(args.steps) - set(scored_steps(max(args.steps)))
    if unscored or min(args.steps) < 1:
        parser.error(f"--steps must be positive and among {scored_steps(max(args.steps))}")
    print(f"device {args.device}, {torch.get_num_threads()} CPU threads", flush=True)

    maml, maml_time = train("maml_sinusoid.yaml", args)
    pretrained, pretrained_time = train("pretrain_sinusoid.yaml", args)
    step_size, tried = tune_step_size(pretrained, args.baseline_step_sizes, args.steps, min(args.eval_tasks, 500))
    learners = {"maml (this run)": maml}
    if args.keep_best and (maml.run_dir / BEST_FILE).exists():
        best = type(maml).resume(maml.run_dir / BEST_FILE, {"device": args.device})
        learners[f"maml, best validation (it {best.iteration:,})"] = best
    rows, later_tried = {}, {}
    for name, learner in learners.items():
        if args.later_steps == "tune":
            later_tried[name] = tune_later_lr(learner, args.steps, min(args.eval_tasks, 500))
            name = f"{name}, later {learner.config.eval_later_lr:g}"
        else:
            learner.config.eval_later_lr = None
        rows[name] = learner.evaluate(args.eval_tasks, "test", seed=0)
    last, chosen = list(rows)[0], list(rows)[-1]
    rows[f"pretrained, step {step_size:g}"] = pretrained.evaluate(args.eval_tasks, "test", seed=0)
    baselines = rows[last].baselines
    columns = [0, *args.steps]
    paper = MAML_SINUSOID if args.eval_shots == MAML_SINUSOID["shots"] else None

    width = 17
    print()
    sizes = ", ".join(f"{s:g}" for s in tried)
    print(f"Sinusoid, trained with K = {maml.train_shape.shots}, evaluated {args.eval_shots}-shot: MSE on "
          f"{args.eval_queries} points of {args.eval_tasks} test tasks after k gradient steps (± 95% interval); "
          f"MAML step {maml.config.inner_lr:g}, pretrained step the best on validation tasks of {sizes}")
    print(f"  {'':44s}" + "".join(f"{f'{k} step' + ('s' if k != 1 else ''):>{width}s}" for k in columns))
    for name, scores in rows.items():
        print(f"  {name:44s}" + "".join(f"{c:>{width}s}" for c in cells(scores, columns)))
    for name, values in baselines.items():
        base = Scores(values.unsqueeze(1))
        print(f"  {name:44s}{f'{base.means[0]:.3f} ± {base.ci95[0]:.3f}':>{width}s}")
    met = {}
    if paper is not None:
        for label, key in (("MAML (paper)", "maml"), ("pretrained (paper)", "pretrained")):
            print(f"  {label:44s}" + "".join(f"{paper[key][k]:>{width}.2f}" if k in paper[key]
                                             else f"{'-':>{width}s}" for k in columns))
        ours = rows[chosen]
        met = {k: ours.at(k)[0] <= paper["maml"][k] for k in columns if k in paper["maml"]}
        marks = [("met" if met[k] else "not met") if k in met else "-" for k in columns]
        print(f"  {'target: MAML <= paper':44s}" + "".join(f"{m:>{width}s}" for m in marks) + f"   ({chosen})")
    for name in [n for n in rows if n.startswith("maml")]:
        worse = [int((rows[name].values[:, rows[name].steps.index(k)] > rows[name].values[:, 0]).sum())
                 for k in args.steps]
        print(f"  {name}: test tasks with a higher MSE than before adaptation after " +
              ", ".join(f"{k} step{'s' if k != 1 else ''}: {n}" for k, n in zip(args.steps, worse, strict=True)))
    if paper is None:
        print(f"  (the paper reports {MAML_SINUSOID['shots']}-shot numbers only; no target for {args.eval_shots}-shot)")
    if args.json:
        result = {"setting": {"train_shots": maml.train_shape.shots, "eval_shots": args.eval_shots,
                              "eval_queries": args.eval_queries, "eval_tasks": args.eval_tasks, "steps": columns,
                              "device": args.device, "threads": torch.get_num_threads()},
                  "maml": {"row": last, **summary(rows[last]), **maml_time},
                  "maml_scored": {"row": chosen, **summary(rows[chosen])},
                  "maml_later_step_validation": later_tried,
                  "pretrained": {"step_size": step_size, "validation_by_step_size": tried,
                                 **summary(rows[f"pretrained, step {step_size:g}"]), **pretrained_time},
                  "baselines": {name: float(v.mean()) for name, v in baselines.items()},
                  "paper": paper and {"maml": paper["maml"], "pretrained": paper["pretrained"]},
                  "met": {str(k): v for k, v in met.items()}}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
