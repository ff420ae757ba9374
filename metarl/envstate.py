"""Snapshot and restore the full state of a batched env, so a training run resumes bit-for-bit.

An environment's state is everything a step reads: the tasks in force, the trial and step counters,
the inner state of each family (positions, current MDP state) and the prefetched random blocks.
The snapshot holds only tensors, numbers and dicts of them, so it loads with ``weights_only=True``.
"""

from __future__ import annotations

from typing import Any

import torch

from metarl.engine import BatchedEnv
from metarl.errors import CheckpointError

# Set from the constructor's arguments, never changed by stepping: not part of the state.
_FIXED = {"num_envs", "check", "autoreset", "horizon", "episodes", "_discrete", "_on_cpu", "_use_ring", "_block_steps"}


def _base(env: Any) -> BatchedEnv:
    return env.env if not isinstance(env, BatchedEnv) else env


def env_state_dict(env: Any) -> dict[str, Any]:
    """The state of ``env`` (a :class:`BatchedEnv` or the RL² wrapper around one).

    Example:
        >>> import metarl
        >>> env = metarl.make("metarl/BernoulliBandit-v0", num_envs=2, seed=0); _ = env.reset()
        >>> sorted(env_state_dict(env))
        ['attributes', 'config', 'id', 'num_envs', 'task']
    """
    base = _base(env)
    attributes: dict[str, Any] = {}
    for name, value in vars(base).items():
        if name in _FIXED or name in type(base).constant_attributes:
            continue
        if isinstance(value, torch.Tensor) or value is None or type(value) in (int, float, bool):
            attributes[name] = value
        elif isinstance(value, dict) and value and all(isinstance(v, torch.Tensor) for v in value.values()):
            attributes[name] = dict(value)
    state = {"id": base.id, "config": dict(base.config), "num_envs": base.num_envs, "attributes": attributes,
             "task": base.task.fields() if base.task is not None else None}
    if base is not env:
        state["wrapper"] = {"_last_extra": env._last_extra}
    return state


def load_env_state(env: Any, state: dict[str, Any]) -> None:
    """Restore a state taken by :func:`env_state_dict` from an env made with the same id and arguments."""
    base = _base(env)
    saved = (state.get("id"), state.get("config"), state.get("num_envs"))
    if saved != (base.id, dict(base.config), base.num_envs):
        raise CheckpointError(f"the saved environment state does not fit this environment: saved {saved[0]} "
                              f"{saved[1]} x {saved[2]}, this is {base.id} {dict(base.config)} x {base.num_envs}")
    try:
        for name, value in state["attributes"].items():
            if isinstance(value, torch.Tensor):
                value = value.to(base.device)
            elif isinstance(value, dict):
                value = {k: v.to(base.device) for k, v in value.items()}
            setattr(base, name, value)
        fields = state["task"]
        base.task = None if fields is None else base.task_type(**{k: v.to(base.device) for k, v in fields.items()})
        if "wrapper" in state:
            extra = state["wrapper"]["_last_extra"]
            env._last_extra = None if extra is None else extra.to(base.device)
    except (KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{base.id}: the saved environment state is incomplete ({exc})") from exc


__all__ = ["env_state_dict", "load_env_state"]
