"""Meta Networks (Munkhdalai & Yu 2017): fast weights made from loss gradients, kept in a memory, read by attention.

The conv embedding ``h(x)`` (slow weights) feeds two learners:

- the **base learner**, a linear classifier ``W h`` over the episode's ways. Each support example's
  loss gradient with respect to ``W`` (closed form for a linear softmax layer: ``(p - onehot) h^T``)
  goes through the generator ``m``, an MLP applied to every gradient entry (its value, and its
  log-magnitude and sign as in learned optimizers), giving that example's fast weights ``W*_i``: the memory's values.
- the **meta learner**, a representation ``r = (Q + Q*) h`` whose fast weights ``Q*`` the generator
  ``d`` makes from the gradient of a representation loss on the support set (pairs of support
  examples, same class or not, scored by their cosine similarity): the memory's keys are the support
  examples' representations.

A query reads the memory by attention (softmax of a learned scale times the cosine similarity of its
representation to the keys) and classifies with the slow and the fast weights together (layer
augmentation: ``W h + W*_q h``). Everything is trained end to end on the query cross-entropy, with
Adam. Unlike the paper, the base and meta learners share one conv embedding, so the image network
runs once per example.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from metarl.agents.fewshot.config import MetaNetConfig
from metarl.agents.fewshot.metric import MetricTrainer
from metarl.envs.learn_to_optimize.process import log_and_sign
from torch import nn

from metarl.errors import ConfigError


class FastWeights(nn.Module):
    """Maps every entry of a gradient to a fast weight: an MLP on its value, log-magnitude and sign.

    Example:
        >>> FastWeights(hidden=8)(torch.zeros(2, 3, 4)).shape
        torch.Size([2, 3, 4])
    """

    def __init__(self, hidden: int = 20) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, grad: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([grad.unsqueeze(-1), log_and_sign(grad)], -1)).squeeze(-1)


def base_gradients(logits: torch.Tensor, labels: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """Each example's cross-entropy gradient with respect to a linear layer's weight: ``(p - onehot) h^T``.

    ``logits (E, S, N)``, ``labels (E, S)``, ``features (E, S, D)`` -> ``(E, S, N, D)``.

    Example:
        >>> h = torch.randn(1, 1, 3, requires_grad=False); w = torch.randn(2, 3, requires_grad=True)
        >>> F.cross_entropy(h[0] @ w.T, torch.tensor([1])).backward()
        >>> torch.allclose(base_gradients((h @ w.T).detach(), torch.tensor([[1]]), h)[0, 0], w.grad)
        True
    """
    error = torch.softmax(logits, -1) - F.one_hot(labels, logits.shape[-1]).to(logits.dtype)
    return error.unsqueeze(-1) * features.unsqueeze(-2)


class MetaNet(nn.Module):
    """The shared embedding (``forward``), the slow weights of both learners, and the fast-weight generators."""

    def __init__(self, body: nn.Module, ways: int, hidden: int) -> None:
        super().__init__()
        self.body = body
        features = body.out_features
        self.base = nn.Linear(features, ways)
        self.key = nn.Linear(features, features)
        self.base_generator = FastWeights(hidden)
        self.key_generator = FastWeights(hidden)
        self.log_scale = nn.Parameter(torch.tensor(math.log(10.0)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def key_fast_weights(self, support: torch.Tensor, support_y: torch.Tensor) -> torch.Tensor:
        """``Q*`` of each episode ``(E, D, D)``, from the gradient of the representation loss on its support set."""
        e, s, d = support.shape
        graph = torch.is_grad_enabled()
        with torch.enable_grad():
            slow = self.key.weight.unsqueeze(0).expand(e, d, d)
            if not graph:  # evaluation: the gradient is still needed, as an input
                slow = slow.detach().requires_grad_()
            r = F.normalize(support @ slow.transpose(1, 2) + self.key.bias, dim=-1)
            similarity = r @ r.transpose(1, 2)  # (E, S, S)
            same = (support_y.unsqueeze(2) == support_y.unsqueeze(1)).to(support.dtype)
            others = ~torch.eye(s, dtype=torch.bool, device=support.device)
            loss = F.binary_cross_entropy_with_logits(self.log_scale.exp() * similarity[:, others],
                                                      same[:, others], reduction="none").mean(1).sum()
            (grad,) = torch.autograd.grad(loss, slow, create_graph=graph)
        return self.key_generator(grad)

    def classify(self, support: torch.Tensor, support_y: torch.Tensor, query: torch.Tensor, ways: int
                 ) -> torch.Tensor:
        """Class logits ``(E, Q, ways)`` of each query from support embeddings ``(E, S, D)`` and labels."""
        values = self.base_generator(base_gradients(self.base(support), support_y, support))  # (E, S, N, D)
        key_weight = self.key.weight + self.key_fast_weights(support, support_y)  # (E, D, D)
        keys = F.normalize(support @ key_weight.transpose(1, 2) + self.key.bias, dim=-1)
        reads = F.normalize(query @ key_weight.transpose(1, 2) + self.key.bias, dim=-1)
        attention = torch.softmax(self.log_scale.exp() * reads @ keys.transpose(1, 2), -1)  # (E, Q, S)
        fast = torch.einsum("esnd,eqd->eqsn", values, query)  # each memory slot's fast logits for each query
        return self.base(query) + (attention.unsqueeze(-1) * fast).sum(2)


class MetaNetTrainer(MetricTrainer):
    """Meta Networks: per-example fast weights from support-loss gradients, read from a memory by attention.

    The base learner has one output per training way, so ``eval_ways`` must equal ``ways``.

    Example:
        >>> from metarl.agents.fewshot import MetaNetConfig
        >>> MetaNetTrainer.agent, MetaNetConfig().lr  # trainer = MetaNetTrainer(MetaNetConfig()); trainer.fit()
        ('metanet', 0.001)
    """

    agent = "metanet"
    config_type = MetaNetConfig
    config: MetaNetConfig

    def build_model(self) -> MetaNet:
        if self.eval_shape.ways != self.train_shape.ways:
            raise ConfigError(f"metanet's base learner has one output per training class ({self.train_shape.ways}); "
                              f"eval_ways ({self.eval_shape.ways}) must equal ways")
        body = self.backbone(None).body
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.stream_seed("model"))
            return MetaNet(body, self.train_shape.ways, self.config.generator_hidden).to(self.device)

    def classify(self, support, support_y, query, ways):
        return torch.log_softmax(self.net.classify(support, support_y, query, ways), -1)


__all__ = ["FastWeights", "MetaNet", "MetaNetTrainer", "base_gradients"]
