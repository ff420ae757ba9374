"""The learned-optimizer agent: unbiased estimators, meta-training that helps, the exported torch.optim optimizer,
the baseline rules (the contract every agent keeps is in test_trainer_contract.py)."""

import math

import pytest
import torch
from metarl.agents.learned_optimizer import (
    CoordinatewiseLSTM,
    LearnedOptimizer,
    LearnedOptimizerConfig,
    LearnedOptimizerTrainer,
)
from metarl.agents.learned_optimizer.evaluate import held_out_results
from metarl.agents.learned_optimizer.rollout import TorchRule, lstm_rule, run

from metarl.rl.estimators import antithetic_gradient, gaussian_log_prob, reinforce_surrogate

QUADRATIC = {"optimizee": "quadratic", "horizon": 20}


def tiny(tmp_path, **overrides):
    values = {"env_kwargs": QUADRATIC, "tasks": 16, "unroll": 10, "eval_tasks": 8, "checkpoint_every": 2,
              "device": "cpu", "logdir": str(tmp_path), "lr": 3e-3, "figures": False, **overrides}
    config = LearnedOptimizerConfig(**values)
    runs = {"unrolled": 1, "reinforce": config.samples, "es": 2 * config.pairs}[config.estimator]
    config.total_steps = overrides.get("total_steps", 4 * config.tasks * runs * 20)
    return config


def test_reinforce_estimate_is_unbiased_on_a_gaussian_toy():
    """d/dmu E[||x - c||^2] for x ~ N(mu, sigma^2 I) is 2 (mu - c)."""
    mu0, c, sigma = torch.tensor([0.5, -1.0, 2.0]), torch.tensor([1.0, 0.0, 0.0]), 0.7
    gen, estimates = torch.Generator().manual_seed(0), []
    for _ in range(300):
        mu = mu0.clone().requires_grad_(True)
        x = mu0 + sigma * torch.randn(20, 4, 3, generator=gen)  # 20 groups of 4 samples
        log_prob = gaussian_log_prob(x, mu, torch.tensor(math.log(sigma))).sum(-1)
        (grad,) = torch.autograd.grad(reinforce_surrogate(log_prob, (x - c).square().sum(-1)), mu)
        estimates.append(grad)
    estimates = torch.stack(estimates)
    error = estimates.mean(0) - 2 * (mu0 - c)
    assert (error.abs() < 4 * estimates.std(0) / math.sqrt(len(estimates))).all(), error


@pytest.mark.parametrize("objective, gradient", [
    (lambda p: (p - 1.0).square().sum(1), lambda p, s: 2 * (p - 1.0)),  # quadratic: smoothing changes nothing
    (lambda p: p.sin().sum(1), lambda p, s: p.cos() * math.exp(-s * s / 2)),  # E[sin(p + s e)] = sin(p) e^{-s^2/2}
])
def test_antithetic_es_estimate_is_unbiased(objective, gradient):
    center, sigma = torch.tensor([0.3, -0.8, 1.5, 0.0]), 0.5
    gen = torch.Generator().manual_seed(0)
    estimates = torch.stack([antithetic_gradient(objective, center, sigma, 8, gen)[0] for _ in range(400)])
    error = estimates.mean(0) - gradient(center, sigma)
    assert (error.abs() < 4 * estimates.std(0) / math.sqrt(len(estimates)) + 1e-6).all(), error


def test_population_forward_equals_one_weight_set_at_a_time():
    net = CoordinatewiseLSTM(hidden=6)
    params = net.mean_parameters()
    population = {k: torch.stack([v.detach(), v.detach() * 0.5]) for k, v in params.items()}
    x = torch.randn(2, 7, 6)
    state = net.initial_state(7, population=2)
    out, _ = net.forward_with(population, x, state)
    for p in range(2):
        one = {k: v[p] for k, v in population.items()}
        expected, _ = net.forward_with(one, x[p], net.initial_state(7))
        assert torch.allclose(out[p], expected, atol=1e-6)


def test_tiny_meta_training_beats_the_untrained_lstm_and_sgd_at_a_poor_lr(tmp_path):
    trainer = LearnedOptimizerTrainer(tiny(tmp_path, tasks=32, total_steps=32 * 20 * 40, checkpoint_every=100))
    untrained = held_out_results(trainer, 64, "test", seed=3, baselines=False)["learned"]
    trainer.fit(progress=False)
    learned = held_out_results(trainer, 64, "test", seed=3, rates={"sgd": 1e-4})
    assert learned["learned"].log10_mean_final_loss < untrained.log10_mean_final_loss - 0.3
    assert learned["learned"].log10_mean_final_loss < learned["sgd"].log10_mean_final_loss - 0.3
    # the exported optimizer drops into a plain training loop and reduces the loss
    torch.manual_seed(0)
    x, w = torch.randn(64, 5), torch.randn(5, 1)
    y = x @ w
    model = torch.nn.Linear(5, 1)
    optimizer = LearnedOptimizer(model.parameters(), checkpoint=trainer.run_dir)
    first = None
    for _ in range(100):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        first = float(loss.detach()) if first is None else first
        loss.backward()
        optimizer.step()
    assert float(loss.detach()) < 0.1 * first


def test_baseline_rule_is_the_torch_optimizer_per_instance():
    trainer = LearnedOptimizerTrainer(tiny("/tmp", tasks=2))
    task = trainer.env.sample_tasks(3, torch.Generator().manual_seed(0), split="test")
    batched = run(trainer.process, task, TorchRule("adam", 0.1), 20, 1.0)
    for i in range(3):  # one instance with its own torch.optim.Adam
        theta = task.init[i].clone().requires_grad_(True)
        adam = torch.optim.Adam([theta], lr=0.1)
        for _ in range(20):
            adam.zero_grad()
            trainer.process.optimizee.loss(theta[None], task[i], torch.zeros(1, dtype=torch.int64)).sum().backward()
            adam.step()
        expected = trainer.process.optimizee.loss(theta[None].detach(), task[i], torch.zeros(1, dtype=torch.int64))
        assert torch.allclose(batched.final_loss[i], expected[0], rtol=1e-4)
    assert run(trainer.process, task, lstm_rule(trainer.net), 5, 1.0).curve.shape == (6, 3)


