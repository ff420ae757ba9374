"""How much room MetaMaze leaves above explore-then-plan: its search against the fastest possible search.

Every agent that does not know the goal must search for it, and explore-then-plan already returns to the goal by
a shortest path once found (as the oracle does), so an agent can beat it only by finding the goal sooner. This
script measures explore-then-plan's first-find step on a goal at every free cell (the solver itself, played in the
environment) and computes, by dynamic programming over the sets of visited cells, the walk from the start that
minimises the mean step at which a uniformly drawn goal cell is first entered (a minimum-latency tour, exact; up
to 22 free cells, so the 5 x 5 maze). The difference, times the oracle's goal visits per step, estimates the most
return any searcher could add over explore-then-plan.

Usage:
    python benchmarks/metamaze_search_bound.py --size 5 --horizon 50 --view 5
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from metarl.envs.gridworld.board import bfs_distance

import metarl
from metarl.solvers import make_solver, solver_returns

MAX_CELLS = 22


def start_index(env) -> int:
    """Index among ``env.board.free_cells`` of the cell every trial starts on (the centre)."""
    env.reset()
    return int((env.board.free_cells == env.cell[0]).nonzero()[0, 0])


def first_find_steps(env, env_kwargs: dict) -> np.ndarray:
    """Explore-then-plan's first-reward step (1-based) with the goal at each free cell, (cells,)."""
    cells = env.board.coordinates(env.board.free_cells) - 1
    kwargs = {**env_kwargs, "horizon": 10 * len(cells) ** 2}
    env = metarl.make("metarl/MetaMaze-v0", num_envs=len(cells), **kwargs)
    obs = env.reset(task={"goal": cells})
    policy = make_solver(env, "explore-then-plan", torch.Generator().manual_seed(0))
    found = torch.zeros(len(cells), dtype=torch.int64)
    for t in range(1, kwargs["horizon"] + 1):
        action = policy.act(obs)
        step = env.step(action)
        policy.observe(action, step)
        obs = step.obs
        found = torch.where((found == 0) & (step.reward > 0), t, found)
        if bool((found > 0).all()):
            break
    return found.numpy()


def fastest_search(env, start: int) -> float:
    """The least mean first-entry step over free cells of any walk from ``start`` (the start itself at 0)."""
    free, stride, n = env.board.free_cells, env.board.stride, len(env.board.free_cells)
    if n > MAX_CELLS:
        raise SystemExit(f"{n} free cells: the exact search covers at most {MAX_CELLS} (use --size 5)")
    passable = ~env.board.wall[None].expand(n, -1)
    sources = torch.zeros_like(passable)
    sources[torch.arange(n), free] = True
    distance = bfs_distance(passable, sources, stride)[:, free].numpy()
    unreached = np.iinfo(np.int64).max
    best = np.full((1 << n, n), unreached, np.int64)
    best[1 << start, start] = 0
    visited_count = np.array([bin(s).count("1") for s in range(1 << n)])
    for k in range(1, n):
        layer = np.nonzero(visited_count == k)[0]
        for v in range(n):
            sets = layer[(layer >> v) & 1 == 1]
            cost = best[sets, v]
            sets, cost = sets[cost < unreached], cost[cost < unreached]
            for u in range(n):
                new = (sets >> u) & 1 == 0
                # each of the n - k cells not yet entered waits the d(v, u) steps of this leg
                np.minimum.at(best[:, u], sets[new] | (1 << u), cost[new] + distance[v, u] * (n - k))
    return float(best[(1 << n) - 1].min()) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5)
    parser.add_argument("--horizon", type=int, default=50)
    parser.add_argument("--view", type=int, default=5)
    parser.add_argument("--trials", type=int, default=5000, help="test trials for the oracle's visit rate")
    args = parser.parse_args()
    env_kwargs = {"size": args.size, "horizon": args.horizon, "reward": 1.0, "goals": "all", "view": args.view}
    env = metarl.make("metarl/MetaMaze-v0", num_envs=1, **env_kwargs)
    start = start_index(env)
    explorer = first_find_steps(env, env_kwargs)
    explorer_mean = float(np.delete(explorer, start).sum()) / len(explorer)  # the start counts 0, as below
    fastest = fastest_search(env, start)
    oracle = solver_returns("metarl/MetaMaze-v0", "oracle", args.trials, 0, "test", "cpu", **env_kwargs)
    rate = float(oracle.mean()) / args.horizon
    print(f"MetaMaze {args.size} x {args.size}, {len(explorer)} free cells, horizon {args.horizon}")
    print(f"  mean first-find step, explore-then-plan:  {explorer_mean:.3f}")
    print(f"  mean first-find step, fastest search:     {fastest:.3f}")
    print(f"  oracle goal visits per step:              {rate:.3f}")
    print(f"  most return a searcher can add over explore-then-plan: about "
          f"{(explorer_mean - fastest) * rate:.3f}")


if __name__ == "__main__":
    main()
