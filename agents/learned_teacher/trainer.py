"""Meta-training of the L2T teacher (Fan et al. 2018) with one of four estimators.

Each iteration draws ``students`` training-split students of the family and teaches them, through the family's
own process (:mod:`metarl.envs.teach.process`), until each episode ends:

- ``reinforce``: Bernoulli keep decisions from the teacher; every decision of a student's episode is credited
  with the student's return minus a moving-average baseline (the paper's estimator), or, with ``repeats`` of 2
  or more, minus the mean return of the same student's other runs; one Adam step;
- ``ppo``: the same episodes, ``ppo_epochs`` Adam steps on PPO's clipped surrogate (``metarl.rl.ppo``) with the
  same advantages;
- ``es``: antithetic evolution strategies on the teacher's parameters; the members of each pair teach the same
  students with the same decision noise, so the difference of their mean returns comes from the parameters;
- ``lookahead``: the keep probabilities weight the examples of each arriving minibatch; the student takes the
  weighted SGD step, and the teacher is trained to minimise the dev loss one step ahead (differentiating
  through that step).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from metarl.agents.learned_teacher.config import LearnedTeacherConfig
from metarl.agents.learned_teacher.evaluate import curve_figure, format_report, held_out
from metarl.agents.learned_teacher.network import StudentCritic, TeacherNetwork
from metarl.agents.learned_teacher.rollout import Episode, population_teacher, teach, teacher
from metarl.envs.teach.process import example_features
from torch.nn.utils import parameters_to_vector

from metarl.errors import ConfigError
from metarl.registry import make
from metarl.rl import explained_variance, gae
from metarl.rl.estimators import (
    antithetic_gradient,
    leave_one_out_advantages,
    population_parameters,
)
from metarl.rl.gradients import set_gradients
from metarl.rl.ppo import clipped_surrogate
from metarl.tasks import Task
from metarl.training.loop import Trainer, check_finite

EVAL_SEED = 12345


def build_network(config: LearnedTeacherConfig, features: int, seed: int) -> TeacherNetwork:
    """The config's teacher, initialised from ``seed`` without touching the global random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TeacherNetwork(features, config.hidden, config.init_keep)


def moving_average_advantages(returns: torch.Tensor, baseline: torch.Tensor, decay: float,
                              mean: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(returns minus the moving-average ``baseline``, the updated baseline).

    The baseline comes from earlier batches only (NaN before the first: this batch's mean), so it does not
    depend on the returns it is subtracted from within the batch's gradient estimate beyond a constant shift.

    Example:
        >>> moving_average_advantages(torch.tensor([1.0, 3.0]), torch.tensor(1.0), 0.9)
        (tensor([0., 2.]), tensor(1.1000))
    """
    mean = returns.mean().detach() if mean is None else mean  # the batch's mean (all processes' batch)
    baseline = mean if bool(torch.isnan(baseline)) else baseline
    return returns - baseline, (decay * baseline + (1.0 - decay) * mean).detach()


class LearnedTeacherTrainer(Trainer):
    """Meta-trains a :class:`TeacherNetwork` on a ``metarl/Teach-v0`` setting.

    Example:
        >>> trainer = LearnedTeacherTrainer(LearnedTeacherConfig(students=8, total_steps=20_000))
        >>> path = trainer.fit(progress=False)  # doctest: +SKIP
    """

    agent = "learned-teacher"
    config_type = LearnedTeacherConfig
    data_parallel = True
    metrics = ("charts/return", "validation/instances_ratio")
    seed_streams = {"env": 0, "model": 0, "critic": 2, "tasks": 0, "noise": 1}
    """Random streams: the env, teacher and critic init, students (tasks), keep decisions and ES noise; held-out
    evaluations derive "tasks" and "noise" from their own seed."""

    def __init__(self, config: LearnedTeacherConfig) -> None:
        super().__init__(config)
        cfg = self.config = config
        self.env = make(cfg.env, num_envs=1, device=self.device, seed=self.stream_seed("env"), **cfg.env_kwargs)
        if not hasattr(self.env, "process") or not hasattr(self.env.process, "eval_set"):
            raise ConfigError(f"{cfg.env} is not a teaching family; the learned teacher trains on metarl/Teach-v0")
        self.process, self.horizon = self.env.process, self.env.horizon
        self.net = build_network(cfg, self.process.features, self.stream_seed("model")).to(self.device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.stream_seed("critic"))
            self.critic = StudentCritic(cfg.hidden).to(self.device)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr)
        self.task_generator = self.generator("tasks")
        self.noise = self.generator("noise")
        self.baseline = torch.full((), float("nan"))
        self._noteach: dict[str, Any] | None = None

    def run_label(self) -> str:
        return f"{self.env.family}-{self.env.config['student']}__{self.agent}-{self.config.estimator}"

    def _tasks(self) -> Task:
        """This iteration's training students, each ``repeats`` times in a row (all of one student's runs share
        its initial parameters and data stream)."""
        cfg = self.config
        tasks = self.env.sample_tasks(cfg.students, self.task_generator, split="train")
        if self.parallel.active and cfg.estimator != "es":  # ES splits its population instead
            tasks = tasks[torch.arange(cfg.students, device=self.device)[self.parallel.shard(cfg.students,
                                                                                               "students")]]
        if cfg.repeats == 1 or cfg.estimator in ("es", "lookahead"):
            return tasks
        return tasks[torch.arange(tasks.batch_size, device=self.device).repeat_interleave(cfg.repeats)]

    def _all_done(self, done: torch.Tensor) -> bool:
        """Whether every process's students have stopped."""
        return bool(self.parallel.sum((~done).sum()) == 0)

    def _share(self, count: torch.Tensor) -> float:
        """This process's weight on a mean over ``count`` items here: its share of the items of every process."""
        count = count.double()
        return float(count / self.parallel.mean(count))

    def _step_network(self, averaged: bool = False) -> float:
        if not averaged:
            self.parallel.average_gradients(self.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.config.max_grad_norm)
        check_finite("the teacher's gradient norm", norm)
        self.optimizer.step()
        return float(norm)

    # ------------------------------------------------------------------ estimators
    def _advantages(self, returns: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        advantages, self.baseline = moving_average_advantages(returns, self.baseline.to(returns.device),
                                                              cfg.baseline_decay, self.parallel.mean(returns.mean()))
        self.baseline = self.baseline.cpu()
        if cfg.repeats > 1:
            return leave_one_out_advantages(returns.view(-1, cfg.repeats)).view(-1)
        return advantages

    def _policy_gradient(self, tasks: Task) -> dict[str, float]:
        cfg = self.config
        episode = teach(self.process, tasks, teacher(self.net, self.noise, self.parallel.draw), self.horizon,
                        all_done=self._all_done)
        advantages = self._advantages(episode.returns)
        live = episode.live.unsqueeze(-1).expand_as(episode.keeps)
        features, keeps = episode.features[live], episode.keeps[live]
        extra: dict[str, float] = {}
        if cfg.estimator == "ppo" and cfg.gae_lambda < 1.0:
            per_step, extra = self._critic_advantages(episode)
            per_decision = per_step.unsqueeze(-1).expand_as(episode.keeps)[live]
        else:
            per_decision = advantages.view(1, -1, 1).expand_as(episode.keeps)[live]
        if cfg.estimator == "reinforce":
            self.optimizer.zero_grad(set_to_none=True)
            log_prob = torch.zeros_like(episode.keeps, dtype=torch.float32)
            log_prob[live] = self.net.log_prob(features, keeps)
            surrogate = -(advantages * log_prob.sum((0, 2))).mean()
            check_finite("the policy-gradient surrogate", surrogate)
            surrogate.backward()
            extra["losses/gradient_norm"] = self._step_network()
        else:
            with torch.no_grad():
                old = self.net.log_prob(features, keeps)
            share = self._share(live.sum())
            for _ in range(cfg.ppo_epochs):
                pg = clipped_surrogate(self.net.log_prob(features, keeps), old, per_decision, cfg.clip)
                check_finite("the PPO loss", pg.loss)
                with torch.no_grad():  # logged: the entropy of the keep decisions before this step
                    logits = self.net.logits(features)
                    entropy = F.binary_cross_entropy_with_logits(logits, torch.sigmoid(logits), reduction="none")
                self.optimizer.zero_grad(set_to_none=True)
                (pg.loss * share).backward()
                extra["losses/gradient_norm"] = self._step_network()
            extra.update({"losses/approx_kl": float(pg.approx_kl), "losses/clip_fraction": float(pg.clip_fraction),
                          "losses/entropy": float(entropy.mean())})
        return self._episode_scalars(episode, {"losses/baseline": float(self.baseline), **extra})

    def _critic_advantages(self, episode: Episode) -> tuple[torch.Tensor, dict[str, float]]:
        """GAE advantages ``(T, B)`` of each arriving minibatch from the critic, after fitting it to the returns."""
        cfg, C = self.config, self.process.classes
        states, live = episode.features[:, :, 0, C : C + 3], episode.live
        T, B = live.shape
        columns = torch.arange(B, device=live.device)
        last = live.sum(0) - 1
        end = torch.zeros_like(live)
        end[last, columns] = True
        rewards = torch.zeros(T, B, device=live.device)
        rewards[last, columns] = episode.returns
        state = episode.state
        terminal = (state.reached_at >= 0) | (state.updates >= self.process.max_updates) | state.failed
        progress = states[..., 0]  # the student's updates so far / max_updates: its clock
        updated = torch.zeros_like(live)
        updated[:-1] = progress[1:] > progress[:-1]
        lam = torch.where(updated, cfg.gae_lambda, 1.0)  # discount by student updates, not minibatches
        with torch.no_grad():
            values = self.critic(states) * live
        advantages, targets = gae(rewards, values, torch.zeros(B, device=live.device), end, end & terminal,
                                  1.0, lam, truncation_values=values)
        share = self._share(live.sum())
        for _ in range(cfg.ppo_epochs):
            value_loss = (self.critic(states[live]) - targets[live]).square().mean()
            check_finite("the critic's loss", value_loss)
            self.critic_optimizer.zero_grad(set_to_none=True)
            (value_loss * share).backward()
            self.parallel.average_gradients(self.critic_optimizer)
            torch.nn.utils.clip_grad_norm_(self.critic.parameters(), cfg.max_grad_norm)
            self.critic_optimizer.step()
        return advantages, {"losses/value": float(value_loss.detach()),
                            "losses/explained_variance": explained_variance(values[live], targets[live])}

    def _es(self, tasks: Task) -> dict[str, float]:
        cfg = self.config
        params = {name: p.detach() for name, p in self.net.named_parameters()}
        episodes: list[Episode] = []

        def objective(vectors: torch.Tensor) -> torch.Tensor:  # this process's members of the population
            members = vectors.shape[0]
            runs = tasks[torch.arange(cfg.students, device=self.device).repeat(members)]  # member-major
            select = population_teacher(self.net, population_parameters(params, vectors), members, self.noise)
            episodes.append(teach(self.process, runs, select, self.horizon, record_features=False,
                                  all_done=self._all_done))
            return episodes[-1].returns.view(members, cfg.students).mean(1)

        center = parameters_to_vector(params.values())
        grad, values = antithetic_gradient(lambda vectors: self.parallel.map(objective, vectors, "2 x pairs"), center,
                                           cfg.sigma, cfg.pairs, self.noise)
        check_finite("the evolution-strategies objective", values.mean())
        self.optimizer.zero_grad(set_to_none=True)
        set_gradients(list(self.net.parameters()), -grad)  # ascend the mean return
        return self._episode_scalars(episodes[0], {"losses/gradient_norm": self._step_network(averaged=True),
                                                   "charts/population_spread": float(values.std())})

    def _episode_scalars(self, episode: Episode, extra: dict[str, float]) -> dict[str, float]:
        self.global_step += int(self.parallel.sum(episode.live.sum()))
        state, live = episode.state, episode.live.unsqueeze(-1).expand_as(episode.keeps)
        reached = state.reached_at >= 0
        return {"charts/return": float(episode.returns.mean()),
                "charts/keep_rate": float(episode.keeps[live].float().mean()),
                "charts/reached_fraction": float(reached.float().mean()),
                "charts/updates_to_tau": float(state.reached_at[reached].float().mean()) if bool(reached.any())
                else float(self.process.max_updates),
                "charts/kept_examples": float(state.kept.float().mean()), **extra}

    def lookahead_pass(self, tasks: Task, steps: int, train: bool = True) -> dict[str, float]:
        """Teach ``tasks`` for ``steps`` minibatches with the keep probabilities as example weights; return the mean
        one-step-ahead dev loss (the lookahead meta-objective) and statistics. With ``train``, the gradient of that
        objective with respect to the teacher is accumulated step by step (the graph lives for one step only)."""
        process, net = self.process, self.net
        state = process.start(tasks)
        dev_x, dev_y, dev_valid = process.eval_set(tasks, 0)
        losses, weights = [], []
        for _ in range(steps):
            x, y = process.examples(tasks, process.current_ids(state))
            theta = state.theta.detach().requires_grad_(True)
            with torch.enable_grad():
                probs, example_loss = process.per_example(theta, x, y)
                obs = example_features(probs.detach(), y, example_loss.detach(), state.updates.float() /
                                       process.max_updates, state.avg_loss, state.best_acc)
                w = net(obs)
                train_loss = (w * example_loss).sum(1) / w.sum(1).clamp(min=1e-6)
                (grad,) = torch.autograd.grad(train_loss.sum(), theta, create_graph=train)
                ahead = theta - process.lr * grad
                dev = F.cross_entropy(process.model.logits(ahead, dev_x).transpose(1, 2), dev_y, reduction="none")
                dev_loss = ((dev * dev_valid).sum(1) / dev_valid.sum(1)).mean()
                if train:
                    (dev_loss / steps).backward()
            losses.append(float(dev_loss.detach()))
            weights.append(float(w.detach().mean()))
            stepped = ahead.detach()
            acc = process._accuracy(stepped, tasks, 0)
            updates = state.updates + 1
            state = state._replace(theta=stepped, updates=updates, arrivals=state.arrivals + 1,
                                   avg_loss=state.avg_loss + (train_loss.detach() - state.avg_loss) / updates,
                                   dev_acc=acc, best_acc=torch.maximum(state.best_acc, acc))
            if self._all_done(acc >= process.tau) if train else bool((acc >= process.tau).all()):
                break
        return {"charts/dev_loss": sum(losses) / len(losses), "charts/keep_rate": sum(weights) / len(weights),
                "charts/dev_accuracy": float(state.dev_acc.mean()), "charts/minibatches": float(len(losses))}

    def _lookahead(self, tasks: Task) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        scalars = self.lookahead_pass(tasks, self.process.max_updates)
        check_finite("the lookahead dev loss", torch.tensor(scalars["charts/dev_loss"]))
        scalars["losses/gradient_norm"] = self._step_network()
        self.global_step += self.config.students * int(scalars["charts/minibatches"])
        return scalars

    # ------------------------------------------------------------------ the loop
    def train_iteration(self) -> dict[str, float]:
        tasks = self._tasks()
        if self.config.estimator == "lookahead":
            scalars = self._lookahead(tasks)
        elif self.config.estimator == "es":
            scalars = self._es(tasks)
        else:
            scalars = self._policy_gradient(tasks)
        if (self.iteration + 1) % self.config.checkpoint_every == 0:
            results = held_out(self, self.config.eval_students, "validation", EVAL_SEED, baselines=("noteach",))
            ratio = float(results["learned"].instances.mean() / results["noteach"].instances.mean())
            scalars["validation/instances_to_tau"] = float(results["learned"].instances.mean())
            scalars["validation/instances_ratio"] = ratio
            if self.config.keep_best:
                self.keep_if_best(ratio, higher_is_better=False)
        return scalars

    def headline(self, scalars: dict[str, float]) -> str:
        if "charts/return" in scalars:
            return f"return {scalars['charts/return']:.2f} keep {scalars['charts/keep_rate']:.2f}"
        return f"dev loss {scalars['charts/dev_loss']:.3f}"

    def figures(self) -> dict[str, Any]:
        if not self.config.figures:
            return {}
        results = held_out(self, self.config.eval_students, "test", EVAL_SEED)
        title = (f"{self.env.config['student']}: {self.config.eval_students} held-out students at "
                 f"{self.global_step:,} steps")
        return {"adaptation/held_out_students": curve_figure(results, self.process.tau, title)}

    def evaluation_report(self, trials: int = 100, split: str = "test", seed: int = 0, greedy: bool = False
                          ) -> list[str]:
        """Instances to reach tau on the test set: the learned teacher beside NoTeach, RandTeach and SPL."""
        return format_report(self, held_out(self, trials, split, seed), trials, split, seed)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {"network": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "critic": self.critic.state_dict(), "critic_optimizer": self.critic_optimizer.state_dict(),
                "task_generator": self.task_generator.get_state(), "noise": self.noise.get_state(),
                "baseline": self.baseline, "best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        if "critic" in state:  # checkpoints from before the critic existed have none
            self.critic.load_state_dict(state["critic"])
            self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.task_generator.set_state(state["task_generator"].cpu())
        self.noise.set_state(state["noise"].cpu())
        self.baseline = state["baseline"].cpu()
        self.best = float(state.get("best", math.inf))
