"""RL² against the RL² paper (Duan et al. 2016, Tables 1 and 2): train each setting, score it on held-out tasks.

For every setting this trains RL² from its recipe in ``configs/`` (bandits with a 20-minute wall-clock cap,
tabular MDPs to the recipe's total steps unless ``--max-minutes`` is given), evaluates
10,000 held-out test trials (sampling actions, and taking the most likely action), and prints our score
with a 95% interval beside the published RL² score, the target (bandits: published - 1%; tabular
MDPs: 97% of published), the best reference solver on the same tasks, the wall time and the
training steps/s.

Usage:
    python benchmarks/rl2_paper.py                          # every setting
    python benchmarks/rl2_paper.py --settings bandit-k5-n100 --max-minutes 20 --json rl2.json
    python benchmarks/rl2_paper.py --settings bandit-k5-n10 --set num_envs=2048 --set epochs=4   # a variant
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from metarl.agents.rl2 import RL2Trainer
from metarl.envs.bandit import RL2_TABLE1
from metarl.envs.tabular import RL2_TABLE2

from metarl.bench import write_json
from metarl.errors import ConfigError
from metarl.solvers import solver_table
from metarl.training.recipes import benchmark_values, load_config, recipe_trainer

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
BANDIT_MINUTES = 20.0
"""Each bandit setting has to reach its target within this much training."""
# name -> (config file, published RL² score, target)
SETTINGS = {
    **{f"bandit-k{k}-n{n}": (f"rl2_bandit_k{k}_n{n}.yaml", RL2_TABLE1[(n, k)]["rl2"], 0.99)
       for n, k in [(10, 5), (10, 10), (100, 5), (100, 10)]},
    **{f"tabular-n{n}": (f"rl2_tabular_n{n}.yaml", RL2_TABLE2[n]["rl2"], 0.97) for n in (10, 25)},
}

def setting_values(name: str, args: argparse.Namespace) -> dict:
    """The values put on top of ``name``'s recipe: the ``--set`` assignments, device, seed and run directory."""
    return benchmark_values(name, args.set, args.device, args.seed, args.logdir)


def check_settings(args: argparse.Namespace) -> None:
    """Build every chosen setting's config first, so a bad ``--set`` fails before the first setting trains."""
    for name in args.settings:
        load_config(CONFIGS / SETTINGS[name][0], setting_values(name, args), trainer_cls=RL2Trainer)


def run_setting(name: str, args: argparse.Namespace) -> dict:
    file, published, fraction = SETTINGS[name]
    values = setting_values(name, args)
    trainer = recipe_trainer(CONFIGS / file, values, RL2Trainer, resume=False)
    config = trainer.config
    start = time.perf_counter()
    minutes = args.max_minutes
    if minutes is None and name.startswith("bandit"):
        minutes = BANDIT_MINUTES
    trainer.fit(progress=not args.no_progress, max_seconds=None if minutes is None else minutes * 60)
    seconds = time.perf_counter() - start
    scores = trainer.evaluate(args.trials, "test", 0)
    greedy = trainer.evaluate(args.trials, "test", 0, greedy=True)
    solvers = solver_table(config.env, args.trials, 0, "test", str(trainer.device), **config.env_kwargs)
    target = round(published * fraction, 2)
    return {"setting": name, "score": scores.mean, "ci95": scores.ci95, "greedy": greedy.mean,
            "greedy_ci95": greedy.ci95, "published": published, "target": target,
            "reached": scores.mean >= target, "reached_greedy": greedy.mean >= target, "minutes": seconds / 60,
            "steps": trainer.global_step, "steps_per_second": trainer.global_step / seconds,
            "device": str(trainer.device), "threads": torch.get_num_threads(),
            "solvers": {r["solver"]: r["mean"] for r in solvers}}


def row(r: dict) -> str:
    best = max((kv for kv in r["solvers"].items() if kv[0] != "optimal"), key=lambda kv: kv[1])
    ok = "yes" if r["reached"] else ("greedy" if r["reached_greedy"] else "no")
    return (f"{r['setting']:16s} {r['score']:8.2f} ± {r['ci95']:4.2f} {r['greedy']:8.2f} ± {r['greedy_ci95']:4.2f} "
            f"{r['published']:7.1f} {r['target']:7.2f} {ok:>6s} {r['minutes']:7.1f} {r['steps']:11,d} "
            f"{r['steps_per_second']:8.0f}  {best[0]} {best[1]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--max-minutes", type=float,
                        help=f"wall-clock cap on each setting's training (default: {BANDIT_MINUTES:g} for the bandits, "
                             "none for the tabular MDPs, whose recipes train longer)")
    parser.add_argument("--trials", type=int, default=10_000,
                        help="held-out test trials: 10,000 give a 95%% interval of about ±0.04 on the 10-pull bandits, "
                             "inside the 1%% target margin (1000 give ±0.14)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--logdir", default="runs/rl2-paper")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="change a recipe value for this run, e.g. --set num_envs=2048 (repeatable)")
    args = parser.parse_args()
    try:
        check_settings(args)
    except ConfigError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    results = []
    header = (f"{'setting':16s} {'RL², sampled':>15s} {'RL², greedy':>15s} {'paper':>7s} {'target':>7s} {'met':>6s} "
              f"{'minutes':>7s} {'steps':>11s} {'steps/s':>8s}  best reference solver (same tasks)")
    for name in args.settings:
        results.append(run_setting(name, args))
        print(row(results[-1]), flush=True)
    print()
    print(header)
    for r in results:
        print(row(r))
    if args.json:
        write_json(results, args.json)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
