"""The contract every agent's trainer keeps, checked for every agent of the agent registry.

- exact resume: a run stopped after a checkpoint (losing the work after it) and resumed logs the scalars of an
  uninterrupted run, step for step, and ends with the same state tensors;
- config errors: an unknown key, a wrong type or a value out of range is one line naming the key;
- the command line: ``metarl train AGENT`` returns 0, writes a checkpoint and the agent's TensorBoard tags, and
  ``metarl eval RUN`` prints the agent's table; bad settings are one line and exit code 2;
- devices: an iteration and an evaluation run on each device (CPU, and CUDA where present);
- determinism: the same seed gives the same scalars, another seed other scalars, and every random stream an agent
  draws from is a named stream of its table (:attr:`Trainer.seed_streams`), whose seeds stay as they were.

``CASES`` holds one tiny setting per agent (about a second a run on one core); ``VARIANTS`` adds the estimators and
options whose state must also survive a resume. Agent-specific behaviour is tested in each agent's own test file.
"""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from metarl.agent_registry import agent_names, trainer_class
from metarl.cli import main
from metarl.errors import ConfigError
from metarl.training import build_config, load_checkpoint, read_scalars
from metarl.training.loop import Trainer

SINUSOID = {"env": "metarl/Sinusoid-v0", "meta_batch": 2, "hidden": [8], "eval_steps": 1, "validate_every": 2,
            "validation_episodes": 4}
GLYPHS = {"env": "metarl/Glyphs-v0", "ways": 3, "shots": 1, "queries": 2, "channels": 4, "conv_layers": 1,
          "validate_every": 2, "validation_episodes": 2}
FEWSHOT_TAGS = ("losses/meta_train", "validation/{metric}", "validation/{metric}_ci95", "charts/meta_train_{metric}")


@dataclasses.dataclass(frozen=True)
class Case:
    """A tiny setting of one agent and what its runs show."""

    agent: str
    settings: dict[str, Any]
    tags: tuple[str, ...]
    """Scalar tags its runs log (at a checkpoint iteration)."""
    eval_words: tuple[str, ...]
    """Words ``metarl eval`` prints for a run of this setting."""
    run_prefix: str
    images: tuple[str, ...] = ()
    """Image tags a run with figures logs."""


CASES = {case.agent: case for case in [
    Case("rl2", {"env": "metarl/TabularMDP-v0", "env_kwargs": {"states": 3, "actions": 2, "horizon": 2, "episodes": 3},
                 "num_envs": 8, "hidden": 8, "embed": 8, "epochs": 1, "minibatches": 1},
         ("charts/trial_return", "adaptation/episode_1", "adaptation/episode_3", "losses/approx_kl",
          "losses/clip_fraction", "losses/explained_variance", "losses/entropy", "perf/learning_rate"),
         ("rl2 (this run)", "psrl", "optimal", "trials on test tasks", "return of inner episodes 1..3"),
         "TabularMDP__rl2__", ("adaptation/curve",)),
    Case("maml-rl", {"env": "metarl/Navigation2D-v0", "env_kwargs": {"horizon": 5}, "meta_batch": 2,
                     "trajectories": 3, "hidden": [8]},
         ("charts/pre_adaptation_return", "charts/post_adaptation_return", "adaptation/step_0", "adaptation/step_1",
          "losses/kl", "losses/surrogate_before", "losses/surrogate_after", "losses/line_search_accepted",
          "losses/line_search_backtracks"),
         ("maml-rl (this run)", "random init", "0 steps", "1 step", "pretrained (multi-task)"),
         "Navigation2D__maml-rl__"),
    *[Case(name, SINUSOID, (*(t.format(metric="mse") for t in FEWSHOT_TAGS), "adaptation/step_1"),
           (f"{name} (this run)", "test episodes", "mse"), f"Sinusoid__{name}__")
      for name in ("maml", "fomaml", "reptile", "pretrain", "meta-sgd")],
    Case("versa", {k: v for k, v in SINUSOID.items() if k != "eval_steps"},
         (*(t.format(metric="mse") for t in FEWSHOT_TAGS), "validation/coverage90"),
         ("versa (this run)", "test episodes", "mse", "90% predictive interval"), "Sinusoid__versa__",
         ("adaptation/predictive",)),
    *[Case(name, {**GLYPHS, **extra}, tuple(t.format(metric="accuracy") for t in FEWSHOT_TAGS),
           ("3-way 1-shot", "test episodes", f"{name} (this run)", "% ±", "chance", "training episodes"),
           f"Glyphs__{name}__")
      for name, extra in (("protonet", {}), ("matchingnet", {}), ("relationnet", {"pooled_layers": 1}), ("gnn", {}),
                          ("metanet", {}))],
    Case("mann", {"env_kwargs": {"ways": 2, "instances": 2}, "num_envs": 2, "hidden": 8, "memory_slots": 4,
                  "memory_width": 4, "read_heads": 1, "validate_every": 2, "validation_trials": 2},
         ("losses/cross_entropy", "charts/accuracy_last10", "charts/accuracy_trial", "validation/accuracy_last10",
          "validation/instance_2"),
         ("mann (this run), last 10 steps", "rl2 on Glyphs", "MANN (paper)", "LSTM (paper)", "test trials"),
         "Glyphs__mann__"),
    Case("pearl", {"env_kwargs": {"horizon": 4, "goal_radius": 0.0}, "train_tasks": 3, "tasks_per_iteration": 2,
                   "initial_steps": 4, "prior_steps": 4, "extra_posterior_steps": 4, "gradient_steps": 2,
                   "meta_batch": 2, "batch_size": 4, "context_size": 4, "hidden": [8], "encoder_hidden": [8],
                   "latent": 2, "buffer_capacity": 16, "eval_every": 1, "eval_tasks": 2, "eval_trajectories": 2},
         ("charts/adapted_return", "charts/first_episode_return", "adaptation/episode_0", "adaptation/episode_1",
          "adaptation/posterior_entropy_episode_2", "losses/critic_loss", "losses/actor_loss", "losses/kl"),
         ("test tasks", "episode 1:", "episode 2:", "posterior entropy", "oracle"), "Navigation2D__pearl__",
         ("adaptation/posterior_entropy",)),
    Case("learned-optimizer", {"env_kwargs": {"optimizee": "logistic", "horizon": 3, "batch_size": 8}, "tasks": 2,
                               "unroll": 3, "hidden": 4, "eval_tasks": 2},
         ("charts/log10_final_loss", "charts/accuracy", "eval/log10_final_loss", "losses/meta_loss"),
         ("learned", "adam (lr", "nag (lr", "rmsprop (lr", "sgd (lr", "test accuracy", "test tasks"),
         "LearnToOptimize-logistic__learned-optimizer-unrolled__", ("adaptation/optimizee_curves",)),
    Case("learned-teacher", {"env_kwargs": {"batch_size": 10, "max_updates": 5, "horizon": 10, "tau": 0.7},
                             "students": 2, "hidden": 4, "eval_students": 2},
         ("charts/return", "charts/keep_rate", "validation/instances_ratio"),
         ("learned", "noteach", "randteach", "spl", "test students"), "Teach-logistic__learned-teacher-reinforce__",
         ("adaptation/held_out_students",)),
    Case("controller", {"env_kwargs": {"layers": 1, "steps": 2, "eval_size": 16}, "tasks": 2, "samples": 2,
                        "hidden": 4, "eval_tasks": 2},
         ("charts/accuracy", "losses/entropy", "validation/accuracy"),
         ("controller", "random", "tanh 32x1", "test tasks", "controller's decision"),
         "ArchitectureSearch__controller-reinforce__"),
    Case("varibad", {"env": "metarl/GoalGrid-v0", "env_kwargs": {"cells": 3, "horizon": 3, "episodes": 2},
                     "num_envs": 8, "encoder_hidden": 8, "encoder_embed": 8, "policy_hidden": 8, "decoder_hidden": 8,
                     "epochs": 1, "minibatches": 1, "elbo_samples": 2, "vae_updates": 1},
         ("charts/trial_return", "adaptation/episode_1", "adaptation/episode_2", "losses/vae_reconstruction",
          "losses/vae_kl", "belief/entropy", "belief/kl", "belief/entropy_trial_end"),
         ("varibad (this run)", "oracle", "search", "trials on test tasks", "return of inner episodes 1..2"),
         "GoalGrid__varibad__", ("adaptation/curve", "belief/entropy_curve")),
]}
VARIANTS = [  # (agent, settings over its case): options and estimators with state of their own
    ("rl2", {"next_obs_prediction_coef": 1.0, "previous_obs": True}),
    ("rl2", {"task_prediction_coef": 1.0}),
    ("maml-rl", {"outer": "ppo"}),
    ("learned-optimizer", {"estimator": "reinforce", "samples": 2, "objective": "final_log_loss"}),
    ("learned-optimizer", {"estimator": "es", "pairs": 2, "objective": "final_log_loss"}),
    ("learned-teacher", {"estimator": "ppo"}),
    ("learned-teacher", {"estimator": "ppo", "gae_lambda": 0.9}),
    ("learned-teacher", {"estimator": "es", "pairs": 2}),
    ("pearl", {"target_entropy": -2.0, "posterior_steps": 4, "critic_reward": "dense",
               "env_kwargs": {"horizon": 4, "reward": "sparse", "goals": "semicircle"}}),
    ("learned-teacher", {"estimator": "lookahead"}),
    ("controller", {"estimator": "ppo"}),
    ("controller", {"estimator": "es", "pairs": 2}),
    ("controller", {"env": "metarl/MetaKD-v0", "env_kwargs": {"steps": 2, "eval_size": 16, "teacher_steps": 5},
                    "estimator": "unroll"}),
    ("varibad", {"decode_state": True, "elbo_samples": 0}),
]
ERRORS = [  # (agent, settings, words): every agent's own checks, beside the shared ones of test_config_errors
    ("rl2", {"hiden": 32}, "unknown config key 'hiden'.*did you mean hidden"),
    ("rl2", {"hidden": "big"}, "'hidden' must be int, got str"),
    ("rl2", {"lr": True}, "'lr' must be float"),
    ("rl2", {"cell": "rnn"}, "'cell' must be one of"),
    ("rl2", {"gamma": 1.5}, "'gamma' must lie in"),
    ("rl2", {"env": "metarl/BernoulliBandit-v0", "env_kwargs": {}, "bptt": 7}, "bptt=7 must divide the rollout "
     "length 100"),
    ("rl2", {"env": "metarl/BernoulliBandit-v0", "env_kwargs": {}, "task_prediction_coef": 1.0,
             "task_prediction_fields": ["reward_mean"]},
     r"task_prediction_fields \['reward_mean'\] are not fields of BernoulliBandit's tasks; its fields are \['probs'\]"),
    ("rl2", {"task_prediction_fields": [3]}, "must be a list of task field names"),
    ("maml-rl", {"meta_btch": 3}, "unknown config key 'meta_btch'.*did you mean meta_batch"),
    ("maml-rl", {"outer": "sgd"}, "'outer' must be one of"),
    ("maml-rl", {"max_kl": 0.0}, "'max_kl' must be positive"),
    ("maml-rl", {"trajectories": 0}, "'trajectories' must be at least 1"),
    ("maml-rl", {"hidden": [100, 0]}, "'hidden' must be a non-empty list of positive integers"),
    ("maml-rl", {"eval_step_sizes": []}, "'eval_step_sizes' must be a non-empty list"),
    ("maml-rl", {"gamma": 1.5}, "'gamma' must lie in"),
    ("maml-rl", {"backtrack_ratio": 1.0}, "'backtrack_ratio' must lie in"),
    ("maml-rl", {"cg_subsample": 0.0}, "'cg_subsample' must lie in"),
    ("maml-rl", {"inner_lr": "fast"}, "'inner_lr' must be float"),
    ("protonet", {"inner_lr": 0.1}, "unknown config key 'inner_lr'"),
    ("protonet", {"env": "metarl/Sinusoid-v0", "ways": None}, "protonet classifies"),
    ("maml", {"env": "metarl/Glyphs-v0", "eval_ways": 2}, r"eval_ways \(2\) must equal ways"),
    ("maml", {"norm": "group"}, "'norm' must be one of"),
    ("maml", {"env": "metarl/BernoulliBandit-v0"}, "no few-shot episodes view"),
    ("reptile", {"shots": 0}, "'shots' must be at least 1"),
    ("pretrain", {"eval_lr": None}, "'eval_lr'"),
    ("matchingnet", {"scale": 0.0}, "'scale' must be positive"),
    ("relationnet", {"pooled_layers": 2}, r"'pooled_layers' \(2\) must be at most conv_layers \(1\)"),
    ("gnn", {"eval_ways": 2}, r"eval_ways \(2\) must equal ways"),
    ("gnn", {"node_features": 0}, "'node_features' must be at least 1"),
    ("metanet", {"eval_ways": 2}, r"eval_ways \(2\) must equal ways"),
    ("metanet", {"env": "metarl/Sinusoid-v0", "ways": None}, "metanet classifies"),
    ("meta-sgd", {"inner_lr": 0.0}, "'inner_lr' is a learning rate"),
    ("versa", {"samples": 0}, "'samples' must be at least 1"),
    ("mann", {"read_heads": 0}, "'read_heads' must be at least 1"),
    ("mann", {"usage_decay": 1.5}, "'usage_decay' must lie in"),
    ("mann", {"key_strength": 0.5}, "'key_strength' must be above 1"),
    ("mann", {"env": "metarl/BernoulliBandit-v0", "env_kwargs": {}}, "no online classification view"),
    ("learned-optimizer", {"estimator": "sgd"}, "'estimator' must be one of"),
    ("learned-optimizer", {"objective": "final_error"}, "cannot be differentiated"),
    ("learned-optimizer", {"estimator": "es", "objective": "final_error", "env_kwargs": {"optimizee": "quadratic"}},
     "needs a classifier"),
    ("learned-optimizer", {"samples": 1}, "'samples' must be at least 2"),
    ("learned-optimizer", {"env": "metarl/Navigation2D-v0", "env_kwargs": {}}, "not a learning-process family"),
    ("learned-teacher", {"estimator": "sgd"}, "'estimator' must be one of"),
    ("learned-teacher", {"init_keep": 1.0}, "'init_keep' must lie in"),
    ("learned-teacher", {"students": 0}, "'students' must be at least 1"),
    ("learned-teacher", {"repeats": 0}, "'repeats' must be at least 1"),
    ("learned-teacher", {"estimator": "es", "sigma": 0.0}, "'sigma' must be"),
    ("learned-teacher", {"env": "metarl/Navigation2D-v0", "env_kwargs": {}}, "not a teaching family"),
    ("controller", {"estimator": "sgd"}, "'estimator' must be one of"),
    ("controller", {"samples": 1}, "'samples' must be at least 2"),
    ("controller", {"env": "metarl/Navigation2D-v0", "env_kwargs": {}}, "not a child-training family"),
    ("controller", {"estimator": "unroll"}, "needs differentiable children"),
    ("pearl", {"env": "metarl/BernoulliBandit-v0", "env_kwargs": {}}, "PEARL needs continuous"),
    ("pearl", {"hidden": []}, "'hidden' must be a non-empty list"),
    ("pearl", {"kl_weight": -1.0}, "'kl_weight' must be at least 0"),
    ("pearl", {"critic_reward": "shaped"}, "'critic_reward' must be one of"),
    ("pearl", {"prior_steps": 0, "posterior_steps": 0}, "the context would stay empty"),
]


def make_trainer(agent: str, tmp_path: Path, **overrides: Any) -> Trainer:
    """The agent's trainer on its tiny case, logging under ``tmp_path``."""
    cls = trainer_class(agent)
    values = {**CASES[agent].settings, "device": "cpu", "logdir": str(tmp_path), "run_name": "run",
              "total_steps": 10**9, "checkpoint_every": 2, "figures": False, **overrides}
    if "figures" not in {f.name for f in dataclasses.fields(cls.config_type)}:
        values.pop("figures")
    return cls(build_config(cls.config_type, values))


def logged(run: Path) -> list[dict[str, float]]:
    """The run's scalar rows without the timing tags (``perf/``), which differ between any two runs."""
    return [{k: v for k, v in row.items() if not k.startswith("perf/")} for row in read_scalars(run)]


def leaves(state: Any, prefix: str = "") -> dict[str, Any]:
    """The tensors and other values of a nested state dict, by path."""
    if isinstance(state, dict):
        return {k: v for key, value in state.items() for k, v in leaves(value, f"{prefix}/{key}").items()}
    if isinstance(state, (list, tuple)):
        return {k: v for i, value in enumerate(state) for k, v in leaves(value, f"{prefix}/{i}").items()}
    return {prefix: state}


def assert_same_state(a: dict[str, Any], b: dict[str, Any]) -> None:
    left, right = leaves(a), leaves(b)
    assert left.keys() == right.keys()
    for key, value in left.items():
        other = right[key]
        if isinstance(value, torch.Tensor):  # NaN (e.g. a baseline not yet set) equals NaN here
            assert torch.equal(value.nan_to_num(), other.nan_to_num()), key
            assert torch.equal(value.isnan(), other.isnan()), key
        else:
            assert value == other or (value != value and other != other), key


def test_every_agent_has_a_case():
    assert sorted(CASES) == sorted(agent_names())


# ---------------------------------------------------------------- exact resume
RESUME_CASES = [(agent, {}) for agent in CASES] + VARIANTS


@pytest.mark.parametrize("agent, extra", RESUME_CASES,
                         ids=[agent + "".join(f"-{k}={v}" for k, v in extra.items()) for agent, extra in RESUME_CASES])
def test_resume_after_losing_work_logs_and_ends_like_an_uninterrupted_run(tmp_path, agent, extra):
    whole = make_trainer(agent, tmp_path / "a", **extra)
    whole.fit(max_iterations=4, progress=False)
    first = make_trainer(agent, tmp_path / "b", **extra)
    first.fit(max_iterations=2, progress=False)  # stops right after the checkpoint of iteration 2
    saved_step = first.global_step
    first.train_iteration()  # work after the checkpoint that an interruption loses
    resumed = type(first).resume(tmp_path / "b" / "run")
    assert (resumed.iteration, resumed.global_step) == (2, saved_step)
    resumed.fit(max_iterations=2, progress=False)
    rows = logged(tmp_path / "a" / "run")
    assert rows == logged(tmp_path / "b" / "run") and len(rows) == 4
    tags = {tag for tag in CASES[agent].tags if not tag.startswith("perf/")}
    assert extra or tags <= set(rows[1]) | set(rows[3]), "the rows of checkpoint iterations hold every tag"
    assert load_checkpoint(tmp_path / "a" / "run")["progress"]["global_step"] == resumed.global_step
    assert_same_state(whole.state_dict(), resumed.state_dict())


# ---------------------------------------------------------------- config errors
SHARED_ERRORS = [({"total_step": 5}, "unknown config key 'total_step'.*did you mean total_steps"),
                 ({"total_steps": "many"}, "'total_steps' must be int"),
                 ({"checkpoint_every": 0}, "'checkpoint_every' must be at least 1"),
                 ({"seed": 1.5}, "'seed' must be int")]


@pytest.mark.parametrize("agent, values, words", [(a, v, w) for a in CASES for v, w in SHARED_ERRORS] + ERRORS)
def test_config_errors_are_one_line_naming_the_key(agent, values, words):
    cls = trainer_class(agent)
    with pytest.raises(ConfigError, match=words) as raised:
        cls(build_config(cls.config_type, {**CASES[agent].settings, "device": "cpu"}, values))
    assert "\n" not in str(raised.value)


# ---------------------------------------------------------------- the command line
def cli_args(agent: str, logdir: Path) -> list[str]:
    """``metarl train`` of the agent's case for one iteration, which checkpoints (and validates)."""
    settings = {**CASES[agent].settings, "checkpoint_every": 1}
    settings.update({"validate_every": 1} if "validate_every" in settings else {})
    env, env_kwargs = settings.pop("env", None), settings.pop("env_kwargs", {})
    argv = ["train", agent, "--total-steps", "1", "--logdir", str(logdir), "--device", "cpu", "--no-progress"]
    argv += ["--env", env] if env else []
    argv += ["--env-kwargs", ",".join(f"{k}={v}" for k, v in env_kwargs.items())] if env_kwargs else []
    return argv + [item for key, value in settings.items() for item in ("--set", f"{key}={json.dumps(value)}")]


@pytest.mark.parametrize("agent", list(CASES))
def test_cli_train_writes_checkpoint_and_tags_then_eval_prints_the_table(tmp_path, capsys, agent):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    case, logdir = CASES[agent], tmp_path / "runs"
    assert main(cli_args(agent, logdir)) == 0  # one iteration; its checkpoint comes with figures
    (run,) = list(logdir.iterdir())
    assert run.name.startswith(case.run_prefix + "0__")
    assert load_checkpoint(run)["progress"]["global_step"] >= 1
    events = EventAccumulator(str(run)).Reload()
    assert {*case.tags, "perf/steps_per_second"} <= set(events.Tags()["scalars"])
    assert set(case.images) <= set(events.Tags()["images"])
    assert "_hparams_/experiment" in events.PluginTagToContent("hparams")
    capsys.readouterr()
    assert main(["eval", str(run), "--trials", "3", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert all(words in out for words in case.eval_words), out


CLI_ERRORS = {  # agent: (--set, words) beside the shared ones
    "protonet": [("ways=500", "ways=500 exceeds the 42 classes of the 'train' split")],
    "learned-optimizer": [("estimator=magic", "'estimator' must be one of")],
}


@pytest.mark.parametrize("agent", list(CASES))
def test_cli_bad_setting_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, agent):
    argv = cli_args(agent, tmp_path / "runs")
    for setting, words in [("total_step=5", "unknown config key 'total_step'"), ("seed=many", "'seed' must be int"),
                           ("checkpoint_every=0", "'checkpoint_every' must be at least 1"),
                           *CLI_ERRORS.get(agent, [])]:
        assert main([*argv, "--set", setting]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("metarl: error: ") and words in err, err
    assert not (tmp_path / "runs").exists(), "nothing is written before the config is valid"


def test_cli_bad_setting_from_a_fresh_interpreter_is_one_line_without_traceback(tmp_path):
    argv = [*cli_args("learned-teacher", tmp_path / "runs"), "--set", "estimator=magic"]
    done = subprocess.run([sys.executable, "-m", "metarl.cli", *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "'estimator' must be one of" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "runs").exists()


# ---------------------------------------------------------------- devices
@pytest.mark.parametrize("agent", list(CASES))
def test_an_iteration_and_an_evaluation_run_on_each_device(tmp_path, device, agent):
    trainer = make_trainer(agent, tmp_path, device=str(device))
    scalars = trainer.train_iteration()
    parameters = [p for module in trainer._modules() for p in module.parameters()]
    assert parameters and all(p.device.type == device.type for p in parameters)
    assert scalars and all(isinstance(v, float) and not math.isnan(v) for k, v in scalars.items()
                           if k.startswith("losses/"))
    assert trainer.global_step > 0
    lines = trainer.evaluation_report(trials=2, split="test", seed=0)
    assert lines and all(isinstance(line, str) for line in lines)


# ---------------------------------------------------------------- determinism and named random streams
@pytest.mark.parametrize("agent", list(CASES))
def test_same_seed_same_scalars_other_seed_other_scalars_from_declared_streams(tmp_path, monkeypatch, agent):
    asked = []
    original = Trainer.stream_seed

    def recording(self, name, seed=None):
        asked.append(name)
        return original(self, name, seed)

    monkeypatch.setattr(Trainer, "stream_seed", recording)
    for folder, seed in (("a", 0), ("b", 0), ("c", 1)):
        make_trainer(agent, tmp_path / folder, seed=seed).fit(max_iterations=2, progress=False)
    same, other = logged(tmp_path / "a" / "run"), logged(tmp_path / "c" / "run")
    assert same == logged(tmp_path / "b" / "run") and len(same) == 2
    assert same != other
    streams = trainer_class(agent).seed_streams
    assert asked and set(asked) <= set(streams), "every stream keeps its table's seed; none is hashed by accident"


@pytest.mark.parametrize("agent", list(CASES))
def test_declared_streams_keep_their_original_seeds(tmp_path, agent):
    trainer = make_trainer(agent, tmp_path, seed=5)
    for name, offset in trainer.seed_streams.items():
        assert trainer.stream_seed(name) == 5 + offset and trainer.stream_seed(name, seed=9) == 9 + offset
        expected = torch.rand(4, generator=torch.Generator().manual_seed(5 + offset))
        assert torch.equal(torch.rand(4, generator=trainer.generator(name)), expected)


def test_new_streams_are_hashed_the_same_in_every_process():
    from metarl.training.loop import stream_seed

    names = ["dropout", "augment", "noise"]
    here = [stream_seed(3, name) for name in names]
    code = f"from metarl.training.loop import stream_seed; print([stream_seed(3, n) for n in {names!r}])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and json.loads(done.stdout) == here, done.stderr
    assert len(set(here)) == 3 and all(0 <= seed < 2**63 for seed in here)
    assert stream_seed(4, "dropout") != here[0] and stream_seed(3, "noise", {"noise": 1}) == 4
