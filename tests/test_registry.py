"""The registry: lookups, errors, Gymnasium mirroring and the entry-point plug-in route."""

import importlib.metadata
import sys
import textwrap

import gymnasium
import pytest

import metarl
from metarl import registry


def test_builtin_ids_registered_and_mirrored():
    ids = [s.id for s in metarl.registered()]
    for env_id in ("metarl/BernoulliBandit-v0", "metarl/TabularMDP-v0", "metarl/Navigation2D-v0"):
        assert env_id in ids and env_id in gymnasium.registry
        assert gymnasium.registry[env_id].vector_entry_point is not None


def test_unknown_id_lists_close_matches():
    with pytest.raises(metarl.UnknownEnvError) as info:
        metarl.make("metarl/BernouliBandit-v0")
    assert "Did you mean 'metarl/BernoulliBandit-v0'" in str(info.value)


def test_duplicate_id_fails():
    with pytest.raises(metarl.DuplicateEnvError, match="already registered"):
        metarl.register("metarl/BernoulliBandit-v0", "metarl.envs.bandit:BernoulliBandit")


def test_register_checks_kwargs_and_entry_point():
    with pytest.raises(metarl.BadArgumentError, match="'arms'"):
        metarl.register("test/BadBandit-v0", "metarl.envs.bandit:BernoulliBandit", kwargs={"arms": 0})
    with pytest.raises(metarl.BadArgumentError, match="BatchedEnv subclass"):
        metarl.register("test/NotAnEnv-v0", dict)


def test_registered_variant_with_kwargs():
    kwargs = {"arms": 10, "pulls": 10}
    spec = metarl.register("test/Bandit10x10-v0", "metarl.envs.bandit:BernoulliBandit", kwargs=kwargs)
    try:
        env = metarl.make("test/Bandit10x10-v0")
        assert env.config == {"arms": 10, "pulls": 10} and spec.family == "BernoulliBandit"
        assert gymnasium.make("test/Bandit10x10-v0").action_space.n == 10
    finally:
        registry._REGISTRY.pop("test/Bandit10x10-v0")
        del gymnasium.registry["test/Bandit10x10-v0"]


PLUGIN = '''
import dataclasses, gymnasium, numpy as np, torch
import metarl
from metarl.tasks import Task

@dataclasses.dataclass
class OffsetTask(Task):
    offset: torch.Tensor

class Offset(metarl.BatchedEnv):
    family = "Offset"
    description = "reward is the action plus a per-task offset"
    params = {"horizon": metarl.Param(3, low=1, doc="steps per episode")}
    task_type = OffsetTask
    def _trial_shape(self): return self.config["horizon"], 1
    def _spaces(self):
        return gymnasium.spaces.Box(0, 1, (1,), np.float32), gymnasium.spaces.Discrete(2)
    def task_shapes(self, b): return {"offset": ((b,), torch.float32)}
    def tasks_from_keys(self, keys): return OffsetTask(offset=metarl.random.lanes(keys, 1)[:, 0])
    def _start_episode(self, mask): pass
    def _transition(self, action, u):
        return action.float() + self.task.offset, torch.zeros(self.num_envs, dtype=torch.bool)
    def _observe(self): return torch.zeros(self.num_envs, 1)

def register_all():
    metarl.register("acme/Offset-v0", Offset)
'''


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A real distribution on sys.path whose metadata declares a ``metarl.envs`` entry point."""
    (tmp_path / "acme_envs.py").write_text(textwrap.dedent(PLUGIN))
    dist = tmp_path / "acme_envs-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-envs\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[metarl.envs]\nacme = acme_envs:register_all\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    yield
    registry._REGISTRY.pop("acme/Offset-v0", None)
    gymnasium.registry.pop("acme/Offset-v0", None)
    sys.modules.pop("acme_envs", None)


def test_plugin_entry_point_registers_family(installed_plugin):
    assert any(ep.name == "acme" for ep in importlib.metadata.entry_points(group="metarl.envs"))
    ids = [s.id for s in metarl.registered()]  # first registry use loads plug-ins
    assert "acme/Offset-v0" in ids
    env = metarl.make("acme/Offset-v0", num_envs=4, seed=0)
    env.reset()
    step = env.step(metarl.make("acme/Offset-v0", num_envs=4).sample_actions())
    assert step.reward.shape == (4,)
    assert gymnasium.make("acme/Offset-v0").action_space.n == 2
    metarl.registered()  # loaded once: a second use does not register again (no duplicate error)


def test_broken_plugin_names_itself(tmp_path, monkeypatch):
    dist = tmp_path / "broken-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[metarl.envs]\nbroken = no_such_module:register\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    with pytest.raises(metarl.PluginError, match="plug-in 'broken'"):
        metarl.registered()
