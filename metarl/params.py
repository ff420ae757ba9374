"""Declared keyword arguments of environment families, checked with messages that name the fix."""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping
from typing import Any

from metarl.errors import BadArgumentError


@dataclasses.dataclass(frozen=True)
class Param:
    """One keyword argument of a family: its default, type and valid closed range (or, for a string, its choices).

    Example:
        >>> Param(5, low=1, doc="number of arms").check("arms", 10, env_id="metarl/BernoulliBandit-v0")
        10
        >>> Param("quadratic", choices=("quadratic", "mlp"), doc="optimizee").check("optimizee", "mlp", env_id="x")
        'mlp'
    """

    default: int | float | str
    low: float | None = None
    high: float | None = None
    doc: str = ""
    choices: tuple[str, ...] = ()
    """The valid values of a string argument."""

    @property
    def kind(self) -> type:
        if isinstance(self.default, str):
            return str
        return int if isinstance(self.default, int) else float

    def describe_range(self) -> str:
        if self.kind is str:
            return f"one of {list(self.choices)}"
        name = "an integer" if self.kind is int else "a number"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{name} in [{low}, {high}]"

    def check(self, name: str, value: Any, *, env_id: str) -> int | float | str:
        """Return ``value`` converted to the parameter's type, or raise :class:`BadArgumentError`."""
        if self.kind is str:
            if not isinstance(value, str) or value not in self.choices:
                raise BadArgumentError(
                    f"{env_id}: argument '{name}' ({self.doc}) must be {self.describe_range()}, got {value!r}"
                )
            return value
        ok_type = isinstance(value, numbers.Integral) if self.kind is int else isinstance(value, numbers.Real)
        if isinstance(value, bool) or not ok_type:
            raise BadArgumentError(
                f"{env_id}: argument '{name}' ({self.doc}) must be {self.describe_range()}, got {value!r}"
            )
        value = self.kind(value)
        if value != value or (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            raise BadArgumentError(
                f"{env_id}: argument '{name}' ({self.doc}) must be {self.describe_range()}, got {value!r}"
            )
        return value


def resolve_params(params: Mapping[str, Param], given: Mapping[str, Any], *, env_id: str) -> dict[str, Any]:
    """Defaults overridden by ``given``, each value checked; unknown names are an error listing the valid ones."""
    unknown = sorted(set(given) - set(params))
    if unknown:
        valid = ", ".join(f"{k} (default {p.default})" for k, p in params.items()) or "none"
        raise BadArgumentError(f"{env_id}: unknown argument(s) {unknown}; valid arguments are: {valid}")
    return {name: p.check(name, given.get(name, p.default), env_id=env_id) for name, p in params.items()}
