"""What the grid families share: an odd ``view``, trials of ``episodes`` inner episodes of ``horizon`` steps, and a
wall-padded board as thick as the view reaches."""

from __future__ import annotations

import numpy as np
from metarl.envs.gridworld.board import Board

from metarl.engine import BatchedEnv
from metarl.errors import BadArgumentError


class GridFamily(BatchedEnv):
    """A :class:`~metarl.engine.BatchedEnv` on a :class:`Board`, seen through a ``view x view`` window.

    Subclasses name their layout's own constraints in :meth:`_layout_error` and build their board with
    :meth:`_make_board`.

    Example:
        >>> import metarl
        >>> env = metarl.make("metarl/KeyToDoor-v0", num_envs=1)
        >>> isinstance(env, GridFamily), env.board.pad
        (True, 2)
    """

    def _layout_error(self) -> str | None:
        """What is wrong with the layout parameters (size, rooms, ...), as a sentence; None when nothing is."""
        return None

    def _trial_shape(self) -> tuple[int, int]:
        view = self.config["view"]
        problem = f"'view' must be odd, got {view}" if view % 2 == 0 else self._layout_error()
        if problem:
            raise BadArgumentError(f"{self.id}: {problem}")
        return self.config["horizon"], self.config["episodes"]

    def _make_board(self, walls: np.ndarray, egocentric: bool = False) -> Board:
        """``self.board`` padded for the view, and ``self._window``: the view's offsets, centred on the agent (4
        moves, no facing), or per facing direction with the agent at the bottom middle (``egocentric``)."""
        view = self.config["view"]
        self.board = Board(walls, pad=view - 1 if egocentric else view // 2, device=self.device)
        self._window = self.board.egocentric_view(view) if egocentric else self.board.centred_view(view)
        return self.board
