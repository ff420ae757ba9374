"""A learned teacher (Fan et al. 2018, learning to teach): a per-example keep/drop policy meta-trained on
Teach-v0 students by REINFORCE, PPO or a differentiable one-step lookahead, usable afterwards as a
:class:`DataSelector` in any PyTorch training loop."""

from metarl.agents.learned_teacher.config import LearnedTeacherConfig
from metarl.agents.learned_teacher.network import TeacherNetwork
from metarl.agents.learned_teacher.selector import DataSelector, load_teacher
from metarl.agents.learned_teacher.trainer import LearnedTeacherTrainer, build_network

__all__ = ["DataSelector", "LearnedTeacherConfig", "LearnedTeacherTrainer", "TeacherNetwork", "build_network",
           "load_teacher"]
