"""A controller (Zoph & Le 2017): a policy over a child-training family's decisions (an architecture, an augmentation
policy, a loss, a teacher's weights), meta-trained by REINFORCE, PPO, evolution strategies or, where the family's
children are differentiable, by unrolling their training."""

from metarl.agents.controller.config import ControllerConfig
from metarl.agents.controller.trainer import ControllerTrainer

__all__ = ["ControllerConfig", "ControllerTrainer"]
