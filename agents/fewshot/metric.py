"""Metric-based learners: prototypical networks and matching networks over the shared embedding.

Both embed an episode's support and query images with the backbone (no head), per episode
(:func:`metarl.rl.functional.per_task_call` with the shared parameters, so batch statistics are an
episode's support set or query set), turn the embeddings into class log-probabilities of each query,
and train the embedding with Adam on the query cross-entropy. Nothing is adapted at test time.

- **Prototypical networks** (Snell et al. 2017): a class's prototype is the mean embedding of its
  support examples; logits are minus the squared Euclidean distances to the prototypes.
- **Matching networks** (Vinyals et al. 2016), without full context embeddings (as in their Omniglot
  experiments): attention over the support set by a softmax of ``scale`` times the cosine
  similarity; a class's probability is the attention on its support examples.
"""

from __future__ import annotations

import abc

import torch
import torch.nn.functional as F
from metarl.agents.fewshot.backbones import FewShotNet
from metarl.agents.fewshot.base import EpisodicTrainer
from metarl.agents.fewshot.config import MatchingNetConfig, MetricConfig

from metarl.fewshot import Episodes
from metarl.rl.functional import per_task_call


def prototype_log_probs(support: torch.Tensor, support_y: torch.Tensor, query: torch.Tensor, ways: int
                        ) -> torch.Tensor:
    """Log-softmax of minus the squared distance to each class's mean support embedding: ``(E, Q, ways)``.

    ``support (E, S, D)``, ``support_y (E, S)`` labels in [0, ways), ``query (E, Q, D)``.

    Example:
        >>> s, y = torch.tensor([[[0.0], [10.0]]]), torch.tensor([[0, 1]])
        >>> prototype_log_probs(s, y, torch.tensor([[[1.0], [9.0]]]), 2).argmax(-1)
        tensor([[0, 1]])
    """
    onehot = F.one_hot(support_y, ways).to(support.dtype)  # (E, S, N)
    prototypes = onehot.transpose(1, 2) @ support / onehot.sum(1).unsqueeze(-1)  # (E, N, D)
    distances = (query.unsqueeze(2) - prototypes.unsqueeze(1)).pow(2).sum(-1)  # (E, Q, N)
    return torch.log_softmax(-distances, -1)


def matching_log_probs(support: torch.Tensor, support_y: torch.Tensor, query: torch.Tensor, ways: int,
                       scale: float = 1.0) -> torch.Tensor:
    """Log of the attention mass on each class: softmax over the support set of ``scale`` x cosine similarity.

    Example:
        >>> s, y = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]), torch.tensor([[0, 1]])
        >>> matching_log_probs(s, y, torch.tensor([[[2.0, 0.1]]]), 2, scale=10.0).argmax(-1)
        tensor([[0]])
    """
    similarity = F.normalize(query, dim=-1) @ F.normalize(support, dim=-1).transpose(1, 2)  # (E, Q, S)
    attention = torch.softmax(scale * similarity, -1)
    return (attention @ F.one_hot(support_y, ways).to(attention.dtype)).clamp_min(1e-12).log()


class MetricTrainer(EpisodicTrainer):
    """Shared by the metric learners: an embedding, query cross-entropy, scoring without adaptation."""

    config_type = MetricConfig
    needs_classes = True

    def build_model(self) -> FewShotNet:
        return self.backbone(None)

    def log_probs(self, episodes: Episodes, ways: int) -> torch.Tensor:
        """``(E, Q, ways)`` class log-probabilities of each query."""
        support = per_task_call(self.net, None, episodes.support_x)
        query = per_task_call(self.net, None, episodes.query_x)
        return self.classify(support, episodes.support_y, query, ways)

    @abc.abstractmethod
    def classify(self, support: torch.Tensor, support_y: torch.Tensor, query: torch.Tensor, ways: int
                 ) -> torch.Tensor:
        """Log-probabilities ``(E, Q, ways)`` from support embeddings ``(E, S, D)``, labels and query embeddings."""

    def query_loss(self, outputs: torch.Tensor, query_y: torch.Tensor) -> torch.Tensor:
        """The training loss of :meth:`classify`'s outputs ``(E, Q, ways)``: the query cross-entropy."""
        return F.nll_loss(outputs.flatten(0, 1), query_y.flatten())

    def learn(self) -> dict[str, float]:
        ep = self.episodes()
        log_probs = self.log_probs(ep, self.train_shape.ways)
        loss = self.query_loss(log_probs, ep.query_y)
        self.update(loss)
        return self.train_scalars(loss, (log_probs.detach().argmax(-1) == ep.query_y).float().mean(1))

    @torch.no_grad()
    def score(self, episodes: Episodes) -> torch.Tensor:
        predicted = self.log_probs(episodes, self.eval_shape.ways).argmax(-1)
        return (predicted == episodes.query_y).float().mean(1, keepdim=True)


class ProtoNetTrainer(MetricTrainer):
    """Prototypical networks.

    Example:
        >>> from metarl.agents.fewshot import MetricConfig
        >>> trainer = ProtoNetTrainer(MetricConfig(total_steps=3200))
        >>> trainer.fit(progress=False)  # doctest: +SKIP
    """

    agent = "protonet"

    def classify(self, support, support_y, query, ways):
        return prototype_log_probs(support, support_y, query, ways)


class MatchingNetTrainer(MetricTrainer):
    """Matching networks (cosine attention over the support set, no full context embeddings)."""

    agent = "matchingnet"
    config_type = MatchingNetConfig
    config: MatchingNetConfig

    def classify(self, support, support_y, query, ways):
        return matching_log_probs(support, support_y, query, ways, self.config.scale)


__all__ = ["MatchingNetTrainer", "MetricTrainer", "ProtoNetTrainer", "matching_log_probs",
           "prototype_log_probs"]
