"""Evaluation of a trained RL² policy on held-out tasks, next to the reference solvers and the paper."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path

import torch
from metarl.agents.rl2.policy import PolicyInputs, RecurrentActorCritic

from metarl.errors import ConfigError
from metarl.registry import make
from metarl.stats import mean_ci95
from metarl.training.config import load_yaml

RECIPE_DIRS = (Path("configs"), Path(__file__).resolve().parents[2] / "configs")
"""Where the recipes are looked for: ``configs/`` under the working directory, then the source tree's."""


@dataclasses.dataclass
class TrialScores:
    """Per-trial results: ``returns`` (N,), ``episode_returns`` (N, episodes) and ``step_rewards`` (N, trial steps),
    zero after a trial has ended."""

    returns: torch.Tensor
    episode_returns: torch.Tensor
    step_rewards: torch.Tensor

    @property
    def mean(self) -> float:
        return float(mean_ci95(self.returns)[0])

    @property
    def ci95(self) -> float:
        """Half-width of the normal-approximation 95% interval of the mean."""
        return float(mean_ci95(self.returns)[1])


@torch.no_grad()
def evaluate_policy(model: RecurrentActorCritic, env_id: str, env_kwargs: dict, trials: int = 1000,
                    split: str = "test", seed: int = 0, device: torch.device | str = "cpu",
                    greedy: bool = False, generator_seed: int = 0, time_feature: bool = True,
                    previous_obs: bool = False) -> TrialScores:
    """Run one trial on each of ``trials`` tasks of ``split`` (the tasks the reference solvers see with this seed).

    Example:
        >>> from metarl.agents.rl2 import RL2Config, RL2Trainer
        >>> bandit = {"arms": 5, "pulls": 10}
        >>> trainer = RL2Trainer(RL2Config(env="metarl/BernoulliBandit-v0", env_kwargs=bandit, num_envs=16, hidden=16))
        >>> path = trainer.fit(progress=False)  # doctest: +SKIP
        >>> scores = evaluate_policy(trainer.model, "metarl/BernoulliBandit-v0", bandit, trials=100)
        >>> scores.returns.shape, scores.step_rewards.shape  # one trial of 10 pulls on each of 100 test tasks
        (torch.Size([100]), torch.Size([100, 10]))
    """
    env = make(env_id, num_envs=trials, device=device, seed=seed, split=split, rl2=True, check=False, **env_kwargs)
    generator = torch.Generator(env.device).manual_seed(generator_seed)
    build = PolicyInputs(env.trial_steps, env.single_observation_space.shape[0] - env.extra_size, time_feature,
                         previous_obs)
    obs = env.reset()
    previous = torch.zeros_like(obs)
    state = model.initial_state(trials, env.device)
    start = torch.ones(trials, dtype=torch.bool, device=env.device)
    finished = torch.zeros(trials, dtype=torch.bool, device=env.device)
    returns = torch.zeros(trials, device=env.device)
    episode_returns = torch.zeros(trials, env.episodes, device=env.device)
    episode = torch.zeros(trials, dtype=torch.long, device=env.device)
    step_rewards = torch.zeros(trials, env.trial_steps, device=env.device)
    rows = torch.arange(trials, device=env.device)
    for t in range(env.trial_steps):
        inputs = build(obs, torch.full_like(episode, t), previous, start)
        params, _, state = model.step(inputs, state, start)
        action = model.head.mode(params) if greedy else model.head.sample(params, generator)
        step = env.step(action)
        reward = step.reward * ~finished
        returns += reward
        step_rewards[:, t] = reward
        episode_returns.index_put_((rows, episode.clamp(max=env.episodes - 1)), reward, accumulate=True)
        episode += step.episode_end
        finished |= step.trial_end
        previous, obs, start = obs, step.obs, step.trial_end
        if env.device.type == "cpu" and bool(finished.all()):  # a free check on CPU; on GPU it would sync
            break
    return TrialScores(returns.cpu(), episode_returns.cpu(), step_rewards.cpu())


def full_recipe(env_id: str, env_kwargs: dict, dirs: Iterable[Path] = RECIPE_DIRS) -> tuple[Path, int] | None:
    """(path, total_steps) of the longest RL² recipe in ``dirs`` for exactly this family and setting, or None.

    The recipes in ``configs/`` are the runs that reach the paper's scores; a shorter run (the quickstart's
    demo) can name the one to train for the full result.

    Example:
        >>> path, steps = full_recipe("metarl/BernoulliBandit-v0", {"arms": 5, "pulls": 10})
        >>> path.name, steps
        ('rl2_bandit_k5_n10.yaml', 16000000)
    """
    best: tuple[Path, int] | None = None
    seen: set[Path] = set()
    for folder in dirs:
        for path in sorted(Path(folder).glob("rl2_*.yaml")):
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            try:
                recipe = load_yaml(path)
            except ConfigError:
                continue
            steps = recipe.get("total_steps")
            if (recipe.get("agent") == "rl2" and recipe.get("env") == env_id
                    and dict(recipe.get("env_kwargs") or {}) == dict(env_kwargs) and isinstance(steps, int)
                    and (best is None or steps > best[1])):
                best = (path, steps)
    return best


def short_run_note(env_id: str, env_kwargs: dict, trained_steps: int, dirs: Iterable[Path] = RECIPE_DIRS
                   ) -> str | None:
    """A line for the evaluation report when the run trained fewer steps than the setting's full recipe.

    Example:
        >>> note = short_run_note("metarl/BernoulliBandit-v0", {"arms": 5, "pulls": 10}, 1_000_000)
        >>> note.startswith("note: a short run (1,000,000 steps)"), note.endswith("rl2_bandit_k5_n10.yaml")
        (True, True)
        >>> short_run_note("metarl/BernoulliBandit-v0", {"arms": 5, "pulls": 10}, 16_000_000) is None
        True
    """
    found = full_recipe(env_id, env_kwargs, dirs)
    if found is None or trained_steps >= found[1]:
        return None
    path, steps = found
    shown = os.path.relpath(path) if not os.path.relpath(path).startswith("..") else str(path)
    return (f"note: a short run ({trained_steps:,} steps); the recipe for the paper's score trains {steps:,}: "
            f"metarl train --config {shown}")
