"""MAML-RL on the discrete families beside RL² and the reference solvers: bandits and tabular MDPs.

For each setting this trains MAML-RL from its recipe (``configs/maml_rl_bandit.yaml``: 5 arms, 10
pulls; ``configs/maml_rl_tabular.yaml``: 10 states, 5 actions, 10 episodes of 10 steps), then adapts
it on held-out test tasks with the recipe's evaluation steps. One MAML trajectory is one trial of the
family, so the return after k steps is a trial return, the quantity RL² and the solvers are scored
on; but MAML's k-th number comes after k gradient steps on ``eval_trajectories`` earlier trials of
the same task, while RL² and the solvers adapt within a single trial.

RL² is trained from its recipe for ``--rl2-minutes`` (or loaded with ``--rl2 SETTING=CHECKPOINT``) and
scored on the same number of held-out tasks; the reference solvers and the published RL² score are
printed with it.

Usage:
    python benchmarks/maml_rl_discrete.py                               # both settings
    python benchmarks/maml_rl_discrete.py --settings bandit-k5-n10 --iterations 5 --rl2-minutes 0.5
    python benchmarks/maml_rl_discrete.py --rl2 tabular-n10=runs/TabularMDP__rl2__0__<time> --json out.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from metarl.agents.maml_rl import MAMLTrainer
from metarl.agents.rl2 import RL2Trainer

from metarl.published import published_scores
from metarl.solvers import solver_table
from metarl.training.recipes import recipe_trainer

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SETTINGS = {"bandit-k5-n10": ("maml_rl_bandit.yaml", "rl2_bandit_k5_n10.yaml"),
            "tabular-n10": ("maml_rl_tabular.yaml", "rl2_tabular_n10.yaml")}


def run_values(args: argparse.Namespace, run: str) -> dict:
    return {"device": args.device, "seed": args.seed, "logdir": args.logdir, "run_name": f"{run}__{args.seed}"}


def train_maml(name: str, args: argparse.Namespace) -> tuple[MAMLTrainer, float]:
    trainer = recipe_trainer(CONFIGS / SETTINGS[name][0], run_values(args, f"{name}-maml-rl"), MAMLTrainer,
                             resume=False)
    if args.iterations is not None:
        trainer.config.total_steps = args.iterations * trainer.steps_per_iteration
    start = time.perf_counter()
    trainer.fit(progress=not args.no_progress, max_seconds=args.max_minutes * 60)
    return trainer, time.perf_counter() - start


def rl2_trainer(name: str, args: argparse.Namespace) -> tuple[RL2Trainer, float, str]:
    given = dict(item.split("=", 1) for item in args.rl2 or [])
    if name in given:
        return RL2Trainer.resume(given[name], {"device": args.device}), 0.0, f"checkpoint {given[name]}"
    trainer = recipe_trainer(CONFIGS / SETTINGS[name][1], run_values(args, f"{name}-rl2"), RL2Trainer, resume=False)
    start = time.perf_counter()
    trainer.fit(progress=not args.no_progress, max_seconds=args.rl2_minutes * 60)
    return trainer, time.perf_counter() - start, f"trained {trainer.global_step:,} steps"


def run_setting(name: str, args: argparse.Namespace) -> dict:
    maml, maml_seconds = train_maml(name, args)
    cfg = maml.config
    adaptation = maml.evaluate(maml.policy, args.trials, "test", seed=0)
    rl2, rl2_seconds, rl2_source = rl2_trainer(name, args)
    rl2_scores = rl2.evaluate(args.trials, "test", 0)
    solvers = solver_table(cfg.env, args.trials, 0, "test", str(maml.device), **cfg.env_kwargs)
    published = published_scores(maml.env.family, maml.env.config).get("rl2")
    return {"setting": name, "env": cfg.env, "env_kwargs": cfg.env_kwargs,
            "maml": {"means": adaptation.means, "ci95": adaptation.ci95, "iterations": maml.iteration,
                     "minutes": maml_seconds / 60, "eval_trajectories": cfg.eval_trajectories,
                     "step_sizes": cfg.eval_step_sizes},
            "rl2": {"mean": rl2_scores.mean, "ci95": rl2_scores.ci95, "source": rl2_source,
                    "minutes": rl2_seconds / 60, "published": published},
            "solvers": {r["solver"]: (r["mean"], r["ci95"]) for r in solvers}}


def report(r: dict) -> list[str]:
    m = r["maml"]
    lines = [f"{r['setting']} ({r['env']} {r['env_kwargs']}): mean trial return on held-out test tasks (± 95%)",
             f"  MAML-RL ({m['iterations']} meta-iterations, {m['minutes']:.1f} min), after k gradient steps on "
             f"{m['eval_trajectories']} trials each (step sizes {m['step_sizes']}):"]
    lines.append("    " + "   ".join(f"{k} step{'' if k == 1 else 's'} {mean:7.2f} ± {ci:.2f}"
                                     for k, (mean, ci) in enumerate(zip(m["means"], m["ci95"], strict=True))))
    rl2 = r["rl2"]
    paper = f", paper {rl2['published']}" if rl2["published"] is not None else ""
    lines.append(f"  RL², within one trial ({rl2['source']}{paper}): {rl2['mean']:.2f} ± {rl2['ci95']:.2f}")
    lines.append("  reference solvers, within one trial: " + ", ".join(
        f"{name} {mean:.2f}" for name, (mean, _) in sorted(r["solvers"].items(), key=lambda kv: -kv[1][0])))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--iterations", type=int, help="MAML-RL meta-iterations (default: the recipe's 500)")
    parser.add_argument("--max-minutes", type=float, default=30.0, help="wall-clock cap on each MAML-RL run")
    parser.add_argument("--rl2-minutes", type=float, default=10.0, help="wall-clock cap on each RL² run")
    parser.add_argument("--rl2", action="append", metavar="SETTING=CHECKPOINT",
                        help="score this RL² checkpoint instead of training one (repeatable)")
    parser.add_argument("--trials", type=int, default=1000, help="held-out test tasks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--logdir", default="runs/maml-rl-discrete")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    print(f"device {args.device}, {torch.get_num_threads()} CPU threads", flush=True)
    results = []
    for name in args.settings:
        results.append(run_setting(name, args))
        print("\n".join(report(results[-1])), flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
