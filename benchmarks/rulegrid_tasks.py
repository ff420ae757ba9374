"""RuleGrid's task space: how many distinct tasks each level holds, and its fixed benchmark sets made from keys.

For each level this prints the bounds of :func:`metarl.envs.gridworld.rules.task_count`, then makes the first
``--size`` tasks of the level's fixed benchmark set in each split (from keys, on the fly: nothing is downloaded
or stored), times it, counts the distinct tasks among them and checks that no goal is shared between splits.
XLand-MiniGrid ships its sets as files of 1M rule sets per level (trivial, small, medium, high).

    python benchmarks/rulegrid_tasks.py --size 1000000
"""

from __future__ import annotations

import argparse
import time

import torch
from metarl.envs.gridworld import rules as R


def distinct(task: dict[str, torch.Tensor]) -> int:
    """How many different (goal, rules, objects) rows a batch of tasks holds."""
    rows = torch.cat([task["goal"], task["rules"].flatten(1), task["objects"]], 1)
    return int(torch.unique(rows, dim=0).shape[0])


def goals(task: dict[str, torch.Tensor]) -> set[tuple[int, int, int]]:
    g = task["goal"]
    low, high = torch.minimum(g[:, 1], g[:, 2]), torch.maximum(g[:, 1], g[:, 2])
    return {tuple(row) for row in torch.stack([g[:, 0], low, high], 1).unique(dim=0).tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="tasks per level and split")
    parser.add_argument("--chunk", type=int, default=250_000)
    args = parser.parse_args()
    print(f"{'level':8s} {'depth':>5s} {'rules':>5s} {'objects':>7s} {'distinct tasks (bounds)':>26s}   "
          f"{'split':10s} {'made':>9s} {'seconds':>7s} {'distinct':>9s}")
    failures = 0
    for level, (depth, extra, _) in R.LEVELS.items():
        low, high = R.task_count(level)
        slots, width = R.sizes(level)
        seen: dict[str, set] = {}
        for split in ("train", "validation", "test"):
            began, parts = time.perf_counter(), []
            for first in range(0, args.size, args.chunk):
                index = torch.arange(first, min(first + args.chunk, args.size))
                parts.append(R.benchmark_tasks(level, index, split))
            seconds = time.perf_counter() - began
            task = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
            seen[split] = goals(task)
            print(f"{level:8s} {depth:5d} {depth + extra:5d} {width:7d} {low:11.3g} - {high:11.3g}   {split:10s} "
                  f"{args.size:9,d} {seconds:7.1f} {distinct(task):9,d}")
        shared = (seen["train"] & seen["test"]) | (seen["train"] & seen["validation"]) | (seen["test"]
                                                                                          & seen["validation"])
        failures += bool(shared)
        print(f"{'':8s} goals: {len(seen['train'])} train, {len(seen['validation'])} validation, {len(seen['test'])} "
              f"test; shared between splits: {len(shared)}")
    if failures:
        raise SystemExit(f"{failures} levels share goals between splits")


if __name__ == "__main__":
    main()
