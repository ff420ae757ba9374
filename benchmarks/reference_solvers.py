"""Reference solvers beside the RL² paper's Table 1 (bandits) and Table 2 (tabular MDPs).

Each solver runs one trial on each of 1000 held-out tasks (split="test") through the batched engine.
A score agrees with the published one when it is within 3 standard errors plus the table's
rounding (0.05).

    python benchmarks/reference_solvers.py [--trials 1000] [--quick]
"""

from __future__ import annotations

import argparse
import time

from metarl.envs.bandit import RL2_TABLE1
from metarl.envs.tabular import RL2_TABLE2

from metarl.solvers import solver_table

BANDIT_SOLVERS = ("random", "greedy", "epsilon-greedy", "ucb1", "thompson", "gittins")


def report(title: str, rows: list[dict]) -> tuple[int, int]:
    print(title)
    agree = compared = 0
    for row in rows:
        published = row["published"]
        verdict = ""
        if published is not None:
            compared += 1
            ok = abs(row["mean"] - published) <= 3 * row["ci95"] / 1.96 + 0.05
            agree += ok
            verdict = "agrees" if ok else f"differs by {row['mean'] - published:+.1f}"
        pub = f"{published:8.1f}" if published is not None else f"{'-':>8s}"
        print(f"  {row['solver']:16s} {row['mean']:9.2f} ± {row['ci95']:5.2f}   published {pub}   {verdict}")
    return agree, compared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="only n = 10 and n = 100 with k = 5, 10")
    args = parser.parse_args()

    start = time.perf_counter()
    agree = compared = 0
    bandit_settings = sorted(RL2_TABLE1)
    if args.quick:
        bandit_settings = [(n, k) for n, k in bandit_settings if n <= 100 and k <= 10]
    for n, k in bandit_settings:
        rows = solver_table("metarl/BernoulliBandit-v0", args.trials, args.seed, "test", "cpu", arms=k, pulls=n)
        a, c = report(f"\nBernoulliBandit n={n} k={k} (RL² Table 1), {args.trials} trials", rows)
        agree, compared = agree + a, compared + c
    for episodes in sorted(RL2_TABLE2)[: 2 if args.quick else None]:
        rows = solver_table("metarl/TabularMDP-v0", args.trials, args.seed, "test", "cpu", episodes=episodes)
        a, c = report(f"\nTabularMDP n={episodes} (RL² Table 2), {args.trials} trials", rows)
        agree, compared = agree + a, compared + c
    print(f"\n{agree}/{compared} scores agree with the published ones; {time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
