"""RuleGrid's task space: objects, goals and production rules, drawn from keys at four difficulty levels.

Objects are ``TYPES x COLOURS`` (24): tile code ``2 + type * 6 + colour`` (0 is floor, 1 is wall). A task is
encoded as three tensors:

- ``goal`` (B, 3): ``[kind, a, b]``; kind 0 "pick up a", 1 "put a next to b", 2 "stand next to a" (b is 0
  unless kind is 1);
- ``rules`` (B, R, 4): ``[kind, a, b, c]``; kind 0 none, 1 "a next to b becomes c" (fires when one of them is put
  down next to the other: c appears where it was put, the other vanishes), 2 "picking up a gives c", 3 "a next to
  the agent becomes c";
- ``objects`` (B, N): the objects on the floor when an inner episode starts (0 pads), sorted.

A level builds the rules as a chain (XLand-MiniGrid's ruleset trees, reduced to one branch): the goal object
``a`` does not exist at the start and ``depth`` rules lead to it from the objects that do; ``distractor_rules``
more rules turn distractor objects into objects nothing needs. Rule slots are shuffled, so their order tells
nothing. Held-out splits hold out goals: the unordered goal ``(kind, {a, b})`` hashes to train (80%),
validation (10%) or test (10%), so no rule set of one split appears in another.
"""

from __future__ import annotations

import itertools
import math

import torch

from metarl import random as mrandom

TYPES = ("key", "door", "ball", "box")
COLOURS = ("red", "green", "blue", "purple", "yellow", "grey")
FLOOR, WALL, FIRST_OBJECT = 0, 1, 2
OBJECTS = len(TYPES) * len(COLOURS)
TILES = FIRST_OBJECT + OBJECTS
HOLD_GOAL, NEXT_TO_GOAL, NEAR_GOAL = 0, 1, 2
NEXT_TO_RULE, HOLD_RULE, NEAR_RULE = 1, 2, 3
GOAL_NAMES = ("pick up {a}", "put {a} next to {b}", "stand next to {a}")
RULE_NAMES = ("", "{a} next to {b} becomes {c}", "picking up {a} gives {c}", "{a} next to the agent becomes {c}")

LEVELS = {"trivial": (0, 0, 3), "small": (1, 1, 2), "medium": (2, 2, 2), "high": (3, 3, 3)}
"""Level name -> (depth of the rule chain to the goal object, distractor rules, distractor objects)."""

_SPLIT_OF_HASH = {**{h: "test" for h in (0,)}, 1: "validation"}
_SET_STREAM = 0x5E7B0A2D


def tile_name(code: int) -> str:
    """A tile code as words.

    Example:
        >>> tile_name(2), tile_name(2 + 6 + 2)
        ('red key', 'blue door')
    """
    if code == FLOOR:
        return "floor"
    if code == WALL:
        return "wall"
    kind, colour = divmod(code - FIRST_OBJECT, len(COLOURS))
    return f"{COLOURS[colour]} {TYPES[kind]}"


def goal_split(kind: int, a: int, b: int) -> str:
    """The split a goal belongs to: a hash of ``(kind, {a, b})`` modulo 10 gives test (0), validation (1), train.

    Example:
        >>> sorted({goal_split(0, a, 0) for a in range(2, 26)})
        ['test', 'train', 'validation']
    """
    low, high = min(a, b), max(a, b)
    h = int(mrandom.mix32(torch.tensor([kind * 4096 + low * 64 + high])).item()) & 0xFFFFFFFF
    return _SPLIT_OF_HASH.get(h % 10, "train")


def _goal_tables() -> dict[str, torch.Tensor]:
    objects = range(FIRST_OBJECT, TILES)
    goals = [(HOLD_GOAL, a, 0) for a in objects] + [(NEAR_GOAL, a, 0) for a in objects]
    goals += [(NEXT_TO_GOAL, a, b) for a in objects for b in objects if a != b]
    tables: dict[str, list] = {"train": [], "validation": [], "test": []}
    for goal in goals:
        tables[goal_split(*goal)].append(goal)
    return {split: torch.tensor(rows, dtype=torch.int64) for split, rows in tables.items()}


GOALS = _goal_tables()
"""Every goal of each split, (n, 3) int64."""


def sizes(level: str) -> tuple[int, int]:
    """(rule slots R, object slots N) of a level's tasks.

    Example:
        >>> sizes("medium")
        (4, 6)
    """
    depth, rules, distractors = LEVELS[level]
    return max(1, depth + rules), depth + 2 + distractors


def _pick(u: torch.Tensor, n: int) -> torch.Tensor:
    return (u * n).long().clamp_(max=n - 1)


def tasks_from_keys(keys: torch.Tensor, level: str, split: str) -> dict[str, torch.Tensor]:
    """Tasks of ``level`` in ``split`` as a function of hashed keys: ``goal``, ``rules``, ``objects``, ``layout``.

    Example:
        >>> task = tasks_from_keys(mrandom.env_keys(0, 5), "small", "train")
        >>> task["goal"].shape, task["rules"].shape, task["objects"].shape
        (torch.Size([5, 3]), torch.Size([5, 2, 4]), torch.Size([5, 5]))
    """
    depth, extra, distractors = LEVELS[level]
    slots, width = sizes(level)
    device, n = keys.device, keys.shape[0]
    u = mrandom.lanes(keys, OBJECTS + 2 + depth + 2 * slots)
    table = GOALS[split].to(device)
    goal = table[_pick(u[:, OBJECTS], len(table))]
    a, b = goal[:, 1], goal[:, 2]
    order = u[:, :OBJECTS].clone()
    index = torch.arange(n, device=device)
    order[index, a - FIRST_OBJECT] = -2.0  # a, then b, come first in the permutation
    has_b = b > 0
    order[index[has_b], b[has_b] - FIRST_OBJECT] = -1.0
    perm = order.argsort(1) + FIRST_OBJECT  # slot 1 is b, or an object no one uses
    kinds = _pick(u[:, OBJECTS + 1 : OBJECTS + 1 + depth + extra], 3) + 1  # chain kinds, then distractor kinds
    zero = torch.zeros(n, dtype=torch.int64, device=device)
    rules, objects = [], []
    target = a
    for j in range(depth):
        x, y, kind = perm[:, 2 + 2 * j], perm[:, 3 + 2 * j], kinds[:, j]
        second = torch.where(kind == NEXT_TO_RULE, y, zero)
        rules.append(torch.stack([kind, x, second, target], 1))
        objects.append(second)
        target = x
    objects.append(target)  # the leaf of the chain (a itself at depth 0)
    objects.append(torch.where(goal[:, 0] == NEXT_TO_GOAL, b, zero))
    first = 2 + 2 * depth
    spare = perm[:, first : first + distractors]
    objects += list(spare.unbind(1))
    for j in range(extra):
        kind = kinds[:, depth + j]
        x, y = spare[:, j % distractors], spare[:, (j + 1) % distractors]
        second = torch.where(kind == NEXT_TO_RULE, y, zero)
        rules.append(torch.stack([kind, x, second, perm[:, first + distractors + j]], 1))
    rules_t = torch.stack(rules, 1) if rules else torch.zeros(n, 1, 4, dtype=torch.int64, device=device)
    pair = rules_t[:, :, 1:3]
    near = (rules_t[:, :, 0] == NEXT_TO_RULE)[:, :, None]
    rules_t[:, :, 1:3] = torch.where(near, pair.sort(2, descending=True).values, pair)  # a > b: a canonical order
    shuffle = u[:, -slots:].argsort(1)
    rules_t = rules_t.gather(1, shuffle[:, :, None].expand(-1, -1, 4))
    objects_t = torch.stack(objects, 1).sort(1, descending=True).values
    layout = mrandom.combine(keys, 0x1A7).long()
    return {"goal": goal, "rules": rules_t, "objects": objects_t, "layout": layout}


def set_keys(indices: torch.Tensor, level: str, split: str) -> torch.Tensor:
    """Keys of tasks ``indices`` of a level's fixed benchmark set in ``split`` (the same on every machine).

    Example:
        >>> set_keys(torch.arange(3), "high", "test").shape
        torch.Size([3])
    """
    stream = _SET_STREAM + 16 * list(LEVELS).index(level) + ("train", "validation", "test").index(split)
    return mrandom.combine(mrandom.combine(mrandom.as_bits(stream, indices.device).expand(indices.shape), 1),
                           indices)


def benchmark_tasks(level: str, indices: torch.Tensor, split: str = "train") -> dict[str, torch.Tensor]:
    """Tasks ``indices`` of the fixed benchmark set of ``level`` in ``split``, made from keys on the fly.

    Example:
        >>> first = benchmark_tasks("medium", torch.arange(4))
        >>> torch.equal(first["rules"], benchmark_tasks("medium", torch.arange(4))["rules"])
        True
    """
    return tasks_from_keys(set_keys(indices, level, split), level, split)


def task_count(level: str) -> tuple[float, float]:
    """(at least, at most) how many distinct tasks (goal, rules, initial objects) ``level`` holds, all splits.

    The upper bound counts the generator's object assignments for every choice of goal and rule kinds; the lower
    bound divides each term by the most assignments that can give one task (swapping interchangeable objects).

    Example:
        >>> low, high = task_count("trivial")
        >>> 1e5 < low <= high
        True
    """
    depth, extra, distractors = LEVELS[level]
    low = high = 0.0
    for goal_kind in (HOLD_GOAL, NEXT_TO_GOAL, NEAR_GOAL):
        for kinds in itertools.product((1, 2, 3), repeat=depth + extra):
            chain, others = kinds[:depth], kinds[depth:]
            used = 1 + (goal_kind == NEXT_TO_GOAL) + sum(1 + (k == NEXT_TO_RULE) for k in chain)
            used += distractors + extra
            ways = math.perm(OBJECTS, used)
            twins = 2 if goal_kind == NEXT_TO_GOAL and depth == 0 else 1
            twins *= 2 if chain and chain[-1] == NEXT_TO_RULE else 1
            twins *= math.factorial(distractors) * math.factorial(extra) * 2 ** sum(k == NEXT_TO_RULE for k in others)
            high += ways
            low += ways / twins
    return low, high


def describe(goal: torch.Tensor, rules: torch.Tensor) -> list[str]:
    """One task's goal and rules in words (``goal`` (3,), ``rules`` (R, 4)).

    Example:
        >>> describe(torch.tensor([0, 2, 0]), torch.tensor([[2, 3, 0, 2]]))
        ['goal: pick up red key', 'rule: picking up green key gives red key']
    """
    g = [int(v) for v in goal]
    lines = ["goal: " + GOAL_NAMES[g[0]].format(a=tile_name(g[1]), b=tile_name(g[2]) if g[2] else "")]
    for kind, a, b, c in rules.tolist():
        if kind:
            lines.append("rule: " + RULE_NAMES[kind].format(a=tile_name(a), b=tile_name(b), c=tile_name(c)))
    return lines
