"""RL² (Duan et al. 2016) trained with PPO over whole trials.

Each iteration runs ``rollout_trials`` trials' worth of steps in ``num_envs`` environments on the
device, computes GAE with the trial as the episode (the RL² objective is the total reward of a trial,
so a trial end is terminal and nothing is bootstrapped across it), and does PPO epochs over
sequences of ``bptt`` steps that start from the recurrent state recorded during collection.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from metarl.agents.rl2.config import RL2Config
from metarl.agents.rl2.evaluate import TrialScores, evaluate_policy, short_run_note
from metarl.agents.rl2.policy import PolicyInputs, RecurrentActorCritic

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


class RL2Trainer(Trainer):
    """Trains a :class:`RecurrentActorCritic` on an environment family's RL² view.

    Example:
        >>> bandit = {"env": "metarl/BernoulliBandit-v0", "env_kwargs": {"arms": 2, "pulls": 10}}
        >>> trainer = RL2Trainer(RL2Config(**bandit, num_envs=64, total_steps=6400))
        >>> path = trainer.fit(progress=False)  # doctest: +SKIP
    """

    agent = "rl2"
    config_type = RL2Config
    metrics = ("charts/trial_return",)
    seed_streams = {"env": 0, "model": 0, "actions": 0, "shuffle": 1}
    """Random streams: env resets, weight init, action sampling (on the device), minibatch shuffling."""

    def __init__(self, config: RL2Config) -> None:
        super().__init__(config)
        cfg = self.config = config
        self.env = make(cfg.env, num_envs=cfg.num_envs, device=self.device, seed=self.stream_seed("env"), rl2=True,
                        check=False, **cfg.env_kwargs)
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
        obs_size = self.inputs.size(rl2_size)
        self.task_fields = self._task_fields()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.stream_seed("model"))
            self.model = RecurrentActorCritic(obs_size, self.env.single_action_space, cfg.hidden, cfg.cell,
                                              cfg.embed, cfg.head_hidden, cfg.separate_critic,
                                              outcome_size=self._outcome_size(),
                                              task_size=self._task_size(),
                                              ).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, eps=1e-5)
        self.sampler = self.generator("actions", self.device)
        self.shuffler = self.generator("shuffle")
        self.value_stats = RunningMeanStd(self.device)
        self.iterations = math.ceil(cfg.total_steps / (self.steps * cfg.num_envs))
        B, dev = cfg.num_envs, self.device
        self.obs = self.env.reset()
        self.previous = torch.zeros_like(self.obs)
        self.recurrent = self.model.initial_state(B, dev)
        self.trial_start = torch.ones(B, dtype=torch.bool, device=dev)
        self.tracker = {"trial_return": torch.zeros(B, device=dev), "episode_return": torch.zeros(B, device=dev),
                        "episode_index": torch.zeros(B, dtype=torch.long, device=dev),
                        "trial_step": torch.zeros(B, dtype=torch.long, device=dev)}
        self.last_adaptation: dict[str, torch.Tensor] = {}

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
        return torch.cat([fields[name].reshape(self.config.num_envs, -1).float() for name in self.task_fields], 1)

    def run_label(self) -> str:
        return f"{self.env.family}__{self.agent}"

    # ------------------------------------------------------------------ collection
    def _collect(self) -> tuple[Rollout, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """One rollout: (steps, recurrent state at each chunk start, value after the last step, statistics)."""
        env, model, B, dev = self.env, self.model, self.config.num_envs, self.device
        episodes, trial_steps = env.episodes, env.trial_steps
        action_shape, action_dtype = model.head.action_shape, torch.long if model.head.discrete else torch.float32
        fields = {
            "obs": ((self.inputs.size(self.obs.shape[1]),), torch.float32), "start": ((), torch.bool),
            "action": (action_shape, action_dtype), "logprob": ((), torch.float32), "value": ((), torch.float32),
            "reward": ((), torch.float32), "trial_end": ((), torch.bool)}
        if self.task_fields:
            fields["task"] = ((self._task_size(),), torch.float32)
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
            action = model.head.sample(params, self.sampler)
            logprob = model.head.log_prob(params, action)
            if self.task_fields:  # before the step, which draws the next trial's task where one ends
                rollout.put(t, task=self._task_targets())
            step = env.step(action)
            rollout.put(t, obs=inputs, start=start, action=action, logprob=logprob, value=value, reward=step.reward,
                        trial_end=step.trial_end)
            reward, episode_end, trial_end = step.reward, step.episode_end, step.trial_end
            sums["step_reward"].index_put_((track["trial_step"],), reward, accumulate=True)
            sums["step_count"].index_put_((track["trial_step"],), torch.ones_like(reward), accumulate=True)
            track["trial_step"] = (track["trial_step"] + 1).masked_fill_(trial_end, 0).clamp_(max=trial_steps - 1)
            track["trial_return"] += reward
            track["episode_return"] += reward
            index = track["episode_index"].clamp(max=episodes - 1)
            sums["episode_return"].index_put_((index,), track["episode_return"] * episode_end, accumulate=True)
            sums["episodes"].index_put_((index,), episode_end.float(), accumulate=True)
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
            if norm:
                norm.update(returns)
                targets = norm.normalize(returns)
            else:
                targets = returns
        data = rollout.chunks(self.bptt, advantages=advantages, targets=targets)
        states = chunk_states.permute(1, 0, 2, 3).reshape(chunk_states.shape[1], -1, chunk_states.shape[-1])
        ppo_stats = ("policy", "value", "entropy", "approx_kl", "clip")
        stats: dict[str, list[torch.Tensor]] = {k: [] for k in ppo_stats}
        predict = model.outcome_model is not None
        if predict:
            stats.update(reward_prediction=[], next_obs_prediction=[])
        if self.task_fields:
            stats["task_prediction"] = []
        for _ in range(cfg.epochs):
            for idx in minibatch_indices(states.shape[1], cfg.minibatches, self.shuffler, self.device):
                params, value, features = model.sequence(data["obs"][:, idx], states[:, idx], data["start"][:, idx],
                                                         return_features=True)
                logprob = model.head.log_prob(params, data["action"][:, idx])
                adv = data["advantages"][:, idx]
                if cfg.normalize_advantages:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                pg = clipped_surrogate(logprob, data["logprob"][:, idx], adv, cfg.clip)
                v_loss = value_loss(value, data["value"][:, idx], data["targets"][:, idx])
                entropy = model.head.entropy(params).mean()
                loss = pg.loss + cfg.value_coef * v_loss - entropy_coef * entropy
                if predict:
                    outcome = model.outcome_model(features, data["action"][:, idx])
                    reward_error, next_obs_error = self._prediction_errors(outcome, data, idx)
                    loss = loss + cfg.reward_prediction_coef * reward_error
                    loss = loss + cfg.next_obs_prediction_coef * next_obs_error
                    stats["reward_prediction"].append(reward_error.detach())
                    stats["next_obs_prediction"].append(next_obs_error.detach())
                if self.task_fields:
                    task_error = 0.5 * (model.task_model(features) - data["task"][:, idx]).square().mean()
                    loss = loss + cfg.task_prediction_coef * task_error
                    stats["task_prediction"].append(task_error.detach())
                check_finite("the PPO loss", loss)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                parts = (pg.loss, v_loss, entropy, pg.approx_kl, pg.clip_fraction)
                for key, part in zip(ppo_stats, parts, strict=True):
                    stats[key].append(part.detach())
        self.global_step += self.steps * cfg.num_envs
        scalars = self._scalars(sums, stats, values, returns)
        scalars["losses/entropy_coef"] = entropy_coef
        return scalars

    def _prediction_errors(self, outcome: torch.Tensor, data: dict[str, torch.Tensor], idx: torch.Tensor
                           ) -> tuple[torch.Tensor, torch.Tensor]:
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
        return reward_error, 0.5 * (squared * known).sum() / known.sum().clamp(min=1)

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
        for key in ("reward_prediction", "next_obs_prediction", "task_prediction"):
            if key in means:
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
            >>> bandit = {"env": "metarl/BernoulliBandit-v0", "env_kwargs": {"arms": 2, "pulls": 10}}
            >>> trainer = RL2Trainer(RL2Config(**bandit, num_envs=16, hidden=16))
            >>> 0.0 <= trainer.evaluate(100, "test").mean <= 10.0  # mean return of a trial of 10 pulls
            True
        """
        cfg = self.config
        self.model.eval()
        return evaluate_policy(self.model, cfg.env, cfg.env_kwargs, trials, split, seed, self.device, greedy,
                               time_feature=cfg.time_feature, previous_obs=cfg.previous_obs)

    def adaptive_agent(self, greedy: bool = False, seed: int = 0) -> Any:
        """This policy as a protocol runs it (:class:`~metarl.agents.rl2.adaptive.RL2Adaptive`)."""
        from metarl.agents.rl2.adaptive import RL2Adaptive

        self.model.eval()
        return RL2Adaptive(self.model, self.inputs, greedy, seed)

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
                 f"  {'rl2 (this run)':18s} {scores.mean:12.2f} ± {scores.ci95:7.2f} {_cell(published.get('rl2'))}"]
        if env.episodes > 1:
            per_episode = " ".join(f"{v:.2f}" for v in scores.episode_returns.double().mean(0).tolist())
            lines.append(f"  {'':18s} return of inner episodes 1..{env.episodes}: {per_episode}")
        for row in solver_table(cfg.env, trials, seed, split, str(self.device), **cfg.env_kwargs):
            lines.append(f"  {row['solver']:18s} {row['mean']:12.2f} ± {row['ci95']:7.2f} {_cell(row['published'])}")
        note = short_run_note(cfg.env, cfg.env_kwargs, self.global_step)
        return lines + ([note] if note else [])

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "sampler": self.sampler.get_state(), "shuffler": self.shuffler.get_state(),
                "value_stats": self.value_stats.state_dict(), "env": self.env.state_dict(),
                "obs": self.obs, "previous": self.previous, "recurrent": self.recurrent,
                "trial_start": self.trial_start, "tracker": dict(self.tracker)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        dev = self.device
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.sampler.set_state(state["sampler"].cpu())
        self.shuffler.set_state(state["shuffler"].cpu())
        self.value_stats.load_state_dict(state["value_stats"])
        self.env.load_state_dict(state["env"])
        self.obs, self.recurrent = state["obs"].to(dev), state["recurrent"].to(dev)
        self.previous = state["previous"].to(dev) if "previous" in state else torch.zeros_like(self.obs)
        self.trial_start = state["trial_start"].to(dev)
        self.tracker = {k: v.to(dev) for k, v in state["tracker"].items()}


def _cell(value: float | None) -> str:
    return f"{value:10.1f}" if value is not None else f"{'-':>10s}"
