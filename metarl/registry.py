"""One registry of environment families, mirrored into Gymnasium under the ``metarl/`` namespace.

metarl's own families are registered when ``metarl`` is imported. Third-party packages plug in
through the entry-point group ``metarl.envs``: each entry point is a zero-argument function that
calls :func:`register`. Plug-ins load once, on the first registry use from outside metarl
(:func:`make`, :func:`spec`, :func:`registered` or :func:`register`), so a plug-in module may
``import metarl`` at its top and be imported before or after metarl.

A plug-in that fails to load (its module is missing or raises, its function raises, or it registers
an id that is already taken) is skipped with one :class:`PluginWarning` line that names the
distribution, the entry point and the cause; the ids it registered before failing are removed, and
every other family keeps working. Asking for an id that is not registered while a plug-in failed
raises :class:`~metarl.errors.PluginError` (an :class:`~metarl.errors.UnknownEnvError`) with that cause.

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
import pathlib
import sys
import types
import warnings
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import gymnasium
import torch

from metarl.engine import BatchedEnv
from metarl.errors import BadArgumentError, DuplicateEnvError, PluginError, UnknownEnvError
from metarl.params import resolve_params

ENTRY_POINT_GROUP = "metarl.envs"


class PluginWarning(UserWarning):
    """A plug-in of the ``metarl.envs`` entry-point group failed to load and was skipped."""


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
_plugin_failures: list[str] = []  # one line per plug-in that failed to load


def _load_plugins() -> None:
    """Run every ``metarl.envs`` entry point once; skip (with a warning) those that fail."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True  # set first: plug-ins call register(), which comes back here
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        before = set(_REGISTRY)
        try:
            ep.load()()
        except Exception as exc:  # a broken plug-in must name itself and leave the other families working
            for id in set(_REGISTRY) - before:
                _unregister(id)
            _plugin_failures.append(_failure_line(ep, exc))
            warnings.warn(_plugin_failures[-1], PluginWarning, stacklevel=_caller_stacklevel())


def _failure_line(ep: metadata.EntryPoint, exc: Exception) -> str:
    """One line naming the distribution, the entry point and the cause (with where the plug-in raised it)."""
    dist = getattr(ep, "dist", None)
    where = f"distribution '{dist.name} {dist.version}'" if dist is not None else "an unknown distribution"
    tb, at = exc.__traceback__, ""
    while tb is not None:
        if not _is_internal(tb.tb_frame):
            at = f" at {pathlib.Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}"
        tb = tb.tb_next
    cause = " ".join(f"{type(exc).__name__}: {exc}".split())
    return (f"plug-in '{ep.name} = {ep.value}' of {where} (entry-point group '{ENTRY_POINT_GROUP}') failed to "
            f"load and was skipped: {cause}{at}")


def _is_internal(frame: types.FrameType) -> bool:
    """Whether ``frame`` runs metarl's own code or the import machinery (not a plug-in's or a user's)."""
    module = frame.f_globals.get("__name__", "")
    return module.partition(".")[0] in ("metarl", "importlib", "_frozen_importlib", "_frozen_importlib_external")


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside metarl's own modules."""
    frame, level = sys._getframe(1), 1
    while frame is not None and _is_internal(frame):
        frame, level = frame.f_back, level + 1
    return level


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
    from metarl.views import make_single, make_vector

    if id in gymnasium.registry:
        del gymnasium.registry[id]
    gymnasium.register(id=id, entry_point=make_single, vector_entry_point=make_vector, kwargs={"env_id": id})
    return spec


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
        close = difflib.get_close_matches(id, list(_REGISTRY), n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        message = (f"unknown environment id '{id}'.{hint} Registered ids: {', '.join(sorted(_REGISTRY))}. "
                   "(Run `metarl list` for details.)")
        if _plugin_failures:
            failures = " ".join(_plugin_failures)
            raise PluginError(f"{message} Its family may be in a plug-in that failed: {failures}") from None
        raise UnknownEnvError(message) from None


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
