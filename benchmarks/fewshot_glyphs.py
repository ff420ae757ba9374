"""All few-shot learners on Glyphs: 5-way 1-shot, 5-way 5-shot and 20-way 1-shot accuracy with 95% intervals.

For every (learner, setting) this trains from the recipe ``configs/<learner>_glyphs_<setting>.yaml`` when
there is one, else from ``configs/<learner>_glyphs_5w1s.yaml`` with the setting's ways and shots (train
as you test), with a wall-clock cap of ``--max-minutes`` per run, then evaluates ``--episodes`` test
episodes (15 queries per class, the same episodes for every learner) and prints the accuracy table
beside the Omniglot numbers published for each method (Glyphs is a different data set: they are a
reference point, not a target). Target: the best learner reaches 90% on 5-way 1-shot.

Usage:
    python benchmarks/fewshot_glyphs.py                                  # 6 learners x 3 settings
    python benchmarks/fewshot_glyphs.py --learners protonet maml --settings 5w1s --max-minutes 3
    python benchmarks/fewshot_glyphs.py --device cuda --max-minutes 30 --json fewshot.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from metarl.published import OMNIGLOT_ACCURACY, OMNIGLOT_COLUMNS
from metarl.training.recipes import load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
LEARNERS = ["maml", "fomaml", "reptile", "protonet", "matchingnet", "pretrain"]
SETTINGS = {"5w1s": (5, 1), "5w5s": (5, 5), "20w1s": (20, 1)}
TARGET = ("5w1s", 0.90)


def recipe(learner: str, setting: str) -> tuple[Path, dict]:
    """The recipe file for this learner and setting, and the values put on top of it (see the module docstring)."""
    path = CONFIGS / f"{learner}_glyphs_{setting}.yaml"
    if path.exists():
        return path, {}
    ways, shots = SETTINGS[setting]
    return CONFIGS / f"{learner}_glyphs_5w1s.yaml", {"ways": ways, "shots": shots}


def run(learner: str, setting: str, args: argparse.Namespace) -> dict:
    path, values = recipe(learner, setting)
    file = path.name
    values.update({"device": args.device, "seed": args.seed, "logdir": args.logdir,
                   "run_name": f"{learner}_{setting}__{args.seed}", "eval_queries": 15})
    if args.total_steps is not None:
        values["total_steps"] = args.total_steps
    cls, config = load_config(path, values, agent=learner)
    trainer = cls(config)
    start = time.perf_counter()
    trainer.fit(progress=not args.no_progress, max_seconds=args.max_minutes * 60)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = trainer.evaluate(args.episodes, "test", seed=0)
    ways, shots = SETTINGS[setting]
    published = OMNIGLOT_ACCURACY.get(learner)
    return {"learner": learner, "setting": setting, "recipe": file, "accuracy": scores.means[-1],
            "ci95": scores.ci95[-1], "accuracy_by_step": scores.means, "episodes": args.episodes,
            "training_episodes": trainer.global_step, "iterations": trainer.iteration, "minutes": seconds / 60,
            "eval_minutes": (time.perf_counter() - start) / 60, "device": str(trainer.device),
            "threads": torch.get_num_threads(),
            "omniglot_published": published[OMNIGLOT_COLUMNS.index((ways, shots))] if published else None}


def table(results: list[dict], settings: list[str]) -> list[str]:
    width = 18
    lines = [f"  {'learner':12s}" + "".join(f"{s:>{width}s}" for s in settings) + "   Omniglot, published (%)"]
    for learner in dict.fromkeys(r["learner"] for r in results):
        found = {r["setting"]: r for r in results if r["learner"] == learner}
        cells = [f"{100 * found[s]['accuracy']:.2f} ± {100 * found[s]['ci95']:.2f}" if s in found else "-"
                 for s in settings]
        published = OMNIGLOT_ACCURACY.get(learner)
        reference = " / ".join(f"{published[OMNIGLOT_COLUMNS.index(SETTINGS[s])]:g}" for s in settings) \
            if published else "-"
        lines.append(f"  {learner:12s}" + "".join(f"{c:>{width}s}" for c in cells) + f"   {reference}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", nargs="+", default=LEARNERS, choices=LEARNERS)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--max-minutes", type=float, default=30.0, help="wall-clock cap on each run's training")
    parser.add_argument("--total-steps", type=int, help="training episodes of each run (default: the recipe's)")
    parser.add_argument("--episodes", type=int, default=1000, help="test episodes per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--logdir", default="runs/fewshot-glyphs")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    print(f"device {args.device}, {torch.get_num_threads()} CPU threads; test accuracy (%) on {args.episodes} "
          f"episodes with 15 queries per class, ± 95% interval", flush=True)
    results = []
    for setting in args.settings:
        for learner in args.learners:
            r = run(learner, setting, args)
            results.append(r)
            print(f"{learner} {setting} ({r['recipe']}): {100 * r['accuracy']:.2f}% ± {100 * r['ci95']:.2f}% after "
                  f"{r['training_episodes']:,} training episodes in {r['minutes']:.1f} min "
                  f"(evaluation {r['eval_minutes']:.1f} min)", flush=True)
    print()
    print("\n".join(table(results, args.settings)))
    setting, goal = TARGET
    best = max((r for r in results if r["setting"] == setting), key=lambda r: r["accuracy"], default=None)
    if best is not None:
        met = best["accuracy"] >= goal
        print(f"  target: best {setting} accuracy >= {100 * goal:.0f}%: {best['learner']} {100 * best['accuracy']:.2f}%"
              f" ({'met' if met else 'not met'})")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"results": results, "target": {"setting": setting, "accuracy": goal}},
                                              indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
