"""Shared RL math: GAE against hand-computed values, the PPO loss, rollout chunking, running statistics."""

import pytest
import torch

from metarl.rl import ActionHead, Rollout, RunningMeanStd, clipped_surrogate, gae, value_loss

GAMMA, LAM = 0.9, 0.5


def reference_gae(rewards, values, last_value, ends, terminal, truncation_values):
    """One environment, written out step by step."""
    T = len(rewards)
    adv = [0.0] * T
    running = 0.0
    for t in reversed(range(T)):
        if terminal[t]:
            next_value = 0.0
        elif ends[t]:
            next_value = truncation_values[t]
        else:
            next_value = values[t + 1] if t + 1 < T else last_value
        delta = rewards[t] + GAMMA * next_value - values[t]
        running = delta + (0.0 if ends[t] else GAMMA * LAM * running)
        adv[t] = running
    return adv


def test_gae_matches_hand_computation_with_truncation_and_trial_boundaries():
    rewards = [1.0, 0.0, 2.0, 1.0, 0.5, 3.0]
    values = [0.5, 0.2, 1.0, 0.3, 0.7, 0.1]
    ends = [False, True, False, True, False, False]  # a truncation at t=1, a terminal boundary at t=3, cut at t=5
    terminal = [False, False, False, True, False, False]
    trunc_values = [0.0, 4.0, 0.0, 0.0, 0.0, 0.0]
    last = 2.0
    adv, ret = gae(torch.tensor(rewards)[:, None], torch.tensor(values)[:, None], torch.tensor([last]),
                   torch.tensor(ends)[:, None], torch.tensor(terminal)[:, None], GAMMA, LAM,
                   truncation_values=torch.tensor(trunc_values)[:, None])
    expected = reference_gae(rewards, values, last, ends, terminal, trunc_values)
    assert adv[:, 0].tolist() == pytest.approx(expected, abs=1e-6)
    assert ret[:, 0].tolist() == pytest.approx([a + v for a, v in zip(expected, values, strict=True)], abs=1e-6)
    # hand-checked values at the boundaries
    assert float(adv[3, 0]) == pytest.approx(1.0 - 0.3)  # terminal: no bootstrap, nothing after
    assert float(adv[1, 0]) == pytest.approx(0.0 + GAMMA * 4.0 - 0.2)  # truncated: bootstrap with its own value
    assert float(adv[5, 0]) == pytest.approx(3.0 + GAMMA * 2.0 - 0.1)  # rollout cut: bootstrap with last_value


def test_gae_columns_are_independent_and_truncation_needs_values():
    torch.manual_seed(0)
    r, v = torch.randn(5, 3), torch.randn(5, 3)
    end = torch.zeros(5, 3, dtype=torch.bool)
    end[2, 1] = True
    adv, _ = gae(r, v, torch.zeros(3), end, end, GAMMA, LAM)
    for b in range(3):
        alone, _ = gae(r[:, b:b + 1], v[:, b:b + 1], torch.zeros(1), end[:, b:b + 1], end[:, b:b + 1], GAMMA, LAM)
        assert torch.allclose(adv[:, b], alone[:, 0])
    with pytest.raises(ValueError, match="truncation_values"):
        gae(r, v, torch.zeros(3), end, torch.zeros_like(end), GAMMA, LAM)


def test_gae_with_a_per_step_lambda_skips_steps_that_change_nothing():
    """λ = 1 (and γ = 1) on steps whose value does not change and that earn nothing: GAE there equals GAE on the
    sequence with those steps removed, repeated (the learned teacher counts λ per student update this way)."""
    clock = torch.tensor([0, 0, 1, 1, 1, 2, 3, 3])  # the process advances after steps 1, 4, 5 and at the end
    values_of = torch.tensor([0.3, 0.9, -0.4, 1.2])
    rewards_of = torch.tensor([0.5, 0.0, -1.0, 2.0])
    values = values_of[clock].unsqueeze(1)
    advances = torch.cat([clock[1:] != clock[:-1], torch.tensor([True])])
    rewards = torch.where(advances, rewards_of[clock], 0.0).unsqueeze(1)
    end = torch.zeros(8, 1, dtype=torch.bool)
    end[-1] = True
    lam = torch.where(advances, 0.7, 1.0).unsqueeze(1)
    adv, ret = gae(rewards, values, torch.zeros(1), end, end, 1.0, lam)
    short_end = torch.tensor([[False], [False], [False], [True]])
    short_adv, short_ret = gae(rewards_of.unsqueeze(1), values_of.unsqueeze(1), torch.zeros(1), short_end, short_end,
                               1.0, 0.7)
    assert torch.allclose(adv, short_adv[clock]) and torch.allclose(ret, short_ret[clock])


def test_clipped_surrogate_clips_and_reports_diagnostics():
    adv = torch.tensor([1.0, -1.0])
    old = torch.zeros(2)
    new = torch.log(torch.tensor([1.5, 0.5]))  # ratios 1.5 and 0.5, both outside [0.8, 1.2]
    out = clipped_surrogate(new, old, adv, clip=0.2)
    assert float(out.loss) == pytest.approx(-(1.2 * 1.0 + 0.8 * -1.0) / 2)  # min picks the clipped terms
    assert float(out.clip_fraction) == 1.0 and float(out.approx_kl) > 0


def test_clipped_surrogate_stops_the_gradient_only_past_the_clip_in_the_advantages_direction():
    logprob = torch.log(torch.tensor([1.5, 1.5, 1.0])).requires_grad_(True)
    clipped_surrogate(logprob, torch.zeros(3), torch.tensor([1.0, -1.0, 1.0]), clip=0.2).loss.backward()
    # ratio 1.5 with A > 0 is clipped (no gradient); with A < 0 the unclipped term is the minimum (gradient r A / n)
    assert torch.allclose(logprob.grad, torch.tensor([0.0, 1.5 / 3, -1.0 / 3]))


@pytest.mark.parametrize("value_clip, expected", [(None, 0.5 * (0.5**2 + 2.0**2) / 2),
                                                  (0.2, 0.5 * (0.8**2 + 2.0**2) / 2)])
def test_value_loss_is_half_the_squared_error_and_clips_the_change_from_the_old_value(value_clip, expected):
    value, old_value, returns = torch.tensor([0.5, 1.0]), torch.zeros(2), torch.tensor([1.0, -1.0])
    # clipped, the values become 0.2 and 0.2; the larger error of each is kept: 0.8 (clipped), 2.0 (unclipped)
    assert float(value_loss(value, old_value, returns, value_clip)) == pytest.approx(expected)


@pytest.mark.parametrize("space", ["discrete", "box", "multibinary"])
def test_action_head_log_prob_entropy_and_kl_match_torch_distributions(space):
    import gymnasium

    gen = torch.Generator().manual_seed(0)

    def reference_of(params):
        if space == "discrete":
            return torch.distributions.Categorical(logits=params)
        if space == "multibinary":
            return torch.distributions.Independent(torch.distributions.Bernoulli(logits=params), 1)
        return torch.distributions.Independent(torch.distributions.Normal(params, head.log_std.exp()), 1)

    if space == "discrete":
        head = ActionHead(gymnasium.spaces.Discrete(4), 6)
        params = head(torch.randn(500, 6, generator=gen)) * 100
    elif space == "multibinary":
        head = ActionHead(gymnasium.spaces.MultiBinary(3), 6)
        params = head(torch.randn(500, 6, generator=gen)) * 100
    else:
        head = ActionHead(gymnasium.spaces.Box(-1, 1, (2,)), 6, init_log_std=-0.5)
        params = head(torch.randn(500, 6, generator=gen))
    reference = reference_of(params)
    action = head.sample(params, gen)
    assert torch.allclose(head.log_prob(params, action), reference.log_prob(action.float()), atol=1e-4)
    assert torch.allclose(head.entropy(params), reference.entropy(), atol=1e-4)
    other = params + torch.randn(params.shape, generator=gen)
    expected_kl = torch.distributions.kl_divergence(reference, reference_of(other))
    assert torch.allclose(head.kl(params, other), expected_kl, atol=1e-4)


def test_bernoulli_sampling_follows_the_distribution_and_mode_thresholds_at_zero():
    import gymnasium

    head = ActionHead(gymnasium.spaces.MultiBinary(3), 1)
    logits = torch.logit(torch.tensor([0.2, 0.5, 0.9])).expand(20000, 3)
    action = head.sample(logits, torch.Generator().manual_seed(0))
    assert action.dtype == torch.long and action.shape == (20000, 3)
    assert torch.allclose(action.float().mean(0), torch.tensor([0.2, 0.5, 0.9]), atol=0.015)
    assert head.mode(torch.tensor([[-1.0, 2.0, 0.5]])).tolist() == [[0, 1, 1]]


def test_gumbel_sampling_follows_the_distribution():
    import gymnasium

    head = ActionHead(gymnasium.spaces.Discrete(3), 1)
    logits = torch.log(torch.tensor([0.2, 0.5, 0.3])).expand(20000, 3)
    counts = torch.bincount(head.sample(logits, torch.Generator().manual_seed(0)), minlength=3) / 20000
    assert torch.allclose(counts, torch.tensor([0.2, 0.5, 0.3]), atol=0.015)


def test_rollout_chunks_keep_time_order_per_sequence():
    r = Rollout(6, 2, {"x": ((), torch.float32)})
    for t in range(6):
        r.put(t, x=torch.tensor([10.0 * t, 10.0 * t + 1]))
    chunks = r.chunks(3)["x"]
    assert chunks.shape == (3, 4)
    assert chunks[:, 0].tolist() == [0, 10, 20] and chunks[:, 1].tolist() == [1, 11, 21]
    assert chunks[:, 2].tolist() == [30, 40, 50] and chunks[:, 3].tolist() == [31, 41, 51]
    with pytest.raises(ValueError, match="divide"):
        r.chunks(4)


def test_running_mean_std_matches_batch_statistics():
    x = torch.randn(1000, dtype=torch.float64) * 3 + 2
    stats = RunningMeanStd(epsilon=0.0 + 1e-12)
    for part in x.split(137):
        stats.update(part)
    assert float(stats.mean) == pytest.approx(float(x.mean()), rel=1e-6)
    assert float(stats.var) == pytest.approx(float(x.var(unbiased=False)), rel=1e-6)
