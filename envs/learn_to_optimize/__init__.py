"""Learning to optimize: the ``metarl/LearnToOptimize-v0`` family (:mod:`.env`) and its optimization process
(:mod:`.process`, also run by the learned optimizer's meta-training)."""

from metarl.envs.learn_to_optimize.env import LearnToOptimize

__all__ = ["LearnToOptimize"]
