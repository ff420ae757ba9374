"""KeyToDoor: find a key, then the door it opens, in a room seen through a small window.

A ``size x size`` room (walls on the border) holds a key and a door on cells drawn per trial; the agent starts
on a third cell. Stepping onto the key picks it up; the door blocks the way until the agent holds the key, and
stepping into it with the key ends the inner episode with reward ``1 - 0.9 * t / horizon`` (MiniGrid's reward
for finishing after ``t`` steps). The agent sees a ``view x view`` window around itself (walls, key, door) and
whether it holds the key. The key, the door and the start stay put for the ``episodes`` inner episodes of a
trial, so an agent that remembers where it found them goes straight there in the later episodes.
"""

from __future__ import annotations

import dataclasses

import gymnasium
import numpy as np
import torch
from metarl.envs.gridworld.board import room_walls, split_items
from metarl.envs.gridworld.family import GridFamily

from metarl import random as mrandom
from metarl.params import Param
from metarl.tasks import Task


@dataclasses.dataclass
class KeyDoorTask(Task):
    """``places`` (B, 3): the key, door and start cells, distinct, as ``row * size + column``, int64.

    Splits deal the (key, door) pairs out by a fixed hash (20% test, 10% validation), so no task is in two.
    """

    places: torch.Tensor


class KeyToDoor(GridFamily):
    """Pick up the key, then walk into the door; the places stay the same for the whole trial.

    Example:
        >>> import metarl
        >>> env = metarl.make("metarl/KeyToDoor-v0", num_envs=2, seed=0)
        >>> env.reset().shape
        torch.Size([2, 76])
    """

    family = "KeyToDoor"
    description = "find a key then the door it opens, seen through a 5x5 window; places fixed per trial"
    source = "after the key-to-door tasks of Hung et al. 2019 and MiniGrid's DoorKey"
    params = {
        "size": Param(7, low=4, high=63, doc="room side, border walls included"),
        "view": Param(5, low=1, high=9, doc="side of the window the agent sees, odd"),
        "horizon": Param(50, low=1, high=100_000, doc="steps per inner episode"),
        "episodes": Param(3, low=1, high=100_000, doc="inner episodes per trial"),
    }
    task_type = KeyDoorTask
    state_attributes = ("_cell", "_has_key")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        size = self.config["size"]
        self._make_board(room_walls(size))
        self._padded = torch.zeros(size * size, dtype=torch.int64, device=self.device)
        coords = self.board.coordinates(self.board.free_cells)
        self._inner = coords[:, 0] * size + coords[:, 1]  # room index of every free cell
        self._padded[self._inner] = self.board.free_cells
        count = len(self._inner)
        pairs = split_items(count * count, salt=0x6E7D)
        self._pairs = {split: rows[rows // count != rows % count].to(self.device) for split, rows in pairs.items()}
        self._cell = self.board.free_cells[torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)]
        self._has_key = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)

    def _spaces(self) -> tuple[gymnasium.Space, gymnasium.Space]:
        width = 3 * self.config["view"] ** 2 + 1
        return gymnasium.spaces.Box(0.0, 1.0, (width,), np.float32), gymnasium.spaces.Discrete(4)

    def task_shapes(self, batch: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        return {"places": ((batch, 3), torch.int64)}

    def tasks_from_keys(self, keys: torch.Tensor, split: str) -> KeyDoorTask:
        table, count = self._pairs[split], len(self._inner)
        u = mrandom.lanes(keys, count + 1)
        pair = table[(u[:, count] * len(table)).long().clamp_(max=len(table) - 1)]
        key, door = pair // count, pair % count
        rows = torch.arange(len(keys), device=keys.device)
        order = u[:, :count].clone()
        order[rows, key] = order[rows, door] = 2.0  # the start is the first of the other cells
        start = order.argmin(1)
        return KeyDoorTask(places=self._inner[torch.stack([key, door, start], 1)])

    def _task_error(self, task: KeyDoorTask) -> str | None:
        size, cells = self.config["size"], task.places
        inside = (cells >= 0) & (cells < size * size)
        if not bool(inside.all()) or not bool((self._padded[cells.clamp(0, size * size - 1)] > 0).all()):
            return f"task field 'places' must hold free room cells (row * {size} + column)"
        if bool((cells[:, 0] == cells[:, 1]).any() | (cells[:, 1] == cells[:, 2]).any()
                | (cells[:, 0] == cells[:, 2]).any()):
            return "task field 'places' must hold three different cells (key, door, start)"
        return None

    def reward_bounds(self) -> tuple[float, float]:
        return 0.0, 1.0

    def _start_episode(self, mask: torch.Tensor | None) -> None:
        start = self._padded[self.task.places[:, 2]]
        if mask is None:
            self._cell, self._has_key = start, torch.zeros_like(self._has_key)
        else:
            self._cell = torch.where(mask, start, self._cell)
            self._has_key = self._has_key & ~mask

    def _transition(self, action: torch.Tensor, u: None) -> tuple[torch.Tensor, torch.Tensor]:
        target = self._cell + self.board.moves[action]
        key, door = self._padded[self.task.places[:, 0]], self._padded[self.task.places[:, 1]]
        at_door = target == door
        opened = at_door & self._has_key
        blocked = self.board.wall[target] | at_door
        self._cell = torch.where(blocked, self._cell, target)
        self._has_key = self._has_key | (self._cell == key)
        reward = opened * (1.0 - 0.9 * (self._episode_step + 1).float() / self.config["horizon"])
        return reward, opened

    def _observe(self) -> torch.Tensor:
        seen = self._cell[:, None] + self._window[None, :]
        places = self._padded[self.task.places[:, :2]]
        key = (seen == places[:, :1]) & ~self._has_key[:, None]
        door = seen == places[:, 1:]
        window = torch.stack([self.board.wall[seen], key, door], dim=2).flatten(1)
        return torch.cat([window, self._has_key[:, None]], dim=1).float()

    @property
    def cell(self) -> torch.Tensor:
        """The agent's padded-board cell, (B,) int64."""
        return self._cell

    @property
    def has_key(self) -> torch.Tensor:
        """Whether each agent holds the key, (B,) bool."""
        return self._has_key
