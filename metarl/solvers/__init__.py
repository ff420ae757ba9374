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

import functools

import torch

from metarl.engine import BatchedEnv
from metarl.errors import BadArgumentError


def _bandit_policies() -> dict:
    from metarl.solvers.bandit import BANDIT_POLICIES

    return BANDIT_POLICIES


def _tabular_policies() -> dict:
    from metarl.solvers.tabular import TABULAR_POLICIES, PSRLPolicy

    # The published PSRL column matches a zero-mean reward prior (the true prior is N(1, 1)).
    return {**TABULAR_POLICIES, "psrl-n01": functools.partial(PSRLPolicy, reward_prior_mean=0.0)}


def _navigation_policies() -> dict:
    from metarl.solvers.navigation import OracleNavigation, RandomNavigation

    return {"random": RandomNavigation, "oracle": OracleNavigation}


_FAMILIES = {"BernoulliBandit": _bandit_policies, "TabularMDP": _tabular_policies, "Navigation2D": _navigation_policies}


def solver_names(env: BatchedEnv) -> list[str]:
    """Names of the reference solvers available for ``env``'s family (empty if none)."""
    family = _FAMILIES.get(getattr(env, "family", ""))
    return list(family()) if family else []


def trial_returns(env: BatchedEnv, solver: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """Run one trial in each of ``env``'s B environments with ``solver``; return the (B,) trial returns.

    The environment is reset first (each environment gets the next task of its stream).
    """
    names = solver_names(env)
    if solver not in names:
        raise BadArgumentError(f"{env.id}: unknown solver {solver!r}; available: {names or 'none'}")
    policies = _FAMILIES[env.family]()
    B, device, cfg = env.num_envs, env.device, env.config
    if env.family == "BernoulliBandit":
        policy = policies[solver](cfg["arms"], cfg["pulls"], B, device=device, generator=generator)
    elif env.family == "TabularMDP":
        policy = policies[solver](cfg["states"], cfg["actions"], cfg["horizon"], B, device=device, generator=generator)
    else:
        policy = policies[solver](cfg["max_speed"], B, device=device, generator=generator)
    obs = env.reset()
    if hasattr(policy, "set_task"):
        policy.set_task(env.task.transitions, env.task.reward_mean)
    returns = torch.zeros(B, device=device)
    finished = torch.zeros(B, dtype=torch.bool, device=device)
    for _ in range(env.trial_steps):
        if env.family == "BernoulliBandit":
            action = policy.act()
            step = env.step(action)
            policy.update(action, step.reward, step.trial_end)
        elif env.family == "TabularMDP":
            state = env.state.clone()
            action = policy.act(state, env.episode_step)
            step = env.step(action)
            next_state = step.final_obs.argmax(1)
            policy.update(state, action, step.reward, next_state, step.episode_end, step.trial_end)
        else:
            action = policy.act(obs, env.task.goal)
            step = env.step(action)
            obs = step.obs
        returns += step.reward * ~finished
        finished |= step.trial_end
        if env.family == "Navigation2D" and bool(finished.all()):
            break
    return returns
