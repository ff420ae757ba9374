"""Hyperparameters of a MAML-RL run; the defaults are the 2D navigation setting of Finn et al. 2017."""

from __future__ import annotations

import dataclasses
from typing import Literal

from metarl.errors import ConfigError
from metarl.training.config import check_ranges
from metarl.training.loop import TrainConfig


@dataclasses.dataclass
class MAMLConfig(TrainConfig):
    """MAML-RL settings. ``total_steps`` counts the steps the batched environments run, pre- and
    post-adaptation: ``(inner_steps + 1) * meta_batch * trajectories * trial length`` per meta-iteration
    (40,000,000 = 500 meta-iterations of the paper's navigation setting).

    Example:
        >>> MAMLConfig(meta_batch=4, trajectories=5, outer="ppo").outer
        'ppo'
    """

    env: str = "metarl/Navigation2D-v0"
    """Environment id (a family with flat observations)."""
    env_kwargs: dict = dataclasses.field(default_factory=dict)
    total_steps: int = 40_000_000
    """Training length: environment steps, pre- and post-adaptation (see the class docstring)."""
    meta_batch: int = 20
    """Tasks per meta-iteration."""
    trajectories: int = 20
    """Trajectories (trials) per task for each inner step and for the post-adaptation rollout."""
    hidden: list = dataclasses.field(default_factory=lambda: [100, 100])
    """Hidden widths of the MLP policy."""
    activation: Literal["relu", "tanh"] = "relu"
    """Activation of the MLP policy."""
    init_log_std: float = 0.0
    """Initial log standard deviation of the Gaussian policy (Box actions)."""
    unit_actions: bool = True
    """Box actions: the Gaussian acts in [-1, 1] units rescaled onto the space's bounds. As the original MAML
    code's rllab ``normalize`` wrapper does; false: raw actions, clipped by the environment."""
    inner_steps: int = 1
    """Policy-gradient adaptation steps per task."""
    inner_lr: float = 0.1
    """Step size of the adaptation steps."""
    first_order: bool = False
    """Treat the inner gradient as a constant in the meta-gradient (FOMAML)."""
    gamma: float = 0.99
    """Discount."""
    gae_lambda: float = 1.0
    """GAE lambda of the advantages (1: Monte Carlo returns minus the baseline)."""
    baseline_reg: float = 1e-5
    """Ridge regularisation of the per-task linear feature baseline."""
    normalize_advantages: bool = True
    """Normalise advantages per task."""
    outer: Literal["trpo", "ppo"] = "trpo"
    """trpo: the paper's update; ppo: Adam on the clipped surrogate (as in ProMP)."""
    max_kl: float = 0.01
    """trpo: bound on the mean KL divergence of the adapted policies."""
    cg_iterations: int = 10
    """trpo: conjugate-gradient iterations."""
    cg_damping: float = 1e-5
    """trpo: damping added to the curvature products."""
    cg_subsample: float = 1.0
    """Fraction of each task's trajectories the conjugate-gradient curvature products use (rllab's
    ``subsample_factor``). The products dominate an iteration's time; the gradient, the line search and
    its KL bound always use every trajectory."""
    backtrack_ratio: float = 0.8
    """trpo: step shrink factor of the line search."""
    max_backtracks: int = 15
    """trpo: line-search steps before the update is rejected."""
    outer_lr: float = 1e-3
    """ppo: Adam learning rate of the outer update."""
    outer_epochs: int = 5
    """ppo: Adam steps per meta-iteration."""
    clip: float = 0.2
    """ppo: clip range of the probability ratio."""
    max_grad_norm: float = 1.0
    """ppo: gradient norm clip."""
    pretrain: bool = False
    """Train the multi-task baseline instead: one policy for all tasks, no adaptation, the same steps."""
    baseline_checkpoint: str | None = None
    """A ``pretrain: true`` run (checkpoint or run directory) that evaluation fine-tunes beside this one."""
    eval_step_sizes: list = dataclasses.field(default_factory=lambda: [0.1, 0.05, 0.05])
    """Inner step size of each evaluation gradient step (the paper: 0.1, then 0.05)."""
    eval_trajectories: int = 40
    """Trajectories per task at each evaluation step."""
    checkpoint_every: int = 25
    """Meta-iterations between checkpoints."""

    def __post_init__(self) -> None:
        super().__post_init__()
        minimum = {key: 1 for key in ("meta_batch", "trajectories", "inner_steps", "cg_iterations", "outer_epochs",
                                      "eval_trajectories")}
        check_ranges(self, at_least={**minimum, "max_backtracks": 0, "cg_damping": 0.0, "baseline_reg": 0.0},
                     positive=("inner_lr", "max_kl", "outer_lr", "clip", "max_grad_norm"), unit=("gamma", "gae_lambda"))
        if not 0.0 < self.cg_subsample <= 1.0:
            raise ConfigError(f"config key 'cg_subsample' must lie in (0, 1], got {self.cg_subsample}")
        if not 0.0 < self.backtrack_ratio < 1.0:
            raise ConfigError(f"config key 'backtrack_ratio' must lie in (0, 1), got {self.backtrack_ratio}")
        if not self.hidden or not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in self.hidden):
            raise ConfigError(f"config key 'hidden' must be a non-empty list of positive integers, got {self.hidden}")
        if not self.eval_step_sizes or not all(isinstance(a, (int, float)) and not isinstance(a, bool) and a > 0
                                               for a in self.eval_step_sizes):
            raise ConfigError("config key 'eval_step_sizes' must be a non-empty list of positive numbers, got "
                              f"{self.eval_step_sizes}")
        self.eval_step_sizes = [float(a) for a in self.eval_step_sizes]
