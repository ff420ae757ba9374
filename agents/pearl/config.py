"""Hyperparameters of a PEARL run; the defaults are those of Rakelly et al. 2019 (their code's defaults)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from metarl.errors import ConfigError
from metarl.training.config import check_ranges
from metarl.training.loop import TrainConfig


def _widths(key: str, value: list) -> None:
    if not value or not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in value):
        raise ConfigError(f"config key {key!r} must be a non-empty list of positive integers, got {value}")


@dataclasses.dataclass
class PEARLConfig(TrainConfig):
    """PEARL settings. ``total_steps`` counts environment steps (the initial collection included). Each
    iteration collects ``prior_steps + posterior_steps + extra_posterior_steps`` steps on each of
    ``tasks_per_iteration`` training tasks, then takes ``gradient_steps`` SAC steps on ``meta_batch`` tasks.

    Example:
        >>> PEARLConfig(latent=3, kl_weight=1.0).latent
        3
    """

    env: str = "metarl/Navigation2D-v0"
    """Environment id (a family with flat Box observations and Box actions)."""
    env_kwargs: dict = dataclasses.field(default_factory=dict)
    total_steps: int = 1_000_000
    train_tasks: int = 80
    """Size of the fixed bank of training tasks (each has its own replay ring)."""
    latent: int = 5
    """Dimension of the latent task variable z."""
    hidden: list = dataclasses.field(default_factory=lambda: [300, 300, 300])
    """Hidden widths of the actor and of each critic."""
    encoder_hidden: list = dataclasses.field(default_factory=lambda: [200, 200, 200])
    """Hidden widths of the context encoder."""
    context_next_obs: bool = False
    """Put the next observation in the context (needed where tasks differ in their dynamics)."""
    initial_steps: int = 2000
    """Steps collected on every training task, z from the prior, before training starts."""
    tasks_per_iteration: int = 5
    """Training tasks (drawn with replacement) that collect data each iteration."""
    prior_steps: int = 400
    """Steps per collecting task with z from the prior; they form the task's context."""
    posterior_steps: int = 0
    """Steps per collecting task with z from the posterior given that context; they join the context."""
    extra_posterior_steps: int = 600
    """Steps per collecting task with z from the posterior that only train the actor-critic."""
    gradient_steps: int = 2000
    """SAC gradient steps per iteration."""
    meta_batch: int = 16
    """Tasks per gradient step."""
    batch_size: int = 256
    """Transitions per task in the actor-critic batch."""
    context_size: int = 100
    """Transitions per task in the context batch."""
    lr: float = 3e-4
    """Adam learning rate of the actor, critics, temperature and encoder."""
    gamma: float = 0.99
    """Discount."""
    tau: float = 0.005
    """Polyak rate of the target critics."""
    reward_scale: float = 5.0
    """Rewards are multiplied by this in the Bellman target (the inverse temperature when alpha is fixed at 1)."""
    alpha: float = 1.0
    """Entropy temperature (initial value when target_entropy is set)."""
    target_entropy: float | None = None
    """Learn the temperature towards this policy entropy (e.g. minus the action dimension); null: fixed alpha."""
    kl_weight: float = 0.1
    """Weight of KL(q(z | c) || N(0, I)), summed over the meta-batch's tasks, in the encoder's loss."""
    policy_reg: float = 1e-3
    """Penalty on the actor's squared pre-squash mean and log standard deviation."""
    critic_reward: Literal["env", "dense"] = "env"
    """Reward the critics learn from: env (the environment's) or dense (the family's shaped dense_reward).

    PEARL's sparse point robot meta-trains its critics on the dense reward while the context and the evaluation
    see only the sparse one."""
    buffer_capacity: int = 100_000
    """Transitions kept per training task."""
    eval_every: int = 10
    """Iterations between evaluations on held-out tasks (0: never during training)."""
    eval_tasks: int = 30
    """Held-out tasks per evaluation."""
    eval_trajectories: int = 3
    """Trajectories (inner episodes) per evaluation trial."""
    exploration_trajectories: int = 1
    """Evaluation trajectories, each with a fresh z from the prior, before the posterior takes over (PEARL's
    num_exp_traj_eval)."""
    checkpoint_every: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        check_ranges(self, at_least={key: 1 for key in ("train_tasks", "latent", "tasks_per_iteration",
                                                         "gradient_steps", "meta_batch", "batch_size",
                                                         "context_size", "buffer_capacity", "eval_tasks",
                                                         "eval_trajectories")},
                     positive=("tau", "reward_scale", "alpha"), unit=("gamma", "tau"))
        check_ranges(self, at_least={key: 0 for key in ("initial_steps", "prior_steps", "posterior_steps",
                                                         "extra_posterior_steps", "eval_every",
                                                         "exploration_trajectories", "kl_weight", "policy_reg")})
        _widths("hidden", self.hidden)
        _widths("encoder_hidden", self.encoder_hidden)
        if self.prior_steps + self.posterior_steps + self.extra_posterior_steps < 1:
            raise ConfigError("config keys prior_steps, posterior_steps and extra_posterior_steps are all 0: an "
                              "iteration would collect nothing; set at least one of them")
        if self.prior_steps + self.posterior_steps < 1:
            raise ConfigError("config keys prior_steps and posterior_steps are both 0: the context would stay empty")
