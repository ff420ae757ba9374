"""Trajectories of a meta-batch, collected as one batched rollout, and the MAML-RL losses on them.

The environment holds ``tasks x trajectories`` copies: environment ``g * K + k`` runs trajectory k of
task g (tasks are imposed with ``env.reset(task=...)``). A trajectory is one trial of the family (one
episode of Navigation2D, ``pulls`` pulls of a bandit, ``episodes`` episodes of a tabular MDP), so every
rollout runs ``env.trial_steps`` steps; steps after a trajectory's trial ended (Navigation2D terminates
near the goal) are masked out of every return, fit and loss.

Example (one meta-iteration on 3 tasks x 2 trajectories: an inner step, then TRPO through it):
    >>> import metarl, torch
    >>> from metarl.rl import MLPPolicy, adapt, task_params, trpo_step
    >>> env = metarl.make("metarl/Navigation2D-v0", num_envs=3 * 2, horizon=5, seed=0)
    >>> policy, gen = MLPPolicy(2, env.single_action_space, hidden=(8,)), torch.Generator().manual_seed(0)
    >>> tasks, params = env.sample_tasks(3, gen), task_params(dict(policy.named_parameters()), 3)
    >>> pre = process(collect(env, policy, params, tasks, 2, gen), 0.99, 1.0, reg=1e-5, normalize=True)
    >>> def adapted(params):  # one inner step per task, differentiable in the shared parameters
    ...     return adapt(lambda p, _: inner_loss(policy, p, pre), params, [0.1])[-1]
    >>> post = process(collect(env, policy, adapted(params), tasks, 2, gen), 0.99, 1.0, reg=1e-5, normalize=True)
    >>> post.advantages.shape  # (steps, tasks, trajectories)
    torch.Size([5, 3, 2])
    >>> def objective():  # the post-adaptation surrogate and KL, as functions of the shared parameters
    ...     return surrogate(policy, adapted(task_params(dict(policy.named_parameters()), 3)), post)[:2]
    >>> product = adapted_fisher_product(policy, [pre], post, [0.1], False, damping=1e-5)
    >>> step = trpo_step(list(policy.parameters()), objective, fisher_product=product)
    >>> step.accepted, step.loss_after < step.loss_before, step.kl <= 0.01  # within the trust region
    (True, True, True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import torch

from metarl.engine import BatchedEnv
from metarl.rl import AdaptationJacobian, MLPPolicy, fit_linear_baseline, gae, linear_features, per_task_call
from metarl.rl.functional import Params
from metarl.rl.gradients import gradient_vector
from metarl.rl.heads import Draw
from metarl.rl.trpo import fisher_vector_product
from metarl.tasks import Task


@dataclasses.dataclass
class Batch:
    """Trajectories of G tasks, K each: tensors (T, G, K, ...), steps first.

    ``dist`` holds the policy's outputs when it acted (the "old" policy of the outer update);
    ``advantages`` are filled by :func:`process`.
    """

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    mask: torch.Tensor
    dist: torch.Tensor
    advantages: torch.Tensor | None = None

    @property
    def tasks(self) -> int:
        return self.rewards.shape[1]

    def returns(self) -> torch.Tensor:
        """Undiscounted return of each trajectory, (G, K)."""
        return (self.rewards * self.mask).sum(0)

    def task_major(self, name: str) -> torch.Tensor:
        """Field ``name`` as (G, T, K, ...), the layout :func:`per_task_call` maps over."""
        return getattr(self, name).transpose(0, 1)

    def first_trajectories(self, count: int) -> Batch:
        """The first ``count`` trajectories of every task (trajectories are i.i.d., so a random subset)."""
        return Batch(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name)[:, :, :count]
                        for f in dataclasses.fields(Batch)})

    @staticmethod
    def cat(batches: list[Batch]) -> Batch:
        """The batches' tasks side by side (same T and K)."""
        out = {}
        for field in dataclasses.fields(Batch):
            values = [getattr(b, field.name) for b in batches]
            out[field.name] = None if any(v is None for v in values) else torch.cat(values, 1)
        return Batch(**out)


def repeat_tasks(tasks: Task, trajectories: int) -> Task:
    """Each task repeated for its trajectories: row g * K + k is task g (the layout :func:`collect` steps).

    Example:
        >>> import metarl
        >>> repeat_tasks(metarl.make("metarl/Navigation2D-v0").sample_tasks(3), 2).batch_size
        6
    """
    index = torch.arange(tasks.batch_size, device=next(iter(tasks.fields().values())).device)
    return tasks[index.repeat_interleave(trajectories)]


@torch.no_grad()
def collect(env: BatchedEnv, policy: MLPPolicy, params: Params, tasks: Task, trajectories: int,
            generator: torch.Generator, draw: Draw | None = None) -> Batch:
    """One trajectory per environment, task g's K trajectories acting with ``params`` row g.

    ``env.num_envs`` must equal ``tasks.batch_size * trajectories``. Actions are sampled with ``generator`` (and
    ``draw``, a data-parallel process's :meth:`~metarl.training.parallel.Parallel.draw`, along the task dimension).

    Example:
        >>> import metarl
        >>> from metarl.rl import MLPPolicy, task_params
        >>> env = metarl.make("metarl/Navigation2D-v0", num_envs=3 * 2, horizon=5)  # 3 tasks x 2 trajectories
        >>> policy = MLPPolicy(2, env.single_action_space, hidden=(8,))
        >>> params = task_params(dict(policy.named_parameters()), 3)
        >>> batch = collect(env, policy, params, env.sample_tasks(3), 2, torch.Generator().manual_seed(0))
        >>> batch.rewards.shape, batch.returns().shape
        (torch.Size([5, 3, 2]), torch.Size([3, 2]))
    """
    G, K, T = tasks.batch_size, trajectories, env.trial_steps
    if env.num_envs != G * K:
        raise ValueError(f"collect: {G} tasks x {K} trajectories need {G * K} environments, the env has "
                         f"{env.num_envs}")
    obs = env.reset(task=repeat_tasks(tasks, K))
    alive = torch.ones(G * K, dtype=torch.bool, device=env.device)
    rows: dict[str, list[torch.Tensor]] = {"obs": [], "actions": [], "rewards": [], "mask": [], "dist": []}
    for _ in range(T):
        x = obs.view(G, K, -1)
        out = per_task_call(policy, params, x)
        action = policy.sample(out, generator, draw)
        step = env.step(policy.env_action(action).reshape(G * K, *action.shape[2:]))
        for name, value in (("obs", x), ("actions", action), ("rewards", step.reward.view(G, K)),
                            ("mask", alive.view(G, K).float()), ("dist", out)):
            rows[name].append(value)
        alive = alive & ~step.trial_end
        obs = step.obs
    return Batch(**{name: torch.stack(values) for name, values in rows.items()})


def masked_task_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the valid steps of each task: ``x`` and ``mask`` (T, G, K) -> (G,).

    Example:
        >>> masked_task_mean(torch.ones(4, 2, 3), torch.ones(4, 2, 3)).tolist()
        [1.0, 1.0]
    """
    return (x * mask).sum((0, 2)) / mask.sum((0, 2)).clamp(min=1.0)


@torch.no_grad()
def process(batch: Batch, gamma: float, gae_lambda: float, reg: float, normalize: bool) -> Batch:
    """Fill ``batch.advantages``: GAE against each task's linear feature baseline fitted to discounted returns.

    A trajectory's end is terminal (the objective is the finite-horizon return), so nothing is
    bootstrapped; masked steps get a zero advantage. ``normalize`` standardises each task's advantages.

    Example: the module's example, a meta-iteration, runs it.
    """
    T, G, K = batch.rewards.shape
    mask = batch.mask
    ended = torch.ones_like(mask, dtype=torch.bool)  # the trajectory has ended at or before step t
    ended[:-1] = mask[1:] == 0
    rewards = (batch.rewards * mask).reshape(T, G * K)
    zeros = torch.zeros(G * K, device=mask.device)
    flat_end = ended.reshape(T, G * K)
    returns, _ = gae(rewards, torch.zeros_like(rewards), zeros, flat_end, flat_end, gamma, 1.0)
    values = fit_linear_baseline(linear_features(batch.obs), returns.view(T, G, K), mask, reg)
    advantages, _ = gae(rewards, values.reshape(T, G * K), zeros, flat_end, flat_end, gamma, gae_lambda)
    advantages = advantages.view(T, G, K) * mask
    if normalize:
        mean = masked_task_mean(advantages, mask).view(1, G, 1)
        var = masked_task_mean((advantages - mean).square(), mask).view(1, G, 1)
        advantages = (advantages - mean) / (var.sqrt() + 1e-8) * mask
    batch.advantages = advantages
    return batch


def inner_loss(policy: MLPPolicy, params: Params, batch: Batch) -> torch.Tensor:
    """Sum over tasks of the vanilla policy-gradient loss ``-mean(log pi(a|s) * advantage)`` of each task.

    A sum, not a mean, so that a step on it gives every task the step size on its own loss.

    Example: the module's example, a meta-iteration, runs it.
    """
    out = per_task_call(policy, params, batch.task_major("obs"))
    logp = policy.log_prob(out, batch.task_major("actions")).transpose(0, 1)
    return -masked_task_mean(logp * batch.advantages, batch.mask).sum()


def surrogate(policy: MLPPolicy, params: Params, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(importance-weighted surrogate loss, KL(acting policy || params' policy), entropy), means over tasks.

    At the parameters that collected ``batch`` the ratio is 1, so the surrogate's gradient is the policy
    gradient of the post-adaptation return, and the KL is 0: what TRPO's trust region is measured from.

    Example: the module's example, a meta-iteration, runs it.
    """
    out = per_task_call(policy, params, batch.task_major("obs")).transpose(0, 1)
    logp = policy.log_prob(out, batch.actions)
    old_logp = policy.log_prob(batch.dist, batch.actions)
    ratio = (logp - old_logp).exp()
    loss = -masked_task_mean(ratio * batch.advantages, batch.mask).mean()
    kl = masked_task_mean(policy.kl(batch.dist, out), batch.mask).mean()
    entropy = masked_task_mean(policy.entropy(out), batch.mask).mean()
    return loss, kl, entropy


def adapted_fisher_product(policy: MLPPolicy, batches: Sequence[Batch], post: Batch, step_sizes: Sequence[float],
                           first_order: bool, damping: float, subsample: float = 1.0
                           ) -> Callable[[torch.Tensor], torch.Tensor]:
    """``v -> (H + damping I) v`` with H the Hessian of the post-adaptation KL in the shared parameters.

    The KL is zero with a zero gradient at the old policy, so ``H = sum_t J_t^T F_t J_t``: the Fisher
    matrix F_t of task t's adapted policy on its post-adaptation trajectories, between the Jacobians J_t
    of the inner steps (:class:`AdaptationJacobian`). The same matrix a Hessian-vector product through the
    whole adaptation gives, without its third derivatives; vectors are flat over ``policy.parameters()``.
    ``subsample < 1`` estimates both Hessians from that fraction of each task's trajectories.

    Example: the module's example, a meta-iteration, runs it.
    """
    curvature_batches = batches
    if subsample < 1.0:
        count = max(1, round(subsample * post.actions.shape[2]))
        curvature_batches, post = [b.first_trajectories(count) for b in batches], post.first_trajectories(count)
    names, shapes = zip(*((n, p.shape) for n, p in policy.named_parameters()), strict=True)
    sizes = [shape.numel() for shape in shapes]
    G = post.tasks
    start = {n: p.detach().unsqueeze(0).expand(G, *p.shape) for n, p in policy.named_parameters()}
    jacobian = AdaptationJacobian(lambda p, k: inner_loss(policy, p, batches[k]), start, step_sizes, first_order,
                                  lambda p, k: inner_loss(policy, p, curvature_batches[k]))
    leaves = {n: v.requires_grad_() for n, v in jacobian.final.items()}
    with torch.enable_grad():
        kl = surrogate(policy, leaves, post)[1]
    fisher = fisher_vector_product(kl, [leaves[n] for n in names], damping=0.0)

    def product(v: torch.Tensor) -> torch.Tensor:
        chunks = zip(names, shapes, v.split(sizes), strict=True)
        moved = jacobian.jvp({n: c.view(s).expand(G, *s) for n, s, c in chunks})
        fv = fisher(gradient_vector([moved[n] for n in names])).split([G * size for size in sizes])
        pulled = jacobian.vjp({n: c.view(G, *s) for n, s, c in zip(names, shapes, fv, strict=True)})
        return gradient_vector([pulled[n].sum(0) for n in names]) + damping * v

    return product
