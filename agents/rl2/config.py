"""Hyperparameters of an RL² run; the defaults are the 5-armed, 100-pull bandit of the RL² paper."""

from __future__ import annotations

import dataclasses
from typing import Literal

from metarl.errors import ConfigError
from metarl.training.config import check_ranges
from metarl.training.loop import TrainConfig


@dataclasses.dataclass
class TrialPPOConfig(TrainConfig):
    """What every agent trained by PPO over whole trials shares (RL², VariBAD): the environments, the rollout,
    the inputs built from the RL² observation and the PPO update.

    Example:
        >>> TrialPPOConfig(env="metarl/TabularMDP-v0").gamma
        1.0
    """

    env: str = "metarl/BernoulliBandit-v0"
    """Environment id (any registered family)."""
    env_kwargs: dict = dataclasses.field(default_factory=dict)
    total_steps: int = 32_000_000
    """Training length: environment steps summed over the ``num_envs`` environments."""
    num_envs: int = 1024
    """Environments stepped in parallel, each with its own task."""
    rollout_trials: int = 1
    """Trials' worth of steps (episodes x horizon) collected per environment per iteration."""
    bptt: int = 0
    """Length of the sequences backpropagated through (0: the whole rollout); must divide the rollout."""
    time_feature: bool = True
    """Append the fraction of the trial elapsed to the input (the agent counts its own steps since the trial began)."""
    previous_obs: bool = False
    """Append the previous step's observation to the input, next to the previous action and reward."""
    lr: float = 3e-3
    """Adam learning rate."""
    anneal_lr: bool = True
    """Decrease the learning rate linearly to 0 over ``total_steps``."""
    gamma: float = 1.0
    """Discount within a trial (1: the trial's total reward, the RL² objective)."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip: float = 0.2
    """PPO clip range of the probability ratio."""
    value_coef: float = 0.5
    """Weight of the value loss."""
    entropy_coef: float = 0.01
    """Weight of the entropy bonus."""
    entropy_coef_final: float | None = None
    """Entropy coefficient at the end of training, reached linearly (None: constant ``entropy_coef``)."""
    epochs: int = 2
    """PPO passes over each rollout."""
    minibatches: int = 4
    """Minibatches per PPO pass."""
    max_grad_norm: float = 0.5
    """Gradient norm clip."""
    normalize_advantages: bool = True
    """Normalise advantages per minibatch."""
    normalize_values: bool = True
    """Learn values of returns scaled by their running standard deviation."""

    def __post_init__(self) -> None:
        super().__post_init__()
        minimum = {"num_envs": 1, "rollout_trials": 1, "epochs": 1, "minibatches": 1, "bptt": 0}
        check_ranges(self, at_least=minimum, positive=("lr", "clip", "max_grad_norm"), unit=("gamma", "gae_lambda"))


@dataclasses.dataclass
class RL2Config(TrialPPOConfig):
    """Hyperparameters of an RL² run.

    The defaults are the 5-armed, 100-pull bandit of the RL² paper as in ``configs/rl2_bandit_k5_n100.yaml``,
    except that the recipe also anneals the entropy bonus to 0 (``entropy_coef_final: 0.0``). Another ``env``
    starts from that family's own defaults.

    Example:
        >>> RL2Config(env="metarl/TabularMDP-v0", env_kwargs={"episodes": 10}).cell
        'gru'
    """

    cell: Literal["gru", "lstm"] = "gru"
    """Recurrent core."""
    hidden: int = 128
    """Width of the recurrent state."""
    embed: int = 128
    """Width of a tanh input layer before the recurrent core (0: none)."""
    head_hidden: int = 0
    """Width of a tanh layer between the core and the heads that also sees the current input (0: none)."""
    separate_critic: bool = False
    """Give the value head its own encoder and recurrent core instead of sharing the actor's."""
    reward_prediction_coef: float = 0.0
    """Weight of an auxiliary loss: predict the reward of the action taken from the actor's features (0: off)."""
    next_obs_prediction_coef: float = 0.0
    """Weight of an auxiliary loss: predict the next observation within the inner episode the same way (0: off)."""
    task_prediction_coef: float = 0.0
    """Weight of an auxiliary loss: regress the task's parameters from the actor's features (0: off). The task is
    privileged in training, never an input; the least-squares answer is its posterior mean given the trial."""
    task_prediction_fields: list = dataclasses.field(default_factory=list)
    """Task fields the task prediction regresses, e.g. ``[reward_mean]`` (empty: every field of the task)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        minimum = {"hidden": 1, "embed": 0, "head_hidden": 0, "reward_prediction_coef": 0.0,
                   "next_obs_prediction_coef": 0.0, "task_prediction_coef": 0.0}
        check_ranges(self, at_least=minimum)
        if not all(isinstance(name, str) for name in self.task_prediction_fields):
            raise ConfigError(f"task_prediction_fields must be a list of task field names, "
                              f"got {self.task_prediction_fields!r}")
