"""Faults of a data-parallel job: a rank killed with SIGKILL stops the job with a clear message and leaves the last
checkpoint intact; a checkpoint of 2 processes resumes with 1 process and continues as 2 processes do."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from metarl.agents.rl2 import RL2Trainer
from test_parallel import difference, parameters

from metarl.training import load_checkpoint
from metarl.training import parallel as par

SETTINGS = ["--env", "metarl/TabularMDP-v0", "--env-kwargs", "states=3,actions=2,horizon=2,episodes=3",
            "--set", "num_envs=8", "--set", "hidden=8", "--set", "embed=8", "--set", "epochs=1",
            "--set", "minibatches=2", "--set", "checkpoint_every=1"]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _rank(pid: int) -> int | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    values = dict(item.split(b"=", 1) for item in environ if b"=" in item)
    return int(values[b"RANK"]) if b"RANK" in values else None


def _resume(path: str, iterations: int) -> dict[str, torch.Tensor]:
    trainer = RL2Trainer.resume(path)
    trainer.fit(max_iterations=iterations, progress=False)
    return parameters(trainer)


def test_kill_9_of_a_rank_stops_the_job_and_keeps_the_checkpoint(tmp_path) -> None:
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--monitor-interval", "0.2",
               "-m", "metarl", "train", "rl2", *SETTINGS, "--total-steps", "100000000", "--logdir", str(tmp_path),
               "--run-name", "job", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    checkpoint = tmp_path / "job" / "checkpoint.pt"
    try:
        deadline = time.monotonic() + 240
        while not checkpoint.exists():
            assert job.poll() is None, job.communicate()[0]
            assert time.monotonic() < deadline, "no checkpoint within 4 minutes"
            time.sleep(0.2)
        workers = {_rank(pid): pid for pid in _children(job.pid)}
        os.kill(workers[1], signal.SIGKILL)
        output, _ = job.communicate(timeout=120)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode != 0
    assert "SIGKILL" in output or "lost contact with the others" in output, output[-2000:]
    payload = load_checkpoint(checkpoint)  # intact: its checksum holds
    assert payload["progress"]["iteration"] >= 1

    # The run continues with one process as with two: both continue forks of the same checkpoint.
    for name in ("one.pt", "two.pt"):
        shutil.copyfile(checkpoint, tmp_path / "job" / name)
    alone = _resume(str(tmp_path / "job" / "one.pt"), 2)
    together = par.launch(_resume, 2, str(tmp_path / "job" / "two.pt"), 2)[0]
    assert difference(together, alone) <= 1e-6
