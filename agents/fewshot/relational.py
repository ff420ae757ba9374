"""Learners that learn how to compare: Relation Networks and the few-shot graph neural network.

Both embed an episode's images with the conv backbone, like the metric learners, but replace the
fixed distance with a trained network, and train on the query loss with Adam; nothing is adapted at
test time.

- **Relation Networks** (Sung et al. 2018): the embedding keeps spatial feature maps (the first
  ``pooled_layers`` blocks pool, so 28 x 28 images give 7 x 7 maps); a class's map is the sum of its
  support maps; the relation module (two conv blocks and two fully connected layers) scores the
  concatenation of a query's map with each class's map in [0, 1], trained by the squared error to
  the one-hot label, as in the paper.
- **Few-shot GNN** (Garcia & Bruna 2018): one graph per query, whose nodes are the support
  embeddings with their one-hot labels and the query's embedding with the uniform distribution over
  the classes. Each layer computes edge weights from ``|x_i - x_j|`` with a small network (a softmax
  over each node's neighbours, itself excluded), and a graph convolution ``Linear([x, A x])`` whose
  output is concatenated to the node's features; the last layer gives the query node's class logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from metarl.agents.fewshot.backbones import ConvBody, norm_layer
from metarl.agents.fewshot.config import GNNConfig, RelationConfig
from metarl.agents.fewshot.metric import MetricTrainer
from torch import nn

from metarl.errors import ConfigError
from metarl.rl.functional import per_task_call


def class_sums(support: torch.Tensor, support_y: torch.Tensor, ways: int) -> torch.Tensor:
    """Sum of each class's support features: ``(E, S, ...)`` and labels ``(E, S)`` -> ``(E, ways, ...)``.

    Example:
        >>> class_sums(torch.tensor([[[1.0], [2.0], [4.0]]]), torch.tensor([[0, 1, 0]]), 2)
        tensor([[[5.],
                 [2.]]])
    """
    onehot = F.one_hot(support_y, ways).to(support.dtype).transpose(1, 2)  # (E, N, S)
    return (onehot @ support.flatten(2)).view(support.shape[0], ways, *support.shape[2:])


class RelationModule(nn.Module):
    """Scores a pair of stacked feature maps ``(n, 2C, H, W)``: two conv blocks, then ``C -> hidden -> 1`` (a logit).

    Example:
        >>> RelationModule((8, 7, 7), hidden=8)(torch.zeros(3, 16, 7, 7)).shape
        torch.Size([3])
    """

    def __init__(self, map_shape: tuple[int, int, int], hidden: int = 8, norm: str = "batch") -> None:
        super().__init__()
        channels, height, width = map_shape
        blocks: list[nn.Module] = []
        for i in range(2):
            blocks += [nn.Conv2d(2 * channels if i == 0 else channels, channels, 3, padding=1),
                       norm_layer(norm, channels), nn.ReLU()]
            if min(height, width) >= 2:
                blocks.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Sequential(nn.Linear(channels * height * width, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        if norm != "layer":  # as in ConvBody: faster blocks on a CPU
            self.blocks.to(memory_format=torch.channels_last)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        return self.fc(self.blocks(pairs).flatten(1)).squeeze(-1)


class RelationNet(nn.Module):
    """The embedding (``forward``: flattened feature maps) and the relation module that compares them."""

    def __init__(self, body: ConvBody, hidden: int, norm: str) -> None:
        super().__init__()
        self.body = body
        self.relation = RelationModule(body.map_shape, hidden, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class RelationNetTrainer(MetricTrainer):
    """Relation Networks: a learned relation score between a query's feature map and each class's.

    Example:
        >>> from metarl.agents.fewshot import RelationConfig
        >>> RelationNetTrainer.agent, RelationConfig().pooled_layers  # trainer = RelationNetTrainer(RelationConfig())
        ('relationnet', 2)
    """

    agent = "relationnet"
    config_type = RelationConfig
    config: RelationConfig

    def build_model(self) -> RelationNet:
        cfg = self.config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.stream_seed("model"))
            body = ConvBody(self.input_shape, cfg.channels, cfg.conv_layers, cfg.norm, pooled=cfg.pooled_layers)
            return RelationNet(body, cfg.relation_hidden, cfg.norm).to(self.device)

    def classify(self, support, support_y, query, ways):
        """Relation logits ``(E, Q, ways)`` (sigmoid: the relation score); the argmax is the predicted class."""
        shape = self.net.body.map_shape
        classes = class_sums(support, support_y, ways).view(*support.shape[:1], ways, *shape)  # (E, N, C, H, W)
        queries = query.view(*query.shape[:2], *shape)  # (E, Q, C, H, W)
        e, q = queries.shape[:2]
        pairs = torch.cat([classes.unsqueeze(1).expand(e, q, *classes.shape[1:]),
                           queries.unsqueeze(2).expand(e, q, ways, *shape)], 3)  # (E, Q, N, 2C, H, W)
        # Per episode, so batch statistics are one episode's pairs.
        return per_task_call(self.net.relation, None, pairs.flatten(1, 2)).view(e, q, ways)

    def query_loss(self, outputs: torch.Tensor, query_y: torch.Tensor) -> torch.Tensor:
        """Squared error of the relation scores to the one-hot labels (the paper's loss)."""
        return F.mse_loss(torch.sigmoid(outputs), F.one_hot(query_y, outputs.shape[-1]).to(outputs.dtype))


class GraphLayer(nn.Module):
    """Edge weights from ``|x_i - x_j|`` (softmax over each node's others), then ``Linear([x, A x])``.

    Example:
        >>> GraphLayer(6, 4, edge_hidden=8)(torch.zeros(3, 5, 6)).shape
        torch.Size([3, 5, 4])
    """

    def __init__(self, features: int, outputs: int, edge_hidden: int = 64) -> None:
        super().__init__()
        self.edge = nn.Sequential(nn.Linear(features, edge_hidden), nn.LeakyReLU(), nn.Linear(edge_hidden, edge_hidden),
                                  nn.LeakyReLU(), nn.Linear(edge_hidden, 1))
        self.mix = nn.Linear(2 * features, outputs)

    def forward(self, nodes: torch.Tensor) -> torch.Tensor:
        n = nodes.shape[1]
        scores = self.edge((nodes.unsqueeze(2) - nodes.unsqueeze(1)).abs()).squeeze(-1)  # (G, n, n)
        scores = scores.masked_fill(torch.eye(n, dtype=torch.bool, device=nodes.device), float("-inf"))
        return self.mix(torch.cat([nodes, torch.softmax(scores, -1) @ nodes], -1))


class GraphNet(nn.Module):
    """The conv embedding (``forward``) and the graph layers that classify a query node among labelled ones."""

    def __init__(self, body: nn.Module, ways: int, layers: int, node_features: int, edge_hidden: int) -> None:
        super().__init__()
        self.body = body
        width = body.out_features + ways
        self.layers = nn.ModuleList()
        for _ in range(layers):
            self.layers.append(GraphLayer(width, node_features, edge_hidden))
            width += node_features
        self.out = GraphLayer(width, ways, edge_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def graph(self, nodes: torch.Tensor) -> torch.Tensor:
        """Logits of the last node of each graph ``(G, n, features)`` -> ``(G, ways)``."""
        for layer in self.layers:
            nodes = torch.cat([nodes, F.leaky_relu(layer(nodes))], -1)
        return self.out(nodes)[:, -1]


class GNNTrainer(MetricTrainer):
    """Few-shot graph neural network: each query classified by message passing over the labelled support set.

    The node label features have one entry per training way, so ``eval_ways`` must equal ``ways``.

    Example:
        >>> from metarl.agents.fewshot import GNNConfig
        >>> GNNTrainer.agent, GNNConfig().gnn_layers  # trainer = GNNTrainer(GNNConfig()); trainer.fit()
        ('gnn', 2)
    """

    agent = "gnn"
    config_type = GNNConfig
    config: GNNConfig

    def build_model(self) -> GraphNet:
        cfg = self.config
        if self.eval_shape.ways != self.train_shape.ways:
            raise ConfigError(f"gnn's node labels have one entry per training class ({self.train_shape.ways}); "
                              f"eval_ways ({self.eval_shape.ways}) must equal ways")
        body = self.backbone(None).body
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.stream_seed("model"))
            return GraphNet(body, self.train_shape.ways, cfg.gnn_layers, cfg.node_features,
                            cfg.edge_hidden).to(self.device)

    def classify(self, support, support_y, query, ways):
        e, s, q = support.shape[0], support.shape[1], query.shape[1]
        labelled = torch.cat([support, F.one_hot(support_y, ways).to(support.dtype)], -1)  # (E, S, D + N)
        unknown = torch.cat([query, torch.full((e, q, ways), 1.0 / ways, device=query.device)], -1)
        graphs = torch.cat([labelled.unsqueeze(1).expand(e, q, s, labelled.shape[-1]), unknown.unsqueeze(2)], 2)
        return torch.log_softmax(self.net.graph(graphs.flatten(0, 1)), -1).view(e, q, ways)


__all__ = ["GNNTrainer", "GraphLayer", "GraphNet", "RelationModule", "RelationNet", "RelationNetTrainer",
           "class_sums"]
