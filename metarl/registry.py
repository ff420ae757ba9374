"""One registry of environment families, mirrored into Gymnasium under the ``metarl/`` namespace.

Families plug in through the entry-point group ``metarl.envs``: each entry point is a zero-argument
function that calls :func:`register`. metarl's own families are entry points of that group too
(declared in pyproject.toml), registered when ``metarl`` is imported; this module never imports them
by name. Third-party plug-ins load once, on the first registry use from outside metarl
(:func:`make`, :func:`spec`, :func:`registered` or :func:`register`), so a plug-in module may
``import metarl`` at its top and be imported before or after metarl.

A plug-in that fails to load (its module is missing or raises, its function raises, or it registers
an id that is already taken) is skipped with one :class:`~metarl.plugins.PluginWarning` line that names the
distribution, the entry point and the cause; the ids it registered before failing are removed, and
every other family keeps working. Asking for an id that is not registered while a plug-in failed
raises :class:`~metarl.errors.PluginError` (an :class:`~metarl.errors.UnknownEnvError`) with that cause.

Example:
    >>> import metarl
    >>> env = metarl.make("metarl/BernoulliBandit-v0", num_envs=16, arms=10, pulls=10)
    >>> "metarl/BernoulliBandit-v0" in [s.id for s in metarl.registered()]
    True
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
from metarl.errors import BadArgumentError, DuplicateEnvError, MissingExtraError, PluginError, UnknownEnvError
from metarl.params import resolve_params
from metarl.plugins import PluginGroup, is_own

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
_NEEDS_EXTRA: dict[str, str] = {}


def _run_plugin(ep: metadata.EntryPoint) -> None:
    """Call the plug-in's registering function; if it raises, remove the ids it registered before it did."""
    before = set(_REGISTRY)
    try:
        ep.load()()
    except Exception:
        for id in set(_REGISTRY) - before:
            _unregister(id)
        raise


_PLUGINS = PluginGroup(ENTRY_POINT_GROUP, _run_plugin)


def _load_plugins() -> None:
    """Run every ``metarl.envs`` entry point once; skip (with a warning) those that fail."""
    _PLUGINS.load()


def load_builtin_families() -> None:
    """Register metarl's own families (its own ``metarl.envs`` entry points) now, without the plug-ins.

    ``import metarl`` calls it, so ``gymnasium.make("metarl/...")`` works at once; the other plug-ins
    wait for the first registry use, since they may import ``metarl`` themselves.

    Example:
        >>> load_builtin_families()  # again: each entry point is used once, so this does nothing
        >>> spec("metarl/Teach-v0").family
        'Teach'
    """
    _PLUGINS.load(is_own)


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

    ``kwargs`` override the family's defaults for this id and are checked now. Plug-ins are loaded
    first, so an id that a plug-in already registers is a :class:`~metarl.errors.DuplicateEnvError`
    whatever the order of calls.

    Example:
        >>> from metarl.envs.bandit import BernoulliBandit
        >>> spec = register("mylab/Bandit10-v0", BernoulliBandit, kwargs={"arms": 10})
    """
    _load_plugins()
    return _add(id, entry_point, kwargs, description, source)


def register_builtin(id: str, entry_point: type[BatchedEnv]) -> EnvSpec:
    """:func:`register` without loading plug-ins: for metarl's own families, registered while ``metarl``
    is still being imported (plug-ins need it whole).

    Example:
        >>> from metarl.envs.bandit import BernoulliBandit
        >>> spec = register_builtin("mylab/Bandit3-v0", BernoulliBandit)
    """
    return _add(id, entry_point, None, None, None)


def _add(
    id: str,
    entry_point: type[BatchedEnv] | str,
    kwargs: Mapping[str, Any] | None,
    description: str | None,
    source: str | None,
) -> EnvSpec:
    if id in _REGISTRY:
        raise DuplicateEnvError(f"environment id '{id}' is already registered ({_REGISTRY[id].entry_point})")
    cls = _resolve_entry_point(entry_point)
    kwargs = dict(kwargs or {})
    resolve_params(cls.params, kwargs, env_id=id)
    spec = EnvSpec(id, cls, kwargs, description or cls.description, source or cls.source)
    _REGISTRY[id] = spec
    _NEEDS_EXTRA.pop(id, None)
    if id in gymnasium.registry:
        del gymnasium.registry[id]
    # strings, which Gymnasium imports on use: metarl.views imports this module
    gymnasium.register(id=id, entry_point="metarl.views:make_single", vector_entry_point="metarl.views:make_vector",
                       kwargs={"env_id": id})
    return spec


def register_needs_extra(id: str, extra: str, reason: str) -> None:
    """Reserve ``id`` for a family whose optional dependencies are missing.

    Asking for it raises :class:`~metarl.errors.MissingExtraError` naming the extra to install and
    ``reason`` (usually the ImportError), instead of "unknown environment id". A later :func:`register`
    of the same id (the extra was installed after all) replaces the reservation.

    Example:
        >>> register_needs_extra("x/H-v0", "mujoco", "n/a")
        >>> spec("x/H-v0")
        Traceback (most recent call last):
        ...
        metarl.errors.MissingExtraError: 'x/H-v0' is not available: n/a. Install it with: pip install "metarl[mujoco]"
    """
    _NEEDS_EXTRA[id] = f"'{id}' is not available: {reason}. Install it with: pip install \"metarl[{extra}]\""


def _unregister(id: str) -> None:
    del _REGISTRY[id]
    gymnasium.registry.pop(id, None)


def spec(id: str) -> EnvSpec:
    """The :class:`EnvSpec` of ``id``; an unknown id raises an error listing close matches.

    When a plug-in failed to load, the error is a :class:`~metarl.errors.PluginError` that also names it.

    Example:
        >>> spec("metarl/TabularMDP-v0").family
        'TabularMDP'
    """
    _load_plugins()
    try:
        return _REGISTRY[id]
    except KeyError:
        if id in _NEEDS_EXTRA:
            raise MissingExtraError(_NEEDS_EXTRA[id]) from None
        close = difflib.get_close_matches(id, list(_REGISTRY), n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        message = (f"unknown environment id '{id}'.{hint} Registered ids: {', '.join(sorted(_REGISTRY))}. "
                   "(Run `metarl list` for details.)")
        if _PLUGINS.failures:
            failures = " ".join(_PLUGINS.failures.values())
            raise PluginError(f"{message} Its family may be in a plug-in that failed: {failures}") from None
        raise UnknownEnvError(message + _PLUGINS.stale_hint()) from None


def registered() -> list[EnvSpec]:
    """All registered specs, sorted by id.

    Example:
        >>> "metarl/Navigation2D-v0" in [s.id for s in registered()]
        True
    """
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
        from metarl.rl2_observation import RL2Observation

        env = RL2Observation(env)
    return env
