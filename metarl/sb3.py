"""Scoring a stable-baselines3 policy (``pip install "metarl[sb3]"``) on held-out tasks, as ``metarl eval`` does.

SB3 trains on a family's single-env Gymnasium view, where one episode is one trial; this module runs the
trained policy on ``trials`` held-out tasks through the batched engine, all at once, on the same tasks the
reference solvers and ``metarl eval`` see for the same seed and split. Nothing here imports SB3: any object
with SB3's ``predict(obs, state=, episode_start=, deterministic=)`` works.

Example:
    >>> import gymnasium
    >>> from stable_baselines3 import PPO
    >>> env = gymnasium.make("metarl/BernoulliBandit-v0", rl2=True, arms=5, pulls=10)
    >>> model = PPO("MlpPolicy", env, n_steps=64, batch_size=64, device="cpu").learn(64)
    >>> sb3_trial_returns(model, "metarl/BernoulliBandit-v0", trials=100, arms=5, pulls=10).shape
    torch.Size([100])
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch

from metarl.registry import make


class Predictor(Protocol):
    """What SB3's algorithms offer: ``predict(obs, state, episode_start, deterministic) -> (action, state)``."""

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray, Any]: ...


@torch.no_grad()
def sb3_trial_returns(model: Predictor, env_id: str, trials: int = 1000, split: str = "test", seed: int = 0,
                      deterministic: bool = False, **env_kwargs: Any) -> torch.Tensor:
    """Trial return of ``model`` on each of ``trials`` tasks of ``split``: a ``(trials,)`` CPU tensor.

    The policy sees the RL² observation, as it did when trained on ``gymnasium.make(env_id, rl2=True)``; a
    recurrent policy (sb3-contrib's ``RecurrentPPO``) keeps its state for the whole trial and starts afresh only
    at the trial's first step. Rewards after a trial's end are not counted.
    """
    env = make(env_id, num_envs=trials, seed=seed, split=split, rl2=True, **env_kwargs)
    like = env.sample_actions(torch.Generator().manual_seed(0))
    obs, state = env.reset(), None
    start = np.ones(trials, dtype=bool)
    finished = torch.zeros(trials, dtype=torch.bool)
    returns = torch.zeros(trials, dtype=torch.float64)
    for _ in range(env.trial_steps):
        action, state = model.predict(obs.cpu().numpy(), state=state, episode_start=start,
                                      deterministic=deterministic)
        step = env.step(torch.as_tensor(np.asarray(action)).reshape(like.shape).to(like.dtype))
        returns += step.reward.cpu().double() * ~finished
        finished |= step.trial_end.cpu()
        obs, start = step.obs, step.trial_end.cpu().numpy()
    return returns


__all__ = ["sb3_trial_returns"]
