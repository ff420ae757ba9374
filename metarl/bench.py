"""Environment throughput: steps per second of each family with random actions.

Measures the native batched engine at several batch sizes and, in the same run, the same family
through ``gymnasium.make_vec(..., vectorization_mode="sync")`` over the single-env view, so the
ratio is printed from one machine and one moment.

Families differ by orders of magnitude in the cost of one step, so every measurement has a time
budget: it stops timing once ``min_seconds`` or its budget is reached, and a batch size whose
measurement is predicted to exceed the budget is skipped, with the reason in its row. The prediction
scales what the family's largest measured batch cost per environment (for SyncVectorEnv, a probe of
8 and 32 environments) to the larger batch, so slow families are capped from their measured cost, not by name.

Example:
    >>> from metarl.bench import native_steps_per_second
    >>> native_steps_per_second("metarl/BernoulliBandit-v0", 64, "cpu", min_seconds=0.05) > 0
    True
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import gymnasium
import numpy as np
import torch

from metarl.checks import resolve_device
from metarl.files import write_atomically
from metarl.registry import make, registered

DEFAULT_SIZES = (1, 64, 4096, 65536)
DEFAULT_BUDGET = 30.0
"""Seconds one measurement (building the environments included) may take before it stops or is skipped."""
WARMUP_STEPS = 3


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA), so a timer read after it counts that work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed_steps(step: Callable[[int], None], min_seconds: float, deadline: float,
                 sync: Callable[[], None] = lambda: None) -> tuple[int, float]:
    """Call ``step(i)`` until ``min_seconds`` have passed or ``deadline`` (a ``time.perf_counter`` value) is
    reached, at least once; returns (calls, seconds). Calls go in chunks sized from the time per call so far
    (synchronizing only between chunks), so a slow step does not run far past the end."""
    sync()
    calls, chunk, start = 0, 1, time.perf_counter()
    end = min(start + min_seconds, deadline)
    while True:
        for _ in range(chunk):
            step(calls)
            calls += 1
        sync()
        now = time.perf_counter()
        if now >= end:
            return calls, now - start
        per_call = (now - start) / calls  # the next chunk ends near ``end``, not one slow chunk past it
        chunk = max(1, min(64, int((end - now) / per_call)))


def native_steps_per_second(
    env_id: str, num_envs: int, device: torch.device | str = "cpu", min_seconds: float = 1.0, check: bool = True,
    budget: float | None = None,
) -> float:
    """Environment steps per second (``num_envs`` x batched steps) with uniformly random actions.

    Actions come from a pre-generated pool on the device, so the figure is the engine's own cost:
    the whole step including task lookup, reward, autoreset and trial bookkeeping. Timing stops after
    ``min_seconds``, or earlier once ``budget`` seconds (from the call, building included) are spent.
    """
    began = time.perf_counter()
    deadline = began + (budget if budget is not None else float("inf"))
    device = resolve_device(device)
    env = make(env_id, num_envs=num_envs, device=device, seed=0, check=check)
    env.reset()
    gen = torch.Generator().manual_seed(0)
    pool = [env.sample_actions(gen) for _ in range(4)]
    for i in range(WARMUP_STEPS):
        if time.perf_counter() < deadline:
            env.step(pool[i % 4])
    steps, seconds = _timed_steps(lambda i: env.step(pool[i % 4]), min_seconds, deadline, lambda: synchronize(device))
    return steps * num_envs / seconds


def sync_vector_steps_per_second(env_id: str, num_envs: int, min_seconds: float = 1.0,
                                 budget: float | None = None) -> float:
    """The same measurement through Gymnasium's SyncVectorEnv over ``num_envs`` single-env views."""
    began = time.perf_counter()
    deadline = began + (budget if budget is not None else float("inf"))
    envs = gymnasium.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync")
    try:
        envs.reset(seed=0)
        envs.action_space.seed(0)
        pool = [envs.action_space.sample() for _ in range(4)]
        envs.step(pool[0])
        steps, seconds = _timed_steps(lambda i: envs.step(pool[i % 4]), min_seconds, deadline)
    finally:
        envs.close()
    return steps * num_envs / seconds


def _sync_build_and_step_seconds(env_id: str, num_envs: int) -> float:
    start = time.perf_counter()
    envs = gymnasium.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync")
    try:
        envs.reset(seed=0)
        action = envs.action_space.sample()
        envs.step(action)
        envs.step(action)
    finally:
        envs.close()
    return time.perf_counter() - start


def sync_probe_seconds(env_id: str, small: int = 8, large: int = 32) -> float:
    """Seconds that one more environment adds to building, resetting and stepping a SyncVectorEnv twice: the
    difference between a ``large`` and a ``small`` one, so the fixed cost of building any vector env drops out."""
    _sync_build_and_step_seconds(env_id, 2)  # first use: imports, caches, gymnasium's registry lookups
    low = _sync_build_and_step_seconds(env_id, small)
    high = _sync_build_and_step_seconds(env_id, large)
    return max((high - low) / (large - small), 0.25 * high / large)  # the floor guards against timer noise


class SizeCap:
    """Predicts, from a family's measured sizes, whether measuring a larger batch fits the budget.

    Beyond the largest size measured, the cost of a measurement other than its ``min_seconds`` of timing (building
    the environments, the warm-up steps, one step past the timer) is taken to grow linearly with B; throughput
    usually still rises with B, so this overestimates. Below ``scale_from`` environments a native step's fixed
    overhead hides its cost per environment, so no prediction is made from such sizes: their measurement is only
    bounded by the budget's deadline. A SyncVectorEnv is B separate environments, so its cost is linear in B
    from the start (``scale_from=1``, and :func:`sync_probe_seconds` gives the first estimate).
    """

    def __init__(self, budget: float, min_seconds: float, scale_from: int = 1024) -> None:
        self.budget, self.min_seconds, self.scale_from = budget, min_seconds, scale_from
        self.per_env_seconds: float | None = None

    def record(self, num_envs: int, steps_per_second: float, seconds: float) -> None:
        """Note that measuring ``num_envs`` environments gave ``steps_per_second`` and took ``seconds`` in all."""
        if num_envs < self.scale_from:
            return
        overhead = max(seconds - self.min_seconds, (WARMUP_STEPS + 1) * num_envs / steps_per_second)
        self.per_env_seconds = overhead / num_envs

    def predicted_seconds(self, num_envs: int) -> float | None:
        if self.per_env_seconds is None:
            return None
        return self.per_env_seconds * num_envs + self.min_seconds

    def skip_reason(self, num_envs: int) -> str | None:
        """Why ``num_envs`` is not measured (its predicted seconds against the budget), or None to measure it."""
        predicted = self.predicted_seconds(num_envs)
        if predicted is None or predicted <= self.budget:
            return None
        return f"predicted {predicted:.0f} s > budget {self.budget:.0f} s"

    def largest_fitting(self, num_envs: int) -> int:
        """The largest power of two below ``num_envs`` predicted to fit the budget (0 when none does)."""
        fitting = num_envs
        while fitting >= 1 and self.skip_reason(fitting) is not None:
            fitting = 2 ** (fitting.bit_length() - 1) if fitting & (fitting - 1) else fitting // 2
        return fitting


def run(
    env_ids: Sequence[str] | None = None,
    sizes: Sequence[int] = DEFAULT_SIZES,
    devices: Sequence[str] = ("cpu",),
    sync_sizes: Sequence[int] = (1, 64, 4096),
    min_seconds: float = 1.0,
    progress: bool = True,
    budget: float = DEFAULT_BUDGET,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Measure every (env, device, size); returns a JSON-ready dict with one row per measurement.

    Sizes are measured in increasing order. A native measurement that the family's smaller sizes predict to take
    more than ``budget`` seconds is not made: its ``native`` is None and ``skipped`` says why. A SyncVectorEnv
    measurement predicted too slow is made at a smaller B that fits (``sync_num_envs``; ``notes`` says why).
    ``on_row(result_so_far)`` is called after every row and once more at the end (``complete`` then True), so
    a caller can save partial results.

    Example:
        >>> result = run(["metarl/BernoulliBandit-v0"], sizes=[64], sync_sizes=[], min_seconds=0.01, progress=False)
        >>> [row["num_envs"] for row in result["rows"]]
        [64]
    """
    env_ids = list(env_ids or [s.id for s in registered() if s.id.startswith("metarl/")])
    result: dict[str, Any] = {"machine": machine_info(), "budget_seconds": budget, "min_seconds": min_seconds,
                              "complete": False, "rows": []}
    started = time.perf_counter()
    for env_id in env_ids:
        for device in devices:
            native_cap, sync_cap = SizeCap(budget, min_seconds), SizeCap(budget, min_seconds, scale_from=1)
            for size in sorted(sizes):
                row = {"env": env_id, "device": device, "num_envs": size, "native": None, "sync": None,
                       "seconds": 0.0, "skipped": [], "notes": []}
                _measure(row, native_cap, "native", partial(native_steps_per_second, env_id, device=device,
                                                              min_seconds=min_seconds, budget=budget))
                if device == "cpu" and size in sync_sizes:
                    if sync_cap.per_env_seconds is None and size > 8:
                        sync_cap.per_env_seconds = sync_probe_seconds(env_id)
                    _measure(row, sync_cap, "sync", partial(sync_vector_steps_per_second, env_id,
                                                            min_seconds=min_seconds, budget=budget), shrink=True)
                row["seconds"] = round(row["seconds"], 2)
                result["rows"].append(row)
                result["elapsed_seconds"] = round(time.perf_counter() - started, 1)
                if on_row is not None:  # first, so a printed row is already saved
                    on_row(result)
                if progress:
                    print(format_row(row), flush=True)
    result["complete"] = True
    result["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    if on_row is not None:
        on_row(result)
    return result


def _measure(row: dict[str, Any], cap: SizeCap, column: str, measure: Callable[..., float],
             shrink: bool = False) -> None:
    """Fill ``row[column]`` with ``measure(num_envs=B)`` unless ``cap`` predicts it exceeds the budget.

    With ``shrink`` (SyncVectorEnv, whose steps/s do not grow with B: it is one Python env per B), a B predicted
    too slow is measured at the largest power of two that fits instead, recorded as ``{column}_num_envs``.
    """
    size = row["num_envs"]
    reason = cap.skip_reason(size)
    if reason is not None:
        fitting = cap.largest_fitting(size) if shrink else 0
        if fitting < 1:
            row["skipped"].append(f"{column}: {reason}")
            return
        row["notes"].append(f"{column} at B={fitting} ({reason} at B={size})")
        row[f"{column}_num_envs"] = size = fitting
    began = time.perf_counter()
    row[column] = measure(num_envs=size)
    seconds = time.perf_counter() - began
    row["seconds"] += seconds
    cap.record(size, row[column], seconds)


def machine_info() -> dict[str, Any]:
    """Platform, processor, torch version, CPU threads and CUDA device of this run."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


HEADER = (f"{'env':28s} {'device':6s} {'B':>7s} {'native steps/s':>15s} {'sync steps/s':>13s} {'ratio':>8s} "
          f"{'time':>6s}")


def format_row(row: dict[str, Any]) -> str:
    """One table line: native and sync steps/s, their ratio, the measurement's seconds and any skip."""
    native, sync = row["native"], row["sync"]
    ratio = f"{native / sync:8.0f}x" if native and sync else f"{'-':>9s}"
    native_text = f"{native:15.3e}" if native else f"{'-':>15s}"
    sync_text = f"{sync:13.3e}" if sync else f"{'-':>13s}"
    line = (f"{row['env']:28s} {row['device']:6s} {row['num_envs']:7d} {native_text} {sync_text} {ratio} "
            f"{row.get('seconds', 0.0):5.1f}s")
    skipped, notes = row.get("skipped") or [], row.get("notes") or []
    return (line + (f"  skipped {'; '.join(skipped)}" if skipped else "")
            + (f"  {'; '.join(notes)}" if notes else ""))


def write_json(result: dict[str, Any] | list[Any], path: str | os.PathLike) -> None:
    """Write ``result`` as indented JSON to ``path`` atomically, creating its folder; numpy floats become floats.

    The file is written beside ``path`` and renamed over it, so a reader (or a run killed midway) sees either the
    previous content or the new one, never half a file.
    """
    text = json.dumps(result, indent=2, default=lambda x: float(x) if isinstance(x, np.floating) else str(x))
    write_atomically(path, text.encode())
