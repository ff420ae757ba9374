"""The controller's policy over a discrete family's decisions: one output head per decision type.

A discrete child-training family makes a sequence of decisions of different kinds (an architecture's operation,
width and skip per layer; an augmentation's operation, probability and magnitude per operation) that share one
``Discrete(choices)`` action space, and it names the kind of each decision (``process.decision_types``). Index k
of one kind has nothing to do with index k of another (operation 4 is shear-x, probability 4 is 4/7), so one
shared output layer ties them: a choice that pays as an operation raises its logit as a probability and a
magnitude too. Like the NAS controller's one softmax classifier per decision, the policy here has a body shared by
all decisions and one linear head per decision type, picked by the decision index the observation carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium
import torch
import torch.nn.functional as F
from torch import nn

from metarl.errors import BadArgumentError, ConfigError
from metarl.rl.heads import ActionHead
from metarl.rl.mlp import MLPPolicy


class DecisionPolicy(MLPPolicy):
    """An :class:`~metarl.rl.mlp.MLPPolicy` over ``Discrete(choices)`` with one head per decision type.

    ``decision_types`` names the kind of each of the K decisions; the observation's first K values are the one-hot
    index of the decision being made (the child-training families' observation). The heads are one linear layer of
    ``types * choices`` outputs, so :meth:`per_task_forward` (ES populations) and every distribution method of
    :class:`MLPPolicy` work unchanged on the selected ``(..., choices)`` logits. With ``history`` the policy also
    sees every earlier choice (:func:`observation`), as the NAS controller's LSTM does, not only the previous one.

    Example:
        >>> policy = DecisionPolicy(7, 4, ("operation", "width", "skip"), hidden=(8,))
        >>> policy.heads
        ('operation', 'width', 'skip')
        >>> obs = torch.cat([torch.eye(3), torch.zeros(3, 4)], 1)   # decisions 0, 1, 2, no previous choice
        >>> policy(obs).shape
        torch.Size([3, 4])
    """

    def __init__(self, obs_size: int, choices: int, decision_types: Sequence[str], hidden: Sequence[int] = (64,),
                 activation: str = "tanh", history: bool = False) -> None:
        if not decision_types or obs_size < len(decision_types):
            raise BadArgumentError(f"a decision policy needs at least one decision type and an observation that "
                                   f"starts with the one-hot decision index; got {len(decision_types)} decisions "
                                   f"and an observation of {obs_size}")
        heads = tuple(dict.fromkeys(decision_types))
        extra = len(decision_types) * (choices + 1) if history else 0
        super().__init__(obs_size + extra, gymnasium.spaces.Discrete(len(heads) * choices), hidden, activation)
        self.heads, self.choices, self.decisions, self.history = heads, choices, len(decision_types), history
        kind = torch.tensor([heads.index(t) for t in decision_types])
        self.register_buffer("types", F.one_hot(kind, len(heads)).float(), persistent=False)  # (K, heads)

    def _select(self, out: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        """The logits ``(..., choices)`` of each row's own head among ``out (..., heads * choices)``."""
        which = obs[..., : self.decisions].to(self.types.dtype) @ self.types  # (..., heads), one-hot
        return (out.unflatten(-1, (len(self.heads), self.choices)) * which.unsqueeze(-1).to(out.dtype)).sum(-2)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Logits ``(..., choices)`` of the head of each row's decision type."""
        return self._select(super().forward(obs), obs)

    def per_task_forward(self, params: dict[str, torch.Tensor], obs: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` with task t's parameters ``params[name][t]`` on ``obs[t]`` (see :class:`MLPPolicy`)."""
        return self._select(super().per_task_forward(params, obs), obs)


class RecurrentDecisionPolicy(DecisionPolicy):
    """The NAS controller of Zoph & Le (2017): an LSTM over the decision sequence, each step fed the choice made at
    the step before, and one linear head per decision type on its output.

    The policy stays a function of the observation (with :func:`observation`'s history, which it always reads): the
    LSTM runs over the choices made so far, which the history holds, and the row's decision index picks the output.
    So sampling, log-probabilities and checkpoints work as for :class:`DecisionPolicy`; ES populations
    (:meth:`per_task_forward`) do not.

    Example:
        >>> policy = RecurrentDecisionPolicy(8, 4, ("operation", "width", "skip"), hidden=(8,))
        >>> obs = torch.cat([torch.eye(3), torch.zeros(3, 5), F.one_hot(torch.tensor([[1, 0, 0], [1, 4, 0],
        ...                  [1, 4, 2]]), 5).flatten(1).float()], 1)   # choices 0, 3, 1 made one after another
        >>> policy(obs).shape
        torch.Size([3, 4])
    """

    def __init__(self, obs_size: int, choices: int, decision_types: Sequence[str], hidden: Sequence[int] = (64,),
                 activation: str = "tanh", history: bool = True) -> None:
        width = hidden[-1] if hidden else 64
        super().__init__(obs_size, choices, decision_types, hidden=(), history=True)
        self.obs_size = obs_size
        self.lstm = nn.LSTM(choices + 1, width, batch_first=True)
        self.head = ActionHead(gymnasium.spaces.Discrete(len(self.heads) * choices), width)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Logits ``(..., choices)``: the LSTM's output at each row's decision index, through that type's head."""
        lead, K = obs.shape[:-1], self.decisions
        rows = obs.reshape(-1, obs.shape[-1])
        made = rows[:, self.obs_size:].view(-1, K, self.choices + 1)
        start = torch.zeros_like(made[:, :1])
        start[..., 0] = 1.0  # the first step's input: "no choice yet"
        outputs, _ = self.lstm(torch.cat([start, made[:, :-1]], 1))  # step k sees the choice of step k - 1
        index = rows[:, :K].argmax(-1)
        features = outputs[torch.arange(rows.shape[0], device=obs.device), index].view(*lead, -1)
        return self._select(self.head(features), obs)

    def per_task_forward(self, params: dict[str, torch.Tensor], obs: torch.Tensor) -> torch.Tensor:
        raise ConfigError("the recurrent controller has no population forward: train it with estimator reinforce or "
                          "ppo, or use controller 'mlp' with es")


def observation(policy: object, process: Any, state: Any, tasks: Any) -> torch.Tensor:
    """The observation ``(B, D)`` the controller ``policy`` decides on: the family's own (one-hot decision index and
    previous choice), followed, for a :class:`DecisionPolicy` with ``history``, by the one-hot of each decision made
    so far (``choices + 1`` values per decision, the first meaning "not made yet")."""
    obs = process.observe(state, tasks)
    if not getattr(policy, "history", False):
        return obs
    made = torch.arange(process.decisions, device=obs.device) < state.decision.unsqueeze(1)
    index = torch.where(made, state.choices.long() + 1, torch.zeros_like(made, dtype=torch.long))
    return torch.cat([obs, F.one_hot(index, process.choices + 1).flatten(1).to(obs.dtype)], 1)


__all__ = ["DecisionPolicy", "RecurrentDecisionPolicy", "observation"]
