"""The Teach family: every student on both checkers, batched students equal a per-instance reference, disjoint
data, the terminal reward, non-finite students and empty streams."""

import functools
import math

import gymnasium
import pytest
import torch
from gymnasium.utils.env_checker import check_env as gym_check_env
from metarl.envs.teach.process import STUDENTS, TeachingProcess
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import metarl
from metarl import random as mrandom

ID = "metarl/Teach-v0"
SMALL = {"batch_size": 4, "horizon": 6, "max_updates": 3, "hidden": 5}


@pytest.mark.parametrize("student", ["mlp", "synthetic"])  # logistic: the generic suites (tests/conftest.py)
def test_every_student_passes_env_checkers(student):
    gym_check_env(gymnasium.make(ID, student=student, **SMALL).unwrapped)
    sb3_check_env(gymnasium.make(ID, student=student, rl2=True, **SMALL).unwrapped, warn=False)
    envs = gymnasium.make_vec(ID, num_envs=2, student=student, **SMALL)
    obs, _ = envs.reset(seed=0)
    classes = 2 if student == "synthetic" else 10
    assert obs.shape == (2, 4, 2 * classes + 5)
    obs, reward, terminated, truncated, _ = envs.step(envs.action_space.sample())
    assert obs.shape == (2, 4, 2 * classes + 5) and reward.shape == (2,)


def reference_run(process, task, keeps):
    """One logistic student at a time, with a Python list as the buffer and plain autograd."""
    M, theta, buffer, rewards, updates = process.M, task.init[0].clone(), [], [], 0
    for t, keep in enumerate(keeps):
        ids = torch.arange(M) + t * M
        buffer += [int(i) for i, k in zip(ids, keep, strict=True) if k]
        reward = 0.0
        if len(buffer) >= M:
            x, y = process.examples(task, torch.tensor([buffer[:M]]))
            w = theta.clone().requires_grad_(True)
            logits = x[0] @ w[: 64 * 10].view(64, 10) + w[64 * 10 :]
            (grad,) = torch.autograd.grad(torch.nn.functional.cross_entropy(logits, y[0]), w)
            theta, buffer, updates = theta - process.lr * grad, buffer[M:], updates + 1
            if float(process._accuracy(theta[None], task, 0)[0]) >= process.tau:
                rewards.append(-math.log(updates / process.max_updates))
                return theta, rewards
        rewards.append(reward)
    return theta, rewards


def test_batched_students_equal_a_per_instance_reference():
    process = TeachingProcess("logistic", {"batch_size": 5, "tau": 0.6, "lr": 1.0})
    task = process.tasks_from_keys(mrandom.env_keys(4, 3), split=1)
    keeps = torch.rand(12, 3, 5, generator=torch.Generator().manual_seed(0)) < 0.6
    state, rewards, done = process.start(task), [], torch.zeros(3, dtype=torch.bool)
    thetas = []
    for t in range(12):
        new, reward, terminal = process.advance(state, keeps[t], task)
        state = state.where(~done, new)  # finished students stay as they ended
        rewards.append(torch.where(done, 0.0, reward))
        thetas.append(state.theta)
        done = done | terminal
    for i in range(3):
        theta, expected = reference_run(process, task[i], keeps[:, i].tolist())
        got = [float(r[i]) for r in rewards[: len(expected)]]
        assert got == pytest.approx(expected, abs=1e-5)
        assert torch.allclose(thetas[len(expected) - 1][i], theta, atol=1e-5)


BATCH_TOLERANCE = 1e-5
"""README (Determinism): Teach-v0 agrees across batch sizes to this absolute tolerance, not bit for bit."""


@pytest.mark.parametrize("student", STUDENTS)
def test_batched_env_equals_one_env_per_instance(student):
    """Environment i alone and in a batch: the same task, trial end and reward, and observations and student
    parameters within the README's stated tolerance, for every student."""
    kwargs = {"student": student, "batch_size": 6, "hidden": 5, "tau": 0.99, "max_updates": 20, "noise": 0.2,
              "imbalance": 0.3}
    close = functools.partial(torch.testing.assert_close, rtol=0.0, atol=BATCH_TOLERANCE)
    batched = metarl.make(ID, num_envs=3, seed=0, **kwargs)
    first = batched.reset()
    alone = metarl.make(ID, num_envs=1, seed=0, **kwargs)  # env 0 of the same seed, with B = 1
    close(alone.reset(), first[:1])
    singles = []
    for i in range(3):
        env = metarl.make(ID, num_envs=1, seed=9, **kwargs)
        env.reset(task=batched.task[i])
        singles.append(env)
    gen = torch.Generator().manual_seed(1)
    for _ in range(12):
        action = (torch.rand(3, 6, generator=gen) < 0.7).float()
        step = batched.step(action)
        for i, env in enumerate([*singles, alone]):
            j = i % 3
            one = env.step(action[j : j + 1])
            assert torch.equal(one.trial_end, step.trial_end[j : j + 1])
            close(one.reward, step.reward[j : j + 1])
            close(one.final_obs, step.final_obs[j : j + 1])
            close(env.state.theta, batched.state.theta[j : j + 1])


def digits_rows(process, task):
    """The image rows a digits task's stream, dev set and test set use."""
    data, pool, stream = process.model.data, int(task.pool[0]), int(task.stream[0])
    half = int(data.eval_size[pool]) // 2
    start = int(data.eval_start[pool])
    return (set(range(int(data.fit_start[pool]), int(data.fit_start[pool]) + stream)),
            set(range(start, start + half)), set(range(start + half, start + int(data.eval_size[pool]))))


def test_teacher_and_student_data_are_disjoint():
    process = TeachingProcess("logistic")
    parts = []
    for split in (0, 1):
        task = process.tasks_from_keys(mrandom.env_keys(0, 2), split=split)
        ids = torch.arange(4000).expand(2, -1)
        x, _ = process.examples(task, ids)
        rows = {int(r) for r in (x[0].unsqueeze(1) == process.model.data.x.unsqueeze(0)).all(-1).nonzero()[:, 1]}
        stream, dev, test = digits_rows(process, task)
        assert rows <= stream
        parts += [stream, dev, test]
    for i, a in enumerate(parts):
        for b in parts[i + 1 :]:
            assert not a & b
    synthetic = TeachingProcess("synthetic", {"stream_size": 0})
    task = synthetic.tasks_from_keys(mrandom.env_keys(0, 1), split=0)
    stream_x, _ = synthetic.examples(task, torch.arange(2000)[None])
    dev_x, _ = synthetic.examples(task, torch.arange(512)[None] - (1 << 30))
    assert not (stream_x[0].unsqueeze(1) == dev_x[0].unsqueeze(0)).all(-1).any()


def test_synthetic_noise_and_imbalance():
    process = TeachingProcess("synthetic", {"noise": 0.0, "imbalance": 0.8})
    task = process.tasks_from_keys(mrandom.env_keys(0, 2), split=0)
    x, y = process.examples(task, torch.arange(20000).expand(2, -1))
    assert float(y.float().mean()) == pytest.approx(0.2, abs=0.02)
    noisy = TeachingProcess("synthetic", {"noise": 0.3, "imbalance": 0.8})
    _, y_noisy = noisy.examples(task, torch.arange(20000).expand(2, -1))
    assert float((y != y_noisy).float().mean()) == pytest.approx(0.3, abs=0.02)


@pytest.mark.parametrize("tau, budget", [(0.5, 100), (1.01, 4)])
def test_terminal_reward_formula(tau, budget):
    env = metarl.make(ID, num_envs=4, seed=0, batch_size=10, tau=min(tau, 1.0) if tau <= 1 else 1.0,
                      max_updates=budget, horizon=1000)
    env.reset()
    total, ended = torch.zeros(4), torch.zeros(4, dtype=torch.bool)
    while not ended.all():
        before = env.state
        step = env.step(torch.ones(4, 10))
        first = ~ended & step.trial_end
        if tau <= 1:
            expected = -torch.log((before.updates + 1).float() / budget)
            reached = first & step.terminated
            assert torch.allclose(step.reward[reached], expected[reached])
        total += torch.where(ended, 0.0, step.reward)
        ended |= step.trial_end
    if tau > 1:  # accuracy 1 on every dev image within 4 updates does not happen: the budget ends with reward 0
        assert torch.equal(total, torch.zeros(4))
    else:
        assert (total > 0).all() and (total <= math.log(budget)).all()


def test_non_finite_student_ends_with_a_documented_terminal_state():
    process = TeachingProcess("logistic", {"batch_size": 4, "lr": 1e38})
    task = process.tasks_from_keys(mrandom.env_keys(0, 2), split=0)
    state = process.start(task)
    keep = torch.tensor([[True] * 4, [False] * 4])
    for _ in range(3):
        new, reward, terminal = process.advance(state, keep, task)
        if terminal[0]:
            break
        state = new
    assert terminal.tolist() == [True, False] and new.failed.tolist() == [True, False]
    assert reward.tolist() == [0.0, 0.0] and torch.equal(new.theta[0], state.theta[0])
    assert torch.isfinite(process.observe(new, task)).all()


def test_empty_stream_and_bad_actions_are_clear_errors():
    env = metarl.make(ID, num_envs=2, batch_size=4)
    env.reset()
    fields = env.task.fields()
    with pytest.raises(metarl.BadTaskError, match="stream is empty"):
        env.reset(task={**fields, "stream": torch.tensor([0, 5])})
    with pytest.raises(metarl.BadTaskError, match="larger than the fit part"):
        env.reset(task={**fields, "stream": torch.tensor([10**6, 5])})
    with pytest.raises(metarl.BadActionError, match="NaN"):
        env.step(torch.full((2, 4), float("nan")))
    small = metarl.make(ID, num_envs=2, batch_size=4, stream_size=1, seed=0)  # a one-image stream still works
    small.reset()
    assert torch.isfinite(small.step(torch.ones(2, 4)).obs).all()
