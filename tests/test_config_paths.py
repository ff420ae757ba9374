"""One config path: one reader of command-line values, and the same config from the CLI, recipes and benchmarks."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from metarl.agents.maml_rl import MAMLConfig, MAMLTrainer, evaluate_adaptation
from metarl.agents.rl2 import RL2Trainer

import metarl
from metarl.rl import MLPPolicy
from metarl.training import load_checkpoint
from metarl.training.config import (
    command_line_values,
    config_dict,
    parse_assignments,
    parse_env_kwargs,
)
from metarl.training.recipes import load_config, recipe_trainer

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text, value, yaml_reads_it_so", [
    ("true", True, True), ("false", False, True), ("True", True, True), ("null", None, True), ("None", None, False),
    ("7", 7, True), ("-3", -3, True), ("0.25", 0.25, True), ("3e-4", 3e-4, False),
    ("[1, 2]", [1, 2], True), ("[reward_mean, obs]", ["reward_mean", "obs"], True), ("{arms: 5}", {"arms": 5}, True),
    ("hello world", "hello world", True), ("'hello, world'", "hello, world", True), ('"a b"', "a b", True),
    ("lstm", "lstm", True), ("[open", "[open", False),
])
def test_env_kwargs_set_and_yaml_read_a_value_alike(text, value, yaml_reads_it_so):
    from_env_kwargs = parse_env_kwargs(f"other=1,x={text}")
    assert from_env_kwargs == {"x": value, "other": 1}
    assert type(from_env_kwargs["x"]) is type(value)
    assert parse_assignments([f"x={text}"]) == {"x": value}
    if yaml_reads_it_so:  # what a YAML file holds, written the same way
        assert yaml.safe_load(f"x: {text}") == {"x": value}


def test_bad_env_kwargs_item_is_one_line_on_the_cli():
    done = subprocess.run([sys.executable, "-m", "metarl.cli", "solvers", "--env-kwargs", "arms=5,pulls"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == "metarl: error: malformed --env-kwargs item 'pulls'; expected key=value[,key=value...]\n"


def _benchmark(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_recipes_and_benchmark_build_the_same_config(tmp_path):
    """The same recipe, seed, device, run directory and overrides, given through each route: equal configs."""
    recipe = ROOT / "configs" / "rl2_bandit_k5_n10.yaml"
    logdir, seed = str(tmp_path / "runs"), 4
    overrides = ["num_envs=2", "hidden=8", "minibatches=1", "total_steps=80", "lr=0.002"]
    run_name = f"bandit-k5-n10__{seed}"
    done = subprocess.run([sys.executable, "-m", "metarl.cli", "train", "--config", str(recipe), "--seed", str(seed),
                           "--device", "cpu", "--logdir", logdir, "--run-name", run_name, "--no-progress",
                           *[arg for item in overrides for arg in ("--set", item)]],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    from_cli = load_checkpoint(Path(logdir) / run_name)["config"]

    values = {"seed": seed, "device": "cpu", "logdir": logdir, "run_name": run_name, **parse_assignments(overrides)}
    from_recipe = config_dict(recipe_trainer(recipe, values, resume=False).config)

    rl2_paper = _benchmark("rl2_paper")
    args = argparse.Namespace(set=overrides, device="cpu", seed=seed, logdir=logdir)
    _, config = load_config(rl2_paper.CONFIGS / rl2_paper.SETTINGS["bandit-k5-n10"][0],
                            rl2_paper.setting_values("bandit-k5-n10", args), trainer_cls=RL2Trainer)
    from_benchmark = config_dict(config)

    assert from_cli == from_recipe == from_benchmark
    assert from_cli["lr"] == 0.002 and from_cli["env_kwargs"] == {"arms": 5, "pulls": 10}


@pytest.mark.parametrize("env_kwargs, assignments, file_line", [
    ("arms=3,pulls=4", [], ""),
    (None, ["env_kwargs={arms: 3, pulls: 4}"], ""),
    (None, [], "env_kwargs: {arms: 3, pulls: 4}\n"),
    ("arms=3,pulls=4", [], "env_kwargs: {arms: 9}\n"),  # the command line overrides the file
])
def test_family_arguments_reach_the_config_alike_from_each_source(tmp_path, env_kwargs, assignments, file_line):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("agent: rl2\nenv: metarl/BernoulliBandit-v0\n" + file_line)
    _, config = load_config(recipe, command_line_values({"seed": 2}, env_kwargs, ["num_envs=2", *assignments]))
    assert config.env_kwargs == {"arms": 3, "pulls": 4} and (config.num_envs, config.seed) == (2, 2)


def test_maml_rl_evaluation_settings_come_from_its_config():
    parameters = inspect.signature(evaluate_adaptation).parameters
    copied = {"gamma", "gae_lambda", "baseline_reg", "normalize_advantages", "trajectories", "env_id", "env_kwargs"}
    assert not copied & parameters.keys(), "evaluation defaults are the config's, declared once"

    config = MAMLConfig(env_kwargs={"horizon": 5}, eval_trajectories=3, eval_step_sizes=[0.5, 0.5], hidden=[8])
    env = metarl.make(config.env)
    policy = MLPPolicy(env.single_observation_space.shape[0], env.single_action_space, config.hidden)
    scores = evaluate_adaptation(policy, config, tasks=4)
    assert scores.returns.shape == (4, 3), "one column per eval_step_sizes step, plus the unadapted one"
    changed = {"gamma": 0.5, "gae_lambda": 0.5, "baseline_reg": 10.0, "normalize_advantages": False}
    for key, value in changed.items():
        other = evaluate_adaptation(policy, dataclasses.replace(config, **{key: value}), tasks=4)
        assert torch.equal(other.returns[:, 0], scores.returns[:, 0]), key
        assert not torch.equal(other.returns[:, 1:], scores.returns[:, 1:]), f"{key} does not reach the inner loss"


def test_maml_rl_trainer_evaluates_with_its_config(tmp_path):
    config = MAMLConfig(env_kwargs={"horizon": 5}, meta_batch=2, trajectories=2, hidden=[8], eval_trajectories=3,
                        eval_step_sizes=[0.3], device="cpu", logdir=str(tmp_path))
    trainer = MAMLTrainer(config)
    direct = evaluate_adaptation(trainer.policy, config, tasks=3, seed=1, device="cpu")
    assert torch.equal(trainer.evaluate(trainer.policy, 3, seed=1).returns, direct.returns)
