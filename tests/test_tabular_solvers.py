"""Tests for the batched tabular-MDP reference policies (metarl.envs.tabular.solvers)."""

from __future__ import annotations

import pytest
import torch
from metarl.envs.tabular.solvers import (
    TABULAR_POLICIES,
    BayesGreedyPolicy,
    OptimalPolicy,
    OptimisticPolicy,
    PSRLPolicy,
    TabularPolicy,
    sample_dirichlet,
    sample_gamma,
    sample_tabular_mdps,
    simulate,
    value_iteration,
)

S, A, H = 10, 5, 10
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _gen(seed: int, device: str = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def _longs(*values: int) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.long)


def _bools(*values: bool) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.bool)


@pytest.fixture(scope="module")
def prior_tasks() -> tuple[torch.Tensor, torch.Tensor]:
    """1000 tasks from the task prior, shared by the score tests."""
    return sample_tabular_mdps(1000, S, A, generator=_gen(2024))


@pytest.fixture(scope="module")
def scores_n10(prior_tasks) -> dict[str, torch.Tensor]:
    P, R = prior_tasks
    out = {}
    for name, cls in TABULAR_POLICIES.items():
        out[name] = simulate(cls(S, A, H, len(P), generator=_gen(1)), P, R, H, 10, _gen(2))
    return out


# ------------------------------------------------------------------------------------------ planning
def test_value_iteration_hand_computed():
    # Two states, two actions, horizon 2.
    # s0: a0 -> reward 1, stay in s0;  a1 -> reward 0, to s1 w.p. 0.8 (else s0).
    # s1: a0 -> reward 3, stay in s1;  a1 -> reward 0, stay in s1.
    P = torch.zeros(1, 2, 2, 2)
    P[0, 0, 0] = torch.tensor([1.0, 0.0])
    P[0, 0, 1] = torch.tensor([0.2, 0.8])
    P[0, 1, 0] = torch.tensor([0.0, 1.0])
    P[0, 1, 1] = torch.tensor([0.0, 1.0])
    R = torch.tensor([[[1.0, 0.0], [3.0, 0.0]]])
    Q, V0 = value_iteration(P, R, horizon=2)
    assert Q.shape == (1, 2, 2, 2)
    # Last step: Q = R, V_1 = (1, 3).
    torch.testing.assert_close(Q[0, 1], R[0])
    # First step: Q(s0,a0) = 1 + 1 = 2, Q(s0,a1) = 0.2 * 1 + 0.8 * 3 = 2.6, Q(s1,a0) = 6, Q(s1,a1) = 3.
    torch.testing.assert_close(Q[0, 0], torch.tensor([[2.0, 2.6], [6.0, 3.0]]))
    torch.testing.assert_close(V0[0], torch.tensor([2.6, 6.0]))
    assert Q[0, 0].argmax(-1).tolist() == [1, 0]


def test_optimal_policy_attains_its_value(prior_tasks):
    P, R = prior_tasks
    oracle = OptimalPolicy(S, A, H, len(P))
    scores = simulate(oracle, P, R, H, 5, _gen(3))
    expected = 5 * oracle.values[:, 0]
    diff = scores - expected
    assert abs(diff.mean().item()) < 4 * diff.std().item() / len(P) ** 0.5


def test_optimal_set_task_mask_and_guard():
    P, R = sample_tabular_mdps(3, S, A, generator=_gen(0))
    oracle = OptimalPolicy(S, A, H, 3)
    state, step = torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long)
    with pytest.raises(RuntimeError):
        oracle.act(state, step)
    oracle.set_task(P, R)
    before = oracle.values.clone()
    P2, R2 = sample_tabular_mdps(3, S, A, generator=_gen(1))
    oracle.set_task(P2, R2, mask=_bools(False, True, False))
    torch.testing.assert_close(oracle.values[[0, 2]], before[[0, 2]])
    torch.testing.assert_close(oracle.values[1], value_iteration(P2[1:2], R2[1:2], H)[1][0])


# ------------------------------------------------------------------------------------------ sampling
@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.5, 10.0])
def test_gamma_moments(alpha: float):
    x = sample_gamma(torch.full((200_000,), alpha), _gen(0))
    se = (alpha / x.numel()) ** 0.5
    assert abs(x.mean().item() - alpha) < 5 * se
    assert abs(x.var().item() / alpha - 1) < 0.03
    digamma = torch.special.digamma(torch.tensor(alpha)).item()
    se_log = (torch.special.polygamma(1, torch.tensor(alpha)).item() / x.numel()) ** 0.5
    assert abs(x.log().mean().item() - digamma) < 5 * se_log
    assert (x > 0).all()


def test_dirichlet_reproducible_and_normalised():
    alpha = 1 + torch.randint(0, 4, (50, 7), generator=_gen(5)).float()
    a, b = sample_dirichlet(alpha, _gen(9)), sample_dirichlet(alpha, _gen(9))
    assert torch.equal(a, b)
    torch.testing.assert_close(a.sum(-1), torch.ones(50))
    P, R = sample_tabular_mdps(4, S, A, generator=_gen(1))
    torch.testing.assert_close(P.sum(-1), torch.ones(4, S, A))
    assert R.shape == (4, S, A)


# ------------------------------------------------------------------------------------------ PSRL posterior
def test_psrl_posterior_matches_conjugate_formulas():
    policy = PSRLPolicy(4, 2, 3, num_envs=2)
    no = _bools(False, False)
    # env 0: (0,1)->2 r=2.0, (2,0)->2 r=-1.0, (0,1)->3 r=0.5;  env 1: (1,0)->1 three times, r = 1, 1, 4.
    seq = [
        ((0, 1), (1, 0), (2, 1), (2.0, 1.0)),
        ((2, 1), (0, 0), (2, 1), (-1.0, 1.0)),
        ((0, 1), (1, 0), (3, 1), (0.5, 4.0)),
    ]
    for (s0, s1), (a0, a1), (n0, n1), (r0, r1) in seq:
        policy.update(_longs(s0, s1), _longs(a0, a1), torch.tensor([r0, r1]), _longs(n0, n1), no, no)
    alpha, mean, var = policy.posterior()
    expected_alpha = torch.ones(2, 4, 2, 4)
    expected_alpha[0, 0, 1, 2] += 1
    expected_alpha[0, 2, 0, 2] += 1
    expected_alpha[0, 0, 1, 3] += 1
    expected_alpha[1, 1, 0, 1] += 3
    torch.testing.assert_close(alpha, expected_alpha)
    # Prior N(1, 1), noise variance 1: var = 1 / (1 + n), mean = var * (1 + sum r).
    assert mean[0, 0, 1].item() == pytest.approx((1 + 2.5) / 3)
    assert var[0, 0, 1].item() == pytest.approx(1 / 3)
    assert mean[0, 2, 0].item() == pytest.approx(0.0)
    assert var[0, 2, 0].item() == pytest.approx(1 / 2)
    assert mean[1, 1, 0].item() == pytest.approx((1 + 6) / 4)
    assert var[1, 1, 0].item() == pytest.approx(1 / 4)
    assert mean[0, 3, 1].item() == 1.0 and var[0, 3, 1].item() == 1.0  # unvisited: the prior


def test_psrl_posterior_general_prior():
    policy = PSRLPolicy(2, 1, 1, 1, reward_prior_mean=0.5, reward_prior_var=2.0, noise_var=4.0)
    no = _bools(False)
    for r in (3.0, -1.0):
        policy.update(_longs(0), _longs(0), torch.tensor([r]), _longs(1), no, no)
    _, mean, var = policy.posterior()
    v = 1 / (1 / 2.0 + 2 / 4.0)
    assert var[0, 0, 0].item() == pytest.approx(v)
    assert mean[0, 0, 0].item() == pytest.approx(v * (0.5 / 2.0 + 2.0 / 4.0))


def test_psrl_samples_follow_posterior():
    B = 4000
    policy = PSRLPolicy(3, 1, 2, B, generator=_gen(4))
    no = torch.zeros(B, dtype=torch.bool)
    zeros = torch.zeros(B, dtype=torch.long)
    for nxt, r in ((1, 2.0), (1, 0.0), (2, 3.0)):  # (0,0) -> counts (0, 2, 1), reward sum 5 over 3
        policy.update(zeros, zeros, torch.full((B,), r), torch.full((B,), nxt), no, no)
    P, R = policy.sample_mdp()
    torch.testing.assert_close(P[:, 0, 0].mean(0), torch.tensor([1 / 6, 3 / 6, 2 / 6]), atol=0.01, rtol=0)
    # Dirichlet(1, 3, 2) marginal variance of the middle component: a_i (a0 - a_i) / (a0^2 (a0 + 1)).
    assert P[:, 0, 0, 1].var().item() == pytest.approx(3 * 3 / (36 * 7), rel=0.08)
    assert R[:, 0, 0].mean().item() == pytest.approx(6 / 4, abs=0.03)
    assert R[:, 0, 0].var().item() == pytest.approx(1 / 4, rel=0.08)
    assert R[:, 1, 0].var().item() == pytest.approx(1.0, rel=0.08)


def test_psrl_trial_end_resets_posterior():
    policy = PSRLPolicy(3, 2, 2, 2)
    s, a, n = _longs(0, 0), _longs(1, 1), _longs(2, 2)
    no = _bools(False, False)
    policy.update(s, a, torch.tensor([5.0, 5.0]), n, no, no)
    policy.update(s, a, torch.tensor([5.0, 5.0]), n, _bools(True, True), _bools(True, False))
    alpha, mean, var = policy.posterior()
    torch.testing.assert_close(alpha[0], torch.ones(3, 2, 3))
    torch.testing.assert_close(mean[0], torch.ones(3, 2))
    torch.testing.assert_close(var[0], torch.ones(3, 2))
    assert alpha[1, 0, 1, 2].item() == 3.0
    assert mean[1, 0, 1].item() == pytest.approx(11 / 3)


def test_psrl_samples_once_per_episode():
    gen = _gen(6)
    policy = PSRLPolicy(S, A, H, 4, generator=gen)
    state, reward = torch.zeros(4, dtype=torch.long), torch.zeros(4)
    no, yes = torch.zeros(4, dtype=torch.bool), torch.ones(4, dtype=torch.bool)
    policy.act(state, torch.zeros(4, dtype=torch.long))  # first act draws the episode's MDP
    rng_state = gen.get_state()
    policy.update(state, state, reward, state, no, no)
    policy.act(state, torch.ones(4, dtype=torch.long))  # mid-episode: no new draw
    assert torch.equal(gen.get_state(), rng_state)
    policy.update(state, state, reward, state, yes, no)
    policy.act(state, torch.zeros(4, dtype=torch.long))  # new episode: a new draw
    assert not torch.equal(gen.get_state(), rng_state)


# ------------------------------------------------------------------------------------------ interface
def test_registry():
    assert set(TABULAR_POLICIES) == {"random", "psrl", "bayes-greedy", "bayes-ucb", "optimal"}
    for name, cls in TABULAR_POLICIES.items():
        assert issubclass(cls, TabularPolicy) and cls.name == name


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(TABULAR_POLICIES))
def test_shapes_dtypes_devices(name: str, device: str):
    B = 6
    P, R = sample_tabular_mdps(B, S, A, generator=_gen(0, device), device=device)
    assert P.device.type == device and P.shape == (B, S, A, S) and R.shape == (B, S, A)
    policy = TABULAR_POLICIES[name](S, A, H, B, device=device, generator=_gen(1))  # CPU generator is fine
    if isinstance(policy, OptimalPolicy):
        policy.set_task(P, R)
    state = torch.randint(0, S, (B,), device=device)
    step = torch.randint(0, H, (B,), device=device)
    action = policy.act(state, step)
    assert action.shape == (B,) and action.dtype == torch.int64 and action.device.type == device
    assert ((action >= 0) & (action < A)).all()
    end = torch.zeros(B, dtype=torch.bool, device=device)
    policy.update(state, action, torch.randn(B, device=device), state, end, end)
    scores = simulate(policy, P, R, H, 2, _gen(2, device))
    assert scores.shape == (B,) and scores.dtype == torch.float32 and scores.device.type == device


@pytest.mark.parametrize("name", sorted(TABULAR_POLICIES))
def test_determinism(name: str):
    P, R = sample_tabular_mdps(64, S, A, generator=_gen(0))

    def run(seed: int) -> torch.Tensor:
        policy = TABULAR_POLICIES[name](S, A, H, 64, generator=_gen(seed))
        return simulate(policy, P, R, H, 3, _gen(seed + 100))

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))


# ------------------------------------------------------------------------------------------ scores
def test_ordering_optimal_psrl_random(scores_n10):
    opt, psrl, rnd = (scores_n10[k].mean().item() for k in ("optimal", "psrl", "random"))
    assert opt > psrl + 50 and psrl > rnd + 20


def test_optimism_explores_better_than_greedy_and_both_beat_psrl(scores_n10):
    greedy, ucb, psrl = (scores_n10[k].mean().item() for k in ("bayes-greedy", "bayes-ucb", "psrl"))
    assert ucb > greedy > psrl, (ucb, greedy, psrl)


def test_optimistic_policy_plans_with_the_posterior_mean_and_bonus():
    """One state, two actions: after one reward of 3 on action 0, greedy keeps it; a large bonus tries action 1."""
    one = torch.zeros(1, dtype=torch.long)
    for cls, kwargs, expected in [(BayesGreedyPolicy, {}, 0), (OptimisticPolicy, {"bonus": 10.0}, 1)]:
        policy = cls(1, 2, 1, 1, **kwargs)
        policy.update(one, one, torch.tensor([3.0]), one, _bools(True), _bools(False))
        assert policy.act(one, one).item() == expected


def test_published_levels_n10(scores_n10):
    # RL² paper, Table 2 (1000 trials): Random 100.1, PSRL 138.1 at n = 10.
    assert abs(scores_n10["random"].mean().item() - 100.1) < 3
    assert abs(scores_n10["psrl"].mean().item() - 138.1) < 6


def test_psrl_prior_mean_zero_matches_published_n10(prior_tasks):
    # With a N(0, 1) prior on reward means (instead of the true N(1, 1)) PSRL exploits earlier and
    # scores about 4 more at n = 10, which lands on the published 138.1.
    P, R = prior_tasks
    policy = PSRLPolicy(S, A, H, len(P), generator=_gen(1), reward_prior_mean=0.0)
    assert abs(simulate(policy, P, R, H, 10, _gen(2)).mean().item() - 138.1) < 3
