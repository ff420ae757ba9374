"""Counter-based random numbers: the same values for an environment whatever B, device or thread count.

Every random draw in the engine is a pure function of integer coordinates (an environment's key,
a trial or step counter, a lane number) passed through a 32-bit integer hash (``lowbias32``: two
xorshift-multiply rounds). Nothing depends on how many environments share a batch or in which
order a kernel visits them, so environment i with seed s produces the same trajectory alone or in
a batch of 65536, on CPU or CUDA.

Hashes are int32 tensors holding uint32 bit patterns: 32-bit multiplication wraps modulo 2**32 on
every torch backend (the test suite checks the results against a pure-Python reference), and
right shifts are made logical with a mask. Bulk draws are hashed in place, chunk by chunk, so the
working set stays in cache and no large temporaries are allocated.

Example:
    >>> import torch
    >>> keys = env_keys(seed=0, count=4)
    >>> u = uniform(keys, 0, size=3)  # one counter value, three lanes
    >>> u.shape
    torch.Size([4, 3])
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import torch

_M1 = 0x7FEB352D
_M2 = 0x846CA68B - (1 << 32)  # as a signed int32
_GOLDEN = 0x9E3779B9 - (1 << 32)
_CHUNK = 1 << 19  # int32 elements hashed per in-place pass (2 MiB: large enough for both threads)
_INV_2_23 = 1.0 / (1 << 23)


def as_bits(value: torch.Tensor | int, device: torch.device | str | None = None) -> torch.Tensor:
    """Reduce integers (Python or int64 tensors) modulo 2**32 into int32 bit patterns."""
    if isinstance(value, torch.Tensor):
        return value.to(torch.int32) if value.dtype != torch.int32 else value
    value &= 0xFFFFFFFF
    return torch.tensor(value - (1 << 32) if value >= 1 << 31 else value, dtype=torch.int32, device=device)


def _xorshift_(x: torch.Tensor, shift: int) -> torch.Tensor:
    """x ^= x >>> shift (logical shift of the uint32 pattern), in place."""
    return x.bitwise_xor_((x >> shift).bitwise_and_((1 << (32 - shift)) - 1))


def _mix_(x: torch.Tensor) -> torch.Tensor:
    """lowbias32 avalanche of int32 bit patterns, in place."""
    _xorshift_(x, 16).mul_(_M1)
    _xorshift_(x, 15).mul_(_M2)
    return _xorshift_(x, 16)


def mix32(x: torch.Tensor) -> torch.Tensor:
    """The lowbias32 hash of every element, as a new int32 tensor of bit patterns."""
    return _mix_(as_bits(x).clone())


def combine(key: torch.Tensor, counter: torch.Tensor | int) -> torch.Tensor:
    """Hash a counter into a key, giving a new independent key (broadcasts like ``key + counter``).

    ``mix32(key ^ counter * golden)``: for one key, distinct counters give distinct keys.
    """
    counter = as_bits(counter, key.device)
    return _mix_(as_bits(key) ^ (counter * _GOLDEN))


def env_keys(seed: int, count: int, offset: int = 0, device: torch.device | str = "cpu") -> torch.Tensor:
    """Keys of environments ``offset .. offset + count - 1`` of a run seeded with ``seed``, int32 (count,)."""
    index = torch.arange(offset, offset + count, dtype=torch.int64, device=device)
    seed_key = combine(as_bits(seed, device), seed >> 32)
    return combine(seed_key.expand(count), index)


def lanes(key: torch.Tensor, size: int, start: int = 0) -> torch.Tensor:
    """Uniforms in (0, 1) for lanes ``start .. start + size - 1`` of already-mixed keys: ``key.shape + (size,)``.

    Lane j hashes ``key + j * golden`` (a Weyl sequence through the avalanche). Values are
    (k + 0.5) / 2**23 for the top 23 bits k of the hash: exact in float32, never 0 or 1, so
    logarithms and inverse CDFs of them are finite.

    Example:
        >>> lanes(env_keys(0, 2), 3).shape
        torch.Size([2, 3])
    """
    key = as_bits(key)
    offsets = torch.arange(start, start + size, dtype=torch.int64, device=key.device).mul_(_GOLDEN)
    bits = key.unsqueeze(-1) + offsets.to(torch.int32)
    flat = bits.view(-1)
    out = torch.empty(flat.shape, dtype=torch.float32, device=key.device)
    chunk = _CHUNK if key.device.type == "cpu" else max(flat.numel(), 1)
    for first in range(0, flat.numel(), chunk):
        x = _mix_(flat[first : first + chunk])
        out[first : first + chunk] = (x >> 9).bitwise_and_((1 << 23) - 1)  # the top 23 bits, unsigned
    return out.add_(0.5).mul_(_INV_2_23).view(bits.shape)


def uniform(key: torch.Tensor, counter: torch.Tensor | int, size: int) -> torch.Tensor:
    """``size`` uniforms in (0, 1) per key for one counter value: ``lanes(combine(key, counter), size)``."""
    return lanes(combine(key, counter), size)


def normal_from_uniform(u: torch.Tensor) -> torch.Tensor:
    """Standard normal values from uniforms in (0, 1) by the inverse CDF (via ``erfinv``)."""
    return torch.erfinv(u * 2.0 - 1.0).mul_(2.0**0.5)


def dirichlet_from_uniform(u: torch.Tensor) -> torch.Tensor:
    """Flat-Dirichlet vectors along the last axis from uniforms in (0, 1); consumes ``u`` in place.

    Normalised Exponential(1) draws; ``log(u)`` is minus an exponential draw and the signs cancel
    in the normalisation.
    """
    weights = u.log_()
    return weights.div_(weights.sum(-1, keepdim=True))


def stream_seed(seed: int, name: str, legacy: Mapping[str, int] | None = None) -> int:
    """The seed of the random stream ``name`` of a run seeded with ``seed``.

    A stream in ``legacy`` (name -> offset) keeps its original derivation ``seed + offset``; any other name gets
    a 63-bit seed hashed from ``f"{seed}/{name}"`` (SHA-256, the same in every process, unlike ``hash()``), so
    distinct names give unrelated streams.

    Example:
        >>> stream_seed(7, "shuffle", {"shuffle": 1})
        8
        >>> stream_seed(7, "dropout") == stream_seed(7, "dropout") != stream_seed(8, "dropout")
        True
    """
    if legacy is not None and name in legacy:
        return seed + legacy[name]
    digest = hashlib.sha256(f"{seed}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1
