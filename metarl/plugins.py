"""Entry-point plug-ins: loaded once, on demand; a broken one is skipped with one line that names it.

Both registries load what they hold this way, metarl's own contents included, so the core never names
a module of ``envs/`` or ``agents/``: the family registry reads the group ``metarl.envs`` and the agent
registry the group ``metarl.agents``. pyproject.toml declares metarl's own entry points in both groups;
a third-party distribution declares its own in the same groups, and they plug in the same way.

A plug-in that raises while it loads (its module is missing or raises, its function raises, ...) is
recorded and, unless the caller asks for quiet, reported as one :class:`PluginWarning` that names the
distribution, the entry point and the cause, with the file and line where the plug-in raised it.
"""

from __future__ import annotations

import pathlib
import sys
import types
import warnings
from collections.abc import Callable
from importlib import metadata


class PluginWarning(UserWarning):
    """A plug-in of a metarl entry-point group (``metarl.envs``, ``metarl.agents``) failed to load and was skipped."""


def is_own(ep: metadata.EntryPoint) -> bool:
    """Whether ``ep`` is one of metarl's own entry points (its object lives in the ``metarl`` package).

    Example:
        >>> is_own(metadata.EntryPoint("rl2", "metarl.agents.rl2:RL2Trainer", "metarl.agents"))
        True
    """
    return ep.module.partition(".")[0] == "metarl"


class PluginGroup:
    """The entry points of one group; :meth:`load` hands each to ``use`` once, and records those that raise.

    metarl's own entry points come first (then by name), so a third-party plug-in cannot take a name
    that metarl already uses.

    Example:
        >>> trainers = {}
        >>> agents = PluginGroup("metarl.agents", lambda ep: trainers.setdefault(ep.name, ep.load()))
        >>> agents.load(lambda ep: ep.name == "rl2")
        >>> trainers["rl2"].__name__
        'RL2Trainer'
    """

    def __init__(self, group: str, use: Callable[[metadata.EntryPoint], object]) -> None:
        self.group = group
        self.failures: dict[metadata.EntryPoint, str] = {}  # entry point -> the line that reports its failure
        self._use = use
        self._done: set[metadata.EntryPoint] = set()
        self._busy = False  # a plug-in that calls back into its registry must not start loading the others
        self._all_done = False

    def entry_points(self) -> list[metadata.EntryPoint]:
        """The group's installed entry points, metarl's own first, each part by name; nothing is imported."""
        return sorted(metadata.entry_points(group=self.group), key=lambda ep: (not is_own(ep), ep.name))

    def load(self, select: Callable[[metadata.EntryPoint], bool] | None = None, *, quiet: bool = False) -> None:
        """Use every entry point (or those ``select`` accepts) not used yet; a call from inside a plug-in returns.

        A plug-in that raises is skipped; its line goes to :attr:`failures` and, unless ``quiet``, is warned.
        """
        if self._busy or self._all_done:
            return
        self._busy = True  # set first: plug-ins call back into their registry, which comes back here
        try:
            for ep in self.entry_points():
                if ep in self._done or (select is not None and not select(ep)):
                    continue
                self._done.add(ep)
                try:
                    self._use(ep)
                except Exception as exc:  # a broken plug-in must name itself and leave the others working
                    self.failures[ep] = failure_line(ep, exc)
                    if not quiet:
                        warnings.warn(self.failures[ep], PluginWarning, stacklevel=_caller_stacklevel())
            self._all_done = select is None
        finally:
            self._busy = False

    def stale_hint(self) -> str:
        """A sentence on how to fix an install whose metadata lacks metarl's own entry points; else ``""``.

        Example:
            >>> PluginGroup("metarl.envs", print).stale_hint()  # an up-to-date install
            ''
        """
        if any(is_own(ep) for ep in self.entry_points()):
            return ""
        return (f" The installed metarl declares no entry points in the group '{self.group}': its metadata is out "
                "of date; reinstall it (`pip install -e .` in a source checkout).")


def failure_line(ep: metadata.EntryPoint, exc: Exception) -> str:
    """One line naming the distribution, the entry point and the cause (with where the plug-in raised it).

    Example:
        >>> ep = metadata.EntryPoint("gone", "gone_envs:register_all", "metarl.envs")
        >>> failure_line(ep, ModuleNotFoundError("No module named 'gone_envs'"))[:58]
        "plug-in 'gone = gone_envs:register_all' of an unknown dist"
    """
    dist = getattr(ep, "dist", None)
    where = f"distribution '{dist.name} {dist.version}'" if dist is not None else "an unknown distribution"
    tb, at = exc.__traceback__, ""
    while tb is not None:
        if not _is_internal(tb.tb_frame):
            at = f" at {pathlib.Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}"
        tb = tb.tb_next
    cause = " ".join(f"{type(exc).__name__}: {exc}".split())
    return (f"plug-in '{ep.name} = {ep.value}' of {where} (entry-point group '{ep.group}') failed to "
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
