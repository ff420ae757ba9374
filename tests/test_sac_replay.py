"""The SAC update and the task-indexed replay buffer of metarl.rl: storage order, masks, rings, sampling windows,
state; the squashed Gaussian's density, the encoder's gradient through the critics, and learning a bandit."""

from __future__ import annotations

import math

import pytest
import torch

from metarl.errors import BadArgumentError, CheckpointError
from metarl.rl import SAC, SquashedGaussianActor, TaskReplay

SPECS = {"x": ((), torch.float32), "v": ((2,), torch.float32)}


def add(buffer: TaskReplay, tasks: list[int], values: list[float], mask: list[bool] | None = None) -> None:
    x = torch.tensor(values)
    buffer.add(torch.tensor(tasks), None if mask is None else torch.tensor(mask), x=x, v=x[:, None].expand(-1, 2))


def stored(buffer: TaskReplay, task: int) -> list[float]:
    return buffer.latest(torch.tensor([task]), int(buffer.size[task]))["x"][0].tolist()


def test_rows_go_to_their_tasks_in_order_and_masked_rows_nowhere():
    buffer = TaskReplay(3, 10, SPECS)
    add(buffer, [0, 2, 0, 0, 2], [1, 2, 3, 4, 5], mask=[True, True, False, True, True])
    assert buffer.size.tolist() == [2, 0, 2]
    assert stored(buffer, 0) == [1, 4] and stored(buffer, 2) == [2, 5]
    add(buffer, [0], [6])
    assert stored(buffer, 0) == [1, 4, 6]


def test_a_full_ring_overwrites_its_oldest_transitions():
    buffer = TaskReplay(2, 4, SPECS)
    for value in range(6):
        add(buffer, [1, 1], [2 * value, 2 * value + 1])
    assert buffer.size.tolist() == [0, 4] and stored(buffer, 1) == [8, 9, 10, 11]


def test_sampling_draws_only_stored_transitions_and_recent_only_the_newest():
    buffer = TaskReplay(2, 50, SPECS)
    add(buffer, [0] * 20 + [1] * 5, list(range(20)) + [100, 101, 102, 103, 104])
    generator = torch.Generator().manual_seed(0)
    batch = buffer.sample(torch.tensor([0, 1, 0]), 400, generator)
    assert batch["x"].shape == (3, 400) and batch["v"].shape == (3, 400, 2)
    assert set(batch["x"][0].tolist()) == set(map(float, range(20)))
    assert set(batch["x"][1].tolist()) == {100.0, 101.0, 102.0, 103.0, 104.0}
    recent = buffer.sample(torch.tensor([0]), 400, generator, recent=3)["x"][0]
    assert set(recent.tolist()) == {17.0, 18.0, 19.0}


def test_clear_empties_only_the_named_tasks():
    buffer = TaskReplay(3, 10, SPECS)
    add(buffer, [0, 1, 2], [1, 2, 3])
    buffer.clear(torch.tensor([1, 2]))
    assert buffer.size.tolist() == [1, 0, 0]
    add(buffer, [1], [7])
    assert stored(buffer, 1) == [7]


def test_state_round_trip_continues_exactly_and_a_misfit_state_is_refused():
    buffer = TaskReplay(2, 8, SPECS)
    add(buffer, [0, 1, 1], [1, 2, 3])
    copy = TaskReplay(2, 8, SPECS)
    copy.load_state_dict(buffer.state_dict())
    for b in (buffer, copy):
        add(b, [1, 0], [4, 5])
    one, two = (b.sample(torch.tensor([0, 1]), 16, torch.Generator().manual_seed(3)) for b in (buffer, copy))
    assert torch.equal(one["x"], two["x"]) and torch.equal(buffer.size, copy.size)
    with pytest.raises(CheckpointError, match="does not fit"):
        TaskReplay(3, 8, SPECS).load_state_dict(buffer.state_dict())


def test_bad_buffer_arguments_are_clear_errors():
    with pytest.raises(BadArgumentError, match="capacity >= 1"):
        TaskReplay(2, 0, SPECS)
    with pytest.raises(BadArgumentError, match="needs the fields"):
        TaskReplay(2, 4, SPECS).add(torch.tensor([0]), x=torch.zeros(1))


def test_squashed_gaussian_log_density_matches_torch_distributions():
    actor = SquashedGaussianActor(3, 2, (8,))
    obs = torch.randn(64, 3)
    action, log_prob, (mean, log_std) = actor.sample(obs, torch.Generator().manual_seed(0))
    base = torch.distributions.Normal(mean, log_std.exp())
    squashed = torch.distributions.TransformedDistribution(base, [torch.distributions.TanhTransform()])
    expected = squashed.log_prob(action.clamp(-1 + 1e-6, 1 - 1e-6)).sum(-1)
    assert torch.allclose(log_prob, expected, atol=1e-3)


def test_features_get_the_critics_gradient_and_the_aux_loss_joins_it():
    sac = SAC(2 + 3, 1, (8,), generator=torch.Generator().manual_seed(0))
    encoder = torch.nn.Linear(4, 3)
    n = 16
    features = encoder(torch.randn(n, 4))
    sac.update(torch.randn(n, 2), torch.rand(n, 1) * 2 - 1, torch.randn(n), torch.randn(n, 2), torch.zeros(n),
               features=features, aux_loss=features.square().sum() * 0.0)
    assert encoder.weight.grad is not None and encoder.weight.grad.abs().sum() > 0
    actor_only = SAC(2, 1, (8,), generator=torch.Generator().manual_seed(0))
    before = [p.clone() for p in actor_only.critic.parameters()]
    actor_only.update(torch.randn(n, 2), torch.rand(n, 1) * 2 - 1, torch.randn(n), torch.randn(n, 2), torch.zeros(n))
    assert any(not torch.equal(a, b) for a, b in zip(before, actor_only.critic.parameters(), strict=True))


def test_sac_learns_a_one_step_continuous_bandit_and_tunes_its_temperature():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    sac = SAC(1, 1, (32, 32), lr=3e-3, gamma=0.0, alpha=0.1, target_entropy=-1.0, generator=generator)
    obs = torch.zeros(64, 1)
    for _ in range(150):
        action = sac.act(obs, generator)
        reward = -(action[:, 0] - 0.5).abs()  # best action: 0.5
        out = sac.update(obs, action, reward, obs, torch.ones(64), generator=generator)
    greedy = float(sac.act(obs[:1], deterministic=True))
    assert abs(greedy - 0.5) < 0.15, greedy
    assert float(out["alpha"]) != pytest.approx(0.1) and math.isfinite(float(out["critic_loss"]))
