"""One exception hierarchy for every user mistake metarl can detect.

Catch :class:`MetaRLError` to handle all of them; the command line turns each into one
clear line and exit code 2.
"""

from __future__ import annotations


class MetaRLError(Exception):
    """Base class of all errors that metarl raises for bad input."""


class UnknownEnvError(MetaRLError, KeyError):
    """An environment id that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class MissingExtraError(UnknownEnvError):
    """An id whose family needs an optional extra (``pip install "metarl[EXTRA]"``) that is not installed."""


class DuplicateEnvError(MetaRLError):
    """An environment id registered twice."""


class BadArgumentError(MetaRLError, ValueError):
    """A keyword argument (env kwargs, config value) that is of the wrong type or out of range."""


class BadActionError(MetaRLError, ValueError):
    """An action outside the action space: wrong shape, wrong dtype, out-of-range index or NaN."""


class BadTaskError(MetaRLError, ValueError):
    """A task tensor of the wrong shape, dtype or device."""


class PluginError(UnknownEnvError):
    """An id that is not registered while a plug-in of the ``metarl.envs`` group failed to load (and was skipped)."""


class ConfigError(MetaRLError, ValueError):
    """A training configuration with an unknown key, a value of the wrong type or out of range."""


class CheckpointError(MetaRLError):
    """A checkpoint that is missing, truncated, not written by metarl, or for another agent."""


class TrainingError(MetaRLError):
    """Training cannot go on (e.g. a non-finite loss); the last checkpoint is left intact."""


class DataError(MetaRLError):
    """A data set on disk that is missing, unreadable or not laid out as expected."""
