"""VariBAD against RL² at equal environment steps, with paired seeds, beside the Bayes-optimal reference solvers.

For each setting and each seed, RL² trains from its recipe in ``configs/`` and VariBAD from its own, both for
``--steps`` environment steps with that seed; both are scored on the same held-out test trials. The paired
difference (VariBAD - RL²) over seeds gets a Student-t 95% interval. The target of the issue is that VariBAD
beats RL²: the interval's lower end above 0. The script exits with status 1 when a setting misses it. The gap
to Gittins (bandit) and Bayes-UCB (tabular MDP) on the same tasks is printed beside.

``--rl2-recipe`` / ``--varibad-recipe`` replace a setting's recipe (a file in ``configs/``): RL²'s paper recipes
are sized for budgets of 16M (bandit) and 120M (tabular) steps, so at a small ``--steps`` the comparison is fair
only against an RL² recipe sized for it (``rl2_bandit_k5_n10_short.yaml``, ``rl2_tabular_n10_short.yaml``). Each run
keeps its checkpoint under ``--logdir``: a call cut short (``--max-minutes``) or repeated continues the runs it
finds there and only scores the finished ones, and the CPU time printed is each run's over all calls.

Usage:
    python benchmarks/varibad_vs_rl2.py --setting bandit --steps 500000 --seeds 3
    python benchmarks/varibad_vs_rl2.py --setting bandit --steps 1000000 --rl2-recipe rl2_bandit_k5_n10_short.yaml
    python benchmarks/varibad_vs_rl2.py --setting tabular --steps 500000 --seeds 3 --json runs/vs.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from metarl.agents.rl2.evaluate import evaluate_policy

from metarl.files import write_atomically
from metarl.solvers import solver_table
from metarl.stats import mean_ci95, paired_interval
from metarl.training.recipes import load_config, recipe_trainer, run_cpu_seconds, timed_fit

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SETTINGS = {
    "bandit": ("rl2_bandit_k5_n10.yaml", "varibad_bandit_k5_n10.yaml", "gittins"),
    "tabular": ("rl2_tabular_n10.yaml", "varibad_tabular_n10.yaml", "bayes-ucb"),
}


class OutOfTime(Exception):
    """The call's ``--max-minutes`` ran out before every run finished."""


def train_and_score(recipe: str, steps: int, seed: int, trials: int, logdir: str, deadline: float
                    ) -> tuple[float, float, float]:
    """(mean test trial return, its 95% half-width, CPU seconds of training over all calls) of one recipe run,
    continued from its checkpoint when there is one; :class:`OutOfTime` when ``deadline`` passes first."""
    trainer = recipe_trainer(CONFIGS / recipe, {"total_steps": steps, "seed": seed, "device": "cpu", "logdir": logdir,
                                                "run_name": f"{Path(recipe).stem}__{steps}__{seed}"})
    timed_fit(trainer, max(deadline - time.monotonic(), 0.0), progress=False)
    if trainer.global_step < trainer.config.total_steps:
        raise OutOfTime(f"{recipe} seed {seed} at {trainer.global_step:,} of {steps:,} steps")
    config = trainer.config
    trainer.model.eval()
    scores = evaluate_policy(trainer.model, config.env, config.env_kwargs, trials, "test", seed=0,
                             time_feature=config.time_feature, previous_obs=config.previous_obs)
    return scores.mean, scores.ci95, run_cpu_seconds(trainer) or float("nan")


def run_setting(name: str, steps: int, seeds: int, trials: int, logdir: str, deadline: float,
                recipes: dict[str, str | None]) -> dict:
    rl2_recipe, varibad_recipe, reference = SETTINGS[name]
    rl2_recipe, varibad_recipe = recipes["rl2"] or rl2_recipe, recipes["varibad"] or varibad_recipe
    _, config = load_config(CONFIGS / rl2_recipe)
    rows = {"rl2": [], "varibad": []}
    for seed in range(seeds):
        for agent, recipe in (("rl2", rl2_recipe), ("varibad", varibad_recipe)):
            mean, half, spent = train_and_score(recipe, steps, seed, trials, logdir, deadline)
            rows[agent].append({"seed": seed, "mean": mean, "ci95": half, "cpu_seconds": spent, "recipe": recipe})
            print(f"  {name} seed {seed} {agent:8s} {mean:8.3f} ± {half:.3f}   ({spent:.0f} CPU s, {recipe})",
                  flush=True)
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
    parser.add_argument("--rl2-recipe", help="RL²'s recipe in configs/ instead of the setting's")
    parser.add_argument("--varibad-recipe", help="VariBAD's recipe in configs/ instead of the setting's")
    parser.add_argument("--max-minutes", type=float, help="stop training after this many wall minutes; "
                                                          "a later call continues")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    deadline = time.monotonic() + (float("inf") if args.max_minutes is None else 60.0 * args.max_minutes)
    recipes = {"rl2": args.rl2_recipe, "varibad": args.varibad_recipe}
    results, failed = [], False
    for name in args.setting or sorted(SETTINGS):
        start = time.perf_counter()
        try:
            result = run_setting(name, args.steps, args.seeds, args.trials, args.logdir, deadline, recipes)
        except OutOfTime as exc:
            print(f"{name}: out of time ({exc}); run the same command again to continue")
            return 1
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
