"""RL math shared by every agent: one GAE, one PPO loss, rollout storage, action heads, running statistics."""

from metarl.rl.gae import gae
from metarl.rl.heads import ActionHead
from metarl.rl.normalize import RunningMeanStd
from metarl.rl.ppo import PPOLoss, explained_variance, ppo_loss
from metarl.rl.rollout import Rollout, minibatch_indices

__all__ = ["ActionHead", "PPOLoss", "Rollout", "RunningMeanStd", "explained_variance", "gae", "minibatch_indices",
           "ppo_loss"]
