"""Reference solvers driven through the batched engine (the solvers' own maths is tested beside them)."""

import pytest
import torch

import metarl
from metarl.solvers import solver_names, trial_returns

CASES = [
    ("metarl/BernoulliBandit-v0", {"arms": 5, "pulls": 10}),
    ("metarl/TabularMDP-v0", {"episodes": 2}),
    ("metarl/Navigation2D-v0", {"horizon": 30}),
]


@pytest.mark.parametrize("env_id, kwargs", CASES)
def test_every_solver_runs_one_trial_per_env(env_id, kwargs):
    env = metarl.make(env_id, num_envs=64, seed=0, split="test", **kwargs)
    names = solver_names(env)
    assert "random" in names and len(names) >= 2
    for name in names:
        returns = trial_returns(env, name, generator=torch.Generator().manual_seed(0))
        assert returns.shape == (64,) and torch.isfinite(returns).all()


@pytest.mark.parametrize("env_id, kwargs", CASES)
def test_informed_solvers_beat_random(env_id, kwargs):
    env = metarl.make(env_id, num_envs=400, seed=1, split="test", **kwargs)
    best = {"metarl/BernoulliBandit-v0": "ucb1", "metarl/TabularMDP-v0": "optimal", "metarl/Navigation2D-v0": "oracle"}
    gen = torch.Generator().manual_seed(0)
    assert trial_returns(env, best[env_id], gen).mean() > trial_returns(env, "random", gen).mean() + 0.5


def test_bandit_scores_match_published_small_setting():
    """n = 10, k = 5 (RL² Table 1): random 5.0, Gittins 6.6, UCB1 6.7 over 2000 held-out tasks."""
    env = metarl.make("metarl/BernoulliBandit-v0", num_envs=2000, arms=5, pulls=10, seed=0, split="test")
    gen = torch.Generator().manual_seed(0)
    assert abs(float(trial_returns(env, "random", gen).mean()) - 5.0) < 0.15
    assert abs(float(trial_returns(env, "gittins", gen).mean()) - 6.6) < 0.15
    assert abs(float(trial_returns(env, "ucb1", gen).mean()) - 6.7) < 0.15


def test_unknown_solver_is_a_clear_error():
    env = metarl.make("metarl/BernoulliBandit-v0", num_envs=2)
    with pytest.raises(metarl.BadArgumentError, match="available: .*gittins"):
        trial_returns(env, "gitins")
