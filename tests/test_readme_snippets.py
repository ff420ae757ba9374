"""The README's Python examples for users run as written, each in a fresh interpreter."""

import pathlib
import re
import subprocess
import sys

import pytest

from metarl.training import load_checkpoint

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(section: str) -> list[str]:
    """The ```python blocks of the README section titled ``section`` (up to the next section of its level)."""
    text = README.read_text()
    level = re.match(r"#+", section).group(0)
    body = text.split(f"\n{section}\n", 1)[1]
    body = re.split(rf"\n{level} ", body, maxsplit=1)[0]
    return re.findall(r"```python\n(.*?)```", body, re.S)


def run(code: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("index", range(2))
def test_using_a_family_blocks_run(tmp_path, index):
    blocks = python_blocks("## Using a family")
    assert len(blocks) == 2
    done = run(blocks[index], tmp_path)
    assert done.returncode == 0, done.stderr


SHORTER = {"total_steps=500_000": "total_steps=2_560", '"total_steps": 1_000_000': '"total_steps": 5_120',
           "trials=1000": "trials=100"}
"""What the "Train from Python" test changes in the block so that it takes seconds: one iteration of 2,560 steps,
one more after resuming, 100 evaluation trials. Everything else runs as written."""


def test_train_from_python_trains_evaluates_and_resumes(tmp_path):
    (block,) = python_blocks("## Train from Python")
    assert len(block.strip().splitlines()) <= 12
    for old, new in SHORTER.items():
        assert block.count(old) == 1, old
        block = block.replace(old, new)
    done = run(block, tmp_path)
    assert done.returncode == 0, done.stderr
    for text in ("rl2 (this run)", "gittins", "100 trials on test tasks"):
        assert text in done.stdout
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("BernoulliBandit__rl2__0__")
    assert load_checkpoint(run_dir)["progress"]["global_step"] == 5_120


def test_grid_worlds_block_runs(tmp_path):
    (block,) = python_blocks("## Grid worlds")
    done = run(block, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "goal:" in done.stdout
