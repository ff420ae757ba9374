"""Environment throughput: native batched engine vs Gymnasium SyncVectorEnv, with the issue's targets.

Prints steps/s for every built-in family at B in {1, 64, 4096, 65536} (CPU, and CUDA when present),
the same family through ``gymnasium.make_vec(..., vectorization_mode="sync")``, a bare torch loop
that samples Bernoulli rewards (the floor of eager overhead) and a check of each target.

    python benchmarks/throughput.py --json bench-results/throughput.json

Each measurement stops at ``--budget`` seconds and larger batches predicted to exceed it are skipped
(``metarl.bench``), so the slow families do not hold the run up; the JSON is rewritten after every row.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import time

import torch

from metarl import bench

TARGETS = {"metarl/BernoulliBandit-v0": 2e7, "metarl/TabularMDP-v0": 1e7, "metarl/Navigation2D-v0": 1e7}
MIN_RATIO = 100.0
GYMNAX_ENVS = ("BernoulliBandit-misc", "MetaMaze-misc", "CartPole-v1")


def gymnax_peer(python: str, env_name: str, num_envs: int = 4096) -> float | None:
    """Run benchmarks/gymnax_peer.py under ``python`` (an interpreter with jax and gymnax)."""
    script = pathlib.Path(__file__).with_name("gymnax_peer.py")
    done = subprocess.run([python, str(script), env_name, str(num_envs)], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"gymnax peer {env_name} failed: {done.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])["steps_per_second"]


def bare_torch_bandit(num_envs: int = 4096, min_seconds: float = 1.0) -> float:
    """Steps/s of the simplest possible batched Bernoulli bandit loop in eager torch (no bookkeeping)."""
    probs = torch.rand(num_envs, 5)
    actions = [torch.randint(0, 5, (num_envs,)) for _ in range(16)]
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        for a in actions:
            (torch.rand(num_envs) < probs.gather(1, a[:, None]).squeeze(1)).float()
        steps += len(actions)
    return steps * num_envs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(bench.DEFAULT_SIZES))
    parser.add_argument("--sync-sizes", type=int, nargs="+", default=[1, 64, 4096])
    parser.add_argument("--seconds", type=float, default=2.0, help="minimum timed seconds per measurement")
    parser.add_argument("--budget", type=float, default=bench.DEFAULT_BUDGET,
                        help="most seconds one measurement may take; larger batches predicted to exceed it are skipped")
    parser.add_argument("--json", help="write results to this JSON file (rewritten after every row)")
    parser.add_argument("--gymnax-python", help="a Python interpreter with jax and gymnax: measure gymnax too")
    args = parser.parse_args()

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    sizes = sorted(set(args.sizes) | ({2**16, 2**20} if torch.cuda.is_available() else set()))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, devices: {', '.join(devices)}")
    print(bench.HEADER)
    save = (lambda partial: bench.write_json(partial, args.json)) if args.json else None
    result = bench.run(None, sizes, devices, args.sync_sizes, args.seconds, budget=args.budget, on_row=save)
    floor = bare_torch_bandit(min_seconds=args.seconds)
    result["bare_torch_bandit_4096"] = floor
    print(f"\nbare torch Bernoulli loop, B=4096 (same run): {floor:.3e} steps/s")
    if args.gymnax_python:
        result["gymnax_4096"] = {}
        for name in GYMNAX_ENVS:
            value = gymnax_peer(args.gymnax_python, name)
            result["gymnax_4096"][name] = value
            if value:
                print(f"gymnax {name}, B=4096, jit+vmap+scan on CPU (same run): {value:.3e} steps/s")
    else:
        print("gymnax not measured (pass --gymnax-python PYTHON, an interpreter with jax and gymnax installed)")

    print("\ntargets (CPU, B = 4096):")
    failures = 0
    for row in result["rows"]:
        if row["device"] != "cpu" or row["num_envs"] != 4096:
            continue
        target = TARGETS.get(row["env"])
        if target is None:
            print(f"  ---- {row['env']:28s} {row['native']:.3e} steps/s (no target set)")
            continue
        if row["native"] is None:
            print(f"  SKIP {row['env']:28s} {'; '.join(row['skipped'])}")
            continue
        ratio = row["native"] / row["sync"] if row["sync"] else None
        ok = row["native"] >= target and (ratio is None or ratio >= MIN_RATIO)
        failures += not ok
        ratio_text = f"{ratio:.0f}x SyncVectorEnv (target >= {MIN_RATIO:.0f}x)" if ratio else "no sync measurement"
        if "sync_num_envs" in row:
            ratio_text += f", SyncVectorEnv at B={row['sync_num_envs']}"
        print(f"  {'PASS' if ok else 'MISS'} {row['env']:28s} {row['native']:.3e} steps/s (target {target:.0e}), "
              f"{ratio_text}")
    if args.json:
        result["targets_missed"] = failures
        bench.write_json(result, args.json)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
