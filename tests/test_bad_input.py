"""Each bad input raises a metarl exception naming the env id, the argument and what was expected."""

import numpy as np
import pytest
import torch
from conftest import make_small

import metarl


@pytest.mark.parametrize(
    "env_id, action, words",
    [
        ("metarl/BernoulliBandit-v0", torch.tensor([0, 1, 5, 0]), ["out of range", "[0, 2]"]),
        ("metarl/BernoulliBandit-v0", torch.tensor([0, -1, 0, 0]), ["out of range"]),
        ("metarl/BernoulliBandit-v0", torch.zeros(3, dtype=torch.int64), ["shape (3,)", "expected (4,)"]),
        ("metarl/BernoulliBandit-v0", torch.zeros(4), ["integers"]),
        ("metarl/TabularMDP-v0", torch.zeros(4, 1, dtype=torch.int64), ["shape"]),
        ("metarl/Navigation2D-v0", torch.full((4, 2), float("nan")), ["NaN"]),
        ("metarl/Navigation2D-v0", torch.zeros(4, 3), ["shape (4, 3)", "expected (4, 2)"]),
    ],
)
def test_bad_actions(env_id, action, words):
    env = make_small(env_id, num_envs=4, seed=0)
    env.reset()
    with pytest.raises(metarl.BadActionError) as info:
        env.step(action)
    for w in [env_id, *words]:
        assert w in str(info.value)


def test_step_before_reset():
    env = make_small("metarl/BernoulliBandit-v0")
    with pytest.raises(metarl.MetaRLError, match="reset"):
        env.step(torch.zeros(4, dtype=torch.int64))


@pytest.mark.parametrize(
    "task, words",
    [
        ({"probs": torch.zeros(4, 2)}, ["'probs'", "shape (4, 2)", "expected (4, 3)"]),
        ({"probs": torch.zeros(4, 3, dtype=torch.float64)}, ["dtype"]),
        ({"probs": torch.full((4, 3), 2.0)}, ["[0, 1]"]),
        ({"probs": torch.full((4, 3), float("nan"))}, ["NaN"]),
        ({"goal": torch.zeros(4, 2)}, ["fields must be exactly"]),
        ([1, 2, 3], ["BanditTask"]),
    ],
)
def test_bad_tasks(task, words):
    env = make_small("metarl/BernoulliBandit-v0", num_envs=4, seed=0)
    with pytest.raises(metarl.BadTaskError) as info:
        env.reset(task=task)
    for w in ["metarl/BernoulliBandit-v0", *words]:
        assert w in str(info.value)


def test_bad_transition_rows():
    env = make_small("metarl/TabularMDP-v0", num_envs=2, seed=0)
    env.reset()
    task = env.task.fields()
    task["transitions"] = task["transitions"] * 2
    with pytest.raises(metarl.BadTaskError, match="rows summing to 1"):
        env.reset(task=task)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a second device")
def test_task_on_wrong_device():
    env = make_small("metarl/BernoulliBandit-v0", num_envs=2, device="cuda", seed=0)
    with pytest.raises(metarl.BadTaskError, match="is on cpu"):
        env.reset(task={"probs": torch.zeros(2, 3)})


@pytest.mark.parametrize(
    "env_id, kwargs, words",
    [
        ("metarl/BernoulliBandit-v0", {"arms": 0}, ["'arms'", "integer in [1, 100000]", "got 0"]),
        ("metarl/BernoulliBandit-v0", {"pulls": 2.5}, ["'pulls'", "integer"]),
        ("metarl/BernoulliBandit-v0", {"arms": True}, ["'arms'"]),
        ("metarl/TabularMDP-v0", {"states": -1}, ["'states'"]),
        ("metarl/Navigation2D-v0", {"max_speed": 0.0}, ["'max_speed'"]),
        ("metarl/Navigation2D-v0", {"speed": 1.0}, ["unknown argument", "max_speed"]),
    ],
)
def test_bad_kwargs(env_id, kwargs, words):
    with pytest.raises(metarl.BadArgumentError) as info:
        metarl.make(env_id, **kwargs)
    for w in [env_id, *words]:
        assert w in str(info.value)


def test_bad_num_envs_split_device_mask():
    with pytest.raises(metarl.BadArgumentError, match="num_envs"):
        metarl.make("metarl/BernoulliBandit-v0", num_envs=0)
    with pytest.raises(metarl.BadArgumentError, match="split"):
        metarl.make("metarl/BernoulliBandit-v0", split="valid")
    with pytest.raises(metarl.BadArgumentError, match="device"):
        metarl.make("metarl/BernoulliBandit-v0", device="tpu")
    env = make_small("metarl/BernoulliBandit-v0", num_envs=4, seed=0)
    env.reset()
    with pytest.raises(metarl.BadArgumentError, match="bool array of shape"):
        env.reset(mask=np.ones(3, dtype=bool))


def test_unchecked_fast_path_skips_validation():
    env = make_small("metarl/BernoulliBandit-v0", num_envs=4, seed=0, check=False)
    env.reset()
    env.step(torch.zeros(4, dtype=torch.int64))  # valid input works the same
    assert not env.check
