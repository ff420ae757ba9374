"""Action heads: categorical for ``Discrete``, independent Bernoulli for ``MultiBinary``, diagonal Gaussian for ``Box``.

Sampling takes an explicit ``torch.Generator`` so a training run is reproducible from its seed and
its checkpoint (the generator state is saved), independent of the global RNG. The Gaussian methods
take an optional ``log_std`` that replaces the head's own: functional policies (one set of parameters
per task, :mod:`metarl.rl.functional`) carry their adapted standard deviation in their output.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium
import torch
import torch.nn.functional as F
from torch import nn

from metarl.errors import BadArgumentError

Draw = Callable[..., torch.Tensor]
"""``draw(sample, shape, **kwargs)``: random numbers of ``shape`` from a sampler such as ``torch.rand``."""


def draw_whole(sample: Callable[..., torch.Tensor], shape: Sequence[int], **kwargs: Any) -> torch.Tensor:
    """The :data:`Draw` of one process: ``sample(shape, **kwargs)``, all of it.

    Example:
        >>> draw_whole(torch.zeros, (2, 3)).shape
        torch.Size([2, 3])
    """
    return sample(tuple(shape), **kwargs)


class ActionHead(nn.Module):
    """Maps features (..., F) to an action distribution over ``space``.

    Example:
        >>> head = ActionHead(gymnasium.spaces.Discrete(3), features=8)
        >>> params = head(torch.zeros(2, 8))
        >>> action = head.sample(params, torch.Generator().manual_seed(0))
        >>> head.log_prob(params, action).shape
        torch.Size([2])
    """

    def __init__(self, space: gymnasium.Space, features: int, init_log_std: float = 0.0) -> None:
        super().__init__()
        self.bernoulli = isinstance(space, gymnasium.spaces.MultiBinary)
        if self.bernoulli:  # discrete actions without a Gaussian scale: one logit per binary component
            self.discrete = True
            self.action_shape = tuple(space.shape)
            self.linear = nn.Linear(features, math.prod(space.shape))
        elif isinstance(space, gymnasium.spaces.Discrete):
            self.discrete = True
            self.action_shape: tuple[int, ...] = ()
            self.linear = nn.Linear(features, int(space.n))
        elif isinstance(space, gymnasium.spaces.Box):
            self.discrete = False
            self.action_shape = tuple(space.shape)
            size = math.prod(space.shape)
            self.linear = nn.Linear(features, size)
            self.log_std = nn.Parameter(torch.full((size,), float(init_log_std)))
        else:
            raise BadArgumentError(f"action space {space} is not supported: use Discrete, MultiBinary or Box")
        nn.init.orthogonal_(self.linear.weight, gain=0.01)
        nn.init.zeros_(self.linear.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Distribution parameters: logits (..., n), one logit per component (MultiBinary), or the mean (..., d)."""
        return self.linear(features)

    def _log_std(self, params: torch.Tensor, log_std: torch.Tensor | None) -> torch.Tensor:
        return (self.log_std if log_std is None else log_std).expand_as(params)

    def sample(self, params: torch.Tensor, generator: torch.Generator | None = None,
               log_std: torch.Tensor | None = None, draw: Draw | None = None) -> torch.Tensor:
        """One action per row: int64 (...,), int64 (..., *shape) of 0/1, or float (..., *shape).

        ``draw(sample, shape, **kwargs)`` makes the random numbers (default ``sample(shape, **kwargs)``); a
        data-parallel process passes :meth:`metarl.training.parallel.Parallel.draw` to keep row i's numbers
        independent of the split.
        """
        draw = draw or draw_whole
        if self.bernoulli:
            uniform = draw(torch.rand, params.shape, generator=generator, device=params.device)
            return (uniform < torch.sigmoid(params)).long().reshape(*params.shape[:-1], *self.action_shape)
        if self.discrete:
            uniform = draw(torch.rand, params.shape, generator=generator, device=params.device).clamp_(min=1e-20)
            return (params - (-uniform.log()).log()).argmax(-1)  # Gumbel-max
        noise = draw(torch.randn, params.shape, generator=generator, device=params.device)
        std = self._log_std(params, log_std).exp()
        return (params + std * noise).reshape(*params.shape[:-1], *self.action_shape)

    def mode(self, params: torch.Tensor) -> torch.Tensor:
        """The most likely action of each row."""
        if self.bernoulli:
            return (params > 0).long().reshape(*params.shape[:-1], *self.action_shape)
        if self.discrete:
            return params.argmax(-1)
        return params.reshape(*params.shape[:-1], *self.action_shape)

    def log_prob(self, params: torch.Tensor, action: torch.Tensor, log_std: torch.Tensor | None = None
                 ) -> torch.Tensor:
        if self.bernoulli:
            action = action.reshape(params.shape).to(params.dtype)
            return (action * F.logsigmoid(params) + (1.0 - action) * F.logsigmoid(-params)).sum(-1)
        if self.discrete:
            return torch.log_softmax(params, -1).gather(-1, action.long().unsqueeze(-1)).squeeze(-1)
        action = action.reshape(params.shape)
        log_std = self._log_std(params, log_std)
        z = (action - params) * torch.exp(-log_std)
        return (-0.5 * z.square() - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)

    def entropy(self, params: torch.Tensor, log_std: torch.Tensor | None = None) -> torch.Tensor:
        if self.bernoulli:
            p = torch.sigmoid(params)
            return -(p * F.logsigmoid(params) + (1.0 - p) * F.logsigmoid(-params)).sum(-1)
        if self.discrete:
            log_p = torch.log_softmax(params, -1)
            return -(log_p.exp() * log_p).sum(-1)
        return (self._log_std(params, log_std) + 0.5 * (1.0 + math.log(2 * math.pi))).sum(-1)

    def kl(self, old: torch.Tensor, new: torch.Tensor, old_log_std: torch.Tensor | None = None,
           new_log_std: torch.Tensor | None = None) -> torch.Tensor:
        """KL(old || new) of each row, the divergence TRPO bounds.

        Example:
            >>> head = ActionHead(gymnasium.spaces.Discrete(3), features=4)
            >>> float(head.kl(torch.zeros(1, 3), torch.zeros(1, 3))[0])
            0.0
        """
        if self.bernoulli:
            p = torch.sigmoid(old)
            return (p * (F.logsigmoid(old) - F.logsigmoid(new))
                    + (1.0 - p) * (F.logsigmoid(-old) - F.logsigmoid(-new))).sum(-1)
        if self.discrete:
            old_log_p, new_log_p = torch.log_softmax(old, -1), torch.log_softmax(new, -1)
            return (old_log_p.exp() * (old_log_p - new_log_p)).sum(-1)
        old_log_std, new_log_std = self._log_std(old, old_log_std), self._log_std(new, new_log_std)
        ratio = (old_log_std - new_log_std).exp()  # sigma_old / sigma_new
        z = (old - new) * torch.exp(-new_log_std)
        return (new_log_std - old_log_std + 0.5 * (ratio.square() + z.square() - 1.0)).sum(-1)
