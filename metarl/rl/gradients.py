"""Gradients as one flat vector, the counterpart of ``torch.nn.utils.parameters_to_vector`` and
``vector_to_parameters`` (torch has those for parameters only).

TRPO solves for its step in this flat space; evolution strategies estimate one flat gradient and hand it to
an ordinary optimizer:

    >>> w, b = torch.nn.Parameter(torch.zeros(2, 2)), torch.nn.Parameter(torch.zeros(3))
    >>> g = gradient_vector(torch.autograd.grad((w.sum() + 2 * b.sum()), [w, b]))
    >>> g
    tensor([1., 1., 1., 1., 2., 2., 2.])
    >>> set_gradients([w, b], -g)
    >>> b.grad
    tensor([-2., -2., -2.])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch


def gradient_vector(gradients: Iterable[torch.Tensor]) -> torch.Tensor:
    """The gradients (or other tangent vectors) flattened and concatenated into one vector, in their order.

    Unlike ``parameters_to_vector``, it accepts the non-contiguous tensors ``torch.autograd.grad`` and
    ``torch.func`` transforms may return.
    """
    return torch.cat([g.reshape(-1) for g in gradients])


def set_gradients(parameters: Sequence[torch.Tensor], gradient: torch.Tensor) -> None:
    """Write one flat ``gradient`` (in ``parameters``' order) into their ``.grad``, for an optimizer step."""
    first = 0
    for p in parameters:
        p.grad = gradient[first : first + p.numel()].view_as(p).clone()
        first += p.numel()


__all__ = ["gradient_vector", "set_gradients"]
