"""MAML-RL (Finn et al. 2017): learn an initialisation from which one policy-gradient step adapts to a task.

Each meta-iteration draws ``meta_batch`` tasks and, for all of them at once on the device:

1. collects ``trajectories`` trajectories per task with the shared parameters (one batched rollout);
2. takes ``inner_steps`` vanilla policy-gradient steps per task (linear feature baseline, step size
   ``inner_lr``), collecting fresh trajectories with the adapted parameters after each;
3. updates the shared parameters on the post-adaptation trajectories through the inner steps
   (second order by default): TRPO on the importance-weighted surrogate with a bound on the mean KL
   of the adapted policies, as in the paper, or Adam on the clipped surrogate (``outer: ppo``).

``pretrain: true`` trains the multi-task baseline of the paper's comparison with the same steps per
iteration: one policy for every task, TRPO (or PPO) on all the trajectories, no adaptation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium
import torch
from metarl.agents.maml_rl.config import MAMLConfig
from metarl.agents.maml_rl.evaluate import evaluate_adaptation, format_table
from metarl.agents.maml_rl.sampling import (
    Batch,
    adapted_fisher_product,
    collect,
    inner_loss,
    masked_task_mean,
    process,
    surrogate,
)

from metarl.engine import join_env_states, split_env_state
from metarl.errors import ConfigError
from metarl.registry import make
from metarl.rl import MLPPolicy, adapt, clipped_surrogate, per_task_call, task_params, trpo_step
from metarl.rl.functional import Params
from metarl.training.loop import Trainer, check_finite


def build_policy(config: MAMLConfig, env: Any, seed: int) -> MLPPolicy:
    """The config's MLP policy for ``env``'s spaces, initialised from ``seed`` (the global RNG is left alone).

    Example:
        >>> import metarl
        >>> policy = build_policy(MAMLConfig(hidden=[8]), metarl.make("metarl/Navigation2D-v0"), seed=0)
        >>> policy.env_action(torch.zeros(1, 2)).shape
        torch.Size([1, 2])
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        policy = MLPPolicy(env.single_observation_space.shape[0], env.single_action_space, config.hidden,
                           config.activation, config.init_log_std, config.unit_actions)
    return policy.to(env.device)


class MAMLTrainer(Trainer):
    """Trains an :class:`MLPPolicy` initialisation with MAML-RL (or the multi-task baseline with ``pretrain``).

    Example:
        >>> config = MAMLConfig(meta_batch=4, trajectories=5, env_kwargs={"horizon": 10}, total_steps=4000)
        >>> path = MAMLTrainer(config).fit(progress=False)  # doctest: +SKIP
    """

    agent = "maml-rl"
    config_type = MAMLConfig
    data_parallel = True
    metrics = ("charts/post_adaptation_return", "charts/pre_adaptation_return")
    seed_streams = {"env": 0, "model": 0, "tasks": 0, "actions": 1, "random-init": 10_000}
    """Random streams: env resets, policy init, task sampling, action sampling (on the device), and the "random
    init" baseline's policy (derived from the evaluation's seed)."""

    def __init__(self, config: MAMLConfig) -> None:
        super().__init__(config)
        cfg = self.config = config
        self.part = self.parallel.shard(cfg.meta_batch, "meta_batch")
        """This process's tasks of the ``meta_batch`` (all of them in one process)."""
        self.tasks = self.part.stop - self.part.start
        self.env = make(cfg.env, num_envs=self.tasks * cfg.trajectories, device=self.device,
                        seed=self.stream_seed("env"), check=False, first_env=self.part.start * cfg.trajectories,
                        **cfg.env_kwargs)
        space = self.env.single_observation_space
        if not isinstance(space, gymnasium.spaces.Box) or len(space.shape) != 1:
            raise ConfigError(f"{cfg.env}: MAML-RL's MLP policy needs a flat Box observation space, got {space}")
        self.policy = build_policy(cfg, self.env, self.stream_seed("model"))
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=cfg.outer_lr) if cfg.outer == "ppo" else None
        self.task_generator = self.generator("tasks")
        self.sampler = self.generator("actions", self.device)
        self.steps_per_iteration = (cfg.inner_steps + 1) * cfg.meta_batch * cfg.trajectories * self.env.trial_steps

    def run_label(self) -> str:
        return f"{self.env.family}__{self.agent}" + ("-pretrained" if self.config.pretrain else "")

    # ------------------------------------------------------------------ one meta-iteration
    def _collect(self, params: Params, tasks: Any) -> Batch:
        cfg = self.config
        batch = collect(self.env, self.policy, params, tasks, cfg.trajectories, self.sampler, self.parallel.draw)
        self.global_step += cfg.meta_batch * cfg.trajectories * self.env.trial_steps
        return process(batch, cfg.gamma, cfg.gae_lambda, cfg.baseline_reg, cfg.normalize_advantages)

    def _meta_params(self, tasks: int, detached: bool = False) -> Params:
        params = {name: p.detach() if detached else p for name, p in self.policy.named_parameters()}
        return task_params(params, tasks)

    def _tasks(self) -> Any:
        """``meta_batch`` training tasks: this process's shard of them."""
        tasks = self.env.sample_tasks(self.config.meta_batch, self.task_generator, split="train")
        return tasks if not self.parallel.active else tasks[torch.arange(self.config.meta_batch)[self.part]]

    def train_iteration(self) -> dict[str, float]:
        cfg, policy, G = self.config, self.policy, self.tasks
        if cfg.pretrain:
            return self._pretrain_iteration()
        tasks = self._tasks()
        params, batches = self._meta_params(G, detached=True), []
        for _ in range(cfg.inner_steps):
            batches.append(self._collect(params, tasks))
            with torch.no_grad():
                params = adapt(lambda p, _, b=batches[-1]: inner_loss(policy, p, b), params, [cfg.inner_lr])[-1]
        post = self._collect(params, tasks)

        def adapted() -> Params:
            return adapt(lambda p, k: inner_loss(policy, p, batches[k]), self._meta_params(G),
                         [cfg.inner_lr] * cfg.inner_steps, cfg.first_order)[-1]

        def fisher() -> Any:
            return adapted_fisher_product(policy, batches, post, [cfg.inner_lr] * cfg.inner_steps, cfg.first_order,
                                          cfg.cg_damping, cfg.cg_subsample)

        scalars = self._outer_update(adapted, post, fisher)
        returns = [float(b.returns().mean()) for b in [*batches, post]]
        scalars.update({f"adaptation/step_{k}": value for k, value in enumerate(returns)})
        scalars["charts/pre_adaptation_return"], scalars["charts/post_adaptation_return"] = returns[0], returns[-1]
        return scalars

    def _pretrain_iteration(self) -> dict[str, float]:
        cfg, G = self.config, self.tasks
        params = self._meta_params(G, detached=True)
        batch = Batch.cat([self._collect(params, self._tasks())
                           for _ in range(cfg.inner_steps + 1)])

        def fisher() -> Any:  # the KL's Hessian, through the same (subsampled) product as MAML's
            return adapted_fisher_product(self.policy, [], batch, [], False, cfg.cg_damping, cfg.cg_subsample)

        scalars = self._outer_update(lambda: self._meta_params(batch.tasks), batch, fisher)
        scalars["charts/pre_adaptation_return"] = float(batch.returns().mean())
        return scalars

    def _outer_update(self, adapted: Any, batch: Batch, fisher: Any = None) -> dict[str, float]:
        """Update the shared parameters on ``batch``, collected with the policies ``adapted()`` returns now.

        ``fisher()`` (TRPO only) makes the Fisher-vector product; by default TRPO differentiates the KL twice.
        """
        cfg, policy = self.config, self.policy
        entropy = float(masked_task_mean(policy.entropy(batch.dist), batch.mask).mean())
        if cfg.outer == "trpo":
            def objective() -> tuple[torch.Tensor, torch.Tensor]:
                return surrogate(policy, adapted(), batch)[:2]

            result = trpo_step(list(policy.parameters()), objective, cfg.max_kl, cfg.cg_iterations, cfg.cg_damping,
                               cfg.backtrack_ratio, cfg.max_backtracks,
                               check=lambda loss: check_finite("the surrogate loss", loss),
                               fisher_product=fisher() if fisher is not None else None,
                               average=self.parallel.mean)
            return {"losses/surrogate_before": result.loss_before, "losses/surrogate_after": result.loss_after,
                    "losses/kl": result.kl, "losses/line_search_accepted": float(result.accepted),
                    "losses/line_search_backtracks": float(result.backtracks),
                    "losses/step_fraction": result.fraction, "losses/gradient_norm": result.gradient_norm,
                    "losses/entropy": entropy}
        valid = batch.mask > 0
        # The loss is a mean over the valid steps of every process: this process's mean, weighted by its share.
        count = valid.sum().double()
        share = float(count / self.parallel.mean(count))
        old_logprob = policy.log_prob(batch.dist, batch.actions)[valid]
        advantages = batch.advantages[valid]
        stats: dict[str, list[float]] = {"loss": [], "approx_kl": [], "clip_fraction": []}
        for _ in range(cfg.outer_epochs):
            out = per_task_call(policy, adapted(), batch.task_major("obs")).transpose(0, 1)
            logprob = policy.log_prob(out, batch.actions)[valid]
            pg = clipped_surrogate(logprob, old_logprob, advantages, cfg.clip)
            check_finite("the clipped surrogate loss", pg.loss)
            self.optimizer.zero_grad(set_to_none=True)
            (pg.loss * share).backward()
            self.parallel.average_gradients(self.optimizer)
            torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
            self.optimizer.step()
            for key in stats:
                stats[key].append(float(getattr(pg, key).detach()))
        with torch.no_grad():
            surrogate_after, kl, _ = surrogate(policy, adapted(), batch)
        return {"losses/surrogate_before": stats["loss"][0], "losses/surrogate_after": float(surrogate_after),
                "losses/kl": float(kl), "losses/approx_kl": stats["approx_kl"][-1],
                "losses/clip_fraction": stats["clip_fraction"][-1], "losses/entropy": entropy}

    def headline(self, scalars: dict[str, float]) -> str:
        text = f"return {scalars['charts/pre_adaptation_return']:.2f}"
        if "charts/post_adaptation_return" in scalars:
            text += f" -> {scalars['charts/post_adaptation_return']:.2f} adapted"
        return text

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, policy: MLPPolicy, tasks: int, split: str = "test", seed: int = 0,
                 step_sizes: Sequence[float] | None = None) -> Any:
        """:func:`evaluate_adaptation` of ``policy`` with this run's evaluation settings (``step_sizes``: instead of
        ``eval_step_sizes``)."""
        return evaluate_adaptation(policy, self.config, tasks, split=split, seed=seed, device=self.device,
                                   step_sizes=step_sizes)

    def adaptive_agent(self, greedy: bool = False, seed: int = 0) -> Any:
        """This run's meta-learned policy as a protocol runs it (:class:`~metarl.agents.maml_rl.adaptive.MAMLAdaptive`;
        actions are sampled: the inner step learns from them)."""
        from metarl.agents.maml_rl.adaptive import MAMLAdaptive

        return MAMLAdaptive(self.policy, self.config, seed)

    def random_policy(self, seed: int = 0) -> MLPPolicy:
        """A freshly initialised policy of this run's architecture (the "random init" baseline)."""
        return build_policy(self.config, self.env, self.stream_seed("random-init", seed))

    def load_baseline(self, path: str | Path) -> MLPPolicy:
        """The policy of a ``pretrain: true`` run on the same environment, from its checkpoint or run directory."""
        baseline = type(self).resume(path, {"device": str(self.device)})
        cfg, other = self.config, baseline.config
        if not isinstance(baseline, MAMLTrainer) or not other.pretrain:
            raise ConfigError(f"baseline_checkpoint {path} is not a `pretrain: true` MAML-RL run")
        if (other.env, baseline.env.config) != (cfg.env, self.env.config):
            raise ConfigError(f"baseline_checkpoint {path} was trained on {other.env} {baseline.env.config}, "
                              f"this run on {cfg.env} {self.env.config}")
        return baseline.policy

    def evaluation_report(self, trials: int = 100, split: str = "test", seed: int = 0, greedy: bool = False,
                          baseline: str | Path | None = None) -> list[str]:
        """Return after 0..n gradient steps on ``trials`` held-out tasks: this run, the baselines, the paper."""
        from metarl.published import maml_published

        cfg, env = self.config, self.env
        steps = len(cfg.eval_step_sizes)
        rows: list[tuple[str, Any, str]] = [
            (f"{'pretrained' if cfg.pretrain else 'maml-rl'} (this run)", self.evaluate(self.policy, trials, split,
                                                                                         seed), "")]
        if not cfg.pretrain:
            path = baseline or cfg.baseline_checkpoint
            if path:
                rows.append(("pretrained (multi-task)", self.evaluate(self.load_baseline(path), trials, split, seed),
                             ""))
            else:
                rows.append(("pretrained (multi-task)", None,
                             "not trained: set baseline_checkpoint to a `pretrain: true` run"))
        rows.append(("random init", self.evaluate(self.random_policy(seed), trials, split, seed), ""))
        settings = ", ".join(f"{k}={v}" for k, v in env.config.items())
        sizes = ", ".join(f"{a:g}" for a in cfg.eval_step_sizes)
        lines = [f"{cfg.env} ({settings}): {trials} {split} tasks (seed {seed}), {cfg.eval_trajectories} trajectories "
                 f"per gradient step, step sizes {sizes}; checkpoint at {self.global_step:,} steps "
                 f"(meta-iteration {self.iteration})",
                 "  mean return of the trajectories collected after k gradient steps (± 95% interval over tasks)"]
        published = maml_published(env.family, env.config)
        lines += format_table(rows, steps, published and published["maml"], published and published["targets"],
                              reference=published["source"] if published else "")
        if greedy:
            lines.append("  (actions are sampled: the gradient steps learn from the sampled trajectories)")
        return lines

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        env = self.env.state_dict()
        if self.parallel.active:  # every process's environments: the run resumes with any number of processes
            env = join_env_states(self.parallel.gather_objects(env))
        state = {"policy": self.policy.state_dict(), "task_generator": self.task_generator.get_state(),
                 "sampler": self.sampler.get_state(), "env": env}
        if self.optimizer is not None:
            state["optimizer"] = self.optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.task_generator.set_state(state["task_generator"].cpu())
        self.sampler.set_state(state["sampler"].cpu())
        env, trajectories = state["env"], self.config.trajectories
        if env.get("num_envs") != self.env.num_envs:  # saved by another number of processes
            env = split_env_state(env, slice(self.part.start * trajectories, self.part.stop * trajectories))
        self.env.load_state_dict(env)
        if self.optimizer is not None:
            self.optimizer.load_state_dict(state["optimizer"])
