"""Functional adaptation: one set of parameters per task, a whole meta-batch adapted in one pass.

Gradient-based meta-learners (MAML for RL and for supervised episodes) need a module evaluated with
parameters other than its own, one set per task, and gradient steps on those parameters that stay
differentiable with respect to the shared initialisation. Here parameters are plain dicts of tensors
(``{name: tensor}``, as :func:`torch.func.functional_call` takes them); *task parameters* carry a
leading task dimension, and :func:`per_task_call` evaluates the module for every task at once with
:func:`torch.func.vmap` (batched matmuls underneath, one Python call for the meta-batch).

A step on a sum of per-task losses gives each task its own gradient, since task t's loss depends only
on row t of the task parameters; so :func:`gradient_step` adapts the meta-batch with one
``autograd.grad`` call.

Example:
    >>> net = torch.nn.Linear(3, 1)
    >>> params = task_params(dict(net.named_parameters()), tasks=4)        # every tensor (4, ...)
    >>> x, y = torch.randn(4, 10, 3), torch.randn(4, 10, 1)
    >>> loss = ((per_task_call(net, params, x) - y) ** 2).mean((1, 2)).sum()  # sum of per-task losses
    >>> adapted = gradient_step(loss, params, step_size=0.1)               # differentiable w.r.t. net
    >>> adapted["weight"].shape
    torch.Size([4, 1, 3])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call, vmap

Params = dict[str, torch.Tensor]


def task_params(params: Params, tasks: int) -> Params:
    """Each tensor repeated along a new leading task dimension (a view: gradients flow back to ``params``).

    Example:
        >>> task_params({"w": torch.zeros(2, 3)}, tasks=5)["w"].shape
        torch.Size([5, 2, 3])
    """
    return {name: value.unsqueeze(0).expand(tasks, *value.shape) for name, value in params.items()}


def per_task_call(module: nn.Module, params: Params | None, *inputs: torch.Tensor) -> torch.Tensor:
    """``module(*inputs[t])`` with the parameters of task t, for every task t at once.

    ``params``: task parameters (leading dimension T), or None for the module's own parameters shared
    by every task (then a layer sees one large batch underneath, yet anything that mixes a call's
    examples, such as batch statistics, still sees task t's alone). Every input has leading dimension T.
    Returns the outputs stacked along the task dimension. A module with a ``per_task_forward(params,
    *inputs)`` method computes task parameters' outputs itself (:class:`~metarl.rl.MLPPolicy` does, with
    batched matrix products); any other module is mapped over the tasks with ``vmap``.

    Example:
        >>> net = torch.nn.Linear(2, 3)
        >>> per_task_call(net, task_params(dict(net.named_parameters()), 4), torch.zeros(4, 7, 2)).shape
        torch.Size([4, 7, 3])
        >>> per_task_call(net, None, torch.zeros(4, 7, 2)).shape
        torch.Size([4, 7, 3])
    """
    if all(x.shape[0] == 1 for x in (*inputs, *(params or {}).values())):
        # One task: the plain call computes the same thing without vmap's batching rules (about 20% faster on a
        # conv net, whose channels-last layout vmap does not keep).
        own = None if params is None else {name: value[0] for name, value in params.items()}
        return _call(module, own, *(x[0] for x in inputs)).unsqueeze(0)
    if params is None:
        return vmap(module)(*inputs)

    batched = getattr(module, "per_task_forward", None)
    if batched is not None:  # a module may provide the batched computation itself (MLPPolicy does)
        return batched(params, *inputs)

    def call(task: Params, *task_inputs: torch.Tensor) -> torch.Tensor:
        return functional_call(module, task, task_inputs)

    return vmap(call)(params, *inputs)


def _call(module: nn.Module, params: Params | None, *inputs: torch.Tensor) -> torch.Tensor:
    """``module(*inputs)`` with its own parameters (None) or with ``params`` (one task's, no task dimension)."""
    if params is None:
        return module(*inputs)
    return functional_call(module, params, inputs)


def gradient_step(loss: torch.Tensor, params: Params, step_size: float | torch.Tensor | Params,
                  first_order: bool = False) -> Params:
    """``params - step_size * d loss / d params``: one step of gradient descent, as new tensors.

    ``step_size`` is one number, or a mapping from each parameter's name to a tensor that broadcasts
    against it (Meta-SGD's learned per-entry step sizes).

    Second order (the default) keeps the graph of the gradient, so the result is differentiable with
    respect to whatever ``params`` came from (the meta-gradient goes through the step). First order
    treats the gradient as a constant (FOMAML). Under ``torch.no_grad()`` (evaluation, line searches)
    the gradient is still taken and the result carries no graph.

    Example:
        >>> w = torch.tensor([1.0], requires_grad=True)
        >>> gradient_step((w ** 2).sum(), {"w": w}, step_size=0.25)["w"]
        tensor([0.5000], grad_fn=<SubBackward0>)
    """
    names = list(params)
    tracking = torch.is_grad_enabled()
    create_graph = tracking and not first_order
    with torch.enable_grad():
        grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=create_graph, allow_unused=True)
    out = {}
    for name, grad in zip(names, grads, strict=True):
        value = params[name]
        if grad is not None:
            size = step_size[name] if isinstance(step_size, Mapping) else step_size
            value = value - size * (grad if create_graph else grad.detach())
        out[name] = value if tracking else value.detach()
    return out


def adapt(loss_fn: Callable[[Params, int], torch.Tensor], params: Params, step_sizes: Sequence[float | Params],
          first_order: bool = False) -> list[Params]:
    """Gradient steps ``k = 0, 1, ...`` on ``loss_fn(params_k, k)``; returns ``[params_0, params_1, ...]``.

    ``loss_fn`` returns the sum over tasks of each task's loss at step k (its data may differ per step,
    as in MAML-RL where step k's trajectories were collected with ``params_k``). Under
    ``torch.no_grad()`` the losses are still differentiated and the results carry no graph.

    Example:
        >>> w = task_params({"w": torch.ones(1, requires_grad=True)}, tasks=2)
        >>> [p["w"][:, 0].tolist() for p in adapt(lambda p, k: (p["w"] ** 2).sum(), w, [0.25, 0.25])]
        [[1.0, 1.0], [0.5, 0.5], [0.25, 0.25]]
    """
    steps = [params]
    for k, size in enumerate(step_sizes):
        current = steps[-1]
        if not torch.is_grad_enabled():  # the loss must still be differentiable in the parameters
            current = {n: v.detach().requires_grad_() for n, v in current.items()}
        with torch.enable_grad():
            loss = loss_fn(current, k)
        steps.append(gradient_step(loss, current, size, first_order))
    return steps


class AdaptationJacobian:
    """Products with the Jacobian J of adapted parameters with respect to the initial ones, task by task.

    For steps ``p_{k+1} = p_k - a_k * grad L_k(p_k)``, ``J = prod_k (I - a_k H_k)`` with H_k the Hessian
    of task t's loss at step k (symmetric, so ``J^T`` applies the same factors in reverse order). TRPO's
    Fisher matrix of the adapted policies is ``J^T F J``; applying J and F separately skips the
    third derivatives a Hessian-vector product through the whole adaptation would compute (they are
    multiplied by the KL gradient, which is zero at the old policy). First order: J = I.

    ``final`` holds the adapted parameters (detached), the same values :func:`adapt` returns.
    ``curvature_fn``, when given, replaces ``loss_fn`` in the Hessians H_k (an estimate on less data, say)
    while the steps, and so ``final``, still follow ``loss_fn``.

    Example:
        >>> w = task_params({"w": torch.ones(2)}, tasks=3)
        >>> jac = AdaptationJacobian(lambda p, k: (p["w"] ** 2).sum(), w, [0.25])   # J = (1 - 0.25 * 2) I
        >>> jac.jvp({"w": torch.ones(3, 2)})["w"][0].tolist()
        [0.5, 0.5]
    """

    def __init__(self, loss_fn: Callable[[Params, int], torch.Tensor], params: Params, step_sizes: Sequence[float],
                 first_order: bool = False,
                 curvature_fn: Callable[[Params, int], torch.Tensor] | None = None) -> None:
        self.step_sizes, self.first_order = list(step_sizes), first_order
        self._leaves: list[list[torch.Tensor]] = []
        self._grads: list[tuple[torch.Tensor, ...]] = []
        current = {name: value.detach() for name, value in params.items()}
        self.names = list(current)
        for k, size in enumerate(self.step_sizes):
            leaves = {name: value.requires_grad_() for name, value in current.items()}
            with torch.enable_grad():
                own_curvature = curvature_fn is None or first_order
                grads = torch.autograd.grad(loss_fn(leaves, k), list(leaves.values()),
                                            create_graph=own_curvature and not first_order, allow_unused=True,
                                            materialize_grads=True)
                step = grads
                if not own_curvature:
                    grads = torch.autograd.grad(curvature_fn(leaves, k), list(leaves.values()), create_graph=True,
                                                allow_unused=True, materialize_grads=True)
            self._leaves.append(list(leaves.values()))
            self._grads.append(grads)
            current = {name: (leaves[name] - size * g).detach() for name, g in zip(self.names, step, strict=True)}
        self.final: Params = current

    def _step(self, k: int, vectors: Params) -> Params:
        """``(I - a_k H_k) v`` for per-task vectors v."""
        grads = self._grads[k]
        dot = sum((g * vectors[n]).sum() for n, g in zip(self.names, grads, strict=True))
        hv = torch.autograd.grad(dot, self._leaves[k], retain_graph=True, allow_unused=True, materialize_grads=True)
        return {n: vectors[n] - self.step_sizes[k] * h.detach() for n, h in zip(self.names, hv, strict=True)}

    def jvp(self, vectors: Params) -> Params:
        """``J v``: how the adapted parameters move when the initial ones move by v (per task)."""
        if self.first_order:
            return vectors
        for k in range(len(self.step_sizes)):
            vectors = self._step(k, vectors)
        return vectors

    def vjp(self, vectors: Params) -> Params:
        """``J^T v``: a gradient with respect to the adapted parameters pulled back to the initial ones (per task)."""
        if self.first_order:
            return vectors
        for k in reversed(range(len(self.step_sizes))):
            vectors = self._step(k, vectors)
        return vectors


LATER_STEP_FACTORS = (1.0, 0.5, 0.25, 0.125, 0.0625)
"""Later step sizes :func:`tune_later_steps` tries, as fractions of the first step."""


def tune_later_steps(score: Callable[[list[float]], float], first: float, steps: int,
                     factors: Sequence[float] = LATER_STEP_FACTORS, maximize: bool = True
                     ) -> tuple[list[float], dict[float, float]]:
    """The test-time schedule ``[first, s, ..., s]`` of ``steps`` steps whose ``score`` is best.

    ``s`` is tried at ``first * f`` for each of ``factors``; ``score`` rates a schedule on validation tasks
    (highest best, or lowest with ``maximize=False``) so that the choice is then applied to test tasks it
    has not seen. An initialisation meta-trained for one step of ``first`` sits where that step lands
    well; repeating it can overshoot, and the MAML paper halved the step after the first for that reason.
    Returns the schedule and the score of every later size tried.

    Example:
        >>> sizes, tried = tune_later_steps(lambda s: -abs(s[1] - 0.025), 0.1, 3)
        >>> sizes
        [0.1, 0.025, 0.025]
    """
    if steps < 2:
        return [first][:steps], {}
    tried = {first * f: float(score([first] + [first * f] * (steps - 1))) for f in factors}
    best = (max if maximize else min)(tried, key=tried.get)
    return [first] + [best] * (steps - 1), tried


__all__ = ["LATER_STEP_FACTORS", "AdaptationJacobian", "Params", "adapt", "gradient_step", "per_task_call",
           "task_params", "tune_later_steps"]
