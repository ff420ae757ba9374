"""Hyperparameters of the memory-augmented neural network; defaults after Santoro et al. 2016 (Adam for RMSprop)."""

from __future__ import annotations

import dataclasses

from metarl.errors import ConfigError
from metarl.training.config import check_ranges
from metarl.training.loop import TrainConfig


@dataclasses.dataclass
class MANNConfig(TrainConfig):
    """The MANN with LRUA memory on the online view of an image family (5 classes x 10 images per trial).

    ``total_steps`` counts environment steps: a trial of 50 steps is one of the paper's episodes, so its
    100,000 episodes are ``total_steps: 5000000``.

    Example:
        >>> MANNConfig(memory_slots=64).read_heads
        4
    """

    env: str = "metarl/Glyphs-v0"
    """Environment id of an image family with an online view (each step shows an image; the next reveals its label)."""
    env_kwargs: dict = dataclasses.field(default_factory=dict)
    """Family arguments (Glyphs' defaults: 5 classes, 10 images each per trial)."""
    total_steps: int = 5_000_000
    num_envs: int = 16
    """Trials per update (the paper's batch of 16 episodes)."""
    image_size: int = 20
    """Side of the images the network sees: larger images are average-pooled to this (the paper's 20 x 20
    Omniglot; 0 keeps them as the family renders them)."""
    hidden: int = 200
    """Units of the LSTM controller."""
    memory_slots: int = 128
    """Rows of the external memory (the paper's 128)."""
    memory_width: int = 40
    """Width of each memory row (the paper's 40)."""
    read_heads: int = 4
    """Read heads, each with its own key; writes go to the least-used or last-read rows (LRUA)."""
    usage_decay: float = 0.95
    """Decay of the memory usage per step (the paper's gamma)."""
    key_strength: float = 0.0
    """Starting key strength beta of the reads (> 1; 0: the layer's default initialisation, beta near 1.7, with
    which 128 slots are read almost uniformly)."""
    lr: float = 1e-3
    """Adam's learning rate."""
    max_grad_norm: float = 10.0
    """Clip the gradient's norm to this (0: no clipping)."""
    validate_every: int = 50
    """Iterations between validations (``validation/accuracy_last10`` and by instance)."""
    validation_trials: int = 200
    """Held-out trials scored at each validation."""
    checkpoint_every: int = 50

    def __post_init__(self) -> None:
        super().__post_init__()
        check_ranges(self, at_least={"num_envs": 1, "hidden": 1, "memory_slots": 2, "memory_width": 1,
                                     "read_heads": 1, "validate_every": 1, "validation_trials": 2},
                     positive=("lr",), unit=("usage_decay",))
        check_ranges(self, at_least={"max_grad_norm": 0.0, "image_size": 0, "key_strength": 0.0})
        if 0.0 < self.key_strength <= 1.0:
            raise ConfigError(f"'key_strength' must be above 1 (or 0 for the default initialisation), got "
                              f"{self.key_strength}")


__all__ = ["MANNConfig"]
