"""A new user's first run: the README's install for CPU-only machines, and a demo whose score explains itself."""

import pathlib
import re
import subprocess
import sys

import pytest
from metarl.agents.rl2.evaluate import full_recipe, short_run_note

from metarl.training.config import load_yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
CPU_TORCH = "pip install torch --index-url https://download.pytorch.org/whl/cpu"


def section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_quickstart_installs_the_cpu_torch_build_before_metarl():
    quickstart = section("Quickstart")
    assert CPU_TORCH in quickstart
    assert quickstart.index(CPU_TORCH) < quickstart.index('pip install -e ".[dev]"')


def test_the_demo_report_says_it_is_short_and_names_the_recipe_that_reaches_the_paper(tmp_path):
    done = subprocess.run([sys.executable, "-m", "metarl.cli", "train", "--config", "configs/rl2_demo.yaml",
                           "--total-steps", "2560", "--eval-trials", "20", "--logdir", str(tmp_path), "--no-progress"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    note = done.stdout.strip().splitlines()[-1]
    assert note == ("note: a short run (2,560 steps); the recipe for the paper's score trains 16,000,000: "
                    "metarl train --config configs/rl2_bandit_k5_n10.yaml")


@pytest.mark.parametrize("recipe", sorted(p.name for p in (ROOT / "configs").glob("rl2_*.yaml")))
def test_every_rl2_setting_points_at_its_longest_recipe_and_a_full_run_gets_no_note(recipe):
    settings = load_yaml(ROOT / "configs" / recipe)
    env_kwargs = settings.get("env_kwargs", {})
    path, steps = full_recipe(settings["env"], env_kwargs)
    assert steps >= settings["total_steps"]
    assert path.name == recipe or path.name != "rl2_demo.yaml"
    assert short_run_note(settings["env"], env_kwargs, steps) is None
    assert re.search(rf"metarl train --config \S*{path.name}$", short_run_note(settings["env"], env_kwargs, steps - 1))


def test_the_makefile_demo_says_it_is_a_short_demo_before_training():
    demo = (ROOT / "Makefile").read_text().split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "1M training steps" in demo and demo.index("@echo") < demo.index("metarl train")
