"""Hyperparameters of a learned-teacher run; the defaults teach softmax-regression students on digits."""

from __future__ import annotations

import dataclasses
from typing import Literal

from metarl.errors import ConfigError
from metarl.training.config import check_ranges
from metarl.training.loop import TrainConfig


@dataclasses.dataclass
class LearnedTeacherConfig(TrainConfig):
    """Learned-teacher settings. One iteration teaches ``students`` fresh training-split students until each
    episode ends; ``total_steps`` counts arriving minibatches summed over the students.

    Example:
        >>> LearnedTeacherConfig(estimator="ppo").ppo_epochs
        4
    """

    env: str = "metarl/Teach-v0"
    """Environment id (a Teach family)."""
    env_kwargs: dict = dataclasses.field(default_factory=dict)
    total_steps: int = 2_000_000
    """Training length: arriving minibatches summed over the students."""
    estimator: Literal["reinforce", "ppo", "es", "lookahead"] = "reinforce"
    """How the teacher is trained: reinforce, ppo, es or lookahead. reinforce: score-function gradient of the
    Bernoulli keep policy with a moving-average baseline (the paper's); ppo: the clipped surrogate on the same
    episodes (several epochs per batch); es: antithetic evolution strategies in the teacher's parameters, every
    member of the population teaching the same students with the same decision noise; lookahead: the keep
    probabilities as example weights, trained by a one-step lookahead on the dev loss (differentiable)."""
    students: int = 32
    """Students (training tasks) taught per iteration."""
    repeats: int = 1
    """reinforce, ppo: times each student is taught per iteration, with independent keep decisions. With 2 or
    more, a run's advantage is its return minus the mean return of the same student's other runs (a
    leave-one-out baseline: the student's own difficulty drops out of the advantage) instead of the moving
    average, which is still tracked and logged."""
    hidden: int = 32
    """Width of the teacher's hidden layer."""
    init_keep: float = 0.8
    """Keep probability of the untrained teacher (its output bias)."""
    lr: float = 3e-3
    """Adam learning rate."""
    max_grad_norm: float = 1.0
    """Gradient norm clip."""
    baseline_decay: float = 0.9
    """reinforce, ppo: weight of the old value in the moving-average reward baseline."""
    ppo_epochs: int = 4
    """ppo: passes over each batch of episodes."""
    clip: float = 0.2
    """ppo: clip range of the probability ratio."""
    gae_lambda: float = 1.0
    """ppo: GAE lambda of per-update advantages (1: every decision gets its episode's advantage). Below 1, a critic
    of the student's state (update budget used, average training loss, best dev accuracy) is fitted to the
    returns, and the decisions on each arriving minibatch get that step's GAE(lambda) advantage with lambda
    counted per student update, so a decision is credited mostly with the updates that follow it (counting
    minibatches instead would reward keeping more just for updating sooner; ``repeats`` then only adds runs)."""
    pairs: int = 16
    """es: antithetic pairs of perturbed teachers per iteration (each teaches all ``students``)."""
    sigma: float = 0.05
    """es: standard deviation of the parameter perturbations."""
    eval_students: int = 32
    """Held-out students scored every ``checkpoint_every`` iterations. Validation-split students for the
    ``validation/`` scalars (and ``keep_best``), test-split students for the figures."""
    keep_best: bool = False
    """Also keep the state with the lowest ``validation/instances_ratio`` so far as ``best.pt`` in the run
    directory. It is a checkpoint like the last one (``metarl eval RUN/best.pt``); the run continues from its last
    state. Policy-gradient teachers can overshoot late in training (keeping ever fewer examples until students
    are cut off by the horizon); this is early stopping on students the test never sees."""
    figures: bool = True
    """Draw the held-out students' curves at every checkpoint."""
    checkpoint_every: int = 10
    """Iterations between checkpoints, held-out scores and figures."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_ranges(self, at_least={"students": 1, "repeats": 1, "hidden": 1, "ppo_epochs": 1, "eval_students": 1,
                                     "pairs": 1},
                     positive=("lr", "max_grad_norm", "clip", "sigma"), unit=("baseline_decay", "gae_lambda"))
        if not 0.0 < self.init_keep < 1.0:
            raise ConfigError(f"config key 'init_keep' must lie in (0, 1), got {self.init_keep}")
