"""Stable-baselines3 interop: sb3-contrib's RecurrentPPO trains on the single-env RL² view."""

import gymnasium
import numpy as np
import pytest

import metarl  # noqa: F401  (registers the ids)

sb3_contrib = pytest.importorskip("sb3_contrib")
from stable_baselines3.common.logger import Logger  # noqa: E402  (after the skip: sb3-contrib brings it)


def test_recurrent_ppo_runs_a_few_hundred_steps_with_one_trial_per_episode():
    env = gymnasium.make("metarl/BernoulliBandit-v0", rl2=True, arms=2, pulls=10)
    model = sb3_contrib.RecurrentPPO("MlpLstmPolicy", env, n_steps=40, batch_size=40, n_epochs=1, seed=0,
                                     device="cpu", policy_kwargs={"lstm_hidden_size": 16})
    model.set_logger(Logger(folder=None, output_formats=[]))  # SB3's default logger makes a folder in /tmp
    model.learn(total_timesteps=320)
    assert model.num_timesteps >= 320
    # SB3 resets the LSTM state only at episode starts, and an episode is a whole trial of 10 pulls
    obs, _ = env.reset(seed=1)
    state, lengths, steps = None, [], 0
    while len(lengths) < 3:
        action, state = model.predict(obs, state=state, episode_start=np.array([steps == 0]))
        obs, _, terminated, truncated, _ = env.step(int(action))
        steps += 1
        if terminated or truncated:
            lengths.append(steps)
            steps = 0
            obs, _ = env.reset()
    assert lengths == [10, 10, 10]
