"""Reference solvers driven through the batched engine (the solvers' own maths is tested beside them)."""

import pytest
import torch
from metarl.envs.bandit import BernoulliBandit

import metarl
from metarl.solvers import solver_names, solver_returns, solver_table, trial_returns

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


@pytest.mark.parametrize("env_id, kwargs", [("metarl/KeyToDoor-v0", {}), ("metarl/TabularMDP-v0", {"episodes": 2})])
def test_every_row_of_the_solver_table_plays_the_tasks_an_agent_sees(env_id, kwargs):
    """Pairing an agent's trial i with a solver's trial i needs every solver on the first tasks the seed deals."""
    rows = {row["solver"]: row["mean"] for row in solver_table(env_id, 50, 3, "test", "cpu", **kwargs)}
    for name, mean in rows.items():
        fresh = metarl.make(env_id, num_envs=50, seed=3, split="test", **kwargs)
        on_first_tasks = trial_returns(fresh, name, generator=torch.Generator().manual_seed(3)).double()
        returns = solver_returns(env_id, name, 50, 3, "test", "cpu", **kwargs)
        assert torch.equal(returns, on_first_tasks)
        assert mean == pytest.approx(float(returns.mean()))


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


class CoinBandit(BernoulliBandit):
    """A family outside metarl's own: it declares its solver and its published scores itself."""

    family = "CoinBandit"

    @staticmethod
    def published_scores(config):
        return {"first": 4.2, "rl2": 9.9} if config["arms"] == 2 else {}


class FirstArm:
    def __init__(self, env, generator):
        self.env = env

    def act(self, obs):
        return torch.zeros(self.env.num_envs, dtype=torch.int64)


@pytest.fixture
def coin_bandit():
    from metarl import registry, solvers

    solvers.register_solver(CoinBandit, "first", FirstArm)
    metarl.register("test/CoinBandit-v0", CoinBandit, kwargs={"arms": 2, "pulls": 4})
    yield "test/CoinBandit-v0"
    solvers._SOLVERS.pop("CoinBandit")
    registry._unregister("test/CoinBandit-v0")


def test_solver_table_takes_published_scores_from_the_family_class(coin_bandit):
    from metarl.published import published_scores
    from metarl.solvers import solver_table

    rows = solver_table(coin_bandit, trials=50, seed=0, split="test", device="cpu")
    assert [(row["solver"], row["published"]) for row in rows] == [("first", 4.2)]
    assert published_scores("CoinBandit", {"arms": 2})["rl2"] == 9.9  # by family name, through the registry
    assert published_scores(metarl.make(coin_bandit, arms=3), {"arms": 3}) == {}


@pytest.mark.parametrize("family, lookup, args, expected", [
    ("BernoulliBandit", "published_scores", ({"arms": 10, "pulls": 100},), 83.5),
    ("TabularMDP", "published_scores", ({"states": 10, "actions": 5, "horizon": 10, "episodes": 25},), 445.7),
    ("Navigation2D", "maml_published", ({"horizon": 100, "episodes": 1, "goal_range": 0.5, "max_speed": 0.1,
                                          "goal_radius": 0.01},), -11.68),
    ("Sinusoid", "fewshot_published", ("maml", 1, 5), "MSE after 1 / 5 / 10 steps: 0.67 / 0.38 / 0.35"),
])
def test_builtin_families_hold_their_published_numbers(family, lookup, args, expected):
    import metarl.published

    cls = next(s.entry_point for s in metarl.registered() if s.family == family)
    found = getattr(metarl.published, lookup)(family, *args)
    assert found == getattr(cls, lookup)(*args)  # the core only looks up what the family declares
    value = {"published_scores": lambda f: f["rl2"], "maml_published": lambda f: f["maml"][1],
             "fewshot_published": lambda f: f["text"]}[lookup](found)
    assert value == expected
