"""Learning to optimize (Andrychowicz et al. 2016) as a family: the agent is the optimizer of a batch of optimizees."""

from __future__ import annotations

import gymnasium
import numpy as np
import torch
from metarl.envs.learn_to_optimize.process import FEATURES, LOG_HIGH, OptimizationProcess
from metarl.envs.learning_process.base import LearningProcessEnv
from metarl.envs.learning_process.optimizees import KINDS, Optimizee, make_optimizee

from metarl.params import Param


class LearnToOptimize(LearningProcessEnv):
    """Each environment is one optimization run: an optimizee (the task) trained by the agent's updates.

    - **Task** (explicit tensors, by ``optimizee``): ``quadratic`` ``matrix (B, d, d)``, ``target (B, d)``,
      ``init (B, d)``; ``logistic`` / ``mlp`` (scikit-learn digits) ``init (B, n)``, ``data_key (B,)`` (minibatch
      seed), ``pool (B,)`` (which split's images); ``synthetic`` ``init (B, n)``, ``teacher (B, d)``, ``data_key (B,)``.
      Splits are separate seed streams; digits tasks of the test split also train on held-out images.
    - **Observation** ``(n, 6)``: per coordinate, LogAndSign (p = 10) of the gradient and of its moving
      averages with decay 0.9 and 0.99 (:mod:`metarl.envs.learn_to_optimize.process`).
    - **Action** ``(n,)``: the update added to the parameters, clipped to [-max_update, max_update].
    - **Reward**: the decrease of the optimizee loss (each step's loss is on that step's minibatch), so a
      trial's return is the initial loss minus the final one.
    - **End**: a trial is ``horizon`` updates (truncated); an update that makes the loss NaN, infinite or larger
      than ``diverge_factor`` times the initial loss is not applied and terminates the trial, with reward
      ``loss - diverge_factor * initial loss``.

    The number of coordinates n depends on the optimizee (quadratic: ``dims``; logistic: 650; mlp with one
    hidden layer of 20: 1510), so one environment holds one optimizee kind.

    Example:
        >>> import metarl, torch
        >>> env = metarl.make("metarl/LearnToOptimize-v0", num_envs=8, seed=0, optimizee="quadratic")
        >>> env.reset().shape
        torch.Size([8, 10, 6])
        >>> step = env.step(-0.01 * env.gradient)  # plain gradient descent
    """

    family = "LearnToOptimize"
    description = "optimizer of a batched optimizee (quadratic, digits logistic/MLP, synthetic); reward = loss decrease"
    source = "Andrychowicz et al. 2016, learning to learn by gradient descent by gradient descent"
    params = {
        "optimizee": Param("quadratic", choices=KINDS, doc="what is optimized"),
        "horizon": Param(100, low=1, high=100_000, doc="updates per trial"),
        "dims": Param(10, low=1, high=1000, doc="quadratic: dimension of theta; synthetic: input dimension"),
        "hidden": Param(20, low=1, high=4096, doc="mlp, synthetic: units per hidden layer"),
        "layers": Param(1, low=1, high=8, doc="mlp, synthetic: hidden layers"),
        "batch_size": Param(128, low=1, high=100_000, doc="logistic, mlp, synthetic: examples per minibatch"),
        "max_update": Param(1.0, low=1e-9, high=1e6, doc="updates are clipped to [-max_update, max_update]"),
        "diverge_factor": Param(100.0, low=1.0, high=1e30, doc="a loss above this times the initial loss ends a trial"),
    }

    # ------------------------------------------------------------------ the optimizee and its process
    @property
    def optimizee(self) -> Optimizee:
        """The optimizee kind of this environment (its tasks, losses and scores)."""
        return self.process.optimizee

    @property
    def gradient(self) -> torch.Tensor:
        """Each optimizee's gradient at its current parameters, (B, n)."""
        return self._process_state["grad"]

    # ------------------------------------------------------------------ family hooks
    def _make_process(self) -> OptimizationProcess:
        c = self.config
        return OptimizationProcess(make_optimizee(c["optimizee"], c, self.device), c["diverge_factor"])

    def _process_input(self, action: torch.Tensor) -> torch.Tensor:
        bound = self.config["max_update"]
        return action.clamp(-bound, bound)

    def _spaces(self) -> tuple[gymnasium.Space, gymnasium.Space]:
        n = self.optimizee.size
        low = np.tile(np.array([-1.0, -1.0], np.float32), (n, FEATURES // 2))
        high = np.tile(np.array([np.ceil(LOG_HIGH), 1.0], np.float32), (n, FEATURES // 2))
        bound = np.float32(self.config["max_update"])
        return gymnasium.spaces.Box(low, high, dtype=np.float32), gymnasium.spaces.Box(-bound, bound, (n,), np.float32)
