"""Meta-learners (installed as ``metarl.agents``), each a :class:`metarl.training.Trainer` subclass.

The names ``metarl train NAME`` accepts are metarl's own entry points of the group ``metarl.agents``
(pyproject.toml); :mod:`metarl.agent_registry` finds them there, as it finds a third-party agent, and
imports an agent's module only when that agent is used.
"""
