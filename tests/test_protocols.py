"""Benchmark protocols: any agent with an adaptive agent runs them; Meta-World's counts are the benchmark's."""

import dataclasses

import pytest
import torch
from conftest import METAWORLD

import metarl
from metarl.cli import main
from metarl.protocols import PROTOCOLS, run_protocol


def test_metaworld_counts_are_the_benchmarks():
    protocol = PROTOCOLS["metaworld"]
    assert (protocol.adaptation_steps, protocol.adaptation_episodes, protocol.scored_episodes, protocol.horizon) == (
        1, 10, 3, 500)


def test_a_family_without_benchmark_tasks_is_a_clear_error(tmp_path, capsys):
    from metarl.agents.rl2 import RL2Config, RL2Trainer

    trainer = RL2Trainer(RL2Config(env="metarl/Navigation2D-v0", env_kwargs={"horizon": 3}, num_envs=2, hidden=8,
                                   minibatches=1, total_steps=6, logdir=str(tmp_path)))
    path = trainer.fit(progress=False)
    assert main(["eval", str(path), "--protocol", "metaworld"]) == 2
    assert "Navigation2D" in capsys.readouterr().err


def _mark(test):
    for mark in METAWORLD:
        test = mark(test)
    return test


@_mark
@pytest.mark.parametrize("agent", ["rl2", "maml-rl"])
def test_agents_run_the_metaworld_protocol(agent):
    from metarl.agents.maml_rl import MAMLConfig, MAMLTrainer
    from metarl.agents.rl2 import RL2Config, RL2Trainer

    kwargs = {"task": "reach-v3", "horizon": 3, "episodes": 2}
    if agent == "rl2":
        trainer = RL2Trainer(RL2Config(env="metarl/ML1-v0", env_kwargs=kwargs, num_envs=2, hidden=8, minibatches=1))
    else:
        trainer = MAMLTrainer(MAMLConfig(env="metarl/ML1-v0", env_kwargs=kwargs, meta_batch=1, trajectories=1,
                                         hidden=[8]))
    small = dataclasses.replace(PROTOCOLS["metaworld"], horizon=3, adaptation_episodes=2, scored_episodes=1)
    agent_ = trainer.adaptive_agent()
    scores = run_protocol(small, agent_, "metarl/ML1-v0", kwargs, trials=3)
    assert scores.success.shape == scores.returns.shape == (3, 3) and scores.names == ["reach-v3"] * 3
    assert 0.0 <= scores.success_rate[0] <= 1.0 and bool((scores.returns > 0).all())
    if agent == "maml-rl":  # the inner step moved every task's parameters away from the meta-learned ones
        meta = dict(trainer.policy.named_parameters())
        assert all(not torch.allclose(value[0], meta[name]) for name, value in agent_.params.items())
    env = metarl.make("metarl/ML1-v0", **kwargs)
    tasks = env.benchmark_tasks("test")
    assert tasks.batch_size == 50 and tasks.env_index.eq(0).all()
