"""Supervised few-shot learners on the episodes view: MAML, first-order MAML, Meta-SGD, Reptile, prototypical
networks, matching networks, relation networks, the few-shot GNN, meta networks, VERSA, and the
pretrained-backbone baseline.

They share the backbones of :mod:`metarl.agents.fewshot.backbones`, the functional adaptation of
:mod:`metarl.rl.functional` and the episodic trainer of :mod:`metarl.agents.fewshot.base`.
"""

from metarl.agents.fewshot.base import EpisodicTrainer
from metarl.agents.fewshot.config import (
    FewShotConfig,
    GNNConfig,
    GradientConfig,
    MAMLConfig,
    MatchingNetConfig,
    MetaNetConfig,
    MetaSGDConfig,
    MetricConfig,
    PretrainConfig,
    RelationConfig,
    ReptileConfig,
    VersaConfig,
)
from metarl.agents.fewshot.maml import FOMAMLTrainer, MAMLTrainer, MetaSGDTrainer, ReptileTrainer
from metarl.agents.fewshot.metanet import MetaNetTrainer
from metarl.agents.fewshot.metric import MatchingNetTrainer, ProtoNetTrainer
from metarl.agents.fewshot.pretrain import PretrainTrainer
from metarl.agents.fewshot.relational import GNNTrainer, RelationNetTrainer
from metarl.agents.fewshot.scoring import Scores
from metarl.agents.fewshot.versa import VersaTrainer

__all__ = ["EpisodicTrainer", "FOMAMLTrainer", "FewShotConfig", "GNNConfig", "GNNTrainer", "GradientConfig",
           "MAMLConfig", "MAMLTrainer", "MatchingNetConfig", "MatchingNetTrainer", "MetaNetConfig", "MetaNetTrainer",
           "MetaSGDConfig", "MetaSGDTrainer", "MetricConfig", "PretrainConfig", "PretrainTrainer", "ProtoNetTrainer",
           "RelationConfig", "RelationNetTrainer", "ReptileConfig", "ReptileTrainer", "Scores", "VersaConfig",
           "VersaTrainer"]
