"""Behaviour of the child-training families beyond the shared env contract (which runs them via conftest.ENV_IDS)."""

import pytest
import torch

import metarl


def process_of(env_id, **kwargs):
    env = metarl.make(env_id, num_envs=4, seed=0, **kwargs)
    return env, env.process


def test_the_zero_loss_action_trains_exactly_like_cross_entropy():
    env, process = process_of("metarl/LearnedLoss-v0", steps=3, batch_size=8)
    tasks = env.sample_tasks(4, torch.Generator().manual_seed(0), split="test")
    learned, _, _ = process.child(tasks, torch.zeros(4, process.action_size))
    plain, _ = process.fit(tasks, process._initial(tasks), process.child(tasks, torch.zeros(4, process.action_size))[1])
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(learned, plain, strict=True))


def test_meta_kd_held_out_loss_differentiates_through_the_students_training():
    env, process = process_of("metarl/MetaKD-v0", steps=3, batch_size=8, teacher_steps=20)
    tasks = env.sample_tasks(2, torch.Generator().manual_seed(0), split="train")
    delta = torch.zeros(2, process.action_size, requires_grad=True)
    process.held_out_loss(tasks, delta).sum().backward()
    assert torch.isfinite(delta.grad).all() and delta.grad.abs().sum() > 0
    with pytest.raises(NotImplementedError):
        process_of("metarl/ArchitectureSearch-v0", layers=1, steps=1)[1].held_out_loss(tasks, torch.zeros(2, 3))


def test_a_diverging_child_is_marked_failed_and_scores_zero():
    from metarl.envs.child_training.architecture import ArchitectureProcess

    env, _ = process_of("metarl/ArchitectureSearch-v0", layers=1)
    process = ArchitectureProcess({**env.config, "steps": 5, "lr": 1e30})  # beyond the family's range: it overflows
    tasks = env.sample_tasks(2, torch.Generator().manual_seed(0), split="train")
    state = process.start(tasks)
    for choice in (3, 3, 0):  # identity, width 64, no skip: a linear model at a huge learning rate
        state, reward, done = process.advance(state, torch.full((2,), choice), tasks)
    assert bool(done.all()) and bool(state.failed.all()) and bool((reward == 0).all())


def test_augmentation_with_probability_zero_changes_nothing_and_a_shift_moves_pixels():
    env, process = process_of("metarl/Augment-v0", subpolicies=1)
    tasks = env.sample_tasks(1, torch.Generator().manual_seed(0), split="train")
    x = process.data.x[:16].unsqueeze(0)
    never = torch.tensor([[1.0, 0, 7, 1, 0, 7]])  # translate-x and translate-x, both with probability 0
    always = torch.tensor([[1.0, 7, 7, 0, 7, 0]])  # translate-x by 2 pixels with probability 1, then identity
    assert torch.equal(process.augmenter(tasks, never)(x, 0), x)
    shifted = process.augmenter(tasks, always)(x, 0)
    assert not torch.allclose(shifted, x) and shifted.shape == x.shape
    assert bool((shifted.sum(-1) <= x.sum(-1) + 1e-4).all())  # pixels leave the image, none appear


def test_architecture_baselines_are_valid_decisions_and_described():
    env, process = process_of("metarl/ArchitectureSearch-v0")
    for name, choices in process.baselines().items():
        assert choices.shape == (process.decisions,) and int(choices.max()) < process.choices
        assert process.describe(choices).count(">") == process.layers - 1, name


def test_meta_kd_changes_the_teachers_output_or_all_its_weights():
    env, process = process_of("metarl/MetaKD-v0", steps=2, batch_size=8, teacher_steps=20)
    assert env.single_action_space.shape == (11,) and process.baselines()["plain KD, teacher x0.5"][0] < 0
    x = process.data.x[:5].float()
    shifted = torch.zeros(1, 11)
    shifted[0, 1 + 3] = 0.5  # class 3's offset (the first value is the log scale)
    moved = process.teacher_forward(shifted)(None, x) - process.teacher_forward(torch.zeros(1, 11))(None, x)
    assert torch.allclose(moved[..., 3], torch.full_like(moved[..., 3], 0.5)) and moved[..., :3].abs().max() < 1e-6
    weights = process_of("metarl/MetaKD-v0", change="weights", teacher_steps=20)[0]
    assert weights.single_action_space.shape == (650,)


def test_the_scale_free_held_out_loss_ignores_how_confident_a_child_is():
    env, process = process_of("metarl/MetaKD-v0", teacher_steps=20)
    tasks = env.sample_tasks(2, torch.Generator().manual_seed(0), split="train")
    params, forward, _ = process.child(tasks, torch.zeros(2, 11))
    sharper = lambda p, x: 3.0 * forward(p, x) + 1.0  # noqa: E731
    raw, free = process.score(tasks, params, forward), process.score(tasks, params, forward, logit_scale=3.0)
    assert not torch.allclose(raw[1], process.score(tasks, params, sharper)[1])
    assert torch.allclose(free[1], process.score(tasks, params, sharper, logit_scale=3.0)[1], atol=1e-5)
    assert torch.equal(free[0], raw[0])
