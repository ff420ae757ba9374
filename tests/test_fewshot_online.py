"""The RL views of the few-shot families: the delayed-label contract, trials, splits, RL² and Gymnasium."""

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import metarl


def one_hot(labels, n):
    return torch.nn.functional.one_hot(labels, n).float()


@pytest.mark.parametrize("ways, instances", [(3, 2), (5, 4), (2, 1)])
def test_label_of_step_t_arrives_in_observation_t_plus_1(ways, instances):
    env = metarl.make("metarl/Glyphs-v0", num_envs=6, seed=1, ways=ways, instances=instances)
    obs = env.reset()
    steps = ways * instances
    gen = torch.Generator().manual_seed(0)
    for _ in range(2):
        assert torch.equal(obs[:, 784:], torch.zeros(6, ways)), "no label before the first answer of a trial"
        label = env.task.label.clone()
        assert torch.equal(torch.sort(label, 1).values, torch.arange(ways).repeat_interleave(instances).expand(6, -1))
        for t in range(steps):
            answer = label[:, t]
            action = torch.where(torch.arange(6) < 3, answer, torch.randint(0, ways, (6,), generator=gen))
            step = env.step(action)
            assert torch.equal(step.reward, (action == answer).float())
            assert torch.equal(step.final_obs[:, 784:], one_hot(answer, ways)), "obs t+1 carries the answer to t"
            assert step.trial_end.all() == (t == steps - 1)
            obs = step.obs
        assert torch.equal(step.final_obs[:, :784], torch.zeros(6, 784)), "after the last image: a blank one"
        assert not torch.equal(env.task.label, label) or ways * instances == 2


def test_observed_image_is_the_tasks_image():
    env = metarl.make("metarl/Glyphs-v0", num_envs=4, seed=2, ways=4, instances=3, distortion=0.0)
    obs = env.reset()
    base = env.data.images.float() / 255.0
    for t in range(12):
        task = env.task
        label = task.label[:, t]
        expected = base[task.classes.gather(1, label[:, None])[:, 0], task.instance[:, t]]
        assert torch.equal(obs[:, :784], expected.flatten(1))
        obs = env.step(label).obs


def test_trial_classes_are_distinct_and_from_the_env_split():
    for split in ("train", "validation", "test"):
        env = metarl.make("metarl/Glyphs-v0", num_envs=50, seed=0, split=split, ways=5)
        env.reset()
        allowed = set(env.data.splits[split].tolist())
        assert set(env.task.classes.flatten().tolist()) <= allowed
        assert all(len(set(row)) == 5 for row in env.task.classes.tolist())
        sampled = env.sample_tasks(20, torch.Generator().manual_seed(0), split="test")
        assert set(sampled.classes.flatten().tolist()) <= set(env.data.splits["test"].tolist())


def test_instances_within_a_class_are_distinct():
    env = metarl.make("metarl/Glyphs-v0", num_envs=8, seed=3, ways=4, instances=20)
    env.reset()
    for label in range(4):
        shown = env.task.instance.masked_select(env.task.label == label).view(8, 20)
        assert torch.equal(torch.sort(shown, 1).values, torch.arange(20).expand(8, -1))


def test_rl2_view_appends_action_reward_done():
    env = metarl.make("metarl/Glyphs-v0", num_envs=2, seed=0, ways=3, instances=2, rl2=True)
    assert env.single_observation_space.shape == (784 + 3 + 3 + 2,)
    obs = env.reset()
    assert obs.shape == (2, 792) and torch.equal(obs[:, 784:], torch.zeros(2, 8))
    answer = env.task.label[:, 0]
    step = env.step(answer)
    assert torch.equal(step.obs[:, 784:787], one_hot(answer, 3)), "the previous label"
    assert torch.equal(step.obs[:, 787:790], one_hot(answer, 3)), "the previous action (here the right answer)"
    assert step.obs[:, 790].eq(1).all()


def test_gymnasium_views():
    env = gymnasium.make("metarl/Glyphs-v0", ways=3, instances=2)
    check_env(env.unwrapped)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (787,) and obs.dtype == np.float32
    envs = gymnasium.make_vec("metarl/Glyphs-v0", num_envs=3, ways=3, instances=2, rl2=True)
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (3, 784 + 3 + 3 + 2)
    for _ in range(6):
        obs, reward, terminated, truncated, _ = envs.step(envs.action_space.sample())
    assert truncated.all() and not terminated.any()


def test_too_many_ways_or_instances_are_clear_errors():
    with pytest.raises(metarl.BadArgumentError, match=r"'ways' \(7\) exceeds the 6 classes of the 'validation'"):
        metarl.make("metarl/Glyphs-v0", split="validation", ways=7).reset()
    with pytest.raises(metarl.BadArgumentError, match=r"'instances' \(21\) exceeds the 20 images per class"):
        metarl.make("metarl/Glyphs-v0", instances=21).reset()


def test_imposed_task_is_checked():
    env = metarl.make("metarl/Glyphs-v0", num_envs=2, seed=0, ways=3, instances=2)
    env.reset()
    task = env.task.fields()
    task["label"] = task["label"] + 3
    with pytest.raises(metarl.BadTaskError, match="'label' must hold integers in \\[0, 2\\]"):
        env.reset(task=task)


def test_sinusoid_online_contract():
    env = metarl.make("metarl/Sinusoid-v0", num_envs=3, seed=0, horizon=5)
    obs = env.reset()
    task = env.task
    target = task.amplitude[:, None] * torch.sin(task.inputs - task.phase[:, None])
    assert torch.equal(obs, torch.stack([task.inputs[:, 0], torch.zeros(3), torch.zeros(3)], 1))
    for t in range(5):
        action = torch.tensor([[0.0], [9.0], [-1.0]])
        step = env.step(action)
        prediction = action.clamp(-5, 5)[:, 0]
        assert torch.allclose(step.reward, -(prediction - target[:, t]) ** 2)
        assert torch.allclose(step.final_obs[:, 1], target[:, t]) and step.final_obs[:, 2].eq(1).all()
        if t < 4:
            assert torch.equal(step.obs[:, 0], task.inputs[:, t + 1])
    assert step.trial_end.all() and step.final_obs[:, 0].eq(0).all()
    assert torch.equal(step.obs[:, 1:], torch.zeros(3, 2)), "a new trial starts without a previous target"


def test_sinusoid_bad_arguments_and_tasks():
    with pytest.raises(metarl.BadArgumentError, match="amplitude_low must not exceed amplitude_high"):
        metarl.make("metarl/Sinusoid-v0", amplitude_low=3.0, amplitude_high=2.0)
    env = metarl.make("metarl/Sinusoid-v0", num_envs=1, horizon=2)
    with pytest.raises(metarl.BadTaskError, match="'amplitude'"):
        env.reset(task={"amplitude": torch.tensor([9.0]), "phase": torch.zeros(1), "inputs": torch.zeros(1, 2)})
