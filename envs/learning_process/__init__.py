"""What the learning-process families share: the base class, the optimizees and students, the digits data.

- :mod:`.base`: :class:`LearningProcess` and :class:`LearningProcessEnv`, a family whose task is a batched
  learning process (subclassed by ``metarl/LearnToOptimize-v0`` and ``metarl/Teach-v0``);
- :mod:`.optimizees`: batched optimizees and students (quadratics, digits softmax regression and MLP, synthetic);
- :mod:`.digits`: scikit-learn's digits as tensors, with disjoint pools per split.
"""

from metarl.envs.learning_process.base import LearningProcess, LearningProcessEnv, where_rows

__all__ = ["LearningProcess", "LearningProcessEnv", "where_rows"]
