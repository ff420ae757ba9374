"""Agents found through the entry-point group ``metarl.agents``: metarl's own and a third party's.

The third-party agent is installed as a real distribution on ``PYTHONPATH`` (see plugin_site.py) and
used from fresh interpreters, the way ``pip install`` and ``metarl train NAME`` would.
"""

from __future__ import annotations

import pathlib

import pytest
from plugin_site import install, run

from metarl.agent_registry import agent_names, trainer_class
from metarl.errors import ConfigError
from metarl.training import Trainer

BUILTIN_AGENTS = ["rl2", "maml-rl", "maml", "fomaml", "reptile", "protonet", "matchingnet", "pretrain",
                  "relationnet", "gnn", "metanet", "meta-sgd", "versa", "mann", "learned-optimizer",
                  "learned-teacher", "pearl", "varibad", "controller"]

# The smallest agent the training loop can run: random arms, and the running mean reward it saw.
AGENT = '''
import dataclasses

import torch

import metarl
from metarl.training import TrainConfig, Trainer


@dataclasses.dataclass
class RandomConfig(TrainConfig):
    env: str = "metarl/BernoulliBandit-v0"
    num_envs: int = 4


class RandomTrainer(Trainer):
    agent = "mylab-random"
    config_type = RandomConfig

    def __init__(self, config):
        super().__init__(config)
        self.env = metarl.make(config.env, num_envs=config.num_envs, device=self.device, seed=config.seed)
        self.env.reset()
        self.reward_sum = torch.zeros(())

    def train_iteration(self):
        self.reward_sum += self.env.step(self.env.sample_actions()).reward.sum()
        self.global_step += self.config.num_envs
        return {"charts/mean_reward": float(self.reward_sum) / self.global_step}

    def state_dict(self):
        return {"reward_sum": self.reward_sum}

    def load_state_dict(self, state):
        self.reward_sum = state["reward_sum"]
'''

# name: (module source or None for a missing module, entry point, the cause the error ends with)
BROKEN = {
    "gone": (None, "gone_agents:GoneTrainer", "ModuleNotFoundError: No module named 'gone_agents'"),
    "notatrainer": ("class NotATrainer:\n    pass\n", "notatrainer_agents:NotATrainer",
                    "TypeError: notatrainer_agents:NotATrainer is <class 'notatrainer_agents.NotATrainer'>, "
                    "not a subclass of metarl.training.Trainer"),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> pathlib.Path:
    """The agent ``mylab-random`` of the distribution ``mylab-agents``, beside one broken agent of each kind."""
    site = tmp_path_factory.mktemp("agents") / "site"
    install(site, "mylab-agents", "mylab_agents", AGENT, "mylab_agents:RandomTrainer", group="metarl.agents",
            name="mylab-random")
    for name, (source, entry_point, _) in BROKEN.items():
        install(site, f"{name}-agents", entry_point.split(":")[0], source, entry_point, group="metarl.agents")
    return site


@pytest.mark.parametrize("name", BUILTIN_AGENTS)
def test_builtin_agent_is_an_entry_point_of_a_trainer(name):
    assert name in agent_names()
    cls = trainer_class(name)
    assert issubclass(cls, Trainer) and cls.agent == name


@pytest.mark.parametrize("name, match", [("rl", "did you mean rl2"), ("protonets", "did you mean protonet"),
                                         ("nothing-like-it", r"available: controller, fomaml, gnn, ")])
def test_unknown_agent_is_a_config_error_with_close_matches(name, match):
    with pytest.raises(ConfigError, match=match):
        trainer_class(name)


def test_third_party_agent_is_listed_and_loaded_in_a_fresh_interpreter(site):
    code = ("from metarl.agent_registry import agent_names, trainer_class\n"
            "print(*agent_names())\n"
            "print(trainer_class('mylab-random').__module__)\n")
    result = run(site, "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # the broken agents are not imported while nobody asks for them
    assert result.stdout.splitlines() == [" ".join(sorted(BUILTIN_AGENTS) + sorted(["mylab-random", *BROKEN])),
                                          "mylab_agents"]


def test_metarl_train_help_lists_the_third_party_agent(site):
    result = run(site, "-m", "metarl.cli", "train", "mylab-random", "--help")
    assert result.returncode == 0, result.stderr
    listed = "".join(result.stdout.split())  # argparse may wrap the list of names anywhere, hyphens included
    assert f"({','.join(sorted(BUILTIN_AGENTS))},gone,mylab-random,notatrainer)" in listed


def test_metarl_train_trains_the_third_party_agent(site, tmp_path):
    result = run(site, "-m", "metarl.cli", "train", "mylab-random", "--total-steps", "8", "--device", "cpu",
                 "--logdir", str(tmp_path), "--run-name", "random", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "training mylab-random on metarl/BernoulliBandit-v0" in result.stdout
    assert (tmp_path / "random" / "checkpoint.pt").is_file()


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_agent_is_one_line_naming_distribution_entry_point_and_cause(site, name):
    _, entry_point, cause = BROKEN[name]
    result = run(site, "-m", "metarl.cli", "train", name, "--total-steps", "8", "--device", "cpu")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"metarl: error: agent '{name}' cannot be used: plug-in '{name} = {entry_point}' of distribution "
        f"'{name}-agents 1.0' (entry-point group 'metarl.agents') failed to load and was skipped: {cause}"]


@pytest.mark.parametrize("command, error", [
    (["train", "rl2"], "metarl: error: unknown agent 'rl2'"),
    (["solvers", "--env", "metarl/BernoulliBandit-v0"], "metarl: error: unknown environment id"),
])
def test_stale_install_metadata_says_to_reinstall(tmp_path, command, error):
    site = tmp_path / "site"  # a metarl distribution first on the path, from before the entry points existed
    install(site, "metarl", "unused", None, "metarl.cli:main", group="console_scripts", name="metarl")
    result = run(site, "-m", "metarl.cli", *command)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(error) and line.endswith("its metadata is out of date; reinstall it (`pip install -e .` "
                                                    "in a source checkout).")
