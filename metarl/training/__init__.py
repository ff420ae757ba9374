"""Machinery every agent's training shares: configs, the loop, logging, checkpoints."""

from metarl.training.checkpoint import load_checkpoint, save_checkpoint
from metarl.training.config import (
    build_config,
    command_line_values,
    load_yaml,
    parse_assignments,
    parse_env_kwargs,
)
from metarl.training.logger import RunLogger, read_scalars
from metarl.training.loop import TrainConfig, Trainer, TrainingCollapsed, check_finite

__all__ = ["RunLogger", "TrainConfig", "Trainer", "TrainingCollapsed", "build_config", "check_finite",
           "command_line_values", "load_checkpoint", "load_yaml", "parse_assignments",
           "parse_env_kwargs", "read_scalars", "save_checkpoint"]
