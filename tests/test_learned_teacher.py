"""The learned-teacher agent: an unbiased policy gradient with the moving-average baseline, the data selector in
a plain PyTorch loop, meta-training that moves the teacher the rewarded way (the contract every agent keeps is in
test_trainer_contract.py)."""

import math

import pytest
import torch
from metarl.agents.learned_teacher import DataSelector, LearnedTeacherConfig, LearnedTeacherTrainer, TeacherNetwork
from metarl.agents.learned_teacher.rollout import population_teacher
from metarl.agents.learned_teacher.trainer import moving_average_advantages
from metarl.envs.learning_process.digits import load_digits
from metarl.envs.teach.process import TeachingProcess
from torch.nn.utils import parameters_to_vector

from metarl import random as mrandom
from metarl.rl.estimators import population_parameters

SMALL_ENV = {"student": "logistic", "batch_size": 10, "max_updates": 40, "horizon": 80, "tau": 0.8}


def tiny(tmp_path, **overrides):
    values = {"env_kwargs": SMALL_ENV, "students": 4, "eval_students": 4, "checkpoint_every": 2, "device": "cpu",
              "logdir": str(tmp_path), "figures": False, "total_steps": 10**9, **overrides}
    return LearnedTeacherConfig(**values)


def test_policy_gradient_with_moving_average_baseline_is_unbiased():
    """d/dtheta E[sum_m c_m k_m] for k_m ~ Bernoulli(sigmoid(theta_m)) is c_m sigmoid'(theta_m)."""
    theta0, c = torch.tensor([0.3, -1.0, 2.0]), torch.tensor([1.0, -2.0, 0.5])
    gen, baseline, estimates = torch.Generator().manual_seed(0), torch.tensor(float("nan")), []
    for _ in range(400):
        theta = theta0.clone().requires_grad_(True)
        keep = (torch.rand(16, 3, generator=gen) < torch.sigmoid(theta0)).float()
        returns = (keep * c).sum(1)
        advantages, new_baseline = moving_average_advantages(returns, baseline, 0.9)
        log_prob = -torch.nn.functional.binary_cross_entropy_with_logits(theta.expand(16, 3), keep,
                                                                         reduction="none").sum(1)
        if not torch.isnan(baseline):  # the first batch's baseline is its own mean; skip it
            (grad,) = torch.autograd.grad((advantages * log_prob).mean(), theta)
            estimates.append(grad)
        baseline = new_baseline
    estimates = torch.stack(estimates)
    p = torch.sigmoid(theta0)
    error = estimates.mean(0) - c * p * (1 - p)
    assert (error.abs() < 4 * estimates.std(0) / math.sqrt(len(estimates))).all(), error


def test_repeats_teach_each_student_several_times_against_its_own_baseline(tmp_path):
    trainer = LearnedTeacherTrainer(tiny(tmp_path, students=3, repeats=2))
    tasks = trainer._tasks()
    assert tasks.batch_size == 6
    assert torch.equal(tasks.init[0], tasks.init[1]) and torch.equal(tasks.data_key[4], tasks.data_key[5])
    assert not torch.equal(tasks.init[1], tasks.init[2])
    advantages = trainer._advantages(torch.tensor([1.0, 3.0, 2.0, 2.0, 0.0, 4.0]))
    assert advantages.tolist() == [-2.0, 2.0, 0.0, 0.0, -4.0, 4.0]
    scalars = trainer.train_iteration()
    assert math.isfinite(scalars["losses/gradient_norm"]) and trainer.global_step > 0


def test_data_selector_features_match_the_environment_and_work_in_a_plain_loop(tmp_path):
    trainer = LearnedTeacherTrainer(tiny(tmp_path, run_name="run"))
    trainer.fit(max_iterations=1, progress=False)
    select = DataSelector(tmp_path / "run", sample=False)
    # the features a user's nn.Linear gets are the environment's for the same logistic student
    process = TeachingProcess("logistic", {"batch_size": 6})
    task = process.tasks_from_keys(mrandom.env_keys(0, 1), split=1)
    state = process.start(task)
    model = torch.nn.Linear(64, 10)
    with torch.no_grad():
        model.weight.copy_(task.init[0, :640].view(64, 10).T)
        model.bias.copy_(task.init[0, 640:])
    x, y = process.examples(task, process.current_ids(state))
    expected = process.observe(state, task)[0]
    select.max_updates, select.best_acc = process.max_updates, float(state.best_acc[0])
    assert torch.allclose(select.features(model, x[0], y[0]), expected, atol=1e-5)
    # and it drops into an ordinary training loop
    data = load_digits()
    torch.manual_seed(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(60):
        index = torch.randint(0, 1000, (20,))
        keep = select(model, data.x[index], data.y[index])
        assert keep.shape == (20,) and keep.dtype == torch.bool
        if not keep.any():
            continue
        loss = torch.nn.functional.cross_entropy(model(data.x[index][keep]), data.y[index][keep])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        select.record(float(loss.detach()))
        losses.append(float(loss.detach()))
    assert sum(losses[-10:]) < sum(losses[:10]) and select.updates == len(losses)
    with pytest.raises(ValueError, match="features per example"):
        select(torch.zeros(5, 9))


def test_population_teacher_is_each_member_with_shared_decision_noise():
    net = TeacherNetwork(features=25, hidden=6)
    params = dict(net.named_parameters())
    center = parameters_to_vector(params.values()).detach()
    vectors = center + 0.5 * torch.randn(3, center.numel(), generator=torch.Generator().manual_seed(0))
    vectors[2] = vectors[0]
    features = torch.rand(6, 5, 25, generator=torch.Generator().manual_seed(1))
    members = population_parameters(params, vectors)
    probabilities = []
    for i in range(3):
        member = TeacherNetwork(features=25, hidden=6)
        member.load_state_dict({k: v[i] for k, v in members.items()})
        probabilities.append(member(features[2 * i : 2 * i + 2]))
    greedy = population_teacher(net, members, 3)(features, None)
    assert torch.equal(greedy, (torch.cat(probabilities) >= 0.5))
    sampled = population_teacher(net, members, 3, torch.Generator().manual_seed(2))(torch.cat([features[:2]] * 3), None)
    assert torch.equal(sampled[:2], sampled[4:])  # same parameters, same students: the same decisions


def test_lookahead_meta_training_lowers_its_objective_on_held_out_students(tmp_path):
    """Noisy stream, clean dev set: the differentiable teacher learns example weights that lower the one-step-ahead
    dev loss of students it never saw."""
    env = {"student": "synthetic", "dims": 2, "hidden": 4, "noise": 0.3, "batch_size": 10, "max_updates": 10}
    trainer = LearnedTeacherTrainer(tiny(tmp_path, env_kwargs=env, estimator="lookahead", students=16, lr=0.02,
                                         checkpoint_every=1000))
    held_out = trainer.env.sample_tasks(32, torch.Generator().manual_seed(7), split="test")
    before = trainer.lookahead_pass(held_out, 3, train=False)["charts/dev_loss"]
    trainer.fit(max_iterations=15, progress=False)
    after = trainer.lookahead_pass(held_out, 3, train=False)["charts/dev_loss"]
    assert after < before - 1e-3, (before, after)


