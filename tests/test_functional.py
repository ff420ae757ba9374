"""Functional adaptation (metarl.rl.functional) against explicit copy-and-step, for every network it adapts."""

import copy

import gymnasium
import pytest
import torch
import torch.nn.functional as F
from metarl.agents.fewshot.backbones import build_net

from metarl.rl import MLPPolicy, adapt, per_task_call, task_params

TASKS, ALPHA = 3, 0.3


def pg_loss(policy, out, actions, advantages):
    return -(policy.log_prob(out, actions) * advantages).mean(-1)


def policy_case(space):
    """An MLP policy with a policy-gradient loss: x = observations, y = (actions, advantages)."""
    def make(gen):
        policy = MLPPolicy(2, space, hidden=(6, 5), init_log_std=-0.3)
        obs = torch.randn(2, TASKS, 16, 2, generator=gen)  # (pre/post, task, sample, obs)
        if isinstance(space, gymnasium.spaces.Discrete):
            actions = torch.randint(0, space.n, (2, TASKS, 16), generator=gen)
        else:
            actions = torch.randn(2, TASKS, 16, 2, generator=gen)
        advantages = torch.randn(2, TASKS, 16, generator=gen)
        return policy, obs, (actions, advantages), lambda out, y: pg_loss(policy, out, *y)
    return make


def conv_case(gen):
    """The few-shot conv backbone (batch norm with per-call statistics) with a 3-way head, cross-entropy."""
    net = build_net((12, 12), 3, channels=4, layers=2, norm="batch")
    x = torch.rand(2, TASKS, 6, 12, 12, generator=gen)
    y = torch.randint(0, 3, (2, TASKS, 6), generator=gen)
    return net, x, (y,), lambda out, y: F.cross_entropy(out.flatten(0, -2), y[0].flatten(), reduction="none"
                                                        ).view(y[0].shape).mean(-1)


def mlp_case(gen):
    """The sinusoid regressor (2 x 40 ReLU), squared error."""
    net = build_net((1,), 1, hidden=(40, 40))
    x = torch.rand(2, TASKS, 10, 1, generator=gen) * 10 - 5
    return net, x, (torch.sin(x),), lambda out, y: (out - y[0]).pow(2).mean((-1, -2))


CASES = {"policy-categorical": policy_case(gymnasium.spaces.Discrete(3)),
         "policy-gaussian": policy_case(gymnasium.spaces.Box(-1, 1, (2,))), "conv-batchnorm": conv_case,
         "mlp-regression": mlp_case}


def pick(y, phase, task=None):
    return tuple(part[phase] if task is None else part[phase, task] for part in y)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("first_order", [False, True], ids=["second-order", "first-order"])
def test_functional_adaptation_matches_an_explicit_copy_and_step(case, first_order):
    torch.manual_seed(0)
    net, x, y, loss = CASES[case](torch.Generator().manual_seed(0))

    # every task at once: per-task parameters, one vmapped pass, one autograd.grad for the meta-batch
    adapted = adapt(lambda p, k: loss(per_task_call(net, p, x[0]), pick(y, 0)).sum(),
                    task_params(dict(net.named_parameters()), TASKS), [ALPHA], first_order)[-1]
    fast = torch.autograd.grad(loss(per_task_call(net, adapted, x[1]), pick(y, 1)).sum(), list(net.parameters()))

    # one task at a time
    slow = [torch.zeros_like(p) for p in net.parameters()]
    for t in range(TASKS):
        if first_order:  # a copy of the network stepped by hand; its gradient after the step is the FOMAML gradient
            clone = copy.deepcopy(net)
            inner = loss(clone(x[0, t]), pick(y, 0, t))
            with torch.no_grad():
                for p, g in zip(clone.parameters(), torch.autograd.grad(inner, list(clone.parameters())), strict=True):
                    p -= ALPHA * g
            grads = torch.autograd.grad(loss(clone(x[1, t]), pick(y, 1, t)), list(clone.parameters()))
        else:  # the step written out: theta' = theta - alpha * grad, differentiated through
            params = dict(net.named_parameters())
            inner = loss(torch.func.functional_call(net, params, (x[0, t],)), pick(y, 0, t))
            g = torch.autograd.grad(inner, list(params.values()), create_graph=True)
            stepped = {n: p - ALPHA * gi for (n, p), gi in zip(params.items(), g, strict=True)}
            out = torch.func.functional_call(net, stepped, (x[1, t],))
            grads = torch.autograd.grad(loss(out, pick(y, 1, t)), list(net.parameters()))
        slow = [s + g for s, g in zip(slow, grads, strict=True)]
    for a, b in zip(fast, slow, strict=True):
        assert torch.allclose(a, b, atol=1e-5), (a - b).abs().max()


@pytest.mark.parametrize("case", ["policy-gaussian", "conv-batchnorm"])
def test_second_and_first_order_meta_gradients_differ(case):
    torch.manual_seed(0)
    net, x, y, loss = CASES[case](torch.Generator().manual_seed(0))

    def meta_gradient(first_order):
        adapted = adapt(lambda p, k: loss(per_task_call(net, p, x[0]), pick(y, 0)).sum(),
                        task_params(dict(net.named_parameters()), TASKS), [0.5], first_order)[-1]
        outer = loss(per_task_call(net, adapted, x[1]), pick(y, 1)).sum()
        return torch.cat([g.flatten() for g in torch.autograd.grad(outer, list(net.parameters()))])

    assert not torch.allclose(meta_gradient(False), meta_gradient(True), atol=1e-4)


def test_shared_parameters_keep_each_tasks_batch_statistics():
    torch.manual_seed(0)
    # float64: gradients reach 150, whose float32 rounding differs between the batched and the one-by-one calls
    net = build_net((12, 12), None, channels=4, layers=2, norm="batch").double()
    x = torch.rand(3, 5, 12, 12, dtype=torch.float64)
    x[1] *= 10  # a task whose statistics differ: normalising over the whole batch would change every task's output
    shared = per_task_call(net, None, x)
    one_by_one = torch.stack([net(x[t]) for t in range(3)])
    assert torch.allclose(shared, one_by_one, atol=1e-5)
    assert not torch.allclose(net(x.flatten(0, 1)).view_as(shared), shared, atol=1e-3)
    grads = torch.autograd.grad(shared.sum(), list(net.parameters()))
    reference = torch.autograd.grad(one_by_one.sum(), list(net.parameters()))
    for a, b in zip(grads, reference, strict=True):
        assert torch.allclose(a, b, atol=1e-4)
    task = task_params(dict(net.named_parameters()), 3)
    assert torch.allclose(per_task_call(net, task, x), shared, atol=1e-5), "task parameters give the same result"
