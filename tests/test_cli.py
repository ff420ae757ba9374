"""The metarl command line: listing, one-line errors with exit code 2, a tiny benchmark, help texts."""

import dataclasses
import json
import re
import subprocess
import sys

import pytest

from metarl.agent_registry import agent_names, trainer_class
from metarl.cli import main
from metarl.training.config import parse_env_kwargs


def test_list_prints_ids_spaces_descriptions(capsys):
    assert main(["list", "-v"]) == 0
    out = capsys.readouterr().out
    for text in ("metarl/BernoulliBandit-v0", "Discrete(5)", "Box(2,)", "arm means U[0,1]", "pulls=100"):
        assert text in out


@pytest.mark.parametrize(
    "argv, words",
    [
        (["solvers", "--env", "metarl/Bandit-v0"], ["unknown environment id", "Did you mean"]),
        (["solvers", "--env-kwargs", "arms=0"], ["'arms'", "[1, 100000]"]),
        (["solvers", "--env-kwargs", "arms"], ["malformed --env-kwargs"]),
        (["bench", "--env", "metarl/Nope-v0", "--sizes", "1"], ["unknown environment id"]),
    ],
)
def test_user_mistakes_are_one_line_exit_2(capsys, argv, words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("metarl: error:") and "Traceback" not in err
    for w in words:
        assert w in err


def test_parse_env_kwargs():
    assert parse_env_kwargs("arms=5,pulls=100,goal_range=0.25") == {"arms": 5, "pulls": 100, "goal_range": 0.25}
    assert parse_env_kwargs("") == {}


def test_solvers_command(capsys):
    assert main(["solvers", "--env-kwargs", "arms=5,pulls=10", "--trials", "200"]) == 0
    out = capsys.readouterr().out
    assert "gittins" in out and "6.6" in out  # published Gittins for n=10, k=5


def test_bench_writes_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    argv = ["bench", "--env", "metarl/BernoulliBandit-v0", "--sizes", "64", "--sync-sizes", "64",
            "--seconds", "0.05", "--json", str(path)]
    assert main(argv) == 0
    rows = json.loads(path.read_text())["rows"]
    assert rows[0]["num_envs"] == 64 and rows[0]["native"] > 0 and rows[0]["sync"] > 0


def test_console_script_installed():
    out = subprocess.run([sys.executable, "-m", "metarl.cli", "list"], capture_output=True, text=True, check=True)
    assert "metarl/TabularMDP-v0" in out.stdout


def help_text(capsys, argv):
    assert main([*argv, "--help"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["list"], ["bench"], ["solvers"], ["train"], ["train", "rl2"], ["eval"],
                                  ["demo"]])
def test_help_is_plain_text(capsys, argv):
    out = help_text(capsys, argv)
    assert "``" not in out and ":class:" not in out and ":mod:" not in out, out


@pytest.mark.parametrize("agent", agent_names())
def test_train_agent_help_lists_its_config_keys(capsys, agent):
    config = trainer_class(agent).config_type()
    out = help_text(capsys, ["train", agent])
    keys = out.split(f"{agent} config keys", 1)[1].splitlines()[2:]
    assert [line.split()[0] for line in keys] == [f.name for f in dataclasses.fields(config)]
    for line, field in zip(keys, dataclasses.fields(config), strict=True):
        default = getattr(config, field.name)
        written = json.dumps(default) if isinstance(default, bool) or default is None else str(default)
        assert f"  {written}  " in line and len(line.split()) >= 4, line


def test_train_help_differs_per_agent_and_names_types_and_docs(capsys):
    rl2 = help_text(capsys, ["train", "rl2"])
    maml_rl = help_text(capsys, ["train", "maml-rl"])
    assert rl2 != maml_rl
    assert re.search(r"\n  cell +\{gru,lstm\} +gru +Recurrent core\.\n", rl2)
    assert re.search(r"\n  inner_lr +float +0\.1 +Step size of the adaptation steps\.\n", maml_rl)


def test_train_help_without_an_agent_lists_the_agents(capsys):
    out = help_text(capsys, ["train"])
    for name in agent_names():
        assert re.search(rf"\n  {re.escape(name)} +metarl/\S+-v0 +\S", out), name


def test_train_help_of_an_unknown_agent_is_one_line_exit_2():
    done = subprocess.run([sys.executable, "-m", "metarl.cli", "train", "nosuch", "--help"], capture_output=True,
                          text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("metarl: error: unknown agent 'nosuch'")
