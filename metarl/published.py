"""Published results to print beside ours, looked up in the family that owns them.

The numbers live with their families (``metarl.envs.bandit`` holds the RL² paper's Table 1, and so on).
A family with published results defines any of these static methods; a family without one has none:

- ``published_scores(config) -> dict[str, float]``: a method's mean trial return for this setting,
  keyed by solver or agent name (the RL² tables);
- ``maml_published(config) -> dict | None``: the MAML paper's adaptation rows for this setting
  (``"source"``, ``"maml"`` per gradient step, ``"targets"``);
- ``pearl_published(config) -> dict | None``: what the PEARL paper reports for this setting (``"source"``,
  ``"text"``);
- ``success_published(config) -> dict[str, float]``: each method's published success rate (0 to 1) under the
  benchmark's evaluation protocol (Meta-World), keyed by method and table, e.g. ``"rl2 (Yu et al. 2019)"``;
- ``fewshot_published(agent, ways, shots) -> dict | None``: a learner's few-shot result as
  ``{"source", "text"}``;
- ``published_episode_returns(config) -> dict | None``: what a paper reports of the return per inner episode
  (``"source"``, ``"text"``, and ``"returns"`` where it prints numbers).

``family`` is a family class, an environment, or a family name that some registered id uses.
"""

from __future__ import annotations

from typing import Any

from metarl.engine import BatchedEnv


def _family_class(family: type[BatchedEnv] | BatchedEnv | str) -> type[BatchedEnv] | None:
    if isinstance(family, BatchedEnv):
        return type(family)
    if isinstance(family, type):
        return family
    from metarl.registry import registered

    return next((s.entry_point for s in registered() if s.family == family), None)


def _hook(family: type[BatchedEnv] | BatchedEnv | str, name: str) -> Any:
    return getattr(_family_class(family), name, None)


def published_scores(family: type[BatchedEnv] | BatchedEnv | str, config: dict) -> dict[str, float]:
    """The published mean trial return of each method for this family and setting; empty if none exist.

    Example:
        >>> published_scores("BernoulliBandit", {"arms": 5, "pulls": 10})["gittins"]
        6.6
        >>> published_scores("Navigation2D", {})
        {}
    """
    hook = _hook(family, "published_scores")
    return hook(config) if hook is not None else {}


def maml_published(family: type[BatchedEnv] | BatchedEnv | str, config: dict) -> dict | None:
    """The MAML paper's adaptation numbers for this family and setting, else None.

    Example:
        >>> config = {"horizon": 100, "episodes": 1, "goal_range": 0.5, "max_speed": 0.1, "goal_radius": 0.01}
        >>> maml_published("Navigation2D", config)["maml"][1]
        -11.68
    """
    hook = _hook(family, "maml_published")
    return hook(config) if hook is not None else None


def fewshot_published(family: type[BatchedEnv] | BatchedEnv | str, agent: str, ways: int, shots: int) -> dict | None:
    """The published few-shot number for this learner and setting as ``{"source", "text"}``, else None.

    Example:
        >>> fewshot_published("Sinusoid", "maml", 0, 5)["text"]
        'MSE after 1 / 5 / 10 steps: 0.67 / 0.38 / 0.35'
        >>> fewshot_published("Glyphs", "protonet", 5, 1) is None
        True
    """
    hook = _hook(family, "fewshot_published")
    return hook(agent, ways, shots) if hook is not None else None


def pearl_published(family: type[BatchedEnv] | BatchedEnv | str, config: dict) -> dict | None:
    """What the PEARL paper reports for this family and setting (``"source"``, ``"text"``), else None.

    Example:
        >>> config = {"horizon": 20, "goal_range": 1.0, "goals": "semicircle", "reward": "sparse",
        ...           "sparse_radius": 0.2, "max_speed": 0.1}
        >>> pearl_published("Navigation2D", config)["source"].split(",")[0]
        'PEARL (Rakelly et al. 2019'
    """
    hook = _hook(family, "pearl_published")
    return hook(config) if hook is not None else None


def success_published(family: type[BatchedEnv] | BatchedEnv | str, config: dict) -> dict[str, float]:
    """Published success rates (0 to 1) under the family's benchmark protocol, by method; empty if none exist.

    Example:
        >>> success_published("Navigation2D", {})
        {}
    """
    hook = _hook(family, "success_published")
    return hook(config) if hook is not None else {}


def episode_published(family: type[BatchedEnv] | BatchedEnv | str, config: dict) -> dict | None:
    """What a paper reports of the return per inner episode for this family and setting, else None.

    Example:
        >>> episode_published("GoalGrid", {"cells": 5, "horizon": 15, "episodes": 4})["source"][:30]
        'Zintgraf et al. 2020 (VariBAD)'
        >>> episode_published("BernoulliBandit", {"arms": 5, "pulls": 10}) is None
        True
    """
    hook = _hook(family, "published_episode_returns")
    return hook(config) if hook is not None else None
