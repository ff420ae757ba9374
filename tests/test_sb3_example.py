"""The stable-baselines3 extra: declared, and the README's SB3 examples run (at a tiny size) and score SB3 policies
on the same held-out tasks as the reference solvers."""

import importlib.metadata
import json
import pathlib
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest
import torch

import metarl
from metarl.sb3 import sb3_trial_returns

ROOT = pathlib.Path(__file__).resolve().parents[1]
SECTION = (ROOT / "README.md").read_text().split("\n## Stable-baselines3 beside RL²\n", 1)[-1].split("\n## ", 1)[0]
HAS_SB3 = all(importlib.util.find_spec(name) for name in ("stable_baselines3", "sb3_contrib"))
needs_sb3 = pytest.mark.skipif(not HAS_SB3, reason='stable-baselines3 / sb3-contrib absent: pip install "metarl[sb3]"')


def readme_block(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", SECTION, re.S)
    assert blocks, f"no {language} example in the README's SB3 section"
    return blocks[0]


def test_the_sb3_extra_is_declared_and_part_of_the_test_install():
    requires = importlib.metadata.requires("metarl")
    extra = {r.split(";")[0].split(">=")[0].strip() for r in requires if 'extra == "sb3"' in r}
    assert extra == {"stable-baselines3", "sb3-contrib"}
    assert any(r.startswith("metarl[sb3]") and 'extra == "dev"' in r for r in requires)
    assert 'pip install "metarl[sb3]"' in SECTION


@needs_sb3
def test_the_readme_comparison_command_prints_sb3_beside_rl2_and_the_solvers(tmp_path):
    command = shlex.split(readme_block("bash").strip())
    assert command[:2] == ["python", "benchmarks/sb3_baselines.py"]
    tiny = ["--steps", "80", "--trials", "30", "--json", str(tmp_path / "table.json")]
    done = subprocess.run([sys.executable, *command[1:], *tiny], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    table = json.loads((tmp_path / "table.json").read_text())
    rows = {row.get("policy", row.get("solver")): row for row in table["rows"]}
    assert {"rl2 (metarl)", "sb3 PPO", "sb3 RecurrentPPO", "gittins", "random"} <= rows.keys()
    for name in ("rl2 (metarl)", "sb3 PPO", "sb3 RecurrentPPO"):
        assert 0 <= rows[name]["mean"] <= 10 and rows[name]["ci95"] > 0 and rows[name]["steps"] >= 80
        assert re.search(rf"^  {re.escape(name)} +\d+\.\d\d ± +\d+\.\d\d", done.stdout, re.M)


@needs_sb3
def test_the_readme_python_example_runs(capsys):
    code = readme_block("python").replace("learn(20_000)", "learn(64)").replace("trials=1000", "trials=50")
    exec(compile(code, "README.md", "exec"), {})
    assert re.fullmatch(r"RecurrentPPO \d+\.\d\d ± \d+\.\d\d\n", capsys.readouterr().out)


class ConstantArm:
    """A stand-in for an SB3 model: always pulls arm 1, and checks the recurrent-state protocol."""

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        assert episode_start.all() if self.calls == 0 else not episode_start.any()
        self.calls += 1
        return np.ones(len(observation), dtype=np.int64), state


def test_sb3_scores_come_from_the_solvers_held_out_tasks():
    settings = {"arms": 3, "pulls": 6}
    returns = sb3_trial_returns(ConstantArm(), "metarl/BernoulliBandit-v0", trials=40, seed=3, **settings)
    env = metarl.make("metarl/BernoulliBandit-v0", num_envs=40, seed=3, split="test", rl2=True, **settings)
    env.reset()
    expected = sum(env.step(torch.ones(40, dtype=torch.int64)).reward.double() for _ in range(6))
    assert torch.equal(returns, expected)
