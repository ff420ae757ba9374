"""Data-parallel scaling: steps/s of each agent with 1 and 2 processes, and where communication overtakes compute.

Each agent trains a recipe-sized setting for ``--iterations`` timed iterations (after one untimed) in 1 process and
in 2 processes (gloo on CPU: ``metarl.training.parallel.launch``, what ``torchrun`` does); the efficiency is
``steps/s(2) / (2 x steps/s(1))``. The 2-process run also counts what each iteration sends (bytes of the
all-reduced gradients, Fisher products, gathered rollouts and statistics) and how many collectives it takes.

The worked estimate: with N processes an iteration computes for ``t1 / N`` (t1: one process's compute per
iteration) and communicates for ``2 (N-1)/N x bytes / bandwidth + 2 (N-1) x collectives x latency`` (ring
all-reduce). The crossing point is the smallest N at which communication takes longer than compute. It is given
for this machine's gloo (bandwidth and latency measured here, t1 measured here) and for GPUs, whose t1 is not
measured here: it is taken as this machine's t1 divided by ``--gpu-speedup`` (an assumption, printed), with NCCL
over NVLink within a node and over 100 Gb/s InfiniBand between nodes (bandwidth and latency printed).

    python benchmarks/scaling.py --json bench-results/scaling.json

On 2 shared CPU cores the 2-process efficiency is bounded by the cores: it is near 1 only on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import time
from typing import Any

import torch

from metarl.agent_registry import trainer_class
from metarl.training import build_config, load_yaml
from metarl.training import parallel as par

CONFIGS = pathlib.Path(__file__).resolve().parents[1] / "configs"
AGENTS = {
    "rl2": ("rl2_tabular_n10.yaml", {"num_envs": 256}),
    "maml-rl": ("maml_rl_navigation.yaml", {}),
    "maml": ("maml_sinusoid.yaml", {"meta_batch": 32}),
    "protonet": ("protonet_glyphs_5w1s.yaml", {"meta_batch": 8}),
    "learned-optimizer": ("learned_optimizer_quadratic.yaml", {"tasks": 32}),
    "pearl": ("pearl_navigation_dense.yaml", {"tasks_per_iteration": 4}),
    "varibad": ("varibad_goalgrid.yaml", {}),
    "controller": ("controller_architecture_digits.yaml", {}),
    "mann": ("mann_glyphs.yaml", {}),
    "fomaml": ("fomaml_sinusoid.yaml", {"meta_batch": 32}),
    "reptile": ("reptile_sinusoid.yaml", {"meta_batch": 32}),
    "pretrain": ("pretrain_sinusoid.yaml", {"meta_batch": 32}),
    "versa": ("versa_sinusoid.yaml", {"meta_batch": 32}),
    "learned-teacher": ("learned_teacher_digits_mlp.yaml", {}),
    "matchingnet": ("matchingnet_glyphs_5w1s.yaml", {"meta_batch": 8}),
    "relationnet": ("relationnet_glyphs_5w1s.yaml", {"meta_batch": 8}),
    "gnn": ("gnn_glyphs_5w1s.yaml", {"meta_batch": 8}),
    "metanet": ("metanet_glyphs_5w1s.yaml", {"meta_batch": 8}),
    "meta-sgd": ("meta-sgd_glyphs_5w1s.yaml", {}),
}
"""Agent -> (recipe, overrides): the recipes' own settings, with batches that split in two."""
GPU_LINKS = {"NVLink (one node)": (100e9, 10e-6), "InfiniBand 100 Gb/s (between nodes)": (12e9, 20e-6)}
"""Link -> (all-reduce bus bandwidth in bytes/s, latency per ring step in s): typical NCCL figures, assumed."""


def measure(agent: str, recipe: str, overrides: dict[str, Any], iterations: int) -> dict[str, float]:
    """Time ``iterations`` iterations of ``agent`` in this process of the job (after one untimed)."""
    torch.set_num_threads(1)
    trainer_type = trainer_class(agent)
    values = {**load_yaml(CONFIGS / recipe), **overrides, "device": "cpu"}
    values.pop("agent", None)
    trainer = trainer_type(build_config(trainer_type.config_type, values))
    world = trainer.parallel
    for _ in range(iterations + 1):  # the first untimed (PEARL's first fills every task's replay)
        trainer.train_iteration()
        trainer.iteration += 1  # as the training loop counts them
        if trainer.iteration == 1:
            world.barrier()
            traffic = dict(world.traffic)
            steps, wall, cpu = trainer.global_step, time.perf_counter(), time.process_time()
    world.barrier()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"steps": trainer.global_step - steps, "wall": wall, "cpu": cpu,
            "bytes": (world.traffic["bytes"] - traffic["bytes"]) / iterations,
            "collectives": (world.traffic["collectives"] - traffic["collectives"]) / iterations}


def link_speed(sizes: tuple[int, ...] = (1, 1 << 22), repeats: int = 20) -> tuple[float, float]:
    """(bandwidth in bytes/s, latency in s) of this job's all-reduce, from a 4-byte and a 16 MiB one."""
    world = par.current()
    times = []
    for n in sizes:
        x = torch.ones(n)
        world.mean(x)
        start = time.perf_counter()
        for _ in range(repeats):
            world.mean(x)
        times.append((time.perf_counter() - start) / repeats)
    latency = times[0]
    bandwidth = (sizes[1] - sizes[0]) * 4 / max(times[1] - times[0], 1e-9)
    return bandwidth, latency


def crossing(t1: float, size: float, collectives: float, bandwidth: float, latency: float, most: int = 1 << 16
             ) -> int | None:
    """The smallest N >= 2 at which ring all-reduce time exceeds compute per process ``t1 / N`` (None: never)."""
    for n in range(2, most + 1):
        if 2 * (n - 1) / n * size / bandwidth + 2 * (n - 1) * collectives * latency >= t1 / n:
            return n
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", nargs="+", default=list(AGENTS), choices=list(AGENTS))
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--gpu-speedup", type=float, default=20.0,
                        help="assumed: how many times faster one GPU runs an iteration than this machine's 1 process")
    parser.add_argument("--json", help="write the results to this JSON file")
    args = parser.parse_args()
    os.environ.setdefault("METARL_GLYPHS_CLASSES", "100")  # speed only: fewer classes to render
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} CPUs, load average {load:.1f}; gloo, one thread per process, {args.iterations} iterations")
    bandwidth, latency = par.launch(link_speed, 2)[0]
    print(f"gloo all-reduce between 2 processes: {bandwidth / 1e9:.2f} GB/s, {latency * 1e6:.0f} us latency\n")
    head = (f"{'agent':18s} {'steps/s 1 proc':>14s} {'2 procs':>9s} {'efficiency':>10s} {'MB/iter':>8s} "
            f"{'colls/iter':>10s} {'t1 (s)':>7s} {'cross: gloo':>11s}")
    head += "".join(f" {('GPU ' + name.split()[0]):>13s}" for name in GPU_LINKS)
    print(head)
    rows = []
    for agent in args.agents:
        recipe, overrides = AGENTS[agent]
        one = par.launch(measure, 1, agent, recipe, overrides, args.iterations)[0]
        two = max(par.launch(measure, 2, agent, recipe, overrides, args.iterations), key=lambda r: r["wall"])
        rate1, rate2 = one["steps"] / one["wall"], two["steps"] / two["wall"]
        t1 = one["wall"] / args.iterations
        cross = {"gloo": crossing(t1, two["bytes"], two["collectives"], bandwidth, latency)}
        for name, (bw, lat) in GPU_LINKS.items():
            cross[name] = crossing(t1 / args.gpu_speedup, two["bytes"], two["collectives"], bw, lat)
        row = {"agent": agent, "recipe": recipe, "overrides": overrides, "steps_per_second_1": rate1,
               "steps_per_second_2": rate2, "efficiency": rate2 / (2 * rate1), "bytes_per_iteration": two["bytes"],
               "collectives_per_iteration": two["collectives"], "seconds_per_iteration_1": t1, "crossing": cross,
               "load": os.getloadavg()[0]}
        rows.append(row)
        cells = " ".join(f"{('> 65536' if n is None else n):>13}" for n in list(cross.values())[1:])
        print(f"{agent:18s} {rate1:14,.4g} {rate2:9,.4g} {row['efficiency']:10.2f} {two['bytes'] / 1e6:8.3f} "
              f"{two['collectives']:10.0f} {t1:7.2f} {str(cross['gloo'] or '> 65536'):>11s} {cells}")
    print(f"\nGPU columns assume an iteration {args.gpu_speedup:g}x faster on a GPU than here, and NCCL at "
          + "; ".join(f"{name}: {bw / 1e9:g} GB/s, {lat * 1e6:g} us" for name, (bw, lat) in GPU_LINKS.items()))
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    if args.json:
        path = pathlib.Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"gloo": {"bandwidth": bandwidth, "latency": latency},
                                    "gpu_speedup": args.gpu_speedup, "rows": rows}, indent=1))
    failed = [r["agent"] for r in rows if not r["efficiency"] > 0.0]
    if failed:
        raise SystemExit(f"no steps measured for {failed}")


if __name__ == "__main__":
    main()
