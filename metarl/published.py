"""Published scores to print beside ours, with their sources.

RL²: Duan et al. 2016, "RL²: Fast Reinforcement Learning via Slow Reinforcement Learning",
arXiv:1611.02779, Table 1 (Bernoulli bandits, score = total reward per trial, 1000 instances)
and Table 2 (tabular MDPs, |S| = 10, |A| = 5, H = 10).

MAML-RL: Finn et al. 2017, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks",
arXiv:1703.03400, 2D navigation (average return after 0 / 1 / 2 / 3 policy-gradient steps of 40
trajectories each on held-out goals).

Supervised few-shot: the MAML paper's sinusoid regression (Section 5.1, Figure 2: trained with K = 10,
one inner step of 0.01; 5-shot MSE after 1 / 5 / 10 steps) and Omniglot accuracy (MAML Table 1; Snell et
al. 2017, Table 1; Vinyals et al. 2016; Nichol et al. 2018, Table 1, non-transductive).
"""

from __future__ import annotations

BANDIT_COLUMNS = ("random", "gittins", "thompson", "ots", "ucb1", "epsilon-greedy", "greedy", "rl2")

RL2_TABLE1: dict[tuple[int, int], dict[str, float]] = {
    (n, k): dict(zip(BANDIT_COLUMNS, values, strict=True))
    for (n, k), values in {
        (10, 5): (5.0, 6.6, 5.7, 6.5, 6.7, 6.6, 6.6, 6.7),
        (10, 10): (5.0, 6.6, 5.5, 6.2, 6.7, 6.6, 6.6, 6.7),
        (10, 50): (5.1, 6.5, 5.2, 5.5, 6.6, 6.5, 6.5, 6.8),
        (100, 5): (49.9, 78.3, 74.7, 77.9, 78.0, 75.4, 74.8, 78.7),
        (100, 10): (49.9, 82.8, 76.7, 81.4, 82.4, 77.4, 77.1, 83.5),
        (100, 50): (49.8, 85.2, 64.5, 67.7, 84.3, 78.3, 78.0, 84.9),
        (500, 5): (249.8, 405.8, 402.0, 406.7, 405.8, 388.2, 380.6, 401.6),
        (500, 10): (249.0, 437.8, 429.5, 438.9, 437.1, 408.0, 395.0, 432.5),
        (500, 50): (249.6, 463.7, 427.2, 437.6, 457.6, 413.6, 402.8, 438.9),
    }.items()
}
"""Keyed by (pulls n, arms k)."""

MDP_COLUMNS = ("random", "psrl", "opsrl", "ucrl2", "beb", "epsilon-greedy", "greedy", "rl2")

RL2_TABLE2: dict[int, dict[str, float]] = {
    n: dict(zip(MDP_COLUMNS, values, strict=True))
    for n, values in {
        10: (100.1, 138.1, 144.1, 146.6, 150.2, 132.8, 134.8, 156.2),
        25: (250.2, 408.8, 425.2, 424.1, 427.8, 377.3, 368.8, 445.7),
        50: (499.7, 904.4, 930.7, 918.9, 917.8, 823.3, 769.3, 936.1),
        75: (749.9, 1417.1, 1449.2, 1427.6, 1422.6, 1293.9, 1172.9, 1428.8),
        100: (999.4, 1939.5, 1973.9, 1942.1, 1935.1, 1778.2, 1578.5, 1913.7),
    }.items()
}
"""Keyed by episodes per trial n (|S| = 10, |A| = 5, H = 10)."""


MAML_NAVIGATION = {
    "source": "MAML (Finn et al. 2017)",
    "maml": (-40.41, -11.68, -3.33, -3.23),
    "oracle": (-42.42, -13.90, -5.17, -3.18),
    "targets": ("-", ">= -11.7", "-", ">= -3.3"),
    "target_values": {1: -11.7, 3: -3.3},
}
"""Navigation2D with the paper's settings: the MAML row, the context-vector oracle row, and our targets."""

_NAVIGATION_DEFAULTS = {"horizon": 100, "episodes": 1, "goal_range": 0.5, "max_speed": 0.1, "goal_radius": 0.01}


def maml_published(family: str, config: dict) -> dict | None:
    """The MAML paper's adaptation numbers for this family and setting (Navigation2D as in the paper), else None.

    Example:
        >>> maml_published("Navigation2D", dict(_NAVIGATION_DEFAULTS))["maml"][1]
        -11.68
    """
    if family == "Navigation2D" and all(config.get(k) == v for k, v in _NAVIGATION_DEFAULTS.items()):
        return MAML_NAVIGATION
    return None


def published_scores(family: str, config: dict) -> dict[str, float]:
    """The published column values for this family and setting, or an empty dict if none exist."""
    if family == "BernoulliBandit":
        return RL2_TABLE1.get((config["pulls"], config["arms"]), {})
    if family == "TabularMDP" and (config["states"], config["actions"], config["horizon"]) == (10, 5, 10):
        return RL2_TABLE2.get(config["episodes"], {})
    return {}


MAML_SINUSOID = {
    "source": "MAML (Finn et al. 2017), sinusoid, trained with K = 10, evaluated 5-shot",
    "shots": 5,
    "maml": {1: 0.67, 5: 0.38, 10: 0.35},
    "pretrained": {1: 2.41, 5: 2.23, 10: 2.19},
}
"""Mean squared error after k gradient steps on 5 points (k -> MSE); our targets are the MAML row."""

OMNIGLOT_COLUMNS = ((5, 1), (5, 5), (20, 1), (20, 5))
OMNIGLOT_ACCURACY: dict[str, tuple[float, float, float, float]] = {
    "maml": (98.7, 99.9, 95.8, 98.9),
    "fomaml": (98.3, 99.2, 89.4, 97.9),
    "protonet": (98.8, 99.7, 96.0, 98.9),
    "matchingnet": (98.1, 98.9, 93.8, 98.5),
    "reptile": (95.39, 98.90, 88.14, 96.65),
}
"""Omniglot test accuracy (%) for (ways, shots) in :data:`OMNIGLOT_COLUMNS`, by learner."""


def fewshot_published(family: str, agent: str, ways: int, shots: int) -> dict | None:
    """The published few-shot number for this learner and setting as ``{"source", "text"}``, else None.

    Example:
        >>> fewshot_published("Omniglot", "protonet", 5, 1)["text"]
        'protonet 98.80%'
        >>> fewshot_published("Glyphs", "protonet", 5, 1) is None
        True
    """
    if family == "Omniglot" and agent in OMNIGLOT_ACCURACY and (ways, shots) in OMNIGLOT_COLUMNS:
        value = OMNIGLOT_ACCURACY[agent][OMNIGLOT_COLUMNS.index((ways, shots))]
        return {"source": f"Omniglot {ways}-way {shots}-shot, published", "text": f"{agent} {value:.2f}%"}
    if family == "Sinusoid" and agent in ("maml", "pretrain") and shots == MAML_SINUSOID["shots"]:
        row = MAML_SINUSOID["maml" if agent == "maml" else "pretrained"]
        steps = " / ".join(str(k) for k in row)
        values = " / ".join(f"{v:.2f}" for v in row.values())
        return {"source": MAML_SINUSOID["source"], "text": f"MSE after {steps} steps: {values}"}
    return None
