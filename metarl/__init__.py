"""metarl: meta-reinforcement learning on GPU-batched task distributions.

Example:
    >>> import metarl, torch
    >>> env = metarl.make("metarl/BernoulliBandit-v0", num_envs=1024, device="auto", seed=0)
    >>> obs = env.reset()
    >>> step = env.step(env.sample_actions())
"""

from metarl.checks import resolve_device
from metarl.engine import BatchedEnv, Step
from metarl.errors import (
    BadActionError,
    BadArgumentError,
    BadTaskError,
    DataError,
    DuplicateEnvError,
    MetaRLError,
    MissingExtraError,
    PluginError,
    UnknownEnvError,
)
from metarl.params import Param
from metarl.plugins import PluginWarning
from metarl.registry import EnvSpec, load_builtin_families, make, register, registered, spec
from metarl.tasks import Task

__version__ = "0.1.0"

load_builtin_families()  # last: the families' modules import metarl, whole by now

__all__ = [
    "BadActionError",
    "BadArgumentError",
    "BadTaskError",
    "BatchedEnv",
    "DataError",
    "DuplicateEnvError",
    "EnvSpec",
    "MetaRLError",
    "MissingExtraError",
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
