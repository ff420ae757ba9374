"""Reference solvers: score a family without learning, batched on the same engine as the agents.

Every later result can be printed next to these numbers (and as a fraction of them).

Example:
    >>> import metarl
    >>> from metarl.solvers import solver_names, trial_returns
    >>> env = metarl.make("metarl/BernoulliBandit-v0", num_envs=1000, arms=5, pulls=10, seed=0, split="test")
    >>> float(trial_returns(env, "ucb1").mean()) > 5.0
    True
"""

from __future__ import annotations

import abc
import functools
import time
from collections.abc import Callable
from typing import Any

import torch

from metarl.engine import BatchedEnv, Step
from metarl.errors import BadArgumentError
from metarl.stats import mean_ci95


class _Family(abc.ABC):
    """How one family's reference policies are built and driven through the engine for one step."""

    @abc.abstractmethod
    def policies(self) -> dict:
        """Solver name -> policy class (imported on first use)."""

    @abc.abstractmethod
    def build(self, cls: Callable, env: BatchedEnv, generator: torch.Generator | None) -> Any:
        """A policy of class ``cls`` for ``env``'s B environments, which have just been reset."""

    @abc.abstractmethod
    def step(self, policy: Any, env: BatchedEnv, obs: torch.Tensor) -> Step:
        """Act, step ``env`` and let the policy observe the outcome."""


class _Bandit(_Family):
    def policies(self) -> dict:
        from metarl.solvers.bandit import BANDIT_POLICIES

        return BANDIT_POLICIES

    def build(self, cls, env, generator):
        return cls(env.config["arms"], env.config["pulls"], env.num_envs, device=env.device, generator=generator)

    def step(self, policy, env, obs):
        action = policy.act()
        step = env.step(action)
        policy.update(action, step.reward, step.trial_end)
        return step


class _Tabular(_Family):
    def policies(self) -> dict:
        from metarl.solvers.tabular import TABULAR_POLICIES, PSRLPolicy

        # The published PSRL column matches a zero-mean reward prior (the true prior is N(1, 1)).
        return {**TABULAR_POLICIES, "psrl-n01": functools.partial(PSRLPolicy, reward_prior_mean=0.0)}

    def build(self, cls, env, generator):
        cfg, B = env.config, env.num_envs
        policy = cls(cfg["states"], cfg["actions"], cfg["horizon"], B, device=env.device, generator=generator)
        if hasattr(policy, "set_task"):  # the oracle is told the MDPs of this trial
            policy.set_task(env.task.transitions, env.task.reward_mean)
        return policy

    def step(self, policy, env, obs):
        state = env.state.clone()
        action = policy.act(state, env.episode_step)
        step = env.step(action)
        next_state = step.final_obs.argmax(1)  # before any restart at an episode end
        policy.update(state, action, step.reward, next_state, step.episode_end, step.trial_end)
        return step


class _Navigation(_Family):
    def policies(self) -> dict:
        from metarl.solvers.navigation import OracleNavigation, RandomNavigation

        return {"random": RandomNavigation, "oracle": OracleNavigation}

    def build(self, cls, env, generator):
        return cls(env.config["max_speed"], env.num_envs, device=env.device, generator=generator)

    def step(self, policy, env, obs):
        return env.step(policy.act(obs, env.task.goal))


_FAMILIES: dict[str, _Family] = {"BernoulliBandit": _Bandit(), "TabularMDP": _Tabular(), "Navigation2D": _Navigation()}


def solver_families() -> list[str]:
    """Names of the families that have reference solvers."""
    return list(_FAMILIES)


def solver_names(env: BatchedEnv) -> list[str]:
    """Names of the reference solvers available for ``env``'s family (empty if none)."""
    family = _FAMILIES.get(getattr(env, "family", ""))
    return list(family.policies()) if family else []


def trial_returns(env: BatchedEnv, solver: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """Run one trial in each of ``env``'s B environments with ``solver``; return the (B,) trial returns.

    The environment is reset first (each environment gets the next task of its stream).
    """
    names = solver_names(env)
    if solver not in names:
        raise BadArgumentError(f"{env.id}: unknown solver {solver!r}; available: {names or 'none'}")
    family = _FAMILIES[env.family]
    obs = env.reset()
    policy = family.build(family.policies()[solver], env, generator)
    returns = torch.zeros(env.num_envs, device=env.device)
    finished = torch.zeros(env.num_envs, dtype=torch.bool, device=env.device)
    for _ in range(env.trial_steps):
        step = family.step(policy, env, obs)
        obs = step.obs
        returns += step.reward * ~finished
        finished |= step.trial_end
        if bool(finished.all()):  # trials of variable length (navigation) may all end early
            break
    return returns


def solver_table(env_id: str, trials: int, seed: int, split: str, device: str, **kwargs: Any) -> list[dict]:
    """Mean trial return (with a 95% interval) of every reference solver on ``trials`` tasks."""
    from metarl.published import published_scores
    from metarl.registry import make

    env = make(env_id, num_envs=trials, device=device, seed=seed, split=split, **kwargs)
    published = published_scores(env.family, env.config)
    rows = []
    for name in solver_names(env):
        start = time.perf_counter()
        returns = trial_returns(env, name, generator=torch.Generator().manual_seed(seed)).double().cpu()
        mean, half = mean_ci95(returns)
        reference = published.get(name, published.get(name.removesuffix("-n01")))
        rows.append({"solver": name, "mean": float(mean), "ci95": float(half), "published": reference,
                     "seconds": time.perf_counter() - start})
    return rows
