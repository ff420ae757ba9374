"""Feed-forward policies whose parameters can be swapped per task (see :mod:`metarl.rl.functional`).

The forward pass returns one tensor that fully describes the action distribution: the logits for a
``Discrete`` space, or the Gaussian mean followed by the log standard deviation for a ``Box`` space.
So a policy evaluated with adapted parameters (``functional_call`` / ``per_task_call``) carries its
adapted standard deviation in its output, and the distribution math below never reads the module's
own parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium
import torch
from torch import nn

from metarl.errors import BadArgumentError
from metarl.rl.heads import ActionHead, Draw

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


class MLPPolicy(nn.Module):
    """``obs (..., D) -> distribution parameters (..., P)`` through hidden layers and an :class:`ActionHead`.

    MAML (Finn et al. 2017) uses two hidden layers of 100 ReLU units.

    Example:
        >>> policy = MLPPolicy(2, gymnasium.spaces.Box(-0.1, 0.1, (2,)), hidden=(100, 100))
        >>> out = policy(torch.zeros(5, 2))                     # mean and log std: (5, 4)
        >>> action = policy.sample(out, torch.Generator().manual_seed(0))
        >>> policy.log_prob(out, action).shape
        torch.Size([5])
    """

    def __init__(self, obs_size: int, action_space: gymnasium.Space, hidden: Sequence[int] = (100, 100),
                 activation: str = "relu", init_log_std: float = 0.0, unit_actions: bool = False) -> None:
        super().__init__()
        self.unit_actions = unit_actions and isinstance(action_space, gymnasium.spaces.Box)
        if self.unit_actions:
            low, high = (torch.as_tensor(b, dtype=torch.float32).flatten() for b in (action_space.low,
                                                                                     action_space.high))
            if not (torch.isfinite(low).all() and torch.isfinite(high).all()):
                raise BadArgumentError(f"unit_actions needs a bounded action space, got {action_space}")
            self.register_buffer("action_low", low, persistent=False)
            self.register_buffer("action_high", high, persistent=False)
        if activation not in ACTIVATIONS:
            raise BadArgumentError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        layers: list[nn.Module] = []
        width = obs_size
        for size in hidden:
            layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
            width = size
        self.body = nn.Sequential(*layers)
        self.head = ActionHead(action_space, width, init_log_std)

    @property
    def discrete(self) -> bool:
        return self.head.discrete

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Logits (..., n), or the Gaussian mean and log standard deviation concatenated (..., 2 d)."""
        out = self.head(self.body(obs))
        if self.head.discrete:
            return out
        return torch.cat([out, self.head.log_std.expand_as(out)], -1)

    def per_task_forward(self, params: dict[str, torch.Tensor], obs: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` with task t's parameters ``params[name][t]`` on ``obs[t]``, for every task t.

        Batched matrix products: the same result as :func:`metarl.rl.per_task_call` through ``vmap``,
        with derivatives of every order about twice as fast on CPU (MAML-RL's second-order products
        spend most of their time here).

        Example:
            >>> policy = MLPPolicy(2, gymnasium.spaces.Discrete(3), hidden=(8,))
            >>> params = {n: p.expand(4, *p.shape) for n, p in policy.named_parameters()}
            >>> policy.per_task_forward(params, torch.zeros(4, 5, 6, 2)).shape
            torch.Size([4, 5, 6, 3])
        """
        tasks, *rows, _ = obs.shape
        h = obs.reshape(tasks, -1, obs.shape[-1])
        layers = [(f"body.{i}", self.body[i + 1]) for i in range(0, len(self.body), 2)] + [("head.linear", None)]
        for name, activation in layers:
            h = torch.baddbmm(params[f"{name}.bias"].unsqueeze(1), h, params[f"{name}.weight"].transpose(1, 2))
            if activation is not None:
                h = activation(h)
        h = h.view(tasks, *rows, h.shape[-1])
        if self.head.discrete:
            return h
        return torch.cat([h, params["head.log_std"].view(tasks, *[1] * len(rows), -1).expand_as(h)], -1)

    def split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(logits or mean, log std or None) of a forward output."""
        if self.head.discrete:
            return out, None
        mean, log_std = out.chunk(2, -1)
        return mean, log_std

    def env_action(self, action: torch.Tensor) -> torch.Tensor:
        """The action to send to the environment for a sampled one.

        With ``unit_actions`` the Gaussian lives in [-1, 1] per dimension, mapped linearly onto the
        space's bounds after clipping (what rllab's ``normalize`` wrapper does in the original MAML code,
        and how stable-baselines3 rescales): an initial standard deviation of 1 then spans the action
        range instead of saturating it. Otherwise the action is returned unchanged.

        Example:
            >>> policy = MLPPolicy(2, gymnasium.spaces.Box(-0.1, 0.1, (2,)), unit_actions=True)
            >>> policy.env_action(torch.tensor([[0.5, -3.0]]))
            tensor([[ 0.0500, -0.1000]])
        """
        if not self.unit_actions:
            return action
        unit = action.clamp(-1.0, 1.0)
        return self.action_low + (unit + 1.0) * 0.5 * (self.action_high - self.action_low)

    def sample(self, out: torch.Tensor, generator: torch.Generator | None = None, draw: Draw | None = None
               ) -> torch.Tensor:
        """One action per row of ``out`` (``draw``: see :meth:`metarl.rl.heads.ActionHead.sample`)."""
        params, log_std = self.split(out)
        return self.head.sample(params, generator, log_std, draw)

    def mode(self, out: torch.Tensor) -> torch.Tensor:
        """The most likely action of each row."""
        return self.head.mode(self.split(out)[0])

    def log_prob(self, out: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        params, log_std = self.split(out)
        return self.head.log_prob(params, action, log_std)

    def entropy(self, out: torch.Tensor) -> torch.Tensor:
        params, log_std = self.split(out)
        return self.head.entropy(params, log_std)

    def kl(self, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        """KL(old || new) of each row of two forward outputs."""
        old_params, old_log_std = self.split(old)
        new_params, new_log_std = self.split(new)
        return self.head.kl(old_params, new_params, old_log_std, new_log_std)


__all__ = ["MLPPolicy"]
