"""metarl: meta-reinforcement learning on GPU-batched task distributions.

Example:
    >>> import metarl, torch
    >>> env = metarl.make("metarl/BernoulliBandit-v0", num_envs=1024, device="auto", seed=0)
    >>> obs = env.reset()
    >>> step = env.step(env.sample_actions())
"""

from metarl import envs  # noqa: E402,F401  (registers the built-in families)
from metarl.checks import resolve_device
from metarl.engine import BatchedEnv, Step
from metarl.errors import (
    BadActionError,
    BadArgumentError,
    BadTaskError,
    DataError,
    DuplicateEnvError,
    MetaRLError,
    PluginError,
    UnknownEnvError,
)
from metarl.params import Param
from metarl.registry import EnvSpec, PluginWarning, make, register, registered, spec
from metarl.tasks import Task

__version__ = "0.1.0"

__all__ = [
    "BadActionError",
    "BadArgumentError",
    "BadTaskError",
    "BatchedEnv",
    "DataError",
    "DuplicateEnvError",
    "EnvSpec",
    "MetaRLError",
    "Param",
    "PluginError",
    "PluginWarning",
    "Step",
    "Task",
    "UnknownEnvError",
    "make",
    "register",
    "registered",
    "resolve_device",
    "spec",
]
