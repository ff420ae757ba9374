"""Steps per second of ML10 with random actions: metarl's batched family against Meta-World's own vector envs.

Three ways to step the same benchmark (ML10's 10 training environments, one per environment slot, 500-step
episodes with resets), in the same process and the same run, rounds alternating so that load on a shared
machine affects all alike:

- **metarl**: ``metarl.make("metarl/ML10-v0", num_envs=B)``, one loop over Meta-World's ``step``;
- **sync**: ``gymnasium.make_vec("Meta-World/ML10-train", vector_strategy="sync")``;
- **async**: the same with ``vector_strategy="async"`` (one worker process per environment).

Each row gives environment steps per wall second and per CPU second (the process's own CPU time, plus its
workers' for async, read from /proc). Meta-World's users report about 1.1 s per 500 steps of one environment
(Metaworld#469), 455 steps/s. Target: metarl at least 0.9 x sync per CPU second (no per-step work beyond
Meta-World's own); the script exits 1 when it misses it.

Usage (needs the metaworld extra):
    python benchmarks/metaworld_throughput.py                 # B = 10, 3 rounds of 300 vector steps
    python benchmarks/metaworld_throughput.py --steps 1000 --rounds 5 --json mw.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import gymnasium
import numpy as np
import torch

import metarl

TARGET = 0.9
REPORTED = 500 / 1.1
"""Steps/s of one Meta-World environment as its users report it (Metaworld#469: about 1.1 s per 500 steps)."""


def _worker_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes ``pids`` have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


class Ours:
    name = "metarl ML10-v0"

    def __init__(self, envs: int) -> None:
        self.env = metarl.make("metarl/ML10-v0", num_envs=envs, seed=0, check=False)
        self.env.reset()
        self.generator = torch.Generator().manual_seed(0)
        self.workers: list[int] = []

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.env.step(self.env.sample_actions(self.generator))


class Theirs:
    def __init__(self, envs: int, strategy: str) -> None:
        self.name = f"Meta-World make_vec {strategy}"
        self.env = gymnasium.make_vec("Meta-World/ML10-train", vector_strategy=strategy, meta_batch_size=envs, seed=0)
        self.env.call("toggle_sample_tasks_on_reset", True)  # a new goal each episode, as in its ML training loop
        self.env.reset(seed=0)
        self.env.action_space.seed(0)
        self.workers = [p.pid for p in getattr(self.env, "processes", [])]

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.env.step(self.env.action_space.sample())


def measure(runner, steps: int, envs: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of ``steps`` vector steps."""
    wall, cpu, workers = time.perf_counter(), time.process_time(), _worker_cpu(runner.workers)
    runner.run(steps)
    return time.perf_counter() - wall, time.process_time() - cpu + _worker_cpu(runner.workers) - workers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", type=int, default=10, help="environments B (a multiple of 10: ML10's classes)")
    parser.add_argument("--steps", type=int, default=300, help="vector steps per round and way")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    import metaworld  # noqa: F401  (registers Meta-World's gymnasium ids)

    torch.set_num_threads(1)
    runners = [Ours(args.envs), Theirs(args.envs, "sync"), Theirs(args.envs, "async")]
    totals = {r.name: np.zeros(2) for r in runners}
    for _ in range(args.rounds):
        for runner in runners:
            totals[runner.name] += measure(runner, args.steps, args.envs)
    load = os.getloadavg()[0]
    count = args.steps * args.rounds * args.envs
    print(f"ML10, B = {args.envs}, {count:,} environment steps per way, random actions; load average {load:.1f} "
          f"on {os.cpu_count()} CPUs")
    print(f"  {'way':26s} {'steps/s (wall)':>15s} {'steps/CPU-s':>12s}")
    rows = []
    for name, (wall, cpu) in totals.items():
        rows.append({"way": name, "envs": args.envs, "steps": count, "steps_per_s": count / wall,
                     "steps_per_cpu_s": count / cpu})
        print(f"  {name:26s} {count / wall:15.0f} {count / cpu:12.0f}")
    print(f"  {'reported (Metaworld#469)':26s} {REPORTED:15.0f} {'':>12s}  one environment, 1.1 s per 500 steps")
    ratio = rows[0]["steps_per_cpu_s"] / rows[1]["steps_per_cpu_s"]
    met = ratio >= TARGET
    print(f"metarl / sync per CPU second: {ratio:.2f} (target >= {TARGET}): {'MET' if met else 'NOT MET'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "load": load, "ratio": ratio}, indent=1))
    for runner in runners:
        runner.env.close()
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
