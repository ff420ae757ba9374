"""The RL² observation: [obs, previous action, previous reward, previous inner-episode end]."""

import gymnasium
import numpy as np
import torch

import metarl


def test_rl2_observation_layout_and_trial_reset():
    env = metarl.make("metarl/TabularMDP-v0", num_envs=2, states=3, actions=2, horizon=2, episodes=2, rl2=True, seed=0)
    obs = env.reset()
    assert obs.shape == (2, 3 + 2 + 2) and torch.equal(obs[:, 3:], torch.zeros(2, 4))
    assert torch.equal(obs[:, :3], torch.tensor([[1.0, 0, 0], [1.0, 0, 0]]))
    step = env.step(torch.tensor([1, 0]))
    assert torch.equal(step.obs[:, 3:5], torch.tensor([[0.0, 1], [1, 0]]))
    assert torch.equal(step.obs[:, 5], step.reward) and step.obs[:, 6].eq(0).all()
    step = env.step(torch.tensor([0, 0]))  # ends the first inner episode
    assert step.episode_end.all() and step.obs[:, 6].eq(1).all()
    assert torch.equal(step.obs[:, :3], torch.tensor([[1.0, 0, 0], [1.0, 0, 0]])), "inner episode restarts at state 0"
    env.step(torch.tensor([0, 0]))
    step = env.step(torch.tensor([1, 1]))  # ends the trial
    assert step.trial_end.all()
    assert torch.equal(step.obs[:, 3:], torch.zeros(2, 4)), "nothing carries over into the next trial"
    assert torch.equal(step.final_obs[:, 3:5], torch.tensor([[0.0, 1], [0, 1]])) and step.final_obs[:, 6].eq(1).all()


def test_rl2_continuous_previous_action_is_clipped():
    env = metarl.make("metarl/Navigation2D-v0", num_envs=1, rl2=True, seed=0)
    assert env.single_observation_space.shape == (6,)
    env.reset()
    step = env.step(torch.tensor([[1.0, -0.05]]))
    assert torch.allclose(step.obs[0, 2:4], torch.tensor([0.1, -0.05]))


def test_rl2_space_bounds_contain_observations(env_id):
    env = gymnasium.make(env_id, rl2=True)
    obs, _ = env.reset(seed=0)
    for _ in range(30):
        assert env.observation_space.contains(obs)
        obs, _, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            obs, _ = env.reset()


def test_rl2_vector_view_reset_mask_keeps_other_rows():
    envs = gymnasium.make_vec("metarl/BernoulliBandit-v0", num_envs=2, arms=2, pulls=5, rl2=True,
                              autoreset_mode="Disabled")
    envs.reset(seed=0)
    obs, *_ = envs.step(np.array([1, 1]))
    obs, _ = envs.reset(options={"reset_mask": np.array([True, False])})
    assert np.array_equal(obs[0, 1:], np.zeros(4)) and obs[1, 2] == 1.0


def test_wrapping_a_plain_env_by_hand_gives_the_observations_of_rl2_true():
    from metarl.rl2_observation import RL2Observation

    kwargs = {"num_envs": 3, "arms": 4, "pulls": 5, "seed": 7}
    by_hand, built = RL2Observation(metarl.make("metarl/BernoulliBandit-v0", **kwargs)), \
        metarl.make("metarl/BernoulliBandit-v0", rl2=True, **kwargs)
    assert isinstance(built, RL2Observation) and by_hand.single_observation_space == built.single_observation_space
    assert torch.equal(by_hand.reset(seed=1), built.reset(seed=1))
    for t in range(7):  # past a trial end
        action = torch.tensor([t % 4, (t + 1) % 4, 3])
        assert torch.equal(by_hand.step(action).obs, built.step(action).obs)
