"""Gymnasium views: env-checker conformance, vector shapes, the autoreset contract in each mode."""

import gymnasium
import numpy as np
import pytest
from conftest import ENV_IDS, MUJOCO_ENV_IDS, SMALL
from gymnasium.utils.env_checker import check_env as gym_check_env
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import metarl


@pytest.mark.filterwarnings("ignore:.*Box observation space m.* value is -?infinity")  # Gaussian rewards
@pytest.mark.parametrize("rl2", [False, True])
@pytest.mark.parametrize("env_id", ENV_IDS + MUJOCO_ENV_IDS)
def test_single_view_passes_env_checkers(env_id, rl2):
    env = gymnasium.make(env_id, rl2=rl2)
    gym_check_env(env.unwrapped)
    sb3_check_env(gymnasium.make(env_id, rl2=rl2).unwrapped, warn=False)


def test_every_registered_id_passes_env_checkers():
    for spec in metarl.registered():
        gym_check_env(gymnasium.make(spec.id).unwrapped)
        sb3_check_env(gymnasium.make(spec.id).unwrapped, warn=False)


def test_single_view_numpy_trial_episode(env_id):
    env = gymnasium.make(env_id, **SMALL[env_id])
    obs, info = env.reset(seed=0)
    assert isinstance(obs, np.ndarray) and obs.dtype == np.float32
    steps, inner_ends = 0, 0
    while True:
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert isinstance(reward, float) and env.observation_space.contains(obs)
        steps += 1
        inner_ends += info["episode_end"]
        if terminated or truncated:
            break
    trial = env.unwrapped.env
    assert inner_ends == trial.episodes and steps <= trial.trial_steps
    with pytest.raises(metarl.MetaRLError, match="reset"):
        env.step(env.action_space.sample())


def test_single_view_reset_task_option():
    env = gymnasium.make("metarl/BernoulliBandit-v0", arms=2, pulls=5)
    env.reset(seed=0, options={"task": {"probs": np.array([0.0, 1.0], np.float32)}})
    rewards = [env.step(1)[1] for _ in range(5)]
    assert rewards == [1.0] * 5


def test_single_view_rejects_bad_action():
    env = gymnasium.make("metarl/BernoulliBandit-v0", arms=2)
    env.reset(seed=0)
    with pytest.raises(metarl.BadActionError, match="out of range"):
        env.step(7)


@pytest.mark.parametrize("mode", list(AutoresetMode))
def test_vector_view_shapes_and_metadata(env_id, mode):
    envs = gymnasium.make_vec(env_id, num_envs=3, autoreset_mode=mode, **SMALL[env_id])
    assert envs.metadata["autoreset_mode"] == mode
    obs, info = envs.reset(seed=0)
    assert obs.shape == (3, *envs.single_observation_space.shape) and envs.observation_space.contains(obs)
    obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
    assert reward.shape == terminated.shape == truncated.shape == (3,)
    assert terminated.dtype == truncated.dtype == np.bool_ and reward.dtype == np.float64
    assert info["episode_end"].shape == (3,)


def _run_until_trial_end(envs, max_steps=200):
    for _ in range(max_steps):
        out = envs.step(envs.action_space.sample())
        if (out[2] | out[3]).any():
            return out
    raise AssertionError("no trial ended")


def test_next_step_autoreset_contract():
    envs = gymnasium.make_vec("metarl/BernoulliBandit-v0", num_envs=2, arms=3, pulls=4)
    envs.reset(seed=0)
    probs = envs.unwrapped.env.task.probs.clone()
    obs, reward, terminated, truncated, _ = _run_until_trial_end(envs)
    assert truncated.all() and not terminated.any()
    assert np.array_equal(envs.unwrapped.env.task.probs, probs), "task must be kept until the reset step"
    obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
    assert (reward == 0).all() and not (terminated | truncated).any()
    assert not np.array_equal(envs.unwrapped.env.task.probs, probs), "the reset step draws a new task"
    for _ in range(4):
        out = envs.step(envs.action_space.sample())
    assert out[3].all(), "the new trial lasts pulls steps after its reset step"


def test_same_step_autoreset_contract():
    envs = gymnasium.make_vec(
        "metarl/Navigation2D-v0", num_envs=2, horizon=3, episodes=1, autoreset_mode=AutoresetMode.SAME_STEP
    )
    envs.reset(seed=0)
    obs, reward, terminated, truncated, info = _run_until_trial_end(envs)
    ended = terminated | truncated
    assert info["_final_obs"].tolist() == ended.tolist()
    assert np.allclose(obs[ended], 0.0), "same-step reset returns the first observation of the new trial"
    assert not np.allclose(info["final_obs"][ended], 0.0)


def test_disabled_mode_reset_mask():
    envs = gymnasium.make_vec(
        "metarl/BernoulliBandit-v0", num_envs=3, arms=2, pulls=2, autoreset_mode=AutoresetMode.DISABLED
    )
    envs.reset(seed=0)
    _run_until_trial_end(envs)
    with pytest.raises(metarl.MetaRLError, match="reset_mask"):
        envs.step(envs.action_space.sample())
    mask = np.array([True, False, True])
    envs.reset(options={"reset_mask": mask})
    with pytest.raises(metarl.MetaRLError, match=r"\[1\]"):
        envs.step(envs.action_space.sample())
    envs.reset(options={"reset_mask": np.array([False, True, False])})
    envs.step(envs.action_space.sample())


def test_vector_reset_task_option():
    envs = gymnasium.make_vec("metarl/Navigation2D-v0", num_envs=2)
    goal = np.array([[0.3, -0.2], [-0.1, 0.4]], np.float32)
    envs.reset(seed=0, options={"task": {"goal": goal}})
    assert np.array_equal(envs.unwrapped.env.task.goal.numpy(), goal)
    obs, reward, *_ = envs.step(np.zeros((2, 2), np.float32))
    assert np.allclose(reward, -np.linalg.norm(goal, axis=1))


def test_vector_bad_options():
    envs = gymnasium.make_vec("metarl/BernoulliBandit-v0", num_envs=2)
    with pytest.raises(metarl.BadArgumentError, match="unknown reset options"):
        envs.reset(options={"tsk": 1})
    with pytest.raises(metarl.BadArgumentError, match="reset_mask"):
        envs.reset(seed=0, options={"reset_mask": np.ones(5, bool)})
    with pytest.raises(metarl.BadArgumentError, match="autoreset_mode"):
        gymnasium.make_vec("metarl/BernoulliBandit-v0", num_envs=2, autoreset_mode="Sometimes")


def test_sync_vector_over_single_view_matches_native_shapes(env_id):
    sync = gymnasium.make_vec(env_id, num_envs=2, vectorization_mode="sync", **SMALL[env_id])
    native = gymnasium.make_vec(env_id, num_envs=2, **SMALL[env_id])
    assert sync.single_observation_space == native.single_observation_space
    assert sync.single_action_space == native.single_action_space
    obs, _ = sync.reset(seed=0)
    assert obs.shape == native.reset(seed=0)[0].shape


def test_module_prefixed_id_imports_metarl():
    env = gymnasium.make("metarl:metarl/BernoulliBandit-v0", arms=3)
    assert env.action_space.n == 3


def test_render_mode_is_a_clear_error():
    with pytest.raises(metarl.BadArgumentError, match="no renderer"):
        gymnasium.make("metarl/BernoulliBandit-v0", render_mode="human")


def test_stable_baselines3_trains_on_single_view():
    """Beyond the checkers: an SB3 algorithm runs its loop on the view (RL² observation included)."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.logger import Logger

    env = gymnasium.make("metarl/BernoulliBandit-v0", arms=3, pulls=8, rl2=True)
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.set_logger(Logger(folder=None, output_formats=[]))  # SB3's default logger makes a folder in /tmp
    model.learn(256)
    obs, _ = env.reset(seed=1)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(int(action))
