"""Supervised few-shot learners on the episodes view: MAML, first-order MAML, Reptile, prototypical networks,
matching networks, and the pretrained-backbone baseline.

They share the backbones of :mod:`metarl.agents.fewshot.backbones`, the functional adaptation of
:mod:`metarl.rl.functional` and the episodic trainer of :mod:`metarl.agents.fewshot.base`.
"""

from metarl.agents.fewshot.base import EpisodicTrainer
from metarl.agents.fewshot.config import (
    FewShotConfig,
    GradientConfig,
    MAMLConfig,
    MatchingNetConfig,
    MetricConfig,
    PretrainConfig,
    ReptileConfig,
)
from metarl.agents.fewshot.maml import FOMAMLTrainer, MAMLTrainer, ReptileTrainer
from metarl.agents.fewshot.metric import MatchingNetTrainer, ProtoNetTrainer
from metarl.agents.fewshot.pretrain import PretrainTrainer
from metarl.agents.fewshot.scoring import Scores

__all__ = ["EpisodicTrainer", "FOMAMLTrainer", "FewShotConfig", "GradientConfig", "MAMLConfig", "MAMLTrainer",
           "MatchingNetConfig", "MatchingNetTrainer", "MetricConfig", "PretrainConfig", "PretrainTrainer",
           "ProtoNetTrainer", "ReptileConfig", "ReptileTrainer", "Scores"]
