"""MetaMaze: find a hidden goal in a fixed grid maze, then return to it again and again (gymnax's setting).

The setting of gymnax's ``MetaMaze-misc`` (after Miconi et al. 2019, "Backpropamine"): a ``size x size`` maze
(9) with a wall on every cell of odd row and odd column, a goal cell drawn per trial, the start in the centre,
four moves, a ``view x view`` window of walls around the agent (3), reward ``reward`` (10) on reaching the goal,
after which the agent is put on a uniformly random free cell, and ``horizon`` steps (200, the backpropamine
episode). The observation is gymnax's: the window, the last action (one-hot), the last reward and the time (here
as a fraction of the horizon). Several goal visits per episode make it a meta-learning problem: explore once,
then exploit.
"""

from __future__ import annotations

import dataclasses

import gymnasium
import numpy as np
import torch
from metarl.envs.gridworld.board import Board, maze_walls, split_items

from metarl import random as mrandom
from metarl.engine import BatchedEnv
from metarl.errors import BadArgumentError
from metarl.params import Param
from metarl.tasks import Task


@dataclasses.dataclass
class MazeTask(Task):
    """``goal`` (B, 2): the goal's (row, column) in the maze, int64.

    Splits deal the goal cells out by a fixed hash (20% test, 10% validation): test goals are never trained on.
    """

    goal: torch.Tensor


class MetaMaze(BatchedEnv):
    """A fixed maze, a hidden goal per trial; reward on each visit, then a jump to a random free cell.

    Example:
        >>> import metarl
        >>> env = metarl.make("metarl/MetaMaze-v0", num_envs=3, seed=0)
        >>> env.reset().shape
        torch.Size([3, 15])
    """

    family = "MetaMaze"
    description = "fixed grid maze, hidden goal per trial, reward and a random jump on each visit (gymnax)"
    source = "gymnax MetaMaze-misc (Lange 2022), after Miconi et al. 2019"
    params = {
        "size": Param(9, low=3, high=61, doc="maze side without the border, odd"),
        "view": Param(3, low=1, high=9, doc="side of the window of walls the agent sees, odd"),
        "horizon": Param(200, low=1, high=100_000, doc="steps per inner episode"),
        "episodes": Param(1, low=1, high=100_000, doc="inner episodes per trial"),
        "reward": Param(10.0, low=-1e6, high=1e6, doc="reward on reaching the goal"),
    }
    task_type = MazeTask
    uniforms_per_step = 1
    can_terminate = False
    state_attributes = ("_cell", "_last")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        size, view = self.config["size"], self.config["view"]
        self.board = Board(maze_walls(size), pad=view // 2, device=self.device)
        board = self.board
        self._free = board.free_cells
        self._centre = board.cell(size // 2 + 1, size // 2 + 1)
        self._goal_cells = board.coordinates(board.free_cells) - 1  # (row, column) in the maze of each free cell
        # The observation as a table over (cell, last action or none, rewarded): one lookup per step.
        window = board.wall[board.free_cells[:, None] + board.centred_view(view)[None]].float()  # (F, view^2)
        cells = len(board.free_cells)
        actions = torch.eye(5, 4, device=self.device)  # row 4: no action yet
        table = torch.cat([window[:, None, None, :].expand(cells, 5, 2, -1),
                           actions[None, :, None, :].expand(cells, 5, 2, -1),
                           torch.tensor([0.0, self.config["reward"]], device=self.device)[None, None, :, None]
                           .expand(cells, 5, 2, 1)], dim=3)
        self._table = table.reshape(cells * 10, -1)
        self._slot = torch.full((board.size,), -1, dtype=torch.int64, device=self.device)  # padded -> table row
        self._slot[board.free_cells] = torch.arange(cells, device=self.device) * 10
        self._goals = {split: rows.to(self.device) for split, rows in split_items(cells, salt=0x3A2E).items()}
        self._cell = self._free[torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)]
        self._last = torch.full((self.num_envs,), 8, dtype=torch.int64, device=self.device)  # action 4, no reward
        self._time_scale = 1.0 / self.config["horizon"]

    def _trial_shape(self) -> tuple[int, int]:
        if self.config["size"] % 2 == 0 or self.config["view"] % 2 == 0:
            raise BadArgumentError(f"{self.id}: 'size' and 'view' must be odd, got {self.config['size']} and "
                                   f"{self.config['view']}")
        return self.config["horizon"], self.config["episodes"]

    def _spaces(self) -> tuple[gymnasium.Space, gymnasium.Space]:
        width = self.config["view"] ** 2 + 6
        high = np.full(width, 1.0, np.float32)
        high[-2] = max(self.config["reward"], 0.0)
        low = np.zeros(width, np.float32)
        low[-2] = min(self.config["reward"], 0.0)
        return gymnasium.spaces.Box(low, high, (width,), np.float32), gymnasium.spaces.Discrete(4)

    def task_shapes(self, batch: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        return {"goal": ((batch, 2), torch.int64)}

    def tasks_from_keys(self, keys: torch.Tensor, split: str) -> MazeTask:
        table = self._goals[split]
        pick = table[(mrandom.lanes(keys, 1)[:, 0] * len(table)).long().clamp_(max=len(table) - 1)]
        return MazeTask(goal=self._goal_cells[pick])

    def _task_error(self, task: MazeTask) -> str | None:
        size, goal = self.config["size"], task.goal
        if bool(((goal < 0) | (goal >= size)).any()) or bool(self.board.wall[self._goal_cell(goal.clamp(0, size - 1))]
                                                               .any()):
            return f"task field 'goal' must hold the (row, column) of free maze cells, each in [0, {size})"
        return None

    def _goal_cell(self, goal: torch.Tensor) -> torch.Tensor:
        """Padded-board cell of maze coordinates (B, 2)."""
        return (goal[:, 0] + 1 + self.board.pad) * self.board.stride + goal[:, 1] + 1 + self.board.pad

    def reward_bounds(self) -> tuple[float, float]:
        return min(0.0, self.config["reward"]), max(0.0, self.config["reward"])

    def _start_episode(self, mask: torch.Tensor | None) -> None:
        if mask is None:
            self._cell, self._last = torch.full_like(self._cell, self._centre), torch.full_like(self._last, 8)
        else:
            self._cell = self._cell.masked_fill(mask, self._centre)
            self._last = self._last.masked_fill(mask, 8)

    def _transition(self, action: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, None]:
        target = self._cell + self.board.moves[action]
        cell = torch.where(self.board.wall[target], self._cell, target)
        reached = cell == self._goal_cell(self.task.goal)
        jump = self._free[(u[0] * len(self._free)).long()]
        self._cell = torch.where(reached, jump, cell)
        self._last = action * 2 + reached
        return reached * self.config["reward"], None

    def _observe(self) -> torch.Tensor:
        rows = self._table.index_select(0, self._slot[self._cell] + self._last)
        return torch.cat([rows, (self._episode_step * self._time_scale).float()[:, None]], dim=1)

    @property
    def cell(self) -> torch.Tensor:
        """The agent's cell on the padded board, (B,) int64."""
        return self._cell

    @property
    def goal_cell(self) -> torch.Tensor:
        """The goal's cell on the padded board, (B,) int64."""
        return self._goal_cell(self.task.goal)
