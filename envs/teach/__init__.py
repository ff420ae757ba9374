"""Learning to teach: the ``metarl/Teach-v0`` family (:mod:`.env`) and its teaching process (:mod:`.process`,
also run by the learned teacher's meta-training)."""

from metarl.envs.teach.env import Teach

__all__ = ["Teach"]
