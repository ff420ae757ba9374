"""PPO over whole trials: the training step every recurrent meta-learner on the RL² observation shares.

Each iteration runs ``rollout_trials`` trials' worth of steps in ``num_envs`` environments on the
device, computes GAE with the trial as the episode (the objective is the total reward of a trial,
so a trial end is terminal and nothing is bootstrapped across it), and does PPO epochs over
sequences of ``bptt`` steps that start from the recurrent state recorded during collection.

An agent (RL², VariBAD) supplies its network through :meth:`TrialPPOTrainer.build_model`: any module with
``step(inputs, state, start) -> (params, value, state)``, ``sequence(inputs, state, start,
return_features=True) -> (params, values, features)``, ``initial_state(batch, device)`` and an action
``head``. Hooks add fields to the rollout (:meth:`~TrialPPOTrainer.extra_fields`), terms to the PPO loss
(:meth:`~TrialPPOTrainer.auxiliary_loss`) and a learning step after PPO (:meth:`~TrialPPOTrainer.after_ppo`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from metarl.agents.rl2.config import TrialPPOConfig
from metarl.agents.rl2.evaluate import TrialScores, evaluate_policy, short_run_note
from metarl.agents.rl2.policy import PolicyInputs
from torch import nn

from metarl.engine import join_env_states, split_env_state
from metarl.errors import ConfigError
from metarl.registry import make
from metarl.rl import (
    Rollout,
    RunningMeanStd,
    clipped_surrogate,
    explained_variance,
    gae,
    minibatch_indices,
    value_loss,
)
from metarl.training.loop import Trainer, check_finite


class TrialPPOTrainer(Trainer):
    """Collects trials on an environment family's RL² view and trains the agent's network on them with PPO."""

    config_type = TrialPPOConfig
    metrics = ("charts/trial_return",)
    seed_streams = {"env": 0, "model": 0, "actions": 0, "shuffle": 1}
    """Random streams: env resets, weight init, action sampling (on the device), minibatch shuffling."""

    def __init__(self, config: TrialPPOConfig) -> None:
        super().__init__(config)
        cfg = self.config = config
        self.part = self.parallel.shard(cfg.num_envs, "num_envs")
        """This process's environments of the ``num_envs`` (all of them in one process)."""
        self.env = make(cfg.env, num_envs=self.part.stop - self.part.start, device=self.device,
                        seed=self.stream_seed("env"), rl2=True, check=False, first_env=self.part.start,
                        **cfg.env_kwargs)
        self.steps = cfg.rollout_trials * self.env.trial_steps
        self.bptt = cfg.bptt or self.steps
        if self.steps % self.bptt:
            raise ConfigError(f"bptt={cfg.bptt} must divide the rollout length {self.steps} "
                              f"(rollout_trials x episodes x horizon)")
        if cfg.num_envs * (self.steps // self.bptt) < cfg.minibatches:
            raise ConfigError(f"minibatches={cfg.minibatches} is more than the {cfg.num_envs * self.steps // self.bptt}"
                              " sequences of a rollout")
        rl2_size = self.env.single_observation_space.shape[0]
        self.inputs = PolicyInputs(self.env.trial_steps, rl2_size - self.env.extra_size, cfg.time_feature,
                                   cfg.previous_obs)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.stream_seed("model"))
            self.model = self.build_model(self.inputs.size(rl2_size)).to(self.device)
        self.optimizer = torch.optim.Adam(self.ppo_parameters(), lr=cfg.lr, eps=1e-5)
        self.sampler = self.generator("actions", self.device)
        self.shuffler = self.generator("shuffle")
        self.value_stats = RunningMeanStd(self.device)
        self.iterations = math.ceil(cfg.total_steps / (self.steps * cfg.num_envs))
        B, dev = self.env.num_envs, self.device
        self.obs = self.env.reset().to(torch.get_default_dtype())  # the learner's precision
        self.previous = torch.zeros_like(self.obs)
        self.recurrent = self.model.initial_state(B, dev)
        self.trial_start = torch.ones(B, dtype=torch.bool, device=dev)
        self.tracker = {"trial_return": torch.zeros(B, device=dev), "episode_return": torch.zeros(B, device=dev),
                        "episode_index": torch.zeros(B, dtype=torch.long, device=dev),
                        "trial_step": torch.zeros(B, dtype=torch.long, device=dev)}
        self.last_adaptation: dict[str, torch.Tensor] = {}

    # ------------------------------------------------------------------ hooks
    def build_model(self, input_size: int) -> nn.Module:
        """The agent's network over inputs of ``input_size`` (built under the ``model`` seed)."""
        raise NotImplementedError

    def ppo_parameters(self) -> list[nn.Parameter]:
        """What the PPO optimizer updates (every parameter of the model unless the agent says otherwise)."""
        return list(self.model.parameters())

    def extra_fields(self) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        """Rollout fields the agent records beyond the PPO ones, filled by :meth:`record_before` and :meth:`record`."""
        return {}

    def record_before(self, rollout: Rollout, t: int) -> None:
        """Store what step ``t`` needs from before the environment steps (the task, which a trial end redraws)."""

    def record(self, rollout: Rollout, t: int, step: Any) -> None:
        """Store what step ``t`` needs from the environment's step (next observations, ...)."""

    def auxiliary_loss(self, features: torch.Tensor, data: dict[str, torch.Tensor], idx: torch.Tensor,
                       whole: torch.Tensor, stats: dict[str, list[torch.Tensor]]) -> torch.Tensor | None:
        """An extra term of the PPO minibatch loss over sequences ``idx`` (this process's part of the minibatch
        ``whole``); None: none. Parts to log go in ``stats``."""
        return None

    def after_ppo(self, rollout: Rollout, chunk_states: torch.Tensor) -> dict[str, float]:
        """A learning step after the PPO epochs on the same rollout; returns scalars to log."""
        return {}

    def run_label(self) -> str:
        return f"{self.env.family}__{self.agent}"

    # ------------------------------------------------------------------ collection
    def _collect(self) -> tuple[Rollout, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """One rollout: (steps, recurrent state at each chunk start, value after the last step, statistics)."""
        env, model, B, dev = self.env, self.model, self.env.num_envs, self.device
        episodes, trial_steps = env.episodes, env.trial_steps
        real = torch.get_default_dtype()  # the learner's precision (float64 where a run sets it as the default)
        action_shape, action_dtype = model.head.action_shape, torch.long if model.head.discrete else real
        fields = {
            "obs": ((self.inputs.size(self.obs.shape[1]),), real), "start": ((), torch.bool),
            "action": (action_shape, action_dtype), "logprob": ((), real), "value": ((), real),
            "reward": ((), real), "trial_end": ((), torch.bool), **self.extra_fields()}
        rollout = Rollout(self.steps, B, fields, dev)
        chunk_states = torch.zeros(self.steps // self.bptt, *self.recurrent.shape, device=dev)
        sums = {"trials": torch.zeros((), device=dev), "trial_return": torch.zeros((), device=dev),
                "episode_return": torch.zeros(episodes, device=dev), "episodes": torch.zeros(episodes, device=dev),
                "step_reward": torch.zeros(trial_steps, device=dev), "step_count": torch.zeros(trial_steps, device=dev)}
        track = self.tracker
        obs, previous, state, start = self.obs, self.previous, self.recurrent, self.trial_start
        for t in range(self.steps):
            if t % self.bptt == 0:
                chunk_states[t // self.bptt] = state
            inputs = self.inputs(obs, track["trial_step"], previous, start)
            params, value, state = model.step(inputs, state, start)
            action = model.head.sample(params, self.sampler, draw=self.parallel.draw)
            logprob = model.head.log_prob(params, action)
            self.record_before(rollout, t)
            step = env.step(action)
            step = step._replace(obs=step.obs.to(real), reward=step.reward.to(real))
            rollout.put(t, obs=inputs, start=start, action=action, logprob=logprob, value=value, reward=step.reward,
                        trial_end=step.trial_end)
            self.record(rollout, t, step)
            reward, episode_end, trial_end = step.reward, step.episode_end, step.trial_end
            sums["step_reward"].index_put_((track["trial_step"],), reward, accumulate=True)
            sums["step_count"].index_put_((track["trial_step"],), torch.ones_like(reward), accumulate=True)
            track["trial_step"] = (track["trial_step"] + 1).masked_fill_(trial_end, 0).clamp_(max=trial_steps - 1)
            track["trial_return"] += reward
            track["episode_return"] += reward
            index = track["episode_index"].clamp(max=episodes - 1)
            sums["episode_return"].index_put_((index,), track["episode_return"] * episode_end, accumulate=True)
            sums["episodes"].index_put_((index,), episode_end.to(real), accumulate=True)
            track["episode_return"] = track["episode_return"] * ~episode_end
            track["episode_index"] = (track["episode_index"] + episode_end).masked_fill_(trial_end, 0)
            sums["trials"] += trial_end.sum()
            sums["trial_return"] += (track["trial_return"] * trial_end).sum()
            track["trial_return"] = track["trial_return"] * ~trial_end
            previous, obs, start = obs, step.obs, trial_end
        _, last_value, _ = model.step(self.inputs(obs, track["trial_step"], previous, start), state, start)
        self.obs, self.previous, self.recurrent, self.trial_start = obs, previous, state, start
        return rollout, chunk_states, last_value, sums

    # ------------------------------------------------------------------ learning
    def train_iteration(self) -> dict[str, float]:
        cfg, model = self.config, self.model
        progress = min(self.iteration / self.iterations, 1.0)
        if cfg.anneal_lr:
            for group in self.optimizer.param_groups:
                group["lr"] = cfg.lr * (1.0 - progress)
        entropy_coef = cfg.entropy_coef
        if cfg.entropy_coef_final is not None:
            entropy_coef += (cfg.entropy_coef_final - cfg.entropy_coef) * progress
        with torch.no_grad():
            rollout, chunk_states, last_value, sums = self._collect()
            norm = self.value_stats if cfg.normalize_values else None
            values = norm.denormalize(rollout["value"]) if norm else rollout["value"]
            last = norm.denormalize(last_value) if norm else last_value
            trial_end = rollout["trial_end"]
            advantages, returns = gae(rollout["reward"], values, last, trial_end, trial_end, cfg.gamma, cfg.gae_lambda)
            rollout, chunk_states, advantages, returns, values = self._gathered(rollout, chunk_states, advantages,
                                                                                returns, values, sums)
            if norm:
                norm.update(returns)
                targets = norm.normalize(returns)
            else:
                targets = returns
        data = rollout.chunks(self.bptt, advantages=advantages, targets=targets)
        states = chunk_states.permute(1, 0, 2, 3).reshape(chunk_states.shape[1], -1, chunk_states.shape[-1])
        ppo_stats = ("policy", "value", "entropy", "approx_kl", "clip")
        stats: dict[str, list[torch.Tensor]] = {k: [] for k in ppo_stats}
        for _ in range(cfg.epochs):
            for whole in minibatch_indices(states.shape[1], cfg.minibatches, self.shuffler, self.device):
                idx = whole[self.parallel.shard(len(whole), "the sequences of a minibatch")]
                params, value, features = model.sequence(data["obs"][:, idx], states[:, idx], data["start"][:, idx],
                                                         return_features=True)
                logprob = model.head.log_prob(params, data["action"][:, idx])
                adv = data["advantages"][:, idx]
                if cfg.normalize_advantages:  # with the statistics of the whole minibatch
                    every = data["advantages"][:, whole]
                    adv = (adv - every.mean()) / (every.std() + 1e-8)
                pg = clipped_surrogate(logprob, data["logprob"][:, idx], adv, cfg.clip)
                v_loss = value_loss(value, data["value"][:, idx], data["targets"][:, idx])
                entropy = model.head.entropy(params).mean()
                loss = pg.loss + cfg.value_coef * v_loss - entropy_coef * entropy
                extra = self.auxiliary_loss(features, data, idx, whole, stats)
                if extra is not None:
                    loss = loss + extra
                check_finite("the PPO loss", loss)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.parallel.average_gradients(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.optimizer.param_groups[0]["params"], cfg.max_grad_norm)
                self.optimizer.step()
                parts = (pg.loss, v_loss, entropy, pg.approx_kl, pg.clip_fraction)
                for key, part in zip(ppo_stats, parts, strict=True):
                    stats[key].append(part.detach())
        self.global_step += self.steps * cfg.num_envs
        scalars = self._scalars(sums, stats, values, returns)
        scalars["losses/entropy_coef"] = entropy_coef
        scalars.update(self.after_ppo(rollout, chunk_states))
        return scalars

    def _gathered(self, rollout: Rollout, chunk_states: torch.Tensor, advantages: torch.Tensor,
                  returns: torch.Tensor, values: torch.Tensor, sums: dict[str, torch.Tensor]) -> tuple[Any, ...]:
        """The rollouts of every data-parallel process as one rollout of all ``num_envs`` environments (in place of
        this process's), and the statistics summed over processes: every process then learns from the global batch,
        each on its part of every minibatch."""
        world = self.parallel
        if not world.active:
            return rollout, chunk_states, advantages, returns, values
        rollout.data = {name: world.gather(value, 1) for name, value in rollout.data.items()}
        rollout.batch = self.config.num_envs
        for name, value in sums.items():
            sums[name] = world.sum(value)
        return (rollout, world.gather(chunk_states, 2), world.gather(advantages, 1), world.gather(returns, 1),
                world.gather(values, 1))

    def _scalars(self, sums, stats, values, returns) -> dict[str, float]:
        means = {k: float(torch.stack(v).mean()) for k, v in stats.items()}
        trials = float(sums["trials"])
        scalars = {
            "charts/trial_return": float(sums["trial_return"]) / trials if trials else math.nan,
            "charts/trials": trials,
            "losses/policy": means["policy"], "losses/value": means["value"], "losses/entropy": means["entropy"],
            "losses/approx_kl": means["approx_kl"], "losses/clip_fraction": means["clip"],
            "losses/explained_variance": explained_variance(values, returns),
            "perf/learning_rate": self.optimizer.param_groups[0]["lr"],
        }
        for key in sorted(means.keys() - {"policy", "value", "entropy", "approx_kl", "clip"}):
            scalars[f"losses/{key}"] = means[key]
        per_episode = sums["episode_return"] / sums["episodes"].clamp(min=1)
        for k in range(self.env.episodes):
            if float(sums["episodes"][k]):
                scalars[f"adaptation/episode_{k + 1}"] = float(per_episode[k])
        self.last_adaptation = {"episode": per_episode.cpu(),
                                "step": (sums["step_reward"] / sums["step_count"].clamp(min=1)).cpu()}
        return scalars

    def headline(self, scalars: dict[str, float]) -> str:
        return f"trial return {scalars['charts/trial_return']:.2f}"

    def figures(self) -> dict[str, Any]:
        if not self.last_adaptation:
            return {}
        from metarl.training.figures import adaptation_figure

        return {"adaptation/curve": adaptation_figure(self.last_adaptation["episode"], self.last_adaptation["step"],
                                                      title=f"{self.env.id} at {self.global_step:,} steps")}

    def evaluate(self, trials: int = 1000, split: str = "test", seed: int = 0, greedy: bool = False) -> TrialScores:
        """One trial of the current policy on each of ``trials`` tasks of ``split``, its inputs built as in training.

        Example:
            >>> from metarl.agents.rl2 import RL2Config, RL2Trainer
            >>> bandit = {"env": "metarl/BernoulliBandit-v0", "env_kwargs": {"arms": 2, "pulls": 10}}
            >>> trainer = RL2Trainer(RL2Config(**bandit, num_envs=16, hidden=16))
            >>> 0.0 <= trainer.evaluate(100, "test").mean <= 10.0  # mean return of a trial of 10 pulls
            True
        """
        cfg = self.config
        self.model.eval()
        return evaluate_policy(self.model, cfg.env, cfg.env_kwargs, trials, split, seed, self.device, greedy,
                               time_feature=cfg.time_feature, previous_obs=cfg.previous_obs)

    def evaluation_report(self, trials: int = 1000, split: str = "test", seed: int = 0,
                          greedy: bool = False) -> list[str]:
        """The policy's mean trial return on held-out tasks, the reference solvers' on the same tasks, the paper's."""
        from metarl.published import published_scores
        from metarl.solvers import solver_table

        cfg, env = self.config, self.env
        scores = self.evaluate(trials, split, seed, greedy)
        published = published_scores(env.family, env.config)
        settings = ", ".join(f"{k}={v}" for k, v in env.config.items())
        lines = [f"{cfg.env} ({settings}): {trials} trials on {split} tasks (seed {seed}), "
                 f"checkpoint at {self.global_step:,} steps",
                 f"  {'policy':18s} {'mean trial return':>22s} {'published':>10s}",
                 f"  {self.agent + ' (this run)':18s} {scores.mean:12.2f} ± {scores.ci95:7.2f} "
                 f"{_cell(published.get(self.agent))}"]
        if env.episodes > 1:
            per_episode = " ".join(f"{v:.2f}" for v in scores.episode_returns.double().mean(0).tolist())
            lines.append(f"  {'':18s} return of inner episodes 1..{env.episodes}: {per_episode}")
        for row in solver_table(cfg.env, trials, seed, split, str(self.device), **cfg.env_kwargs):
            lines.append(f"  {row['solver']:18s} {row['mean']:12.2f} ± {row['ci95']:7.2f} {_cell(row['published'])}")
        note = short_run_note(cfg.env, cfg.env_kwargs, self.global_step)
        return lines + ([note] if note else [])

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """The state of all ``num_envs`` environments, gathered from every data-parallel process, so that the run
        resumes with any number of processes."""
        world = self.parallel
        env = self.env.state_dict()
        if world.active:
            env = join_env_states(world.gather_objects(env))
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "sampler": self.sampler.get_state(), "shuffler": self.shuffler.get_state(),
                "value_stats": self.value_stats.state_dict(), "env": env,
                "obs": world.gather(self.obs), "previous": world.gather(self.previous),
                "recurrent": world.gather(self.recurrent, 1), "trial_start": world.gather(self.trial_start),
                "tracker": {k: world.gather(v) for k, v in self.tracker.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        dev, part = self.device, self.part
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.sampler.set_state(state["sampler"].cpu())
        self.shuffler.set_state(state["shuffler"].cpu())
        self.value_stats.load_state_dict(state["value_stats"])
        env = state["env"]
        if env.get("num_envs") != self.env.num_envs:  # saved by another number of processes
            env = split_env_state(env, part)
        self.env.load_state_dict(env)
        self.obs, self.recurrent = state["obs"][part].to(dev), state["recurrent"][:, part].to(dev)
        self.previous = state["previous"][part].to(dev) if "previous" in state else torch.zeros_like(self.obs)
        self.trial_start = state["trial_start"][part].to(dev)
        self.tracker = {k: v[part].to(dev) for k, v in state["tracker"].items()}


def _cell(value: float | None) -> str:
    return f"{value:10.1f}" if value is not None else f"{'-':>10s}"
