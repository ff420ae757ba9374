"""Reference solvers: score a family without learning, batched on the same engine as the agents.

Every later result can be printed next to these numbers (and as a fraction of them). A family's
solvers are registered under its family name with :func:`register_solver`: each of metarl's own
families registers its solvers in its module (``metarl.envs.bandit`` and so on), a plug-in from its
entry-point function. Generator-driven Gamma and Dirichlet draws for posterior sampling, which any
family's solvers may use, are in :mod:`metarl.solvers.sampling`. ``metarl solvers`` and
:func:`solver_table` score every solver registered for a family.

Example:
    >>> import metarl
    >>> from metarl.solvers import solver_names, trial_returns
    >>> env = metarl.make("metarl/BernoulliBandit-v0", num_envs=1000, arms=5, pulls=10, seed=0, split="test")
    >>> float(trial_returns(env, "ucb1").mean()) > 5.0
    True
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import torch

from metarl.engine import BatchedEnv
from metarl.errors import BadArgumentError
from metarl.stats import mean_ci95


class Solver(Protocol):
    """A reference policy for the B environments of one trial.

    ``act(obs)`` returns the (B, ...) actions for the observation; ``observe(action, step)`` (optional)
    is told what :meth:`BatchedEnv.step` returned for them.
    """

    def act(self, obs: torch.Tensor) -> torch.Tensor: ...


SolverFactory = Callable[[BatchedEnv, "torch.Generator | None"], Solver]
"""Builds a :class:`Solver` for an environment that has just been reset: ``factory(env, generator)``."""

_SOLVERS: dict[str, dict[str, SolverFactory]] = {}  # family name -> solver name -> factory


def _family_name(family: type[BatchedEnv] | BatchedEnv | str) -> str:
    if isinstance(family, str):
        return family
    cls = family if isinstance(family, type) else type(family)
    return cls.family or cls.__name__


def register_solver(family: type[BatchedEnv] | str, name: str, factory: SolverFactory) -> None:
    """Make ``factory(env, generator)`` a reference solver called ``name`` of ``family``.

    ``family`` is a :class:`BatchedEnv` subclass or its family name; every id of the family gets the
    solver. Solvers are listed in the order they are registered.

    Example:
        >>> import metarl
        >>> class Zero:  # always the first arm
        ...     def __init__(self, env, generator):
        ...         self.env = env
        ...     def act(self, obs):
        ...         return torch.zeros(self.env.num_envs, dtype=torch.int64, device=self.env.device)
        >>> register_solver("BernoulliBandit", "first-arm", Zero)
        >>> env = metarl.make("metarl/BernoulliBandit-v0", num_envs=1000, arms=5, pulls=10, seed=0)
        >>> 4.5 < float(trial_returns(env, "first-arm").mean()) < 5.5  # an arm's mean is 0.5
        True
        >>> del _SOLVERS["BernoulliBandit"]["first-arm"]
    """
    key = _family_name(family)
    solvers = _SOLVERS.setdefault(key, {})
    if name in solvers:
        raise BadArgumentError(f"a solver called {name!r} is already registered for family {key}")
    if not callable(factory):
        raise BadArgumentError(f"solver {name!r} of family {key}: factory must be callable, got {factory!r}")
    solvers[name] = factory


def solver_families() -> list[str]:
    """Names of the families that have reference solvers (built-in or registered by plug-ins).

    Example:
        >>> "BernoulliBandit" in solver_families()
        True
    """
    return [family for family, solvers in _SOLVERS.items() if solvers]


def solver_names(env: BatchedEnv) -> list[str]:
    """Names of the reference solvers registered for ``env``'s family (empty if none).

    Example:
        >>> import metarl
        >>> solver_names(metarl.make("metarl/Navigation2D-v0"))
        ['random', 'oracle']
    """
    return list(_SOLVERS.get(_family_name(env), {}))


def make_solver(env: BatchedEnv, solver: str, generator: torch.Generator | None = None) -> Solver:
    """The reference solver ``solver`` of ``env``'s family, acting on ``env`` from its current state on.

    Make it after ``env.reset()``: solvers read the tasks and places of the trial they start in. Drive it with
    ``act(obs)`` each step and, where it has one, ``observe(action, step)`` after the step.

    Example:
        >>> import metarl
        >>> env = metarl.make("metarl/BernoulliBandit-v0", num_envs=3, seed=0)
        >>> obs = env.reset()
        >>> make_solver(env, "ucb1").act(obs).shape
        torch.Size([3])
    """
    _check_solver(env, solver)
    return _SOLVERS[_family_name(env)][solver](env, generator)


def _check_solver(env: BatchedEnv, solver: str) -> None:
    names = solver_names(env)
    if solver not in names:
        raise BadArgumentError(f"{env.id}: unknown solver {solver!r}; available: {names or 'none'}")


def trial_returns(env: BatchedEnv, solver: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """Run one trial in each of ``env``'s B environments with ``solver``; return the (B,) trial returns.

    The environment is reset first (each environment gets the next task of its stream).
    """
    _check_solver(env, solver)  # an unknown name fails before the reset
    obs = env.reset()
    policy = make_solver(env, solver, generator)
    observe = getattr(policy, "observe", None)
    returns = torch.zeros(env.num_envs, device=env.device)
    finished = torch.zeros(env.num_envs, dtype=torch.bool, device=env.device)
    for _ in range(env.trial_steps):
        action = policy.act(obs)
        step = env.step(action)
        if observe is not None:
            observe(action, step)
        obs = step.obs
        returns += step.reward * ~finished
        finished |= step.trial_end
        if bool(finished.all()):  # trials of variable length (navigation) may all end early
            break
    return returns


def solver_returns(env_id: str, solver: str, trials: int, seed: int, split: str, device: str,
                   **kwargs: Any) -> torch.Tensor:
    """The (trials,) trial returns of ``solver`` on the tasks an agent evaluated with the same ``seed`` sees.

    Trial ``i`` is played on the same task as trial ``i`` of ``solver_table`` and of the agents' ``evaluate``, so
    an agent's returns and these can be compared pair by pair.

    Example:
        >>> returns = solver_returns("metarl/BernoulliBandit-v0", "gittins", 100, 0, "test", "cpu", arms=5, pulls=10)
        >>> returns.shape
        torch.Size([100])
    """
    from metarl.registry import make

    env = make(env_id, num_envs=trials, device=device, seed=seed, split=split, **kwargs)
    return trial_returns(env, solver, generator=torch.Generator().manual_seed(seed)).double().cpu()


def solver_table(env_id: str, trials: int, seed: int, split: str, device: str, **kwargs: Any) -> list[dict]:
    """Mean trial return (with a 95% interval) of every reference solver on the same ``trials`` tasks.

    Each solver plays a freshly made environment, so every row is on the tasks an agent evaluated with ``seed``
    sees (a second reset of one environment would deal the next tasks of its stream).
    """
    from metarl.published import published_scores
    from metarl.registry import make

    env = make(env_id, num_envs=trials, device=device, seed=seed, split=split, **kwargs)
    published = published_scores(env, env.config)
    rows = []
    for name in solver_names(env):
        start = time.perf_counter()
        returns = solver_returns(env_id, name, trials, seed, split, device, **kwargs)
        mean, half = mean_ci95(returns)
        rows.append({"solver": name, "mean": float(mean), "ci95": float(half), "published": published.get(name),
                     "seconds": time.perf_counter() - start})
    return rows
