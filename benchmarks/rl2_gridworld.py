"""RL² on the grid families, read against their reference solvers on held-out tasks.

For each setting this trains RL² from its recipe in ``configs/`` for at most ``--max-minutes`` (a run in ``--logdir``
continues from its checkpoint on a later call, its time adding up), then plays one trial on each of ``--trials``
held-out test tasks and prints its mean trial return (± 95%), its mean return in each inner episode, and the
random, explore-then-plan and oracle solvers on the same tasks, with the training budget; then the same on new
trials of training tasks, which shows how much of a shortfall is generalisation to unseen tasks. The targets, on
the held-out tasks:

- KeyToDoor and MetaMaze: RL² above explore-then-plan, by the 95% interval of their difference paired by task
  (trial i of both is on the same task; the line also says whether the two separate intervals overlap).
  ``metamaze`` holds goal cells out of training; ``metamaze-gymnax`` draws every trial's goal from every cell, as
  gymnax does;
- RuleGrid (rule sets drawn anew each episode, and kept for the trial): RL²'s return rises within a trial on
  held-out rule sets (last episode above the first, 95%).

Usage:
    python benchmarks/rl2_gridworld.py --max-minutes 15
    python benchmarks/rl2_gridworld.py --settings rulegrid --max-minutes 0    # score the saved run only
"""

from __future__ import annotations

import argparse
from pathlib import Path

from metarl.agents.rl2 import RL2Trainer

from metarl.bench import write_json
from metarl.solvers import solver_returns, solver_table
from metarl.stats import mean_ci95
from metarl.training import command_line_values
from metarl.training.recipes import recipe_trainer, timed_fit

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SETTINGS = {"keytodoor": "rl2_keytodoor.yaml", "metamaze": "rl2_metamaze.yaml",
            "metamaze-gymnax": "rl2_metamaze_gymnax.yaml", "rulegrid": "rl2_rulegrid.yaml",
            "rulegrid-places": "rl2_rulegrid_places.yaml"}


def score(trainer: RL2Trainer, trials: int, seed: int, split: str = "test") -> dict:
    """RL² and every solver of the family on the same ``trials`` tasks of ``split``."""
    cfg = trainer.config
    scores = trainer.evaluate(trials, split, seed)
    episodes = scores.episode_returns.double()
    rise = episodes[:, -1] - episodes[:, 0]
    solvers = {row["solver"]: (row["mean"], row["ci95"])
               for row in solver_table(cfg.env, trials, seed, split, "cpu", **cfg.env_kwargs)}
    explorer = solver_returns(cfg.env, "explore-then-plan", trials, seed, split, "cpu", **cfg.env_kwargs)
    return {"rl2": [float(v) for v in mean_ci95(scores.returns.double())],
            "episodes": [float(v) for v in episodes.mean(0)], "rise": [float(v) for v in mean_ci95(rise)],
            "minus_explorer": [float(v) for v in mean_ci95(scores.returns.double() - explorer)],
            "solvers": solvers, "trials": trials}


def target_met(name: str, result: dict) -> tuple[bool, str]:
    """Whether ``result`` meets the setting's target, and the line that says so."""
    mean, ci = result["rl2"]
    if name.startswith("rulegrid"):
        rise, half = result["rise"]
        met = rise - half > 0
        return met, f"return rises within a trial (last - first episode {rise:+.3f} ± {half:.3f})"
    explorer = result["solvers"]["explore-then-plan"]
    difference, half = result["minus_explorer"]
    separate = mean - ci > explorer[0] + explorer[1] or mean + ci < explorer[0] - explorer[1]
    apart = "apart" if separate else "overlapping"
    return difference - half > 0, (f"RL² above explore-then-plan ({mean:.3f} vs {explorer[0]:.3f}; paired "
                                   f"difference {difference:+.3f} ± {half:.3f}; the two intervals {apart})")


def report(name: str, trainer: RL2Trainer, seconds: float, result: dict, seen: dict) -> bool:
    """Print the held-out scores and the target, then the same on training tasks; return whether it is met."""
    cfg = trainer.config
    print(f"\n{name}: RL² on {cfg.env} {cfg.env_kwargs}: {trainer.global_step:,} training steps in "
          f"{seconds / 60:.1f} min ({trainer.global_step / max(seconds, 1e-9):,.0f} steps/s)")
    for label, scores in (("held-out (test) tasks", result), ("training tasks, new trials", seen)):
        mean, ci = scores["rl2"]
        print(f"  on {label}:\n  RL²                 {mean:8.3f} ± {ci:.3f}   per episode: "
              + " ".join(f"{v:.3f}" for v in scores["episodes"]))
        for solver, (m, c) in scores["solvers"].items():
            print(f"  {solver:18s}  {m:8.3f} ± {c:.3f}")
        met, line = target_met(name, scores)
        print(f"  {'target' if scores is result else 'same test on training tasks'}: {line}: "
              f"{'MET' if met else 'NOT MET'}")
    return target_met(name, result)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--max-minutes", type=float, default=15.0, help="training wall time per setting, this call")
    parser.add_argument("--trials", type=int, default=1000, help="held-out test trials")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a key of every recipe")
    parser.add_argument("--logdir", default="runs/rl2-gridworld")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    results, met = {}, 0
    for name in args.settings:
        flags = {"device": args.device, "seed": args.seed, "logdir": args.logdir, "run_name": f"{name}__{args.seed}"}
        trainer = recipe_trainer(CONFIGS / SETTINGS[name], command_line_values(flags, assignments=args.set),
                                 RL2Trainer)
        seconds = timed_fit(trainer, 60.0 * args.max_minutes, progress=not args.no_progress)
        result, seen = score(trainer, args.trials, 0), score(trainer, args.trials, 0, "train")
        met += report(name, trainer, seconds, result, seen)
        results[name] = {**result, "training_tasks": seen, "minutes": seconds / 60,
                         "steps_trained": trainer.global_step,
                         "run_dir": str(trainer.run_dir)}
        if args.json:
            write_json(results, args.json)
    print(f"\n{met} of {len(args.settings)} targets met")


if __name__ == "__main__":
    main()
