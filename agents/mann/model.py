"""The memory-augmented neural network of Santoro et al. 2016: an LSTM controller and an external memory written by
least-recently-used access (LRUA).

At each step the controller reads ``[x_t, r_{t-1}]`` (the input, and the previous step's read vectors). The
input's share of the LSTM gates does not depend on the state, so :meth:`MANN.forward` computes it for a whole
trial in one product (the largest matrix: most of a step's cost on a CPU), then runs the steps.
From its output every head emits a key ``k_t`` (tanh), a key strength and a write gate ``alpha``:

- **read**: weights ``softmax(beta * cosine(k_t, M_{t-1}(i)))`` over the memory slots, read vector
  ``r_t = sum_i w^r_t(i) M_{t-1}(i)``. The read is of the memory before this step's write, so it finds
  earlier items; the paper's softmax of the plain cosine has no ``beta``, which over 128 slots is nearly
  uniform, so a learned strength ``beta >= 1`` (as in the Neural Turing Machine) sharpens it; ``key_strength``
  sets its starting value (the bias of its layer; the default initialisation starts it near 1.7).
- **write** (LRUA): weights ``w^w_t = sigmoid(alpha) w^r_{t-1} + (1 - sigmoid(alpha)) w^lu_{t-1}``, where
  ``w^lu`` marks the ``read_heads`` least-used slots; the least-used slot is erased, then
  ``M_t(i) = M_{t-1}(i) + sum_heads w^w_t(i) k_t``.
- **usage**: ``w^u_t = gamma w^u_{t-1} + w^r_t + w^w_t`` (summed over heads).

The class logits come from ``[h_t, r_t]``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


class MemoryState(NamedTuple):
    """The recurrent state of a batch of B trials."""

    h: torch.Tensor
    """LSTM output (B, hidden)."""
    c: torch.Tensor
    """LSTM cell (B, hidden)."""
    memory: torch.Tensor
    """(B, slots, width)."""
    usage: torch.Tensor
    """(B, slots)."""
    read_weights: torch.Tensor
    """(B, heads, slots)."""
    reads: torch.Tensor
    """(B, heads * width)."""


class MANN(nn.Module):
    """LSTM controller with an LRUA memory; ``step(x, state) -> (logits, state)``.

    Example:
        >>> net = MANN(inputs=10, classes=3, hidden=16, slots=8, width=4, heads=2)
        >>> logits, state = net.step(torch.zeros(5, 10), net.initial_state(5))
        >>> logits.shape, state.memory.shape
        (torch.Size([5, 3]), torch.Size([5, 8, 4]))
    """

    def __init__(self, inputs: int, classes: int, hidden: int = 200, slots: int = 128, width: int = 40,
                 heads: int = 4, usage_decay: float = 0.95, key_strength: float = 0.0) -> None:
        super().__init__()
        self.hidden, self.slots, self.width, self.heads, self.usage_decay = hidden, slots, width, heads, usage_decay
        self.project = nn.Linear(inputs, 4 * hidden)
        """The input's share of the LSTM gates (input, forget, cell, output)."""
        self.recurrent = nn.Linear(hidden + heads * width, 4 * hidden, bias=False)
        """The share of the previous output and reads."""
        bound = hidden ** -0.5  # nn.LSTM's initialisation
        for weight in (*self.project.parameters(), self.recurrent.weight):
            nn.init.uniform_(weight, -bound, bound)
        self.keys = nn.Linear(hidden, heads * width)
        self.strength = nn.Linear(hidden, heads)
        self.gate = nn.Linear(hidden, heads)
        if key_strength > 1.0:  # start the strength there: beta = 1 + softplus(bias) for a zero output
            with torch.no_grad():
                self.strength.bias.fill_(math.log(math.expm1(key_strength - 1.0)))
        self.out = nn.Linear(hidden + heads * width, classes)

    def initial_state(self, batch: int, device: torch.device | str = "cpu") -> MemoryState:
        """Empty memory (a small constant, so cosines are defined), no usage, reads of zero."""
        zeros = torch.zeros(batch, self.hidden, device=device)
        return MemoryState(zeros, zeros.clone(), torch.full((batch, self.slots, self.width), 1e-6, device=device),
                           torch.zeros(batch, self.slots, device=device),
                           torch.zeros(batch, self.heads, self.slots, device=device),
                           torch.zeros(batch, self.heads * self.width, device=device))

    def forward(self, xs: torch.Tensor, state: MemoryState | None = None) -> tuple[torch.Tensor, MemoryState]:
        """Logits ``(T, B, classes)`` for inputs ``xs (T, B, inputs)``, step by step from ``state`` (empty memory)."""
        state = self.initial_state(xs.shape[1], xs.device) if state is None else state
        logits = []
        for gates in self.project(xs):
            out, state = self.advance(gates, state)
            logits.append(out)
        return torch.stack(logits), state

    def step(self, x: torch.Tensor, state: MemoryState) -> tuple[torch.Tensor, MemoryState]:
        """One step on inputs ``x (B, inputs)``."""
        return self.advance(self.project(x), state)

    def advance(self, gates: torch.Tensor, state: MemoryState) -> tuple[torch.Tensor, MemoryState]:
        """One step given the input's share of the gates ``(B, 4 * hidden)``."""
        gates = gates + self.recurrent(torch.cat([state.h, state.reads], 1))
        i, f, g, o = gates.chunk(4, 1)
        c = torch.sigmoid(f) * state.c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        batch = gates.shape[0]
        keys = torch.tanh(self.keys(h)).view(batch, self.heads, self.width)
        beta = 1.0 + F.softplus(self.strength(h)).unsqueeze(-1)  # (B, heads, 1)
        similarity = F.normalize(keys, dim=-1) @ F.normalize(state.memory, dim=-1).transpose(1, 2)  # (B, heads, N)
        read_weights = torch.softmax(beta * similarity, -1)
        reads = read_weights @ state.memory  # (B, heads, width)
        # LRUA write: the previous reads' slots or the least-used ones; the least-used slot is erased first.
        ranked = state.usage.topk(self.heads, dim=-1, largest=False).indices
        least_used = torch.zeros_like(state.usage).scatter_(1, ranked, 1.0)
        alpha = torch.sigmoid(self.gate(h)).unsqueeze(-1)
        write_weights = alpha * state.read_weights + (1 - alpha) * least_used.unsqueeze(1)
        keep = 1.0 - F.one_hot(ranked[:, 0], self.slots).to(h.dtype)
        memory = state.memory * keep.unsqueeze(-1) + write_weights.transpose(1, 2) @ keys
        usage = self.usage_decay * state.usage + read_weights.sum(1) + write_weights.sum(1)
        reads = reads.flatten(1)
        logits = self.out(torch.cat([h, reads], 1))
        return logits, MemoryState(h, c, memory, usage, read_weights, reads)


__all__ = ["MANN", "MemoryState"]
