"""RL math shared by every agent: GAE, PPO, TRPO and SAC updates, rollout storage, a replay buffer indexed by
task, action heads and policies, functional (per-task) parameters, the linear feature baseline, running statistics."""

from metarl.rl.baseline import fit_linear_baseline, linear_features
from metarl.rl.functional import AdaptationJacobian, adapt, gradient_step, per_task_call, task_params
from metarl.rl.gae import gae
from metarl.rl.heads import ActionHead
from metarl.rl.mlp import MLPPolicy
from metarl.rl.normalize import InputNormalizer, RunningMeanStd
from metarl.rl.ppo import Surrogate, clipped_surrogate, explained_variance, value_loss
from metarl.rl.replay import TaskReplay
from metarl.rl.rollout import Rollout, minibatch_indices
from metarl.rl.sac import SAC, SquashedGaussianActor, TwinCritic, scale_action
from metarl.rl.trpo import TRPOStep, conjugate_gradient, trpo_step

__all__ = ["SAC", "ActionHead", "AdaptationJacobian", "InputNormalizer", "MLPPolicy", "Rollout", "RunningMeanStd",
           "SquashedGaussianActor",
           "Surrogate", "TRPOStep", "TaskReplay", "TwinCritic",
           "adapt", "clipped_surrogate", "conjugate_gradient", "explained_variance", "fit_linear_baseline", "gae",
           "gradient_step", "linear_features", "minibatch_indices", "per_task_call", "task_params", "scale_action",
           "trpo_step", "value_loss"]
