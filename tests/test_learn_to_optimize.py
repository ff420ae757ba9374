"""The LearnToOptimize family: every optimizee kind on both checkers, batched losses and gradients equal a
per-instance reference, LogAndSign at its threshold, divergence as a terminal state, disjoint digits pools."""

import math

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env as gym_check_env
from metarl.envs.learn_to_optimize.process import OptimizationProcess, log_and_sign
from metarl.envs.learning_process.digits import load_digits
from metarl.envs.learning_process.optimizees import make_optimizee
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import metarl
from metarl import random as mrandom

ID = "metarl/LearnToOptimize-v0"
SMALL = {"hidden": 5, "batch_size": 16, "horizon": 5}


@pytest.mark.filterwarnings("ignore:.*unconventional shape", "ignore:.*Box observation space m.* value is -?infinity")
@pytest.mark.parametrize("kind", ["logistic", "mlp", "synthetic"])  # quadratic: the generic suites (tests/conftest.py)
def test_every_optimizee_kind_passes_env_checkers(kind):
    gym_check_env(gymnasium.make(ID, optimizee=kind, **SMALL).unwrapped)
    sb3_check_env(gymnasium.make(ID, optimizee=kind, rl2=True, **SMALL).unwrapped, warn=False)
    envs = gymnasium.make_vec(ID, num_envs=2, optimizee=kind, **SMALL)
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (2, envs.unwrapped.env.optimizee.size, 6)


def reference_loss(kind, optimizee, theta, task, step):
    """One instance at a time with ordinary modules (no batching over instances)."""
    if kind == "quadratic":
        return ((task.matrix[0] @ theta - task.target[0]) ** 2).sum()
    layers, params, first = [], {}, 0
    for i, (a, b) in enumerate(zip(optimizee.sizes[:-1], optimizee.sizes[1:], strict=False)):
        layers += [torch.nn.Linear(a, b), torch.nn.Sigmoid()]
        params[f"{2 * i}.weight"] = theta[first : first + a * b].view(a, b).T
        params[f"{2 * i}.bias"] = theta[first + a * b : first + a * b + b]
        first += a * b + b
    module = torch.nn.Sequential(*layers[:-1])

    def model(x):
        return torch.func.functional_call(module, params, (x,))
    if kind == "synthetic":
        x, y = optimizee._examples(task, torch.tensor([step]), optimizee.config["batch_size"])
        x, y = x[0], y[0]
    else:
        data = optimizee.data
        u = mrandom.lanes(mrandom.combine(task.data_key, torch.tensor([step])), optimizee.config["batch_size"])[0]
        pool = int(task.pool[0])
        index = int(data.fit_start[pool]) + (u * int(data.fit_size[pool])).long()
        x, y = data.x[index], data.y[index]
    return torch.nn.functional.cross_entropy(model(x), y)


@pytest.mark.parametrize("kind", ["quadratic", "logistic", "mlp", "synthetic"])
def test_batched_losses_and_gradients_equal_per_instance_reference(kind):
    optimizee = make_optimizee(kind, {"hidden": 6, "layers": 2, "batch_size": 8, "dims": 5})
    process = OptimizationProcess(optimizee)
    task = optimizee.tasks_from_keys(mrandom.env_keys(3, 4), pool=1)
    theta = task.init + 0.1 * torch.randn(task.init.shape, generator=torch.Generator().manual_seed(0))
    step = torch.tensor([0, 1, 7, 7])
    loss, grad = process.loss_and_grad(theta, task, step)
    for i in range(4):
        row = theta[i].clone().requires_grad_(True)
        expected = reference_loss(kind, optimizee, row, task[i], int(step[i]))
        (expected_grad,) = torch.autograd.grad(expected, row)
        assert torch.allclose(loss[i], expected.detach(), rtol=1e-5, atol=1e-6)
        assert torch.allclose(grad[i], expected_grad, rtol=1e-4, atol=1e-6)


def test_batched_env_equals_one_env_per_instance():
    kwargs = {"optimizee": "mlp", "hidden": 4, "batch_size": 8, "horizon": 4}
    batched = metarl.make(ID, num_envs=3, seed=0, **kwargs)
    batched.reset()
    singles = []
    for i in range(3):
        env = metarl.make(ID, num_envs=1, seed=9, **kwargs)
        env.reset(task=batched.task[i])
        singles.append(env)
    gen = torch.Generator().manual_seed(1)
    for _ in range(6):  # past the trial end: autoreset draws new tasks, so compare only the first trial
        action = 0.05 * torch.randn(3, batched.optimizee.size, generator=gen)
        step = batched.step(action)
        for i, env in enumerate(singles):
            one = env.step(action[i : i + 1])
            assert torch.allclose(one.reward, step.reward[i : i + 1], atol=1e-6)
            assert torch.allclose(one.final_obs, step.final_obs[i : i + 1], atol=1e-5)
        if step.trial_end.any():
            break


def test_log_and_sign_at_the_threshold():
    p = 10.0
    threshold = torch.tensor(math.exp(-p), dtype=torch.float32)
    below = torch.nextafter(threshold, torch.tensor(0.0))
    above = torch.nextafter(threshold, torch.tensor(1.0))
    g = torch.stack([threshold, -threshold, below, -below, above, torch.tensor(0.0), torch.tensor(3.0)])
    out = log_and_sign(g, p)
    expected = torch.tensor([[math.log(float(threshold)) / p, 1.0], [math.log(float(threshold)) / p, -1.0],
                             [-1.0, float(below) * math.exp(p)], [-1.0, -float(below) * math.exp(p)],
                             [math.log(float(above)) / p, 1.0], [-1.0, 0.0], [math.log(3.0) / p, 1.0]])
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.allclose(out[0], out[2], atol=1e-6), "both branches meet at |g| = e^-p"
    huge = log_and_sign(torch.tensor([torch.finfo(torch.float32).max]))
    assert float(huge[0, 0]) <= 9.0  # the observation space's bound


def test_diverging_update_is_a_documented_terminal_state():
    env = metarl.make(ID, num_envs=2, seed=0, optimizee="quadratic", max_update=1e6, diverge_factor=10.0)
    env.reset()
    theta, loss = env.state.theta.clone(), env.state.loss.clone()
    step = env.step(torch.tensor([[1e6] * 10, [0.0] * 10]))
    assert step.terminated.tolist() == [True, False] and step.trial_end.tolist() == [True, False]
    assert torch.isclose(step.reward[0], loss[0] - 10.0 * loss[0])  # the loss counts as the cap
    assert torch.isfinite(step.final_obs).all() and torch.isfinite(step.obs).all()
    assert not torch.equal(env.state.theta[0], theta[0] + 1e6), "the diverging update is not applied"
    with pytest.raises(metarl.BadActionError, match="NaN"):
        env.step(torch.full((2, 10), float("nan")))


def test_nan_loss_ends_the_run_with_a_finite_reward():
    process = OptimizationProcess(make_optimizee("quadratic", {"dims": 3}))
    task = process.optimizee.tasks_from_keys(mrandom.env_keys(0, 2), pool=0)
    state = process.start(task)
    update = torch.tensor([[3e38, -3e38, 3e38], [0.0, 0.0, 0.0]])  # overflows to inf - inf = NaN in W theta
    new, reward, diverged = process.advance(state, update, task)
    assert diverged.tolist() == [True, False] and torch.isfinite(reward).all()
    assert torch.equal(new.theta[0], state.theta[0]) and torch.isfinite(process.observe(new)).all()


def test_digits_pools_are_disjoint_and_tasks_train_on_their_split():
    data = load_digits()
    ranges = [set(range(int(s), int(s + n))) for starts, sizes in ((data.fit_start, data.fit_size),
                                                                 (data.eval_start, data.eval_size))
              for s, n in zip(starts, sizes, strict=True)]
    assert sum(len(r) for r in ranges) == data.x.shape[0] == len(set().union(*ranges))
    env = metarl.make(ID, optimizee="mlp", hidden=4)
    gen = torch.Generator().manual_seed(0)
    assert env.sample_tasks(5, gen, split="test").pool.tolist() == [1] * 5
    assert metarl.make(ID, optimizee="logistic", split="validation").reset().shape == (1, 650, 6)
    assert metarl.make(ID, optimizee="logistic", split="validation").task is None
    with pytest.raises(metarl.BadTaskError, match="pool"):
        env.reset(task={**env.sample_tasks(1, gen).fields(), "pool": torch.tensor([5])})


def test_unknown_optimizee_is_a_clear_error():
    with pytest.raises(metarl.BadArgumentError, match=r"'optimizee'.*one of \['quadratic'"):
        metarl.make(ID, optimizee="resnet")
    assert np.isfinite(gymnasium.make(ID).observation_space.high).all()
