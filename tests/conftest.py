import importlib.util

import pytest
import torch
from metarl.envs.mujoco import NAMES as MUJOCO_NAMES
from metarl.envs.mujoco import missing_modules as missing_mujoco

import metarl

ENV_IDS = [
    "metarl/BernoulliBandit-v0",
    "metarl/TabularMDP-v0",
    "metarl/Navigation2D-v0",
    "metarl/Sinusoid-v0",
    "metarl/Glyphs-v0",
    "metarl/LearnToOptimize-v0",
    "metarl/Teach-v0",
    "metarl/ArchitectureSearch-v0",
    "metarl/Augment-v0",
    "metarl/LearnedLoss-v0",
    "metarl/MetaKD-v0",
    "metarl/RuleGrid-v0",
    "metarl/MetaMaze-v0",
    "metarl/KeyToDoor-v0",
    "metarl/GoalGrid-v0",
]
# Small settings so that trials end within a test's few hundred steps.
SMALL = {
    "metarl/BernoulliBandit-v0": {"arms": 3, "pulls": 7},
    "metarl/TabularMDP-v0": {"states": 4, "actions": 3, "horizon": 5, "episodes": 3},
    "metarl/Navigation2D-v0": {"horizon": 6, "episodes": 3},
    "metarl/Sinusoid-v0": {"horizon": 6},
    "metarl/Glyphs-v0": {"ways": 3, "instances": 2},
    "metarl/LearnToOptimize-v0": {"optimizee": "quadratic", "dims": 4, "horizon": 6},
    "metarl/Teach-v0": {"batch_size": 4, "horizon": 6, "max_updates": 3, "tau": 0.99},
    "metarl/ArchitectureSearch-v0": {"layers": 1, "steps": 1, "batch_size": 4, "eval_size": 16},
    "metarl/Augment-v0": {"subpolicies": 1, "steps": 1, "batch_size": 4, "eval_size": 16},
    "metarl/LearnedLoss-v0": {"steps": 1, "batch_size": 4, "eval_size": 16},
    "metarl/MetaKD-v0": {"steps": 1, "batch_size": 4, "teacher_steps": 5, "eval_size": 16},
    "metarl/RuleGrid-v0": {"horizon": 6, "episodes": 3},
    "metarl/MetaMaze-v0": {"horizon": 6, "episodes": 3},
    "metarl/KeyToDoor-v0": {"horizon": 6, "episodes": 3},
    "metarl/GoalGrid-v0": {"cells": 30, "horizon": 4, "episodes": 2},  # many goals: a new trial, a new goal
    "metarl/ML1-v0": {"task": "reach-v3", "horizon": 6, "episodes": 2},
    **{f"metarl/{name}-v0": {"horizon": 6, "episodes": 3, "threads": 1} for name in MUJOCO_NAMES},
}
HAS_METAWORLD = importlib.util.find_spec("metaworld") is not None
METAWORLD = [pytest.mark.metaworld,
             pytest.mark.skipif(not HAS_METAWORLD, reason='needs the metaworld extra: pip install "metarl[metaworld]"')]
"""Marks of tests that need Meta-World: `make test-metaworld` runs them (`pytest -m metaworld`) in its own venv."""
MUJOCO = [pytest.mark.mujoco,
          pytest.mark.skipif(bool(missing_mujoco()), reason='needs the mujoco extra: pip install "metarl[mujoco]"')]
"""Marks of tests that need the MuJoCo families: `make test-mujoco` runs them (`pytest -m mujoco`) in its own venv."""
MUJOCO_IDS = [f"metarl/{name}-v0" for name in MUJOCO_NAMES]
FINITE_TASK_IDS = {"metarl/HalfCheetahDir-v0", "metarl/AntDir-v0", "metarl/GoalGrid-v0"}
"""Families with a few tasks only (forward and backward; 21 goal cells), which train and test share as in their
papers: a task may repeat across trials and splits."""
MUJOCO_ENV_IDS = [pytest.param(id, marks=MUJOCO) for id in MUJOCO_IDS]
EXTRA_ENV_IDS = [pytest.param("metarl/ML1-v0", marks=METAWORLD), *MUJOCO_ENV_IDS]
"""Families of optional extras: the `env_id` fixture's contract tests run on them where the extra is installed."""
MAX_ENVS = {"metarl/ML1-v0": 6, **{id: 16 for id in MUJOCO_IDS}}
"""Families that step one simulator per environment run the contract tests' large batches at this size."""
GLYPH_CLASSES = 60  # tests render this many Glyphs classes (42 train, 6 validation, 12 test) into a temporary cache
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(autouse=True, scope="session")
def _data_cache(tmp_path_factory):
    """Data sets are cached in a temporary folder, and Glyphs is rendered with only GLYPH_CLASSES classes."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("METARL_CACHE_DIR", str(tmp_path_factory.mktemp("metarl-cache")))
        mp.setenv("METARL_GLYPHS_CLASSES", str(GLYPH_CLASSES))
        yield


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


@pytest.fixture(params=ENV_IDS + EXTRA_ENV_IDS)
def env_id(request):
    return request.param


def small(env_id, **overrides):
    return {**SMALL[env_id], **overrides}


def make_small(env_id, num_envs=4, **kwargs):
    num_envs = min(num_envs, MAX_ENVS.get(env_id, num_envs))
    return metarl.make(env_id, num_envs=num_envs, **{**SMALL[env_id], **kwargs})


def rollout(env, steps, generator_seed=0):
    """Step ``env`` with seeded random actions; return the list of Step results."""
    gen = torch.Generator().manual_seed(generator_seed)
    out = []
    for _ in range(steps):
        out.append(env.step(env.sample_actions(gen)))
    return out
