"""benchmarks/device_check.sh and its CPU-vs-CUDA trajectory comparison, as far as a machine without a GPU can go:
the script parses and refuses clearly without CUDA, and the comparison finds exactly no difference between a
device and itself on every family."""

import json
import pathlib
import subprocess
import sys

import pytest
import torch
from conftest import ENV_IDS

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "device_check.sh"
AGREEMENT = ROOT / "benchmarks" / "cpu_cuda_agreement.py"


def test_the_device_check_script_parses():
    done = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the script would run for minutes")
def test_the_device_check_stops_at_once_without_cuda(tmp_path):
    done = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "out")], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable})
    assert done.returncode == 2
    assert "device_check: error: no CUDA device" in done.stderr and len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_device_compared_with_itself_agrees_exactly_on_every_family(tmp_path):
    path = tmp_path / "agreement.json"
    envs = [arg for env_id in ENV_IDS for arg in ("--env", env_id)]
    done = subprocess.run([sys.executable, str(AGREEMENT), "--devices", "cpu", "cpu", "--steps", "12", "--num-envs",
                           "3", *envs, "--json", str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = json.loads(path.read_text())["rows"]
    assert [row["env"] for row in rows] == ENV_IDS
    for row in rows:
        assert (row["max_abs_obs"], row["max_abs_reward"], row["flag_mismatches"]) == (0.0, 0.0, 0), row
        assert row["within_atol"] and row["first_step_above_atol"] is None and row["steps"] == 12


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_the_comparison_refuses_cuda_it_cannot_see():
    done = subprocess.run([sys.executable, str(AGREEMENT), "--devices", "cpu", "cuda"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert "needs CUDA" in done.stderr and len(done.stderr.splitlines()) == 1
