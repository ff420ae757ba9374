"""The linear feature baseline of Duan et al. 2016 (rllab), as MAML-RL uses it: refitted for every batch.

Features of the state visited at step t of a trajectory: ``[obs, obs**2, time, time**2, time**3, 1]``
with time = t / 100 (a fixed scale, so the features are the same for any trajectory length). The
weights are the ridge-regularised least-squares fit of the returns, solved in float64 for each group
of trajectories at once (one group per task: a task's baseline sees only its own trajectories).

Example:
    >>> obs, returns = torch.randn(10, 2, 4, 3), torch.randn(10, 2, 4)  # (T, tasks, trajectories, obs)
    >>> mask = torch.ones(10, 2, 4)
    >>> fit_linear_baseline(linear_features(obs), returns, mask).shape
    torch.Size([10, 2, 4])
"""

from __future__ import annotations

import torch

TIME_SCALE = 100.0


def linear_features(obs: torch.Tensor) -> torch.Tensor:
    """``[obs, obs**2, t, t**2, t**3, 1]`` for observations (T, *batch, D): (T, *batch, 2 D + 4).

    Example:
        >>> linear_features(torch.zeros(5, 3, 2)).shape
        torch.Size([5, 3, 8])
    """
    steps = obs.shape[0]
    time = (torch.arange(steps, device=obs.device, dtype=obs.dtype) / TIME_SCALE).view(steps, *[1] * (obs.dim() - 1))
    time = time.expand(*obs.shape[:-1], 1)
    return torch.cat([obs, obs.square(), time, time.square(), time.pow(3), torch.ones_like(time)], -1)


def fit_linear_baseline(features: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor, reg: float = 1e-5,
                        attempts: int = 5) -> torch.Tensor:
    """Baseline values (T, G, N): per group g, the least-squares fit of ``returns`` on ``features`` over masked rows.

    ``features`` (T, G, N, F), ``returns`` and ``mask`` (T, G, N): T steps of N trajectories in each of G
    groups; only rows with ``mask > 0`` enter the fit. The normal equations get ``reg * I`` added (as in
    rllab); the regulariser grows tenfold while a solve fails or is not finite. Masked rows get 0.
    """
    T, G, N, F = features.shape
    x = (features * mask.unsqueeze(-1)).to(torch.float64).permute(1, 0, 2, 3).reshape(G, T * N, F)
    y = (returns * mask).to(torch.float64).permute(1, 0, 2).reshape(G, T * N, 1)
    gram, rhs = x.transpose(1, 2) @ x, x.transpose(1, 2) @ y
    eye = torch.eye(F, dtype=torch.float64, device=features.device)
    weights = torch.zeros(G, F, 1, dtype=torch.float64, device=features.device)
    for attempt in range(attempts):
        solved, info = torch.linalg.solve_ex(gram + reg * (10 ** attempt) * eye, rhs)
        if not bool(info.any()) and bool(torch.isfinite(solved).all()):
            weights = solved
            break
    values = features.to(torch.float64) @ weights.view(1, G, F, 1)
    return values.squeeze(-1).to(returns.dtype) * (mask > 0)


__all__ = ["fit_linear_baseline", "linear_features"]
