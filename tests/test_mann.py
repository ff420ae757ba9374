"""The memory-augmented network: LRUA memory mechanics, online scores, training on the labels the online view shows."""

import torch
from metarl.agents.mann import MANN, MANNConfig, MANNTrainer, OnlineScores


def test_lrua_writes_to_the_least_used_slots_and_erases_the_least_used_one():
    net = MANN(inputs=6, classes=2, hidden=8, slots=5, width=3, heads=1, usage_decay=0.5)
    state = net.initial_state(1)
    state = state._replace(usage=torch.tensor([[3.0, 0.1, 2.0, 4.0, 5.0]]), memory=torch.ones(1, 5, 3))
    with torch.no_grad():
        net.gate.bias.fill_(-30.0)  # sigmoid(alpha) ~ 0: write only to the least-used slot
        net.gate.weight.zero_()
        _, after = net.step(torch.zeros(1, 6), state)
    keys = torch.tanh(net.keys(after.h)).view(1, 1, 3)
    changed = (after.memory - state.memory).abs().sum(-1)[0]
    assert changed.argmax() == 1 and torch.allclose(after.memory[0, 1], keys[0, 0], atol=1e-5), "erased, then written"
    assert torch.allclose(changed[[0, 2, 3, 4]], torch.zeros(4), atol=1e-5)
    assert torch.allclose(after.read_weights.sum(-1), torch.ones(1, 1))


def test_online_scores_by_instance_and_last_steps():
    correct = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 0.0]])
    seen = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 2]])
    scores = OnlineScores(correct, seen)
    assert scores.instance(1)[0] == 0.25 and scores.instance(2)[0] == 1.0 and scores.instance(3)[0] == 0.0
    assert scores.last(2)[0] == 0.75 and scores.trial()[0] == 0.5


def test_it_answers_through_the_online_view_and_learns_the_labels_it_reveals(tmp_path):
    import metarl
    from metarl.fewshot import shown_before

    config = MANNConfig(env_kwargs={"ways": 2, "instances": 3}, num_envs=4, hidden=8, memory_slots=4, memory_width=4,
                        read_heads=1, total_steps=4 * 6 * 2, validate_every=1000, device="cpu", logdir=str(tmp_path))
    trainer = MANNTrainer(config)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.fit(progress=False)
    assert trainer.global_step == config.total_steps
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(), strict=True))
    loss, scores = trainer.play(metarl.make(config.env, num_envs=5, seed=3, split="test", **config.env_kwargs), False)
    env = metarl.make(config.env, num_envs=5, seed=3, split="test", **config.env_kwargs)
    env.reset()
    assert torch.equal(scores.seen, shown_before(env.task.label)), "the targets are the labels the trials showed"
    assert scores.correct.shape == (5, 6) and torch.isfinite(loss)


def test_a_trial_at_once_matches_step_by_step():
    torch.manual_seed(0)
    net = MANN(inputs=6, classes=3, hidden=8, slots=5, width=3, heads=2)
    xs = torch.rand(4, 2, 6)
    logits, state = net(xs)
    stepped = net.initial_state(2)
    for t in range(4):
        out, stepped = net.step(xs[t], stepped)
        assert torch.allclose(out, logits[t], atol=1e-6)
    assert torch.allclose(state.memory, stepped.memory, atol=1e-6)


def test_images_are_pooled_to_the_configured_side(tmp_path):
    config = MANNConfig(env_kwargs={"ways": 2, "instances": 2}, num_envs=2, hidden=8, memory_slots=4,
                        memory_width=4, read_heads=1, image_size=7, device="cpu", logdir=str(tmp_path))
    trainer = MANNTrainer(config)
    assert trainer.model.project.in_features == 7 * 7 + 2
    observations = torch.cat([torch.ones(3, 2, trainer.pixels), torch.eye(2).expand(3, 2, 2)], -1)
    inputs = trainer.inputs(observations)
    assert inputs.shape == (3, 2, 51) and torch.allclose(inputs[..., :49], torch.ones(3, 2, 49))
    assert torch.equal(inputs[..., 49:], observations[..., trainer.pixels:]), "the previous label is kept"


def test_key_strength_sets_the_starting_sharpness_of_the_reads():
    net = MANN(inputs=6, classes=2, hidden=8, slots=5, width=3, heads=1, key_strength=11.0)
    beta = 1.0 + torch.nn.functional.softplus(net.strength.bias)
    assert torch.allclose(beta, torch.tensor([11.0]))
