"""Evaluation of a trained RL² policy on held-out tasks, next to the reference solvers and the paper."""

from __future__ import annotations

import dataclasses

import torch
from metarl.agents.rl2.policy import PolicyInputs, RecurrentActorCritic

from metarl.registry import make
from metarl.stats import mean_ci95


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
