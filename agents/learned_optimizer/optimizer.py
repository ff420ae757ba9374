"""The meta-trained LSTM as a ``torch.optim.Optimizer`` for any PyTorch training loop."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from metarl.agents.learned_optimizer.network import CoordinatewiseLSTM
from metarl.envs.learn_to_optimize.process import MOMENTUM_BETAS, gradient_features, update_moments

from metarl.errors import CheckpointError


class LearnedOptimizer(torch.optim.Optimizer):
    """Updates parameters with a meta-trained :class:`CoordinatewiseLSTM`, every coordinate on its own.

    Each parameter keeps the per-coordinate state the network was trained with (its recurrent state and the
    gradient's moving averages), computes the same features from its gradient, and takes the network's update
    (clipped to ``max_update``, the training family's action bound). ``scale`` multiplies the updates (1: as
    trained). Give either a checkpoint of ``metarl train learned-optimizer`` (a file or run directory) or a network.

    Example:
        >>> from metarl.agents.learned_optimizer import LearnedOptimizerConfig, LearnedOptimizerTrainer
        >>> trainer = LearnedOptimizerTrainer(LearnedOptimizerConfig(tasks=16, total_steps=16_000))
        >>> path = trainer.fit(progress=False)  # doctest: +SKIP
        >>> model, data = torch.nn.Linear(4, 1), [(torch.randn(32, 4), torch.randn(32, 1))] * 3
        >>> opt = LearnedOptimizer(model.parameters(), checkpoint=path)  # doctest: +SKIP
        >>> opt = LearnedOptimizer(model.parameters(), network=trainer.net)  # the network itself, without a file
        >>> for x, y in data:
        ...     opt.zero_grad()
        ...     torch.nn.functional.mse_loss(model(x), y).backward()
        ...     _ = opt.step()
    """

    def __init__(self, params: Iterable[Any], checkpoint: str | Path | None = None,
                 network: CoordinatewiseLSTM | None = None, max_update: float | None = None, scale: float = 1.0
                 ) -> None:
        if (checkpoint is None) == (network is None):
            raise CheckpointError("LearnedOptimizer needs exactly one of checkpoint= (a run of `metarl train "
                                  "learned-optimizer`) or network=")
        if checkpoint is not None:
            network, trained_bound = load_network(checkpoint)
            max_update = trained_bound if max_update is None else max_update
        super().__init__(params, {"scale": float(scale)})
        self.network = network.eval()
        for p in self.network.parameters():
            p.requires_grad_(False)
        self.max_update = float("inf") if max_update is None else float(max_update)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                grad = p.grad.detach().reshape(-1).to(torch.float32)
                if not state:
                    state["step"] = 0
                    state["moments"] = torch.zeros(grad.numel(), len(MOMENTUM_BETAS), device=grad.device)
                    state["memory"] = self.network.initial_state(grad.numel(), grad.device)
                state["step"] += 1
                state["moments"] = update_moments(state["moments"], grad)
                features = gradient_features(grad, state["moments"], state["step"])
                network = self.network.to(grad.device)
                update, state["memory"] = network(features, state["memory"])
                update = (update * group["scale"]).clamp(-self.max_update, self.max_update)
                p.add_(update.view_as(p).to(p.dtype))
        return loss


def load_network(path: str | Path) -> tuple[CoordinatewiseLSTM, float]:
    """The network of a learned-optimizer checkpoint (file or run directory) and its family's ``max_update``."""
    from metarl.agents.learned_optimizer.config import LearnedOptimizerConfig
    from metarl.agents.learned_optimizer.trainer import build_network

    from metarl.training.checkpoint import load_checkpoint
    from metarl.training.config import build_config

    payload = load_checkpoint(path, agent="learned-optimizer")
    config = build_config(LearnedOptimizerConfig, {**payload["config"], "device": "cpu"})
    network = build_network(config, config.seed)
    network.load_state_dict(payload["state"]["network"])
    return network, float(config.env_kwargs.get("max_update", 1.0))


__all__ = ["LearnedOptimizer", "load_network"]
