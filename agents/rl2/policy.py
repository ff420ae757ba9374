"""The RL² recurrent actor-critic: one GRU (or LSTM) whose state spans the inner episodes of a trial.

The input is the RL² observation (observation, previous action, previous reward, previous inner-done);
the recurrent state is zeroed where a new trial starts and nowhere else, so everything the network
knows about the current task it inferred within this trial.
"""

from __future__ import annotations

import dataclasses

import gymnasium
import torch
from torch import nn

from metarl.rl import ActionHead


class RecurrentActorCritic(nn.Module):
    """Encoder -> GRU/LSTM -> [torso] -> (action head, value head, [auxiliary heads]).

    With ``head_hidden > 0`` a tanh layer over the core's output and the current input sits before the
    heads, so reading a remembered value for the current observation (a state-indexed lookup) need not
    happen inside the recurrent cell.

    With ``separate_critic`` the value head reads a second encoder and core of its own, so the value
    loss does not shape the actor's memory.

    The recurrent state is one tensor of shape (layers, B, hidden) for a GRU and (2 * layers, B, hidden)
    for an LSTM (h stacked over c), with the critic's layers after the actor's when it has its own, so it
    is stored, masked and checkpointed the same way.

    Two optional auxiliary heads read the actor's features for training losses only: an
    :class:`OutcomeModel` (``outcome_size``) and a linear ``task_model`` (``task_size``) that regresses
    the task's own parameters, whose least-squares answer is their posterior mean given the trial so far.

    Example:
        >>> net = RecurrentActorCritic(8, gymnasium.spaces.Discrete(5), hidden=32)
        >>> state = net.initial_state(4)
        >>> params, value, state = net.step(torch.zeros(4, 8), state, torch.ones(4, dtype=torch.bool))
        >>> params.shape, value.shape
        (torch.Size([4, 5]), torch.Size([4]))
    """

    def __init__(self, obs_size: int, action_space: gymnasium.Space, hidden: int = 256, cell: str = "gru",
                 embed: int = 0, head_hidden: int = 0, separate_critic: bool = False,
                 outcome_size: int = 0, task_size: int = 0) -> None:
        super().__init__()
        self.cell, self.hidden, self.head_hidden = cell, hidden, head_hidden
        self.encoder, self.core, self.torso, features = _tower(obs_size, hidden, cell, embed, head_hidden)
        self.separate_critic = separate_critic
        if separate_critic:
            self.critic_encoder, self.critic_core, self.critic_torso, _ = _tower(obs_size, hidden, cell, embed,
                                                                                  head_hidden)
        self.head = ActionHead(action_space, features)
        self.value = nn.Linear(features, 1)
        nn.init.orthogonal_(self.value.weight, gain=1.0)
        nn.init.zeros_(self.value.bias)
        self.outcome_model = OutcomeModel(action_space, features, outcome_size) if outcome_size else None
        self.task_model = nn.Linear(features, task_size) if task_size else None

    def _towers(self) -> list[tuple[nn.Module, nn.Module, nn.Module]]:
        """(encoder, core, torso) of the actor, then of the critic when it has its own."""
        actor = (self.encoder, self.core, self.torso)
        return [actor, (self.critic_encoder, self.critic_core, self.critic_torso)] if self.separate_critic else [actor]

    def initial_state(self, batch: int, device: torch.device | str | None = None) -> torch.Tensor:
        layers = (2 if self.cell == "lstm" else 1) * len(self._towers())
        return torch.zeros(layers, batch, self.hidden, device=device)

    def _core(self, core: nn.Module, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cell == "lstm":
            h, c = state.chunk(2, 0)
            out, (h, c) = core(x, (h.contiguous(), c.contiguous()))
            return out, torch.cat([h, c], 0)
        return core(x, state)

    def step(self, obs: torch.Tensor, state: torch.Tensor, trial_start: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step for B environments: (action-distribution parameters, value, next state).

        ``trial_start`` (B,) bool zeroes the incoming state of environments whose trial starts here.
        """
        params, values, state, _ = self._unroll(obs.unsqueeze(0), state, trial_start.unsqueeze(0), cuts=[])
        return params.squeeze(0), values.squeeze(0), state

    def sequence(self, obs: torch.Tensor, state: torch.Tensor, trial_start: torch.Tensor,
                 return_features: bool = False) -> tuple[torch.Tensor, ...]:
        """Run (T, B) steps from ``state``; returns (parameters (T, B, ...), values (T, B)).

        The sequence is cut where any environment starts a trial, so stretches without resets run
        as one fused recurrent call; identical to calling :meth:`step` T times. With
        ``return_features`` the actor's features (T, B, F) come third: what the auxiliary heads
        (:attr:`outcome_model`, :attr:`task_model`) read.
        """
        cuts = trial_start[1:].any(1).nonzero().squeeze(1).add(1).tolist()
        params, values, _, features = self._unroll(obs, state, trial_start, cuts)
        return (params, values, features) if return_features else (params, values)

    def _unroll(self, obs: torch.Tensor, state: torch.Tensor, trial_start: torch.Tensor, cuts: list[int]
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every tower over (T, B) inputs: (parameters, values, last state, the actor's features).

        The state is zeroed where a trial starts at step 0 and at ``cuts``.
        """
        steps = obs.shape[0]
        towers = self._towers()
        features, states = [], []
        for (encoder, core, torso), part in zip(towers, state.chunk(len(towers), 0), strict=True):
            x = encoder(obs)
            outputs = []
            for begin, end in zip([0, *cuts], [*cuts, steps], strict=True):
                part = part * (~trial_start[begin]).to(part.dtype).view(1, -1, 1)
                out, part = self._core(core, x[begin:end], part)
                outputs.append(out)
            features.append(self._features(torso, torch.cat(outputs, 0), obs))
            states.append(part)
        return self.head(features[0]), self.value(features[-1]).squeeze(-1), torch.cat(states, 0), features[0]

    def _features(self, torso: nn.Module, core_out: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        """What a head reads: the core's output, or a tanh layer over it and the current input."""
        return torso(torch.cat([core_out, obs], -1)) if self.head_hidden else core_out


class OutcomeModel(nn.Module):
    """Predicts the outcome of the action taken (its reward, the next observation) from the actor's features.

    Trained by regression on the rollout as an auxiliary task, it asks the recurrent state to hold what
    the trial has shown about the task: which rewards and transitions follow each observation and action.
    A discrete action reads its own block of a linear layer's outputs; a continuous one goes through a
    tanh layer with the features.

    Example:
        >>> model = OutcomeModel(gymnasium.spaces.Discrete(3), features=8, size=2)
        >>> model(torch.zeros(4, 2, 8), torch.zeros(4, 2, dtype=torch.long)).shape
        torch.Size([4, 2, 2])
    """

    def __init__(self, action_space: gymnasium.Space, features: int, size: int) -> None:
        super().__init__()
        self.size = size
        self.discrete = isinstance(action_space, gymnasium.spaces.Discrete)
        if self.discrete:
            self.net: nn.Module = nn.Linear(features, int(action_space.n) * size)
        else:
            actions = int(torch.Size(action_space.shape).numel())
            self.net = nn.Sequential(nn.Linear(features + actions, features), nn.Tanh(), nn.Linear(features, size))

    def forward(self, features: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(..., size) outcomes of ``action`` (...,) or (..., *action shape) given ``features`` (..., F)."""
        if self.discrete:
            blocks = self.net(features).unflatten(-1, (-1, self.size))
            index = action.long()[..., None, None].expand(*action.shape, 1, self.size)
            return blocks.gather(-2, index).squeeze(-2)
        return self.net(torch.cat([features, action.flatten(features.dim() - 1).to(features.dtype)], -1))


def _tower(obs_size: int, hidden: int, cell: str, embed: int, head_hidden: int
           ) -> tuple[nn.Module, nn.Module, nn.Module, int]:
    """(encoder, recurrent core, torso, feature width) of one recurrent stack."""
    if embed > 0:
        encoder: nn.Module = nn.Sequential(nn.Linear(obs_size, embed), nn.Tanh())
        core_input = embed
    else:
        encoder, core_input = nn.Identity(), obs_size
    core = {"gru": nn.GRU, "lstm": nn.LSTM}[cell](core_input, hidden)
    if head_hidden > 0:
        return encoder, core, nn.Sequential(nn.Linear(hidden + obs_size, head_hidden), nn.Tanh()), head_hidden
    return encoder, core, nn.Identity(), hidden


@dataclasses.dataclass(frozen=True)
class PolicyInputs:
    """How the RL² observation becomes the network's input, the same in training and evaluation.

    ``time_feature`` appends the fraction of the trial elapsed, ``trial_step / trial_steps``.
    ``previous_obs`` appends the previous step's own observation (zero at a trial's first step), so
    the previous action and reward arrive next to the observation they were taken and earned in.

    Example:
        >>> inputs = PolicyInputs(trial_steps=4, obs_size=2, previous_obs=True)
        >>> obs = torch.tensor([[1.0, 0.0, 0.5]])  # own observation (2) and one RL² extra
        >>> inputs(obs, torch.tensor([2]), previous=torch.tensor([[0.0, 1.0, 0.0]]), start=torch.tensor([False]))
        tensor([[1.0000, 0.0000, 0.5000, 0.0000, 1.0000, 0.5000]])
    """

    trial_steps: int
    obs_size: int
    """Size of the environment's own observation, the leading part of the RL² observation."""
    time_feature: bool = True
    previous_obs: bool = False

    def size(self, rl2_size: int) -> int:
        """Input width for RL² observations of ``rl2_size``."""
        return rl2_size + self.obs_size * self.previous_obs + self.time_feature

    def __call__(self, obs: torch.Tensor, trial_step: torch.Tensor, previous: torch.Tensor | None = None,
                 start: torch.Tensor | None = None) -> torch.Tensor:
        """(B, size) inputs from RL² observations (B, D), the step within the trial (B,) and, with
        ``previous_obs``, the previous step's RL² observations (B, D) and where a trial starts (B,)."""
        parts = [obs]
        if self.previous_obs:
            if previous is None or start is None:
                raise ValueError("previous_obs needs the previous observations and the trial starts")
            parts.append(previous[:, : self.obs_size] * (~start).to(obs.dtype).unsqueeze(1))
        if self.time_feature:
            parts.append((trial_step.to(obs.dtype) / self.trial_steps).unsqueeze(1))
        return torch.cat(parts, 1)
