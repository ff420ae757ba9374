"""MAML-RL: a policy initialisation that adapts to a new task with a few policy-gradient steps."""

from metarl.agents.maml_rl.config import MAMLConfig
from metarl.agents.maml_rl.evaluate import AdaptationScores, evaluate_adaptation
from metarl.agents.maml_rl.trainer import MAMLTrainer, build_policy

__all__ = ["AdaptationScores", "MAMLConfig", "MAMLTrainer", "build_policy", "evaluate_adaptation"]
