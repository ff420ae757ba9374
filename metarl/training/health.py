"""Signs that a run has collapsed while its loss stays finite (exploding parameters, validation back at chance), and
the check that stops a run before an update with a non-finite loss (:func:`check_finite`).

A learning rate far too high can leave every loss finite while the weights grow to 1e9 and the
validation score drops to chance. Both checks here are cheap: the parameter check runs once per
checkpoint (one host sync), the validation check only where the agent validates anyway.

Example:
    >>> parameter_collapse(rms=2e9, reference=0.05) is not None
    True
    >>> validation_collapse(0.2, best=0.6, chance=0.2, noise=0.01, higher_is_better=True) is not None
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from metarl.errors import TrainingError

GROWTH_LIMIT = 1e3
"""A run whose parameters' root mean square grows more than this factor over its start has collapsed."""
RMS_FLOOR = 0.1
"""The start is counted as at least this root mean square, so a tiny or zero initialisation is no false alarm."""
CHANCE_MARGIN = 0.02
"""Relative margin around chance (times ``|chance|``) when the validation score has no interval of its own."""


def parameters_of(modules: Iterable[torch.nn.Module]) -> list[torch.nn.Parameter]:
    """The parameters of ``modules``, each once."""
    seen: dict[int, torch.nn.Parameter] = {}
    for module in modules:
        for parameter in module.parameters():
            seen.setdefault(id(parameter), parameter)
    return list(seen.values())


def parameter_rms(parameters: list[torch.Tensor]) -> float:
    """Root mean square of all ``parameters`` together (nan when there are none); one host sync."""
    count = sum(p.numel() for p in parameters)
    if count == 0:
        return math.nan
    total = sum(p.detach().float().pow(2).sum() for p in parameters)
    return math.sqrt(float(total) / count)


def parameter_collapse(rms: float, reference: float, growth: float = GROWTH_LIMIT) -> str | None:
    """Why the parameters show a collapse (non-finite, or grown ``growth`` times over ``reference``), or None."""
    if math.isnan(reference):
        return None
    if not math.isfinite(rms):
        return "its parameters are no longer finite"
    if rms > growth * max(reference, RMS_FLOOR):
        return (f"the root mean square of its parameters grew from {reference:.3g} to {rms:.3g} (more than "
                f"{growth:g} times)")
    return None


def validation_collapse(value: float, best: float, chance: float, noise: float, higher_is_better: bool
                        ) -> str | None:
    """Why ``value`` shows a collapse (back at ``chance`` after ``best`` was clearly better), or None.

    ``noise`` is the half-width of the validation score's 95% interval: the best score must beat chance by three
    such margins, and the new one lie within one margin of chance (or worse).
    """
    if not (math.isfinite(best) and math.isfinite(chance)):
        return None
    sign = 1.0 if higher_is_better else -1.0
    margin = max(noise if math.isfinite(noise) else 0.0, CHANCE_MARGIN * abs(chance))
    if sign * (best - chance) > 3 * margin and (not math.isfinite(value) or sign * (value - chance) <= margin):
        return f"validation fell to {value:.4g}, chance level {chance:.4g}, after reaching {best:.4g}"
    return None


class TrainingCollapsed(TrainingError):
    """A run whose loss stayed finite but which collapsed: parameters exploding, or validation back at chance."""


def check_finite(name: str, value: torch.Tensor) -> None:
    """Raise :class:`TrainingError` if ``value`` is NaN or infinite (one host sync)."""
    number = float(value.detach())
    if not math.isfinite(number):
        raise TrainingError(f"{name} is {number}: training stopped before the update; start a new run with a lower "
                            "learning rate (a resumed run keeps its learning rate), or check the rewards for NaN")
