"""The metarl command line: listing, one-line errors with exit code 2, a tiny benchmark."""

import json
import subprocess
import sys

import pytest

from metarl.cli import main, parse_kwargs


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


def test_parse_kwargs():
    assert parse_kwargs("arms=5,pulls=100,goal_range=0.25") == {"arms": 5, "pulls": 100, "goal_range": 0.25}
    assert parse_kwargs("") == {}


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
