"""PEARL (Rakelly et al. 2019): off-policy meta-RL with a probabilistic context variable.

A context encoder turns a task's transitions into a Gaussian posterior over a latent z (a product of
per-transition factors); SAC's actor and critics take z beside the observation. The encoder learns from the
critics' Bellman error plus a KL term towards the prior N(0, I) (an information bottleneck). At test time a
trial starts from the prior: a z drawn from it makes the first episodes explore, and the posterior, sharpened
by every transition, makes the later ones exploit (posterior sampling).

Each iteration, for ``tasks_per_iteration`` training tasks at once (one batched environment per task):

1. the task's context is cleared and refilled with ``prior_steps`` steps taken with z from the prior, then
   ``posterior_steps`` with z from the posterior given that context;
2. ``extra_posterior_steps`` more with z from the posterior go to the actor-critic's replay only;

then ``gradient_steps`` times: ``meta_batch`` tasks, a context batch from each task's latest collection and an
actor-critic batch from its whole replay, one SAC step with z (and the KL) for the encoder.

Data-parallel (``torchrun``): each process steps its contiguous share of the collecting tasks, and every process
adds the gathered transitions of all of them to its replay, so the replays stay identical; each gradient step
splits the ``meta_batch`` tasks, and the gradients of the critics, actor, temperature and encoder are averaged.
Every random number is drawn for the whole batch and sliced (:meth:`~metarl.training.parallel.Parallel.draw`).
Rank 0 alone runs the validation trials.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import torch
from metarl.agents.pearl.config import PEARLConfig
from metarl.agents.pearl.encoder import ContextEncoder, kl_to_prior, sample_posterior

from metarl.engine import join_env_states, split_env_state
from metarl.errors import ConfigError
from metarl.registry import make
from metarl.rl.replay import TaskReplay
from metarl.rl.rollout import Rollout
from metarl.rl.sac import SAC, scale_action
from metarl.tasks import Task
from metarl.training.loop import Trainer, check_finite


class PEARLTrainer(Trainer):
    """Trains a PEARL agent: a context encoder and a z-conditioned SAC.

    Example:
        >>> config = PEARLConfig(env_kwargs={"horizon": 20}, train_tasks=4, hidden=[32], encoder_hidden=[32],
        ...                      buffer_capacity=100, device="cpu")
        >>> PEARLTrainer(config).replay.size.tolist()  # one ring per training task, empty until it collects
        [0, 0, 0, 0]
    """

    agent = "pearl"
    config_type = PEARLConfig
    data_parallel = True
    metrics = ("charts/adapted_return", "charts/first_episode_return")
    seed_streams = {"env": 0, "model": 1, "tasks": 2, "picks": 3, "sampling": 4}
    """Random streams: the collecting environments, the networks' initialisation, the bank of training tasks,
    which tasks collect and train, and every draw on the device (actions, z, batches)."""

    def __init__(self, config: PEARLConfig) -> None:
        super().__init__(config)
        cfg = self.config = config
        self.part = self.parallel.shard(cfg.tasks_per_iteration, "tasks_per_iteration")
        """This process's collecting environments of the ``tasks_per_iteration`` (all of them in one process)."""
        self.parallel.shard(cfg.meta_batch, "meta_batch")  # both split evenly, checked up front
        self.env = make(cfg.env, num_envs=self.part.stop - self.part.start, device=self.device,
                        seed=self.stream_seed("env"), check=False, first_env=self.part.start, **cfg.env_kwargs)
        obs_space, action_space = self.env.single_observation_space, self.env.single_action_space
        if not isinstance(obs_space, gymnasium.spaces.Box) or len(obs_space.shape) != 1:
            raise ConfigError(f"{cfg.env}: PEARL needs a flat Box observation space, got {obs_space}")
        if not isinstance(action_space, gymnasium.spaces.Box) or len(action_space.shape) != 1:
            raise ConfigError(f"{cfg.env}: PEARL needs continuous (flat Box) actions, got {action_space}")
        if cfg.critic_reward == "dense" and not hasattr(self.env, "dense_reward"):
            raise ConfigError(f"critic_reward 'dense' needs a family with a dense_reward; {cfg.env} has none: use "
                              "'env'")
        self.obs_size, self.action_size = obs_space.shape[0], action_space.shape[0]
        self.low = torch.as_tensor(action_space.low, device=self.device)
        self.high = torch.as_tensor(action_space.high, device=self.device)
        self.context_width = 2 * self.obs_size + self.action_size + 1 if cfg.context_next_obs else \
            self.obs_size + self.action_size + 1
        model = self.generator("model")
        self.sac = SAC(self.obs_size + cfg.latent, self.action_size, cfg.hidden, lr=cfg.lr, gamma=cfg.gamma,
                       tau=cfg.tau, alpha=cfg.alpha, target_entropy=cfg.target_entropy,
                       reward_scale=cfg.reward_scale, policy_reg=cfg.policy_reg, generator=model).to(self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(0, 2**62, (), generator=model)))
            self.encoder = ContextEncoder(self.context_width, cfg.latent, cfg.encoder_hidden).to(self.device)
        self.encoder_optimizer = torch.optim.Adam(self.encoder.parameters(), lr=cfg.lr)
        real = torch.get_default_dtype()  # the learner's precision
        specs = {"obs": ((self.obs_size,), real), "action": ((self.action_size,), real), "reward": ((), real),
                 "critic_reward": ((), real), "next_obs": ((self.obs_size,), real), "terminated": ((), real)}
        self.replay = TaskReplay(cfg.train_tasks, cfg.buffer_capacity, specs, self.device)
        context_capacity = max(cfg.initial_steps, cfg.prior_steps + cfg.posterior_steps, 1)
        self.context = TaskReplay(cfg.train_tasks, context_capacity, specs, self.device)
        self.tasks = self.env.sample_tasks(cfg.train_tasks, self.generator("tasks"), split="train")
        self.picks = self.generator("picks")
        self.sampler = self.generator("sampling", self.device)
        self.last_evaluation: Any = None

    def run_label(self) -> str:
        return f"{self.env.family}__{self.agent}"

    # ------------------------------------------------------------------ acting
    def policy_input(self, obs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([obs, z], -1)

    def context_rows(self, obs: torch.Tensor, action: torch.Tensor, reward: torch.Tensor, next_obs: torch.Tensor
                     ) -> torch.Tensor:
        """The encoder's input for transitions: (obs, action, reward[, next_obs])."""
        parts = [obs, action, reward.unsqueeze(-1)] + ([next_obs] if self.config.context_next_obs else [])
        return torch.cat(parts, -1)

    def batch_context(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.context_rows(batch["obs"], batch["action"], batch["reward"], batch["next_obs"])

    def task_rows(self, index: torch.Tensor) -> Task:
        return type(self.tasks)(**{k: v[index] for k, v in self.tasks.fields().items()})

    def _collect(self, index: torch.Tensor, steps: int, posterior: bool, into_context: bool) -> torch.Tensor:
        """``steps`` steps (whole trajectories) on each training task ``index`` (K,); returns their mean return.

        Each trajectory fills a (horizon, K) rollout on the device (gathered from every process's share of the
        tasks) and goes to the replay in one write.
        """
        env, cfg, world, real = self.env, self.config, self.parallel, torch.get_default_dtype()
        trajectories = -(-steps // env.horizon)
        total = torch.zeros((), device=self.device)
        rows = index.repeat(env.horizon)  # time-major, the order of the flattened rollout
        own = index[self.part]
        for _ in range(trajectories):
            if posterior:
                batch = self.context.sample(own, cfg.context_size, self.sampler, draw=world.draw)
                with torch.no_grad():
                    z = sample_posterior(*self.encoder.posterior(self.batch_context(batch)), self.sampler,
                                         draw=world.draw)
            else:
                z = world.draw(torch.randn, (own.shape[0], cfg.latent), generator=self.sampler, device=self.device)
            rollout = Rollout(env.horizon, own.shape[0], self.replay.specs, self.device)
            alive = torch.ones(own.shape[0], dtype=torch.bool, device=self.device)
            mask = torch.empty(env.horizon, own.shape[0], dtype=torch.bool, device=self.device)
            obs = env.reset(task=self.task_rows(own)).to(real)
            for t in range(env.horizon):
                action = self.sac.act(self.policy_input(obs, z), self.sampler, draw=world.draw)
                step = env.step(scale_action(action, self.low, self.high).to(self.low.dtype))
                critic_reward = env.dense_reward if cfg.critic_reward == "dense" else step.reward
                rollout.put(t, obs=obs, action=action, reward=step.reward, critic_reward=critic_reward,  # as ``real``
                            next_obs=step.final_obs, terminated=step.terminated)
                mask[t] = alive
                alive = alive & ~step.episode_end
                obs = step.obs.to(real)
            mask = world.gather(mask, 1)
            flat = {name: world.gather(value, 1).flatten(0, 1) for name, value in rollout.data.items()}
            self.replay.add(rows, mask.flatten(), **flat)
            if into_context:
                self.context.add(rows, mask.flatten(), **flat)
            total = total + (flat["reward"] * mask.flatten()).sum()
            self.global_step += index.shape[0] * env.horizon
        return total / (index.shape[0] * trajectories)

    def _initial_collection(self) -> None:
        cfg, K = self.config, self.config.tasks_per_iteration
        for start in range(0, cfg.train_tasks, K):
            index = torch.arange(start, start + K, device=self.device) % cfg.train_tasks  # collected by every process
            self._collect(index, cfg.initial_steps, posterior=False, into_context=True)

    # ------------------------------------------------------------------ one iteration
    def train_iteration(self) -> dict[str, float]:
        cfg = self.config
        if self.iteration == 0 and cfg.initial_steps:
            self._initial_collection()
        index = torch.randint(0, cfg.train_tasks, (cfg.tasks_per_iteration,), generator=self.picks).to(self.device)
        self.context.clear(index)
        returns = {}
        if cfg.prior_steps:
            returns["prior"] = self._collect(index, cfg.prior_steps, posterior=False, into_context=True)
        if cfg.posterior_steps:
            returns["posterior"] = self._collect(index, cfg.posterior_steps, posterior=True, into_context=True)
        if cfg.extra_posterior_steps:
            returns["posterior"] = self._collect(index, cfg.extra_posterior_steps, posterior=True, into_context=False)
        sums: dict[str, torch.Tensor] = {}
        for _ in range(cfg.gradient_steps):
            for key, value in self._gradient_step().items():
                sums[key] = sums.get(key, 0.0) + value
        scalars = {f"losses/{k}": float(v) / cfg.gradient_steps for k, v in sums.items()}
        check_finite("the critic loss", torch.tensor(scalars["losses/critic_loss"]))
        scalars.update({f"charts/collect_return_{k}": float(v) for k, v in returns.items()})
        if cfg.eval_every and (self.iteration + 1) % cfg.eval_every == 0 and self.parallel.is_main:
            scalars.update(self._evaluation_scalars())
        return scalars

    def _gradient_step(self) -> dict[str, torch.Tensor]:
        cfg, world = self.config, self.parallel
        index = torch.randint(0, cfg.train_tasks, (cfg.meta_batch,), generator=self.picks).to(self.device)
        index = index[world.shard(cfg.meta_batch, "meta_batch")]  # this process's tasks
        context = self.batch_context(self.context.sample(index, cfg.context_size, self.sampler, draw=world.draw))
        batch = self.replay.sample(index, cfg.batch_size, self.sampler, draw=world.draw)
        mean, var = self.encoder.posterior(context)
        z = sample_posterior(mean, var, self.sampler, draw=world.draw)
        kl = kl_to_prior(mean, var).sum()  # over this process's tasks; the averaged gradient is the sum's over all
        flat = {k: v.flatten(0, 1) for k, v in batch.items()}
        features = z.unsqueeze(1).expand(-1, cfg.batch_size, -1).flatten(0, 1)
        self.encoder_optimizer.zero_grad(set_to_none=True)
        out = self.sac.update(flat["obs"], flat["action"], flat["critic_reward"], flat["next_obs"],
                              flat["terminated"], features=features, aux_loss=cfg.kl_weight * kl * world.size,
                              generator=self.sampler, draw=world.draw, average=world.average_gradients)
        world.average_gradients(self.encoder_optimizer)
        self.encoder_optimizer.step()
        out["kl"] = kl.detach() / index.shape[0]
        out["posterior_variance"] = var.detach().mean()
        return out

    def _evaluation_scalars(self) -> dict[str, float]:
        from metarl.agents.pearl.evaluate import evaluate_pearl

        cfg = self.config
        result = evaluate_pearl(self, cfg.eval_tasks, split="validation", seed=self.config.seed)
        self.last_evaluation = result
        scalars = {f"adaptation/episode_{k}": float(v) for k, v in enumerate(result.episode_means())}
        scalars.update({f"adaptation/posterior_entropy_episode_{k}": float(v)
                        for k, v in enumerate(result.entropy_at_episode_ends())})
        scalars["charts/first_episode_return"] = scalars["adaptation/episode_0"]
        scalars["charts/adapted_return"] = scalars[f"adaptation/episode_{cfg.eval_trajectories - 1}"]
        return scalars

    def figures(self) -> dict[str, Any]:
        if self.last_evaluation is None:
            return {}
        from metarl.agents.pearl.evaluate import entropy_figure

        return {"adaptation/posterior_entropy": entropy_figure(self.last_evaluation)}

    def headline(self, scalars: dict[str, float]) -> str:
        if "charts/adapted_return" in scalars:
            return f"return {scalars['charts/first_episode_return']:.2f} -> {scalars['charts/adapted_return']:.2f}"
        return ""

    def evaluation_report(self, trials: int = 100, split: str = "test", seed: int = 0, greedy: bool = False
                          ) -> list[str]:
        """Return of each episode of a trial on ``trials`` held-out tasks, the posterior's entropy, the oracle."""
        from metarl.agents.pearl.evaluate import evaluate_pearl, report_lines

        return report_lines(self, evaluate_pearl(self, trials, split=split, seed=seed), trials, split, seed)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {"sac": self.sac.state_dict(), "optimizers": self.sac.optimizers_state(),
                "encoder": self.encoder.state_dict(), "encoder_optimizer": self.encoder_optimizer.state_dict(),
                "replay": self.replay.state_dict(), "context": self.context.state_dict(),
                "picks": self.picks.get_state(), "sampling": self.sampler.get_state(), "env": self._env_state()}

    def _env_state(self) -> dict[str, Any]:
        """Every process's collecting environments: the run resumes with any number of processes."""
        env = self.env.state_dict()
        return join_env_states(self.parallel.gather_objects(env)) if self.parallel.active else env

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sac.load_state_dict(state["sac"])
        self.sac.load_optimizers_state(state["optimizers"])
        self.encoder.load_state_dict(state["encoder"])
        self.encoder_optimizer.load_state_dict(state["encoder_optimizer"])
        self.replay.load_state_dict(state["replay"])
        self.context.load_state_dict(state["context"])
        self.picks.set_state(state["picks"].cpu())
        self.sampler.set_state(state["sampling"].cpu())
        env = state["env"]
        if env.get("num_envs") != self.env.num_envs:  # saved by another number of processes
            env = split_env_state(env, self.part)
        self.env.load_state_dict(env)
