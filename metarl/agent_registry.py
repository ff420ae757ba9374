"""The agent registry: the names ``metarl train NAME`` and the recipes accept, and their trainer classes.

Agents plug in through the entry-point group ``metarl.agents``: each entry point names a
:class:`~metarl.training.Trainer` subclass, ``NAME = "package.module:TrainerClass"``. metarl's own agents
are declared there too (pyproject.toml), so a third-party agent is found the same way and the core never
imports ``metarl.agents`` by name. Listing the names imports nothing; an agent's module is imported
when its trainer class is first asked for.

Example:
    >>> from metarl.agent_registry import agent_names, trainer_class
    >>> "rl2" in agent_names()
    True
    >>> trainer_class("rl2").__name__
    'RL2Trainer'
"""

from __future__ import annotations

import difflib
from importlib import metadata

from metarl.errors import ConfigError
from metarl.plugins import PluginGroup

ENTRY_POINT_GROUP = "metarl.agents"

_TRAINERS: dict[str, type] = {}


def _add(ep: metadata.EntryPoint) -> None:
    from metarl.training.loop import Trainer

    cls = ep.load()
    if not (isinstance(cls, type) and issubclass(cls, Trainer)):
        raise TypeError(f"{ep.value} is {cls!r}, not a subclass of metarl.training.Trainer")
    _TRAINERS[ep.name] = cls


_PLUGINS = PluginGroup(ENTRY_POINT_GROUP, _add)


def agent_names() -> list[str]:
    """The installed agents' names, metarl's own first, each part sorted, without importing any of them.

    Example:
        >>> "fomaml" in agent_names() and "protonet" in agent_names()
        True
    """
    return list(dict.fromkeys(ep.name for ep in _PLUGINS.entry_points()))


def trainer_class(name: str) -> type:
    """The trainer class of the agent ``name``, imported now if it was not yet.

    An unknown name, or an agent whose plug-in fails to load, raises :class:`~metarl.errors.ConfigError`:
    one line with the close matches, or naming the distribution, the entry point and the cause. A name
    declared twice is the first declaration's (metarl's own first).

    Example:
        >>> trainer_class("maml").__name__
        'MAMLTrainer'
    """
    _PLUGINS.load(lambda ep: ep.name == name and name not in _TRAINERS, quiet=True)
    if name in _TRAINERS:
        return _TRAINERS[name]
    failed = [line for ep, line in _PLUGINS.failures.items() if ep.name == name]
    if failed:
        raise ConfigError(f"agent '{name}' cannot be used: {failed[0]}")
    names = agent_names()
    close = difflib.get_close_matches(name, names, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(f"unknown agent {name!r}{hint} (available: {', '.join(names)}){_PLUGINS.stale_hint()}")
