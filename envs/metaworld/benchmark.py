"""Meta-World's own benchmarks as tensors: the task tables of ML1, ML10 and ML45, and a pool of its environments.

Everything that touches the ``metaworld`` package is here and imported only when a Meta-World family is made,
so ``import metarl`` stays fast and works without the extra.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pickle
import weakref
from importlib import metadata
from typing import Any

import numpy as np
import torch

from metarl.errors import MissingExtraError
from metarl.fewshot import cache_dir
from metarl.files import write_atomically

RAND_VEC = 6
"""Numbers in a task's ``rand_vec`` field: the longest random reset vector of a Meta-World v3 environment."""

ML1_TASKS = (
    "assembly-v3", "basketball-v3", "bin-picking-v3", "box-close-v3", "button-press-topdown-v3",
    "button-press-topdown-wall-v3", "button-press-v3", "button-press-wall-v3", "coffee-button-v3", "coffee-pull-v3",
    "coffee-push-v3", "dial-turn-v3", "disassemble-v3", "door-close-v3", "door-lock-v3", "door-open-v3",
    "door-unlock-v3", "hand-insert-v3", "drawer-close-v3", "drawer-open-v3", "faucet-open-v3", "faucet-close-v3",
    "hammer-v3", "handle-press-side-v3", "handle-press-v3", "handle-pull-side-v3", "handle-pull-v3",
    "lever-pull-v3", "pick-place-wall-v3", "pick-out-of-hole-v3", "pick-place-v3", "plate-slide-v3",
    "plate-slide-side-v3", "plate-slide-back-v3", "plate-slide-back-side-v3", "peg-insert-side-v3",
    "peg-unplug-side-v3", "soccer-v3", "stick-push-v3", "stick-pull-v3", "push-v3", "push-wall-v3",
    "push-back-v3", "reach-v3", "reach-wall-v3", "shelf-place-v3", "sweep-into-v3", "sweep-v3", "window-open-v3",
    "window-close-v3",
)
"""The 50 Meta-World v3 environments, each an ML1 benchmark (the ``task`` argument of ``metarl/ML1-v0``)."""


def import_metaworld() -> Any:
    """The ``metaworld`` module, or a :class:`MissingExtraError` saying how to install it."""
    try:
        import metaworld
    except ImportError as exc:  # absent, or its pinned MuJoCo replaced by another version
        raise MissingExtraError(f"Meta-World cannot be imported ({exc}). Install it with: "
                                'pip install "metarl[metaworld]" (in an environment without metarl[mujoco]; '
                                "see the README)") from exc
    return metaworld


@dataclasses.dataclass(frozen=True)
class Table:
    """One benchmark's environments and tasks as Meta-World draws them.

    ``names``/``classes``: the benchmark's environments, training ones first, then the held-out ones (for ML1
    the one environment). ``env_index[split]`` (N,) and ``rand_vec[split]`` (N, RAND_VEC): the split's tasks
    in the package's order. ``templates``: per environment, the rest of the task data ``set_task`` needs.
    """

    names: tuple[str, ...]
    classes: tuple[type, ...]
    sizes: tuple[int, ...]
    env_index: dict[str, torch.Tensor]
    rand_vec: dict[str, torch.Tensor]
    templates: tuple[dict, ...]
    observation_bounds: tuple[np.ndarray, np.ndarray]

    def task(self, index: int, rand_vec: np.ndarray) -> Any:
        """Meta-World's ``Task`` for environment ``index`` at ``rand_vec`` (its first ``sizes[index]`` numbers)."""
        from metaworld.types import Task

        data = {**self.templates[index], "rand_vec": np.array(rand_vec[:self.sizes[index]], dtype=np.float64)}
        return Task(env_name=self.names[index], data=pickle.dumps(data))


@functools.cache
def load(benchmark: str, task: str, seed: int) -> Table:
    """The task table of ``benchmark`` ("ML1", "ML10" or "ML45"; ``task`` names the ML1 environment), drawn by
    Meta-World itself with ``seed`` (its ``ML1(task, seed)``, ``ML10(seed)``, ``ML45(seed)``).

    Drawing resets every environment 100 times (seconds for ML10, a minute for ML45), so the draw is kept in
    the metarl cache folder, keyed by the package's version, and read back from there afterwards.
    """
    metaworld = import_metaworld()
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS

    path = cache_dir() / "metaworld" / f"{benchmark}-{task or 'all'}-seed{seed}-{metadata.version('metaworld')}.json"
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        saved = _draw(metaworld, benchmark, task, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(saved).encode())
    classes = tuple(ALL_V3_ENVIRONMENTS[name] for name in saved["names"])
    templates = tuple({**extra, "env_cls": cls} for extra, cls in zip(saved["templates"], classes, strict=True))
    return Table(tuple(saved["names"]), classes, tuple(saved["sizes"]),
                 {k: torch.tensor(v, dtype=torch.int64) for k, v in saved["env_index"].items()},
                 {k: torch.tensor(v, dtype=torch.float64) for k, v in saved["rand_vec"].items()},
                 templates, (np.array(saved["low"]), np.array(saved["high"])))


def _draw(metaworld: Any, benchmark: str, task: str, seed: int) -> dict[str, Any]:
    """Meta-World's own train and test tasks of the benchmark, as plain lists (JSON keeps floats exactly)."""
    bench = metaworld.ML1(task, seed=seed) if benchmark == "ML1" else getattr(metaworld, benchmark)(seed=seed)
    names = list(bench.train_classes)
    names += [name for name in bench.test_classes if name not in names]
    templates: dict[int, dict] = {}
    sizes = [0] * len(names)
    env_index: dict[str, list[int]] = {}
    rand_vec: dict[str, list[list[float]]] = {}
    for split, tasks in (("train", bench.train_tasks), ("test", bench.test_tasks)):
        env_index[split], rand_vec[split] = [], []
        for item in tasks:
            index = names.index(item.env_name)
            data = pickle.loads(item.data)
            vector = np.asarray(data.pop("rand_vec"), dtype=np.float64)
            data.pop("env_cls")
            templates.setdefault(index, data)
            sizes[index] = vector.size
            env_index[split].append(index)
            rand_vec[split].append(np.pad(vector, (0, RAND_VEC - vector.size)).tolist())
    env = bench.train_classes[names[0]]()  # the goal is hidden in every ML benchmark: its three bounds are zero
    env.set_task(bench.train_tasks[0])
    low, high = env.sawyer_observation_space.low.tolist(), env.sawyer_observation_space.high.tolist()
    env.close()
    return {"names": names, "sizes": sizes, "env_index": env_index, "rand_vec": rand_vec,
            "templates": [templates[i] for i in range(len(names))], "low": low, "high": high}


_SPARE: dict[type, list[Any]] = {}
"""Instances no family holds any more, by class: building one compiles its MuJoCo model (a tenth of a second)."""
_SPARE_MAX = 64


def _give_back(envs: list[Any]) -> None:
    for env in envs:
        if env is not None:
            spare = _SPARE.setdefault(type(env), [])
            if len(spare) < _SPARE_MAX:
                spare.append(env)
    envs.clear()


class Pool:
    """Meta-World environments for B slots: slot i holds an instance of its task's environment class.

    An instance whose slot moves to another class, or whose family is gone, waits in a spare list for the next
    slot that needs its class. Every start resets it fully (MuJoCo's data and the task), so which instance a
    slot gets changes nothing it computes.
    """

    def __init__(self, table: Table, slots: int) -> None:
        self.table = table
        self.envs: list[Any] = [None] * slots
        self.kind = [-1] * slots
        weakref.finalize(self, _give_back, self.envs)

    def start(self, slot: int, index: int, rand_vec: np.ndarray) -> np.ndarray:
        """Give ``slot`` an environment of class ``index`` on the task ``rand_vec``, reset it; its observation."""
        if self.kind[slot] != index:
            _give_back([self.envs[slot]])
            spare = _SPARE.get(self.table.classes[index])
            self.envs[slot] = spare.pop() if spare else self.table.classes[index]()
            self.kind[slot] = index
        env = self.envs[slot]
        env.set_task(self.table.task(index, rand_vec))
        return env.reset()[0]

    def close(self) -> None:
        """Hand the instances back to the spare lists."""
        _give_back(self.envs)
        self.envs.extend([None] * len(self.kind))
        self.kind = [-1] * len(self.kind)
