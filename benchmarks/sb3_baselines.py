"""Stable-baselines3 PPO and sb3-contrib RecurrentPPO beside metarl's RL², scored like ``metarl eval``.

Each agent trains for the same number of environment steps on one family: SB3's PPO (an MLP policy, no memory
beyond the RL² observation's previous action and reward) and RecurrentPPO (an LSTM whose state lasts the
whole trial) on the single-env Gymnasium view with the RL² observation, where one SB3 episode is one trial;
metarl's RL² on the batched engine, from the setting's recipe in ``configs/`` when there is one (else its
defaults). Then every agent and every reference solver runs one trial on each of the same ``--trials``
held-out test tasks, and the table gives the mean trial return with its 95% interval and the published
figure for the setting. Needs the extra: ``pip install "metarl[sb3]"``.

Usage:
    python benchmarks/sb3_baselines.py --env metarl/BernoulliBandit-v0 --env-kwargs arms=5,pulls=10 --steps 100000
    python benchmarks/sb3_baselines.py --env metarl/TabularMDP-v0 --env-kwargs episodes=10 --agents ppo rl2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable

import torch
from metarl.agents.rl2 import RL2Trainer
from metarl.agents.rl2.evaluate import evaluate_policy, full_recipe

import metarl
from metarl.bench import write_json
from metarl.errors import BadArgumentError, MetaRLError
from metarl.published import published_scores
from metarl.sb3 import sb3_trial_returns
from metarl.solvers import solver_table
from metarl.stats import mean_ci95
from metarl.training import parse_env_kwargs
from metarl.training.recipes import load_config

SB3_AGENTS = {"ppo": ("stable_baselines3", "PPO", "MlpPolicy"),
              "recurrent-ppo": ("sb3_contrib", "RecurrentPPO", "MlpLstmPolicy")}
LABELS = {"rl2": "rl2 (metarl)", "ppo": "sb3 PPO", "recurrent-ppo": "sb3 RecurrentPPO"}


def train_sb3(agent: str, env_id: str, env_kwargs: dict, steps: int, seed: int, trial_steps: int):
    """Train SB3 ``agent`` for ``steps`` on 16 single-env views (fewer when ``steps`` are few), 4 trials per view
    per rollout, batches of 16 trials."""
    import importlib

    import gymnasium
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.logger import Logger

    module, name, policy = SB3_AGENTS[agent]
    algorithm = getattr(importlib.import_module(module), name)
    n_envs = max(1, min(16, steps // (trial_steps * 4)))
    venv = make_vec_env(lambda: gymnasium.make(env_id, rl2=True, **env_kwargs), n_envs=n_envs, seed=seed)
    model = algorithm(policy, venv, n_steps=trial_steps * 4, batch_size=trial_steps * min(16, 4 * n_envs),
                      gamma=0.99, seed=seed, device="cpu", verbose=0)
    model.set_logger(Logger(folder=None, output_formats=[]))  # SB3's default logger makes a folder in /tmp
    model.learn(steps)
    return model, model.num_timesteps


def train_rl2(env_id: str, env_kwargs: dict, steps: int, seed: int, trial_steps: int, logdir: str):
    """Train metarl's RL² from the setting's recipe (or the defaults) for ``steps``, fewer envs if steps are few."""
    found = full_recipe(env_id, env_kwargs)
    recipe = found[0] if found else None
    num_envs = max(1, min(load_config(recipe, trainer_cls=RL2Trainer)[1].num_envs, steps // trial_steps))
    values = {"env": env_id, "env_kwargs": env_kwargs, "device": "cpu", "seed": seed, "total_steps": steps,
              "num_envs": num_envs, "logdir": logdir, "checkpoint_every": 10**9}
    trainer = RL2Trainer(load_config(recipe, values, trainer_cls=RL2Trainer)[1])
    trainer.fit(progress=False)
    return trainer, trainer.global_step


def score(agent: str, trained, env_id: str, env_kwargs: dict, trials: int, seed: int) -> torch.Tensor:
    """Trial returns on the ``trials`` held-out tasks that the reference solvers see with ``seed``."""
    if agent == "rl2":
        cfg = trained.config
        return evaluate_policy(trained.model, env_id, env_kwargs, trials, "test", seed,
                               time_feature=cfg.time_feature, previous_obs=cfg.previous_obs).returns
    return sb3_trial_returns(trained, env_id, trials, "test", seed, **env_kwargs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="metarl/BernoulliBandit-v0", help="env id")
    parser.add_argument("--env-kwargs", default="arms=5,pulls=10", help="family arguments, e.g. arms=5,pulls=10")
    parser.add_argument("--steps", type=int, default=100_000, help="training steps for each agent")
    parser.add_argument("--agents", nargs="+", choices=["rl2", *SB3_AGENTS], default=["rl2", *SB3_AGENTS])
    parser.add_argument("--trials", type=int, default=1000, help="held-out test tasks (one trial each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the table to this JSON file")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except MetaRLError as exc:
        print(f"sb3_baselines: error: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    if args.steps < 1 or args.trials < 2:
        raise BadArgumentError(f"--steps must be >= 1 and --trials >= 2, got {args.steps} and {args.trials}")
    env_kwargs = parse_env_kwargs(args.env_kwargs)
    env = metarl.make(args.env, num_envs=args.trials, seed=args.seed, split="test", **env_kwargs)
    published = published_scores(env.family, env.config)
    rows = []
    with tempfile.TemporaryDirectory() as logdir:
        trainers: dict[str, Callable] = {
            "rl2": lambda: train_rl2(args.env, env_kwargs, args.steps, args.seed, env.trial_steps, logdir),
            **{name: (lambda name=name: train_sb3(name, args.env, env_kwargs, args.steps, args.seed,
                                                  env.trial_steps)) for name in SB3_AGENTS}}
        for agent in args.agents:
            start = time.perf_counter()
            try:
                trained, steps = trainers[agent]()
            except ImportError as exc:
                print(f"{LABELS[agent]} skipped: {exc.name} is not installed (pip install \"metarl[sb3]\")")
                continue
            seconds = time.perf_counter() - start
            mean, half = (float(v) for v in mean_ci95(score(agent, trained, args.env, env_kwargs, args.trials,
                                                            args.seed)))
            rows.append({"policy": LABELS[agent], "mean": mean, "ci95": half, "steps": steps, "seconds": seconds,
                         "published": published.get(agent)})
    rows += solver_table(args.env, args.trials, args.seed, "test", "cpu", **env_kwargs)
    settings = ", ".join(f"{k}={v}" for k, v in env.config.items())
    print(f"{args.env} ({settings}): {args.trials} trials on test tasks (seed {args.seed}), "
          f"{args.steps:,} training steps per agent")
    print(f"  {'policy':18s} {'mean trial return':>22s} {'published':>10s} {'steps':>10s} {'train s':>8s}")
    for row in rows:
        name = row.get("policy", row.get("solver"))
        published_text = f"{row['published']:10.1f}" if row["published"] is not None else f"{'-':>10s}"
        trained_text = f"{row['steps']:10,d} {row['seconds']:8.1f}" if "steps" in row else ""
        print(f"  {name:18s} {row['mean']:12.2f} ± {row['ci95']:7.2f} {published_text} {trained_text}".rstrip())
    if args.json:
        write_json({"env": args.env, "env_kwargs": env_kwargs, "trials": args.trials, "seed": args.seed,
                    "steps": args.steps, "rows": rows}, args.json)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
