"""Hyperparameters of a learned-optimizer run; the defaults are the 10-d quadratics of Andrychowicz et al. 2016."""

from __future__ import annotations

import dataclasses
from typing import Literal

from metarl.errors import ConfigError
from metarl.training.config import check_ranges
from metarl.training.loop import TrainConfig

DIFFERENTIABLE_OBJECTIVES = ("mean_loss", "mean_log_loss")


@dataclasses.dataclass
class LearnedOptimizerConfig(TrainConfig):
    """Learned-optimizer settings. One iteration optimizes a fresh batch of training tasks for ``horizon`` steps;
    ``total_steps`` counts optimizee steps summed over every run (``tasks * horizon`` per iteration for
    ``unrolled``, times ``samples`` for ``reinforce``, times ``2 * pairs`` for ``es``).

    Example:
        >>> LearnedOptimizerConfig(estimator="es", objective="final_log_loss").pairs
        16
    """

    env: str = "metarl/LearnToOptimize-v0"
    """Environment id (a LearnToOptimize family)."""
    env_kwargs: dict = dataclasses.field(default_factory=dict)
    total_steps: int = 12_800_000
    """Training length: optimizee steps summed over every run (see the class docstring)."""
    estimator: Literal["unrolled", "reinforce", "es"] = "unrolled"
    """How the meta-gradient is estimated: unrolled, reinforce or es. unrolled: truncated backpropagation through
    the optimization (differentiable objectives only); reinforce: score-function gradient of a Gaussian policy
    over updates; es: antithetic evolution strategies."""
    objective: Literal["mean_loss", "mean_log_loss", "final_log_loss", "final_error"] = "mean_loss"
    """The meta-objective to minimise. The mean of the optimizee losses over the run (the paper's), mean of their
    logarithms, log of the final loss on all the fit data, or the final held-out error (classifiers)."""
    tasks: int = 128
    """Optimizee instances (training tasks) per iteration."""
    unroll: int = 20
    """Steps per truncated-backpropagation chunk (one meta-update each for ``unrolled``)."""
    hidden: int = 20
    """Width of each LSTM layer."""
    layers: int = 2
    """LSTM layers."""
    output_scale: float = 0.1
    """Update = this times the network's output."""
    lr: float = 1e-3
    """Adam learning rate of the meta-update."""
    max_grad_norm: float = 1.0
    """Gradient norm clip of the meta-update."""
    samples: int = 4
    """reinforce: noisy runs of each task (the leave-one-out baseline compares them)."""
    init_log_std: float = -5.0
    """reinforce: initial log standard deviation of the Gaussian policy over updates."""
    normalize_advantages: bool = True
    """reinforce: normalise the advantages per iteration."""
    pairs: int = 16
    """es: antithetic pairs of weight perturbations per iteration."""
    sigma: float = 0.01
    """es: standard deviation of the weight perturbations."""
    eval_tasks: int = 64
    """Held-out tasks scored every ``checkpoint_every`` iterations and drawn in the figures."""
    figures: bool = True
    """Draw the held-out optimizee curves beside the tuned baselines at every checkpoint (tunes them once)."""
    checkpoint_every: int = 10
    """Iterations between checkpoints, held-out scores and figures."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_ranges(self, at_least={"tasks": 1, "unroll": 1, "hidden": 1, "layers": 1, "samples": 2, "pairs": 1,
                                     "eval_tasks": 1},
                     positive=("output_scale", "lr", "max_grad_norm", "sigma"))
        if self.estimator == "unrolled" and self.objective not in DIFFERENTIABLE_OBJECTIVES:
            raise ConfigError(f"objective {self.objective!r} cannot be differentiated through the unroll; use "
                              f"estimator 'reinforce' or 'es', or an objective in {list(DIFFERENTIABLE_OBJECTIVES)}")
