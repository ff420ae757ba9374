"""VariBAD: a VAE belief over the task, inferred within the trial, and a policy conditioned on that belief."""

from metarl.agents.varibad.config import VariBADConfig
from metarl.agents.varibad.model import VariBADModel
from metarl.agents.varibad.trainer import VariBADTrainer

__all__ = ["VariBADConfig", "VariBADModel", "VariBADTrainer"]
