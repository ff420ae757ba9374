"""Environment snapshots: a restored env continues exactly like the original (the basis of exact resume)."""

import io

import pytest
import torch
from conftest import SMALL

import metarl
from metarl.envstate import env_state_dict, load_env_state
from metarl.errors import CheckpointError


@pytest.mark.parametrize("rl2", [False, True])
def test_restored_env_continues_identically(env_id, device, rl2):
    def fresh():
        return metarl.make(env_id, num_envs=5, seed=3, device=device, rl2=rl2, **SMALL[env_id])

    env = fresh()
    env.reset()
    gen = torch.Generator().manual_seed(0)
    for _ in range(11):
        env.step(env.sample_actions(gen))
    buffer = io.BytesIO()
    torch.save(env_state_dict(env), buffer)
    actions = [env.sample_actions(gen) for _ in range(25)]
    original = [env.step(a) for a in actions]

    restored = fresh()
    buffer.seek(0)
    load_env_state(restored, torch.load(buffer, weights_only=True))
    for a, expected in zip(actions, original, strict=True):
        got = restored.step(a)
        for field, want in zip(got, expected, strict=True):
            assert torch.equal(field, want)


def test_state_of_another_family_is_a_clear_error():
    bandit = metarl.make("metarl/BernoulliBandit-v0", num_envs=2)
    nav = metarl.make("metarl/Navigation2D-v0", num_envs=2)
    nav.reset()
    with pytest.raises(CheckpointError, match="does not fit"):
        load_env_state(bandit, env_state_dict(nav))
