"""Meta-training of a controller over a child-training family's decisions with one of four estimators.

Each iteration draws ``tasks`` training-split tasks and runs the family's own process
(:mod:`metarl.envs.child_training.base`): the controller makes its decisions, the children train, and their
held-out accuracy is the return.

- ``reinforce``: ``samples`` decisions per task; each is credited with its accuracy minus the mean accuracy of
  the task's other samples (``metarl.rl.estimators.reinforce_surrogate``); one Adam step;
- ``ppo``: the same samples, ``ppo_epochs`` Adam steps on PPO's clipped surrogate (``metarl.rl.ppo``);
- ``es``: antithetic evolution strategies on the controller's parameters (``metarl.rl.estimators``); every
  member decides greedily for the same tasks, so a pair's difference comes from the parameters;
- ``unroll``: for continuous families with differentiable children, the gradient of the children's held-out
  cross-entropy through every training step, at the controller's mean decision.

Data-parallel (``torchrun``): each process runs its contiguous share of the tasks (their samples' decision noise
drawn for all and sliced) or of the ES population, and the gradients are averaged (ES: every process forms the
same gradient from the gathered values).
"""

from __future__ import annotations

from typing import Any

import torch
from metarl.agents.controller.config import ControllerConfig
from metarl.agents.controller.evaluate import decide, format_report, held_out
from metarl.agents.controller.policy import DecisionPolicy, RecurrentDecisionPolicy
from torch.nn.utils import parameters_to_vector

from metarl.errors import ConfigError
from metarl.registry import make
from metarl.rl.estimators import antithetic_gradient, leave_one_out_advantages, population_parameters
from metarl.rl.gradients import set_gradients
from metarl.rl.mlp import MLPPolicy
from metarl.rl.ppo import clipped_surrogate
from metarl.tasks import Task
from metarl.training.loop import Trainer, check_finite

EVAL_SEED = 12345


class ControllerTrainer(Trainer):
    """Meta-trains a policy over the decisions of a child-training family: for a discrete family a
    :class:`~metarl.agents.controller.policy.DecisionPolicy` (one output head per decision type), for a continuous
    one an :class:`~metarl.rl.mlp.MLPPolicy` with a Gaussian head over the whole action.

    Example:
        >>> trainer = ControllerTrainer(ControllerConfig(env_kwargs={"layers": 1, "steps": 5}, tasks=2, samples=2))
        >>> scalars = trainer.train_iteration()
        >>> 0.0 <= scalars["charts/accuracy"] <= 1.0
        True
    """

    agent = "controller"
    config_type = ControllerConfig
    data_parallel = True
    metrics = ("charts/accuracy", "validation/accuracy")
    seed_streams = {"env": 0, "model": 0, "tasks": 0, "noise": 1}
    """Random streams: the env, the controller's initial weights, training tasks, and decision and ES noise;
    held-out evaluations derive "tasks" and "noise" from their own seed."""

    def __init__(self, config: ControllerConfig) -> None:
        super().__init__(config)
        cfg = self.config = config
        self.env = make(cfg.env, num_envs=1, device=self.device, seed=self.stream_seed("env"), **cfg.env_kwargs)
        process = getattr(self.env, "process", None)
        if process is None or not hasattr(process, "train_children"):
            raise ConfigError(f"{cfg.env} is not a child-training family; the controller trains on "
                              "metarl/ArchitectureSearch-v0, Augment-v0, LearnedLoss-v0 or MetaKD-v0")
        if cfg.estimator == "unroll" and not process.differentiable:
            raise ConfigError(f"estimator 'unroll' needs differentiable children; {cfg.env} has none: use reinforce, "
                              "ppo or es")
        self.process = process
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.stream_seed("model"))
            if process.discrete:  # one output head per decision type (agents/controller/policy.py)
                policy = RecurrentDecisionPolicy if cfg.controller == "lstm" else DecisionPolicy
                self.policy: MLPPolicy = policy(process.observation_size, process.choices, process.decision_types,
                                                hidden=(cfg.hidden,), history=cfg.history)
            else:
                self.policy = MLPPolicy(process.observation_size, self.env.single_action_space,
                                        hidden=(cfg.hidden,), activation="tanh", init_log_std=cfg.init_log_std)
            self.policy.to(self.device)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=cfg.lr)
        self.task_generator = self.generator("tasks")
        self.noise = self.generator("noise")
        self.observed: list[torch.Tensor] = []  # rows of (decisions..., accuracy): observed_decisions

    def run_label(self) -> str:
        return f"{self.env.family}__{self.agent}-{self.config.estimator}"

    def _step(self, averaged: bool = False) -> float:
        """Clip and step; the gradients are first averaged over data-parallel processes unless already ``averaged``."""
        if not averaged:
            self.parallel.average_gradients(self.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.config.max_grad_norm)
        check_finite("the controller's gradient norm", norm)
        self.optimizer.step()
        return float(norm)

    def _tasks(self, repeats: int, shard: bool = True) -> Task:
        """This iteration's training tasks (this process's share of them with ``shard``), each ``repeats`` times in a
        row."""
        cfg = self.config
        tasks = self.env.sample_tasks(cfg.tasks, self.task_generator, split="train")
        index = torch.arange(cfg.tasks, device=self.device)
        if shard and self.parallel.active:
            index = index[self.parallel.shard(cfg.tasks, "tasks")]
        return tasks[index.repeat_interleave(repeats)]

    # ------------------------------------------------------------------ estimators
    def _policy_gradient(self) -> dict[str, float]:
        cfg = self.config
        run = decide(self.policy, self.process, self._tasks(cfg.samples), self.noise, draw=self.parallel.draw)
        self.observed.append(torch.cat([run.choices, run.returns.unsqueeze(1)], 1).detach().cpu())
        advantages = leave_one_out_advantages(run.returns.view(-1, cfg.samples)).view(-1)
        K, N = run.actions.shape[:2]
        obs, actions = run.obs.flatten(0, 1), run.actions.flatten(0, 1)
        per_decision = advantages.repeat(K)
        with torch.no_grad():
            old = self.policy.log_prob(self.policy(obs), actions)
        scalars: dict[str, float] = {}
        for _ in range(cfg.ppo_epochs if cfg.estimator == "ppo" else 1):
            out = self.policy(obs)
            log_prob, entropy = self.policy.log_prob(out, actions), self.policy.entropy(out).mean()
            if cfg.estimator == "ppo":
                pg = clipped_surrogate(log_prob, old, per_decision, cfg.clip)
                loss = pg.loss
                scalars.update({"losses/approx_kl": float(pg.approx_kl),
                                "losses/clip_fraction": float(pg.clip_fraction)})
            else:  # REINFORCE: the sum over a sample's decisions of log-probability times its advantage
                loss = -(log_prob * per_decision).sum() / N
            loss = loss - self._entropy_weight() * entropy
            check_finite("the controller's loss", loss)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            scalars["losses/gradient_norm"] = self._step()
        scalars["losses/entropy"] = float(entropy.detach())
        return self._run_scalars(run.returns, run.failed, scalars)

    def observed_decisions(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every decision ``(M, W)`` the ``reinforce`` and ``ppo`` iterations of this process trained a child with, and
        the child's accuracy ``(M,)``: the architectures (or policies) the search has already scored, one task each.

        Example:
            >>> trainer = ControllerTrainer(ControllerConfig(env_kwargs={"layers": 1, "steps": 2}, tasks=2, samples=2))
            >>> _ = trainer.train_iteration()
            >>> [t.shape for t in trainer.observed_decisions()]
            [torch.Size([4, 3]), torch.Size([4])]
        """
        rows = torch.cat(self.observed) if self.observed else torch.zeros(0, self.process.width + 1)
        return rows[:, :-1], rows[:, -1]

    def _entropy_weight(self) -> float:
        cfg = self.config
        if not cfg.entropy_anneal:
            return cfg.entropy_coef
        return cfg.entropy_coef * max(0.0, 1.0 - self.global_step / cfg.total_steps)

    def _es(self) -> dict[str, float]:
        cfg = self.config
        params = {name: p.detach() for name, p in self.policy.named_parameters()}
        tasks = self._tasks(1, shard=False)
        results: list[Any] = []

        def objective(vectors: torch.Tensor) -> torch.Tensor:  # this process's members of the population
            members = vectors.shape[0]
            runs = tasks[torch.arange(cfg.tasks, device=self.device).repeat(members)]  # member-major
            population = population_parameters(params, vectors)
            results.append(decide(self.policy, self.process, runs, None, population=population, members=members))
            return results[-1].returns.view(members, cfg.tasks).mean(1)

        grad, values = antithetic_gradient(lambda vectors: self.parallel.map(objective, vectors, "2 x pairs"),
                                           parameters_to_vector(params.values()), cfg.sigma, cfg.pairs, self.noise)
        check_finite("the evolution-strategies objective", values.mean())
        self.optimizer.zero_grad(set_to_none=True)
        set_gradients(list(self.policy.parameters()), -grad)  # ascend the mean accuracy
        extra = {"losses/gradient_norm": self._step(averaged=True),  # every process formed it from all values
                 "charts/population_spread": float(values.std())}
        return self._run_scalars(results[0].returns, results[0].failed, extra)

    def _unroll(self) -> dict[str, float]:
        tasks = self._tasks(1)
        obs = self.process.observe(self.process.start(tasks), tasks)
        action = self.policy.mode(self.policy(obs)).clamp(-self.process.bound, self.process.bound)
        loss = self.process.held_out_loss(tasks, action).mean()
        check_finite("the children's held-out loss", loss)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = self._step()
        with torch.no_grad():
            accuracy, failed = self.process.train_children(tasks, action.detach())
        return self._run_scalars(accuracy, failed, {"losses/held_out_loss": float(loss.detach()),
                                                    "losses/gradient_norm": norm})

    def _run_scalars(self, returns: torch.Tensor, failed: torch.Tensor, extra: dict[str, float]) -> dict[str, float]:
        self.global_step += returns.numel() * self.parallel.size  # every process trained as many children
        return {"charts/accuracy": float(returns.mean()), "charts/failed": float(failed.float().mean()), **extra}

    # ------------------------------------------------------------------ the loop
    def train_iteration(self) -> dict[str, float]:
        estimator = self.config.estimator
        if estimator == "es":
            scalars = self._es()
        elif estimator == "unroll":
            scalars = self._unroll()
        else:
            scalars = self._policy_gradient()
        if (self.iteration + 1) % self.config.checkpoint_every == 0:
            results = held_out(self, self.config.eval_tasks, "validation", EVAL_SEED)
            scalars["validation/accuracy"] = float(results["controller"].mean())
        return scalars

    def headline(self, scalars: dict[str, float]) -> str:
        return f"accuracy {scalars['charts/accuracy']:.3f}"

    def evaluation_report(self, trials: int = 100, split: str = "test", seed: int = 0, greedy: bool = True
                          ) -> list[str]:
        """Held-out accuracy of the controller's greedy decision beside the family's baselines and random ones."""
        return format_report(self, held_out(self, trials, split, seed), trials, split, seed)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {"policy": self.policy.state_dict(), "optimizer": self.optimizer.state_dict(),
                "task_generator": self.task_generator.get_state(), "noise": self.noise.get_state(),
                "observed": torch.cat(self.observed) if self.observed else torch.zeros(0, self.process.width + 1)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        mine, theirs = self.policy.head.linear.weight.shape, state["policy"]["head.linear.weight"].shape
        if mine != theirs:
            raise ValueError(f"the checkpoint's controller has an output layer of {theirs[0]} logits, this one "
                             f"{mine[0]} ({len(getattr(self.policy, 'heads', ()))} heads, one per decision type); "
                             "it was written before the controller had one head per decision type")
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.task_generator.set_state(state["task_generator"].cpu())
        self.noise.set_state(state["noise"].cpu())
        self.observed = [state["observed"].cpu()] if "observed" in state else []  # older checkpoints kept none
