"""RL² training steps per second at a given number of parallel trials, collection and PPO update together.

For each recipe and each number of parallel trials (``num_envs``), this builds the recipe's trainer with
that many environments on the chosen device, runs one untimed warm-up iteration, then times whole
training iterations (collect one rollout on the device, GAE, the PPO epochs) for at least ``--seconds``.
It also times the collection alone, so the table shows where the time goes. Nothing is written to disk.

Training steps/s = environment steps consumed by training per second of wall time, the figure the
issue's GPU target asks for at 4096 and 65536 parallel trials.

Usage:
    python benchmarks/rl2_training_speed.py                                   # CUDA when present, else CPU
    python benchmarks/rl2_training_speed.py --device cuda --sizes 4096 65536 --json rl2_speed.json
    python benchmarks/rl2_training_speed.py --device cpu --sizes 512 4096 --settings bandit-k5-n100
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch
from metarl.agents.rl2 import RL2Trainer

from metarl.bench import synchronize, write_json
from metarl.checks import resolve_device
from metarl.training.recipes import load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
RECIPES = {"bandit-k5-n100": "rl2_bandit_k5_n100.yaml", "bandit-k10-n100": "rl2_bandit_k10_n100.yaml",
           "tabular-n10": "rl2_tabular_n10.yaml", "tabular-n25": "rl2_tabular_n25.yaml"}


def _timed(run, device: torch.device, seconds: float) -> tuple[int, float]:
    """Calls of ``run()`` in at least ``seconds`` (at least two calls) and the time they took."""
    synchronize(device)
    count, start = 0, time.perf_counter()
    while count < 2 or time.perf_counter() - start < seconds:
        run()
        count += 1
    synchronize(device)
    return count, time.perf_counter() - start


def measure(setting: str, num_envs: int, device: str, seconds: float) -> dict:
    """Training and collection steps/s of ``setting``'s recipe with ``num_envs`` parallel trials on ``device``."""
    _, config = load_config(CONFIGS / RECIPES[setting], {"num_envs": num_envs, "device": device,
                                                         "total_steps": 10**12, "logdir": tempfile.gettempdir()},
                            trainer_cls=RL2Trainer)
    trainer = RL2Trainer(config)
    dev = trainer.device
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    steps_per_iteration = trainer.steps * num_envs
    trainer.train_iteration()  # warm-up: allocator, kernels, lazy initialisation
    iterations, train_time = _timed(trainer.train_iteration, dev, seconds)

    def collect() -> None:
        with torch.no_grad():
            trainer._collect()

    rollouts, collect_time = _timed(collect, dev, seconds / 2)
    result = {"setting": setting, "device": str(dev), "num_envs": num_envs, "steps_per_iteration": steps_per_iteration,
              "iterations": iterations, "train_steps_per_second": iterations * steps_per_iteration / train_time,
              "collect_steps_per_second": rollouts * steps_per_iteration / collect_time,
              "seconds_per_iteration": train_time / iterations}
    if dev.type == "cuda":
        result["peak_memory_gib"] = torch.cuda.max_memory_allocated(dev) / 2**30
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", choices=sorted(RECIPES), default=["bandit-k5-n100", "tabular-n10"])
    parser.add_argument("--sizes", nargs="+", type=int, help="parallel trials (default: 4096 65536 on CUDA, "
                        "512 4096 on CPU)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    parser.add_argument("--seconds", type=float, default=10.0, help="minimum timed seconds of training per row")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    device = resolve_device(args.device)
    sizes = args.sizes or ([4096, 65536] if device.type == "cuda" else [512, 4096])
    if any(size < 1 for size in sizes):
        parser.error(f"--sizes must be positive, got {sizes}")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"RL² training speed on {device} ({name}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads", flush=True)
    print(f"{'setting':16s} {'trials':>7s} {'steps/iter':>11s} {'train steps/s':>14s} {'collect steps/s':>16s} "
          f"{'s/iter':>7s}", flush=True)
    results = []
    for setting in args.settings:
        for size in sizes:
            row = measure(setting, size, str(device), args.seconds)
            results.append(row)
            if args.json:  # after every row, so a run stopped by a time cap keeps what it measured
                write_json({"device": str(device), "device_name": name, "torch": torch.__version__,
                            "results": results}, args.json)
            memory = f"  peak {row['peak_memory_gib']:.1f} GiB" if "peak_memory_gib" in row else ""
            print(f"{setting:16s} {size:7d} {row['steps_per_iteration']:11,d} {row['train_steps_per_second']:14,.0f} "
                  f"{row['collect_steps_per_second']:16,.0f} {row['seconds_per_iteration']:7.2f}{memory}", flush=True)
    if args.json:
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
