"""Throughput of the MuJoCo families on CPU threads, beside MuJoCo's own C ceiling and Gymnasium's SyncVectorEnv.

For HalfCheetah (HalfCheetahVel) and Ant (AntDir) at B parallel environments, in one process, each measured for
``--seconds`` of CPU time, in alternating rounds so that load on a shared machine affects all alike:

- **ours**: ``metarl.make(..., num_envs=B)``'s ``step`` with random actions (mjbatch stepping, observation,
  reward, termination and autoreset included);
- **ceiling**: ``mujoco.rollout`` stepping the same model B times in C threads for a block of open-loop
  controls: ``mj_step`` with no Python per step (the physics alone);
- **rollout per step**: ``mujoco.rollout`` called once per environment step (``nstep = frame_skip``), the
  alternative to mjbatch for closed-loop control: it copies every state in and out on each call;
- **mjbatch raw**: ``mjbatch.Batch.step(nstep=frame_skip)`` alone, without our observation and reward;
- **SyncVectorEnv**: ``gymnasium.vector.SyncVectorEnv`` over B of Gymnasium's v5 environments (a Python loop).

Rates are environment steps (``frame_skip`` substeps each) per CPU-second (``time.process_time``, every thread
of the process) and per wall second. Targets (issue 24): ours >= 80% of the ceiling per CPU-second, and
ours >= 10x SyncVectorEnv. The script exits 1 when a target is missed.

Usage:
    python benchmarks/mujoco_throughput.py                      # B = 64 and 1024, 2 threads, 3 rounds of 1 s
    python benchmarks/mujoco_throughput.py --sizes 64 --seconds 2 --json mujoco.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium
import mjbatch
import mujoco
import mujoco.rollout
import numpy as np
import torch

import metarl

FAMILIES = {"HalfCheetah": ("metarl/HalfCheetahVel-v0", "HalfCheetah-v5"), "Ant": ("metarl/AntDir-v0", "Ant-v5")}
CEILING_FRACTION, SYNC_FACTOR = 0.8, 10.0


def timed(step: Callable[[], int], seconds: float) -> tuple[float, float, int]:
    """Run ``step`` (returns the environment steps it took) for ``seconds`` of CPU time: (cpu s, wall s, steps)."""
    steps, cpu0, wall0 = 0, time.process_time(), time.perf_counter()
    while time.process_time() - cpu0 < seconds:
        steps += step()
    return time.process_time() - cpu0, time.perf_counter() - wall0, steps


def contenders(family: str, batch: int, threads: int, block: int) -> dict[str, Callable[[], int]]:
    env_id, gym_id = FAMILIES[family]
    env = metarl.make(env_id, num_envs=batch, seed=0, threads=threads, check=False)
    env.reset()
    pool = [env.sample_actions(torch.Generator().manual_seed(i)) for i in range(8)]
    counter = iter(range(1 << 62))

    def ours() -> int:
        env.step(pool[next(counter) % 8])
        return batch

    model, skip = env.model(), env.robot.frame_skip
    datas = [mujoco.MjData(model) for _ in range(threads)]
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    state0 = np.empty((batch, mujoco.mj_stateSize(model, spec)))
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    mujoco.mj_getState(model, data, state0[0], spec)
    state0[:] = state0[0]
    rng = np.random.default_rng(0)
    controls = np.repeat(rng.uniform(-1, 1, (batch, block, 1, model.nu)), skip, axis=2).reshape(batch, -1, model.nu)
    runner, models = mujoco.rollout.Rollout(nthread=threads), [model] * batch  # skip_checks wants one per rollout
    out_state = np.empty((batch, block * skip, state0.shape[1]))
    out_sensor = np.empty((batch, block * skip, model.nsensordata))

    def ceiling() -> int:
        runner.rollout(models, datas, state0, controls, skip_checks=True, nstep=block * skip, state=out_state,
                       sensordata=out_sensor)
        return batch * block

    one_state = np.empty((batch, skip, state0.shape[1]))
    one_sensor = np.empty((batch, skip, model.nsensordata))
    current, first = state0.copy(), np.ascontiguousarray(controls[:, :skip])

    def rollout_per_step() -> int:
        runner.rollout(models, datas, current, first, skip_checks=True, nstep=skip, state=one_state,
                       sensordata=one_sensor)
        current[:] = one_state[:, -1]
        return batch

    raw = mjbatch.Batch(model, batch, num_threads=threads)
    ctrl = raw.bind("ctrl")

    def mjbatch_raw() -> int:
        ctrl[:] = controls[:, 0]
        raw.step(nstep=skip)
        return batch

    result = {"ours": ours, "ceiling": ceiling, "rollout per step": rollout_per_step, "mjbatch raw": mjbatch_raw}
    if batch <= 1024:
        sync = gymnasium.vector.SyncVectorEnv([lambda: gymnasium.make(gym_id)] * batch)
        sync.reset(seed=0)
        sync_actions = [sync.action_space.sample() for _ in range(8)]

        def sync_vector_env() -> int:
            sync.step(sync_actions[next(counter) % 8])
            return batch

        result["SyncVectorEnv"] = sync_vector_env
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 1024])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=1.0, help="CPU seconds per contender per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--block", type=int, default=20, help="environment steps per ceiling rollout call")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {args.threads} stepping threads")
    rows, missed = [], []
    for family in args.families:
        for batch in args.sizes:
            runs = contenders(family, batch, args.threads, args.block)
            totals = {name: [0.0, 0.0, 0] for name in runs}
            for _ in range(args.rounds):
                for name, step in runs.items():
                    cpu, wall, steps = timed(step, args.seconds)
                    totals[name][0] += cpu
                    totals[name][1] += wall
                    totals[name][2] += steps
            rate = {name: (s / c, s / w) for name, (c, w, s) in totals.items()}
            ours_cpu, ours_wall = rate["ours"]
            row = {"family": family, "B": batch, **{f"{n} per cpu-s": r[0] for n, r in rate.items()},
                   **{f"{n} per s": r[1] for n, r in rate.items()},
                   "ours / ceiling (cpu)": ours_cpu / rate["ceiling"][0]}
            print(f"\n{family} B={batch}: environment steps per CPU-second | per wall second")
            for name, (cpu, wall) in rate.items():
                print(f"  {name:18s} {cpu:12,.0f} | {wall:12,.0f}")
            print(f"  ours / ceiling per CPU-second: {row['ours / ceiling (cpu)']:.2f} (target >= {CEILING_FRACTION})")
            if row["ours / ceiling (cpu)"] < CEILING_FRACTION:
                missed.append(f"{family} B={batch} ceiling")
            if "SyncVectorEnv" in rate:
                row["ours / sync (wall)"] = ours_wall / rate["SyncVectorEnv"][1]
                row["ours / sync (cpu)"] = ours_cpu / rate["SyncVectorEnv"][0]
                print(f"  ours / SyncVectorEnv: {row['ours / sync (wall)']:.1f}x per wall second, "
                      f"{row['ours / sync (cpu)']:.1f}x per CPU-second (target >= {SYNC_FACTOR:g}x)")
                if row["ours / sync (wall)"] < SYNC_FACTOR:
                    missed.append(f"{family} B={batch} SyncVectorEnv")
            rows.append(row)
    if args.json:
        args.json.write_text(json.dumps({"load": os.getloadavg()[0], "threads": args.threads, "rows": rows}, indent=1))
    print("\nall targets met" if not missed else f"\nNOT MET: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
