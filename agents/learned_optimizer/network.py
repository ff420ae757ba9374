"""The coordinatewise LSTM optimizer of Andrychowicz et al. 2016: one small LSTM shared by every coordinate.

Every coordinate of every optimizee is a row: the network maps that coordinate's features (LogAndSign of the
gradient and its moving averages, :mod:`metarl.envs.learn_to_optimize.process`) and its own recurrent state
to an update. The forward pass is written with broadcasting matrix products, so the same code runs one set of weights on
(rows, features) inputs or a population of weight sets (leading dimension P, for evolution strategies) on
(P, rows, features) inputs in one call.
"""

from __future__ import annotations

import math

import torch
from metarl.envs.learn_to_optimize.process import FEATURES
from torch import nn

Params = dict[str, torch.Tensor]


class CoordinatewiseLSTM(nn.Module):
    """A ``layers`` x ``hidden`` LSTM applied to each coordinate independently, with shared weights.

    ``forward(features (..., N, F), state) -> (update (..., N), state)``; the update is the output layer times
    ``output_scale`` (0.1 in the paper). ``log_std`` is the standard deviation (log, per coordinate) of the
    Gaussian policy over updates that the policy-gradient estimator samples from; the update itself is the mean.

    Example:
        >>> net = CoordinatewiseLSTM()
        >>> state = net.initial_state(5)
        >>> update, state = net(torch.zeros(5, 6), state)
        >>> update.shape, state.shape
        (torch.Size([5]), torch.Size([4, 5, 20]))
    """

    def __init__(self, features: int = FEATURES, hidden: int = 20, layers: int = 2, output_scale: float = 0.1,
                 init_log_std: float = -5.0) -> None:
        super().__init__()
        self.hidden, self.layers, self.output_scale = hidden, layers, output_scale
        bound = 1.0 / math.sqrt(hidden)
        for i in range(layers):
            inputs = features if i == 0 else hidden
            self.register_parameter(f"input_{i}", nn.Parameter(torch.empty(inputs, 4 * hidden).uniform_(-bound, bound)))
            self.register_parameter(f"recurrent_{i}",
                                    nn.Parameter(torch.empty(hidden, 4 * hidden).uniform_(-bound, bound)))
            self.register_parameter(f"bias_{i}", nn.Parameter(torch.empty(4 * hidden).uniform_(-bound, bound)))
        self.out_weight = nn.Parameter(torch.empty(hidden).uniform_(-bound, bound))
        self.out_bias = nn.Parameter(torch.zeros(()))
        self.log_std = nn.Parameter(torch.tensor(float(init_log_std)))

    def initial_state(self, rows: int, device: torch.device | str = "cpu", population: int | None = None
                      ) -> torch.Tensor:
        """Zero state ``(2 * layers, [P,] rows, hidden)``: (h, c) of each layer."""
        lead = () if population is None else (population,)
        return torch.zeros(2 * self.layers, *lead, rows, self.hidden, device=device)

    def mean_parameters(self) -> Params:
        """The parameters that shape the update (all but ``log_std``), by name."""
        return {name: p for name, p in self.named_parameters() if name != "log_std"}

    def forward(self, features: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_with(self.mean_parameters(), features, state)

    def forward_with(self, params: Params, features: torch.Tensor, state: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """The forward pass with ``params`` in place of the module's own (each may carry a leading population
        dimension P, with ``features (P, N, F)`` and ``state (2 * layers, P, N, hidden)``)."""
        x, new_state = features, []
        for i in range(self.layers):
            h, c = state[2 * i], state[2 * i + 1]
            bias = params[f"bias_{i}"].unsqueeze(-2)
            if x.dim() == 2:  # one weight set: fused multiply-adds
                gates = torch.addmm(torch.addmm(bias, x, params[f"input_{i}"]), h, params[f"recurrent_{i}"])
            else:
                gates = torch.baddbmm(torch.baddbmm(bias, x, params[f"input_{i}"]), h, params[f"recurrent_{i}"])
            in_gate, forget, cell, out = gates.chunk(4, -1)
            c = torch.sigmoid(forget) * c + torch.sigmoid(in_gate) * torch.tanh(cell)
            h = torch.sigmoid(out) * torch.tanh(c)
            new_state += [h, c]
            x = h
        update = (x * params["out_weight"].unsqueeze(-2)).sum(-1) + params["out_bias"].unsqueeze(-1)
        return update * self.output_scale, torch.stack(new_state)


__all__ = ["CoordinatewiseLSTM"]
