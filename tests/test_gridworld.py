"""The grid families' own mechanics: rules and goals of RuleGrid, its task space, MetaMaze's setting, solvers.

The contract every family meets (determinism, batch independence, views, state) is tested for these families
with the others, through tests/conftest.py's ENV_IDS.
"""

import pytest
import torch
from metarl.envs.gridworld import rules as R
from metarl.envs.gridworld.board import maze_walls
from metarl.envs.gridworld.rulegrid import FORWARD, LEFT, PICK_UP, PUT_DOWN, RIGHT

import metarl
from metarl import random as mrandom
from metarl.errors import BadArgumentError
from metarl.solvers import make_solver, trial_returns

KEY, BALL = R.FIRST_OBJECT, R.FIRST_OBJECT + 2 * len(R.COLOURS)  # red key, red ball
BLUE_BOX, GREEN_DOOR = R.FIRST_OBJECT + 3 * len(R.COLOURS) + 2, R.FIRST_OBJECT + len(R.COLOURS) + 1


def scene(goal, rules, objects):
    """A one-environment small-level RuleGrid with this task; the agent at room (4, 4) facing right."""
    env = metarl.make("metarl/RuleGrid-v0", num_envs=1, level="small", seed=0)
    env.reset()
    slots, width = R.sizes("small")
    rules = (rules + [[0, 0, 0, 0]] * slots)[:slots]
    task = {"goal": torch.tensor([goal]), "rules": torch.tensor([rules]),
            "objects": torch.tensor([(objects + [0] * width)[:width]]), "layout": torch.tensor([7])}
    env.set_task(task)
    board = env.board
    env._grid[:] = env._base
    env._cell[:] = board.cell(4, 4)
    env._facing[:] = 1
    return env, board


def put(env, board, row, col, code):
    env._grid[0, board.cell(row, col)] = code


def act(env, *actions):
    return [env.step(torch.tensor([a])) for a in actions]


def test_picking_up_an_object_under_a_hold_rule_gives_its_product():
    env, board = scene([R.HOLD_GOAL, BALL, 0], [[R.HOLD_RULE, KEY, 0, BALL]], [KEY])
    put(env, board, 4, 5, KEY)
    (step,) = act(env, PICK_UP)
    assert step.terminated.item() and step.reward.item() > 0.9


def test_putting_an_object_next_to_its_partner_makes_the_product():
    env, board = scene([R.HOLD_GOAL, BLUE_BOX, 0], [[R.NEXT_TO_RULE, BALL, KEY, BLUE_BOX]], [KEY, BALL])
    put(env, board, 4, 5, BALL)
    put(env, board, 3, 6, KEY)
    act(env, PICK_UP)
    assert env.pocket.item() == BALL and env.grid[0, board.cell(4, 5)] == R.FLOOR
    (step,) = act(env, FORWARD, LEFT, PUT_DOWN)[-1:]  # from (4, 5), facing up: the ball lands beside the key
    assert env.grid[0, board.cell(3, 5)] == BLUE_BOX and env.grid[0, board.cell(3, 6)] == R.FLOOR
    assert not step.terminated.item()
    (step,) = act(env, PICK_UP)
    assert step.terminated.item() and step.reward.item() > 0.5


def test_walking_next_to_an_object_under_a_near_rule_changes_it():
    env, board = scene([R.NEAR_GOAL, GREEN_DOOR, 0], [[R.NEAR_RULE, KEY, 0, GREEN_DOOR]], [KEY])
    put(env, board, 3, 6, KEY)
    (step,) = act(env, FORWARD)  # to (4, 5): the key at (3, 6) is diagonal, not next to the agent
    assert env.grid[0, board.cell(3, 6)] == KEY and not step.terminated.item()
    (step,) = act(env, FORWARD)  # to (4, 6): the key above becomes the door, and the agent stands next to it
    assert step.terminated.item()


def test_put_next_to_goal_ends_the_episode():
    env, board = scene([R.NEXT_TO_GOAL, BALL, KEY], [], [BALL, KEY])
    put(env, board, 4, 5, BALL)
    put(env, board, 2, 6, KEY)
    (step,) = act(env, PICK_UP)
    assert not step.terminated.item()
    (step,) = act(env, FORWARD, LEFT, PUT_DOWN)[-1:]  # the ball on (3, 5): the key at (2, 6) is diagonal
    assert not step.terminated.item() and env.grid[0, board.cell(3, 5)] == BALL
    (step,) = act(env, PICK_UP, FORWARD, PUT_DOWN)[-1:]  # from (3, 5) the ball goes to (2, 5), beside the key
    assert step.terminated.item()


def test_task_space_grows_with_the_level_and_sets_come_from_keys():
    counts = [R.task_count(level) for level in R.LEVELS]
    assert all(low <= high for low, high in counts)
    assert counts[0][0] > 1e5 and counts[-1][0] > 1e16
    assert all(a[1] < b[0] for a, b in zip(counts, counts[1:], strict=False))
    first = R.benchmark_tasks("high", torch.arange(64), "test")
    again = R.benchmark_tasks("high", torch.arange(64), "test")
    assert all(torch.equal(first[k], again[k]) for k in first)
    train = R.benchmark_tasks("high", torch.arange(2000), "train")["goal"]
    test = first["goal"]
    key = lambda g: (int(g[0]), min(int(g[1]), int(g[2])), max(int(g[1]), int(g[2])))  # noqa: E731
    assert not {key(g) for g in train} & {key(g) for g in test}, "a goal is in both splits"


def test_a_fixed_benchmark_set_holds_only_its_tasks():
    env = metarl.make("metarl/RuleGrid-v0", num_envs=200, level="medium", set_size=5, seed=0)
    tasks = env.sample_tasks(200, torch.Generator().manual_seed(0))
    assert len({tuple(row.tolist()) for row in tasks.rules.flatten(1)}) <= 5
    whole = R.benchmark_tasks("medium", torch.arange(5), "train")["rules"].flatten(1)
    assert {tuple(row.tolist()) for row in tasks.rules.flatten(1)} <= {tuple(row.tolist()) for row in whole}


def test_every_level_has_a_chain_of_rules_to_the_goal():
    for level, (depth, _, _) in R.LEVELS.items():
        task = R.tasks_from_keys(mrandom.env_keys(1, 300), level, "train")
        goal_object = task["goal"][:, 1]
        on_floor = (task["objects"] == goal_object[:, None]).any(1)
        assert bool(on_floor.all()) if depth == 0 else not bool(on_floor.any())
        assert int((task["rules"][..., 0] > 0).sum(1).min()) == depth + LEVELS_DISTRACTORS[level]


LEVELS_DISTRACTORS = {level: rules for level, (_, rules, _) in R.LEVELS.items()}


def test_metamaze_is_gymnax_setting():
    env = metarl.make("metarl/MetaMaze-v0", num_envs=2, seed=0)
    obs = env.reset()
    assert obs.shape == (2, 15) and int((~maze_walls(9)).sum()) == 65  # 81 cells, 16 walls
    assert torch.equal(env.cell, torch.full((2,), env.board.cell(5, 5)))  # the centre
    assert env.horizon == 200 and env.episodes == 1
    assert torch.equal(obs[:, 9:13], torch.zeros(2, 4)) and torch.equal(obs[:, 13:], torch.zeros(2, 2))


def test_metamaze_a_blocked_move_on_the_goal_reaches_it_and_the_oracle_takes_it():
    """As in gymnax, standing on the goal after a move is reaching it, a move into a wall included: an agent that a
    jump drops onto the goal reaches it in one step, and the oracle walks into the wall rather than off and back."""
    env = metarl.make("metarl/MetaMaze-v0", num_envs=2, size=5, horizon=50, reward=1.0, goals="all", seed=0)
    env.reset(task={"goal": torch.tensor([[0, 0], [0, 0]])})  # a corner: walls above and to the left
    state = env.state_dict()
    state["attributes"]["_spot"] = env.goal_spot().clone()
    state["attributes"]["_row"] = env.goal_spot() + 4
    env.load_state_dict(state)
    assert torch.equal(env.cell, env.goal_cell)
    action = make_solver(env, "oracle").act(None)  # the oracle reads the map and the goal, not the observation
    assert set(action.tolist()) <= {0, 3}  # up or left: into the wall
    assert env.step(action).reward.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("size", [7, 11])
def test_metamaze_refuses_a_size_with_a_wall_on_the_centre(size):
    with pytest.raises(BadArgumentError, match="4 \\* k \\+ 1"):
        metarl.make("metarl/MetaMaze-v0", num_envs=1, size=size)


@pytest.mark.parametrize("env_id, kwargs", [
    ("metarl/MetaMaze-v0", {"horizon": 100}),
    ("metarl/KeyToDoor-v0", {}),
    ("metarl/RuleGrid-v0", {"level": "medium", "horizon": 30, "episodes": 2}),
])
def test_oracle_beats_explorer_beats_random(env_id, kwargs):
    scores = {}
    for name in ("random", "explore-then-plan", "oracle"):
        env = metarl.make(env_id, num_envs=48, seed=0, split="test", **kwargs)
        scores[name] = float(trial_returns(env, name, generator=torch.Generator().manual_seed(0)).mean())
    assert scores["oracle"] >= scores["explore-then-plan"] - 0.05 * abs(scores["oracle"]), scores
    assert scores["explore-then-plan"] > scores["random"], scores
    assert scores["oracle"] > 0.5 * env.episodes * (10.0 if "Maze" in env_id else 0.5), scores


@pytest.mark.parametrize("shuffle", [0, 1])
def test_places_are_kept_for_the_trial_unless_shuffled(shuffle):
    env = metarl.make("metarl/RuleGrid-v0", num_envs=1, level="trivial", horizon=3, episodes=3, shuffle=shuffle, seed=0)
    env.reset()
    first = (env.grid.clone(), env.cell.clone())
    act(env, RIGHT, RIGHT, RIGHT)  # the first episode ends; the second starts
    again = (env.grid.clone(), env.cell.clone())
    assert (torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])) == (shuffle == 0)


@pytest.mark.parametrize("goals, disjoint", [("split", True), ("all", False)])
def test_metamaze_goal_splits(goals, disjoint):
    keys = torch.arange(512, dtype=torch.int64)
    cells = {split: {tuple(g) for g in metarl.make("metarl/MetaMaze-v0", num_envs=1, goals=goals)
                     .tasks_from_keys(keys, split).goal.tolist()} for split in ("train", "test")}
    assert (not cells["train"] & cells["test"]) == disjoint
    assert len(cells["train"] | cells["test"]) == (65 if not disjoint else len(cells["train"]) + len(cells["test"]))
