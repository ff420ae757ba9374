"""The meta-trained teacher as a data-selection callable for any PyTorch training loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from metarl.agents.learned_teacher.network import TeacherNetwork
from metarl.envs.teach.process import example_features

from metarl.errors import CheckpointError


def load_teacher(path: str | Path) -> tuple[TeacherNetwork, dict[str, Any]]:
    """The network of a learned-teacher checkpoint (file or run directory) and its family's settings."""
    from metarl.agents.learned_teacher.config import LearnedTeacherConfig
    from metarl.agents.learned_teacher.trainer import build_network

    from metarl.registry import make
    from metarl.training.checkpoint import load_checkpoint
    from metarl.training.config import build_config

    payload = load_checkpoint(path, agent="learned-teacher")
    config = build_config(LearnedTeacherConfig, {**payload["config"], "device": "cpu"})
    env = make(config.env, num_envs=1, **config.env_kwargs)
    network = build_network(config, env.process.features, config.seed)
    network.load_state_dict(payload["state"]["network"])
    return network, dict(env.config)


class DataSelector:
    """Keeps or drops the examples of each minibatch with a meta-trained teacher (a checkpoint of ``metarl train
    learned-teacher``, or a network).

    Call it with the L2T features ``(M, F)`` of a minibatch, or with ``(model, x, y)`` (a classifier returning
    logits): it then builds the features itself from the model's predictions, the fraction ``step /
    max_updates`` of the training run, and the training loss and dev accuracy the loop reports through
    :meth:`record`. It returns a bool keep mask ``(M,)``; ``sample=False`` keeps where the keep probability is
    at least 1/2 instead of drawing.

    Example:
        >>> from metarl.agents.learned_teacher import LearnedTeacherConfig, LearnedTeacherTrainer
        >>> trainer = LearnedTeacherTrainer(LearnedTeacherConfig(students=8, total_steps=20_000))
        >>> path = trainer.fit(progress=False)  # doctest: +SKIP
        >>> select = DataSelector(path)  # doctest: +SKIP
        >>> select = DataSelector(network=trainer.net)  # the network itself, without a file
        >>> model = torch.nn.Linear(64, 10)  # a 10-class classifier of 8 x 8 digits
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> loader = [(torch.randn(20, 64), torch.randint(0, 10, (20,))) for _ in range(3)]
        >>> for x, y in loader:
        ...     keep = select(model, x, y)
        ...     loss = torch.nn.functional.cross_entropy(model(x[keep]), y[keep])
        ...     optimizer.zero_grad(); loss.backward(); optimizer.step()
        ...     select.record(float(loss.detach()))
    """

    def __init__(self, checkpoint: str | Path | None = None, network: TeacherNetwork | None = None,
                 max_updates: int | None = None, sample: bool = True, seed: int = 0) -> None:
        if (checkpoint is None) == (network is None):
            raise CheckpointError("DataSelector needs exactly one of checkpoint= (a run of `metarl train "
                                  "learned-teacher`) or network=")
        settings: dict[str, Any] = {}
        if checkpoint is not None:
            network, settings = load_teacher(checkpoint)
        self.network = network.eval()
        self.max_updates = int(max_updates or settings.get("max_updates", 200))
        self.sample = sample
        self.generator = torch.Generator().manual_seed(seed)
        self.updates, self.avg_loss, self.best_acc = 0, 0.0, 0.0

    def record(self, train_loss: float, dev_accuracy: float | None = None) -> None:
        """Report one training update: its loss (and the dev accuracy after it, if measured)."""
        self.updates += 1
        self.avg_loss += (float(train_loss) - self.avg_loss) / self.updates
        if dev_accuracy is not None:
            self.best_acc = max(self.best_acc, float(dev_accuracy))

    @torch.no_grad()
    def features(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The L2T features ``(M, F)`` of the examples ``x``, ``y`` under ``model``."""
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, y, reduction="none")
        scalar = torch.tensor([[self.updates / self.max_updates, self.avg_loss, self.best_acc]], device=x.device)
        return example_features(logits.softmax(-1)[None], y[None], loss[None], *scalar.T)[0]

    @torch.no_grad()
    def __call__(self, *args: Any) -> torch.Tensor:
        features = args[0] if len(args) == 1 else self.features(*args)
        if features.shape[-1] != self.network.features:
            raise ValueError(f"the teacher reads {self.network.features} features per example, got "
                             f"{features.shape[-1]} (a classifier with {(self.network.features - 5) // 2} classes)")
        p = self.network(features.to(torch.float32))
        if not self.sample:
            return p >= 0.5
        return torch.rand(p.shape, generator=self.generator).to(p.device) < p
