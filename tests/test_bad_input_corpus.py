"""Bad-input corpus: every case is one clear error naming the offending argument, never a traceback.

API cases must raise a :class:`metarl.MetaRLError` subclass whose message is one line and names the argument.
CLI cases run ``metarl.cli.main`` in-process (exit code 2, one stderr line ``metarl: error: ...``); a few run
the real ``python -m metarl.cli`` in a fresh interpreter.
"""

import os
import subprocess
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch
from conftest import ENV_IDS, SMALL, make_small

import metarl
from metarl.cli import main
from metarl.errors import ConfigError
from metarl.training.checkpoint import save_checkpoint
from metarl.training.config import build_config

# ---------------------------------------------------------------------------------------------- API cases
API: list[tuple[str, object, type, list[str]]] = []
"""(case id, call taking a fresh reset env of the case's family, expected error type, words of the message)."""


def api(case_id, env_id, call, error, *words):
    API.append(pytest.param(env_id, call, error, list(words), id=case_id))


def short(env_id):
    return env_id.removeprefix("metarl/").removesuffix("-v0")


def action_cases(env_id):
    env = make_small(env_id, num_envs=2)
    space = env.single_action_space
    shape = (2, *space.shape)
    name = short(env_id)
    bad = {
        "string": "left",
        "none": None,
        "complex-numpy": np.full(shape, 1 + 2j),
        "complex-torch": torch.zeros(shape, dtype=torch.complex64),
        "ragged": [[0], [0, 1, 2]],
        "object": np.array([object(), object()], dtype=object),
        "dict": {"action": 0},
        "wrong-batch": torch.zeros((3, *space.shape), dtype=torch.int64),
        "extra-axis": torch.zeros((*shape, 2), dtype=torch.int64),
        "scalar": torch.tensor(0),
        "nan": torch.full(shape, float("nan")),
        "inf": torch.full(shape, float("inf")),
    }
    if isinstance(space, gymnasium.spaces.Discrete):
        bad |= {"float": torch.zeros(shape), "bool": torch.zeros(shape, dtype=torch.bool),
                "too-high": torch.full(shape, space.n), "negative": torch.full(shape, -1)}
    elif isinstance(space, gymnasium.spaces.MultiBinary):
        bad |= {"two": torch.full(shape, 2), "half": torch.full(shape, 0.5), "minus-one": torch.full(shape, -1)}
    for key, action in bad.items():
        api(f"{name}-action-{key}", env_id, lambda env, a=action: env.step(a), metarl.BadActionError, "action")


def task_cases(env_id):
    name = short(env_id)
    api(f"{name}-task-list", env_id, lambda env: env.reset(task=[1, 2, 3]), metarl.BadTaskError, "task")
    api(f"{name}-task-string", env_id, lambda env: env.reset(task="easy"), metarl.BadTaskError, "task")

    def short_rows(env):
        fields = env.task.fields()
        first = next(iter(fields))
        env.reset(task={**fields, first: fields[first][:-1]})

    def missing(env):
        fields = env.task.fields()
        env.reset(task=dict(list(fields.items())[1:]))

    def extra(env):
        env.reset(task={**env.task.fields(), "bogus": torch.zeros(2)})

    def wrong_dtype(env):
        fields = env.task.fields()
        first = next(iter(fields))
        dtype = torch.float64 if fields[first].is_floating_point() else torch.float32
        env.reset(task={**fields, first: fields[first].to(dtype)})

    for key, call in {"short-rows": short_rows, "missing-field": missing, "extra-field": extra,
                      "wrong-dtype": wrong_dtype}.items():
        api(f"{name}-task-{key}", env_id, call, metarl.BadTaskError, "task")


def sampling_cases(env_id):
    name = short(env_id)
    for key, n in {"negative": -1, "float": 2.5, "string": "3", "bool": True}.items():
        api(f"{name}-sample-tasks-n-{key}", env_id, lambda env, n=n: env.sample_tasks(n), metarl.BadArgumentError,
            "n must be", repr(n))
    api(f"{name}-sample-tasks-split", env_id, lambda env: env.sample_tasks(2, split="valid"),
        metarl.BadArgumentError, "split", "'valid'")


def kwarg_cases(env_id):
    name = short(env_id)
    env = metarl.make(env_id)
    ints = [k for k, p in env.params.items() if isinstance(p.default, int) and not p.choices]
    api(f"{name}-kwarg-unknown", env_id, lambda env: metarl.make(env_id, bogus=1), metarl.BadArgumentError, "'bogus'")
    api(f"{name}-kwarg-string-for-int", env_id, lambda env: metarl.make(env_id, **{ints[0]: "many"}),
        metarl.BadArgumentError, repr(ints[0]))
    api(f"{name}-kwarg-below-range", env_id, lambda env: metarl.make(env_id, **{ints[0]: -5}),
        metarl.BadArgumentError, repr(ints[0]))
    api(f"{name}-kwarg-list", env_id, lambda env: metarl.make(env_id, **{ints[-1]: [1, 2]}),
        metarl.BadArgumentError, repr(ints[-1]))


for _env_id in ENV_IDS:
    action_cases(_env_id)
    task_cases(_env_id)
    sampling_cases(_env_id)
    kwarg_cases(_env_id)

BANDIT = "metarl/BernoulliBandit-v0"
TEACH = "metarl/Teach-v0"
for _key, _kwargs, _words in [
    ("num-envs-zero", {"num_envs": 0}, ["num_envs"]),
    ("num-envs-negative", {"num_envs": -1}, ["num_envs"]),
    ("num-envs-float", {"num_envs": 1.5}, ["num_envs"]),
    ("num-envs-string", {"num_envs": "4"}, ["num_envs"]),
    ("num-envs-bool", {"num_envs": True}, ["num_envs"]),
    ("device-unknown", {"device": "tpu"}, ["device", "'tpu'"]),
    ("device-number", {"device": [0]}, ["device"]),
    ("split-unknown", {"split": "valid"}, ["split", "'valid'"]),
    ("split-number", {"split": 1}, ["split"]),
    ("seed-string", {"seed": "abc"}, ["seed", "'abc'"]),
    ("seed-float", {"seed": 1.5}, ["seed", "1.5"]),
    ("seed-bool", {"seed": True}, ["seed"]),
    ("seed-list", {"seed": [1]}, ["seed"]),
]:
    api(f"make-{_key}", BANDIT, lambda env, kw=_kwargs: metarl.make(BANDIT, **kw), metarl.BadArgumentError, *_words)
if not torch.cuda.is_available():
    api("make-device-cuda-missing", BANDIT, lambda env: metarl.make(BANDIT, device="cuda"), metarl.BadArgumentError,
        "device 'cuda'")
api("make-unknown-id", BANDIT, lambda env: metarl.make("metarl/Bandit-v0"), metarl.UnknownEnvError,
    "'metarl/Bandit-v0'")
api("make-unknown-namespace", BANDIT, lambda env: metarl.make("Bandit"), metarl.UnknownEnvError, "'Bandit'")
api("reset-seed-string", BANDIT, lambda env: env.reset(seed="abc"), metarl.BadArgumentError, "seed", "'abc'")
api("reset-seed-float", BANDIT, lambda env: env.reset(seed=0.5), metarl.BadArgumentError, "seed")
api("reset-seed-and-mask", BANDIT, lambda env: env.reset(seed=1, mask=torch.ones(2, dtype=torch.bool)),
    metarl.BadArgumentError, "seed or a mask")
api("reset-mask-shape", BANDIT, lambda env: env.reset(mask=torch.ones(3, dtype=torch.bool)), metarl.BadArgumentError,
    "mask")
api("reset-mask-float", BANDIT, lambda env: env.reset(mask=torch.ones(2)), metarl.BadArgumentError, "mask")
api("reset-mask-before-reset", BANDIT, lambda env: make_small(BANDIT, num_envs=2).reset(
    mask=torch.ones(2, dtype=torch.bool)), metarl.MetaRLError, "mask")
api("step-before-reset", BANDIT, lambda env: make_small(BANDIT, num_envs=2).step(torch.zeros(2, dtype=torch.int64)),
    metarl.MetaRLError, "reset()")


def single(env_id=BANDIT):
    view = gymnasium.make(env_id, **SMALL[env_id])
    view.reset(seed=0)
    return view


def vector(env_id=BANDIT, **kwargs):
    view = gymnasium.make_vec(env_id, num_envs=2, **SMALL[env_id], **kwargs)
    view.reset(seed=0)
    return view


for _key, _call, _error, _words in [
    ("single-step-string", lambda env: single().step("left"), metarl.BadActionError, ["action"]),
    ("single-step-none", lambda env: single().step(None), metarl.BadActionError, ["action"]),
    ("single-step-complex", lambda env: single().step(1j), metarl.BadActionError, ["action"]),
    ("single-step-float", lambda env: single().step(0.5), metarl.BadActionError, ["action", "integers"]),
    ("single-step-out-of-range", lambda env: single().step(7), metarl.BadActionError, ["action", "out of range"]),
    ("single-step-teach-two", lambda env: single(TEACH).step(np.full(4, 2)), metarl.BadActionError, ["action"]),
    ("single-step-teach-shape", lambda env: single(TEACH).step(np.ones(5)), metarl.BadActionError, ["action",
                                                                                                    "shape"]),
    ("single-reset-seed", lambda env: single().reset(seed="abc"), metarl.BadArgumentError, ["seed", "'abc'"]),
    ("single-reset-option", lambda env: single().reset(options={"bogus": 1}), metarl.BadArgumentError, ["'bogus'"]),
    ("single-reset-task", lambda env: single().reset(options={"task": {"probs": np.full(3, 2.0, np.float32)}}),
     metarl.BadTaskError, ["probs"]),
    ("single-render-mode", lambda env: gymnasium.make(BANDIT, render_mode="human"), metarl.BadArgumentError,
     ["render_mode"]),
    ("single-bad-kwarg", lambda env: gymnasium.make(BANDIT, arms=0), metarl.BadArgumentError, ["'arms'"]),
    ("vector-step-string", lambda env: vector().step("left"), metarl.BadActionError, ["action"]),
    ("vector-step-none", lambda env: vector().step(None), metarl.BadActionError, ["action"]),
    ("vector-step-complex", lambda env: vector().step(np.array([1j, 0])), metarl.BadActionError, ["action"]),
    ("vector-step-shape", lambda env: vector().step(np.zeros(3, np.int64)), metarl.BadActionError, ["action",
                                                                                                    "shape"]),
    ("vector-step-teach-half", lambda env: vector(TEACH).step(np.full((2, 4), 0.5)), metarl.BadActionError,
     ["action"]),
    ("vector-reset-seed", lambda env: vector().reset(seed="abc"), metarl.BadArgumentError, ["seed"]),
    ("vector-reset-option", lambda env: vector().reset(options={"bogus": 1}), metarl.BadArgumentError, ["'bogus'"]),
    ("vector-reset-mask", lambda env: vector().reset(options={"reset_mask": [1, 0]}), metarl.BadArgumentError,
     ["reset_mask"]),
    ("vector-autoreset-mode", lambda env: gymnasium.make_vec(BANDIT, num_envs=2, autoreset_mode="Sometimes"),
     metarl.BadArgumentError, ["autoreset_mode"]),
]:
    api(_key, BANDIT, _call, _error, *_words)


def rl2_config(**values):
    from metarl.agent_registry import trainer_class

    return build_config(trainer_class("rl2").config_type, values)


for _key, _values, _words in [
    ("lr-huge", {"lr": 1e300}, ["'lr'"]),
    ("lr-above-max", {"lr": 1e13}, ["'lr'", "learning rate"]),
    ("lr-negative", {"lr": -1.0}, ["'lr'"]),
    ("lr-nan", {"lr": float("nan")}, ["'lr'"]),
    ("lr-inf", {"lr": float("inf")}, ["'lr'"]),
    ("lr-string", {"lr": "fast"}, ["'lr'"]),
    ("gamma-above-one", {"gamma": 2.0}, ["'gamma'"]),
    ("hidden-string", {"hidden": "big"}, ["'hidden'"]),
    ("hidden-zero", {"hidden": 0}, ["'hidden'"]),
    ("epochs-float", {"epochs": 1.5}, ["'epochs'"]),
    ("cell-unknown", {"cell": "rnn"}, ["'cell'"]),
    ("unknown-key", {"hiden": 3}, ["'hiden'"]),
    ("env-kwargs-list", {"env_kwargs": [1]}, ["'env_kwargs'"]),
]:
    api(f"config-{_key}", BANDIT, lambda env, v=_values: rl2_config(**v), ConfigError, *_words)


@pytest.fixture(scope="module")
def fresh_envs():
    """One reset env per family, rebuilt for a case that may have changed it."""
    cache = {}

    def get(env_id):
        if env_id not in cache:
            cache[env_id] = make_small(env_id, num_envs=2, seed=0)
        env = cache[env_id]
        env.reset(seed=0)
        return env

    return get


@pytest.mark.parametrize("env_id, call, error, words", API)
def test_api_case(fresh_envs, env_id, call, error, words):
    with pytest.raises(error) as info:
        call(fresh_envs(env_id))
    message = str(info.value)
    assert isinstance(info.value, metarl.MetaRLError)
    assert "\n" not in message.strip(), message
    for word in words:
        assert word.lower() in message.lower(), (word, message)


# ---------------------------------------------------------------------------------------------- CLI cases
CLI: list = []
TRAIN = ["train", "rl2", "--env-kwargs", "arms=2,pulls=4", "--total-steps", "16", "--set", "num_envs=4", "--set",
         "hidden=8", "--no-progress", "--device", "cpu", "--logdir", "{tmp}/runs"]


def cli(case_id, argv, *words):
    CLI.append(pytest.param(argv, list(words), id=case_id))


cli("no-command", [], "required")
cli("unknown-command", ["bogus"], "invalid choice", "'bogus'")
cli("unknown-option", ["solvers", "--bogus"], "unrecognized arguments", "--bogus")
cli("list-extra-argument", ["list", "extra"], "unrecognized arguments", "extra")
cli("solvers-unknown-id", ["solvers", "--env", "metarl/Bandit-v0"], "unknown environment id", "'metarl/Bandit-v0'")
cli("bench-unknown-id", ["bench", "--env", "metarl/Nope-v0", "--sizes", "1"], "'metarl/Nope-v0'")
cli("train-unknown-id", [*TRAIN, "--env", "metarl/Nope-v0"], "'metarl/Nope-v0'")
cli("solvers-kwargs-no-equals", ["solvers", "--env-kwargs", "arms"], "--env-kwargs", "'arms'")
cli("solvers-kwargs-no-key", ["solvers", "--env-kwargs", "=5"], "--env-kwargs", "'=5'")
cli("solvers-kwargs-second-item", ["solvers", "--env-kwargs", "arms=5,pulls"], "--env-kwargs", "'pulls'")
cli("train-kwargs-no-equals", [*TRAIN[:2], "--env-kwargs", "pulls", *TRAIN[4:]], "--env-kwargs", "'pulls'")
for _env_id in ENV_IDS:
    _name = short(_env_id)
    cli(f"solvers-{_name}-unknown-kwarg", ["solvers", "--env", _env_id, "--env-kwargs", "bogus=1"], "'bogus'")
    _int = next(k for k, p in metarl.make(_env_id).params.items() if isinstance(p.default, int) and not p.choices)
    cli(f"solvers-{_name}-kwarg-type", ["solvers", "--env", _env_id, "--env-kwargs", f"{_int}=lots"], repr(_int))
for _env_id in ("metarl/Sinusoid-v0", "metarl/LearnToOptimize-v0", TEACH, "metarl/Glyphs-v0"):
    cli(f"solvers-none-for-{short(_env_id)}", ["solvers", "--env", _env_id, "--trials", "4"], "no reference solvers",
        BANDIT)
for _key, _value, _words in [
    ("unknown-key", "hiden=3", ["'hiden'"]),
    ("lr-string", "lr=fast", ["'lr'"]),
    ("lr-huge", "lr=1e300", ["'lr'"]),
    ("lr-negative", "lr=-1", ["'lr'"]),
    ("lr-nan", "lr=nan", ["'lr'"]),
    ("epochs-string", "epochs=two", ["'epochs'"]),
    ("gamma-range", "gamma=1.5", ["'gamma'"]),
    ("cell-unknown", "cell=rnn", ["'cell'"]),
    ("no-equals", "lr", ["--set", "'lr'"]),
    ("no-key", "=3", ["--set", "'=3'"]),
]:
    cli(f"train-set-{_key}", [*TRAIN, "--set", _value], *_words)
for _key, _file, _words in [
    ("missing", "{tmp}/missing.yaml", ["missing.yaml"]),
    ("binary", "{tmp}/binary.yaml", ["binary.yaml", "not a text file"]),
    ("list", "{tmp}/list.yaml", ["list.yaml", "mapping"]),
    ("scalar", "{tmp}/scalar.yaml", ["scalar.yaml", "mapping"]),
    ("invalid-yaml", "{tmp}/invalid.yaml", ["invalid.yaml", "not valid YAML"]),
    ("unknown-key", "{tmp}/unknown_key.yaml", ["'hiden'"]),
    ("bad-value", "{tmp}/bad_value.yaml", ["'lr'"]),
    ("directory", "{tmp}", ["config file"]),
]:
    cli(f"train-config-{_key}", ["train", "--config", _file, "--logdir", "{tmp}/runs"], *_words)
for _key, _argv, _words in [
    ("solvers-seed-string", ["solvers", "--seed", "abc"], ["--seed", "'abc'"]),
    ("solvers-seed-float", ["solvers", "--seed", "1.5"], ["--seed", "'1.5'"]),
    ("train-seed-string", [*TRAIN, "--seed", "abc"], ["--seed", "'abc'"]),
    ("eval-seed-string", ["eval", "{tmp}/foreign.pt", "--seed", "abc"], ["--seed", "'abc'"]),
    ("solvers-device", ["solvers", "--device", "tpu", "--trials", "4"], ["device", "'tpu'"]),
    ("train-device", [*TRAIN, "--device", "tpu"], ["device", "'tpu'"]),
    ("bench-device", ["bench", "--env", BANDIT, "--sizes", "1", "--device", "tpu"], ["device", "'tpu'"]),
    ("solvers-trials-zero", ["solvers", "--trials", "0"], ["--trials", "0"]),
    ("solvers-trials-negative", ["solvers", "--trials", "-3"], ["--trials", "-3"]),
    ("solvers-trials-string", ["solvers", "--trials", "many"], ["--trials", "'many'"]),
    ("eval-trials-string", ["eval", "{tmp}/foreign.pt", "--trials", "many"], ["--trials", "'many'"]),
    ("train-total-steps-string", [*TRAIN, "--total-steps", "lots"], ["--total-steps", "'lots'"]),
    ("solvers-split", ["solvers", "--split", "valid"], ["--split", "'valid'"]),
    ("eval-split", ["eval", "{tmp}/foreign.pt", "--split", "valid"], ["--split", "'valid'"]),
    ("eval-missing", ["eval", "{tmp}/missing.pt"], ["missing.pt"]),
    ("eval-truncated", ["eval", "{tmp}/truncated.pt"], ["truncated.pt"]),
    ("eval-random-bytes", ["eval", "{tmp}/random.pt"], ["random.pt"]),
    ("eval-foreign-torch-file", ["eval", "{tmp}/foreign.pt"], ["foreign.pt", "not a metarl checkpoint"]),
    ("eval-empty-file", ["eval", "{tmp}/empty.pt"], ["empty.pt"]),
    ("eval-directory-without-checkpoint", ["eval", "{tmp}/emptydir"], ["emptydir"]),
    ("resume-missing", ["train", "--resume", "{tmp}/missing.pt"], ["missing.pt"]),
    ("resume-truncated", ["train", "--resume", "{tmp}/truncated.pt"], ["truncated.pt"]),
    ("resume-random-bytes", ["train", "--resume", "{tmp}/random.pt"], ["random.pt"]),
    ("resume-foreign-torch-file", ["train", "--resume", "{tmp}/foreign.pt"], ["foreign.pt"]),
    ("train-logdir-under-a-file", [*TRAIN, "--logdir", "{tmp}/plain.txt/runs"], ["plain.txt", "Not a directory"]),
]:
    cli(_key, _argv, *_words)
RUN = "{tmp}/runs/base"
for _key, _argv, _words in [
    ("eval-flipped-weight-bytes", ["eval", "{tmp}/flipped.pt"], ["flipped.pt"]),
    ("resume-flipped-weight-bytes", ["train", "--resume", "{tmp}/flipped.pt"], ["flipped.pt"]),
    ("eval-nan-weights", ["eval", "{tmp}/nan.pt"], ["nan.pt"]),
    ("resume-nan-weights", ["train", "--resume", "{tmp}/nan.pt"], ["nan.pt"]),
    ("resume-other-seed", ["train", "--resume", RUN, "--seed", "7"], ["seed"]),
    ("resume-other-env", ["train", "--resume", RUN, "--env", "metarl/TabularMDP-v0"], ["env"]),
    ("resume-other-env-kwargs", ["train", "--resume", RUN, "--env-kwargs", "arms=3,pulls=4"], ["env_kwargs"]),
    ("resume-other-logdir", ["train", "--resume", RUN, "--logdir", "{tmp}/elsewhere"], ["logdir"]),
    ("resume-other-run-name", ["train", "--resume", RUN, "--run-name", "renamed"], ["run_name"]),
    ("resume-other-lr", ["train", "--resume", RUN, "--set", "lr=0.5"], ["lr"]),
    ("resume-other-agent", ["train", "maml-rl", "--resume", RUN], ["maml-rl"]),
    ("train-unknown-agent", ["train", "rl3", "--total-steps", "16"], ["'rl3'"]),
    ("train-unknown-agent-help", ["train", "rl3", "--help"], ["'rl3'"]),
    ("train-max-minutes-zero", [*TRAIN, "--max-minutes", "0"], ["--max-minutes"]),
]:
    cli(_key, _argv, *_words)
if Path("/proc/self").exists():
    cli("train-logdir-in-proc", [*TRAIN, "--logdir", "/proc/metarl-runs"], "/proc/metarl-runs")
if not torch.cuda.is_available():
    cli("solvers-device-cuda-missing", ["solvers", "--device", "cuda", "--trials", "4"], "CUDA is not available")


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    """A folder of broken inputs: configs, checkpoints, a file where a directory is expected."""
    root = tmp_path_factory.mktemp("bad-inputs")
    (root / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    (root / "list.yaml").write_text("- agent\n- rl2\n")
    (root / "scalar.yaml").write_text("rl2\n")
    (root / "invalid.yaml").write_text("agent: [rl2\n")
    (root / "unknown_key.yaml").write_text("agent: rl2\nhiden: 3\n")
    (root / "bad_value.yaml").write_text("agent: rl2\nlr: 1.0e+300\n")
    (root / "plain.txt").write_text("not a directory")
    (root / "random.pt").write_bytes(np.random.default_rng(0).bytes(4096))
    (root / "empty.pt").write_bytes(b"")
    (root / "emptydir").mkdir()
    torch.save({"weights": torch.zeros(3)}, root / "foreign.pt")
    save_checkpoint(root / "whole.pt", agent="rl2", config={}, progress={"iteration": 1}, state={"w": torch.ones(64)})
    data = (root / "whole.pt").read_bytes()
    (root / "truncated.pt").write_bytes(data[: len(data) // 2])
    weights = data.find(torch.ones(64).numpy().tobytes())
    (root / "flipped.pt").write_bytes(data[:weights] + bytes(b ^ 0xFF for b in data[weights:weights + 8])
                                      + data[weights + 8:])
    save_checkpoint(root / "nan.pt", agent="rl2", config={}, progress={"iteration": 1},
                    state={"w": torch.full((64,), float("nan"))})
    assert main(fill([*TRAIN, "--run-name", "base"], root)) == 0  # a real run for the --resume conflicts
    return root


def fill(argv, tmp):
    return [a.replace("{tmp}", str(tmp)) for a in argv]


@pytest.mark.parametrize("argv, words", CLI)
def test_cli_case(tmp, capsys, argv, words):
    assert main(fill(argv, tmp)) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert err.startswith("metarl: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err + captured.out
    for word in words:
        assert word.replace("{tmp}", str(tmp)) in err, (word, err)


REAL = [
    pytest.param(["solvers", "--env", "metarl/Bandit-v0"], "'metarl/Bandit-v0'", id="unknown-id"),
    pytest.param(["train", "--config", "{tmp}/binary.yaml"], "binary.yaml", id="binary-config"),
    pytest.param(["eval", "{tmp}/random.pt"], "random.pt", id="random-bytes-checkpoint"),
    pytest.param(["solvers", "--seed", "abc"], "--seed", id="seed-string"),
]


@pytest.mark.parametrize("argv, word", REAL)
def test_cli_case_in_a_fresh_interpreter(tmp, argv, word):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "metarl.cli", *fill(argv, tmp)], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("metarl: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and word.replace("{tmp}", str(tmp)) in result.stderr


def test_the_corpus_is_large():
    assert len(API) + len(CLI) + len(REAL) >= 150
