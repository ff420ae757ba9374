"""Do the same seed and the same actions give the same trajectories on two devices (CPU and CUDA)?

For every family, builds the batched env on each of the two ``--devices`` with the same seed and settings,
steps both with the same random actions (drawn once on the CPU, then copied to each device) and records the
largest absolute difference of observations and rewards over ``--steps`` steps, the number of differing
``terminated`` / ``truncated`` / ``trial_end`` flags, and the first step at which the observations differ by
more than ``--atol``. Counter-based randomness makes the draws device-independent, so what remains is floating
point: kernels on CUDA may round differently from the CPU's. Comparing a device with itself (``--devices cpu
cpu``) must give exactly zero, which is how the script is tested without a GPU.

Usage:
    python benchmarks/cpu_cuda_agreement.py --json agreement.json                 # cpu against cuda
    python benchmarks/cpu_cuda_agreement.py --devices cpu cpu --steps 50 --env metarl/BernoulliBandit-v0
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import torch

import metarl
from metarl.bench import machine_info, write_json
from metarl.errors import MetaRLError

FLAGS = ("terminated", "truncated", "trial_end")


def _max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    difference = (a.double().cpu() - b.double().cpu()).abs()
    both_nan = a.isnan().cpu() & b.isnan().cpu()  # NaN in the same place on both devices is agreement
    return float(difference.masked_fill(both_nan, 0.0).nan_to_num(nan=float("inf")).max()) if a.numel() else 0.0


def compare(env_id: str, devices: tuple[str, str], steps: int, num_envs: int, seed: int, atol: float
            ) -> dict[str, Any]:
    """One family's row: max |obs| and |reward| differences, flag mismatches and the first step above ``atol``."""
    began = time.perf_counter()
    envs = [metarl.make(env_id, num_envs=num_envs, device=device, seed=seed) for device in devices]
    observations = [env.reset() for env in envs]
    row: dict[str, Any] = {"env": env_id, "devices": list(devices), "num_envs": num_envs, "steps": steps,
                           "max_abs_obs": _max_abs(*observations), "max_abs_reward": 0.0,
                           "flag_mismatches": 0, "first_step_above_atol": None}
    generator = torch.Generator().manual_seed(seed)
    for t in range(steps):
        actions = envs[0].sample_actions(generator).cpu()
        results = [env.step(actions.to(env.device)) for env in envs]
        obs_diff = _max_abs(results[0].obs, results[1].obs)
        reward_diff = _max_abs(results[0].reward, results[1].reward)
        row["max_abs_obs"] = max(row["max_abs_obs"], obs_diff)
        row["max_abs_reward"] = max(row["max_abs_reward"], reward_diff)
        row["flag_mismatches"] += sum(int((getattr(results[0], flag).cpu() != getattr(results[1], flag).cpu()).sum())
                                      for flag in FLAGS)
        if row["first_step_above_atol"] is None and max(obs_diff, reward_diff) > atol:
            row["first_step_above_atol"] = t
    row["within_atol"] = row["max_abs_obs"] <= atol and row["max_abs_reward"] <= atol and not row["flag_mismatches"]
    row["seconds"] = round(time.perf_counter() - began, 2)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", nargs=2, default=["cpu", "cuda"], metavar=("A", "B"),
                        help="the two devices to compare (default: cpu cuda)")
    parser.add_argument("--env", action="append", help="env id (repeatable; default: every built-in family)")
    parser.add_argument("--steps", type=int, default=200, help="steps per family")
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--atol", type=float, default=1e-4, help="difference reported as agreement")
    parser.add_argument("--json", help="write the rows here (rewritten after every family)")
    args = parser.parse_args(argv)
    if any(device.startswith("cuda") for device in args.devices) and not torch.cuda.is_available():
        print(f"cpu_cuda_agreement: error: --devices {' '.join(args.devices)} needs CUDA, and torch "
              f"{torch.__version__} sees no CUDA device", file=sys.stderr)
        return 2
    env_ids = args.env or [s.id for s in metarl.registered() if s.id.startswith("metarl/")]
    result: dict[str, Any] = {"machine": machine_info(), "atol": args.atol, "rows": []}
    print(f"{'env':28s} {'max |obs|':>10s} {'max |reward|':>12s} {'flags':>6s} {'first > atol':>12s} {'time':>6s}")
    for env_id in env_ids:
        try:
            row = compare(env_id, tuple(args.devices), args.steps, args.num_envs, args.seed, args.atol)
        except MetaRLError as exc:
            print(f"cpu_cuda_agreement: error: {exc}", file=sys.stderr)
            return 2
        result["rows"].append(row)
        first = row["first_step_above_atol"]
        print(f"{env_id:28s} {row['max_abs_obs']:10.2e} {row['max_abs_reward']:12.2e} {row['flag_mismatches']:6d} "
              f"{'-' if first is None else first:>12} {row['seconds']:5.1f}s", flush=True)
        if args.json:
            write_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
