"""Reference solvers of the grid families: a BFS oracle and an explore-then-plan agent for each.

The oracle knows the map and the task (goal cell; key and door; rules) and walks shortest paths. Explore-then-plan
knows neither: it maps what it sees (and, in MetaMaze, where the reward came), walks to the nearest cell it has
not seen until what it needs is on its map, then plans to it; its map lasts the trial where places stay put
(MetaMaze, KeyToDoor) and the episode where they do not (RuleGrid). Both know where they stand, as an agent that
counts its own moves does. Every solver plans for all B environments at once with :func:`bfs_distance`.
"""

from __future__ import annotations

import torch
from metarl.envs.gridworld import rules as R
from metarl.envs.gridworld.board import FAR, bfs_distance, downhill
from metarl.envs.gridworld.keytodoor import KeyToDoor
from metarl.envs.gridworld.metamaze import MetaMaze
from metarl.envs.gridworld.rulegrid import FORWARD, LEFT, PICK_UP, PUT_DOWN, RIGHT, RuleGrid

from metarl.solvers import register_solver


def spread(mask: torch.Tensor, stride: int) -> torch.Tensor:
    """Cells with a 4-neighbour in ``mask`` (B, N) on a padded board (the border must be False)."""
    out = torch.zeros_like(mask)
    for shift in (1, stride):
        out[:, shift:] |= mask[:, :-shift]
        out[:, :-shift] |= mask[:, shift:]
    return out


class _Walker:
    """Moves of a four-direction grid family towards the nearest of some cells; random where none is reachable."""

    def __init__(self, env, generator: torch.Generator | None) -> None:
        self.env, self.generator = env, generator
        self.board = env.board
        self.open = ~env.board.wall.expand(env.num_envs, -1)

    def towards(self, target: torch.Tensor, passable: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
        distance = bfs_distance(passable, target, self.board.stride)
        action = downhill(distance, cell, self.board.moves)
        lost = distance.gather(1, cell[:, None]).squeeze(1) >= FAR
        return torch.where(lost, self.env.sample_actions(self.generator), action)

    def stay_on(self, action: torch.Tensor, cell: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """``action``, except where the walker stands on ``goal`` beside a wall: there, the move into the wall.

        In MetaMaze (as in gymnax's) a move that a wall blocks leaves the agent where it is, and standing on the goal
        after a move is reaching it: a walker dropped onto the goal by a jump reaches it in one step this way,
        where stepping off and back takes two.
        """
        blocked = self.board.wall[cell[:, None] + self.board.moves[None, :]]
        into_wall = blocked.float().argmax(1)
        return torch.where((cell == goal) & blocked.any(1), into_wall, action)


class MazeOracle(_Walker):
    """Walks the shortest path to the goal it is told, again after every jump."""

    def __init__(self, env: MetaMaze, generator: torch.Generator | None) -> None:
        super().__init__(env, generator)
        goal = torch.zeros_like(self.open)
        goal.scatter_(1, env.goal_cell[:, None], True)
        self.distance = bfs_distance(self.open, goal, self.board.stride)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        cell = self.env.cell
        return self.stay_on(downhill(self.distance, cell, self.board.moves), cell, self.env.goal_cell)


class MazeExplorer(_Walker):
    """Visits the nearest unvisited cell until a reward shows where the goal is, then returns there each time."""

    def __init__(self, env: MetaMaze, generator: torch.Generator | None) -> None:
        super().__init__(env, generator)
        self.visited = torch.zeros_like(self.open).scatter_(1, env.cell[:, None], True)
        self.goal = torch.zeros_like(self.open)
        self.found = torch.zeros(env.num_envs, dtype=torch.bool, device=env.device)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        self.before = self.env.cell
        target = torch.where(self.found[:, None], self.goal, self.open & ~self.visited)
        known_goal = torch.where(self.found, self.goal.float().argmax(1), -1)
        return self.stay_on(self.towards(target, self.open, self.before), self.before, known_goal)

    def observe(self, action: torch.Tensor, step) -> None:
        moved = self.before + self.board.moves[action]
        moved = torch.where(self.board.wall[moved], self.before, moved)
        self.visited.scatter_(1, moved[:, None], True)
        self.visited.scatter_(1, self.env.cell[:, None], True)
        rewarded = step.reward > 0
        self.goal |= torch.zeros_like(self.goal).scatter_(1, moved[:, None], rewarded[:, None])
        self.found |= rewarded


class DoorOracle(_Walker):
    """Walks to the key, then to the door."""

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        env = self.env
        key, door = env._padded[env.task.places[:, 0]], env._padded[env.task.places[:, 1]]
        target = torch.where(env.has_key, door, key)
        mask = torch.zeros_like(self.open).scatter_(1, target[:, None], True)
        passable = self.open.clone().scatter_(1, door[:, None], False)
        return self.towards(mask, passable, env.cell)


class DoorExplorer(_Walker):
    """Maps walls, key and door from its window; explores until it has seen what it needs, then walks there."""

    def __init__(self, env: KeyToDoor, generator: torch.Generator | None) -> None:
        super().__init__(env, generator)
        self.seen = torch.zeros_like(self.open)
        self.wall = torch.zeros_like(self.open)
        self.key = torch.zeros_like(self.open)
        self.door = torch.zeros_like(self.open)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        env, view = self.env, self.env.config["view"] ** 2
        cells = env.cell[:, None] + env._window[None, :]
        window = obs[:, : 3 * view].view(-1, view, 3) > 0.5
        self.seen.scatter_(1, cells, True)
        self.wall.scatter_(1, cells, window[:, :, 0])
        self.key |= torch.zeros_like(self.key).scatter_(1, cells, window[:, :, 1])
        self.door |= torch.zeros_like(self.door).scatter_(1, cells, window[:, :, 2])
        has_key = env.has_key[:, None]
        want = torch.where(has_key, self.door, self.key & ~has_key)
        known = want.any(1, keepdim=True)
        target = torch.where(known, want, ~self.seen & ~self.board.wall)
        passable = ~self.wall & ~self.board.wall & (~self.door | has_key)
        return self.towards(target, passable | target, env.cell)


PICK, NEAR, PUT_NEXT_TO, DROP, EXPLORE, WANDER = range(6)


class _RuleWalker:
    """Executes one step of a primitive (pick up t, stand next to t, put the held object next to t, drop it,
    explore) in a RuleGrid: BFS to a cell beside the cells to face, turn to face one, act."""

    def __init__(self, env: RuleGrid, generator: torch.Generator | None) -> None:
        self.env, self.generator, self.board = env, generator, env.board
        rows = torch.arange(env.num_envs, device=env.device)
        self.rows = rows

    def step(self, grid: torch.Tensor, primitive: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        env, stride = self.env, self.board.stride
        floor = grid == R.FLOOR
        is_target = grid == target[:, None]
        beside_target = spread(is_target, stride) & floor
        face = torch.where((primitive == PICK)[:, None], is_target, floor)
        face = torch.where((primitive == PUT_NEXT_TO)[:, None], beside_target, face)
        face = torch.where((primitive == NEAR)[:, None], is_target, face)
        face = torch.where((primitive == EXPLORE)[:, None], grid == 255, face)
        stand = spread(face, stride) & floor
        distance = bfs_distance(floor, stand, stride)
        cell, facing = env.cell, env.facing
        here = distance.gather(1, cell[:, None]).squeeze(1)
        options = face.gather(1, cell[:, None] + self.board.moves)  # (B, 4): which neighbours to face
        wanted = torch.where(here == 0, options.to(torch.uint8).argmax(1), downhill(distance, cell, self.board.moves))
        use = torch.where(primitive == PICK, PICK_UP, torch.where(primitive == EXPLORE, RIGHT, PUT_DOWN))
        use = torch.where(primitive == NEAR, RIGHT, use)
        act = torch.where(here == 0, use, FORWARD)
        turn = (wanted - facing) & 3
        action = torch.where(turn == 0, act, torch.where(turn == 3, LEFT, RIGHT))
        lost = (here >= FAR) | (primitive == WANDER)
        return torch.where(lost, env.sample_actions(self.generator), action)


class RuleOracle(_RuleWalker):
    """Knows the grid and the rules: chains back from the goal through the rules to an object on the floor."""

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        env = self.env
        grid, pocket = env.grid.long(), env.pocket
        kind, ra, rb, rc = env.task.rules.unbind(2)
        goal_kind, want, partner = env.task.goal.unbind(1)
        context = torch.where(goal_kind == R.HOLD_GOAL, PICK, torch.where(goal_kind == R.NEAR_GOAL, NEAR, PUT_NEXT_TO))

        def there(t: torch.Tensor) -> torch.Tensor:
            return (grid == t[:, None]).any(1) | (pocket == t)

        for _ in range(kind.shape[1]):
            missing = ~there(want)
            producer = (rc == want[:, None]) & (kind > 0)
            rule = producer.to(torch.uint8).argmax(1)
            found = missing & producer.any(1)
            k, x, y = (t.gather(1, rule[:, None]).squeeze(1) for t in (kind, ra, rb))
            x_missing, y_missing = ~there(x), ~there(y)
            new_want = torch.where((k == R.NEXT_TO_RULE) & ~x_missing & y_missing, y, x)
            new_partner = torch.where(new_want == x, y, x)
            new_context = torch.where(k == R.HOLD_RULE, PICK, torch.where(k == R.NEAR_RULE, NEAR, PUT_NEXT_TO))
            want = torch.where(found, new_want, want)
            partner = torch.where(found, new_partner, partner)
            context = torch.where(found, new_context, context)
        primitive = torch.where(context == NEAR, NEAR, PICK)
        target = want.clone()
        pairing = context == PUT_NEXT_TO
        primitive = torch.where(pairing & (pocket == want), PUT_NEXT_TO, primitive)
        target = torch.where(pairing & (pocket == want), partner, target)
        swap = pairing & (pocket == partner) & (partner > 0)
        primitive, target = torch.where(swap, PUT_NEXT_TO, primitive), torch.where(swap, want, target)
        junk = (primitive == PICK) & (pocket > 0) & (pocket != want)
        primitive = torch.where(junk, DROP, primitive)
        primitive = torch.where(~there(want) & ~swap, WANDER, primitive)
        return self.step(grid, primitive, target)


class RuleExplorer(_RuleWalker):
    """Knows the goal, not the rules: maps its view (for the episode, or the trial where places stay put), goes for
    the goal objects once seen, explores until then, and acts at random when the map is complete and the goal
    objects are not on it."""

    def __init__(self, env: RuleGrid, generator: torch.Generator | None) -> None:
        super().__init__(env, generator)
        self.memory = self._blank()
        self.first = self._blank()  # each cell as first seen in the trial: the places an episode starts from

    def _blank(self) -> torch.Tensor:
        unknown = torch.full((self.env.num_envs, self.board.size), 255, dtype=torch.int64, device=self.env.device)
        return torch.where(self.board.wall[None], R.WALL, unknown)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        env = self.env
        cells = env.cell[:, None] + env._window.index_select(0, env.facing)
        self.memory.scatter_(1, cells, env.grid.gather(1, cells).long())
        self.memory.scatter_(1, env.cell[:, None], R.FLOOR)
        self.first = torch.where(self.first == 255, self.memory, self.first)
        goal_kind, want, partner = env.task.goal.unbind(1)
        pocket = env.pocket
        seen = (self.memory == want[:, None]).any(1) | (pocket == want)
        primitive = torch.where(goal_kind == R.NEAR_GOAL, NEAR, PICK)
        target = want.clone()
        pairing = goal_kind == R.NEXT_TO_GOAL
        seen_partner = (self.memory == partner[:, None]).any(1)
        put = pairing & (pocket == want) & seen_partner
        primitive, target = torch.where(put, PUT_NEXT_TO, primitive), torch.where(put, partner, target)
        junk = (primitive == PICK) & (pocket > 0) & (pocket != want)
        primitive = torch.where(junk, DROP, primitive)
        ready = seen & (~pairing | seen_partner | (pocket != want))
        unexplored = (self.memory == 255).any(1)
        primitive = torch.where(ready, primitive, torch.where(unexplored, EXPLORE, WANDER))
        passable_map = torch.where(self.memory == 255, R.FLOOR, self.memory)
        passable_map[:, 0] = R.WALL
        return self.step(torch.where(primitive[:, None] == EXPLORE, self.memory, passable_map), primitive, target)

    def observe(self, action: torch.Tensor, step) -> None:
        start = self._blank() if self.env.config["shuffle"] else self.first  # new places, or the trial's first ones
        self.memory = torch.where(step.episode_end[:, None], start, self.memory)


class RandomActions:
    """Uniformly random actions: the floor every solver and agent should clear."""

    def __init__(self, env, generator: torch.Generator | None) -> None:
        self.env, self.generator = env, generator

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return self.env.sample_actions(self.generator)


for _family, _oracle, _explorer in ((MetaMaze, MazeOracle, MazeExplorer), (KeyToDoor, DoorOracle, DoorExplorer),
                                     (RuleGrid, RuleOracle, RuleExplorer)):
    register_solver(_family, "random", RandomActions)
    register_solver(_family, "oracle", _oracle)
    register_solver(_family, "explore-then-plan", _explorer)
