"""PEARL's own pieces: the product-of-Gaussians posterior and its online form, the evaluation trial, the sparse
point robot and the dense reward the critics may learn from. The trainer contract is in test_trainer_contract."""

from __future__ import annotations

import math

import torch
from metarl.agents.pearl import ContextEncoder, OnlineBelief, PEARLConfig, PEARLTrainer, evaluate_pearl
from metarl.agents.pearl.encoder import gaussian_entropy, kl_to_prior

import metarl

TINY = {"device": "cpu", "env_kwargs": {"horizon": 5, "goal_radius": 0.0}, "train_tasks": 3,
        "tasks_per_iteration": 2, "initial_steps": 5, "prior_steps": 5, "extra_posterior_steps": 5,
        "gradient_steps": 2, "meta_batch": 2, "batch_size": 4, "context_size": 4, "hidden": [8],
        "encoder_hidden": [8], "latent": 3, "buffer_capacity": 32, "eval_every": 0}


def test_the_posterior_is_the_product_of_the_factors_and_the_online_belief_agrees():
    encoder = ContextEncoder(4, 3, (8,))
    context = torch.randn(2, 6, 4)
    mean, var = encoder.posterior(context)
    factor_mean, factor_var = encoder(context)
    precision = (1 / factor_var).sum(1)
    assert torch.allclose(var, 1 / precision) and torch.allclose(mean, (factor_mean / factor_var).sum(1) / precision)
    belief = OnlineBelief(2, 3, torch.device("cpu"))
    assert torch.allclose(belief.entropy(), gaussian_entropy(torch.ones(2, 3)))  # the prior before any transition
    for t in range(6):
        belief.update(factor_mean[:, t], factor_var[:, t])
    assert torch.allclose(belief.mean, mean, atol=1e-5) and torch.allclose(belief.var, var, atol=1e-6)
    assert torch.allclose(kl_to_prior(torch.zeros(3), torch.ones(3)), torch.tensor(0.0))


def test_masked_transitions_leave_the_belief_alone():
    belief = OnlineBelief(2, 2, torch.device("cpu"))
    belief.update(torch.ones(2, 2), torch.full((2, 2), 0.25), mask=torch.tensor([True, False]))
    assert belief.var[0].tolist() == [0.25, 0.25] and belief.var[1].tolist() == [1.0, 1.0]


def test_evaluation_reports_episodes_and_the_entropy_at_each_step_and_leaves_training_alone(tmp_path):
    trainer = PEARLTrainer(PEARLConfig(**TINY, logdir=str(tmp_path)))
    state = trainer.sampler.get_state()
    scores = evaluate_pearl(trainer, tasks=4, split="test", seed=0, trajectories=3)
    assert scores.returns.shape == (4, 3) and scores.entropy.shape == (4, 16) and scores.step_reward.shape == (4, 15)
    assert torch.allclose(scores.entropy[:, 0], torch.full((4,), 0.5 * 3 * math.log(2 * math.pi * math.e)))
    assert torch.allclose(scores.returns.sum(1), scores.step_reward.sum(1), atol=1e-5)
    assert scores.entropy_at_episode_ends().shape == (4,)
    assert torch.equal(trainer.sampler.get_state(), state)
    again = evaluate_pearl(trainer, tasks=4, split="test", seed=0, trajectories=3)
    assert torch.equal(scores.returns, again.returns)


def test_sparse_point_robot_rewards_only_near_goals_on_the_half_circle():
    env = metarl.make("metarl/Navigation2D-v0", num_envs=256, seed=0, goals="semicircle", reward="sparse",
                      goal_range=1.0, horizon=20)
    env.reset()
    goal = env.task.goal
    assert torch.allclose(goal.norm(dim=1), torch.ones(256)) and bool((goal[:, 1] >= 0).all())
    step = env.step(torch.zeros(256, 2))
    assert torch.equal(step.reward, torch.zeros(256))  # the origin is 1 away from every goal
    assert torch.allclose(env.dense_reward, -torch.ones(256))
    env.reset(task={"goal": torch.full((256, 2), 0.05)})
    step = env.step(torch.zeros(256, 2))
    assert torch.allclose(step.reward, 1 - torch.full((256,), 0.05 * math.sqrt(2)))


def test_critics_learn_from_the_dense_reward_while_the_context_sees_the_sparse_one(tmp_path):
    values = {**TINY, "env_kwargs": {"horizon": 5, "goal_radius": 0.0, "goals": "semicircle", "reward": "sparse",
                                     "goal_range": 1.0}, "critic_reward": "dense"}
    trainer = PEARLTrainer(PEARLConfig(**values, logdir=str(tmp_path)))
    trainer.train_iteration()
    held = trainer.replay.latest(torch.arange(3), 5)
    assert bool((held["critic_reward"] < 0).all()) and bool((held["reward"] >= 0).all())


def test_each_exploration_episode_draws_its_own_z_from_the_prior_then_the_posterior_takes_over(tmp_path):
    trainer = PEARLTrainer(PEARLConfig(**TINY, logdir=str(tmp_path)))
    seen = []
    act = trainer.policy_input
    trainer.policy_input = lambda obs, z: seen.append(z.clone()) or act(obs, z)
    evaluate_pearl(trainer, tasks=2, split="test", seed=0, trajectories=4, exploration=2)
    z = torch.stack(seen).view(4, 5, 2, 3)  # episode, step, task, latent
    assert torch.equal(z, z[:, :1].expand_as(z))  # one z per episode
    assert all(not torch.equal(z[k, 0], z[k + 1, 0]) for k in range(3))  # a fresh draw for every episode
    prior = OnlineBelief(2, 3, torch.device("cpu"))
    generator = torch.Generator().manual_seed(0)
    assert torch.equal(z[0, 0], prior.sample(generator)) and torch.equal(z[1, 0], prior.sample(generator))
