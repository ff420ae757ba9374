"""Hyperparameters of a controller run; the defaults search architectures of digits MLPs by REINFORCE."""

from __future__ import annotations

import dataclasses
from typing import Literal

from metarl.errors import ConfigError
from metarl.training.config import check_ranges
from metarl.training.loop import TrainConfig


@dataclasses.dataclass
class ControllerConfig(TrainConfig):
    """Controller settings. One iteration trains ``tasks * samples`` children (``tasks * 2 * pairs`` for ``es``,
    ``tasks`` for ``unroll``); ``total_steps`` counts child trainings.

    Example:
        >>> ControllerConfig(estimator="es").pairs
        8
    """

    env: str = "metarl/ArchitectureSearch-v0"
    """Environment id (a child-training family: ArchitectureSearch, Augment, LearnedLoss or MetaKD)."""
    env_kwargs: dict = dataclasses.field(default_factory=dict)
    total_steps: int = 2_000
    """Training length: child trainings."""
    estimator: Literal["reinforce", "ppo", "es", "unroll"] = "reinforce"
    """How the controller is trained. reinforce: score-function gradient with a leave-one-out baseline among the
    ``samples`` decisions drawn for the same task; ppo: PPO's clipped surrogate on the same samples and advantages
    (``ppo_epochs`` steps per batch); es: antithetic evolution strategies in the controller's parameters, every
    member deciding greedily for the same tasks; unroll: the gradient of the children's held-out loss through their
    whole training (continuous families whose children are differentiable: LearnedLoss, MetaKD)."""
    tasks: int = 8
    """Training-split tasks per iteration."""
    samples: int = 4
    """reinforce, ppo: decisions sampled per task (at least 2: each one's baseline is the mean of the others)."""
    hidden: int = 64
    """Width of the controller's hidden layer."""
    history: bool = False
    """Discrete families: the controller also sees every earlier choice (one-hot each), not only the previous one,
    so a decision can depend on the whole partial design (a layer's skip on its operation)."""
    controller: Literal["mlp", "lstm"] = "mlp"
    """Discrete families: mlp, a feed-forward body on the observation (with ``history``, on every earlier choice);
    lstm, the NAS controller (Zoph & Le 2017), an LSTM of ``hidden`` units over the decision sequence fed each step's
    previous choice (it always sees every earlier choice; not with ``es``)."""
    init_log_std: float = -2.0
    """Continuous families: log standard deviation of the initial Gaussian over the action."""
    lr: float = 0.01
    """Adam learning rate."""
    max_grad_norm: float = 1.0
    """Gradient norm clip."""
    entropy_coef: float = 0.0
    """reinforce, ppo: weight of the entropy bonus of the decisions."""
    entropy_anneal: bool = False
    """reinforce, ppo: lower the entropy bonus linearly to 0 at ``total_steps``, so the policy explores early and has
    committed (what it samples is what its greedy decision picks) by the end."""
    ppo_epochs: int = 4
    """ppo: Adam steps per batch of decisions."""
    clip: float = 0.2
    """ppo: clip range of the probability ratio."""
    pairs: int = 8
    """es: antithetic pairs of perturbed controllers per iteration (each decides for all ``tasks``)."""
    sigma: float = 0.05
    """es: standard deviation of the parameter perturbations."""
    eval_tasks: int = 32
    """Validation-split tasks scored every ``checkpoint_every`` iterations (the ``validation/`` scalars)."""
    checkpoint_every: int = 10
    """Iterations between checkpoints and validation scores."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_ranges(self, at_least={"tasks": 1, "samples": 2, "hidden": 1, "ppo_epochs": 1, "pairs": 1,
                                     "eval_tasks": 1},
                     positive=("lr", "max_grad_norm", "clip", "sigma"))
        check_ranges(self, at_least={"entropy_coef": 0.0})
        if self.controller == "lstm" and self.estimator == "es":
            raise ConfigError("controller 'lstm' has no population forward for estimator 'es': use reinforce or ppo, "
                              "or controller 'mlp'")
