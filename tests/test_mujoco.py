"""The MuJoCo families: Gymnasium v5 parity, per-task models, and the missing-extra message.

Parity: our environment and Gymnasium's v5 environment start from the same state and take the same actions;
observations and rewards (Gymnasium's reward with its forward term replaced by the task term) agree to 1e-5.
"""

import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import MUJOCO
from metarl.envs.mujoco import missing_modules

import metarl

MISSING = missing_modules()
STEPS = 60

# (our id, our task, Gymnasium id and kwargs, Gymnasium's forward term -> our task term)
PARITY = {
    "HalfCheetahVel": ("HalfCheetah-v5", {}, {"velocity": [[1.3], [0.4]]},
                       lambda info: -abs(info["x_velocity"] - 1.3)),
    "HalfCheetahDir": ("HalfCheetah-v5", {}, {"direction": [[-1.0], [1.0]]}, lambda info: -info["x_velocity"]),
    "AntDir": ("Ant-v5", {"include_cfrc_ext_in_observation": False, "contact_cost_weight": 0.0},
               {"direction": [[-1.0], [1.0]]}, lambda info: -info["x_velocity"]),
    "HumanoidDir": ("Humanoid-v5", {"include_cfrc_ext_in_observation": False, "contact_cost_weight": 0.0},
                    {"angle": [[2.0], [0.5]]},
                    lambda info: 1.25 * (np.cos(2.0) * info["x_velocity"] + np.sin(2.0) * info["y_velocity"])),
    "Walker2DRandParams": ("Walker2d-v5", {}, "ones", lambda info: info["reward_forward"]),
    "HopperRandParams": ("Hopper-v5", {}, "ones", lambda info: info["reward_forward"]),
}


def _task(env, spec):
    if spec == "ones":
        return {name: torch.ones(shape) for name, (shape, _) in env.task_shapes(env.num_envs).items()}
    return {name: torch.tensor(value) for name, value in spec.items()}


@pytest.mark.parametrize("family", [pytest.param(family, marks=MUJOCO) for family in PARITY])
def test_steps_match_gymnasium_v5(family):
    import gymnasium

    gym_id, gym_kwargs, task, task_term = PARITY[family]
    env = metarl.make(f"metarl/{family}-v0", num_envs=2, seed=0, threads=1, horizon=1000)
    env.reset(task=_task(env, task))
    gym = gymnasium.make(gym_id, **gym_kwargs).unwrapped
    gym.reset(seed=0)
    gym.set_state(env._physics.read("qpos")[0].numpy().copy(), env._physics.read("qvel")[0].numpy().copy())
    generator = torch.Generator().manual_seed(0)
    for t in range(STEPS):
        action = env.sample_actions(generator)
        step = env.step(action)
        obs, reward, terminated, _, info = gym.step(action[0].numpy())
        expected = reward - info["reward_forward"] + task_term(info)
        np.testing.assert_allclose(step.final_obs[0].numpy(), obs, rtol=1e-5, atol=1e-5, err_msg=f"{family} step {t}")
        assert step.reward[0].item() == pytest.approx(expected, rel=1e-5, abs=1e-5), f"{family} step {t}"
        assert bool(step.terminated[0]) == terminated
        if terminated:
            break


@MUJOCO[0]
@MUJOCO[1]
def test_rand_params_tasks_change_the_model_and_the_motion():
    env = metarl.make("metarl/HopperRandParams-v0", num_envs=2, seed=0, threads=1)
    tasks = _task(env, "ones")
    tasks["body_mass"][1] *= 2.0
    tasks["geom_friction"][1] *= 0.5
    env.reset(task=tasks)
    base = env.model()
    masses = env._physics._expanded["body_mass"]
    np.testing.assert_allclose(masses[0].numpy(), base.body_mass)
    np.testing.assert_allclose(masses[1].numpy(), 2.0 * base.body_mass)
    action = torch.full((2, 3), 0.5)
    for _ in range(20):
        step = env.step(action)
    assert not torch.allclose(step.obs[0], step.obs[1])
    sampled = env.sample_tasks(64, torch.Generator().manual_seed(0))
    assert sampled.body_mass.min() >= 1.5**-3 - 1e-6 and sampled.body_mass.max() <= 1.5**3 + 1e-6
    assert sampled.dof_damping.max() <= 1.3**3 + 1e-6


@MUJOCO[0]
@MUJOCO[1]
def test_ant_goal_tasks_fill_the_disc():
    env = metarl.make("metarl/AntGoal-v0", num_envs=1, seed=0, threads=1)
    goals = env.sample_tasks(4000, torch.Generator().manual_seed(0)).goal
    radius = goals.norm(dim=1)
    assert radius.max() <= 3.0 + 1e-5
    assert (radius < 1.5).float().mean().item() == pytest.approx(0.25, abs=0.03)  # uniform in area


@pytest.mark.skipif(not MISSING, reason="the mujoco extra is installed")
def test_without_the_extra_the_ids_name_it():
    with pytest.raises(metarl.MissingExtraError, match=r'pip install "metarl\[mujoco\]"'):
        metarl.make("metarl/HalfCheetahVel-v0")


@pytest.mark.mujoco  # also runs in the core install
def test_importing_metarl_imports_no_mujoco():
    code = "import sys, metarl; metarl.make('metarl/Navigation2D-v0'); print('mujoco' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
