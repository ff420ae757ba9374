"""Machinery every agent's training shares: configs, the loop, logging, checkpoints."""

from metarl.training.checkpoint import load_checkpoint, save_checkpoint
from metarl.training.config import build_config, load_yaml, parse_assignments
from metarl.training.logger import RunLogger, read_scalars
from metarl.training.loop import TrainConfig, Trainer, TrainingCollapsed, check_finite

__all__ = ["RunLogger", "TrainConfig", "Trainer", "TrainingCollapsed", "build_config", "check_finite",
           "load_checkpoint", "load_yaml", "parse_assignments", "read_scalars", "save_checkpoint"]
