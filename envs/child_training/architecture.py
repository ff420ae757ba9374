"""Neural architecture search by reinforcement learning (Zoph & Le 2017) as a family, on digits MLPs.

The controller picks, layer by layer, three things: the layer's operation (its activation), its width, and a skip
connection. B children of B different architectures train at once: every hidden layer is stored at the largest
width and masked down to the chosen one, so the whole batch is a few batched matrix products.
"""

from __future__ import annotations

import torch
from metarl.envs.child_training.base import ChildProcess, ChildTrainingEnv, Forward, Params, child_params, dense

from metarl.params import Param
from metarl.tasks import Task

OPERATIONS = ("relu", "tanh", "sigmoid", "identity")
WIDTHS = (8, 16, 32, 64)
SKIPS = ("none", "skip-1", "skip-2", "skip-3")
"""Skip choice s >= 1 of layer l adds the output of layer l - 1 - s (layer 0 is the input) to the layer's output;
a choice that reaches before the input adds nothing."""
_ACTIVATIONS = (torch.relu, torch.tanh, torch.sigmoid, lambda h: h)


PARAMS = {
    "layers": Param(3, low=1, high=6, doc="hidden layers of the child"),
    **child_params(),
}


class ArchitectureProcess(ChildProcess):
    """Decisions (operation, width, skip) per hidden layer; each child is an MLP of ``layers`` hidden layers."""

    defaults = {name: param.default for name, param in PARAMS.items()}
    choices = 4

    def __init__(self, config: dict | None = None, device: torch.device | str = "cpu") -> None:
        super().__init__(config, device)
        self.layers = int(self.config["layers"])
        self.decisions = 3 * self.layers
        self.hidden = max(WIDTHS)

    @property
    def decision_types(self) -> tuple[str, ...]:
        """Operation, width and skip, layer after layer."""
        return ("operation", "width", "skip") * self.layers

    def decode(self, choices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(operation, width, skip) indices, each ``(B, layers)``, of decisions ``(B, 3 * layers)``.

        Example:
            >>> process = ArchitectureProcess({"layers": 2})
            >>> [t.tolist() for t in process.decode(torch.tensor([[1.0, 2, 0, 0, 3, 1]]))]
            [[[1, 0]], [[2, 3]], [[0, 1]]]
        """
        c = choices.long().view(-1, self.layers, 3)
        return c[..., 0], c[..., 1], c[..., 2]

    def describe(self, choices: torch.Tensor) -> str:
        """One architecture (decisions ``(K,)``) in words, e.g. ``tanh-32 > relu-64+skip-1 > ...``.

        Example:
            >>> ArchitectureProcess({"layers": 1}).describe(torch.tensor([1.0, 2, 0]))
            'tanh-32'
        """
        ops, widths, skips = (t[0].tolist() for t in self.decode(choices.view(1, -1)))
        return " > ".join(f"{OPERATIONS[o]}-{WIDTHS[w]}" + (f"+{SKIPS[s]}" if s else "")
                          for o, w, s in zip(ops, widths, skips, strict=True))

    def _initial(self, task: Task, widths: torch.Tensor) -> Params:
        H, params, fan_in = self.hidden, [], torch.full_like(widths[:, 0], self.data.features)
        for layer in range(self.layers + 1):
            rows = self.data.features if layer == 0 else H
            cols = H if layer < self.layers else self.data.classes
            scale = fan_in.float().rsqrt().view(-1, 1, 1)
            params += [self.init_normal(task, layer, (rows, cols)) * scale,
                       torch.zeros(task.batch_size, cols, device=self.device)]
            if layer < self.layers:
                fan_in = widths[:, layer]
        return params

    def forward_for(self, choices: torch.Tensor) -> tuple[Forward, torch.Tensor]:
        """The batched forward function ``(params, x (B, M, 64)) -> logits (B, M, 10)`` of the architectures."""
        ops, width_index, skips = self.decode(choices)
        widths = torch.tensor(WIDTHS, device=self.device)[width_index]
        masks = (torch.arange(self.hidden, device=self.device) < widths.unsqueeze(-1)).float()  # (B, L, H)

        def forward(params: Params, x: torch.Tensor) -> torch.Tensor:
            outputs = [x]  # the input has 64 features, the largest width: every skip adds at the same size
            h = x
            for layer in range(self.layers):
                pre = dense(h, params[2 * layer], params[2 * layer + 1])
                op = ops[:, layer].view(-1, 1, 1)
                h = sum(torch.where(op == i, act(pre), 0.0) for i, act in enumerate(_ACTIVATIONS))
                for s in range(1, len(SKIPS)):
                    source = layer - s  # output index layer + 1 - 1 - s
                    if source >= 0:
                        h = h + torch.where(skips[:, layer].view(-1, 1, 1) == s, outputs[source], 0.0)
                h = h * masks[:, layer].unsqueeze(1)
                outputs.append(h)
            return dense(h, params[-2], params[-1])

        return forward, widths

    def child(self, task: Task, choices: torch.Tensor, differentiable: bool = False
              ) -> tuple[Params, Forward, torch.Tensor]:
        forward, widths = self.forward_for(choices)
        params, failed = self.fit(task, self._initial(task, widths), forward)
        return params, forward, failed

    def baselines(self) -> dict[str, torch.Tensor]:
        """Hand-designed children: each operation at width 32, relu at 64, and relu 64 with skips over one layer."""
        def same(op: int, width: int, skip: int) -> torch.Tensor:
            return torch.tensor([op, width, skip] * self.layers, dtype=torch.float32)

        out = {f"{name} 32x{self.layers}": same(i, 2, 0) for i, name in enumerate(OPERATIONS[:3])}
        out[f"relu 64x{self.layers}"] = same(0, 3, 0)
        out[f"relu 64x{self.layers} skips"] = same(0, 3, 1)
        return out


class ArchitectureSearch(ChildTrainingEnv):
    """Each environment is one child MLP whose architecture the agent picks, decision by decision.

    - **Task**: ``data_key``, ``init_key``, ``pool`` (:mod:`metarl.envs.child_training.base`).
    - **Decisions** ``Discrete(4)``, three per hidden layer: the operation (relu, tanh, sigmoid, identity), the width
      (8, 16, 32, 64) and the skip connection (none, or the output of the layer one, two or three below).
    - **Observation** ``(3 L + 5,)``: one-hot of the decision index and of the previous choice (none at the first).
    - **Reward**: the child's accuracy on the eval part of its digits pool after ``steps`` SGD steps.

    Example:
        >>> import metarl, torch
        >>> env = metarl.make("metarl/ArchitectureSearch-v0", num_envs=2, seed=0, layers=1, steps=5)
        >>> env.reset().shape
        torch.Size([2, 8])
        >>> for choice in (1, 2, 0):  # tanh, width 32, no skip
        ...     step = env.step(torch.full((2,), choice))
        >>> bool(step.terminated.all()), bool((step.reward > 0).all())
        (True, True)
    """

    family = "ArchitectureSearch"
    description = "pick a child MLP's operations, widths and skips; reward = its held-out digits accuracy"
    source = "Zoph & Le 2017, neural architecture search with reinforcement learning"
    process_type = ArchitectureProcess
    params = PARAMS


__all__ = ["OPERATIONS", "SKIPS", "WIDTHS", "ArchitectureProcess", "ArchitectureSearch"]
