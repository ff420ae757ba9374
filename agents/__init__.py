"""Meta-learners (installed as ``metarl.agents``), each a :class:`metarl.training.Trainer` subclass.

``TRAINERS`` maps the names ``metarl train NAME`` accepts to the trainer classes; they are imported
on first use so that importing metarl stays light.
"""

from __future__ import annotations

import difflib
import importlib

from metarl.errors import ConfigError

TRAINERS = {
    "rl2": "metarl.agents.rl2:RL2Trainer",
    "maml-rl": "metarl.agents.maml_rl:MAMLTrainer",
    "maml": "metarl.agents.fewshot:MAMLTrainer",
    "fomaml": "metarl.agents.fewshot:FOMAMLTrainer",
    "reptile": "metarl.agents.fewshot:ReptileTrainer",
    "protonet": "metarl.agents.fewshot:ProtoNetTrainer",
    "matchingnet": "metarl.agents.fewshot:MatchingNetTrainer",
    "pretrain": "metarl.agents.fewshot:PretrainTrainer",
    "learned-optimizer": "metarl.agents.learned_optimizer:LearnedOptimizerTrainer",
    "learned-teacher": "metarl.agents.learned_teacher:LearnedTeacherTrainer",
}


def trainer_class(name: str) -> type:
    """The trainer class registered as ``name`` (e.g. ``"rl2"``)."""
    if name not in TRAINERS:
        close = difflib.get_close_matches(name, list(TRAINERS), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown agent {name!r}{hint} (available: {', '.join(TRAINERS)})")
    module, _, attribute = TRAINERS[name].partition(":")
    return getattr(importlib.import_module(module), attribute)
