"""Environment state: ``state_dict`` / ``load_state_dict`` let a new env continue exactly like the original
(the basis of exact resume), for every family, bare and inside the RL² observation wrapper."""

import io

import pytest
import torch
from conftest import SMALL

import metarl
from metarl.errors import CheckpointError

ENGINE_STATE = {"seed", "_task_keys", "_step_keys", "_trial_index", "_episode_step", "_episode_index",
                "_global_step", "_countdown", "_block"}


def fresh(env_id, device="cpu", rl2=False):
    return metarl.make(env_id, num_envs=5, seed=3, device=device, rl2=rl2, **SMALL[env_id])


def saved(env):
    """``env.state_dict()`` through a file, as a checkpoint stores it."""
    buffer = io.BytesIO()
    torch.save(env.state_dict(), buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("rl2", [False, True])
def test_restored_env_continues_identically(env_id, device, rl2):
    env = fresh(env_id, device, rl2)
    env.reset()
    gen = torch.Generator().manual_seed(0)
    for _ in range(11):  # N steps, past the first trial ends of the small settings
        env.step(env.sample_actions(gen))
    state = saved(env)
    actions = [env.sample_actions(gen) for _ in range(25)]
    original = [env.step(a) for a in actions]

    restored = fresh(env_id, device, rl2)
    restored.load_state_dict(state)
    for a, expected in zip(actions, original, strict=True):
        got = restored.step(a)
        for field, want in zip(got, expected, strict=True):
            assert torch.equal(field, want)


def test_state_holds_the_engine_state_and_the_family_declared_state(env_id):
    env = fresh(env_id)
    env.reset()
    env.step(env.sample_actions(torch.Generator().manual_seed(0)))
    names = set(env.state_dict()["attributes"]) - {"_ring", "_ring_offset", "_ring_age"}
    assert names == ENGINE_STATE | set(type(env).state_attributes)


def test_state_of_another_family_is_a_clear_error():
    bandit = metarl.make("metarl/BernoulliBandit-v0", num_envs=2)
    nav = metarl.make("metarl/Navigation2D-v0", num_envs=2)
    nav.reset()
    with pytest.raises(CheckpointError, match="does not fit"):
        bandit.load_state_dict(nav.state_dict())


@pytest.mark.parametrize("env_id", ["metarl/LearnToOptimize-v0", "metarl/Teach-v0"])
def test_state_without_the_family_part_is_refused(env_id):
    env = fresh(env_id)
    env.reset()
    state = env.state_dict()
    del state["attributes"]["_process_state"]
    with pytest.raises(CheckpointError, match="lacks _process_state"):
        fresh(env_id).load_state_dict(state)


def test_rl2_state_without_the_wrapper_part_is_refused():
    env = fresh("metarl/BernoulliBandit-v0", rl2=True)
    env.reset()
    state = env.state_dict()
    del state["wrapper"]
    with pytest.raises(CheckpointError, match="RL² observation"):
        fresh("metarl/BernoulliBandit-v0", rl2=True).load_state_dict(state)


def test_state_saved_before_explicit_state_still_loads():
    """States written when every tensor attribute was saved (constants such as ``_one_hot`` included) still
    resume: only the declared state is read."""
    env = fresh("metarl/TabularMDP-v0")
    env.reset()
    gen = torch.Generator().manual_seed(0)
    for _ in range(7):
        env.step(env.sample_actions(gen))
    state = env.state_dict()
    state["attributes"].update({"_one_hot": env._one_hot, "_row_base": env._row_base})
    restored = fresh("metarl/TabularMDP-v0")
    restored.load_state_dict(state)
    for _ in range(9):
        a = env.sample_actions(gen)
        assert all(torch.equal(x, y) for x, y in zip(restored.step(a), env.step(a), strict=True))
