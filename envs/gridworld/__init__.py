"""Grid worlds: RuleGrid (objects, goals and hidden production rules), MetaMaze and KeyToDoor, with solvers.

Every family is a batched board of flat, wall-padded tensors (:mod:`metarl.envs.gridworld.board`): a move is an
addition, a view is a gather, and no Python loop runs over environments. Each has two reference solvers
(:mod:`metarl.envs.gridworld.solvers`): an oracle that knows the map and the task and plans by breadth-first
search, and an explore-then-plan agent that knows neither and maps what it sees.
"""

from metarl.envs.gridworld import solvers as _solvers  # noqa: F401  (registers the reference solvers)
from metarl.envs.gridworld.keytodoor import KeyDoorTask, KeyToDoor
from metarl.envs.gridworld.metamaze import MazeTask, MetaMaze
from metarl.envs.gridworld.rulegrid import RuleGrid, RuleTask

__all__ = ["KeyDoorTask", "KeyToDoor", "MazeTask", "MetaMaze", "RuleGrid", "RuleTask"]
