"""The registry: lookups, errors and Gymnasium mirroring (plug-ins: tests/test_plugins.py)."""


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


def test_an_id_whose_extra_is_missing_names_the_extra_to_install():
    from metarl.registry import _NEEDS_EXTRA, register_needs_extra

    register_needs_extra("mylab/NeedsExtra-v0", "mujoco", "No module named 'mujoco'")
    try:
        with pytest.raises(metarl.MissingExtraError, match=r'pip install "metarl\[mujoco\]"') as err:
            metarl.make("mylab/NeedsExtra-v0")
        assert isinstance(err.value, metarl.UnknownEnvError)
        assert "No module named 'mujoco'" in str(err.value)
    finally:
        _NEEDS_EXTRA.pop("mylab/NeedsExtra-v0")
