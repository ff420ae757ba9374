"""A learned optimizer (Andrychowicz et al. 2016): a coordinatewise LSTM meta-trained on LearnToOptimize-v0 by
unrolled differentiation, REINFORCE or evolution strategies, usable afterwards as a ``torch.optim.Optimizer``."""

from metarl.agents.learned_optimizer.config import LearnedOptimizerConfig
from metarl.agents.learned_optimizer.network import CoordinatewiseLSTM
from metarl.agents.learned_optimizer.optimizer import LearnedOptimizer, load_network
from metarl.agents.learned_optimizer.trainer import LearnedOptimizerTrainer, build_network

__all__ = ["CoordinatewiseLSTM", "LearnedOptimizer", "LearnedOptimizerConfig", "LearnedOptimizerTrainer",
           "build_network", "load_network"]
