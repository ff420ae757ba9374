"""Meta-World's families beyond the shared contract (which the `env_id` fixture runs on ML1): the benchmark's own
splits, the task as data, exact resume by replay, and the error a user without the extra gets."""

import pickle

import pytest
import torch
from conftest import HAS_METAWORLD, METAWORLD

import metarl

SMALL = {"horizon": 4, "episodes": 2}


def needs_metaworld(test):
    """Marked `metaworld` (run by `make test-metaworld`), skipped where the extra is not installed."""
    for mark in METAWORLD:
        test = mark(test)
    return test


@pytest.mark.skipif(HAS_METAWORLD, reason="checks the error a user without the metaworld extra gets")
@pytest.mark.parametrize("env_id", ["metarl/ML1-v0", "metarl/ML10-v0", "metarl/ML45-v0"])
def test_without_the_extra_the_ids_name_it(env_id):
    with pytest.raises(metarl.MissingExtraError, match=r'pip install "metarl\[metaworld\]"'):
        metarl.make(env_id)


@pytest.fixture
def few_goals(monkeypatch, tmp_path):
    """Meta-World draws 2 goals per environment instead of 50 (its draw resets each environment once per goal)."""
    import metaworld
    from metarl.envs.metaworld import benchmark

    monkeypatch.setattr(metaworld, "_N_GOALS", 2)
    monkeypatch.setattr(benchmark, "cache_dir", lambda: tmp_path)
    benchmark.load.cache_clear()
    yield
    benchmark.load.cache_clear()


@needs_metaworld
def test_ml10_splits_are_the_benchmarks_own(few_goals):
    from metaworld.env_dict import ML10_V3

    env = metarl.make("metarl/ML10-v0", num_envs=1, **SMALL)
    for split in ("train", "test"):
        assert env.split_names(split) == list(ML10_V3[split])
        tasks = env.sample_tasks(100, torch.Generator().manual_seed(0), split=split)
        assert {env.env_names[i] for i in tasks.env_index.tolist()} == set(ML10_V3[split])
        assert torch.equal(env.benchmark_tasks(split).env_index, torch.arange(len(ML10_V3[split])).repeat_interleave(2)
                           + (0 if split == "train" else 10))


@needs_metaworld
def test_ml1_task_is_the_packages_goal_and_drives_the_env():
    import metaworld

    env = metarl.make("metarl/ML1-v0", num_envs=2, seed=0, task="reach-v3", **SMALL)
    theirs = metaworld.ML1("reach-v3", seed=0)
    goals = {tuple(pickle.loads(t.data)["rand_vec"].tolist()) for t in theirs.test_tasks}
    test = env.sample_tasks(20, torch.Generator().manual_seed(0), split="test")
    assert {tuple(row.tolist()) for row in test.rand_vec} <= goals
    train = env.sample_tasks(20, torch.Generator().manual_seed(0), split="train")
    assert not {tuple(row.tolist()) for row in train.rand_vec} & goals
    env.reset(task=test[:2])
    reach = env._pool.envs[0]
    assert torch.allclose(torch.as_tensor(reach._target_pos), test.rand_vec[0, 3:].float().double())


@needs_metaworld
def test_ml10_slots_change_environment_between_trials_and_replay_exactly(few_goals):
    env = metarl.make("metarl/ML10-v0", num_envs=3, seed=1, horizon=3, episodes=1)
    env.reset()
    seen = set()
    for _ in range(12):
        env.step(env.sample_actions(torch.Generator().manual_seed(0)))
        seen |= set(env.task.env_index.tolist())
    assert len(seen) > 3  # trials end every 3 steps and draw tasks of other environments
    twin = metarl.make("metarl/ML10-v0", num_envs=3, seed=7, horizon=3, episodes=1)
    env.step(env.sample_actions())  # part-way through an inner episode
    twin.load_state_dict(env.state_dict())
    generator = torch.Generator().manual_seed(2)
    for _ in range(5):
        action = env.sample_actions(generator)
        a, b = env.step(action), twin.step(action)
        assert torch.equal(a.obs, b.obs) and torch.equal(a.reward, b.reward) and torch.equal(env.success, twin.success)


@needs_metaworld
def test_bad_task_and_split_are_clear_errors():
    env = metarl.make("metarl/ML1-v0", num_envs=2, **SMALL)
    env.reset()
    task = env.sample_tasks(2)
    with pytest.raises(metarl.BadTaskError, match="env_index"):
        env.reset(task={"env_index": task.env_index + 5, "rand_vec": task.rand_vec})
    with pytest.raises(metarl.BadArgumentError, match="validation"):
        metarl.make("metarl/ML1-v0", split="validation", **SMALL)
    with pytest.raises(metarl.BadArgumentError, match="task"):
        metarl.make("metarl/ML1-v0", task="reach-v2")
