"""scikit-learn's bundled handwritten digits as tensors, cut into fixed, disjoint pools per task split.

The data set (1797 images of 8 x 8 pixels with values 0-16, ten classes) ships inside scikit-learn, so
nothing is downloaded. Learning-process families (an optimizee trained on digits, a student taught on
digits) draw their examples from the pool of their task's split, so held-out tasks train and are scored
on images no training task ever saw:

- the images are put in a fixed hashed order and cut into pools: 60% train, 30% test, 10% validation;
- each pool's first 80% is its *fit* part (the examples an optimizee trains on), the rest its *eval*
  part (held-out examples of that pool, for test accuracy).

Example:
    >>> data = load_digits()
    >>> data.x.shape, data.y.shape, int(data.fit_size[SPLITS["test"]])
    (torch.Size([1797, 64]), torch.Size([1797]), 431)
"""

from __future__ import annotations

import dataclasses

import torch

from metarl import random as mrandom
from metarl.checks import SPLITS
from metarl.errors import DataError

POOL_FRACTIONS = {"train": 0.6, "test": 0.3, "validation": 0.1}
FIT_FRACTION = 0.8
_ORDER_KEY = 0xD161
_CACHE: dict[str, DigitsData] = {}


@dataclasses.dataclass(frozen=True)
class DigitsData:
    """Images ``x (N, 64)`` float32 in [0, 1] and labels ``y (N,)`` int64, pool by pool.

    ``fit_start``, ``fit_size``, ``eval_start``, ``eval_size`` are (3,) int64 tensors indexed by the split
    number of :data:`metarl.checks.SPLITS`: rows ``fit_start[s] .. fit_start[s] + fit_size[s] - 1`` are the fit
    part of split s's pool.
    """

    x: torch.Tensor
    y: torch.Tensor
    fit_start: torch.Tensor
    fit_size: torch.Tensor
    eval_start: torch.Tensor
    eval_size: torch.Tensor

    @property
    def classes(self) -> int:
        return 10

    @property
    def features(self) -> int:
        return self.x.shape[1]


def _build() -> DigitsData:
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as exc:  # pragma: no cover - scikit-learn is a dependency
        raise DataError("the digits data set needs scikit-learn: pip install scikit-learn") from exc
    bunch = sklearn_digits()
    x = torch.as_tensor(bunch.data, dtype=torch.float32) / 16.0
    y = torch.as_tensor(bunch.target, dtype=torch.int64)
    n = x.shape[0]
    scores = mrandom.mix32(mrandom.combine(mrandom.as_bits(_ORDER_KEY), torch.arange(n))).to(torch.int64)
    order = torch.argsort(scores * n + torch.arange(n))  # index breaks ties: a fixed order on every machine
    rows, starts = [], {}
    first = 0
    for split, fraction in POOL_FRACTIONS.items():
        size = round(n * fraction) if split != "validation" else n - first
        pool = order[first : first + size]
        first += size
        fit = round(size * FIT_FRACTION)
        start = sum(len(r) for r in rows)
        starts[split] = (start, fit, start + fit, size - fit)
        rows.append(pool)
    index = torch.cat(rows)

    def column(i: int) -> torch.Tensor:
        values = [0] * len(SPLITS)
        for split, number in SPLITS.items():
            values[number] = starts[split][i]
        return torch.tensor(values, dtype=torch.int64)

    return DigitsData(x[index].contiguous(), y[index].contiguous(), column(0), column(1), column(2), column(3))


def load_digits(device: torch.device | str = "cpu") -> DigitsData:
    """The digits data with its pools, on ``device`` (built once per process and copied once per device)."""
    key = str(torch.device(device))
    if key not in _CACHE:
        base = _CACHE.get("cpu") or _build()
        _CACHE["cpu"] = base
        _CACHE[key] = DigitsData(**{f.name: getattr(base, f.name).to(device) for f in dataclasses.fields(base)})
    return _CACHE[key]


__all__ = ["FIT_FRACTION", "POOL_FRACTIONS", "DigitsData", "load_digits"]
