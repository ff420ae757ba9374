"""Every agent trains on an env other than its default, starting from that env's own defaults.

Each case names an agent, an env it can train on that is not its default, and settings that make one
iteration take a moment. ``VARIANTS`` are ids registered here over a built-in family with other defaults
(the only way to give the single-family agents a second env): an agent that carried its default env's
arguments into them would silently train on the wrong setting.
"""

import json
import subprocess
import sys

import pytest

import metarl
from metarl import registry
from metarl.agent_registry import agent_names, trainer_class
from metarl.training import load_checkpoint
from metarl.training.config import build_config

VARIANTS = {
    "test/SyntheticOptimizee-v0": ("metarl/LearnToOptimize-v0", {"optimizee": "synthetic", "horizon": 4, "dims": 3}),
    "test/SyntheticStudent-v0": ("metarl/Teach-v0", {"student": "synthetic", "horizon": 4, "batch_size": 4,
                                                     "max_updates": 2}),
    "test/Glyphs3Way-v0": ("metarl/Glyphs-v0", {"ways": 3, "instances": 2}),
    "test/PointRobot-v0": ("metarl/Navigation2D-v0", {"horizon": 4, "goal_range": 1.0, "goal_radius": 0.0}),
}
SINUSOID = {"meta_batch": 2, "hidden": [8], "validate_every": 100, "validation_episodes": 2, "eval_steps": 1}
GLYPHS = {"meta_batch": 1, "channels": 4, "conv_layers": 1, "validate_every": 100, "validation_episodes": 2}
CASES = [  # (agent, env id, settings, total_steps: one iteration)
    ("rl2", "metarl/TabularMDP-v0", {"num_envs": 2, "hidden": 8, "embed": 8, "minibatches": 1}, 200),
    ("maml-rl", "metarl/BernoulliBandit-v0", {"meta_batch": 1, "trajectories": 2, "hidden": [8]}, 400),
    ("maml", "metarl/Sinusoid-v0", SINUSOID, 2),
    ("fomaml", "metarl/Sinusoid-v0", SINUSOID, 2),
    ("reptile", "metarl/Sinusoid-v0", SINUSOID, 2),
    ("pretrain", "metarl/Sinusoid-v0", SINUSOID, 2),
    ("protonet", "test/Glyphs3Way-v0", GLYPHS, 1),
    ("matchingnet", "test/Glyphs3Way-v0", GLYPHS, 1),
    ("relationnet", "test/Glyphs3Way-v0", {**GLYPHS, "pooled_layers": 1}, 1),
    ("gnn", "test/Glyphs3Way-v0", GLYPHS, 1),
    ("metanet", "test/Glyphs3Way-v0", GLYPHS, 1),
    ("meta-sgd", "metarl/Sinusoid-v0", SINUSOID, 2),
    ("versa", "metarl/Sinusoid-v0", {k: v for k, v in SINUSOID.items() if k != "eval_steps"}, 2),
    ("mann", "test/Glyphs3Way-v0", {"num_envs": 2, "hidden": 8, "memory_slots": 4, "memory_width": 4, "read_heads": 1,
                                    "validate_every": 100, "validation_trials": 2}, 12),
    ("learned-optimizer", "test/SyntheticOptimizee-v0", {"tasks": 2, "unroll": 2, "hidden": 4, "eval_tasks": 1,
                                                         "figures": False}, 8),
    ("pearl", "test/PointRobot-v0", {"train_tasks": 2, "tasks_per_iteration": 2, "initial_steps": 4, "prior_steps": 4,
                                     "extra_posterior_steps": 4, "gradient_steps": 1, "meta_batch": 2, "batch_size": 4,
                                     "context_size": 4, "hidden": [8], "encoder_hidden": [8], "eval_every": 0}, 8),
    ("learned-teacher", "test/SyntheticStudent-v0", {"students": 2, "hidden": 4, "eval_students": 1,
                                                     "figures": False}, 8),
    ("controller", "metarl/LearnedLoss-v0", {"tasks": 2, "samples": 2, "hidden": 4, "eval_tasks": 1}, 4),
    ("varibad", "metarl/TabularMDP-v0", {"num_envs": 2, "encoder_hidden": 8, "minibatches": 1}, 200),
]
REGISTER_AND_RUN = (
    "import json, sys, metarl\n"
    "from metarl.cli import main\n"
    "for id, (base, kwargs) in json.loads(sys.argv[1]).items():\n"
    "    metarl.register(id, metarl.registry.spec(base).entry_point, kwargs=kwargs)\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def test_every_agent_has_a_case():
    assert sorted(agent for agent, *_ in CASES) == sorted(agent_names())
    for agent, env_id, *_ in CASES:
        assert env_id != trainer_class(agent).config_type().env, "each case trains on a non-default env"


@pytest.fixture(scope="module")
def variants():
    for id, (base, kwargs) in VARIANTS.items():
        metarl.register(id, registry.spec(base).entry_point, kwargs=kwargs)
    yield
    for id in VARIANTS:
        registry._unregister(id)


@pytest.mark.parametrize("agent, env_id, settings, steps", CASES, ids=[case[0] for case in CASES])
def test_python_config_of_another_env_starts_from_its_defaults(variants, agent, env_id, settings, steps):
    trainer_type = trainer_class(agent)
    config = build_config(trainer_type.config_type, {"env": env_id, "device": "cpu", **settings})
    assert config.env_kwargs == {}
    trainer = trainer_type(config)
    assert trainer.env.config == metarl.make(env_id).config


@pytest.mark.parametrize("agent, env_id, settings, steps", CASES, ids=[case[0] for case in CASES])
def test_cli_trains_every_agent_on_another_env(tmp_path, agent, env_id, settings, steps):
    sets = [item for key, value in settings.items() for item in ("--set", f"{key}={json.dumps(value)}")]
    argv = ["train", agent, "--env", env_id, "--total-steps", str(steps), "--logdir", str(tmp_path), "--device",
            "cpu", "--no-progress", *sets]
    prefix = ["-c", REGISTER_AND_RUN, json.dumps(VARIANTS)] if env_id in VARIANTS else ["-m", "metarl.cli"]
    done = subprocess.run([sys.executable, *prefix, *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (run,) = tmp_path.iterdir()
    saved = load_checkpoint(run)
    assert saved["config"]["env"] == env_id and saved["config"]["env_kwargs"] == {}
    assert saved["progress"]["global_step"] >= steps
    base, kwargs = VARIANTS.get(env_id, (env_id, {}))
    assert run.name.startswith(registry.spec(base).family)
    assert all(f"{value}" in run.name for key, value in kwargs.items() if key in ("optimizee", "student"))


@pytest.mark.parametrize("agent", agent_names())
def test_every_config_key_has_a_type_default_and_doc(agent):
    from metarl.training.config import describe_fields, field_docs

    config_type = trainer_class(agent).config_type
    docs = field_docs(config_type)
    assert all(docs.values()), [key for key, doc in docs.items() if not doc]
    rows = describe_fields(config_type)
    assert [row[0] for row in rows] == list(docs)
    for key, type_name, default, doc in rows:
        assert type_name and default and doc and "\n" not in doc and "``" not in doc, key
