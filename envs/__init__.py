"""Built-in environment families (installed as ``metarl.envs``), registered on import of ``metarl``.

:func:`register_all` is metarl's own entry point of the group ``metarl.envs`` (see pyproject.toml); the
core calls it through that group, as it calls a third-party plug-in, and never imports this package by
name. It registers through :func:`~metarl.registry.register_builtin`, which does not load plug-ins: a
plug-in imports ``metarl``, which is still being imported when this runs.
"""

from metarl.envs.bandit import BanditTask, BernoulliBandit
from metarl.envs.child_training import ArchitectureSearch, Augment, LearnedLoss, MetaKD
from metarl.envs.glyphs import ClassificationTask, Glyphs
from metarl.envs.goal_grid import GoalGrid, GoalGridTask
from metarl.envs.gridworld import KeyToDoor, MetaMaze, RuleGrid
from metarl.envs.learn_to_optimize import LearnToOptimize
from metarl.envs.metaworld import register_all as register_metaworld
from metarl.envs.mujoco import register_all as register_mujoco
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
    "metarl/ArchitectureSearch-v0": ArchitectureSearch,
    "metarl/Augment-v0": Augment,
    "metarl/LearnedLoss-v0": LearnedLoss,
    "metarl/MetaKD-v0": MetaKD,
    "metarl/GoalGrid-v0": GoalGrid,
    "metarl/RuleGrid-v0": RuleGrid,
    "metarl/MetaMaze-v0": MetaMaze,
    "metarl/KeyToDoor-v0": KeyToDoor,
}


def register_all() -> None:
    """Register every built-in family under its ``metarl/`` id."""
    for id, cls in BUILTIN.items():
        register_builtin(id, cls)
    register_metaworld()  # Meta-World's families, or their ids reserved when metarl[metaworld] is not installed
    register_mujoco()  # the MuJoCo families, or their ids reserved for the missing extra


__all__ = [
    "ArchitectureSearch",
    "Augment",
    "BanditTask",
    "BernoulliBandit",
    "ClassificationTask",
    "Glyphs",
    "GoalGrid",
    "GoalGridTask",
    "KeyToDoor",
    "LearnToOptimize",
    "LearnedLoss",
    "MetaKD",
    "MetaMaze",
    "Navigation2D",
    "NavigationTask",
    "Sinusoid",
    "SinusoidTask",
    "TabularMDP",
    "TabularTask",
    "Teach",
    "RuleGrid",
    "register_all",
]
