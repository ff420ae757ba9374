"""Each bad input raises a metarl exception naming the env id, the argument and what was expected."""

import copy
import errno
import os
import subprocess
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch
from conftest import SMALL, make_small, rollout

import metarl
from metarl.cli import main

FAST = ["--set", "num_envs=8", "--set", "hidden=8", "--no-progress", "--device", "cpu"]


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


TEACH = "metarl/Teach-v0"


@pytest.mark.parametrize("value", [2, 0.5, -1, float("nan")])
def test_multibinary_actions_must_be_zero_or_one_in_every_view(value):
    env = make_small(TEACH, num_envs=2, seed=0)
    env.reset()
    action = torch.zeros(2, 4)
    action[1, 2] = value
    with pytest.raises(metarl.BadActionError, match="MultiBinary action values must be 0 or 1"):
        env.step(action)
    single = gymnasium.make(TEACH, **SMALL[TEACH])
    single.reset(seed=0)
    with pytest.raises(metarl.BadActionError, match="must be 0 or 1"):
        single.step(action[1].numpy())
    vector = gymnasium.make_vec(TEACH, num_envs=2, **SMALL[TEACH])
    vector.reset(seed=0)
    with pytest.raises(metarl.BadActionError, match="must be 0 or 1"):
        vector.step(action.numpy())


def test_multibinary_accepts_bool_integer_and_exact_float_actions_alike():
    keep = torch.tensor([[1, 0, 1, 1], [0, 0, 1, 0]])
    observations = []
    for action in (keep.bool(), keep.to(torch.int8), keep, keep.float(), keep.numpy().astype(np.int8)):
        env = make_small(TEACH, num_envs=2, seed=0)
        env.reset()
        observations.append(env.step(action).obs)
    assert all(torch.equal(obs, observations[0]) for obs in observations)


def test_list_shows_the_multibinary_action_space(capsys):
    assert main(["list"]) == 0
    (line,) = [row for row in capsys.readouterr().out.splitlines() if row.startswith(TEACH)]
    assert "MultiBinary(20)" in line and "Discrete" not in line


def _same(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _bad_task(env):
    """The current tasks with one field a row short: a shape error every family rejects."""
    fields = env.task.fields()
    name = next(iter(fields))
    return {**fields, name: fields[name][:-1]}


def test_a_rejected_reset_changes_nothing(env_id):
    env = make_small(env_id, num_envs=3, seed=0)
    twin = make_small(env_id, num_envs=3, seed=0)
    for e in (env, twin):
        e.reset()
        rollout(e, 3)
    before, obs = copy.deepcopy(env.state_dict()), env._observe().clone()
    mask = torch.tensor([True, False, True])
    rejected = [
        {"task": _bad_task(env)},
        {"task": _bad_task(env), "mask": mask},
        {"task": _bad_task(env), "seed": 5},
        {"task": [1, 2, 3]},
        {"mask": torch.ones(2, dtype=torch.bool)},
        {"mask": torch.ones(3)},
        {"seed": "abc"},
        {"seed": 1.5},
        {"seed": 1, "mask": mask},
    ]
    for kwargs in rejected:
        with pytest.raises(metarl.MetaRLError):
            env.reset(**kwargs)
        assert _same(env.state_dict(), before), kwargs
        assert torch.equal(env._observe(), obs), kwargs
    gen_a, gen_b = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    for _ in range(4):  # and it goes on exactly like an env that never saw the rejected calls
        a, b = env.step(env.sample_actions(gen_a)), twin.step(twin.sample_actions(gen_b))
        assert torch.equal(a.obs, b.obs) and torch.equal(a.reward, b.reward)


def test_a_rejected_view_reset_keeps_the_view_generator():
    envs = gymnasium.make_vec("metarl/BernoulliBandit-v0", num_envs=2, arms=3, pulls=5)
    envs.reset(seed=0)
    state = copy.deepcopy(envs.unwrapped.np_random.bit_generator.state)
    with pytest.raises(metarl.BadTaskError):
        envs.reset(seed=7, options={"task": {"probs": np.zeros((2, 2), np.float32)}})
    assert envs.unwrapped.np_random.bit_generator.state == state
    single = gymnasium.make("metarl/BernoulliBandit-v0", arms=3, pulls=5)
    single.reset(seed=0)
    state = copy.deepcopy(single.unwrapped.np_random.bit_generator.state)
    with pytest.raises(metarl.BadTaskError):
        single.reset(options={"task": {"probs": np.full(3, 2.0, np.float32)}})
    assert single.unwrapped.np_random.bit_generator.state == state


@pytest.mark.parametrize("call, words", [
    (lambda env: env.step("left"), ["action", "real numbers"]),
    (lambda env: env.step(None), ["action", "real numbers"]),
    (lambda env: env.step(np.array([1 + 2j] * 4)), ["action", "real numbers"]),
    (lambda env: env.step(torch.zeros(4, dtype=torch.complex64)), ["action", "real numbers"]),
    (lambda env: env.step([[0], [1, 2], [0], [0]]), ["action", "rectangular"]),
    (lambda env: env.reset(seed="abc"), ["seed must be an integer", "'abc'"]),
    (lambda env: env.sample_tasks(-1), ["n must be a non-negative integer", "-1"]),
    (lambda env: env.sample_tasks(2.5), ["n must be a non-negative integer"]),
])
def test_api_mistakes_are_metarl_errors(call, words):
    env = make_small("metarl/BernoulliBandit-v0", num_envs=4, seed=0)
    env.reset()
    with pytest.raises(metarl.MetaRLError) as info:
        call(env)
    for w in words:
        assert w in str(info.value)
    with pytest.raises(metarl.BadArgumentError, match="seed must be an integer"):
        metarl.make("metarl/BernoulliBandit-v0", seed="abc")


def test_filesystem_mistakes_are_one_line_exit_2(tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("x")
    train = ["train", "rl2", "--env-kwargs", "arms=2,pulls=4", "--total-steps", "16", *FAST]
    cases = [(tmp_path / "file" / "runs", "Not a directory")]
    if Path("/proc/self").exists():
        cases.append((Path("/proc/runs"), "/proc/runs"))
    for logdir, words in cases:
        assert main([*train, "--logdir", str(logdir)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("metarl: error: cannot use") and words in err, err
    read_only = tmp_path / "mounted"

    def refuse(path, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(os, "mkdir", refuse)  # what every write below a read-only mount point gets
    assert main([*train, "--logdir", str(read_only)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(read_only) in err and "Read-only file system" in err, err


def test_a_programming_error_is_not_hidden_as_a_filesystem_error(monkeypatch):
    import metarl.cli

    def broken(args):
        raise OSError(errno.EBADF, "Bad file descriptor")  # not a path or disk problem of the user

    monkeypatch.setattr(metarl.cli, "cmd_list", broken)
    with pytest.raises(OSError):
        main(["list"])


FULL_DISK = """
import errno, os
import torch

def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as a write to a full disk fails

torch.save = full_disk
"""


def test_a_full_disk_is_one_line_exit_2_in_a_real_process(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(FULL_DISK)
    logdir = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, "-m", "metarl.cli", "train", "rl2", "--env-kwargs", "arms=2,pulls=4", "--total-steps",
            "16", "--logdir", str(logdir), *FAST]
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "No space left on device" in result.stderr and str(logdir) in result.stderr


def test_solvers_on_a_family_without_solvers_names_those_that_have_them(capsys):
    assert main(["solvers", "--env", TEACH, "--trials", "4"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no reference solvers" in err
    assert "metarl/BernoulliBandit-v0" in err and "metarl/TabularMDP-v0" in err
