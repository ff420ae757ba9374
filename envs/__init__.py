"""Built-in environment families (installed as ``metarl.envs``), registered on import of ``metarl``.

They register through :func:`~metarl.registry.register_builtin`, which does not load plug-ins: a plug-in
imports ``metarl``, which is still being imported here.
"""

from metarl.envs.bandit import BanditTask, BernoulliBandit
from metarl.envs.glyphs import ClassificationTask, Glyphs
from metarl.envs.learn_to_optimize import LearnToOptimize
from metarl.envs.navigation import Navigation2D, NavigationTask
from metarl.envs.sinusoid import Sinusoid, SinusoidTask
from metarl.envs.tabular import TabularMDP, TabularTask
from metarl.envs.teach import Teach

from metarl.registry import register_builtin

BUILTIN = {
    "metarl/BernoulliBandit-v0": BernoulliBandit,
    "metarl/TabularMDP-v0": TabularMDP,
    "metarl/Navigation2D-v0": Navigation2D,
    "metarl/Sinusoid-v0": Sinusoid,
    "metarl/Glyphs-v0": Glyphs,
    "metarl/LearnToOptimize-v0": LearnToOptimize,
    "metarl/Teach-v0": Teach,
}

for _id, _cls in BUILTIN.items():
    register_builtin(_id, _cls)

__all__ = [
    "BanditTask",
    "BernoulliBandit",
    "ClassificationTask",
    "Glyphs",
    "LearnToOptimize",
    "Navigation2D",
    "NavigationTask",
    "Sinusoid",
    "SinusoidTask",
    "TabularMDP",
    "TabularTask",
    "Teach",
]
