"""The batched engine's contract: shapes, devices, determinism, trials, autoreset, task imposition."""

import pytest
import torch
from conftest import ENV_IDS, FINITE_TASK_IDS, SMALL, make_small, rollout

import metarl


def test_shapes_dtypes_devices(env_id, device):
    env = make_small(env_id, num_envs=5, device=device, seed=0)
    obs = env.reset()
    assert obs.shape == (5, *env.single_observation_space.shape) and obs.dtype == torch.float32
    assert obs.device.type == device.type
    step = env.step(env.sample_actions())
    for name in ("obs", "final_obs"):
        assert getattr(step, name).shape == obs.shape
    assert step.reward.shape == (5,) and step.reward.dtype == torch.float32
    for flag in (step.terminated, step.truncated, step.trial_end):
        assert flag.shape == (5,) and flag.dtype == torch.bool and flag.device.type == device.type
    for tensor in env.task.fields().values():
        assert tensor.device.type == device.type and tensor.shape[0] == 5


def test_same_seed_same_trajectories(env_id):
    runs = []
    for _ in range(2):
        env = make_small(env_id, num_envs=6, seed=123)
        env.reset()
        runs.append(rollout(env, 40))
    for a, b in zip(*runs, strict=True):
        assert torch.equal(a.obs, b.obs) and torch.equal(a.reward, b.reward)
        assert torch.equal(a.trial_end, b.trial_end)


def test_different_seeds_differ(env_id):
    fields = []
    for seed in (1, 2):
        env = make_small(env_id, num_envs=6, seed=seed)
        env.reset()
        fields.append(next(iter(env.task.fields().values())))
    assert not torch.equal(*fields)


def test_thread_count_does_not_change_results(env_id):
    results = []
    threads = torch.get_num_threads()
    try:
        for n in (1, max(2, threads)):
            torch.set_num_threads(n)
            env = make_small(env_id, num_envs=300, seed=5)
            env.reset()
            results.append(torch.stack([s.reward for s in rollout(env, 30)]))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(results[0], results[1])


def test_env_i_does_not_depend_on_batch_size(env_id):
    """Environment i sees the same tasks and rewards alone or in a batch, given the same actions."""
    small_env = make_small(env_id, num_envs=3, seed=7)
    big_env = make_small(env_id, num_envs=50, seed=7)
    small_env.reset(), big_env.reset()
    gen = torch.Generator().manual_seed(0)
    for _ in range(3 * small_env.trial_steps):
        actions = big_env.sample_actions(gen)
        a, b = small_env.step(actions[:3]), big_env.step(actions)
        assert torch.equal(a.reward, b.reward[:3]) and torch.equal(a.obs, b.obs[:3])
        assert torch.equal(a.trial_end, b.trial_end[:3])
        for name, value in small_env.task.fields().items():
            assert torch.equal(value, getattr(big_env.task, name)[:3])


def test_task_held_for_trial_then_resampled(env_id):
    env = make_small(env_id, num_envs=8, seed=3)
    env.reset()
    def rows(task):  # every field of each task as one row
        return torch.cat([value.reshape(value.shape[0], -1).double() for value in task.fields().values()], 1)

    current = rows(env.task)
    changes = 0
    gen = torch.Generator().manual_seed(1)
    for _ in range(4 * env.trial_steps):
        step = env.step(env.sample_actions(gen))
        now = rows(env.task)
        changed = (now != current).any(1)
        if env_id in FINITE_TASK_IDS:  # the next trial may draw the same task again
            assert not (changed & ~step.trial_end).any(), "task must change only at trial ends"
        else:
            assert torch.equal(changed, step.trial_end), "task must change exactly at trial ends"
        changes += int(changed.sum())
        current = now.clone()
    assert changes > 0


def test_trial_is_episodes_inner_episodes():
    env = metarl.make("metarl/TabularMDP-v0", num_envs=4, horizon=5, episodes=3, seed=0)
    env.reset()
    steps = rollout(env, 30)
    ends = torch.stack([s.episode_end for s in steps])
    trials = torch.stack([s.trial_end for s in steps])
    assert ends[4::5].all() and ends.sum() == 6 * 4
    assert trials[14::15].all() and trials.sum() == 2 * 4
    assert not torch.stack([s.terminated for s in steps]).any()


def test_bandit_trial_is_pulls_steps():
    env = metarl.make("metarl/BernoulliBandit-v0", num_envs=2, arms=2, pulls=4, seed=0)
    env.reset()
    trials = torch.stack([s.trial_end for s in rollout(env, 12)])
    assert trials[3::4].all() and trials.sum() == 3 * 2


def test_navigation_terminates_at_goal_and_truncates_at_horizon():
    env = metarl.make("metarl/Navigation2D-v0", num_envs=2, horizon=50, episodes=2, seed=0)
    env.reset(task={"goal": torch.tensor([[0.05, 0.0], [0.4, 0.4]])})
    step = env.step(torch.tensor([[0.05, 0.0], [0.1, 0.1]]))
    assert step.terminated.tolist() == [True, False] and not step.truncated.any()
    assert step.reward[0] == 0.0 and torch.isclose(step.reward[1], -torch.tensor(0.3 * 2**0.5))
    assert torch.equal(step.final_obs[0], torch.tensor([0.05, 0.0])) and torch.equal(step.obs[0], torch.zeros(2))
    assert not step.trial_end.any()
    for _ in range(49):
        step = env.step(torch.zeros(2, 2))
    assert step.truncated.tolist() == [False, True] and not step.trial_end.any()  # env 1: 50 steps, 1st episode
    step = env.step(torch.zeros(2, 2))
    assert step.truncated.tolist() == [True, False] and step.trial_end.tolist() == [True, False]
    assert not step.terminated.any()


def test_navigation_clips_actions():
    env = metarl.make("metarl/Navigation2D-v0", num_envs=1, seed=0)
    env.reset(task={"goal": torch.tensor([[0.5, 0.5]])})
    step = env.step(torch.tensor([[3.0, -3.0]]))
    assert torch.equal(step.obs, torch.tensor([[0.1, -0.1]]))


def test_reset_mask_restarts_only_masked(env_id):
    env = make_small(env_id, num_envs=4, seed=0)
    env.reset()
    rollout(env, 2)
    before = {k: v.clone() for k, v in env.task.fields().items()}
    steps_before = env.episode_step.clone()
    mask = torch.tensor([True, False, True, False])
    env.reset(mask=mask)
    assert env.episode_step[mask].eq(0).all() and torch.equal(env.episode_step[~mask], steps_before[~mask])
    for name, old in before.items():
        new = getattr(env.task, name)
        shared = bool((old == old[:1]).all() and (new == old).all())  # a field every task of the split shares
        assert torch.equal(new[~mask], old[~mask]) and (shared or not torch.equal(new[mask], old[mask]))


def test_set_task_imposes_task(env_id):
    env = make_small(env_id, num_envs=3, seed=0)
    env.reset()
    task = env.sample_tasks(3, torch.Generator().manual_seed(9), split="test")
    env.set_task(task)
    for name, value in task.fields().items():
        assert torch.equal(getattr(env.task, name), value)


def test_imposed_bandit_task_drives_rewards():
    env = metarl.make("metarl/BernoulliBandit-v0", num_envs=2, arms=2, pulls=50, seed=0)
    env.reset(task={"probs": torch.tensor([[1.0, 0.0], [0.0, 1.0]])})
    rewards = torch.stack([env.step(torch.tensor([0, 0])).reward for _ in range(20)])
    assert rewards[:, 0].eq(1).all() and rewards[:, 1].eq(0).all()


def test_bandit_rewards_match_probabilities():
    env = metarl.make("metarl/BernoulliBandit-v0", num_envs=20000, arms=2, pulls=1000, seed=0)
    env.reset(task={"probs": torch.tensor([[0.3, 0.8]]).repeat(20000, 1)})
    rewards = torch.stack([env.step(torch.ones(20000, dtype=torch.int64)).reward for _ in range(5)])
    assert abs(float(rewards.mean()) - 0.8) < 0.005


def test_tabular_statistics_match_task():
    env = metarl.make("metarl/TabularMDP-v0", num_envs=20000, states=3, actions=2, horizon=1, episodes=100, seed=0)
    env.reset()
    task = env.task
    step = env.step(torch.ones(20000, dtype=torch.int64))
    expected_next = task.transitions[:, 0, 1]
    next_state = step.final_obs.argmax(1)
    for s in range(3):
        assert abs(float((next_state == s).float().mean() - expected_next[:, s].mean())) < 0.015
    noise = step.reward - task.reward_mean[:, 0, 1]
    assert abs(float(noise.mean())) < 0.03 and abs(float(noise.std()) - 1.0) < 0.03


def test_task_distribution_moments():
    gen = torch.Generator().manual_seed(0)
    probs = metarl.make("metarl/BernoulliBandit-v0").sample_tasks(20000, gen).probs
    assert abs(float(probs.mean()) - 0.5) < 0.01 and abs(float(probs.var()) - 1 / 12) < 0.003
    mdp = metarl.make("metarl/TabularMDP-v0").sample_tasks(2000, gen)
    assert torch.allclose(mdp.transitions.sum(-1), torch.ones(1), atol=1e-5)
    assert abs(float(mdp.transitions.mean()) - 0.1) < 1e-3 and abs(float(mdp.transitions.var()) - 9 / 1100) < 5e-4
    assert abs(float(mdp.reward_mean.mean()) - 1.0) < 0.02 and abs(float(mdp.reward_mean.std()) - 1.0) < 0.02
    goal = metarl.make("metarl/Navigation2D-v0").sample_tasks(20000, gen).goal
    assert goal.abs().max() <= 0.5 and abs(float(goal.var()) - 1 / 12) < 0.003


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_splits_disjoint_and_reproducible(env_id):
    if env_id in FINITE_TASK_IDS:
        pytest.skip("two tasks only (forward, backward): both splits hold both")
    env = metarl.make(env_id, **SMALL[env_id])
    name = next(iter(env.task_shapes(1)))

    def draw(split):
        return getattr(env.sample_tasks(500, torch.Generator().manual_seed(0), split=split), name).reshape(500, -1)

    train, test = draw("train"), draw("test")
    assert torch.equal(train, draw("train"))
    assert not (train[:, None, :] == test[None, :, :]).all(-1).any(), "a task appears in both splits"


def test_trials_in_test_split_differ_from_train(env_id):
    if env_id in FINITE_TASK_IDS:
        pytest.skip("two tasks only (forward, backward): both splits hold both")
    a = make_small(env_id, num_envs=50, seed=0, split="train")
    b = make_small(env_id, num_envs=50, seed=0, split="test")
    a.reset(), b.reset()
    name = next(iter(a.task.fields()))
    assert not (getattr(a.task, name) == getattr(b.task, name)).reshape(a.num_envs, -1).all(1).any()


@pytest.mark.parametrize("autoreset_check", [True, False])
def test_prefetched_tasks_equal_direct_draws(autoreset_check):
    """Navigation draws tasks ahead in bulk; a trial ending every step must see exactly its own task."""
    env = metarl.make("metarl/Navigation2D-v0", num_envs=5, horizon=1, episodes=1, seed=4, check=autoreset_check)
    env.reset()
    for _ in range(200):  # far more trials than the prefetch holds
        step = env.step(env.sample_actions())
        assert step.trial_end.all()
        assert torch.equal(env.task.goal, env._trial_tasks().goal)
    assert env._trial_index.eq(200).all()


def test_device_runs_are_deterministic_and_batch_independent(env_id, device):
    """The masked, sync-free update path used on accelerators keeps both invariants."""
    small_env = make_small(env_id, num_envs=3, seed=11, device=device)
    big_env = make_small(env_id, num_envs=40, seed=11, device=device)
    small_env.reset(), big_env.reset()
    gen = torch.Generator().manual_seed(2)
    for _ in range(2 * small_env.trial_steps + 1):
        actions = big_env.sample_actions(gen)
        a, b = small_env.step(actions[:3]), big_env.step(actions)
        assert torch.equal(a.reward, b.reward[:3]) and torch.equal(a.trial_end, b.trial_end[:3])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="compares CPU with CUDA")
def test_cpu_and_cuda_trajectories_agree(env_id):
    runs = []
    for device in ("cpu", "cuda"):
        env = make_small(env_id, num_envs=64, seed=3, device=device)
        env.reset()
        gen = torch.Generator().manual_seed(0)
        runs.append([env.step(env.sample_actions(gen)) for _ in range(2 * env.trial_steps)])
    for cpu, cuda in zip(*runs, strict=True):
        assert torch.allclose(cpu.reward, cuda.reward.cpu(), atol=1e-5)
        assert torch.equal(cpu.trial_end, cuda.trial_end.cpu())


def test_navigation_terminates_inside_the_square_around_the_goal():
    """The original code's test is |dx| < r and |dy| < r: a corner of the square is inside, beyond the disc."""
    env = metarl.make("metarl/Navigation2D-v0", num_envs=3, seed=0, check=False)
    env.reset()
    goal = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    env.reset(task=env.task_type(goal=goal))
    step = env.step(torch.tensor([[0.009, 0.009], [0.011, 0.0], [0.0, -0.005]]))
    assert step.terminated.tolist() == [True, False, True]
    assert torch.allclose(step.reward, -torch.tensor([0.009 * 2 ** 0.5, 0.011, 0.005]))
