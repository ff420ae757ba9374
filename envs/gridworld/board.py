"""Grid layouts as flat tensors padded with walls, views as precomputed offsets, and batched BFS.

Every grid family keeps a room of ``height x width`` cells inside a border of walls ``pad`` cells thick, and
addresses a cell by its flat index in the padded array. A move is one addition of a precomputed offset, a
view is one gather at ``position + offsets``, and nothing ever leaves the array: the padding is as thick as
the view reaches. Directions are 0 up, 1 right, 2 down, 3 left; turning right adds one.
"""

from __future__ import annotations

import numpy as np
import torch

MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))
"""(row, column) step of each direction: up, right, down, left."""

FAR = 1 << 20
"""The distance of a cell that no source reaches."""


def room_walls(size: int, rooms: int = 1) -> np.ndarray:
    """Walls of a square room ``size x size`` with a wall border; ``rooms=4`` splits it in four, joined by gaps.

    The split walls run along the middle row and column, each with two gaps; with ``size % 4 == 1`` the gaps
    sit on even coordinates, so the odd-odd cells (where objects are placed) are never in a gap.

    Example:
        >>> int(room_walls(5).sum())
        16
        >>> bool(room_walls(9, rooms=4)[4, 1])
        True
    """
    walls = np.zeros((size, size), dtype=bool)
    walls[0, :] = walls[-1, :] = walls[:, 0] = walls[:, -1] = True
    if rooms == 4:
        middle, quarter = size // 2, size // 4
        walls[middle, :] = walls[:, middle] = True
        for gap in (quarter, size - 1 - quarter):
            walls[middle, gap] = walls[gap, middle] = False
    return walls


def lattice_cells(walls: np.ndarray) -> list[tuple[int, int]]:
    """Free cells with odd row and column: no two of them are neighbours, so objects placed there never touch.

    Example:
        >>> len(lattice_cells(room_walls(9)))
        16
    """
    return [(r, c) for r in range(1, walls.shape[0], 2) for c in range(1, walls.shape[1], 2) if not walls[r, c]]


def maze_walls(size: int) -> np.ndarray:
    """gymnax's MetaMaze layout (after Miconi et al. 2019): ``size x size`` cells, odd ``size``, with a wall on every
    cell of odd row and odd column, inside a wall border (so the array is ``size + 2`` wide).

    Example:
        >>> int((~maze_walls(9)).sum())
        65
    """
    walls = np.zeros((size + 2, size + 2), dtype=bool)
    walls[0, :] = walls[-1, :] = walls[:, 0] = walls[:, -1] = True
    walls[2:-1:2, 2:-1:2] = True
    return walls


class Board:
    """A wall layout padded by ``pad`` wall cells on every side, addressed by flat index, on one device.

    Example:
        >>> board = Board(room_walls(5), pad=1)
        >>> board.cell(1, 1), int(board.moves[1])
        (16, 1)
    """

    def __init__(self, walls: np.ndarray, pad: int, device: torch.device | str = "cpu") -> None:
        self.rows, self.columns = walls.shape
        self.pad = int(pad)
        self.stride = self.columns + 2 * self.pad
        full = np.ones((self.rows + 2 * self.pad, self.stride), dtype=bool)
        full[self.pad : self.pad + self.rows, self.pad : self.pad + self.columns] = walls
        self.size = full.size
        self.device = torch.device(device)
        self.wall = torch.as_tensor(full.ravel(), device=self.device)
        self.moves = torch.tensor([dr * self.stride + dc for dr, dc in MOVES], device=self.device)
        free = [self.cell(r, c) for r in range(self.rows) for c in range(self.columns) if not walls[r, c]]
        self.free_cells = torch.tensor(free, device=self.device)

    def cell(self, row: int, column: int) -> int:
        """Flat index of the room cell (row, column)."""
        return (row + self.pad) * self.stride + column + self.pad

    def cells(self, coordinates: list[tuple[int, int]]) -> torch.Tensor:
        """Flat indices of room cells, (n,) int64."""
        return torch.tensor([self.cell(r, c) for r, c in coordinates], dtype=torch.int64, device=self.device)

    def coordinates(self, cells: torch.Tensor) -> torch.Tensor:
        """(row, column) room coordinates of flat indices, shape ``cells.shape + (2,)``."""
        return torch.stack([cells // self.stride - self.pad, cells % self.stride - self.pad], dim=-1)

    def centred_view(self, size: int) -> torch.Tensor:
        """Offsets of a ``size x size`` window centred on a cell, row by row, (size * size,) int64."""
        half = size // 2
        return torch.tensor([dr * self.stride + dc for dr in range(-half, half + 1) for dc in range(-half, half + 1)],
                            device=self.device)

    def egocentric_view(self, size: int) -> torch.Tensor:
        """Offsets of a ``size x size`` view per facing direction, (4, size * size): the viewer sits in the middle
        of the bottom row looking up the view (the MiniGrid convention), so row 0 is the farthest."""
        rows = []
        for d in range(4):
            ahead, right = MOVES[d], MOVES[(d + 1) % 4]
            row = []
            for i in range(size):
                for j in range(size):
                    f, s = size - 1 - i, j - size // 2
                    row.append((f * ahead[0] + s * right[0]) * self.stride + f * ahead[1] + s * right[1])
            rows.append(row)
        return torch.tensor(rows, device=self.device)


def bfs_distance(passable: torch.Tensor, source: torch.Tensor, stride: int, limit: int | None = None) -> torch.Tensor:
    """Steps from every cell to the nearest ``source`` cell through ``passable`` cells, (B, N) int64.

    ``passable`` and ``source`` are (B, N) bool over flat padded grids whose border is impassable (so no move
    wraps). Unreached cells hold :data:`FAR`. All B grids relax together, one ring of cells per pass.

    Example:
        >>> board = Board(room_walls(5), pad=1)
        >>> source = torch.zeros(1, board.size, dtype=torch.bool); source[0, board.cell(1, 1)] = True
        >>> int(bfs_distance(~board.wall[None], source, board.stride)[0, board.cell(3, 3)])
        4
    """
    far = torch.full_like(passable, FAR, dtype=torch.int64)
    distance = torch.where(source, 0, far)
    open_ = passable | source
    for _ in range(limit or passable.shape[1]):
        near = distance.clone()
        for shift in (1, stride):
            near[:, shift:] = torch.minimum(near[:, shift:], distance[:, :-shift] + 1)
            near[:, :-shift] = torch.minimum(near[:, :-shift], distance[:, shift:] + 1)
        near = torch.where(open_, near, far)
        if torch.equal(near, distance):
            break
        distance = near
    return distance


def downhill(distance: torch.Tensor, position: torch.Tensor, moves: torch.Tensor) -> torch.Tensor:
    """The direction (B,) whose neighbour of ``position`` is closest by ``distance`` (B, N).

    Example:
        >>> board = Board(room_walls(5), pad=1)
        >>> source = torch.zeros(1, board.size, dtype=torch.bool); source[0, board.cell(3, 1)] = True
        >>> d = bfs_distance(~board.wall[None], source, board.stride)
        >>> int(downhill(d, torch.tensor([board.cell(1, 1)]), board.moves)[0])  # down
        2
    """
    return distance.gather(1, position[:, None] + moves[None, :]).argmin(1)


def split_items(count: int, salt: int) -> dict[str, torch.Tensor]:
    """Items ``0 .. count - 1`` dealt to the splits by a fixed hash: 20% test, 10% validation, the rest train.

    Each split gets at least one item (``count >= 3``); the deal is the same on every machine.

    Example:
        >>> parts = split_items(49, salt=1)
        >>> [len(parts[s]) for s in ("train", "validation", "test")]
        [36, 4, 9]
    """
    from metarl.random import mix32

    scores = mix32(torch.arange(count, dtype=torch.int64) + salt).long() & 0xFFFFFFFF
    order = scores.argsort()
    test, validation = max(1, count // 5), max(1, count // 10)
    return {"test": order[:test].sort().values, "validation": order[test : test + validation].sort().values,
            "train": order[test + validation :].sort().values}
