"""The RL² recurrent actor-critic: one GRU (or LSTM) whose state spans the inner episodes of a trial.

The input is the RL² observation (observation, previous action, previous reward, previous inner-done);
the recurrent state is zeroed where a new trial starts and nowhere else, so everything the network
knows about the current task it inferred within this trial.
"""

from __future__ import annotations

import gymnasium
import torch
from torch import nn

from metarl.rl import ActionHead


class RecurrentActorCritic(nn.Module):
    """Encoder -> GRU/LSTM -> (action head, value head).

    The recurrent state is one tensor of shape (layers, B, hidden) for a GRU and (2 * layers, B, hidden)
    for an LSTM (h stacked over c), so it is stored, masked and checkpointed the same way.

    Example:
        >>> net = RecurrentActorCritic(8, gymnasium.spaces.Discrete(5), hidden=32)
        >>> state = net.initial_state(4)
        >>> params, value, state = net.step(torch.zeros(4, 8), state, torch.ones(4, dtype=torch.bool))
        >>> params.shape, value.shape
        (torch.Size([4, 5]), torch.Size([4]))
    """

    def __init__(self, obs_size: int, action_space: gymnasium.Space, hidden: int = 256, cell: str = "gru",
                 embed: int = 0) -> None:
        super().__init__()
        self.cell, self.hidden = cell, hidden
        if embed > 0:
            self.encoder: nn.Module = nn.Sequential(nn.Linear(obs_size, embed), nn.Tanh())
            core_input = embed
        else:
            self.encoder, core_input = nn.Identity(), obs_size
        core_type = {"gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.core = core_type(core_input, hidden)
        self.head = ActionHead(action_space, hidden)
        self.value = nn.Linear(hidden, 1)
        nn.init.orthogonal_(self.value.weight, gain=1.0)
        nn.init.zeros_(self.value.bias)

    def initial_state(self, batch: int, device: torch.device | str | None = None) -> torch.Tensor:
        layers = 2 if self.cell == "lstm" else 1
        return torch.zeros(layers, batch, self.hidden, device=device)

    def _core(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cell == "lstm":
            h, c = state.chunk(2, 0)
            out, (h, c) = self.core(x, (h.contiguous(), c.contiguous()))
            return out, torch.cat([h, c], 0)
        return self.core(x, state)

    def step(self, obs: torch.Tensor, state: torch.Tensor, trial_start: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step for B environments: (action-distribution parameters, value, next state).

        ``trial_start`` (B,) bool zeroes the incoming state of environments whose trial starts here.
        """
        state = state * (~trial_start).to(state.dtype).view(1, -1, 1)
        out, state = self._core(self.encoder(obs).unsqueeze(0), state)
        features = out.squeeze(0)
        return self.head(features), self.value(features).squeeze(-1), state

    def sequence(self, obs: torch.Tensor, state: torch.Tensor, trial_start: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run (T, B) steps from ``state``; returns (parameters (T, B, ...), values (T, B)).

        The sequence is cut where any environment starts a trial, so stretches without resets run
        as one fused recurrent call; identical to calling :meth:`step` T times.
        """
        steps = obs.shape[0]
        x = self.encoder(obs)
        cuts = trial_start[1:].any(1).nonzero().squeeze(1).add(1).tolist()
        outputs = []
        for begin, end in zip([0, *cuts], [*cuts, steps], strict=True):
            state = state * (~trial_start[begin]).to(state.dtype).view(1, -1, 1)
            out, state = self._core(x[begin:end], state)
            outputs.append(out)
        features = torch.cat(outputs, 0)
        return self.head(features), self.value(features).squeeze(-1)


def with_time_feature(obs: torch.Tensor, trial_step: torch.Tensor, trial_steps: int) -> torch.Tensor:
    """``obs`` (B, D) with the fraction of the trial elapsed, ``trial_step / trial_steps``, appended (B, D + 1)."""
    return torch.cat([obs, (trial_step.to(obs.dtype) / trial_steps).unsqueeze(1)], 1)
