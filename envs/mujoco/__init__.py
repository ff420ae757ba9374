"""Continuous-control meta-RL on MuJoCo: the seven task families of MAML, ProMP and PEARL (the ``mujoco`` extra).

The families need ``mujoco`` and ``mjbatch`` (``pip install "metarl[mujoco]"``). Without them, :func:`register_all`
reserves their ids, so asking for one raises :class:`~metarl.errors.MissingExtraError` naming the extra; nothing
here imports MuJoCo until a family is registered for real.
"""

from __future__ import annotations

import importlib.util

from metarl.registry import register_builtin, register_needs_extra

NAMES = ("HalfCheetahVel", "HalfCheetahDir", "AntDir", "AntGoal", "HumanoidDir", "Walker2DRandParams",
         "HopperRandParams")
"""The families, registered as ``metarl/<name>-v0``."""

REQUIRES = ("mujoco", "mjbatch")


def missing_modules() -> list[str]:
    """The modules of the ``mujoco`` extra that are not installed (found without importing them).

    Example:
        >>> isinstance(missing_modules(), list)
        True
    """
    return [name for name in REQUIRES if importlib.util.find_spec(name) is None]


def register_all() -> None:
    """Register the seven families, or reserve their ids for the missing ``mujoco`` extra."""
    missing = missing_modules()
    if missing:
        reason = f"it needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed"
        for name in NAMES:
            register_needs_extra(f"metarl/{name}-v0", "mujoco", reason)
        return
    from metarl.envs.mujoco.families import FAMILIES

    for name in NAMES:
        register_builtin(f"metarl/{name}-v0", FAMILIES[name])
