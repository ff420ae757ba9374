"""PEARL: off-policy meta-RL that infers a posterior over a latent task variable and explores by sampling it."""

from metarl.agents.pearl.config import PEARLConfig
from metarl.agents.pearl.encoder import ContextEncoder, OnlineBelief
from metarl.agents.pearl.evaluate import PEARLScores, evaluate_pearl
from metarl.agents.pearl.trainer import PEARLTrainer

__all__ = ["ContextEncoder", "OnlineBelief", "PEARLConfig", "PEARLScores", "PEARLTrainer", "evaluate_pearl"]
