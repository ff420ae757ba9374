"""A replay buffer of transitions indexed by task, resident on the device, for off-policy meta-RL.

Context-based agents (PEARL and its successors) draw two kinds of batches per task: the RL batch, uniform
over everything stored for the task, and the context batch, from the task's most recent transitions
(the data the current policy would see when it meets the task). One buffer serves both: each task owns a
ring of ``capacity`` slots, :meth:`TaskReplay.sample` draws from the whole ring or only its newest
``recent`` entries, and :meth:`TaskReplay.clear` empties tasks.

Every operation is tensor indexing on the buffer's device: adding a batch of transitions from B
environments (any mix of tasks, some rows masked out) and sampling M tasks at once never syncs with the
host, so a collection loop on a GPU runs without stalls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from metarl.errors import BadArgumentError, CheckpointError
from metarl.rl.heads import Draw, draw_whole

Specs = Mapping[str, tuple[tuple[int, ...], torch.dtype]]


class TaskReplay:
    """``tasks`` rings of ``capacity`` transitions, one per task, each transition a set of named fields.

    Example:
        >>> buffer = TaskReplay(3, 100, {"obs": ((2,), torch.float32), "reward": ((), torch.float32)})
        >>> buffer.add(torch.tensor([0, 0, 2]), obs=torch.ones(3, 2), reward=torch.tensor([1.0, 2.0, 3.0]))
        >>> buffer.size.tolist()
        [2, 0, 1]
        >>> batch = buffer.sample(torch.tensor([0, 2]), 4, torch.Generator().manual_seed(0))
        >>> batch["obs"].shape, batch["reward"][1].tolist()
        (torch.Size([2, 4, 2]), [3.0, 3.0, 3.0, 3.0])
    """

    def __init__(self, tasks: int, capacity: int, specs: Specs, device: torch.device | str = "cpu") -> None:
        if tasks < 1 or capacity < 1:
            raise BadArgumentError(f"a TaskReplay needs tasks >= 1 and capacity >= 1, got {tasks} and {capacity}")
        self.tasks, self.capacity, self.device = int(tasks), int(capacity), torch.device(device)
        self.specs = {name: (tuple(shape), dtype) for name, (shape, dtype) in specs.items()}
        # one extra slot per task takes the masked-out rows of an add, so that writes need no host sync
        self.data = {name: torch.zeros(self.tasks, self.capacity + 1, *shape, dtype=dtype, device=self.device)
                     for name, (shape, dtype) in self.specs.items()}
        self.position = torch.zeros(self.tasks, dtype=torch.int64, device=self.device)
        """Next slot to write in each task's ring."""
        self.size = torch.zeros(self.tasks, dtype=torch.int64, device=self.device)
        """Transitions held for each task (at most ``capacity``)."""
        self._task_range = torch.arange(self.tasks, device=self.device)

    def add(self, task: torch.Tensor, mask: torch.Tensor | None = None, **fields: torch.Tensor) -> None:
        """Store one transition per row: row b (of B) goes to task ``task[b]``, unless ``mask[b]`` is False.

        Rows of the same task are stored in row order; a task receiving more than ``capacity`` rows in one call
        keeps an arbitrary ``capacity`` of them. Every field of the buffer must be given, shaped (B, *shape).
        """
        if set(fields) != set(self.specs):
            raise BadArgumentError(f"TaskReplay.add needs the fields {sorted(self.specs)}, got {sorted(fields)}")
        task = task.to(self.device, torch.int64)
        onehot = task.unsqueeze(1) == self._task_range  # (B, tasks)
        if mask is not None:
            onehot &= mask.to(self.device, torch.bool).unsqueeze(1)
        counts = onehot.sum(0)
        rank = (onehot.cumsum(0) - 1).gather(1, task.unsqueeze(1)).squeeze(1)  # order of the row within its task
        slot = (self.position[task] + rank) % self.capacity
        if mask is not None:
            slot = torch.where(mask.to(self.device, torch.bool), slot, self.capacity)
        for name, value in fields.items():
            self.data[name][task, slot] = value.to(self.device, self.specs[name][1])
        self.position = (self.position + counts) % self.capacity
        self.size = (self.size + counts).clamp_(max=self.capacity)

    def add_sequence(self, task: torch.Tensor, mask: torch.Tensor | None = None, **fields: torch.Tensor) -> None:
        """:meth:`add` of (T, B, ...) fields, step by step: the transitions of B trajectories of T steps each."""
        steps = next(iter(fields.values())).shape[0]
        for t in range(steps):
            self.add(task, None if mask is None else mask[t], **{name: value[t] for name, value in fields.items()})

    def clear(self, task: torch.Tensor) -> None:
        """Empty the rings of the tasks in ``task`` (1-D indices)."""
        task = task.to(self.device, torch.int64)
        self.size = self.size.index_fill(0, task, 0)
        self.position = self.position.index_fill(0, task, 0)

    def sample(self, task: torch.Tensor, batch: int, generator: torch.Generator | None = None,
               recent: int | None = None, draw: Draw | None = None) -> dict[str, torch.Tensor]:
        """``batch`` transitions drawn uniformly, with replacement, for each task of ``task`` (M,): (M, batch, ...).

        With ``recent`` only each task's newest ``recent`` transitions are drawn from (PEARL's context from the
        latest collection). A task with nothing stored yields its zero slot: check :attr:`size` first. ``draw``
        makes the uniforms (a data-parallel process's :meth:`~metarl.training.parallel.Parallel.draw` with ``task``
        its share of the tasks).
        """
        task = task.to(self.device, torch.int64)
        held = self.size[task]
        if recent is not None:
            held = held.clamp(max=int(recent))
        u = (draw or draw_whole)(torch.rand, (task.shape[0], batch), generator=generator, device=self.device)
        back = (u * held.unsqueeze(1)).long()  # 0 = newest
        slot = (self.position[task].unsqueeze(1) - 1 - back) % self.capacity
        rows = task.unsqueeze(1).expand_as(slot)
        return {name: value[rows, slot] for name, value in self.data.items()}

    def latest(self, task: torch.Tensor, count: int) -> dict[str, torch.Tensor]:
        """Each task's newest ``count`` transitions in the order they were added: fields (M, count, ...)."""
        task = task.to(self.device, torch.int64)
        back = torch.arange(count - 1, -1, -1, device=self.device)
        slot = (self.position[task].unsqueeze(1) - 1 - back) % self.capacity
        rows = task.unsqueeze(1).expand_as(slot)
        return {name: value[rows, slot] for name, value in self.data.items()}

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """The buffer's contents and counters (only the slots ever written, so a young buffer saves small)."""
        used = int(self.size.max()) if self.tasks else 0
        used = self.capacity if used == self.capacity else used
        return {"capacity": self.capacity, "tasks": self.tasks, "position": self.position.clone(),
                "size": self.size.clone(), "data": {name: value[:, :used].clone() for name, value in self.data.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a :meth:`state_dict` of a buffer with the same tasks, capacity and fields."""
        if (state.get("tasks"), state.get("capacity")) != (self.tasks, self.capacity) or \
                set(state.get("data", {})) != set(self.specs):
            raise CheckpointError(f"the saved replay buffer ({state.get('tasks')} tasks x {state.get('capacity')}, "
                                  f"fields {sorted(state.get('data', {}))}) does not fit this one ({self.tasks} x "
                                  f"{self.capacity}, fields {sorted(self.specs)})")
        self.position = state["position"].to(self.device, torch.int64).clone()
        self.size = state["size"].to(self.device, torch.int64).clone()
        for name, value in state["data"].items():
            self.data[name].zero_()
            self.data[name][:, :value.shape[1]] = value.to(self.device)


__all__ = ["TaskReplay"]
