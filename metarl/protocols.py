"""Benchmark evaluation protocols: a fixed adaptation budget on held-out tasks, then scored episodes.

A protocol runs any agent that offers an :class:`AdaptiveAgent` (``trainer.adaptive_agent()``) the same way:
on every held-out task, ``adaptation_steps`` rounds of ``adaptation_episodes`` episodes, each round closed by
``agent.adapt()`` (a gradient learner takes its inner step there; a recurrent learner needs nothing, its memory
spans the whole trial), then ``scored_episodes`` episodes that are scored. ``metarl eval CHECKPOINT --protocol
NAME`` prints the result.

:data:`PROTOCOLS` ``["metaworld"]`` is Meta-World's meta-learning evaluation as its authors define it
(``metaworld.evaluation.metalearning_evaluation`` and docs/evaluation of Meta-World v3; McLean et al. 2025,
arXiv:2505.11289): every held-out (environment, goal) pair, one adaptation step of 10 episodes, then 3 scored
episodes of 500 steps; an episode succeeds if Meta-World's success flag is raised at any step; the score is the
mean over tasks and scored episodes.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

import torch

from metarl.engine import BatchedEnv, Step
from metarl.errors import BadArgumentError
from metarl.registry import make
from metarl.stats import mean_ci95


class AdaptiveAgent(abc.ABC):
    """An agent as a protocol runs it: it acts, sees each transition, and adapts when a round of episodes ends.

    ``rl2`` says whether it acts on the RL² view of the environment (previous action, reward and episode end
    appended to the observation).
    """

    rl2: bool = False

    @abc.abstractmethod
    def start(self, env: BatchedEnv) -> None:
        """Begin, unadapted, on the tasks ``env`` has just been reset to (one task per environment)."""

    @abc.abstractmethod
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Actions for the observations (B, ...)."""

    @abc.abstractmethod
    def observe(self, step: Step) -> None:
        """The transition that followed the last :meth:`act`."""

    def adapt(self) -> None:  # noqa: B027 - recurrent learners adapt in act/observe and need nothing here
        """A round of adaptation episodes ended: learn from it (a gradient step); by default nothing."""


@dataclasses.dataclass(frozen=True)
class Protocol:
    """Counts of an evaluation protocol and where they come from.

    Example:
        >>> PROTOCOLS["metaworld"].episodes
        13
    """

    name: str
    adaptation_episodes: int
    adaptation_steps: int
    scored_episodes: int
    horizon: int
    source: str

    @property
    def episodes(self) -> int:
        """Episodes each task runs: the adaptation rounds, then the scored episodes."""
        return self.adaptation_steps * self.adaptation_episodes + self.scored_episodes


PROTOCOLS = {
    "metaworld": Protocol("metaworld", adaptation_episodes=10, adaptation_steps=1, scored_episodes=3, horizon=500,
                          source="Meta-World v3 metalearning_evaluation (McLean et al. 2025, arXiv:2505.11289)"),
}


@dataclasses.dataclass
class ProtocolScores:
    """``success`` (N, episodes) bool: whether each task's episode ever raised the success flag; ``returns``
    (N, episodes); ``names`` (N,): each task's environment. Scored episodes are the last ``scored``."""

    success: torch.Tensor
    returns: torch.Tensor
    names: list[str]
    scored: int

    @property
    def success_rate(self) -> tuple[float, float]:
        """Mean success over tasks and scored episodes, and its 95% half-width over tasks."""
        mean, half = mean_ci95(self.success[:, -self.scored:].double().mean(1))
        return float(mean), float(half)

    def per_environment(self) -> dict[str, float]:
        """Success rate of the scored episodes of each environment's tasks."""
        rates = self.success[:, -self.scored:].double().mean(1)
        return {name: float(rates[[i for i, n in enumerate(self.names) if n == name]].mean())
                for name in dict.fromkeys(self.names)}


def protocol_tasks(env: BatchedEnv, trials: int | None, split: str = "test") -> Any:
    """The held-out tasks a protocol runs: every task of the benchmark's split, or ``trials`` of them spread evenly
    over its list (so every held-out environment appears)."""
    every = getattr(env, "benchmark_tasks", None)
    if every is None:
        raise BadArgumentError(f"{env.id} has no fixed list of benchmark tasks to evaluate a protocol on")
    tasks = every(split)
    if trials is None or trials >= tasks.batch_size:
        return tasks
    return tasks[torch.linspace(0, tasks.batch_size - 1, trials).round().long()]


@torch.no_grad()
def run_protocol(protocol: Protocol, agent: AdaptiveAgent, env_id: str, env_kwargs: dict, trials: int | None = None,
                 seed: int = 0, device: torch.device | str = "cpu", chunk: int = 50) -> ProtocolScores:
    """Evaluate ``agent`` under ``protocol`` on the held-out tasks of ``env_id`` (``trials`` of them; all when None).

    The environment keeps the run's arguments except the protocol's episode length and count; inner episodes
    never end early (success anywhere in an episode counts, so ending at it would change nothing scored).
    """
    kwargs = {**env_kwargs, "horizon": protocol.horizon, "episodes": protocol.episodes, "terminate_on_success": 0}
    probe = make(env_id, num_envs=1, split="test", **kwargs)
    if not hasattr(probe, "success"):
        raise BadArgumentError(f"{env_id} reports no success flag, which the {protocol.name} protocol scores")
    tasks = protocol_tasks(probe, trials)
    names = [probe.env_names[i] for i in tasks.env_index.tolist()] if hasattr(probe, "env_names") else []
    success, returns = [], []
    for start in range(0, tasks.batch_size, chunk):
        part = tasks[start:start + chunk]
        env = make(env_id, num_envs=part.batch_size, device=device, seed=seed, split="test", rl2=agent.rl2,
                   check=False, **kwargs)
        s, r = _run_chunk(protocol, agent, env, part.to(env.device))
        success.append(s)
        returns.append(r)
    return ProtocolScores(torch.cat(success), torch.cat(returns), names, protocol.scored_episodes)


def _run_chunk(protocol: Protocol, agent: AdaptiveAgent, env: Any, tasks: Any) -> tuple[torch.Tensor, torch.Tensor]:
    obs = env.reset(task=tasks)
    agent.start(env)
    n, horizon = env.num_envs, protocol.horizon
    success = torch.zeros(n, protocol.episodes, dtype=torch.bool)
    returns = torch.zeros(n, protocol.episodes)
    for episode in range(protocol.episodes):
        seen = torch.zeros(n, dtype=torch.bool, device=env.device)
        total = torch.zeros(n, device=env.device)
        for _ in range(horizon):
            step = env.step(agent.act(obs))
            agent.observe(step)
            seen |= env.success
            total += step.reward
            obs = step.obs
        success[:, episode], returns[:, episode] = seen.cpu(), total.cpu()
        if episode < protocol.adaptation_steps * protocol.adaptation_episodes and \
                (episode + 1) % protocol.adaptation_episodes == 0:
            agent.adapt()
    return success, returns


def protocol_report(protocol: Protocol, scores: ProtocolScores, env_id: str, steps: int,
                    published: dict[str, float] | None = None) -> list[str]:
    """Lines of the report: the score, each environment's, the first episode's for contrast, the published ones."""
    mean, half = scores.success_rate
    first = float(scores.success[:, 0].double().mean())
    lines = [f"{env_id}: {protocol.name} protocol ({protocol.source}) on {scores.success.shape[0]} held-out tasks, "
             f"checkpoint at {steps:,} steps",
             f"  {protocol.adaptation_steps} x {protocol.adaptation_episodes} adaptation episodes, then "
             f"{protocol.scored_episodes} scored episodes of {protocol.horizon} steps",
             f"  success rate (scored episodes): {100 * mean:.1f}% ± {100 * half:.1f}",
             f"  success rate (first episode, before adaptation): {100 * first:.1f}%",
             f"  mean return of a scored episode: {float(scores.returns[:, -scores.scored:].mean()):.1f}"]
    if len(set(scores.names)) > 1:
        lines += [f"    {name:28s} {100 * rate:5.1f}%" for name, rate in scores.per_environment().items()]
    for method, value in (published or {}).items():
        lines.append(f"  published {method:22s} {100 * value:5.1f}%")
    return lines


def protocol_report_for(trainer: Any, name: str, trials: int | None = None, seed: int = 0,
                        greedy: bool = False) -> list[str]:
    """Run the protocol ``name`` on a trained agent (``trainer.adaptive_agent()``) and report it beside the
    published figures of its family (``metarl eval CHECKPOINT --protocol NAME``)."""
    from metarl.published import success_published

    protocol, cfg = PROTOCOLS[name], trainer.config
    agent = trainer.adaptive_agent(greedy=greedy, seed=seed)
    scores = run_protocol(protocol, agent, cfg.env, dict(cfg.env_kwargs), trials, seed, trainer.device)
    env = make(cfg.env, num_envs=1, **cfg.env_kwargs)
    return protocol_report(protocol, scores, cfg.env, trainer.global_step, success_published(env.family, env.config))
