"""All few-shot learners on Glyphs: 5-way 1-shot, 5-way 5-shot and 20-way 1-shot accuracy with 95% intervals.

For every (learner, setting) this trains from the recipe ``configs/<learner>_glyphs_<setting>.yaml`` when
there is one, else from ``configs/<learner>_glyphs_5w1s.yaml`` with the setting's ways and shots (train
as you test), with a wall-clock cap of ``--max-minutes`` per run and, with ``--cpu-minutes``, a cap on the
CPU time the training process spends (fair between runs on a shared machine), then evaluates ``--episodes``
test episodes (15 queries per class, the same episodes for every learner) and prints the accuracy table
beside the Omniglot numbers published for each method (Glyphs is a different data set: they are a
reference point, not a target), the training speed of each learner in episodes per second beside MAML's,
and VERSA's expected calibration error. Target: the best learner reaches 90% on 5-way 1-shot.
``--omniglot ROOT`` trains and scores on Omniglot read from ``ROOT`` instead (see
``metarl.envs.glyphs.register_omniglot``). ``--resume`` continues each run from its checkpoint under
``--logdir`` (its ``--cpu-minutes`` then add to the earlier calls'; the speed counts this call's episodes).

Usage:
    python benchmarks/fewshot_glyphs.py                                  # 11 learners x 3 settings
    python benchmarks/fewshot_glyphs.py --learners protonet maml --settings 5w1s --max-minutes 3
    python benchmarks/fewshot_glyphs.py --learners relationnet gnn protonet --cpu-minutes 1.5 --episodes 300
    python benchmarks/fewshot_glyphs.py --device cuda --max-minutes 30 --json fewshot.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from metarl.envs.glyphs.omniglot import OMNIGLOT_ACCURACY, OMNIGLOT_COLUMNS

from metarl.training.recipes import load_config, recipe_trainer

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
LEARNERS = ["maml", "fomaml", "reptile", "protonet", "matchingnet", "pretrain", "relationnet", "gnn", "metanet",
            "meta-sgd", "versa"]
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
    if args.omniglot:
        values["env"] = "metarl/Omniglot-v0"
    cls, config = load_config(path, values, agent=learner)
    trainer = recipe_trainer(path, values, cls) if args.resume else cls(config)
    earlier = trainer.global_step
    start, cpu = time.perf_counter(), time.process_time()
    fit(trainer, args)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    scores = trainer.evaluate(args.episodes, "test", seed=0)
    eval_cpu = time.process_time() - cpu
    ways, shots = SETTINGS[setting]
    published = OMNIGLOT_ACCURACY.get(learner)
    return {"learner": learner, "setting": setting, "recipe": file, "accuracy": scores.means[-1],
            "ci95": scores.ci95[-1], "accuracy_by_step": scores.means, "episodes": args.episodes,
            "training_episodes": trainer.global_step, "iterations": trainer.iteration, "minutes": seconds / 60,
            "cpu_minutes": cpu_seconds / 60,
            "episodes_per_second": (trainer.global_step - earlier) / max(seconds, 1e-9),
            "episodes_per_cpu_second": (trainer.global_step - earlier) / max(cpu_seconds, 1e-9),
            "earlier_episodes": earlier,
            "eval_minutes": (time.perf_counter() - start) / 60,
            "eval_cpu_seconds_per_episode": eval_cpu / args.episodes, "device": str(trainer.device),
            "threads": torch.get_num_threads(), **getattr(trainer, "last_calibration", {}),
            "omniglot_published": published[OMNIGLOT_COLUMNS.index((ways, shots))] if published else None}


def fit(trainer, args: argparse.Namespace) -> None:
    """Train until ``total_steps``, ``--max-minutes`` of wall time, or ``--cpu-minutes`` of this process's CPU time.

    The CPU budget is spent in chunks of iterations sized from the CPU time per iteration so far (each chunk ends
    with a checkpoint); a run may overshoot by one iteration.
    """
    progress, wall = not args.no_progress, args.max_minutes * 60
    if args.cpu_minutes is None:
        trainer.fit(progress=progress, max_seconds=wall)
        return
    budget, start, began = args.cpu_minutes * 60, time.process_time(), time.perf_counter()
    chunk, before = 1, trainer.iteration
    while trainer.global_step < trainer.config.total_steps:
        spent, left_wall = time.process_time() - start, wall - (time.perf_counter() - began)
        if spent >= budget or left_wall <= 0:
            return
        trainer.fit(max_iterations=chunk, progress=progress, max_seconds=left_wall)
        per_iteration = (time.process_time() - start) / max(trainer.iteration - before, 1)
        chunk = max(1, min(200, int((budget - (time.process_time() - start)) / per_iteration)))


def table(results: list[dict], settings: list[str]) -> list[str]:
    width = 18
    lines = [f"  {'learner':12s}" + "".join(f"{s:>{width}s}" for s in settings) + "   Omniglot, published (%)"]
    for learner in dict.fromkeys(r["learner"] for r in results):
        found = {r["setting"]: r for r in results if r["learner"] == learner}
        cells = [f"{100 * found[s]['accuracy']:.2f} ± {100 * found[s]['ci95']:.2f}" if s in found else "-"
                 for s in settings]
        published = OMNIGLOT_ACCURACY.get(learner)
        values = [published[OMNIGLOT_COLUMNS.index(SETTINGS[s])] if published else None for s in settings]
        reference = " / ".join("-" if v is None else f"{v:g}" for v in values)
        lines.append(f"  {learner:12s}" + "".join(f"{c:>{width}s}" for c in cells) + f"   {reference}")
    return lines


def speed(results: list[dict]) -> list[str]:
    """Training episodes per second (wall and CPU) of each run, beside MAML's in the same setting; VERSA's ECE."""
    lines = ["  training speed (episodes per second of wall time / of CPU time), beside MAML's in the same setting:"]
    for r in results:
        maml = next((m for m in results if m["learner"] == "maml" and m["setting"] == r["setting"]), None)
        ratio = f", {r['episodes_per_cpu_second'] / maml['episodes_per_cpu_second']:.1f}x maml's" if maml else ""
        lines.append(f"  {r['learner']:12s} {r['setting']:6s} {r['episodes_per_second']:8.1f} / "
                     f"{r['episodes_per_cpu_second']:8.1f}{ratio}")
        if "ece" in r:
            lines.append(f"  {r['learner']:12s} {r['setting']:6s} expected calibration error {100 * r['ece']:.2f}% "
                         f"(accuracy {100 * r['accuracy']:.2f}%)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", nargs="+", default=LEARNERS, choices=LEARNERS)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--max-minutes", type=float, default=30.0, help="wall-clock cap on each run's training")
    parser.add_argument("--cpu-minutes", type=float, help="cap on each run's training CPU time (this process)")
    parser.add_argument("--total-steps", type=int, help="training episodes of each run (default: the recipe's)")
    parser.add_argument("--omniglot", metavar="ROOT", help="train and score on Omniglot read from ROOT")
    parser.add_argument("--episodes", type=int, default=1000, help="test episodes per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--logdir", default="runs/fewshot-glyphs")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--resume", action="store_true", help="continue each run from its checkpoint in --logdir")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    if args.omniglot:
        from metarl.envs.glyphs import register_omniglot

        register_omniglot(args.omniglot)
    print(f"device {args.device}, {torch.get_num_threads()} CPU threads; test accuracy (%) on {args.episodes} "
          f"episodes with 15 queries per class, ± 95% interval", flush=True)
    results = []
    for setting in args.settings:
        for learner in args.learners:
            r = run(learner, setting, args)
            results.append(r)
            print(f"{learner} {setting} ({r['recipe']}): {100 * r['accuracy']:.2f}% ± {100 * r['ci95']:.2f}% after "
                  f"{r['training_episodes']:,} training episodes ({r['earlier_episodes']:,} before this call) in "
                  f"{r['minutes']:.1f} min "
                  f"({r['cpu_minutes']:.1f} CPU) "
                  f"(evaluation {r['eval_minutes']:.1f} min, "
                  f"{r['eval_cpu_seconds_per_episode']:.3f} CPU s per episode)",
                  flush=True)
    print()
    print("\n".join(table(results, args.settings)))
    print("\n".join(speed(results)))
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
