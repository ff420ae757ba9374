"""RL² (metarl, batched PPO) against sb3-contrib's RecurrentPPO on the same bandit, same training steps.

RecurrentPPO trains on metarl's single-env Gymnasium view with the RL² observation (one SB3 episode
is one trial, so its LSTM state persists across the trial), with the settings of the peer anchor
(16 environments, n_steps = 4 trials, batch 16 trials); metarl's RL² uses its recipe for the
setting from ``configs/`` with the same number of steps. With ``--same-time`` RL² also trains from
its recipe for as long as RecurrentPPO took (what each agent gets from the same minutes). All agents
are then scored on the same 1000 held-out tasks, through the batched engine.

Usage:
    python benchmarks/rl2_vs_recurrent_ppo.py --arms 5 --pulls 10 --steps 50000
    python benchmarks/rl2_vs_recurrent_ppo.py --arms 5 --pulls 10 --steps 50000 --same-time
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from metarl.agents.rl2 import RL2Trainer
from metarl.agents.rl2.evaluate import evaluate_policy
from sb3_baselines import train_sb3  # this folder's script: SB3 training on the Gymnasium view

import metarl
from metarl.published import published_scores
from metarl.sb3 import sb3_trial_returns
from metarl.stats import mean_ci95
from metarl.training.recipes import load_config

ENV = "metarl/BernoulliBandit-v0"
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def recurrent_ppo(arms: int, pulls: int, steps: int, seed: int):
    """sb3-contrib RecurrentPPO trained for ``steps``, with the seconds it took."""
    start = time.perf_counter()
    model, _ = train_sb3("recurrent-ppo", ENV, {"arms": arms, "pulls": pulls}, steps, seed, trial_steps=pulls)
    return model, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", type=int, default=5)
    parser.add_argument("--pulls", type=int, default=10)
    parser.add_argument("--steps", type=int, default=50_000, help="training steps for each agent")
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--same-time", action="store_true",
                        help="also train RL² from its recipe for RecurrentPPO's wall time")
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    rows = []

    recipe = CONFIGS / f"rl2_bandit_k5_n{args.pulls}.yaml" if args.pulls in (10, 100) else None
    values = {"env": ENV, "env_kwargs": {"arms": args.arms, "pulls": args.pulls}, "device": "cpu",
              "seed": args.seed, "logdir": "runs/bench-rl2-vs-rppo", "checkpoint_every": 10**9}

    def train_rl2(label: str, seconds: float | None = None, **extra) -> None:
        trainer = RL2Trainer(load_config(recipe, values, extra, trainer_cls=RL2Trainer)[1])
        start = time.perf_counter()
        trainer.fit(progress=False, max_seconds=seconds)
        elapsed = time.perf_counter() - start
        returns = evaluate_policy(trainer.model, ENV, trainer.config.env_kwargs, args.trials, "test", args.seed).returns
        rows.append((label, trainer.global_step, elapsed, returns))

    train_rl2("metarl RL² (PPO, GRU)", total_steps=args.steps)

    try:
        model, seconds = recurrent_ppo(args.arms, args.pulls, args.steps, args.seed)
    except ImportError:
        print("sb3-contrib is not installed (pip install sb3-contrib): RecurrentPPO skipped")
    else:
        rows.append(("sb3-contrib RecurrentPPO", model.num_timesteps, seconds,
                     sb3_trial_returns(model, ENV, args.trials, "test", args.seed, arms=args.arms, pulls=args.pulls)))
        if args.same_time:
            train_rl2("metarl RL², same seconds", seconds=seconds)

    random = metarl.solvers.trial_returns(metarl.make(ENV, num_envs=args.trials, seed=args.seed, split="test",
                                                      arms=args.arms, pulls=args.pulls), "random")
    published = published_scores("BernoulliBandit", {"arms": args.arms, "pulls": args.pulls}).get("rl2")
    print(f"Bernoulli bandit k={args.arms}, n={args.pulls}: {args.steps:,} training steps each, "
          f"{args.trials} test tasks, {torch.get_num_threads()} threads")
    print(f"  {'agent':26s} {'steps':>9s} {'seconds':>8s} {'steps/s':>9s} {'mean trial return':>22s}")
    for name, steps, seconds, returns in rows:
        mean, half = (float(v) for v in mean_ci95(returns))
        print(f"  {name:26s} {steps:9,d} {seconds:8.1f} {steps / seconds:9.0f} {mean:12.2f} ± {half:6.2f}")
    print(f"  {'random':26s} {'':9s} {'':8s} {'':9s} {float(random.mean()):12.2f}")
    if published is not None:
        print(f"  {'RL² (paper, Table 1)':26s} {'':9s} {'':8s} {'':9s} {published:12.1f}")
    if len(rows) >= 2:
        ratio = rows[0][1] / rows[0][2] / (rows[1][1] / rows[1][2])
        print(f"training throughput ratio (metarl / RecurrentPPO): {ratio:.0f}x")


if __name__ == "__main__":
    import metarl.solvers  # noqa: F401

    main()
