"""Meta-training of the coordinatewise LSTM optimizer (Andrychowicz et al. 2016) with one of three estimators.

Each iteration draws ``tasks`` training optimizees of the family and optimizes them for the family's
``horizon`` steps with the LSTM, through the family's own process (:mod:`metarl.envs.learn_to_optimize.process`):

- ``unrolled``: truncated backpropagation through the optimization, one Adam step on the network every
  ``unroll`` steps on the sum of the chunk's losses (or log-losses); the optimizee gradients are inputs, not
  differentiated (the paper's approximation);
- ``reinforce``: ``samples`` runs per task with Gaussian noise (std ``exp(log_std)``) on every update, the
  score-function gradient with a leave-one-out baseline per task, any objective;
- ``es``: antithetic evolution strategies on the weights, ``2 * pairs`` weight sets on the same tasks in one
  batched run, any objective.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from metarl.agents.learned_optimizer.config import LearnedOptimizerConfig
from metarl.agents.learned_optimizer.evaluate import curve_figure, format_report, held_out_results
from metarl.agents.learned_optimizer.network import CoordinatewiseLSTM
from metarl.agents.learned_optimizer.rollout import Carry, lstm_rule, objective_values, start, unroll
from torch.nn.utils import parameters_to_vector

from metarl.errors import ConfigError
from metarl.registry import make
from metarl.rl.estimators import (
    antithetic_gradient,
    gaussian_log_prob,
    population_parameters,
    reinforce_surrogate,
)
from metarl.rl.gradients import set_gradients
from metarl.tasks import Task
from metarl.training.loop import Trainer, check_finite

EVAL_SEED = 12345


def build_network(config: LearnedOptimizerConfig, seed: int) -> CoordinatewiseLSTM:
    """The config's LSTM, initialised from ``seed`` without touching the global random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CoordinatewiseLSTM(hidden=config.hidden, layers=config.layers, output_scale=config.output_scale,
                                  init_log_std=config.init_log_std)


def _detach(carry: Carry) -> Carry:
    state = type(carry.state)(*(t.detach() for t in carry.state))
    return Carry(state, carry.memory.detach() if carry.memory is not None else None, carry.finished)


class LearnedOptimizerTrainer(Trainer):
    """Meta-trains a :class:`CoordinatewiseLSTM` on a ``metarl/LearnToOptimize-v0`` setting.

    Example:
        >>> trainer = LearnedOptimizerTrainer(LearnedOptimizerConfig(tasks=16, total_steps=16_000))
        >>> path = trainer.fit(progress=False)  # doctest: +SKIP
    """

    agent = "learned-optimizer"
    data_parallel = True
    config_type = LearnedOptimizerConfig
    metrics = ("charts/log10_final_loss", "eval/log10_final_loss")
    seed_streams = {"env": 0, "model": 0, "tasks": 0, "noise": 1}
    """Random streams: the env, network init, training tasks, estimator noise (REINFORCE samples, ES directions)."""

    def __init__(self, config: LearnedOptimizerConfig) -> None:
        super().__init__(config)
        cfg = self.config = config
        self.env = make(cfg.env, num_envs=1, device=self.device, seed=self.stream_seed("env"), **cfg.env_kwargs)
        if not hasattr(self.env, "process"):
            raise ConfigError(f"{cfg.env} is not a learning-process family; the learned optimizer trains on "
                              "metarl/LearnToOptimize-v0")
        self.process, self.horizon = self.env.process, self.env.horizon
        self.max_update = float(self.env.config["max_update"])
        if cfg.objective == "final_error" and not self.process.optimizee.classifier:
            raise ConfigError(f"objective 'final_error' needs a classifier optimizee, not "
                              f"{self.env.config['optimizee']!r}")
        self.net = build_network(cfg, self.stream_seed("model")).to(self.device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        self.task_generator = self.generator("tasks")
        self.noise = self.generator("noise")
        runs = {"unrolled": 1, "reinforce": cfg.samples, "es": 2 * cfg.pairs}[cfg.estimator]
        self.steps_per_iteration = cfg.tasks * runs * self.horizon
        self._tuned: dict[str, float] | None = None
        self._last_eval: dict[str, Any] | None = None

    def run_label(self) -> str:
        return f"{self.env.family}-{self.env.config['optimizee']}__{self.agent}-{self.config.estimator}"

    def _tasks(self) -> Task:
        """This iteration's ``tasks`` training optimizees: all of them for ES (which splits its population between
        data-parallel processes), this process's shard of them otherwise."""
        tasks = self.env.sample_tasks(self.config.tasks, self.task_generator, split="train")
        if self.config.estimator == "es" or not self.parallel.active:
            return tasks
        return tasks[torch.arange(self.config.tasks, device=self.device)[self.parallel.shard(self.config.tasks,
                                                                                              "tasks")]]

    # ------------------------------------------------------------------ estimators
    def _step_network(self, averaged: bool = False) -> float:
        """Clip and step; the gradients are first averaged over data-parallel processes unless already ``averaged``."""
        if not averaged:
            self.parallel.average_gradients(self.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.config.max_grad_norm)
        check_finite("the meta-gradient norm", norm)
        self.optimizer.step()
        return float(norm)

    def _unrolled(self, tasks: Task) -> dict[str, float]:
        cfg, carry, rule = self.config, start(self.process, tasks), lstm_rule(self.net)
        meta_losses, norms, done, all_losses = [], [], 0, []
        while done < self.horizon:
            steps = min(cfg.unroll, self.horizon - done)
            carry, losses = unroll(self.process, tasks, rule, steps, carry, self.max_update, differentiable=True)
            terms = losses if cfg.objective == "mean_loss" else losses.clamp(min=1e-30).log()
            meta_loss = terms.mean()
            check_finite("the meta-loss", meta_loss)
            self.optimizer.zero_grad(set_to_none=True)
            meta_loss.backward()
            norms.append(self._step_network())
            meta_losses.append(float(meta_loss.detach()))
            all_losses.append(losses.detach())
            carry, done = _detach(carry), done + steps
        return self._scalars(tasks, carry, torch.cat(all_losses), {"losses/meta_loss": sum(meta_losses) / len(
            meta_losses), "losses/gradient_norm": sum(norms) / len(norms)})

    def _reinforce(self, tasks: Task) -> dict[str, float]:
        cfg, net, S, world = self.config, self.net, self.config.samples, self.parallel
        runs = tasks[torch.arange(tasks.batch_size, device=self.device).repeat_interleave(S)]
        observations, actions, starts = [], [], []

        def sample(mean: torch.Tensor) -> torch.Tensor:
            noise = world.draw(torch.randn, mean.shape, generator=self.noise).to(mean.device)
            action = mean + net.log_std.detach().exp() * noise
            actions.append(action)
            return action

        def record(obs: torch.Tensor, state: Any, memory: Any) -> tuple[torch.Tensor, Any]:
            observations.append(obs)
            return policy(obs, state, memory)

        policy = lstm_rule(net, sample=sample)
        with torch.no_grad():
            carry, done, all_losses = start(self.process, runs), 0, []
            while done < self.horizon:
                starts.append(carry.memory)
                carry, losses = unroll(self.process, runs, record, min(cfg.unroll, self.horizon - done), carry,
                                       self.max_update)
                all_losses.append(losses)
                done += losses.shape[0]
            losses = torch.cat(all_losses)
            final_loss, accuracy = self._final_scores(runs, carry)
            scores = -objective_values(cfg.objective, losses, final_loss, accuracy).view(tasks.batch_size, S)
            every = world.gather(scores)  # the advantages' scale comes from every task
        self.optimizer.zero_grad(set_to_none=True)
        for chunk, memory in enumerate(starts):
            first, last = chunk * cfg.unroll, min((chunk + 1) * cfg.unroll, self.horizon)
            obs = torch.stack(observations[first:last])  # (t, runs, n, F)
            state = memory if memory is not None else net.initial_state(obs.shape[1] * obs.shape[2], self.device)
            log_prob = torch.zeros(obs.shape[1], device=self.device)
            for t in range(obs.shape[0]):
                mean, state = net(obs[t].flatten(0, 1), state)
                log_prob = log_prob + gaussian_log_prob(actions[first + t], mean.view_as(actions[first + t]),
                                                        net.log_std).sum(1)
            advantages = scores
            if cfg.normalize_advantages:
                spread = (every - every.mean(1, keepdim=True)).std()
                advantages = scores / (spread + 1e-8)
            surrogate = -reinforce_surrogate(log_prob.view(tasks.batch_size, S), advantages)
            check_finite("the policy-gradient surrogate", surrogate)
            surrogate.backward()
        norm = self._step_network()
        extra = {"losses/gradient_norm": norm, "losses/log_std": float(net.log_std.detach()),
                 "charts/objective": float(-every.mean())}
        return self._scalars(runs, carry, losses, extra)

    def _es(self, tasks: Task) -> dict[str, float]:
        cfg, params = self.config, self.net.mean_parameters()
        results: dict[str, Any] = {}

        def objective(vectors: torch.Tensor) -> torch.Tensor:  # this process's members of the population
            P = vectors.shape[0]
            runs = tasks[torch.arange(cfg.tasks, device=self.device).repeat(P)]  # member-major
            rule = lstm_rule(self.net, population_parameters(params, vectors), population=P)
            results["runs"] = runs
            with torch.no_grad():
                carry, losses = unroll(self.process, runs, rule, self.horizon, start(self.process, runs),
                                       self.max_update)
                final_loss, accuracy = self._final_scores(runs, carry)
            results.update(carry=carry, losses=losses)
            return objective_values(cfg.objective, losses, final_loss, accuracy).view(P, cfg.tasks).mean(1)

        center = parameters_to_vector(params.values()).detach()
        grad, values = antithetic_gradient(lambda vectors: self.parallel.map(objective, vectors, "2 x pairs"),
                                           center, cfg.sigma, cfg.pairs, self.noise)
        check_finite("the evolution-strategies objective", values.mean())
        self.optimizer.zero_grad(set_to_none=True)
        set_gradients(list(params.values()), grad)
        norm = self._step_network(averaged=True)  # every process computed the same gradient from all values
        return self._scalars(results["runs"], results["carry"], results["losses"], {"losses/gradient_norm": norm,
                                                                          "charts/objective": float(values.mean())})

    # ------------------------------------------------------------------ the loop
    def _final_scores(self, task: Task, carry: Carry) -> tuple[torch.Tensor, torch.Tensor]:
        final_loss, accuracy = self.process.optimizee.scores(carry.state.theta.detach(), task)
        return torch.where(carry.finished, self.process.cap(carry.state), final_loss), accuracy

    def _scalars(self, task: Task, carry: Carry, losses: torch.Tensor, extra: dict[str, float]) -> dict[str, float]:
        with torch.no_grad():
            final_loss, accuracy = self._final_scores(task, carry)
        scalars = {"charts/log10_final_loss": math.log10(float(self.parallel.mean(final_loss.double().mean()))),
                   "charts/mean_loss": float(losses.double().mean()),
                   "charts/diverged_fraction": float(carry.finished.float().mean()),
                   "perf/learning_rate": self.optimizer.param_groups[0]["lr"], **extra}
        if self.process.optimizee.classifier:
            scalars["charts/accuracy"] = float(accuracy.mean())
        return scalars

    def train_iteration(self) -> dict[str, float]:
        tasks = self._tasks()
        scalars = {"unrolled": self._unrolled, "reinforce": self._reinforce, "es": self._es}[
            self.config.estimator](tasks)
        self.global_step += self.steps_per_iteration
        if (self.iteration + 1) % self.config.checkpoint_every == 0:
            learned = held_out_results(self, self.config.eval_tasks, "test", EVAL_SEED, baselines=False)["learned"]
            scalars["eval/log10_final_loss"] = learned.log10_mean_final_loss
            if self.process.optimizee.classifier:
                scalars["eval/accuracy"] = float(learned.accuracy.mean())
        return scalars

    def headline(self, scalars: dict[str, float]) -> str:
        return f"log10 final loss {scalars['charts/log10_final_loss']:.2f}"

    def tuned_learning_rates(self) -> dict[str, float]:
        """The baselines' learning rates, tuned once on training tasks (seeded, so the same after a resume)."""
        if self._tuned is None:
            from metarl.agents.learned_optimizer.rollout import tune_learning_rates

            tasks = self.env.sample_tasks(self.config.eval_tasks, torch.Generator().manual_seed(EVAL_SEED), "train")
            self._tuned = tune_learning_rates(self.process, tasks, self.horizon, self.max_update)
        return self._tuned

    def figures(self) -> dict[str, Any]:
        if not self.config.figures:
            return {}
        results = held_out_results(self, self.config.eval_tasks, "test", EVAL_SEED)
        title = f"{self.env.config['optimizee']}: {self.config.eval_tasks} held-out tasks at {self.global_step:,} steps"
        return {"adaptation/optimizee_curves": curve_figure(results, self.tuned_learning_rates(), title)}

    def evaluation_report(self, trials: int = 100, split: str = "test", seed: int = 0, greedy: bool = False
                          ) -> list[str]:
        """Final loss (and accuracy) of the learned optimizer and the tuned baselines on held-out tasks."""
        results = held_out_results(self, trials, split, seed)
        return format_report(self, results, trials, split, seed)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {"network": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "task_generator": self.task_generator.get_state(), "noise": self.noise.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.task_generator.set_state(state["task_generator"].cpu())
        self.noise.set_state(state["noise"].cpu())
