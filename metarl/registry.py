"""One registry of environment families, mirrored into Gymnasium under the ``metarl/`` namespace.

Third-party packages plug in through the entry-point group ``metarl.envs``: each entry point is a
zero-argument function that calls :func:`register`. Plug-ins load once, on first registry use.

Example:
    >>> import metarl
    >>> env = metarl.make("metarl/BernoulliBandit-v0", num_envs=16, arms=10, pulls=10)
    >>> [s.id for s in metarl.registered()][:1]
    ['metarl/BernoulliBandit-v0']
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import gymnasium
import torch

from metarl.engine import BatchedEnv
from metarl.errors import BadArgumentError, DuplicateEnvError, PluginError, UnknownEnvError
from metarl.params import resolve_params

ENTRY_POINT_GROUP = "metarl.envs"


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """A registered id: its family class, default keyword arguments and a one-line description."""

    id: str
    entry_point: type[BatchedEnv]
    kwargs: Mapping[str, Any]
    description: str
    source: str

    @property
    def family(self) -> str:
        return self.entry_point.family or self.entry_point.__name__


_REGISTRY: dict[str, EnvSpec] = {}
_plugins_loaded = False


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()()
        except Exception as exc:  # a broken plug-in must name itself, not break metarl obscurely
            raise PluginError(
                f"plug-in '{ep.name}' ({ep.value}) of entry-point group '{ENTRY_POINT_GROUP}' failed: {exc}"
            ) from exc


def _resolve_entry_point(entry_point: type[BatchedEnv] | str) -> type[BatchedEnv]:
    if isinstance(entry_point, str):
        module, _, name = entry_point.partition(":")
        entry_point = getattr(importlib.import_module(module), name)
    if not (isinstance(entry_point, type) and issubclass(entry_point, BatchedEnv)):
        raise BadArgumentError(f"entry_point must be a BatchedEnv subclass or 'module:Class', got {entry_point!r}")
    return entry_point


def register(
    id: str,
    entry_point: type[BatchedEnv] | str,
    *,
    kwargs: Mapping[str, Any] | None = None,
    description: str | None = None,
    source: str | None = None,
) -> EnvSpec:
    """Register a family under ``id`` (``"namespace/Name-vN"``) and mirror it into Gymnasium.

    ``kwargs`` override the family's defaults for this id and are checked now.

    Example:
        >>> from metarl.envs.bandit import BernoulliBandit
        >>> spec = register("mylab/Bandit10-v0", BernoulliBandit, kwargs={"arms": 10})
    """
    _load_plugins()
    if id in _REGISTRY:
        raise DuplicateEnvError(f"environment id '{id}' is already registered ({_REGISTRY[id].entry_point})")
    cls = _resolve_entry_point(entry_point)
    kwargs = dict(kwargs or {})
    resolve_params(cls.params, kwargs, env_id=id)
    spec = EnvSpec(id, cls, kwargs, description or cls.description, source or cls.source)
    _REGISTRY[id] = spec
    from metarl.views import make_single, make_vector

    if id in gymnasium.registry:
        del gymnasium.registry[id]
    gymnasium.register(id=id, entry_point=make_single, vector_entry_point=make_vector, kwargs={"env_id": id})
    return spec


def spec(id: str) -> EnvSpec:
    """The :class:`EnvSpec` of ``id``; an unknown id raises an error listing close matches."""
    _load_plugins()
    try:
        return _REGISTRY[id]
    except KeyError:
        close = difflib.get_close_matches(id, list(_REGISTRY), n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownEnvError(
            f"unknown environment id '{id}'.{hint} Registered ids: {', '.join(sorted(_REGISTRY))}. "
            "(Run `metarl list` for details.)"
        ) from None


def registered() -> list[EnvSpec]:
    """All registered specs, sorted by id."""
    _load_plugins()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def make(
    id: str,
    num_envs: int = 1,
    device: torch.device | str | None = "cpu",
    seed: int | None = None,
    *,
    split: str = "train",
    rl2: bool = False,
    check: bool = True,
    **kwargs: Any,
) -> BatchedEnv:
    """A natively batched environment: ``num_envs`` environments as tensors on ``device``.

    ``device="auto"`` picks CUDA when present. ``rl2=True`` returns the RL² view (observation,
    previous action, previous reward, previous inner-episode end). ``check=False`` skips input
    validation in ``step`` and ``reset``: faster, for agents that are known to emit valid actions.

    Example:
        >>> env = make("metarl/TabularMDP-v0", num_envs=64, episodes=25, rl2=True, seed=0)
        >>> env.reset().shape  # 10 states + 5 actions + reward + done
        torch.Size([64, 17])
    """
    s = spec(id)
    env = s.entry_point(
        num_envs=num_envs, device=device, seed=seed, split=split, check=check, env_id=id, **{**s.kwargs, **kwargs}
    )
    if rl2:
        from metarl.rl2 import RL2Observation

        env = RL2Observation(env)
    return env
