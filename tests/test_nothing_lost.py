"""Nothing a run saved is lost: kill -9 and resume, forks from best.pt, damaged checkpoints, locks, resume options
that conflict with the run, collapsing runs, data settings, the progress bar."""

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import torch
from metarl.agents.fewshot import MetricConfig, ProtoNetTrainer
from metarl.agents.rl2 import RL2Config, RL2Trainer
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

from metarl.cli import main
from metarl.errors import TrainingError
from metarl.training import check_finite, load_checkpoint, read_scalars, save_checkpoint

RL2_RUN = ["rl2", "--env-kwargs", "arms=2,pulls=4", "--seed", "3", "--no-progress", "--device", "cpu",
           *[a for kv in ("num_envs=8", "hidden=8", "embed=8", "epochs=1", "minibatches=1", "checkpoint_every=2")
             for a in ("--set", kv)]]
PROTONET = {"env": "metarl/Glyphs-v0", "ways": 5, "shots": 1, "queries": 3, "channels": 8, "validation_episodes": 6,
            "meta_batch": 4, "validate_every": 1, "keep_best": True, "device": "cpu"}
PROTONET_CLI = ["protonet", "--no-progress", "--device", "cpu",
                *[a for k, v in PROTONET.items() if k not in ("env", "device") for a in ("--set", f"{k}={v}")]]


def tiny_rl2(tmp_path, **overrides):
    values = {"env_kwargs": {"arms": 2, "pulls": 4}, "num_envs": 8, "hidden": 8, "embed": 8, "epochs": 1,
              "minibatches": 1, "device": "cpu", "logdir": str(tmp_path), **overrides}
    return RL2Trainer(RL2Config(**values))


def snapshot(run):
    """Every file of a run directory (but the lock) by name: its bytes."""
    return {p.name: p.read_bytes() for p in Path(run).iterdir() if p.is_file() and p.name != ".lock"}


def event_records(run):
    """Counter of (tag, step) over the scalar records in a run's TensorBoard event files, and their values."""
    counts, values = Counter(), {}
    for path in sorted(Path(run).glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "scalars":
                    counts[(value.tag, event.step)] += 1
                    values[(value.tag, event.step)] = value.tensor.float_val[0]
    return counts, values


def logged(run):
    return [{k: v for k, v in row.items() if not k.startswith("perf/")} for row in read_scalars(run)]


def cli(*argv):
    return [sys.executable, "-m", "metarl.cli", *argv]


def start_and_wait_for_checkpoint(argv, run, min_step=1):
    """A `metarl train` process, once ``run`` holds a checkpoint at ``min_step`` or later."""
    process = subprocess.Popen(cli(*argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if (run / "checkpoint.pt").exists() and load_checkpoint(run)["progress"]["global_step"] >= min_step:
            return process
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"no checkpoint appeared: {process.communicate()[1].decode()[-2000:]}")


# ---------------------------------------------------------------- kill -9, then resume
def test_kill_9_then_resume_logs_every_step_once_like_an_uninterrupted_run(tmp_path):
    total = "640"
    whole, killed = tmp_path / "a" / "run", tmp_path / "b" / "run"
    subprocess.run(cli("train", *RL2_RUN, "--total-steps", total, "--logdir", str(whole.parent), "--run-name", "run"),
                   check=True, capture_output=True)
    process = start_and_wait_for_checkpoint(["train", *RL2_RUN, "--total-steps", total, "--logdir",
                                             str(killed.parent), "--run-name", "run"], killed, min_step=64)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    saved = load_checkpoint(killed)["progress"]["global_step"]
    assert saved < int(total), "the run was killed before it ended"
    # Everything the checkpoint covers was on disk before the checkpoint was: nothing of it is lost.
    covered = [row for row in logged(whole) if row["step"] <= saved]
    assert [row for row in logged(killed) if row["step"] <= saved] == covered
    reference, _ = event_records(whole)
    after_kill, _ = event_records(killed)
    assert {key for key in reference if key[1] <= saved} <= set(after_kill)

    resumed = subprocess.run(cli("train", "--resume", str(killed), "--no-progress", "--device", "cpu"),
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert logged(killed) == logged(whole)
    steps = [row["step"] for row in read_scalars(killed)]
    assert steps == sorted(set(steps)) and steps[-1] == int(total)
    counts, values = event_records(killed)
    assert max(counts.values()) == 1, [key for key, n in counts.items() if n > 1][:5]
    assert set(counts) == set(reference)
    _, reference_values = event_records(whole)
    assert {k: v for k, v in values.items() if not k[0].startswith("perf/")} == \
        {k: v for k, v in reference_values.items() if not k[0].startswith("perf/")}


def test_a_second_process_cannot_train_a_run_being_trained(tmp_path):
    run = tmp_path / "run"
    process = start_and_wait_for_checkpoint(["train", *RL2_RUN, "--total-steps", "1000000", "--logdir", str(tmp_path),
                                             "--run-name", "run"], run)
    try:
        second = subprocess.run(cli("train", "--resume", str(run), "--no-progress", "--device", "cpu"),
                                capture_output=True, text=True, timeout=120)
    finally:
        process.kill()
        process.wait()
    assert second.returncode == 2
    assert second.stderr.count("\n") == 1 and "is being trained by another process" in second.stderr


def test_a_trainer_loaded_before_the_run_moved_on_refuses_to_train(tmp_path):
    tiny_rl2(tmp_path, total_steps=640, run_name="run").fit(max_iterations=1, progress=False)
    first, second = RL2Trainer.resume(tmp_path / "run"), RL2Trainer.resume(tmp_path / "run")
    first.fit(max_iterations=1, progress=False)
    before = snapshot(tmp_path / "run")
    with pytest.raises(TrainingError, match="changed since this trainer was made"):
        second.fit(progress=False)
    assert snapshot(tmp_path / "run") == before


def test_logs_are_fsynced_before_the_checkpoint_is_renamed_into_place(tmp_path, monkeypatch):
    trainer = tiny_rl2(tmp_path, total_steps=64, run_name="run")
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))),
                                                 real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append(("replace", str(b))), real_replace(a, b))[1])
    trainer.fit(progress=False)
    run = os.path.realpath(tmp_path / "run")
    into_place = calls.index(("replace", f"{run}/checkpoint.pt"))
    synced = [path for kind, path in calls[:into_place] if kind == "fsync"]
    assert f"{run}/scalars.jsonl" in synced and any("tfevents" in path for path in synced)
    assert any(".checkpoint.pt.tmp" in path for path in synced), "the checkpoint itself is fsynced before the rename"
    assert ("fsync", run) in calls[into_place:], "and the directory after it"


# ---------------------------------------------------------------- forks: resuming from a file other than the latest
def test_resume_from_best_forks_a_new_run_and_leaves_the_run_as_it_was(tmp_path, capsys):
    logdir = tmp_path / "runs"
    assert main(["train", *PROTONET_CLI, "--total-steps", "40", "--set", "checkpoint_every=2", "--logdir", str(logdir),
                 "--run-name", "run"]) == 0
    run = logdir / "run"
    before = snapshot(run)
    best_step = load_checkpoint(run / "best.pt")["progress"]["global_step"]
    capsys.readouterr()
    assert main(["train", "--resume", str(run / "best.pt"), "--total-steps", "60", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert snapshot(run) == before, "the run's own history is never rewritten"
    (fork,) = [p for p in logdir.iterdir() if p != run]
    assert f"forking {run / 'best.pt'}" in out and str(fork) in out
    assert load_checkpoint(fork)["progress"]["global_step"] == 60
    rows = read_scalars(fork)
    assert rows[:len([r for r in read_scalars(run) if r["step"] <= best_step])] == \
        [r for r in read_scalars(run) if r["step"] <= best_step]
    steps = [row["step"] for row in rows]
    assert steps == sorted(set(steps)) and steps[-1] == 60
    assert max(event_records(fork)[0].values()) == 1


# ---------------------------------------------------------------- integrity
@pytest.fixture(scope="module")
def rl2_run(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("runs")
    assert main(["train", *RL2_RUN, "--total-steps", "128", "--logdir", str(logdir), "--run-name", "run"]) == 0
    return logdir / "run"


def test_a_checkpoint_with_flipped_weight_bytes_is_refused(rl2_run, tmp_path, capsys):
    payload = load_checkpoint(rl2_run)
    weight = max(payload["state"]["model"].values(), key=lambda t: t.numel())
    data = bytearray((rl2_run / "checkpoint.pt").read_bytes())
    at = bytes(data).find(weight.contiguous().numpy().tobytes()) + 4 * (weight.numel() // 2)
    assert at > 4 * (weight.numel() // 2), "the weight's bytes are stored as they are"
    data[at:at + 8] = bytes(b ^ 0xFF for b in data[at:at + 8])
    damaged = tmp_path / "checkpoint.pt"
    damaged.write_bytes(bytes(data))
    assert main(["eval", str(damaged), "--trials", "10", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is damaged" in err and "sha256" in err


def test_a_checkpoint_with_nan_weights_is_refused(rl2_run, tmp_path, capsys):
    payload = load_checkpoint(rl2_run)
    next(iter(payload["state"]["model"].values())).view(-1)[0] = float("nan")
    save_checkpoint(tmp_path / "checkpoint.pt", **{k: payload[k] for k in ("agent", "config", "progress", "state")})
    assert main(["eval", str(tmp_path), "--trials", "10", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "NaN or infinite weights" in err


# ---------------------------------------------------------------- options given with --resume
@pytest.mark.parametrize("argv, key", [
    (["--seed", "4"], "seed"),
    (["--env", "metarl/TabularMDP-v0"], "env"),
    (["--env-kwargs", "arms=3,pulls=4"], "env_kwargs"),
    (["--logdir", "elsewhere"], "logdir"),
    (["--run-name", "other"], "run_name"),
    (["--config", "CONFIG"], "lr"),
    (["--set", "hidden=16"], "hidden"),
    (["maml"], "holds a rl2 run"),
])
def test_resume_options_that_conflict_with_the_run_are_one_line_exit_2(rl2_run, tmp_path, capsys, argv, key):
    config = tmp_path / "recipe.yaml"
    config.write_text("agent: rl2\nlr: 0.5\nseed: 3\n")
    before = snapshot(rl2_run)
    argv = [str(config) if a == "CONFIG" else a for a in argv]
    assert main(["train", "--resume", str(rl2_run), "--no-progress", "--device", "cpu", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and key in err, err
    assert snapshot(rl2_run) == before


def test_resume_options_equal_to_the_run_are_accepted(rl2_run, tmp_path):
    config = tmp_path / "recipe.yaml"
    config.write_text("agent: rl2\nseed: 3\nnum_envs: 8\n")
    argv = ["train", "rl2", "--resume", str(rl2_run), "--seed", "3", "--env-kwargs", "arms=2,pulls=4", "--config",
            str(config), "--logdir", str(rl2_run.parent), "--run-name", "run", "--total-steps", "192", "--no-progress"]
    assert main(argv) == 0
    assert load_checkpoint(rl2_run)["progress"]["global_step"] == 192


# ---------------------------------------------------------------- collapsing runs
def test_a_run_that_diverges_with_a_finite_loss_says_it_collapsed(tmp_path, capsys):
    assert main(["train", *PROTONET_CLI, "--set", "lr=1e8", "--total-steps", "40", "--logdir", str(tmp_path),
                 "--run-name", "run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "training collapsed" in err and "start a new run with a lower learning rate" in err
    assert not (tmp_path / "run" / "best.pt").exists()


def test_a_collapse_never_overwrites_a_good_best_checkpoint(tmp_path):
    from metarl.training.loop import TrainingCollapsed

    trainer = ProtoNetTrainer(MetricConfig(**PROTONET, total_steps=80, logdir=str(tmp_path), run_name="run"))
    trainer.fit(max_iterations=6, progress=False)
    best = (tmp_path / "run" / "best.pt").read_bytes()
    for group in trainer.optimizer.param_groups:  # the run diverges from here on
        group["lr"] = 1e8
    with pytest.raises(TrainingCollapsed, match="training collapsed at iteration 7: the root mean square"):
        trainer.fit(progress=False)
    assert (tmp_path / "run" / "best.pt").read_bytes() == best


@pytest.mark.parametrize("value, collapses", [(0.21, True), (0.1, True), (0.55, False), (0.3, False)])
def test_validation_back_at_chance_after_a_clearly_better_best_is_a_collapse(tmp_path, value, collapses):
    from metarl.training.loop import TrainingCollapsed

    trainer = ProtoNetTrainer(MetricConfig(**PROTONET, total_steps=80, logdir=str(tmp_path), run_name="run"))
    trainer.keep_if_best(0.6, True, chance=0.2, noise=0.03)
    if collapses:
        with pytest.raises(TrainingCollapsed, match="fell to 0.[12]1?, chance level 0.2, after reaching 0.6"):
            trainer.keep_if_best(value, True, chance=0.2, noise=0.03)
    else:
        trainer.keep_if_best(value, True, chance=0.2, noise=0.03)


def test_the_nan_message_suggests_what_works():
    with pytest.raises(TrainingError, match="start a new run with a lower learning rate") as error:
        check_finite("the loss", torch.tensor(float("nan")))
    assert "resume" not in str(error.value).replace("a resumed run keeps its learning rate", "")


# ---------------------------------------------------------------- data settings
def test_glyph_class_count_goes_into_the_checkpoint_and_is_checked(tmp_path, capsys, monkeypatch):
    assert main(["train", *PROTONET_CLI, "--total-steps", "8", "--logdir", str(tmp_path), "--run-name", "run"]) == 0
    run = tmp_path / "run"
    assert load_checkpoint(run)["data"] == {"METARL_GLYPHS_CLASSES": os.environ["METARL_GLYPHS_CLASSES"]}
    capsys.readouterr()
    monkeypatch.setenv("METARL_GLYPHS_CLASSES", "100")
    assert main(["eval", str(run), "--trials", "10", "--device", "cpu"]) == 0
    (warning,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("metarl:")]
    assert warning.startswith("metarl: warning:") and "METARL_GLYPHS_CLASSES=60" in warning
    assert "METARL_GLYPHS_CLASSES=100" in warning
    before = snapshot(run)
    assert main(["train", "--resume", str(run), "--total-steps", "16", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "METARL_GLYPHS_CLASSES=60" in err and "METARL_GLYPHS_CLASSES=100" in err
    assert snapshot(run) == before


# ---------------------------------------------------------------- progress bar
def test_the_progress_bar_stops_at_its_total_and_prints_its_last_line_once(tmp_path, monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    trainer = tiny_rl2(tmp_path, total_steps=100)
    trainer.fit(progress=True)
    assert trainer.global_step > 100, "the last iteration overshoots the total"
    text = err.getvalue()
    assert "100/100" in text and text.count("100/100") == 1 and "step [" not in text, text


def test_scalars_rows_survive_a_torn_last_line(tmp_path):
    run = tmp_path / "run"
    trainer = tiny_rl2(tmp_path, total_steps=64, run_name="run", checkpoint_every=1)
    trainer.fit(progress=False)
    rows = read_scalars(run)
    with (run / "scalars.jsonl").open("a") as file:
        file.write(json.dumps({"step": 999, "x": 1.0})[:9])  # a process killed while writing a row
    assert read_scalars(run) == rows
    RL2Trainer.resume(run, {"total_steps": 128}).fit(progress=False)
    assert [row["step"] for row in read_scalars(run)] == [32, 64, 96, 128]
