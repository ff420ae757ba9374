"""The tabular-MDP family's task draws and exact planning, shared by its reference policies and tests.

:func:`sample_tabular_mdps` draws MDPs from the family's own task distribution; :func:`value_iteration` solves a
batch of them exactly over a finite horizon (it loops over the ``H`` steps only, never over MDPs).
"""

from __future__ import annotations

import torch

__all__ = ["sample_tabular_mdps", "value_iteration"]


def sample_tabular_mdps(
    num: int,
    states: int = 10,
    actions: int = 5,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``num`` MDPs from the TabularMDP family's task distribution (train split).

    Returns transitions ``(num, S, A, S)`` (flat Dirichlet rows) and reward means ``(num, S, A)`` (N(1, 1)).

    Example::

        P, R = sample_tabular_mdps(1000, generator=torch.Generator().manual_seed(0))
    """
    from metarl.registry import make

    task = make("metarl/TabularMDP-v0", states=states, actions=actions).sample_tasks(num, generator, device=device)
    return task.transitions, task.reward_mean


def value_iteration(
    transitions: torch.Tensor, rewards: torch.Tensor, horizon: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Finite-horizon, undiscounted value iteration for a batch of MDPs.

    ``Q_h = R + P @ V_{h+1}`` with ``V_H = 0``. ``transitions`` is ``(B, S, A, S)``, ``rewards`` (expected
    rewards) ``(B, S, A)``. Returns ``Q`` of shape ``(B, H, S, A)`` (``Q[:, h]`` is the value of acting at
    step ``h`` with ``H - h`` steps left) and the start values ``V_0`` of shape ``(B, S)``.

    Example::

        Q, V0 = value_iteration(P, R, horizon=10)
        greedy_first_action = Q[:, 0].argmax(-1)   # (B, S)
    """
    B, S, A, _ = transitions.shape
    q = transitions.new_empty((B, horizon, S, A))
    v = transitions.new_zeros((B, S))
    for h in range(horizon - 1, -1, -1):
        q_h = rewards + torch.einsum("bsat,bt->bsa", transitions, v)
        q[:, h] = q_h
        v = q_h.amax(-1)
    return q, v
