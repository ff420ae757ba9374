"""RL² as an :class:`~metarl.protocols.AdaptiveAgent`: a benchmark protocol runs it like any other agent."""

from __future__ import annotations

import torch
from metarl.agents.rl2.policy import PolicyInputs, RecurrentActorCritic

from metarl.protocols import AdaptiveAgent


class RL2Adaptive(AdaptiveAgent):
    """RL² under a protocol: its recurrent state spans the whole trial, adaptation and scored episodes alike, so
    it adapts while it acts and :meth:`adapt` has nothing to do. Its inputs are built as in training
    (``trial_steps`` of the training environment for the time feature).

    Example:
        >>> import metarl
        >>> from metarl.agents.rl2 import RL2Config, RL2Trainer
        >>> trainer = RL2Trainer(RL2Config(env_kwargs={"arms": 2, "pulls": 5}, num_envs=4, hidden=8))
        >>> agent, env = trainer.adaptive_agent(), metarl.make(trainer.config.env, num_envs=3, rl2=True, arms=2)
        >>> agent.start(env); agent.act(env.reset()).shape
        torch.Size([3])
    """

    rl2 = True

    def __init__(self, model: RecurrentActorCritic, inputs: PolicyInputs, greedy: bool = False, seed: int = 0) -> None:
        self.model, self.inputs, self.greedy, self.seed = model, inputs, greedy, seed

    def start(self, env) -> None:
        n = env.num_envs
        self.generator = torch.Generator(env.device).manual_seed(self.seed)
        self.state = self.model.initial_state(n, env.device)
        self.first = torch.ones(n, dtype=torch.bool, device=env.device)
        self.t = torch.zeros(n, dtype=torch.long, device=env.device)
        self.previous: torch.Tensor | None = None

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        previous = torch.zeros_like(obs) if self.previous is None else self.previous
        params, _, self.state = self.model.step(self.inputs(obs, self.t, previous, self.first), self.state, self.first)
        self.previous, self.t = obs, self.t + 1
        self.first = torch.zeros_like(self.first)
        return self.model.head.mode(params) if self.greedy else self.model.head.sample(params, self.generator)

    def observe(self, step) -> None:
        """Nothing to keep: the RL² view carries the previous action, reward and episode end into the next input."""
