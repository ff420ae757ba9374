"""MAML-RL as an :class:`~metarl.protocols.AdaptiveAgent`: a benchmark protocol runs it like any other agent."""

from __future__ import annotations

import torch
from metarl.agents.maml_rl.config import MAMLConfig
from metarl.agents.maml_rl.sampling import Batch, inner_loss, process

from metarl.protocols import AdaptiveAgent
from metarl.rl import MLPPolicy, adapt, per_task_call, task_params


class MAMLAdaptive(AdaptiveAgent):
    """MAML under a protocol: each task starts from the meta-learned parameters, acts and records its adaptation
    episodes, and at :meth:`adapt` takes the inner policy-gradient step of training (``inner_lr``, the same loss,
    advantages and baseline) on them; the scored episodes act with the adapted parameters.

    Example:
        >>> import metarl
        >>> from metarl.agents.maml_rl import MAMLConfig, MAMLTrainer
        >>> trainer = MAMLTrainer(MAMLConfig(env_kwargs={"horizon": 4}, meta_batch=2, trajectories=2, hidden=[8]))
        >>> agent, env = trainer.adaptive_agent(), metarl.make(trainer.config.env, num_envs=3, horizon=4)
        >>> obs = env.reset(); agent.start(env)
        >>> for _ in range(4):
        ...     agent.observe(env.step(agent.act(obs)))
        >>> agent.adapt(); agent.act(obs).shape  # the three tasks now act with their adapted parameters
        torch.Size([3, 2])
    """

    def __init__(self, policy: MLPPolicy, config: MAMLConfig, seed: int = 0) -> None:
        self.policy, self.config, self.seed = policy, config, seed

    def start(self, env) -> None:
        self.n, self.horizon = env.num_envs, env.horizon
        self.generator = torch.Generator(env.device).manual_seed(self.seed)
        self.params = task_params({k: v.detach() for k, v in self.policy.named_parameters()}, self.n)
        self.rows: dict[str, list[torch.Tensor]] = {"obs": [], "actions": [], "rewards": [], "dist": []}

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.view(self.n, 1, -1)
        out = per_task_call(self.policy, self.params, x)
        action = self.policy.sample(out, self.generator)
        self._acted = (x, action, out)
        return self.policy.env_action(action).reshape(self.n, *action.shape[2:])

    def observe(self, step) -> None:
        x, action, out = self._acted
        for name, value in (("obs", x), ("actions", action), ("dist", out), ("rewards", step.reward.view(self.n, 1))):
            self.rows[name].append(value)

    def adapt(self) -> None:
        """One inner step per task on the episodes recorded since the last one (each a trajectory of K)."""
        cfg, h = self.config, self.horizon
        episodes = len(self.rows["rewards"]) // h

        def trajectories(name: str) -> torch.Tensor:  # (K * H, G, 1, ...) -> (H, G, K, ...)
            x = torch.stack(self.rows[name][:episodes * h]).squeeze(2)
            return x.view(episodes, h, *x.shape[1:]).movedim(0, 2)

        rewards = trajectories("rewards")
        batch = Batch(trajectories("obs"), trajectories("actions"), rewards, torch.ones_like(rewards),
                      trajectories("dist"))
        process(batch, cfg.gamma, cfg.gae_lambda, cfg.baseline_reg, cfg.normalize_advantages)
        with torch.no_grad():  # adapt differentiates the inner loss itself and returns parameters with no graph
            self.params = adapt(lambda p, _: inner_loss(self.policy, p, batch), self.params, [cfg.inner_lr])[-1]
        self.rows = {name: [] for name in self.rows}
