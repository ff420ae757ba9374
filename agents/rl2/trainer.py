"""RL² (Duan et al. 2016) trained with PPO over whole trials (:class:`~metarl.agents.rl2.trials.TrialPPOTrainer`).

The network is one recurrent actor-critic whose state spans the inner episodes of a trial; optional
auxiliary heads predict the outcome of each action or the task's own parameters from its features.
"""

from __future__ import annotations

import math

import torch
from metarl.agents.rl2.adaptive import RL2Adaptive
from metarl.agents.rl2.config import RL2Config
from metarl.agents.rl2.policy import RecurrentActorCritic
from metarl.agents.rl2.trials import TrialPPOTrainer
from torch import nn

from metarl.errors import ConfigError
from metarl.rl import Rollout


class RL2Trainer(TrialPPOTrainer):
    """Trains a :class:`RecurrentActorCritic` on an environment family's RL² view.

    Example:
        >>> bandit = {"env": "metarl/BernoulliBandit-v0", "env_kwargs": {"arms": 2, "pulls": 10}}
        >>> trainer = RL2Trainer(RL2Config(**bandit, num_envs=64, total_steps=6400))
        >>> path = trainer.fit(progress=False)  # doctest: +SKIP
    """

    agent = "rl2"
    config_type = RL2Config
    data_parallel = True

    def build_model(self, input_size: int) -> nn.Module:
        cfg = self.config
        self.task_fields = self._task_fields()
        return RecurrentActorCritic(input_size, self.env.single_action_space, cfg.hidden, cfg.cell, cfg.embed,
                                    cfg.head_hidden, cfg.separate_critic, outcome_size=self._outcome_size(),
                                    task_size=self._task_size())

    def adaptive_agent(self, greedy: bool = False, seed: int = 0) -> RL2Adaptive:
        """This policy as a protocol runs it (:class:`~metarl.agents.rl2.adaptive.RL2Adaptive`)."""
        self.model.eval()
        return RL2Adaptive(self.model, self.inputs, greedy, seed)

    def _outcome_size(self) -> int:
        """What the outcome model predicts: the reward, then the next observation when that is asked for."""
        cfg = self.config
        if cfg.reward_prediction_coef == 0 and cfg.next_obs_prediction_coef == 0:
            return 0
        return 1 + self.inputs.obs_size * (cfg.next_obs_prediction_coef > 0)

    def _task_fields(self) -> list[str]:
        """The task fields the task prediction regresses (none when it is off)."""
        cfg = self.config
        if cfg.task_prediction_coef == 0:
            return []
        available = list(self.env.task_shapes(1))
        unknown = [name for name in cfg.task_prediction_fields if name not in available]
        if unknown:
            raise ConfigError(f"task_prediction_fields {unknown} are not fields of {self.env.family}'s tasks; "
                              f"its fields are {available}")
        return list(cfg.task_prediction_fields) or available

    def _task_size(self) -> int:
        shapes = self.env.task_shapes(1)
        return sum(math.prod(shapes[name][0][1:]) for name in self.task_fields)

    def _task_targets(self) -> torch.Tensor:
        """(B, D) the current tasks' fields named in ``task_fields``, flattened and concatenated."""
        fields = self.env.task.fields()
        return torch.cat([fields[name].reshape(self.env.num_envs, -1).float() for name in self.task_fields], 1)

    def extra_fields(self) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        return {"task": ((self._task_size(),), torch.float32)} if self.task_fields else {}

    def record_before(self, rollout: Rollout, t: int) -> None:
        if self.task_fields:  # before the step, which draws the next trial's task where one ends
            rollout.put(t, task=self._task_targets())

    def auxiliary_loss(self, features: torch.Tensor, data: dict[str, torch.Tensor], idx: torch.Tensor,
                       whole: torch.Tensor, stats: dict[str, list[torch.Tensor]]) -> torch.Tensor | None:
        cfg, model = self.config, self.model
        loss = None
        if model.outcome_model is not None:
            outcome = model.outcome_model(features, data["action"][:, idx])
            reward_error, next_obs_error = self._prediction_errors(outcome, data, idx, whole)
            loss = cfg.reward_prediction_coef * reward_error + cfg.next_obs_prediction_coef * next_obs_error
            stats.setdefault("reward_prediction", []).append(reward_error.detach())
            stats.setdefault("next_obs_prediction", []).append(next_obs_error.detach())
        if self.task_fields:
            task_error = 0.5 * (model.task_model(features) - data["task"][:, idx]).square().mean()
            loss = cfg.task_prediction_coef * task_error + (0 if loss is None else loss)
            stats.setdefault("task_prediction", []).append(task_error.detach())
        return loss

    def _prediction_errors(self, outcome: torch.Tensor, data: dict[str, torch.Tensor], idx: torch.Tensor,
                           whole: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Half mean squared errors of the predicted rewards and next observations of sequences ``idx``.

        The next observation of a step is the next step's own observation, known only within the
        sequence and not across an inner-episode end (the next input then shows the reset observation).
        """
        reward_error = 0.5 * (outcome[..., 0] - data["reward"][:, idx]).square().mean()
        if outcome.shape[-1] == 1:
            return reward_error, torch.zeros((), device=outcome.device)
        obs = data["obs"][:, idx]
        after_end = obs[1:, :, self.env.single_observation_space.shape[0] - 1] > 0  # the previous inner-done flag
        known = (~data["start"][1:, idx] & ~after_end).to(obs.dtype)
        squared = (outcome[:-1, :, 1:] - obs[1:, :, : self.inputs.obs_size]).square().sum(-1)
        # Averaged over the known steps of the whole minibatch ``whole`` (of which ``idx`` is this process's part).
        whole = idx if whole is None else whole
        every = data["obs"][1:, whole, self.env.single_observation_space.shape[0] - 1] > 0
        count = (~data["start"][1:, whole] & ~every).sum().clamp(min=1) / self.parallel.size
        return reward_error, 0.5 * (squared * known).sum() / count
