"""RL²: a recurrent policy that learns to adapt within a trial, trained with PPO over whole trials."""

from metarl.agents.rl2.config import RL2Config
from metarl.agents.rl2.policy import RecurrentActorCritic
from metarl.agents.rl2.trainer import RL2Trainer

__all__ = ["RL2Config", "RL2Trainer", "RecurrentActorCritic"]
