"""`metarl bench` bounds every measurement, skips the batch sizes its smaller ones predict to be too slow,
and saves each row to its JSON file as soon as the row is measured."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from metarl import bench
from metarl.bench import SizeCap


def bench_command(json_path, *args: str) -> list[str]:
    return [sys.executable, "-m", "metarl.cli", "bench", *args, "--json", str(json_path)]


def run_bench(json_path, *args: str) -> tuple[subprocess.CompletedProcess, dict, float]:
    start = time.perf_counter()
    done = subprocess.run(bench_command(json_path, *args), capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    return done, json.loads(json_path.read_text()), seconds


@pytest.mark.parametrize("env_id, skipped, budget", [("metarl/Teach-v0", True, "3"),
                                                     ("metarl/BernoulliBandit-v0", False, "30")])
def test_a_batch_size_predicted_over_budget_is_skipped_from_the_measured_step_time(tmp_path, env_id, skipped, budget):
    """Teach-v0 steps a thousand times slower than the bandit: its large batch is predicted (from its B = 1024
    measurement) to overrun a 3 s budget and is skipped; the bandit's, with a budget far above its prediction even
    on a loaded machine, is measured."""
    done, result, seconds = run_bench(tmp_path / "bench.json", "--env", env_id, "--sizes", "1024", "65536",
                                      "--sync-sizes", "1", "--seconds", "0.05", "--budget", budget)
    small, large = result["rows"]
    assert small["num_envs"] == 1024 and small["native"] > 0 and small["skipped"] == []
    assert result["complete"] is True and seconds < 60
    if skipped:
        assert large["native"] is None
        assert large["skipped"] and "> budget 3 s" in large["skipped"][0]
        assert "skipped native: predicted" in done.stdout
    else:
        assert large["native"] > 0 and large["skipped"] == []


def test_rows_are_in_the_json_file_when_printed_and_survive_a_kill(tmp_path):
    path = tmp_path / "bench.json"
    proc = subprocess.Popen(bench_command(path, "--env", "metarl/BernoulliBandit-v0", "--env", "metarl/TabularMDP-v0",
                                          "--sizes", "64", "4096", "--sync-sizes", "64", "--seconds", "2"),
                            stdout=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("metarl/"):
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    result = json.loads(path.read_text())
    assert result["complete"] is False
    assert result["rows"][0]["env"] == "metarl/BernoulliBandit-v0" and result["rows"][0]["native"] > 0
    assert len(result["rows"]) < 4
    assert [p.name for p in tmp_path.iterdir()] == ["bench.json"]  # no temporary file left beside it


@pytest.mark.parametrize("option", ["--budget", "--seconds"])
def test_a_non_positive_time_is_one_line_and_exit_2(option):
    argv = ["bench", "--env", "metarl/BernoulliBandit-v0", "--sizes", "1", "--sync-sizes", "1", option, "0"]
    done = subprocess.run([sys.executable, "-m", "metarl.cli", *argv], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("metarl: error:") and option in done.stderr and len(done.stderr.splitlines()) == 1


def test_the_prediction_scales_the_largest_measured_batch_and_ignores_small_ones():
    cap = SizeCap(budget=10.0, min_seconds=1.0)
    cap.record(64, steps_per_second=64.0, seconds=100.0)  # fixed overhead dominates: no basis for a prediction
    assert cap.skip_reason(65536) is None
    cap.record(1024, steps_per_second=1e6, seconds=1.5)  # 0.5 s beyond the timing for 1024 environments
    assert cap.predicted_seconds(4096) == pytest.approx(1.0 + 0.5 * 4)
    assert cap.skip_reason(4096) is None
    assert cap.skip_reason(65536) == "predicted 33 s > budget 10 s"
    assert cap.largest_fitting(65536) == 16384  # 1 + 0.5 * 16 = 9 s


def test_a_sync_vector_env_too_slow_for_its_batch_is_measured_at_a_batch_that_fits(monkeypatch):
    monkeypatch.setattr(bench, "sync_probe_seconds", lambda env_id: 0.1)  # as if each env cost 0.1 s
    result = bench.run(["metarl/BernoulliBandit-v0"], sizes=[64], sync_sizes=[64], min_seconds=0.01, budget=1.0,
                       progress=False)
    row = result["rows"][0]
    assert row["native"] > 0 and row["sync"] > 0 and row["skipped"] == []
    assert row["sync_num_envs"] == 8  # 8 x 0.1 s + 0.01 s fits the second, 16 would not
    assert row["notes"] == ["sync at B=8 (predicted 6 s > budget 1 s at B=64)"]
    assert "sync at B=8" in bench.format_row(row)
