"""Hyperparameters of the supervised few-shot learners; the defaults are Glyphs (or Omniglot) 5-way 1-shot.

``total_steps`` counts **training episodes** (tasks): an iteration uses ``meta_batch`` episodes (the
pretrained baseline uses the same number of images per iteration and counts it the same way), so
runs of different learners with equal ``total_steps`` see the same amount of data. MAML's 60,000
meta-iterations of 32 tasks are ``total_steps: 1920000``.

For sinusoid regression use the recipes in ``configs/`` (``maml_sinusoid.yaml``, ...): the defaults'
learning rates are those of the image setting.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from metarl.errors import ConfigError
from metarl.training.config import check_ranges
from metarl.training.loop import TrainConfig


@dataclasses.dataclass
class FewShotConfig(TrainConfig):
    """Settings every few-shot learner has.

    Example:
        >>> FewShotConfig(shots=5, meta_batch=8).shots
        5
    """

    env: str = "metarl/Glyphs-v0"
    """Environment id (a supervised family: Glyphs, Omniglot, Sinusoid)."""
    env_kwargs: dict = dataclasses.field(default_factory=dict)
    total_steps: int = 200_000
    """Training length: training episodes (``meta_batch`` per iteration)."""
    ways: int | None = None
    """Classes per training episode (None: the family's ``ways``, 1 for regression)."""
    shots: int | None = None
    """Support examples per class (None: the family's default: Glyphs 1, Sinusoid 10)."""
    queries: int | None = None
    """Query examples per class (None: the family's default: Glyphs 15, Sinusoid 10)."""
    meta_batch: int = 32
    """Episodes per iteration."""
    lr: float = 1e-3
    """Learning rate of the meta-update: Adam's, except Reptile's step towards the adapted parameters."""
    channels: int = 64
    """Filters of each conv block (images)."""
    conv_layers: int = 4
    """Conv blocks of the image backbone."""
    norm: Literal["batch", "layer", "none"] = "batch"
    """Normalisation in the conv blocks; see :mod:`metarl.agents.fewshot.backbones`
    (batch: per-call statistics, transductive)."""
    hidden: list = dataclasses.field(default_factory=lambda: [40, 40])
    """Hidden widths of the MLP (vector inputs, e.g. sinusoid)."""
    eval_ways: int | None = None
    """Ways of validation and evaluation episodes (None: ``ways``)."""
    eval_shots: int | None = None
    """Shots of validation and evaluation episodes (None: ``shots``)."""
    eval_queries: int | None = None
    """Queries per class of validation and evaluation episodes (None: ``queries``)."""
    validate_every: int = 200
    """Iterations between validations (each logs ``validation/*`` with a 95% interval)."""
    validation_episodes: int = 200
    """Validation episodes (the same ones every time)."""
    keep_best: bool = False
    """Also keep the state with the best ``validation/<metric>`` so far as ``best.pt`` in the run directory. It is
    a checkpoint like the last one (``metarl eval RUN/best.pt``); the run itself continues from its last state."""
    checkpoint_every: int = 200
    """Iterations between checkpoints."""

    def __post_init__(self) -> None:
        super().__post_init__()
        minimum = {"meta_batch": 1, "channels": 1, "conv_layers": 1, "validate_every": 1, "validation_episodes": 2}
        check_ranges(self, at_least=minimum, positive=("lr",))
        for key in ("ways", "shots", "queries", "eval_ways", "eval_shots", "eval_queries"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ConfigError(f"config key {key!r} must be at least 1 (or null for the default), got {value}")
        if not self.hidden or not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in self.hidden):
            raise ConfigError(f"config key 'hidden' must be a non-empty list of positive integers, got {self.hidden}")


@dataclasses.dataclass
class GradientConfig(FewShotConfig):
    """Settings of the learners that adapt by gradient steps at test time (MAML, FOMAML, Reptile, pretrained).

    Validation and evaluation adapt each episode on its support set with ``eval_steps`` gradient steps of
    ``eval_lr`` and score the query set after every step (``adaptation/step_k``).
    """

    eval_steps: int = 3
    """Gradient steps on the support set at validation and evaluation."""
    eval_lr: float | None = None
    """Their step size (None: the training step size ``inner_lr``)."""
    eval_later_lr: float | None = None
    """Step size of the steps after the first (None: the same as the first). An initialisation meta-trained for
    one step can overshoot when the step is repeated; ``benchmarks/maml_sinusoid.py`` chooses this on
    validation tasks."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_ranges(self, at_least={"eval_steps": 0})
        if self.eval_lr is not None and not self.eval_lr > 0:
            raise ConfigError(f"config key 'eval_lr' must be positive (or null for inner_lr), got {self.eval_lr}")
        if self.eval_later_lr is not None and not self.eval_later_lr > 0:
            raise ConfigError(f"config key 'eval_later_lr' must be positive (or null for eval_lr), got "
                              f"{self.eval_later_lr}")

    def eval_schedule(self, first: float) -> list[float]:
        """Step sizes of the ``eval_steps`` test-time steps: ``first``, then ``eval_later_lr`` (default ``first``).

        Example:
            >>> GradientConfig(eval_steps=3, eval_later_lr=0.005).eval_schedule(0.01)
            [0.01, 0.005, 0.005]
        """
        later = first if self.eval_later_lr is None else self.eval_later_lr
        return ([first] + [later] * (self.eval_steps - 1))[:self.eval_steps]

    def describe_schedule(self, first: float) -> str:
        """``"0.01"``, or ``"0.01 then 0.005"`` when the later test-time steps differ from the first."""
        later = self.eval_later_lr
        return f"{first:g}" if later is None or later == first else f"{first:g} then {later:g}"


@dataclasses.dataclass
class MAMLConfig(GradientConfig):
    """MAML and first-order MAML (Finn et al. 2017); defaults: Omniglot 5-way 1-shot (one step of 0.4, 32 tasks).

    Example:
        >>> MAMLConfig(inner_steps=5, inner_lr=0.1).inner_steps
        5
    """

    inner_lr: float = 0.4
    """Step size of the inner gradient steps (Omniglot 5-way: 0.4; sinusoid: 0.01)."""
    inner_steps: int = 1
    """Inner gradient steps per task on its support set."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_ranges(self, at_least={"inner_steps": 1}, positive=("inner_lr",))


@dataclasses.dataclass
class ReptileConfig(MAMLConfig):
    """Reptile (Nichol et al. 2018): ``inner_steps`` SGD steps of ``inner_lr`` per task on its support and query
    examples, then the initialisation moves ``lr`` of the way to the tasks' mean adapted parameters.

    Example:
        >>> ReptileConfig(lr=0.5).anneal
        True
    """

    inner_lr: float = 0.1
    inner_steps: int = 5
    eval_steps: int = 50
    meta_batch: int = 5
    lr: float = 1.0
    """Fraction of the way to the adapted parameters moved per iteration (the paper: 1.0 annealed to 0)."""
    anneal: bool = True
    """Decrease ``lr`` linearly to 0 over ``total_steps``."""


@dataclasses.dataclass
class MetricConfig(FewShotConfig):
    """Prototypical and matching networks: an embedding compared across support and query; no test-time steps.
    One episode per update by default, as in Snell et al. 2017.

    Example:
        >>> MetricConfig(ways=20).ways
        20
    """

    meta_batch: int = 1


@dataclasses.dataclass
class MatchingNetConfig(MetricConfig):
    """Matching networks: ``scale`` multiplies the cosine similarities before the softmax over the support set.

    Example:
        >>> MatchingNetConfig(scale=1.0).scale
        1.0
    """

    scale: float = 10.0
    """Inverse temperature of the attention (the paper's plain cosine softmax is 1)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_ranges(self, positive=("scale",))


@dataclasses.dataclass
class PretrainConfig(GradientConfig):
    """The pretrained baseline: the backbone trained as an ordinary classifier over every training class (or a
    regressor on all training tasks), then fine-tuned on each test episode's support set.

    Example:
        >>> PretrainConfig(finetune="all").finetune
        'all'
    """

    meta_batch: int = 1
    """Each iteration trains on as many examples as this many episodes hold."""
    finetune: Literal["head", "all"] = "head"
    """At test time fine-tune the head on the body's fixed features, or the whole network. Classification starts
    from a fresh zero-initialised head with one output per episode class; regression keeps the trained head."""
    eval_lr: float | None = 0.1
    """Fine-tuning step size."""
    eval_steps: int = 50

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.eval_lr is None:
            raise ConfigError("config key 'eval_lr' (the fine-tuning step size) must be a positive number")


@dataclasses.dataclass
class RelationConfig(MetricConfig):
    """Relation networks: a learned relation module scores each (query, class) pair of feature maps.

    Example:
        >>> RelationConfig(pooled_layers=2).relation_hidden
        8
    """

    pooled_layers: int = 2
    """Leading conv blocks of the embedding followed by max-pooling; the rest keep the map's size (the paper: 2 of
    4, so 28 x 28 images give 7 x 7 maps that the relation module compares)."""
    relation_hidden: int = 8
    """Width of the relation module's hidden fully connected layer."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_ranges(self, at_least={"pooled_layers": 0, "relation_hidden": 1})
        if self.pooled_layers > self.conv_layers:
            raise ConfigError(f"config key 'pooled_layers' ({self.pooled_layers}) must be at most conv_layers "
                              f"({self.conv_layers})")


@dataclasses.dataclass
class GNNConfig(MetricConfig):
    """Few-shot graph neural network: one graph per query over the support set, labels as node features.

    Example:
        >>> GNNConfig(gnn_layers=3).node_features
        48
    """

    gnn_layers: int = 2
    """Graph convolution layers before the one that outputs the class logits."""
    node_features: int = 48
    """Features each graph convolution adds to a node (their outputs are concatenated to its inputs)."""
    edge_hidden: int = 64
    """Hidden width of the network that computes an edge's weight from ``|x_i - x_j|``."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_ranges(self, at_least={"gnn_layers": 1, "node_features": 1, "edge_hidden": 1})


@dataclasses.dataclass
class MetaNetConfig(MetricConfig):
    """Meta networks: per-example fast weights generated from loss gradients, read from a memory by attention.

    Example:
        >>> MetaNetConfig().generator_hidden
        20
    """

    generator_hidden: int = 20
    """Hidden width of the two fast-weight generators (applied to each gradient entry)."""


@dataclasses.dataclass
class MetaSGDConfig(MAMLConfig):
    """Meta-SGD (Li et al. 2017): MAML whose inner step size is a learned tensor, one per parameter entry.

    ``inner_lr`` initialises every step size; they are meta-learned with the initialisation (Adam, ``lr``).

    Example:
        >>> MetaSGDConfig().inner_steps
        1
    """


@dataclasses.dataclass
class VersaConfig(FewShotConfig):
    """VERSA (Gordon et al. 2019): an amortized Gaussian posterior over each task's linear head, from its support set.

    Example:
        >>> VersaConfig(samples=5).samples
        5
    """

    meta_batch: int = 1
    samples: int = 10
    """Head samples per task in training and evaluation (the predictive is their average)."""
    inference_hidden: int = 128
    """Hidden width of the networks that map the support set to the posterior's mean and variance."""
    calibration_bins: int = 15
    """Confidence bins of the expected calibration error."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_ranges(self, at_least={"samples": 1, "inference_hidden": 1, "calibration_bins": 1})


__all__ = ["FewShotConfig", "GNNConfig", "GradientConfig", "MAMLConfig", "MatchingNetConfig", "MetaNetConfig",
           "MetaSGDConfig", "MetricConfig", "PretrainConfig", "RelationConfig", "ReptileConfig", "VersaConfig"]
