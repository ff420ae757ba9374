"""Shared TRPO pieces: conjugate gradient against a direct solve, Fisher-vector products, KL bound, line search."""

import gymnasium
import pytest
import torch
from torch.nn.utils import parameters_to_vector

from metarl.rl import MLPPolicy, conjugate_gradient, trpo_step
from metarl.rl.gradients import gradient_vector, set_gradients
from metarl.rl.trpo import fisher_vector_product, line_search


def spd(n, seed=0):
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=gen, dtype=torch.float64)
    return a @ a.T + n * torch.eye(n, dtype=torch.float64), torch.randn(n, generator=gen, dtype=torch.float64)


def test_conjugate_gradient_matches_a_direct_solve():
    A, b = spd(6)
    x = conjugate_gradient(lambda v: A @ v, b, iterations=6)
    assert torch.allclose(x, torch.linalg.solve(A, b), atol=1e-8)
    few = conjugate_gradient(lambda v: A @ v, b, iterations=2)  # fewer iterations: closer than zero, not exact
    assert (A @ few - b).norm() < b.norm()


def policy_problem(space, seed=0, samples=256):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    policy = MLPPolicy(3, space, hidden=(8,), activation="tanh")
    obs = torch.randn(samples, 3, generator=gen)
    with torch.no_grad():
        old = policy(obs)
        actions = policy.sample(old, gen)
    advantages = torch.randn(samples, generator=gen)

    def objective():
        new = policy(obs)
        ratio = (policy.log_prob(new, actions) - policy.log_prob(old, actions)).exp()
        return -(ratio * advantages).mean(), policy.kl(old, new).mean()

    return policy, objective


@pytest.mark.parametrize("space", [gymnasium.spaces.Discrete(4), gymnasium.spaces.Box(-1, 1, (2,))],
                         ids=["categorical", "gaussian"])
@pytest.mark.parametrize("max_kl", [1e-2, 1e-4])
def test_trpo_step_respects_the_kl_bound_and_improves_the_surrogate(space, max_kl):
    policy, objective = policy_problem(space)
    before = [p.detach().clone() for p in policy.parameters()]
    result = trpo_step(list(policy.parameters()), objective, max_kl=max_kl)
    with torch.no_grad():
        loss, kl = objective()
    assert result.accepted
    assert 0 < float(kl) <= max_kl and result.kl == pytest.approx(float(kl), rel=1e-5)
    assert float(loss) < result.loss_before and result.loss_after == pytest.approx(float(loss), rel=1e-5)
    assert any(not torch.equal(a, p) for a, p in zip(before, policy.parameters(), strict=True))


def test_fisher_vector_product_is_the_hessian_of_the_kl():
    torch.manual_seed(0)
    policy = MLPPolicy(3, gymnasium.spaces.Discrete(3), hidden=(4,), activation="tanh")
    names, params = zip(*policy.named_parameters(), strict=True)
    sizes = [p.numel() for p in params]
    gen = torch.Generator().manual_seed(1)
    obs = torch.randn(64, 3, generator=gen)
    with torch.no_grad():
        old = policy(obs) + 0.3 * torch.randn(64, 3, generator=gen)  # a KL that is not at its minimum

    def kl_at(vector):
        named = {n: c.view_as(p) for n, p, c in zip(names, params, vector.split(sizes), strict=True)}
        return policy.kl(old, torch.func.functional_call(policy, named, (obs,))).mean()

    product = fisher_vector_product(policy.kl(old, policy(obs)).mean(), params, damping=0.1)
    hessian = torch.autograd.functional.hessian(kl_at, parameters_to_vector(params).detach())
    v = torch.randn(sum(sizes), generator=gen)
    assert torch.allclose(product(v), hessian @ v + 0.1 * v, atol=1e-5)


def test_line_search_restores_the_parameters_when_no_step_is_acceptable():
    policy, objective = policy_problem(gymnasium.spaces.Discrete(3))
    params = list(policy.parameters())
    start = parameters_to_vector(params).detach()
    with torch.no_grad():
        loss, _ = objective()
    huge = torch.ones_like(start) * 100.0  # far outside the trust region at every backtrack
    result = line_search(params, huge, objective, float(loss), max_kl=1e-6, max_backtracks=3)
    assert not result.accepted and result.backtracks == 4
    assert torch.equal(parameters_to_vector(params).detach(), start)


def test_gradient_vector_flattens_non_contiguous_tangents_in_their_logical_order():
    transposed = torch.arange(6.0).view(2, 3).T  # not contiguous: parameters_to_vector cannot view it
    assert torch.equal(gradient_vector([transposed, torch.ones(2)]), torch.tensor([0.0, 3, 1, 4, 2, 5, 1, 1]))


def test_set_gradients_writes_each_slice_of_the_vector_into_its_parameters_grad():
    w, b = torch.nn.Parameter(torch.randn(3, 2)), torch.nn.Parameter(torch.randn(3))
    grads = torch.autograd.grad((torch.randn(5, 3) @ w).square().sum() + b.exp().sum(), [w, b])
    set_gradients([w, b], gradient_vector(grads))
    assert torch.equal(w.grad, grads[0]) and torch.equal(b.grad, grads[1])
