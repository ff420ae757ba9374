"""Meta-World ML1, ML10 and ML45 (optional extra ``metarl[metaworld]``).

The families are registered when the ``metaworld`` package is installed; otherwise their ids are reserved and
asking for one says which extra to install. Nothing here imports ``metaworld`` until a family is made.
"""

from __future__ import annotations

import importlib.util

from metarl.envs.metaworld.family import ML1, ML10, ML45, MetaWorld, MetaWorldTask

from metarl.registry import register_builtin, register_needs_extra

FAMILIES = {"metarl/ML1-v0": ML1, "metarl/ML10-v0": ML10, "metarl/ML45-v0": ML45}


def register_all() -> None:
    """Register the three families, or reserve their ids when Meta-World is not installed."""
    if importlib.util.find_spec("metaworld") is None:
        for id in FAMILIES:
            register_needs_extra(id, "metaworld", "it needs the Meta-World package, which is not installed")
        return
    for id, cls in FAMILIES.items():
        register_builtin(id, cls)


__all__ = ["FAMILIES", "ML1", "ML10", "ML45", "MetaWorld", "MetaWorldTask", "register_all"]
