"""Data-parallel training over ``torch.distributed``: N processes train as one process with the same global batch.

Under ``torchrun --nproc-per-node N -m metarl train ...`` (or ``--nnodes`` for several machines) every process
builds the same trainer from the same config and seed. Each trainer splits its global batch (environments,
episodes, tasks, population members) into N equal contiguous shards, works on its own shard, and averages the
gradients of every optimizer parameter group across processes before the optimizer step, so that every process
holds the same parameters after every update. Random draws whose results are keyed by a global index are drawn
whole by every process and sliced (:meth:`Parallel.draw`), so the split never changes what is drawn. Rank 0
alone writes logs and checkpoints; a checkpoint holds the global state and resumes with any number of processes.

Backends: ``gloo`` for CPU tensors, ``nccl`` for CUDA ones (both are set up, so a CPU run on a GPU machine works).
One process (no ``WORLD_SIZE`` in the environment) is the world of size 1, where every method is a no-op.

Example:
    >>> world = current()  # one process here: rank 0 of a world of 1
    >>> world.rank, world.size, world.shard(8)
    (0, 1, slice(0, 8, None))
"""

from __future__ import annotations

import datetime
import io
import multiprocessing
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
import torch.distributed as dist

from metarl.errors import ConfigError, TrainingError

TIMEOUT = datetime.timedelta(minutes=10)
"""How long a process waits in a collective for the others before the job stops."""


class Parallel:
    """This process's place in the data-parallel world: ``rank`` of ``size`` processes."""

    def __init__(self, rank: int = 0, size: int = 1, local_rank: int = 0) -> None:
        self.rank, self.size, self.local_rank = rank, size, local_rank
        self.traffic = {"collectives": 0, "bytes": 0}
        """Collectives this process took part in, and the bytes of their payloads (one process's tensors or pickles,
        the gathered whole for gathers): what ``benchmarks/scaling.py`` weighs against compute."""

    @property
    def is_main(self) -> bool:
        """Whether this process writes logs and checkpoints (rank 0)."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1

    # ------------------------------------------------------------------ splitting a global batch
    def shard(self, total: int, what: str = "the batch") -> slice:
        """This rank's contiguous part of ``total`` items; ``total`` must divide evenly between the processes.

        Example:
            >>> Parallel(rank=1, size=2).shard(8)
            slice(4, 8, None)
        """
        if total % self.size:
            raise ConfigError(f"{what} ({total}) must be a multiple of the number of processes ({self.size}) to be "
                              "split between them; choose a global batch that divides evenly")
        part = total // self.size
        return slice(self.rank * part, (self.rank + 1) * part)

    def draw(self, sample: Callable[..., torch.Tensor], shape: Sequence[int], dim: int = 0, **kwargs: Any
             ) -> torch.Tensor:
        """Random numbers of this rank's ``shape``: ``sample(global shape, **kwargs)`` for the whole global batch
        (``shape`` with ``dim`` times the number of processes), of which this rank keeps its shard along ``dim``.

        Every process advances its generator exactly as one process would, so item i gets the same numbers
        whatever the split.

        Example:
            >>> g = torch.Generator().manual_seed(0)
            >>> torch.equal(Parallel(rank=1, size=2).draw(torch.rand, (2, 3), generator=g),
            ...             torch.rand(4, 3, generator=torch.Generator().manual_seed(0))[2:])
            True
        """
        shape = list(shape)
        local = shape[dim]
        shape[dim] = local * self.size
        return sample(tuple(shape), **kwargs).narrow(dim, self.rank * local, local)

    def map(self, function: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor, what: str = "the batch"
            ) -> torch.Tensor:
        """``function`` of this rank's shard of ``batch`` (dim 0), gathered from every rank: ``function(batch)`` for a
        function that treats rows independently, with the work split between the processes.

        Example:
            >>> current().map(lambda rows: rows.sum(1), torch.ones(4, 3))
            tensor([3., 3., 3., 3.])
        """
        if not self.active:
            return function(batch)
        return self.gather(function(batch[self.shard(batch.shape[0], what)]))

    # ------------------------------------------------------------------ collectives (no-ops in one process)
    def average_gradients(self, parameters: torch.optim.Optimizer | Iterable[torch.nn.Parameter]) -> None:
        """Average the gradients across processes, of every parameter group when given an optimizer.

        Parameters without a gradient count as zero. One flat all-reduce per call.
        """
        if not self.active:
            return
        if isinstance(parameters, torch.optim.Optimizer):
            params = [p for group in parameters.param_groups for p in group["params"]]
        else:
            params = list(parameters)
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        self._all_reduce(flat)
        flat /= self.size
        offset = 0
        for p in params:
            p.grad.copy_(flat[offset: offset + p.numel()].view_as(p.grad))
            offset += p.numel()

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The average of ``value`` over processes (a new tensor; ``value`` itself is unchanged)."""
        if not self.active:
            return value
        out = value.detach().clone()
        self._all_reduce(out)
        return out / self.size

    def sum(self, value: torch.Tensor) -> torch.Tensor:
        """The sum of ``value`` over processes (a new tensor)."""
        if not self.active:
            return value
        out = value.detach().clone()
        self._all_reduce(out)
        return out

    def sum_with_gradients(self, value: torch.Tensor) -> torch.Tensor:
        """The sum of ``value`` over processes, differentiable: the backward pass sums every process's gradient into
        each process's ``value`` (for statistics of the global batch inside a model, such as batch normalisation)."""
        if not self.active:
            return value
        from torch.distributed.nn.functional import all_reduce

        self._count(value.numel() * value.element_size())
        out: list[torch.Tensor] = []
        self._guard(lambda: out.append(all_reduce(value)))
        return out[0]

    def gather(self, value: torch.Tensor, dim: int = 0) -> torch.Tensor:
        """Every process's ``value`` (all of one shape) concatenated along ``dim`` in rank order: the global batch."""
        if not self.active:
            return value
        value = value.detach().contiguous()
        parts = [torch.empty_like(value) for _ in range(self.size)]
        self._count(value.numel() * value.element_size() * self.size)
        self._guard(lambda: dist.all_gather(parts, value))
        return torch.cat(parts, dim)

    def gather_objects(self, value: Any) -> list[Any]:
        """Every process's picklable ``value``, in rank order."""
        if not self.active:
            return [value]
        out: list[Any] = [None] * self.size
        self._count(len(pickle.dumps(value)) * self.size)
        self._guard(lambda: dist.all_gather_object(out, value))
        return out

    def broadcast(self, value: Any) -> Any:
        """Rank 0's picklable ``value``, on every process."""
        if not self.active:
            return value
        box = [value]
        self._count(len(pickle.dumps(value)))
        self._guard(lambda: dist.broadcast_object_list(box, src=0))
        return box[0]

    def barrier(self) -> None:
        if self.active:
            self._guard(dist.barrier)

    def _all_reduce(self, tensor: torch.Tensor) -> None:
        self._count(tensor.numel() * tensor.element_size())
        self._guard(lambda: dist.all_reduce(tensor))

    def _count(self, size: int) -> None:
        self.traffic["collectives"] += 1
        self.traffic["bytes"] += size

    def _guard(self, collective: Callable[[], Any]) -> None:
        try:
            collective()
        except (RuntimeError, dist.DistBackendError) as exc:
            raise PeerLost(f"process {self.rank} of {self.size} lost contact with the others ({_first_line(exc)}): "
                           "a process died or the network failed") from exc


class PeerLost(TrainingError):
    """Another process of a data-parallel job stopped (killed, crashed) or cannot be reached."""


_CURRENT: Parallel | None = None


def current() -> Parallel:
    """This process's :class:`Parallel`: joins the job that ``torchrun`` describes (``WORLD_SIZE``, ``RANK``,
    ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) on first use, or the world of one process without them."""
    global _CURRENT
    if _CURRENT is None:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        if size > 1:
            init(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))
        else:
            _CURRENT = Parallel()
    assert _CURRENT is not None
    return _CURRENT


def init(rank: int, size: int, local_rank: int = 0, init_method: str | None = None) -> Parallel:
    """Join a job of ``size`` processes as ``rank`` (``init_method`` default: the ``MASTER_*`` variables).

    Each process on a machine with GPUs uses GPU ``local_rank``; CPU tensors travel over gloo, CUDA ones over NCCL.
    """
    global _CURRENT
    if size > 1 and not dist.is_initialized():
        backend = "gloo"
        if torch.cuda.is_available() and dist.is_nccl_available():
            torch.cuda.set_device(local_rank % torch.cuda.device_count())
            backend = "cpu:gloo,cuda:nccl"
        dist.init_process_group(backend, init_method=init_method or "env://", rank=rank, world_size=size,
                                timeout=TIMEOUT)
    _CURRENT = Parallel(rank, size, local_rank)
    return _CURRENT


def shutdown() -> None:
    """Leave the job (after the last collective), so that the process exits cleanly."""
    global _CURRENT
    if dist.is_initialized():
        dist.destroy_process_group()
    _CURRENT = None


def launch(function: Callable[..., Any], size: int, *args: Any, timeout: float = 600.0) -> list[Any]:
    """Run ``function(*args)`` in ``size`` new processes joined as one data-parallel job on this machine (gloo on
    CPU, one thread each); returns their results in rank order. What ``torchrun`` does, from Python: for tests and
    benchmarks. ``function`` must be importable (defined at a module's top level).

    A process that raises stops the job: the others are ended and :class:`TrainingError` names the rank and error.
    """
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        queue = context.SimpleQueue()
        rendezvous = f"file://{os.path.join(tmp, 'rendezvous')}"
        processes = [context.Process(target=_member, args=(function, rank, size, rendezvous, queue, args))
                     for rank in range(size)]
        for process in processes:
            process.start()
        results: dict[int, Any] = {}
        deadline = time.monotonic() + timeout
        try:
            while len(results) < size:
                if queue.empty():
                    if time.monotonic() > deadline or any(p.exitcode not in (None, 0) for p in processes):
                        dead = [str(r) for r, p in enumerate(processes) if p.exitcode not in (None, 0)]
                        raise TrainingError(f"the job of {size} processes stopped: process {', '.join(dead) or '?'} "
                                            "died or the job timed out")
                    time.sleep(0.01)
                    continue
                rank, error, value = queue.get()
                if error is not None:
                    raise TrainingError(f"process {rank} of {size} failed: {error}")
                results[rank] = torch.load(io.BytesIO(value), weights_only=False)
        finally:
            for process in processes:
                process.join(timeout=30 if len(results) == size else 0.1)
                if process.is_alive():
                    process.kill()
                    process.join()
        return [results[rank] for rank in range(size)]


def _member(function: Callable[..., Any], rank: int, size: int, rendezvous: str, queue: Any, args: tuple) -> None:
    torch.set_num_threads(1)
    try:
        init(rank, size, init_method=rendezvous)
        buffer = io.BytesIO()  # bytes, not shared-memory handles, which die with this process
        torch.save(function(*args), buffer)
        queue.put((rank, None, buffer.getvalue()))
    except BaseException as exc:  # reported to the parent, which stops the job
        queue.put((rank, f"{type(exc).__name__}: {_first_line(exc)}", None))
    finally:
        shutdown()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


__all__ = ["TIMEOUT", "Parallel", "PeerLost", "current", "init", "launch", "shutdown"]
