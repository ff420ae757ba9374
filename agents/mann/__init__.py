"""The memory-augmented neural network with LRUA memory (Santoro et al. 2016), an online learner on the RL view."""

from metarl.agents.mann.config import MANNConfig
from metarl.agents.mann.model import MANN, MemoryState
from metarl.agents.mann.trainer import MANNTrainer, OnlineScores

__all__ = ["MANN", "MANNConfig", "MANNTrainer", "MemoryState", "OnlineScores"]
