"""Counter-based random numbers: the same values for an environment whatever B, device or thread count.

Every random draw in the engine is a pure function of integer coordinates (an environment's key,
a trial or step counter, a stream number) passed through a 32-bit integer hash. Nothing depends
on how many environments share a batch or in which order a kernel visits them, so environment i
with seed s produces the same trajectory alone or in a batch of 65536, on CPU or CUDA.

Arithmetic stays inside int64 without overflow: values are kept below 2**32 and multiplied by
constants below 2**31.

Example:
    >>> import torch
    >>> keys = env_keys(seed=0, count=4)
    >>> u = uniform(keys, torch.zeros(4, dtype=torch.int64), size=3)
    >>> u.shape
    torch.Size([4, 3])
"""

from __future__ import annotations

import torch

MASK32 = 0xFFFFFFFF
_M1 = 0x7FEB352D
_M2 = 0x6B43A9B5
_GOLDEN = 0x9E3779B9
_INV_2_24 = 1.0 / (1 << 24)


def mix32(x: torch.Tensor) -> torch.Tensor:
    """Scramble the low 32 bits of an int64 tensor (an xorshift-multiply avalanche, three rounds)."""
    x = x & MASK32
    x = x ^ (x >> 16)
    x = (x * _M1) & MASK32
    x = x ^ (x >> 15)
    x = (x * _M2) & MASK32
    x = x ^ (x >> 16)
    x = (x * _M1) & MASK32
    return x ^ (x >> 15)


def combine(key: torch.Tensor, counter: torch.Tensor | int) -> torch.Tensor:
    """Hash a counter into a key, giving a new independent key (broadcasts like ``key + counter``)."""
    return mix32(key ^ mix32(torch.as_tensor(counter, dtype=torch.int64, device=key.device) + _GOLDEN))


def env_keys(seed: int, count: int, offset: int = 0, device: torch.device | str = "cpu") -> torch.Tensor:
    """Keys of environments ``offset .. offset + count - 1`` of a run seeded with ``seed``, shape (count,)."""
    index = torch.arange(offset, offset + count, dtype=torch.int64, device=device)
    return combine(combine(torch.full_like(index, seed & MASK32), seed >> 32), index)


def to_unit(bits: torch.Tensor) -> torch.Tensor:
    """Map 32-bit hashes to float32 uniforms strictly inside (0, 1), on a grid of 2**-24.

    Never 0 or 1, so logarithms and inverse CDFs of the result are always finite.
    """
    return ((bits >> 8).to(torch.float32) + 0.5) * _INV_2_24


def uniform(key: torch.Tensor, counter: torch.Tensor | int, size: int) -> torch.Tensor:
    """``size`` uniforms in (0, 1) per key for one counter value: shape ``key.shape + (size,)``."""
    base = combine(key, counter).unsqueeze(-1)
    lanes = torch.arange(size, dtype=torch.int64, device=key.device)
    return to_unit(combine(base, lanes))


def normal_from_uniform(u: torch.Tensor) -> torch.Tensor:
    """Standard normal values from uniforms in (0, 1) by the inverse CDF."""
    return torch.special.ndtri(u)


def exponential_from_uniform(u: torch.Tensor) -> torch.Tensor:
    """Exponential(1) values from uniforms in (0, 1)."""
    return -torch.log1p(-u)
