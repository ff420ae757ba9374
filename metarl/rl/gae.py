"""Generalized advantage estimation over a (T, B) rollout, on the rollout's device.

GAE never looks across an episode boundary, bootstraps a truncated episode with the value of the
state it was cut off in, and does not bootstrap a terminated one. Meta-RL agents choose what an
"episode" is: RL² passes trial ends (its return is the sum over the whole trial), per-episode
learners pass inner-episode ends.
"""

from __future__ import annotations

import torch


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    last_value: torch.Tensor,
    episode_end: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
    lam: float | torch.Tensor,
    truncation_values: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and value targets (returns), both (T, B).

    Args:
        rewards, values: (T, B) reward of step t and value estimate of the state step t acted in.
        last_value: (B,) value of the state after the last step (the rollout is cut there).
        episode_end: (T, B) bool, an episode ended at step t (terminated or truncated); the
            advantage of step t does not see anything after it.
        terminated: (T, B) bool, step t reached a terminal state: no bootstrap.
        lam: the GAE λ, or a (T, B) tensor of one λ per step (1 where a step does not advance the clock
            that λ should count, e.g. the updates of a student rather than the minibatches it is shown).
        truncation_values: (T, B) value of the state a truncated episode was cut off in, read where
            ``episode_end & ~terminated``. Required when such steps exist.

    Example:
        >>> r = torch.ones(3, 1); v = torch.zeros(3, 1); end = torch.tensor([[False], [False], [True]])
        >>> adv, ret = gae(r, v, torch.zeros(1), end, end, gamma=1.0, lam=1.0)
        >>> ret[:, 0].tolist()
        [3.0, 2.0, 1.0]
    """
    steps = rewards.shape[0]
    truncated = episode_end & ~terminated
    next_values = torch.cat([values[1:], last_value.unsqueeze(0)], 0)
    if truncation_values is not None:
        next_values = torch.where(truncated, truncation_values, next_values)
    elif bool(truncated.any()):
        raise ValueError("gae: truncated episodes need truncation_values (the value of the state cut off in)")
    not_terminal = (~terminated).to(values.dtype)
    deltas = rewards + gamma * next_values * not_terminal - values
    carry = gamma * lam * (~episode_end).to(values.dtype)
    advantages = torch.empty_like(values)
    running = torch.zeros_like(last_value)
    for t in range(steps - 1, -1, -1):
        running = deltas[t] + carry[t] * running
        advantages[t] = running
    return advantages, advantages + values
