"""Environment throughput: steps per second of each family with random actions.

Measures the native batched engine at several batch sizes and, in the same run, the same family
through ``gymnasium.make_vec(..., vectorization_mode="sync")`` over the single-env view, so the
ratio is printed from one machine and one moment.

Example:
    >>> from metarl.bench import native_steps_per_second
    >>> native_steps_per_second("metarl/BernoulliBandit-v0", 64, "cpu", min_seconds=0.05) > 0
    True
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch

from metarl.checks import resolve_device
from metarl.registry import make, registered

DEFAULT_SIZES = (1, 64, 4096, 65536)


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA), so a timer read after it counts that work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def native_steps_per_second(
    env_id: str, num_envs: int, device: torch.device | str = "cpu", min_seconds: float = 1.0, check: bool = True
) -> float:
    """Environment steps per second (``num_envs`` x batched steps) with uniformly random actions.

    Actions come from a pre-generated pool on the device, so the figure is the engine's own cost:
    the whole step including task lookup, reward, autoreset and trial bookkeeping.
    """
    device = resolve_device(device)
    env = make(env_id, num_envs=num_envs, device=device, seed=0, check=check)
    env.reset()
    gen = torch.Generator().manual_seed(0)
    pool = [env.sample_actions(gen) for _ in range(16)]
    for i in range(32):
        env.step(pool[i % 16])
    synchronize(device)
    steps, start = 0, time.perf_counter()
    while True:
        for i in range(64):
            env.step(pool[i % 16])
        steps += 64
        synchronize(device)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return steps * num_envs / elapsed


def sync_vector_steps_per_second(env_id: str, num_envs: int, min_seconds: float = 1.0) -> float:
    """The same measurement through Gymnasium's SyncVectorEnv over ``num_envs`` single-env views."""
    envs = gymnasium.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync")
    envs.reset(seed=0)
    envs.action_space.seed(0)
    pool = [envs.action_space.sample() for _ in range(8)]
    envs.step(pool[0])
    steps, start = 0, time.perf_counter()
    while True:
        envs.step(pool[steps % 8])
        steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            envs.close()
            return steps * num_envs / elapsed


def run(
    env_ids: Sequence[str] | None = None,
    sizes: Sequence[int] = DEFAULT_SIZES,
    devices: Sequence[str] = ("cpu",),
    sync_sizes: Sequence[int] = (1, 64, 4096),
    min_seconds: float = 1.0,
    progress: bool = True,
) -> dict[str, Any]:
    """Measure every (env, device, size); returns a JSON-ready dict with one row per measurement."""
    env_ids = list(env_ids or [s.id for s in registered() if s.id.startswith("metarl/")])
    rows = []
    for env_id in env_ids:
        for device in devices:
            for size in sizes:
                native = native_steps_per_second(env_id, size, device, min_seconds)
                row = {"env": env_id, "device": device, "num_envs": size, "native": native, "sync": None}
                if device == "cpu" and size in sync_sizes:
                    row["sync"] = sync_vector_steps_per_second(env_id, size, min_seconds)
                rows.append(row)
                if progress:
                    print(format_row(row), flush=True)
    return {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        "rows": rows,
    }


HEADER = f"{'env':28s} {'device':6s} {'B':>7s} {'native steps/s':>15s} {'sync steps/s':>13s} {'ratio':>8s}"


def format_row(row: dict[str, Any]) -> str:
    sync = row["sync"]
    ratio = f"{row['native'] / sync:8.0f}x" if sync else f"{'-':>9s}"
    sync_text = f"{sync:13.3e}" if sync else f"{'-':>13s}"
    return f"{row['env']:28s} {row['device']:6s} {row['num_envs']:7d} {row['native']:15.3e} {sync_text} {ratio}"


def write_json(result: dict[str, Any] | list[Any], path: str) -> None:
    """Write ``result`` as indented JSON to ``path``, creating its folder; numpy floats become floats."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=2, default=lambda x: float(x) if isinstance(x, np.floating) else str(x))
