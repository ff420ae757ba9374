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
from metarl.envs.gridworld.board import maze_walls, split_items
from metarl.envs.gridworld.family import GridFamily

from metarl import random as mrandom
from metarl.params import Param
from metarl.tasks import Task


@dataclasses.dataclass
class MazeTask(Task):
    """``goal`` (B, 2): the goal's (row, column) in the maze, int64.

    With ``goals="split"`` (the default) the splits deal the goal cells out by a fixed hash (20% test, 10%
    validation), so test goals are never trained on; with ``goals="all"`` (gymnax's setting) every split draws its
    goals from every free cell, and the splits differ only in their keys.
    """

    goal: torch.Tensor


class MetaMaze(GridFamily):
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
        "size": Param(9, low=5, high=61, doc="maze side without the border, 4 * k + 1 (the centre is free)"),
        "view": Param(3, low=1, high=9, doc="side of the window of walls the agent sees, odd"),
        "horizon": Param(200, low=1, high=100_000, doc="steps per inner episode"),
        "episodes": Param(1, low=1, high=100_000, doc="inner episodes per trial"),
        "reward": Param(10.0, low=-1e6, high=1e6, doc="reward on reaching the goal"),
        "goals": Param("split", choices=("split", "all"),
                       doc="'split': the splits hold disjoint goal cells; 'all': each draws from every cell"),
    }
    task_type = MazeTask
    uniforms_per_step = 1
    can_terminate = False
    state_attributes = ("_spot", "_row", "_reward")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        size = self.config["size"]
        board = self._make_board(maze_walls(size))
        # The agent's place is a free-cell index ("spot"), kept as spot * 8 so that spot * 8 + action indexes both
        # the move table and the observation table (action 4: none yet): a step is a few lookups.
        cells = len(board.free_cells)
        spot_of = torch.full((board.size,), -1, dtype=torch.int64, device=self.device)
        spot_of[board.free_cells] = torch.arange(cells, device=self.device)
        target = board.free_cells[:, None] + board.moves[None, :]
        after = torch.where(board.wall[target], spot_of[board.free_cells][:, None], spot_of[target])
        moves = torch.zeros(cells, 8, dtype=torch.int64, device=self.device)
        moves[:, :4] = after * 8
        self._next, self._spot_of = moves.view(-1), spot_of
        self._centre = int(spot_of[board.cell(size // 2 + 1, size // 2 + 1)]) * 8
        self._goal_cells = board.coordinates(board.free_cells) - 1  # (row, column) in the maze of each spot
        window = board.wall[board.free_cells[:, None] + self._window[None]].float()  # (F, view^2)
        actions = torch.eye(8, 4, device=self.device)  # rows 4-7: no action yet
        table = torch.cat([window[:, None, :].expand(cells, 8, -1), actions[None].expand(cells, 8, 4),
                           torch.zeros(cells, 8, 2, device=self.device)], dim=2)  # last reward, time: per step
        self._table = table.reshape(cells * 8, -1)
        if self.config["goals"] == "all":
            every = torch.arange(cells, device=self.device)
            self._goals = {split: every for split in ("train", "validation", "test")}
        else:
            self._goals = {split: rows.to(self.device) for split, rows in split_items(cells, salt=0x3A2E).items()}
        self._spot = torch.full((self.num_envs,), self._centre, dtype=torch.int64, device=self.device)
        self._row = self._spot + 4
        self._reward = torch.zeros(self.num_envs, device=self.device)
        self._time_scale = 1.0 / self.config["horizon"]
        self._goal_task: MazeTask | None = None

    def _layout_error(self) -> str | None:
        if self.config["size"] % 4 != 1:
            return (f"'size' must be 4 * k + 1 (5, 9, 13, ...: other sizes put a wall on the centre, where the agent "
                    f"starts), got {self.config['size']}")
        return None

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
            self._spot = torch.full_like(self._spot, self._centre)
            self._reward = torch.zeros_like(self._reward)
        else:
            self._spot = self._spot.masked_fill(mask, self._centre)
            self._reward = self._reward.masked_fill(mask, 0.0)
        self._row = self._spot + 4

    def goal_spot(self) -> torch.Tensor:
        """Each goal as ``8 * free-cell index``, (B,) int64, computed again only when the tasks change."""
        if self._goal_task is not self.task:
            self._goal_task, self._goal = self.task, self._spot_of[self._goal_cell(self.task.goal)] * 8
        return self._goal

    def _step_noise(self, u: torch.Tensor) -> torch.Tensor:
        return (u * (len(self._next) // 8)).long().mul_(8)  # the spot a jump lands on, drawn per block of steps

    def _transition(self, action: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, None]:
        spot = self._next.take(self._spot + action)
        reached = spot == self.goal_spot()
        self._spot = torch.where(reached, u[0], spot)
        self._row = self._spot + action
        self._reward = reached * self.config["reward"]
        return self._reward, None

    def _observe(self) -> torch.Tensor:
        obs = self._table.index_select(0, self._row)
        obs[:, -2] = self._reward
        torch.mul(self._episode_step, self._time_scale, out=obs[:, -1])
        return obs

    @property
    def cell(self) -> torch.Tensor:
        """The agent's cell on the padded board, (B,) int64."""
        return self.board.free_cells[self._spot // 8]

    @property
    def goal_cell(self) -> torch.Tensor:
        """The goal's cell on the padded board, (B,) int64."""
        return self._goal_cell(self.task.goal)
