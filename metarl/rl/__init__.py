"""RL math shared by every agent: GAE, PPO and TRPO updates, rollout storage, action heads and policies,
functional (per-task) parameters, the linear feature baseline, running statistics."""

from metarl.rl.baseline import fit_linear_baseline, linear_features
from metarl.rl.functional import AdaptationJacobian, adapt, gradient_step, per_task_call, task_params
from metarl.rl.gae import gae
from metarl.rl.heads import ActionHead
from metarl.rl.mlp import MLPPolicy
from metarl.rl.normalize import RunningMeanStd
from metarl.rl.ppo import Surrogate, clipped_surrogate, explained_variance, value_loss
from metarl.rl.rollout import Rollout, minibatch_indices
from metarl.rl.trpo import TRPOStep, conjugate_gradient, trpo_step

__all__ = ["ActionHead", "AdaptationJacobian", "MLPPolicy", "Rollout", "RunningMeanStd", "Surrogate", "TRPOStep",
           "adapt", "clipped_surrogate", "conjugate_gradient", "explained_variance", "fit_linear_baseline", "gae",
           "gradient_step", "linear_features", "minibatch_indices", "per_task_call", "task_params", "trpo_step",
           "value_loss"]
