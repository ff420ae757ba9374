"""`metarl train` and `metarl eval`: configs from files and flags, resume, time limits, one-line errors (every
agent's train, eval and TensorBoard output are in test_trainer_contract.py)."""

import os
import shlex
import subprocess
import sys

import pytest
import torch

from metarl.cli import main
from metarl.training import load_checkpoint

FAST = ["--set", "num_envs=8", "--set", "hidden=8", "--set", "checkpoint_every=1", "--no-progress", "--device", "cpu"]


def run_dir(logdir):
    (path,) = [p for p in logdir.iterdir() if p.is_dir()]
    return path


def test_config_file_with_command_line_overrides(tmp_path):
    config = tmp_path / "recipe.yaml"
    config.write_text("agent: rl2\nenv_kwargs: {arms: 2, pulls: 4}\nlr: 0.01\nseed: 5\n")
    assert main(["train", "--config", str(config), "--seed", "7", "--total-steps", "32", "--logdir",
                 str(tmp_path / "runs"), *FAST]) == 0
    saved = load_checkpoint(run_dir(tmp_path / "runs"))["config"]
    assert (saved["lr"], saved["seed"], saved["env_kwargs"], saved["num_envs"]) == (0.01, 7, {"arms": 2, "pulls": 4}, 8)


def test_resume_from_the_command_line_continues_the_run(tmp_path, capsys):
    logdir = tmp_path / "runs"
    common = ["--env-kwargs", "arms=2,pulls=4", "--logdir", str(logdir), *FAST]
    assert main(["train", "rl2", "--total-steps", "64", *common]) == 0
    run = run_dir(logdir)
    assert main(["train", "--resume", str(run), "--total-steps", "128", "--no-progress", "--device", "cpu"]) == 0
    assert load_checkpoint(run)["progress"]["global_step"] == 128
    assert "resuming" in capsys.readouterr().out


@pytest.mark.parametrize("content, argv_extra, words", [
    ("agent: rl2\nhiden: 3\n", [], "unknown config key 'hiden'"),
    ("agent: rl2\nlr: fast\n", [], "'lr' must be float"),
    ("agent: rl2\n", ["--set", "epochs=two"], "'epochs' must be int"),
    ("agent: rl3\n", [], "unknown agent 'rl3'"),
    ("lr: 0.1\n", [], "name the agent"),
    ("- just\n- a list\n", [], "must hold a mapping"),
    ("agent: rl2\nenv: metarl/Bandit-v0\n", [], "unknown environment id"),
])
def test_bad_configs_are_one_line_exit_2(tmp_path, capsys, content, argv_extra, words):
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    assert main(["train", "--config", str(config), "--logdir", str(tmp_path / "runs"), *argv_extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err, err
    assert not (tmp_path / "runs").exists(), "nothing is written before the config is valid"


def test_eval_of_a_damaged_checkpoint_is_one_line(tmp_path, capsys):
    bad = tmp_path / "checkpoint.pt"
    torch.save({"not": "metarl"}, bad)
    assert main(["eval", str(bad)]) == 2
    assert "not a metarl checkpoint" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "missing.pt")]) == 2


@pytest.mark.parametrize("text, value", [
    ("3e-4", 3e-4), ("true", True), ("null", None), ("lstm", "lstm"), ("[1, 2]", [1, 2]),
    ("[reward_mean]", ["reward_mean"]), ("{arms: 5, pulls: 10}", {"arms": 5, "pulls": 10}), ("[open", "[open"),
])
def test_set_values_are_python_or_yaml_literals(text, value):
    from metarl.training.config import parse_literal

    assert parse_literal(text) == value


@pytest.fixture(scope="module")
def timed_run(tmp_path_factory):
    """`metarl train` with a time limit far below its total_steps, from a shell whose PATH lacks this venv."""
    logdir = tmp_path_factory.mktemp("timed") / "runs"
    argv = ["train", "rl2", "--env-kwargs", "arms=2,pulls=4", "--total-steps", "100000000", "--max-minutes", "0.001",
            "--logdir", str(logdir), *FAST]
    env = {**os.environ, "PATH": os.pathsep.join(["/usr/bin", "/bin"])}
    done = subprocess.run([sys.executable, "-m", "metarl.cli", *argv], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done, run_dir(logdir), env


def test_max_minutes_stops_with_a_checkpoint_and_says_so(timed_run):
    done, run, _ = timed_run
    progress = load_checkpoint(run)["progress"]
    assert 0 < progress["global_step"] < 100_000_000
    assert f"stopped on the time limit (--max-minutes 0.001) at step {progress['global_step']:,}" in done.stdout
    assert f"metarl train --resume {run}" in done.stdout


def test_tensorboard_hint_is_a_command_that_runs(timed_run):
    done, run, env = timed_run
    (hint,) = [line.split(":", 1)[1] for line in done.stdout.splitlines() if line.startswith("watch it:")]
    command, logdir = hint.split(" --logdir ")
    assert logdir.strip() == str(run.parent)
    version = subprocess.run([*shlex.split(command), "--version_tb"], capture_output=True, text=True, env=env,
                             timeout=120)
    assert version.returncode == 0 and version.stdout.strip()[0].isdigit(), version.stderr


@pytest.mark.parametrize("minutes", ["0", "-1", "nan", "inf"])
def test_bad_max_minutes_is_one_line_exit_2(tmp_path, capsys, minutes):
    assert main(["train", "rl2", "--max-minutes", minutes, "--logdir", str(tmp_path / "runs"), *FAST]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--max-minutes must be a positive number" in err
    assert not (tmp_path / "runs").exists()
