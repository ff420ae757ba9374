"""VariBAD against RL² at equal environment steps, with paired seeds, beside the Bayes-optimal reference solvers.

For each setting and each seed, RL² trains from its recipe in ``configs/`` and VariBAD from its own, both for
``--steps`` environment steps with that seed; both are scored on the same held-out test trials. The paired
difference (VariBAD - RL²) over seeds gets a Student-t 95% interval. The target of the issue is that VariBAD
beats RL²: the interval's lower end above 0. The script exits with status 1 when a setting misses it. The gap
to Gittins (bandit) and Bayes-UCB (tabular MDP) on the same tasks is printed beside.

Usage:
    python benchmarks/varibad_vs_rl2.py --setting bandit --steps 500000 --seeds 3
    python benchmarks/varibad_vs_rl2.py --setting tabular --steps 500000 --seeds 3 --json runs/vs.json
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import torch
from metarl.agents.rl2.evaluate import evaluate_policy

from metarl.files import write_atomically
from metarl.solvers import solver_table
from metarl.stats import mean_ci95, paired_interval
from metarl.training.recipes import load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SETTINGS = {
    "bandit": ("rl2_bandit_k5_n10.yaml", "varibad_bandit_k5_n10.yaml", "gittins"),
    "tabular": ("rl2_tabular_n10.yaml", "varibad_tabular_n10.yaml", "bayes-ucb"),
}


def cpu_seconds() -> float:
    """CPU time of this process and its children (what a loaded machine does not inflate as wall time does)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def train_and_score(recipe: str, steps: int, seed: int, trials: int, logdir: str) -> tuple[float, float, float]:
    """(mean test trial return, its 95% half-width, CPU seconds of training) of one recipe run."""
    cls, config = load_config(CONFIGS / recipe, {"total_steps": steps, "seed": seed, "device": "cpu",
                                                 "logdir": logdir, "checkpoint_every": 10**9,
                                                 "run_name": f"{Path(recipe).stem}__{steps}__{seed}"})
    start = cpu_seconds()
    trainer = cls(config)
    trainer.fit(progress=False)
    spent = cpu_seconds() - start
    trainer.model.eval()
    scores = evaluate_policy(trainer.model, config.env, config.env_kwargs, trials, "test", seed=0,
                             time_feature=config.time_feature, previous_obs=config.previous_obs)
    return scores.mean, scores.ci95, spent


def run_setting(name: str, steps: int, seeds: int, trials: int, logdir: str) -> dict:
    rl2_recipe, varibad_recipe, reference = SETTINGS[name]
    _, config = load_config(CONFIGS / rl2_recipe)
    rows = {"rl2": [], "varibad": []}
    for seed in range(seeds):
        for agent, recipe in (("rl2", rl2_recipe), ("varibad", varibad_recipe)):
            mean, half, spent = train_and_score(recipe, steps, seed, trials, logdir)
            rows[agent].append({"seed": seed, "mean": mean, "ci95": half, "cpu_seconds": spent})
            print(f"  {name} seed {seed} {agent:8s} {mean:8.3f} ± {half:.3f}   ({spent:.0f} CPU s)", flush=True)
    rl2 = torch.tensor([r["mean"] for r in rows["rl2"]])
    varibad = torch.tensor([r["mean"] for r in rows["varibad"]])
    diff, half = paired_interval(varibad - rl2)
    solvers = {row["solver"]: row for row in solver_table(config.env, trials, 0, "test", "cpu", **config.env_kwargs)}
    best = solvers[reference]
    return {"setting": name, "env": config.env, "env_kwargs": config.env_kwargs, "steps": steps, "seeds": seeds,
            "trials": trials, "runs": rows, "rl2": mean_ci95(rl2.double())[0].item(),
            "varibad": mean_ci95(varibad.double())[0].item(), "difference": diff, "difference_ci95": half,
            "reference": reference, "reference_mean": best["mean"], "reference_published": best["published"],
            "met": bool(diff - half > 0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=sorted(SETTINGS), action="append")
    parser.add_argument("--steps", type=int, default=1_500_000, help="environment steps for each agent and seed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=2000, help="held-out test trials per score")
    parser.add_argument("--logdir", default="runs/bench-varibad-vs-rl2")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results, failed = [], False
    for name in args.setting or sorted(SETTINGS):
        start = time.perf_counter()
        result = run_setting(name, args.steps, args.seeds, args.trials, args.logdir)
        result["wall_seconds"] = time.perf_counter() - start
        results.append(result)
        verdict = "MET" if result["met"] else "NOT MET"
        gap = result["reference_mean"] - result["varibad"]
        print(f"{name}: {result['env']} {result['env_kwargs']}, {args.steps:,} steps each, {args.seeds} paired seeds, "
              f"{args.trials} test trials")
        print(f"  RL² {result['rl2']:.3f}   VariBAD {result['varibad']:.3f}   VariBAD - RL² "
              f"{result['difference']:+.3f} ± {result['difference_ci95']:.3f}   {verdict} (VariBAD beats RL²)")
        print(f"  {result['reference']} {result['reference_mean']:.3f} on the same tasks "
              f"(published {result['reference_published']}); VariBAD's gap to it {gap:.3f}")
        failed |= not result["met"]
    if args.json:
        write_atomically(args.json, json.dumps(results, indent=2).encode())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
