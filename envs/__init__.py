"""Built-in environment families (installed as ``metarl.envs``), registered on import of ``metarl``."""

from metarl.envs.bandit import BanditTask, BernoulliBandit
from metarl.envs.navigation import Navigation2D, NavigationTask
from metarl.envs.tabular import TabularMDP, TabularTask

from metarl.registry import register

BUILTIN = {
    "metarl/BernoulliBandit-v0": BernoulliBandit,
    "metarl/TabularMDP-v0": TabularMDP,
    "metarl/Navigation2D-v0": Navigation2D,
}

for _id, _cls in BUILTIN.items():
    register(_id, _cls)

__all__ = ["BanditTask", "BernoulliBandit", "Navigation2D", "NavigationTask", "TabularMDP", "TabularTask"]
