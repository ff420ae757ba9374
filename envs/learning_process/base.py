"""The shared base of families whose task is a batched learning process (LearnToOptimize-v0, Teach-v0).

Such a family steps B learning runs at once (optimizees trained by the agent's updates, students taught from
the examples the agent keeps). The run itself is a :class:`LearningProcess`: pure functions of an explicit
state (a ``NamedTuple`` of ``(B, ...)`` tensors), so the environment and an agent's unrolled meta-training
call the same code. :class:`LearningProcessEnv` turns a process into a :class:`~metarl.engine.BatchedEnv`:
its tasks come from the process, an inner episode starts the runs, a step advances them, and the
observation is the process's features. A family says only how to build its process and how an action
becomes the process's input (:meth:`LearningProcessEnv._process_input`).

Example:
    >>> import metarl
    >>> env = metarl.make("metarl/LearnToOptimize-v0", num_envs=2, seed=0, dims=3)
    >>> isinstance(env, LearningProcessEnv), env.reset().shape
    (True, torch.Size([2, 3, 6]))
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import torch

from metarl.checks import SPLITS
from metarl.engine import BatchedEnv
from metarl.tasks import Task


def where_rows(self: Any, mask: torch.Tensor, other: Any) -> Any:
    """Rows of ``other`` where ``mask (B,)`` is true, of ``self`` elsewhere: the ``where`` method of process states
    (a ``NamedTuple`` of ``(B, ...)`` tensors; set ``where = where_rows`` in its body).

    Example:
        >>> from typing import NamedTuple
        >>> class S(NamedTuple):
        ...     x: torch.Tensor
        ...     where = where_rows
        >>> S(torch.zeros(2, 2)).where(torch.tensor([True, False]), S(torch.ones(2, 2)))
        S(x=tensor([[1., 1.],
                [0., 0.]]))
    """
    return type(self)(*(torch.where(mask.view(-1, *[1] * (a.dim() - 1)), b, a)
                        for a, b in zip(self, other, strict=True)))


class LearningProcess(abc.ABC):
    """B learning runs as pure functions of an explicit state: ``start``, ``advance``, ``observe``.

    ``state_type`` is the process's state, a ``NamedTuple`` of ``(B, ...)`` tensors with the ``where`` method
    :func:`where_rows`; the task methods give the tasks a split's hashed keys make and check user tasks.
    """

    state_type: ClassVar[type]
    task_type: type[Task]

    @abc.abstractmethod
    def task_shapes(self, batch: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        """Shape and dtype of each task field for ``batch`` tasks."""

    @abc.abstractmethod
    def tasks_from_keys(self, keys: torch.Tensor, split: int) -> Task:
        """Tasks from hashed keys ``(B,)``; ``split`` is the split number (data of a split stays in that split)."""

    @abc.abstractmethod
    def task_error(self, task: Task) -> str | None:
        """A message for invalid task values, else None."""

    @abc.abstractmethod
    def start(self, task: Task) -> Any:
        """The runs at their beginning, a ``state_type``."""

    @abc.abstractmethod
    def advance(self, state: Any, action: torch.Tensor, task: Task) -> tuple[Any, torch.Tensor, torch.Tensor]:
        """One step of every run: (new state, reward (B,), terminal (B,))."""

    @abc.abstractmethod
    def observe(self, state: Any, task: Task) -> torch.Tensor:
        """The agent's observation of every run, ``(B, ...)``."""


class LearningProcessEnv(BatchedEnv):
    """A family whose task is a batched learning process (see the module doc).

    Every trial is one inner episode of ``horizon`` steps (config ``horizon``). The state of the runs is the
    dict ``_process_state`` of the process state's fields, part of the env's :meth:`state_dict`.
    """

    state_attributes = ("_process_state",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._process: LearningProcess | None = None
        self._process_state: dict[str, torch.Tensor] | None = None
        super().__init__(*args, **kwargs)

    @abc.abstractmethod
    def _make_process(self) -> LearningProcess:
        """The process of this environment's config (built once, on first use)."""

    @abc.abstractmethod
    def _process_input(self, action: torch.Tensor) -> torch.Tensor:
        """What the process's ``advance`` takes for the agent's ``action`` (clipped, thresholded, ...)."""

    @property
    def process(self) -> LearningProcess:
        """The pure-function process this environment steps (shared with the agent's meta-training)."""
        if self._process is None:
            self._process = self._make_process()
        return self._process

    @property
    def task_type(self) -> type[Task]:  # the task fields depend on the process's configuration
        return self.process.task_type

    @property
    def state(self) -> Any:
        """The runs' current process state (a ``process.state_type``)."""
        return self.process.state_type(**self._process_state)

    # ------------------------------------------------------------------ family hooks
    def _trial_shape(self) -> tuple[int, int]:
        return self.config["horizon"], 1

    def task_shapes(self, batch: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        return self.process.task_shapes(batch)

    def tasks_from_keys(self, keys: torch.Tensor, split: str) -> Task:
        return self.process.tasks_from_keys(keys, SPLITS[split])  # tasks of a split learn from its data

    def _task_error(self, task: Task) -> str | None:
        return self.process.task_error(task)

    def _start_episode(self, mask: torch.Tensor | None) -> None:
        fresh = self.process.start(self.task)
        if mask is not None and self._process_state is not None:
            fresh = self.state.where(mask, fresh)
        self._process_state = fresh._asdict()

    def _transition(self, action: torch.Tensor, u: None) -> tuple[torch.Tensor, torch.Tensor]:
        state, reward, terminal = self.process.advance(self.state, self._process_input(action), self.task)
        self._process_state = state._asdict()
        return reward, terminal

    def _observe(self) -> torch.Tensor:
        return self.process.observe(self.state, self.task)


__all__ = ["LearningProcess", "LearningProcessEnv", "where_rows"]
