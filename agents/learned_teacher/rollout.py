"""Students taught by a selection rule (the learned teacher or a baseline), through the family's own process.

A selector maps the features of the arriving minibatch ``(B, M, F)`` and the students' state to a keep mask
``(B, M)``. Baselines (Fan et al. 2018): NoTeach keeps everything, RandTeach keeps each example with a fixed
probability, self-paced learning keeps the examples whose loss is below a threshold that grows with the
minibatches seen (easy examples first, all of them eventually).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from metarl.agents.learned_teacher.network import TeacherNetwork
from metarl.envs.teach.process import TeachingProcess, TeachState

from metarl.rl.heads import Draw
from metarl.tasks import Task

Selector = Callable[[torch.Tensor, TeachState], torch.Tensor]
"""(features (B, M, F), state) -> keep mask (B, M) bool."""
SPL_START, SPL_GROWTH = 2.0, 0.05


def no_teach(features: torch.Tensor, state: TeachState) -> torch.Tensor:
    """NoTeach: keep every example."""
    return torch.ones(features.shape[:2], dtype=torch.bool, device=features.device)


def rand_teach(rate: float, generator: torch.Generator) -> Selector:
    """RandTeach: keep each example with probability ``rate``."""
    def select(features: torch.Tensor, state: TeachState) -> torch.Tensor:
        return (torch.rand(features.shape[:2], generator=generator) < rate).to(features.device)
    return select


def self_paced(process: TeachingProcess, start: float = SPL_START, growth: float = SPL_GROWTH) -> Selector:
    """Self-paced learning: keep examples with loss below ``start + growth * minibatches seen``."""
    column = 2 * process.classes + 3  # the example's loss (metarl.envs.teach.process.example_features)

    def select(features: torch.Tensor, state: TeachState) -> torch.Tensor:
        return features[..., column] < start + growth * state.arrivals.unsqueeze(1).float()
    return select


def teacher(net: TeacherNetwork, generator: torch.Generator | None = None, draw: Draw | None = None) -> Selector:
    """The learned teacher: Bernoulli keep decisions (``generator`` given) or keep where p >= 1/2 (greedy).

    ``draw``: a data-parallel process's :meth:`~metarl.training.parallel.Parallel.draw`, so that student i's
    uniforms do not depend on how the students are split between processes.
    """
    draw = draw or (lambda sample, shape, **kwargs: sample(tuple(shape), **kwargs))

    def select(features: torch.Tensor, state: TeachState) -> torch.Tensor:
        with torch.no_grad():
            p = net(features)
        if generator is None:
            return p >= 0.5
        return draw(torch.rand, p.shape, generator=generator).to(p.device) < p
    return select


def population_teacher(net: TeacherNetwork, params: dict[str, torch.Tensor], members: int,
                       generator: torch.Generator | None = None) -> Selector:
    """A population of teachers: ``params`` holds ``members`` versions of ``net``'s parameters (leading dimension),
    and the students come member-major (member i teaches students ``i * B / members`` onward). With
    ``generator``, the decisions are Bernoulli with one uniform draw per student and example shared by every
    member (common random numbers, so members differ only through their parameters); else greedy.

    Example:
        >>> from metarl.rl.estimators import population_parameters
        >>> net = TeacherNetwork(features=25, hidden=4)
        >>> params = dict(net.named_parameters())
        >>> vectors = torch.nn.utils.parameters_to_vector(net.parameters()).detach().expand(3, -1)
        >>> select = population_teacher(net, population_parameters(params, vectors), 3)
        >>> select(torch.zeros(6, 5, 25), None).shape
        torch.Size([6, 5])
    """
    probability = torch.func.vmap(lambda p, x: torch.func.functional_call(net, p, (x,)))

    def select(features: torch.Tensor, state: TeachState) -> torch.Tensor:
        B, M = features.shape[:2]
        with torch.no_grad():
            p = probability(params, features.view(members, B // members, *features.shape[1:]))
        if generator is None:
            return (p >= 0.5).view(B, M)
        return (torch.rand(p.shape[1:], generator=generator).to(p.device) < p).view(B, M)
    return select


class Episode(NamedTuple):
    """What teaching a batch of students produced: the final state, the return ``(B,)``, the features
    ``(T, B, M, F)`` and decisions ``(T, B, M)`` of every step, which steps were live ``(T, B)``, and the mean test
    accuracy and kept examples after each step ``(T + 1,)`` (for curves)."""

    state: TeachState
    returns: torch.Tensor
    features: torch.Tensor
    keeps: torch.Tensor
    live: torch.Tensor
    test_curve: torch.Tensor
    kept_curve: torch.Tensor


def teach(process: TeachingProcess, task: Task, select: Selector, horizon: int, until: str = "dev",
          record_features: bool = True, all_done: Callable[[torch.Tensor], bool] | None = None) -> Episode:
    """Teach every student of ``task`` with ``select`` for at most ``horizon`` minibatches.

    ``until="dev"``: a student stops at the environment's terminal state (dev accuracy reaches tau, budget, or
    a non-finite student); ``"test"``: it stops once its test accuracy reaches tau (or the budget is used), as
    the benchmark measures. Stopped students are frozen. ``record_features=False`` leaves ``Episode.features``
    empty: only the policy-gradient estimators read them, and they are the bulk of the memory. ``all_done(done)``
    says whether every student has stopped (default: all of ``done``); data-parallel processes ask all processes,
    so that every process takes as many steps, and draws as many numbers, as one process would.

    Example:
        >>> import metarl
        >>> env = metarl.make("metarl/Teach-v0", student="logistic", batch_size=8, tau=0.5)
        >>> process, task = env.process, env.sample_tasks(4, torch.Generator().manual_seed(0))
        >>> episode = teach(process, task, no_teach, 100, until="test")
        >>> episode.state.test_kept  # kept examples when test accuracy first reached tau (-1: never)
        tensor([120,  88,  80,  88])
    """
    state = process.start(task)
    done = torch.zeros(task.batch_size, dtype=torch.bool, device=state.theta.device)
    returns = torch.zeros(task.batch_size, device=state.theta.device)
    features, keeps, live = [], [], []
    test_curve, kept_curve = [state.test_acc.mean()], [state.kept.float().mean()]
    for _ in range(horizon):
        obs = process.observe(state, task)
        keep = select(obs, state) & ~done.unsqueeze(1)
        new, reward, terminal = process.advance(state, keep, task)
        if until == "test":
            terminal = (new.test_kept >= 0) | (new.updates >= process.max_updates) | new.failed
        if record_features:
            features.append(obs)
        keeps.append(keep)
        live.append(~done)
        returns += torch.where(done, 0.0, reward)
        state = state.where(~done, new)
        done = done | terminal
        test_curve.append(state.test_acc.mean())
        kept_curve.append(state.kept.float().mean())
        if all_done(done) if all_done is not None else bool(done.all()):
            break
    recorded = torch.stack(features) if record_features else torch.empty(0, device=returns.device)
    return Episode(state, returns, recorded, torch.stack(keeps), torch.stack(live),
                   torch.stack(test_curve), torch.stack(kept_curve))


def instances_to_tau(state: TeachState, process: TeachingProcess) -> torch.Tensor:
    """Kept examples each student needed to reach tau on its test set ``(B,)``; a student that never did counts
    at its whole budget ``max_updates * M`` (a lower bound on what it would need)."""
    budget = process.max_updates * process.M
    return torch.where(state.test_kept >= 0, state.test_kept, budget).float()


__all__ = ["Episode", "Selector", "instances_to_tau", "no_teach", "rand_teach", "self_paced", "teach", "teacher"]
