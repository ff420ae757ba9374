"""RuleGrid: rooms of coloured objects, a goal, hidden production rules and an egocentric view (XLand-MiniGrid-style).

The agent walks a ``size x size`` room (or four rooms joined by gaps) holding keys, doors, balls and boxes in six
colours, facing one of four directions: it moves forward, turns, picks up the object in front (into an empty
hand) and puts it down on the floor in front. It sees a ``view x view`` egocentric window of tiles (wall, object
type and colour, one-hot), what it holds, and its goal. Production rules, which it does not see, change objects
(see :mod:`metarl.envs.gridworld.rules`). Reaching the goal ends the inner episode with reward
``1 - 0.9 * t / horizon``. A trial is ``episodes`` inner episodes of one rule set; the objects and the agent are
placed anew at the start of each (``shuffle=0``: the same places in every episode of a trial), so what carries over
is what the rules do. ``level`` picks the difficulty and
``set_size`` draws tasks from a fixed benchmark set of that many rule sets per split (0: draw fresh ones).
"""

from __future__ import annotations

import dataclasses

import gymnasium
import numpy as np
import torch
from metarl.envs.gridworld import rules as R
from metarl.envs.gridworld.board import lattice_cells, room_walls
from metarl.envs.gridworld.family import GridFamily

from metarl import random as mrandom
from metarl.params import Param
from metarl.tasks import Task

FORWARD, RIGHT, LEFT, PICK_UP, PUT_DOWN = range(5)
_TURN = (0, 1, 3, 0, 0)
_FEATURES = 1 + len(R.TYPES) + len(R.COLOURS)  # wall, type one-hot, colour one-hot; floor is all zeros


def tile_features(device: torch.device | str = "cpu") -> torch.Tensor:
    """The observation features of every tile code, (TILES, 11) float32."""
    table = torch.zeros(R.TILES, _FEATURES, device=device)
    table[R.WALL, 0] = 1.0
    for code in range(R.FIRST_OBJECT, R.TILES):
        kind, colour = divmod(code - R.FIRST_OBJECT, len(R.COLOURS))
        table[code, 1 + kind] = table[code, 1 + len(R.TYPES) + colour] = 1.0
    return table


@dataclasses.dataclass
class RuleTask(Task):
    """``goal`` (B, 3), ``rules`` (B, R, 4), ``objects`` (B, N) as in :mod:`~metarl.envs.gridworld.rules`, and
    ``layout`` (B,), the key the places of each episode are drawn from; all int64."""

    goal: torch.Tensor
    rules: torch.Tensor
    objects: torch.Tensor
    layout: torch.Tensor


class RuleGrid(GridFamily):
    """Reach a visible goal in a room whose production rules are hidden; rules persist over a trial's episodes.

    Example:
        >>> import metarl
        >>> env = metarl.make("metarl/RuleGrid-v0", num_envs=2, level="small", seed=0)
        >>> env.reset().shape
        torch.Size([2, 311])
    """

    family = "RuleGrid"
    description = "XLand-MiniGrid-style rooms: objects, a goal, hidden production rules, egocentric view"
    source = "after XLand-MiniGrid (Nikulin et al. 2024)"
    params = {
        "level": Param("small", choices=tuple(R.LEVELS), doc="difficulty: depth of the rule chain and distractors"),
        "size": Param(9, low=5, high=33, doc="room side, walls included; 4 * k + 1 with rooms=4"),
        "rooms": Param(1, low=1, high=4, doc="1 room, or 4 rooms joined by gaps"),
        "view": Param(5, low=3, high=9, doc="side of the egocentric view, odd"),
        "horizon": Param(80, low=1, high=100_000, doc="steps per inner episode"),
        "episodes": Param(4, low=1, high=100_000, doc="inner episodes per trial"),
        "set_size": Param(0, low=0, high=2**31 - 1, doc="tasks per split of the fixed benchmark set; 0: fresh tasks"),
        "shuffle": Param(1, low=0, high=1, doc="1: place objects and agent anew each episode; 0: once per trial"),
    }
    task_type = RuleTask
    state_attributes = ("_grid", "_cell", "_facing", "_pocket")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        walls = room_walls(self.config["size"], self.config["rooms"])
        self._make_board(walls, egocentric=True)
        self._slots = self.board.cells(lattice_cells(walls))
        self._base = (self.board.wall.to(torch.uint8) * R.WALL)
        self._features = tile_features(self.device)
        self._turn = torch.tensor(_TURN, device=self.device)
        self._goal_kinds = torch.eye(3, device=self.device)
        zeros = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)
        self._grid = self._base.expand(self.num_envs, -1).clone()
        self._cell, self._facing, self._pocket = zeros + int(self._slots[0]), zeros.clone(), zeros.clone()

    def _layout_error(self) -> str | None:
        size, rooms = self.config["size"], self.config["rooms"]
        if rooms not in (1, 4) or (rooms == 4 and size % 4 != 1):
            return (f"'rooms' must be 1 or 4, and 4 rooms need a size of 4 * k + 1 (9, 13, 17, ...), got "
                    f"rooms={rooms}, size={size}")
        needed = R.sizes(self.config["level"])[1] + 1
        if len(lattice_cells(room_walls(size, rooms))) < needed:
            return (f"level {self.config['level']!r} places {needed} things; size {size} has too few places: use a "
                    "larger 'size'")
        return None

    def _spaces(self) -> tuple[gymnasium.Space, gymnasium.Space]:
        width = (self.config["view"] ** 2 + 3) * _FEATURES + 3
        return gymnasium.spaces.Box(0.0, 1.0, (width,), np.float32), gymnasium.spaces.Discrete(5)

    def task_shapes(self, batch: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        slots, width = R.sizes(self.config["level"])
        return {"goal": ((batch, 3), torch.int64), "rules": ((batch, slots, 4), torch.int64),
                "objects": ((batch, width), torch.int64), "layout": ((batch,), torch.int64)}

    def tasks_from_keys(self, keys: torch.Tensor, split: str) -> RuleTask:
        level, count = self.config["level"], self.config["set_size"]
        if count:
            keys = R.set_keys((keys.long() & 0xFFFFFFFF) % count, level, split)
        return RuleTask(**R.tasks_from_keys(keys, level, split))

    def _task_error(self, task: RuleTask) -> str | None:
        for name in ("goal", "rules", "objects"):
            value = getattr(task, name)
            if bool(((value < 0) | (value >= R.TILES)).any()):
                return f"task field '{name}' holds a value outside [0, {R.TILES}) (tile codes)"
        if bool((task.goal[:, 0] > 2).any()) or bool((task.rules[..., 0] > 3).any()):
            return "goal kinds are 0..2 and rule kinds 0..3"
        return None

    def reward_bounds(self) -> tuple[float, float]:
        return 0.0, 1.0

    def _start_episode(self, mask: torch.Tensor | None) -> None:
        rows = None if mask is None or not self._on_cpu else mask.nonzero().squeeze(1)
        task = self.task if rows is None else self.task[rows]
        trial = self._trial_index if rows is None else self._trial_index[rows]
        episode = self._episode_index if rows is None else self._episode_index[rows]
        episode = episode * self.config["shuffle"]
        key = mrandom.combine(mrandom.combine(task.layout, trial), episode)
        u = mrandom.lanes(key, len(self._slots) + 1)
        places = self._slots[u[:, :-1].argsort(1)]
        objects = task.objects.shape[1]
        grid = self._base.expand(len(key), -1).clone()
        grid.scatter_(1, places[:, :objects], task.objects.to(torch.uint8))
        cell, facing = places[:, objects], (u[:, -1] * 4).long()
        if mask is None:
            self._grid, self._cell, self._facing = grid, cell, facing
            self._pocket = torch.zeros_like(self._pocket)
        elif rows is not None:
            self._grid[rows], self._cell[rows], self._facing[rows], self._pocket[rows] = grid, cell, facing, 0
        else:
            self._grid = torch.where(mask[:, None], grid, self._grid)
            self._cell, self._facing = torch.where(mask, cell, self._cell), torch.where(mask, facing, self._facing)
            self._pocket = self._pocket.masked_fill(mask, 0)

    def _transition(self, action: torch.Tensor, u: None) -> tuple[torch.Tensor, torch.Tensor]:
        grid, moves = self._grid, self.board.moves
        kind, ra, rb, rc = self.task.rules.unbind(2)
        front = self._cell + moves[self._facing]
        ahead = grid.gather(1, front[:, None]).squeeze(1).long()
        self._cell = torch.where((action == FORWARD) & (ahead == R.FLOOR), front, self._cell)
        self._facing = (self._facing + self._turn[action]) & 3
        pick = (action == PICK_UP) & (ahead >= R.FIRST_OBJECT) & (self._pocket == 0)
        put = (action == PUT_DOWN) & (ahead == R.FLOOR) & (self._pocket != 0)
        held = torch.where(pick, ahead, self._pocket.masked_fill(put, 0))
        fired, _, product = _first_rule((kind == R.HOLD_RULE) & (ra == held[:, None]) & pick[:, None], rc)
        held = torch.where(fired, product, held)
        placed = torch.where(put, self._pocket, ahead.masked_fill(pick, 0))
        # "a next to b becomes c", where one of them was just put down next to the other
        around = front[:, None] + moves
        neighbours = grid.gather(1, around).long()
        p, n = placed[:, None, None], neighbours[:, None, :]
        a, b = ra[:, :, None], rb[:, :, None]
        match = ((p == a) & (n == b)) | ((p == b) & (n == a))
        match &= ((kind == R.NEXT_TO_RULE) & put[:, None])[:, :, None]
        products = rc.repeat_interleave(4, 1)
        fired, which, product = _first_rule(match.flatten(1), products)
        placed = torch.where(fired, product, placed)
        grid.scatter_(1, front[:, None], placed[:, None].to(torch.uint8))
        cleared = around.gather(1, (which % 4)[:, None])
        kept = neighbours.gather(1, (which % 4)[:, None])
        grid.scatter_(1, cleared, kept.masked_fill(fired[:, None], R.FLOOR).to(torch.uint8))
        # "a next to the agent becomes c"
        beside = self._cell[:, None] + moves
        close = grid.gather(1, beside).long()
        match = ((kind == R.NEAR_RULE)[:, :, None] & (close[:, None, :] == ra[:, :, None])).flatten(1)
        fired, which, product = _first_rule(match, products)
        side = (which % 4)[:, None]
        changed = beside.gather(1, side)
        now = torch.where(fired[:, None], product[:, None], close.gather(1, side))
        grid.scatter_(1, changed, now.to(torch.uint8))
        close = close.scatter(1, side, now)
        self._pocket = held
        # the goal
        goal_kind, ga, gb = self.task.goal.unbind(1)
        spots = torch.cat([front[:, None], changed], 1)
        value = grid.gather(1, spots).long()
        nearby = grid.gather(1, (spots[:, :, None] + moves).flatten(1)).long().view(-1, 2, 4)
        pair = ((value == ga[:, None]) & (nearby == gb[:, None, None]).any(2)) | (
            (value == gb[:, None]) & (nearby == ga[:, None, None]).any(2))
        done = torch.where(goal_kind == R.HOLD_GOAL, held == ga,
                           torch.where(goal_kind == R.NEXT_TO_GOAL, pair.any(1), (close == ga[:, None]).any(1)))
        reward = done * (1.0 - 0.9 * (self._episode_step + 1).float() / self.config["horizon"])
        return reward, done

    def _observe(self) -> torch.Tensor:
        seen = self._grid.gather(1, self._cell[:, None] + self._window.index_select(0, self._facing)).long()
        goal = self.task.goal
        parts = [self._features.index_select(0, seen.view(-1)).view(self.num_envs, -1),
                 self._features.index_select(0, self._pocket),
                 self._goal_kinds.index_select(0, goal[:, 0]),
                 self._features.index_select(0, goal[:, 1]), self._features.index_select(0, goal[:, 2])]
        return torch.cat(parts, 1)

    @property
    def grid(self) -> torch.Tensor:
        """Tile codes of every environment's padded board, (B, cells) uint8 (see ``self.board``)."""
        return self._grid

    @property
    def cell(self) -> torch.Tensor:
        """The agent's cell on the padded board, (B,) int64."""
        return self._cell

    @property
    def facing(self) -> torch.Tensor:
        """The agent's direction (0 up, 1 right, 2 down, 3 left), (B,) int64."""
        return self._facing

    @property
    def pocket(self) -> torch.Tensor:
        """The tile code of what each agent holds (0: nothing), (B,) int64."""
        return self._pocket


def _first_rule(match: torch.Tensor, products: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(whether any of ``match`` (B, M) holds, the index of the first that does, its entry of ``products`` (B, M))."""
    which = match.to(torch.uint8).argmax(1)
    return match.any(1), which, products.gather(1, which[:, None]).squeeze(1)
