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
GYMNAX_TWINS = {"metarl/MetaMaze-v0": ("MetaMaze-misc", 3.0)}
"""Our family -> (the same setting in gymnax, the least ratio of our steps/s to gymnax's at B = 4096 on CPU)."""
XLAND_GPU = 1.4e7
"""XLand-MiniGrid's random-policy steps/s on one GPU (Nikulin et al. 2024, about 1.4e7), for the CUDA rows."""


def gymnax_peer(python: str, env_name: str, num_envs: int = 4096) -> float | None:
    """Run benchmarks/gymnax_peer.py under ``python`` (an interpreter with jax and gymnax)."""
    script = pathlib.Path(__file__).with_name("gymnax_peer.py")
    done = subprocess.run([python, str(script), env_name, str(num_envs)], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"gymnax peer {env_name} failed: {done.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])["steps_per_second"]


def paired_with_gymnax(python: str, env_id: str, twin: str, num_envs: int, seconds: float,
                       rounds: int = 3) -> tuple[float, float | None]:
    """Median steps/s of ours and of gymnax's twin, measured in turns (ours, gymnax, ours, ...) in one run, so
    that both see the same machine load."""
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(bench.native_steps_per_second(env_id, num_envs, "cpu", min_seconds=seconds))
        value = gymnax_peer(python, twin, num_envs)
        if value is None:
            return sorted(ours)[len(ours) // 2], None
        theirs.append(value)
    return sorted(ours)[len(ours) // 2], sorted(theirs)[len(theirs) // 2]


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
    parser.add_argument("--env", action="append", help="measure only this family (repeatable; default: all)")
    args = parser.parse_args()

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    sizes = sorted(set(args.sizes) | ({2**16, 2**20} if torch.cuda.is_available() else set()))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, devices: {', '.join(devices)}")
    print(bench.HEADER)
    save = (lambda partial: bench.write_json(partial, args.json)) if args.json else None
    result = bench.run(args.env, sizes, devices, args.sync_sizes, args.seconds, budget=args.budget, on_row=save)
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
        result["gymnax_paired_4096"] = {}
        print("\npaired with gymnax in turns, B=4096, CPU (medians of 3 turns each):")
        for env_id, (twin, least) in GYMNAX_TWINS.items():
            if args.env and env_id not in args.env:
                continue
            ours, theirs = paired_with_gymnax(args.gymnax_python, env_id, twin, 4096, args.seconds)
            ratio = ours / theirs if theirs else None
            result["gymnax_paired_4096"][env_id] = {"ours": ours, "gymnax": theirs, "ratio": ratio, "target": least}
            verdict = "----" if ratio is None else ("PASS" if ratio >= least else "MISS")
            shown = f"{ratio:.2f}x" if ratio else "gymnax failed"
            print(f"  {verdict} {env_id:28s} {ours:.3e} steps/s, gymnax {twin} {theirs or float('nan'):.3e}: "
                  f"{shown} (target >= {least:.0f}x)")
    else:
        print("gymnax not measured (pass --gymnax-python PYTHON, an interpreter with jax and gymnax installed)")
    for row in result["rows"]:
        if row["device"] == "cuda" and row["env"] == "metarl/RuleGrid-v0" and row["native"]:
            print(f"RuleGrid on CUDA, B={row['num_envs']}: {row['native']:.3e} steps/s; XLand-MiniGrid (JAX, one GPU, "
                  f"random policy) reports about {XLAND_GPU:.1e}")

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
