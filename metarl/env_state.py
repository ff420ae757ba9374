"""Engine state across data-parallel shards: one batch's :meth:`~metarl.engine.BatchedEnv.state_dict` from its
shards' states (:func:`join_env_states`), and a shard's state cut from the whole batch's (:func:`split_env_state`).

Per-environment tensors are concatenated or narrowed; what every environment of a batch shares (the seed, the
global step) is kept once; the step-noise block, a cache, is dropped and drawn again where needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch


def copied_state(value: Any, device: torch.device | None = None) -> Any:
    """A copy of a state value (a tensor, a number, None, a dict of tensors) that shares no storage, on ``device``."""
    if isinstance(value, dict):
        return {k: copied_state(v, device) for k, v in value.items()}
    if isinstance(value, torch.Tensor):
        return value.to(device or value.device, copy=True)
    return value


_SHARED_STATE = ("seed", "_global_step", "_countdown", "_ring_age")
"""Engine state that every environment of a batch shares (the same in every shard)."""


def join_env_states(states: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The :meth:`BatchedEnv.state_dict` of one batch made of consecutive shards' states (data-parallel processes').

    Per-environment tensors are concatenated; the step-noise block, a cache, is dropped and drawn again.

    Example:
        >>> import metarl
        >>> parts = [metarl.make("metarl/BernoulliBandit-v0", num_envs=2, seed=0, first_env=i) for i in (0, 2)]
        >>> whole = metarl.make("metarl/BernoulliBandit-v0", num_envs=4, seed=0)
        >>> joined = join_env_states([p.state_dict() for p in parts])
        >>> keys = whole.state_dict()["attributes"]["_task_keys"]
        >>> joined["num_envs"], torch.equal(joined["attributes"]["_task_keys"], keys)
        (4, True)
    """
    first = states[0]
    attributes = {}
    for name, value in first["attributes"].items():
        values = [s["attributes"][name] for s in states]
        attributes[name] = value if name in _SHARED_STATE else None if name == "_block" else \
            _join([*values], 1 if name == "_ring" else 0)
    out = {**first, "num_envs": sum(s["num_envs"] for s in states), "attributes": attributes,
           "task": _join([s["task"] for s in states], 0)}
    if "wrapper" in first:
        out["wrapper"] = _join([s["wrapper"] for s in states], 0)
    return out


def split_env_state(state: Mapping[str, Any], part: slice) -> dict[str, Any]:
    """The state of environments ``part`` of the batch whose state is ``state`` (see :func:`join_env_states`)."""
    attributes = {name: value if name in _SHARED_STATE else None if name == "_block" else
                  _split(value, part, 1 if name == "_ring" else 0) for name, value in state["attributes"].items()}
    out = {**state, "num_envs": part.stop - part.start, "attributes": attributes,
           "task": _split(state["task"], part, 0)}
    if "wrapper" in state:
        out["wrapper"] = _split(state["wrapper"], part, 0)
    return out


def _join(values: list[Any], dim: int) -> Any:
    if isinstance(values[0], dict):
        return {k: _join([v[k] for v in values], dim) for k in values[0]}
    if isinstance(values[0], torch.Tensor):
        return torch.cat(values, dim)
    return values[0]


def _split(value: Any, part: slice, dim: int) -> Any:
    if isinstance(value, dict):
        return {k: _split(v, part, dim) for k, v in value.items()}
    if isinstance(value, torch.Tensor):
        return value.narrow(dim, part.start, part.stop - part.start).clone()
    return value

