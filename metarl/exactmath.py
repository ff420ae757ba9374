"""Elementwise functions whose float32 results do not depend on the batch size.

On CPU, torch computes a transcendental function (``exp``, ``sigmoid``, ``log``) over a contiguous tensor with
SIMD code for most elements and with the C library for the few left over at the end; the two round
differently in the last bit. Which elements are left over depends on the tensor's size, so environment i of a
batch of B would see values that change with B. The functions here use only additions, multiplications,
divisions, rounding and bit operations, which IEEE 754 rounds exactly in both code paths (and on CUDA), so
every element gets the same value whatever the batch size, device or thread count.

Example:
    >>> x = torch.linspace(-3, 3, 7)
    >>> bool(torch.allclose(sigmoid(x), torch.sigmoid(x), atol=1e-7))
    True
    >>> bool((sigmoid(x.repeat(5))[:7] == sigmoid(x)).all())
    True
"""

from __future__ import annotations

import torch

_LOG2E = 1.4426950408889634
_LN2_HIGH, _LN2_LOW = 0.693359375, -2.12194440e-4  # ln 2 split so that k * _LN2_HIGH is exact (Cody and Waite)
_EXP_POLY = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1)
"""Minimax coefficients of (e^r - 1 - r) / r^2 on |r| <= ln(2) / 2 (Cephes ``expf``), highest degree first."""


def exp(x: torch.Tensor) -> torch.Tensor:
    """``e^x`` of a float32 tensor to about 1 ulp, the same value for an element wherever it sits in the tensor.

    Inputs are clamped to [-87, 88], so the result is always a finite normal number.

    Example:
        >>> exp(torch.tensor([0.0, 1.0]))
        tensor([1.0000, 2.7183])
    """
    x = x.clamp(-87.0, 88.0)
    k = torch.mul(x, _LOG2E).round_()
    r = x.sub_(k * _LN2_HIGH).sub_(k * _LN2_LOW)  # x is the clamped copy: in-place ops save allocations
    p = torch.mul(r, _EXP_POLY[0])
    for c in _EXP_POLY[1:-1]:
        p.add_(c).mul_(r)
    p.add_(_EXP_POLY[-1]).mul_(r * r).add_(r).add_(1.0)
    scale = k.to(torch.int32).add_(127).bitwise_left_shift_(23).view(torch.float32)  # 2^k, built from its bits
    return p.mul_(scale)


class _Sigmoid(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(x).div_(exp(-x).add_(1.0))

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return grad * y * (1.0 - y)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """The logistic function of a float32 tensor (differentiable), independent of the batch size (module doc).

    Example:
        >>> sigmoid(torch.tensor([0.0]))
        tensor([0.5000])
    """
    return _Sigmoid.apply(x)


__all__ = ["exp", "sigmoid"]
