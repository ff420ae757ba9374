"""MAML-RL against the MAML paper (Finn et al. 2017, 2D navigation, Table 4): train, adapt on held-out goals, compare.

Trains MAML-RL from a recipe (``--recipe``; default ``configs/maml_rl_navigation_released.yaml``, the
settings of the authors' released code for this table: inner step 0.5, 40 tasks, 100 meta-iterations;
``maml_rl_navigation.yaml`` has the paper text's: inner step 0.1, 20 tasks, 500 meta-iterations) and the
multi-task pretrained baseline from the same file with ``pretrain: true`` (the same environment steps and
the same number of TRPO updates). Then it adapts on held-out test goals with 0, 1, 2 and 3
policy-gradient steps of 40 trajectories: MAML's initialisation, the pretrained policy and a randomly
initialised one, on the same goals and the same noise. Every policy takes the recipe's first step size;
the size of the later steps is chosen per policy on 100 validation goals among fractions 1, 1/2, ..., 1/16
of the first (``--later-steps recipe``: the recipe's ``eval_step_sizes`` instead). Prints the table beside
the paper's numbers and the targets (after 1 step >= -11.7, after 3 steps >= -3.3), the wall time and
the training steps/s of each run.

Usage:
    python benchmarks/maml_rl_paper.py                    # the released code's 100 meta-iterations
    python benchmarks/maml_rl_paper.py --recipe maml_rl_navigation.yaml   # the paper text's 500
    python benchmarks/maml_rl_paper.py --iterations 3     # a quick check that everything runs
    python benchmarks/maml_rl_paper.py --device cuda --json maml.json
    python benchmarks/maml_rl_paper.py --set cg_subsample=1.0   # curvature from every trajectory
    python benchmarks/maml_rl_paper.py --only maml-rl &          # the two runs side by side,
    python benchmarks/maml_rl_paper.py --only pretrained; wait   # then the table from the finished runs:
    python benchmarks/maml_rl_paper.py --resume
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from metarl.agents.maml_rl import MAMLTrainer
from metarl.agents.maml_rl.evaluate import AdaptationScores, format_table
from metarl.envs.navigation import MAML_NAVIGATION

from metarl.rl.functional import tune_later_steps
from metarl.training import command_line_values, parse_assignments
from metarl.training.recipes import recipe_trainer

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
VALIDATION_GOALS = 100


def train(name: str, args: argparse.Namespace, **overrides: object) -> tuple[MAMLTrainer, dict]:
    """Train one run of the recipe (or continue it from its checkpoint); returns the trainer and its timing."""
    flags = {"device": args.device, "seed": args.seed, "logdir": args.logdir, "run_name": f"{name}__{args.seed}",
             "outer": args.outer}
    values = {**command_line_values(flags, assignments=args.set), **overrides}
    trainer = recipe_trainer(CONFIGS / args.recipe, values, MAMLTrainer, resume=args.resume)
    if args.iterations is not None:
        trainer.config.total_steps = args.iterations * trainer.steps_per_iteration
    if trainer.iteration:
        print(f"{name}: continuing {trainer.run_dir} from meta-iteration {trainer.iteration}", flush=True)
    first_iteration = trainer.iteration
    start = time.perf_counter()
    trainer.fit(progress=not args.no_progress)
    seconds = time.perf_counter() - start
    iterations = trainer.iteration - first_iteration
    timing = {"run": name, "iterations": trainer.iteration, "timed_iterations": iterations,
              "steps": trainer.global_step, "minutes": seconds / 60,
              "seconds_per_iteration": seconds / max(iterations, 1),
              "steps_per_second": iterations * trainer.steps_per_iteration / max(seconds, 1e-9),
              "run_dir": str(trainer.run_dir)}
    print(f"{name}: {trainer.iteration} meta-iterations ({iterations} in this call), {trainer.global_step:,} steps; "
          f"this call {seconds / 60:.1f} min ({timing['seconds_per_iteration']:.2f} s per iteration, "
          f"{timing['steps_per_second']:,.0f} steps/s)", flush=True)
    return trainer, timing


def mean_after_first(scores: AdaptationScores) -> float:
    """Mean return after steps 2, 3, ...: what the later step size decides."""
    later = scores.means[2:]
    return sum(later) / len(later)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="maml_rl_navigation_released.yaml", help="a MAML-RL recipe in configs/")
    parser.add_argument("--iterations", type=int, help="meta-iterations of each run (default: the recipe's)")
    parser.add_argument("--later-steps", choices=["tune", "recipe"], default="tune",
                        help="size of the evaluation steps after the first: chosen per policy on validation goals, "
                             "or the recipe's eval_step_sizes")
    parser.add_argument("--eval-tasks", type=int, default=200, help="held-out goals to adapt to")
    parser.add_argument("--outer", choices=["trpo", "ppo"], default="trpo", help="meta-update (the paper: trpo)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--logdir", default="runs/maml-rl-paper")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="override a key of the recipe for both runs (repeatable), e.g. cg_subsample=1.0")
    parser.add_argument("--resume", action="store_true",
                        help="continue (or reuse, when finished) the runs already in --logdir instead of starting over")
    parser.add_argument("--only", choices=["maml-rl", "pretrained"],
                        help="train just this run and stop (two processes can train the two runs side by side; "
                             "a last call with --resume evaluates them)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    print(f"device {args.device}, {torch.get_num_threads()} CPU threads", flush=True)

    if args.only == "maml-rl":
        train("maml-rl", args)
        return
    if args.only == "pretrained":
        train("pretrained", args, pretrain=True)
        return
    maml, maml_time = train("maml-rl", args)
    pretrained, pretrained_time = train("pretrained", args, pretrain=True)
    start = time.perf_counter()
    cfg = maml.config
    rows, schedules = [], {}
    for name, policy in (("maml-rl (this run)", maml.policy), ("pretrained (multi-task)", pretrained.policy),
                         ("random init", maml.random_policy())):
        sizes, tried = cfg.eval_step_sizes, {}
        if args.later_steps == "tune":
            sizes, tried = tune_later_steps(
                lambda s, policy=policy: mean_after_first(maml.evaluate(policy, VALIDATION_GOALS, "validation",
                                                                        step_sizes=s)),
                cfg.eval_step_sizes[0], len(cfg.eval_step_sizes))
        schedules[name] = {"step_sizes": sizes, "validation_by_later_step": tried}
        rows.append((name, maml.evaluate(policy, args.eval_tasks, step_sizes=sizes),
                     "steps " + ", ".join(f"{s:g}" for s in sizes)))
    eval_seconds = time.perf_counter() - start
    print()
    how = (f"later step sizes chosen per policy on {VALIDATION_GOALS} validation goals" if args.later_steps == "tune"
           else "the recipe's step sizes")
    print(f"{cfg.env} ({args.recipe}): return after k policy-gradient steps on {args.eval_tasks} held-out goals, "
          f"{cfg.eval_trajectories} trajectories per step, {how} (evaluation {eval_seconds:.0f} s)")
    print("\n".join(format_table(rows, len(cfg.eval_step_sizes), MAML_NAVIGATION["maml"], MAML_NAVIGATION["targets"],
                                 MAML_NAVIGATION["source"])))
    means = rows[0][1].means
    checks = {k: (means[k], target, means[k] >= target) for k, target in MAML_NAVIGATION["target_values"].items()}
    for k, (value, target, ok) in checks.items():
        print(f"  after {k} step{'s' if k > 1 else ''}: {value:.2f} (target >= {target}): {'yes' if ok else 'no'}")
    for timing in (maml_time, pretrained_time):
        print(f"  {timing['run']:12s} {timing['timed_iterations']:4d} meta-iterations timed "
              f"{timing['minutes']:7.1f} min  {timing['seconds_per_iteration']:6.2f} s/iteration  "
              f"{timing['steps_per_second']:10,.0f} steps/s")
    if args.json:
        result = {"recipe": args.recipe,
                  "rows": {name: {"means": s.means, "ci95": s.ci95, **schedules[name]} for name, s, _ in rows},
                  "published": MAML_NAVIGATION["maml"], "targets": {str(k): v for k, v in checks.items()},
                  "timing": [maml_time, pretrained_time], "eval_tasks": args.eval_tasks, "device": args.device,
                  "threads": torch.get_num_threads(), "overrides": parse_assignments(args.set)}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
