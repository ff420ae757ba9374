"""Families rewarded with the held-out accuracy of a briefly trained child network (:mod:`.base`):
``metarl/ArchitectureSearch-v0`` (:mod:`.architecture`), ``metarl/Augment-v0`` (:mod:`.augment`),
``metarl/LearnedLoss-v0`` (:mod:`.learned_loss`) and ``metarl/MetaKD-v0`` (:mod:`.meta_kd`)."""

from metarl.envs.child_training.architecture import ArchitectureSearch
from metarl.envs.child_training.augment import Augment
from metarl.envs.child_training.learned_loss import LearnedLoss
from metarl.envs.child_training.meta_kd import MetaKD

__all__ = ["ArchitectureSearch", "Augment", "LearnedLoss", "MetaKD"]
