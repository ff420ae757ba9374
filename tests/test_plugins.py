"""Plug-in families, installed as real distributions and used from fresh interpreters.

Each test puts a package on ``PYTHONPATH`` (see plugin_site.py) that declares a ``metarl.envs``
entry point, the layout ``pip install`` writes. The working plug-in is the README's own "Adding an
environment family" example, so the README cannot rot.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import subprocess

import gymnasium
import numpy as np
import pytest
import torch
from plugin_site import install, run

import metarl
from metarl import solvers
from metarl.checks import SPLITS

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
BUILTIN = "metarl/BernoulliBandit-v0"


def readme_module() -> str:
    """The first Python block of the README's family section: the module ``mylab_envs``."""
    section = README.read_text().split("## Adding an environment family", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)[0]


@pytest.fixture
def site(tmp_path: pathlib.Path) -> pathlib.Path:
    """A directory with the README's family installed as the plug-in distribution ``mylab-envs``."""
    site = tmp_path / "site"
    install(site, "mylab-envs", "mylab_envs", readme_module(), "mylab_envs:register_all")
    return site


USE = """
env = metarl.make("mylab/Drift-v0", num_envs=4, seed=0)
env.reset()
print("reward", tuple(env.step(torch.zeros(4, 1)).reward.shape))
print("test tasks", tuple(env.sample_tasks(5, torch.Generator().manual_seed(0), split="test").target.shape))
print("gymnasium", gymnasium.make("mylab/Drift-v0").action_space)
"""


@pytest.mark.parametrize("imports", ["import mylab_envs, metarl", "import metarl, mylab_envs"],
                         ids=["plugin-module-first", "metarl-first"])
def test_plugin_family_works_in_either_import_order(site, imports):
    result = run(site, "-c", f"import gymnasium, torch\n{imports}\n{USE}")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == ["reward (4,)", "test tasks (5,)", "gymnasium Box(-1.0, 1.0, (1,), float32)"]


def test_cli_lists_the_plugin_and_scores_its_solvers(site):
    listed = run(site, "-m", "metarl.cli", "list")
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^mylab/Drift-v0\s+Drift\s", listed.stdout, re.M) and BUILTIN in listed.stdout
    scored = run(site, "-m", "metarl.cli", "solvers", "--env", "mylab/Drift-v0", "--trials", "50")
    assert scored.returncode == 0, scored.stderr
    oracle = re.search(r"^\s+oracle\s+(-?[\d.]+) ±", scored.stdout, re.M)
    assert oracle and -0.1 < float(oracle.group(1)) <= 0.0  # straight to the target: distance 0 at once


# name: (module source or None for a missing module, entry point, text of the cause in the warning)
BROKEN = {
    "missing": (None, "gone_envs:register_all", "ModuleNotFoundError: No module named 'gone_envs'"),
    "import": ("raise RuntimeError('the acme data is not installed')\n", "importfail_envs:register_all",
               "RuntimeError: the acme data is not installed at importfail_envs.py:1"),
    "register": ("import metarl\nfrom metarl.envs.bandit import BernoulliBandit\n"
                 "def register_all():\n    metarl.register('half/Bandit-v0', BernoulliBandit)\n"
                 "    raise ValueError('second family failed')\n",
                 "registerfail_envs:register_all", "ValueError: second family failed at registerfail_envs.py:5"),
    "duplicate": ("import metarl\nfrom metarl.envs.bandit import BernoulliBandit\n"
                  f"def register_all():\n    metarl.register('{BUILTIN}', BernoulliBandit)\n",
                  "duplicate_envs:register_all", f"DuplicateEnvError: environment id '{BUILTIN}' is already registered "
                  "(<class 'metarl.envs.bandit.BernoulliBandit'>) at duplicate_envs.py:4"),
}


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory) -> pathlib.Path:
    """The README's plug-in beside one broken plug-in of each kind."""
    site = tmp_path_factory.mktemp("broken") / "site"
    install(site, "mylab-envs", "mylab_envs", readme_module(), "mylab_envs:register_all")
    for name, (source, entry_point, _) in BROKEN.items():
        install(site, f"{name}-envs", entry_point.split(":")[0], source, entry_point)
    return site


@pytest.fixture(scope="module")
def broken_list(broken_site) -> subprocess.CompletedProcess:
    return run(broken_site, "-m", "metarl.cli", "list")


def test_broken_plugins_leave_the_other_families_listed(broken_list):
    assert broken_list.returncode == 0
    assert "Traceback" not in broken_list.stderr
    assert len(broken_list.stderr.splitlines()) == len(BROKEN)  # one line per broken plug-in, nothing else
    ids = [line.split()[0] for line in broken_list.stdout.splitlines()[1:]]
    assert BUILTIN in ids and "metarl/Teach-v0" in ids and "mylab/Drift-v0" in ids
    assert "half/Bandit-v0" not in ids  # registered by a plug-in that then failed: removed with it


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_plugin_warning_names_distribution_entry_point_and_cause(broken_list, name):
    _, entry_point, cause = BROKEN[name]
    line = next(line for line in broken_list.stderr.splitlines() if f"= {entry_point}'" in line)
    assert line.startswith(f"metarl: warning: plug-in '{name} = {entry_point}' of distribution '{name}-envs 1.0'")
    assert line.endswith(f"failed to load and was skipped: {cause}")


def test_unknown_id_with_a_broken_plugin_is_one_line_exit_2(broken_site):
    result = run(broken_site, "-m", "metarl.cli", "solvers", "--env", "gone/Thing-v0")
    assert result.returncode == 2
    error = result.stderr.splitlines()[-1]
    assert error.startswith("metarl: error: unknown environment id 'gone/Thing-v0'")
    assert "plug-in 'missing = gone_envs:register_all'" in error and "No module named 'gone_envs'" in error
    assert "Traceback" not in result.stderr


def test_broken_plugin_is_a_plugin_warning_in_python(broken_site):
    code = ("import warnings, metarl\nwith warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n    ids = [s.id for s in metarl.registered()]\n"
            "print(sorted({w.category.__name__ for w in caught}), len(caught), 'mylab/Drift-v0' in ids)\n"
            "try:\n    metarl.make('gone/Thing-v0')\nexcept metarl.UnknownEnvError as exc:\n"
            "    print(type(exc).__name__)\n")
    result = run(broken_site, "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == [f"['PluginWarning'] {len(BROKEN)} True", "PluginError"]


@dataclasses.dataclass
class SplitTask(metarl.Task):
    split: torch.Tensor  # (B,) index of the split the task was drawn for


class SplitFamily(metarl.BatchedEnv):
    """A family whose tasks record their split, as a family with per-split data would use it."""

    family = "SplitFamily"
    task_type = SplitTask

    def _trial_shape(self):
        return 2, 1

    def _spaces(self):
        return gymnasium.spaces.Box(0, 3, (1,), np.float32), gymnasium.spaces.Discrete(2)

    def task_shapes(self, batch):
        return {"split": ((batch,), torch.int64)}

    def tasks_from_keys(self, keys, split):
        return SplitTask(split=torch.full(keys.shape, SPLITS[split], dtype=torch.int64, device=keys.device))

    def _start_episode(self, mask):
        pass

    def _transition(self, action, u):
        return torch.zeros(self.num_envs, device=self.device), None

    def _observe(self):
        return self.task.split.float().unsqueeze(1)


@pytest.mark.parametrize("own, asked", [("train", "test"), ("validation", "train"), ("test", None)])
def test_tasks_from_keys_is_told_the_split(own, asked):
    env = SplitFamily(num_envs=3, seed=0, split=own)
    assert env.reset().flatten().tolist() == [SPLITS[own]] * 3
    for _ in range(4):  # trials that start inside step draw from the env's own split too
        env.step(torch.zeros(3, dtype=torch.int64))
    assert env.task.split.tolist() == [SPLITS[own]] * 3
    assert env.sample_tasks(5, split=asked).split.tolist() == [SPLITS[asked or own]] * 5


def test_a_solver_name_is_registered_once_per_family():
    class Still:
        def __init__(self, env, generator):
            self.env = env

        def act(self, obs):
            return torch.zeros(self.env.num_envs, dtype=torch.int64)

    solvers.register_solver(SplitFamily, "still", Still)
    try:
        assert solvers.solver_names(SplitFamily()) == ["still"]
        assert solvers.trial_returns(SplitFamily(num_envs=4, seed=0), "still").tolist() == [0.0] * 4
        with pytest.raises(metarl.BadArgumentError, match="'still' is already registered for family SplitFamily"):
            solvers.register_solver("SplitFamily", "still", Still)
        with pytest.raises(metarl.BadArgumentError, match="must be callable"):
            solvers.register_solver(SplitFamily, "none", None)
    finally:
        solvers._SOLVERS.pop("SplitFamily")
