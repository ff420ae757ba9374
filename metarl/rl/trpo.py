"""Trust-region policy optimisation (Schulman et al. 2015): conjugate gradient, Fisher-vector products, line search.

TRPO maximises a surrogate objective subject to a bound on the mean KL divergence between the old and
the new policy. The natural-gradient direction solves ``F x = g`` by conjugate gradient, where the
Fisher matrix ``F`` is only touched through Hessian-vector products of the KL (two backward passes,
never the matrix); the step is scaled to the KL bound and shortened by a backtracking line search until
the surrogate improves and the KL bound holds. Any differentiable objective works, including MAML's,
whose policy is the result of inner gradient steps (the products then go through those steps).

Example:
    >>> w = torch.nn.Parameter(torch.zeros(3))
    >>> def objective():
    ...     logits = w.expand(8, 3)
    ...     old = logits.detach()
    ...     kl = (old.softmax(-1) * (old.log_softmax(-1) - logits.log_softmax(-1))).sum(-1).mean()
    ...     return -logits.log_softmax(-1)[:, 0].mean(), kl
    >>> result = trpo_step([w], objective, max_kl=0.01)
    >>> result.accepted, result.kl <= 0.01
    (True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from metarl.rl.gradients import gradient_vector


def conjugate_gradient(matvec: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, iterations: int = 10,
                       tolerance: float = 1e-10) -> torch.Tensor:
    """An approximate solution x of ``A x = b`` for symmetric positive-definite A given as ``matvec(v) = A v``.

    Exact after n iterations for an n x n system (in exact arithmetic); TRPO runs about 10.

    Example:
        >>> A = torch.tensor([[4.0, 1.0], [1.0, 3.0]])
        >>> conjugate_gradient(lambda v: A @ v, torch.tensor([1.0, 2.0]), iterations=2)
        tensor([0.0909, 0.6364])
    """
    return _conjugate_gradient(matvec, b, iterations, tolerance)[0]


def _conjugate_gradient(matvec: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, iterations: int,
                        tolerance: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, residual b - A x); from x = 0, so ``x @ (b - residual)`` is ``x @ A x`` without another product."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = b.clone()
    r_dot = r @ r
    for _ in range(iterations):
        if float(r_dot) < tolerance:
            break
        ap = matvec(p)
        alpha = r_dot / (p @ ap)
        x = x + alpha * p
        r = r - alpha * ap
        new_r_dot = r @ r
        p = r + (new_r_dot / r_dot) * p
        r_dot = new_r_dot
    return x, r


def fisher_vector_product(kl: torch.Tensor, params: Sequence[torch.Tensor], damping: float = 1e-5
                          ) -> Callable[[torch.Tensor], torch.Tensor]:
    """``v -> (H + damping I) v`` with H the Hessian of ``kl`` (the Fisher matrix at the old policy).

    ``kl`` must be differentiable twice in ``params``; the first derivative is taken once here and the
    returned function differentiates ``grad . v`` for each v.

    Example:
        >>> w = torch.zeros(2, requires_grad=True)
        >>> product = fisher_vector_product((w ** 2).sum(), [w], damping=0.0)   # Hessian 2 I
        >>> product(torch.tensor([1.0, 3.0]))
        tensor([2., 6.])
    """
    params = list(params)
    grads = gradient_vector(torch.autograd.grad(kl, params, create_graph=True))

    def product(v: torch.Tensor) -> torch.Tensor:
        hv = torch.autograd.grad(grads @ v, params, retain_graph=True)
        return gradient_vector(hv).detach() + damping * v

    return product


class LineSearch(NamedTuple):
    """Outcome of :func:`line_search`: whether a step was taken, its fraction of the full step, and the result."""

    accepted: bool
    fraction: float
    backtracks: int
    loss: float
    kl: float


def line_search(params: Sequence[torch.Tensor], full_step: torch.Tensor,
                evaluate: Callable[[], tuple[torch.Tensor, torch.Tensor]], loss_before: float, max_kl: float,
                backtrack_ratio: float = 0.8, max_backtracks: int = 15) -> LineSearch:
    """Try ``params + ratio^j * full_step`` for j = 0, 1, ...; keep the first that lowers the loss within the KL bound.

    ``evaluate()`` returns (loss, KL from the old policy) at the parameters' current values; it runs
    under ``torch.no_grad()``. When no fraction is accepted the parameters are restored.

    Example:
        >>> w = torch.nn.Parameter(torch.zeros(1))
        >>> result = line_search([w], torch.ones(1), lambda: ((w - 0.3) ** 2, w.abs()), 0.09, max_kl=0.5)
        >>> result.accepted, round(result.fraction, 4)  # 0.512 would leave the trust region
        (True, 0.4096)
    """
    start = parameters_to_vector(params).detach()
    loss, kl = loss_before, 0.0
    for j in range(max_backtracks + 1):
        fraction = backtrack_ratio ** j
        with torch.no_grad():
            vector_to_parameters(start + fraction * full_step, params)
        with torch.no_grad():
            loss_t, kl_t = evaluate()
        loss, kl = float(loss_t), float(kl_t)
        if loss < loss_before and kl <= max_kl:
            return LineSearch(True, fraction, j, loss, kl)
    with torch.no_grad():
        vector_to_parameters(start, params)
    return LineSearch(False, 0.0, max_backtracks + 1, loss, kl)


class TRPOStep(NamedTuple):
    """What :func:`trpo_step` did: surrogate loss before and after, the KL reached and the line search."""

    loss_before: float
    loss_after: float
    kl: float
    accepted: bool
    fraction: float
    backtracks: int
    gradient_norm: float


def trpo_step(params: Sequence[torch.Tensor], objective: Callable[[], tuple[torch.Tensor, torch.Tensor]],
              max_kl: float = 0.01, cg_iterations: int = 10, damping: float = 1e-5, backtrack_ratio: float = 0.8,
              max_backtracks: int = 15, check: Callable[[torch.Tensor], None] | None = None,
              fisher_product: Callable[[torch.Tensor], torch.Tensor] | None = None,
              average: Callable[[torch.Tensor], torch.Tensor] | None = None) -> TRPOStep:
    """One TRPO update of ``params`` in place.

    ``objective()`` returns (surrogate loss to minimise, mean KL(old policy || current policy)) at the
    parameters' current values, both differentiable in ``params`` (the KL twice, unless
    ``fisher_product``, a function ``v -> (F + damping I) v`` on flat vectors, is given). The step
    direction is the conjugate-gradient solution of ``(F + damping I) x = -grad``, scaled so that the
    quadratic model of the KL equals ``max_kl``, then backtracked. ``check`` (e.g.
    :func:`metarl.training.check_finite`) sees the loss before anything changes. ``average`` (a data-parallel
    process's :meth:`~metarl.training.parallel.Parallel.mean`) turns this process's gradient, Fisher-vector products,
    losses and KLs (means over its equal shard of the batch) into the global batch's, so every process takes the
    same step.
    """
    params = list(params)
    average = average or (lambda value: value)
    loss, kl = objective()
    if check is not None:
        check(loss)
    grads = average(gradient_vector(torch.autograd.grad(loss, params, retain_graph=fisher_product is None)).detach())
    local_product = fisher_product or fisher_vector_product(kl, params, damping)
    del kl

    def product(v: torch.Tensor) -> torch.Tensor:
        return average(local_product(v))

    def evaluate() -> tuple[torch.Tensor, torch.Tensor]:
        loss_t, kl_t = objective()
        return average(loss_t.detach()), average(kl_t.detach())

    direction, residual = _conjugate_gradient(product, -grads, cg_iterations, 1e-10)
    curvature = float(direction @ (-grads - residual))  # direction . (F + damping I) direction
    loss_before = float(average(loss.detach()))
    if not curvature > 0.0 or not torch.isfinite(direction).all():
        return TRPOStep(loss_before, loss_before, 0.0, False, 0.0, 0, float(grads.norm()))
    full_step = direction * (2.0 * max_kl / curvature) ** 0.5
    search = line_search(params, full_step, evaluate, loss_before, max_kl, backtrack_ratio, max_backtracks)
    loss_after = search.loss if search.accepted else loss_before
    return TRPOStep(loss_before, loss_after, search.kl if search.accepted else 0.0, search.accepted,
                    search.fraction, search.backtracks, float(grads.norm()))


__all__ = ["LineSearch", "TRPOStep", "conjugate_gradient", "fisher_vector_product", "line_search", "trpo_step"]
