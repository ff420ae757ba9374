"""The RL² agent: recurrent state handling, auxiliary predictions, a tiny run that learns, checkpoints, NaN handling,
every family (the contract every agent keeps is in test_trainer_contract.py)."""

import gymnasium
import pytest
import torch
from metarl.agents.rl2 import RecurrentActorCritic, RL2Config, RL2Trainer
from metarl.agents.rl2.evaluate import evaluate_policy

import metarl
from metarl.errors import CheckpointError, ConfigError, TrainingError
from metarl.solvers import trial_returns
from metarl.training import load_checkpoint, save_checkpoint

TINY = {"num_envs": 16, "hidden": 16, "epochs": 2, "minibatches": 2, "checkpoint_every": 2}


def tiny(tmp_path, **overrides):
    values = {"env": "metarl/TabularMDP-v0", "env_kwargs": {"states": 3, "actions": 2, "horizon": 3, "episodes": 2},
              "total_steps": 16 * 6 * 4, "logdir": str(tmp_path), "device": "cpu", **TINY, **overrides}
    return RL2Config(**values)


@pytest.mark.parametrize(("cell", "head_hidden", "separate_critic"),
                         [("gru", 0, False), ("lstm", 0, False), ("gru", 6, False), ("lstm", 6, True)])
def test_sequence_equals_stepping_and_resets_only_at_trial_starts(cell, head_hidden, separate_critic):
    torch.manual_seed(0)
    net = RecurrentActorCritic(5, gymnasium.spaces.Discrete(3), hidden=8, cell=cell, head_hidden=head_hidden,
                               separate_critic=separate_critic)
    T, B = 7, 3
    obs = torch.randn(T, B, 5)
    start = torch.zeros(T, B, dtype=torch.bool)
    start[0] = True
    start[3, 1] = start[5, 0] = True
    state0 = torch.randn_like(net.initial_state(B))
    params, values = net.sequence(obs, state0, start)
    state, stepped = state0, []
    for t in range(T):
        p, v, state = net.step(obs[t], state, start[t])
        stepped.append((p, v))
    assert torch.allclose(params, torch.stack([p for p, _ in stepped]), atol=1e-6)
    assert torch.allclose(values, torch.stack([v for _, v in stepped]), atol=1e-6)
    # a reset makes the step independent of the incoming state; no reset keeps it dependent
    fresh = net.step(obs[0], torch.zeros_like(state0), torch.zeros(B, dtype=torch.bool))[0]
    assert torch.allclose(net.step(obs[0], state0 * 5, torch.ones(B, dtype=torch.bool))[0], fresh)
    assert not torch.allclose(net.step(obs[0], state0 * 5, torch.zeros(B, dtype=torch.bool))[0], fresh)


def test_separate_critic_keeps_the_value_loss_out_of_the_actor():
    torch.manual_seed(0)
    net = RecurrentActorCritic(5, gymnasium.spaces.Discrete(3), hidden=8, embed=4, separate_critic=True)
    start = torch.zeros(6, 2, dtype=torch.bool)
    start[0] = True
    _, values = net.sequence(torch.randn(6, 2, 5), net.initial_state(2), start)
    values.sum().backward()
    actor = [*net.encoder.parameters(), *net.core.parameters(), *net.head.parameters()]
    critic = [*net.critic_encoder.parameters(), *net.critic_core.parameters()]
    assert all(p.grad is None for p in actor)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in critic)


def test_previous_observation_input_is_the_last_step_and_zero_at_trial_starts(tmp_path):
    trainer = RL2Trainer(tiny(tmp_path, previous_obs=True, time_feature=False))
    with torch.no_grad():
        rollout, _, _, _ = trainer._collect()
    obs, start, size = rollout["obs"], rollout["start"], trainer.inputs.obs_size
    rl2_size = obs.shape[-1] - size
    assert torch.equal(obs[1:, :, rl2_size:][~start[1:]], obs[:-1, :, :size][~start[1:]])
    assert (obs[:, :, rl2_size:][start] == 0).all()


def _reward_errors(model, features, rollout):
    """(prediction errors, errors of the best constant guess) of the rewards of the actions taken."""
    outcome = model.outcome_model(features, rollout["action"])
    return (outcome[..., 0] - rollout["reward"]).square().mean(), rollout["reward"].var()


def _task_errors(model, features, rollout):
    """The same for the regressed arm probabilities after five pulls, against the prior mean 0.5."""
    late = slice(5, None)
    error = (model.task_model(features) - rollout["task"])[late].square().mean()
    return error, (rollout["task"][late] - 0.5).square().mean()


@pytest.mark.parametrize(("coef", "errors_of"), [("reward_prediction_coef", _reward_errors),
                                                 ("task_prediction_coef", _task_errors)])
def test_auxiliary_predictions_use_what_the_trial_showed(tmp_path, coef, errors_of):
    """Trained with an auxiliary loss on 2-armed bandits, predictions beat the best constant guess: they use memory."""
    config = RL2Config(env_kwargs={"arms": 2, "pulls": 10}, num_envs=64, hidden=16, embed=16, total_steps=64 * 10 * 60,
                       logdir=str(tmp_path), device="cpu", **{coef: 1.0})
    trainer = RL2Trainer(config)
    trainer.fit(progress=False)
    errors, constant = [], []
    with torch.no_grad():
        for _ in range(4):
            rollout, states, _, _ = trainer._collect()
            _, _, features = trainer.model.sequence(rollout["obs"], states[0], rollout["start"], return_features=True)
            error, guess = errors_of(trainer.model, features, rollout)
            errors.append(error)
            constant.append(guess)
    assert sum(errors) < 0.95 * sum(constant), (errors, constant)


def test_next_observation_targets_stop_at_inner_episode_ends(tmp_path):
    """The next observation is a target within an inner episode only: after its last step comes a reset."""
    trainer = RL2Trainer(tiny(tmp_path, next_obs_prediction_coef=1.0))
    with torch.no_grad():
        rollout, _, _, _ = trainer._collect()
    data = rollout.chunks(trainer.bptt)
    obs, size, horizon = data["obs"], trainer.inputs.obs_size, trainer.env.config["horizon"]
    steps, sequences = obs.shape[:2]
    outcome = torch.full((steps, sequences, 1 + size), 99.0)
    outcome[..., 0] = data["reward"]
    known = [t for t in range(steps - 1) if (t + 1) % horizon]
    outcome[known, :, 1:] = obs[[t + 1 for t in known], :, :size]
    reward_error, next_error = trainer._prediction_errors(outcome, data, torch.arange(sequences))
    assert float(reward_error) == 0 and float(next_error) == 0
    outcome[known[-1], 0, 1] += 1.0
    assert float(trainer._prediction_errors(outcome, data, torch.arange(sequences))[1]) > 0


def test_rollout_marks_trial_starts_not_inner_episode_starts(tmp_path):
    trainer = RL2Trainer(tiny(tmp_path))
    with torch.no_grad():
        rollout, _, _, _ = trainer._collect()
    starts, trial_end = rollout["start"], rollout["trial_end"]
    assert starts[0].all(), "the first rollout starts every trial"
    assert torch.equal(starts[1:], trial_end[:-1]), "state resets exactly after a trial end"
    inner_end_rows = rollout["obs"][:, :, -2].bool()  # previous inner-episode end; the trial clock follows it
    assert (inner_end_rows & ~starts).any(), "inner-episode boundaries inside a trial do not reset the state"


def test_tiny_run_beats_random_on_two_armed_bandit(tmp_path):
    config = RL2Config(env_kwargs={"arms": 2, "pulls": 10}, num_envs=128, hidden=32, embed=32, lr=3e-3, epochs=2,
                       minibatches=2, gamma=0.99, gae_lambda=0.3, total_steps=128 * 10 * 60, logdir=str(tmp_path),
                       device="cpu", seed=0)
    trainer = RL2Trainer(config)
    trainer.fit(progress=False)
    scores = evaluate_policy(trainer.model, config.env, config.env_kwargs, trials=2000, split="test", seed=0)
    random = trial_returns(metarl.make(config.env, num_envs=2000, seed=0, split="test",
                                       **config.env_kwargs), "random").mean()
    assert scores.mean > float(random) + 3 * scores.ci95 / 1.96, (scores.mean, float(random))


def test_task_targets_are_the_task_of_each_steps_own_trial(tmp_path):
    """Read before each step: constant within a trial, the next trial's task only after a trial end."""
    trainer = RL2Trainer(tiny(tmp_path, rollout_trials=2, task_prediction_coef=1.0,
                              task_prediction_fields=["reward_mean"]))
    first = trainer._task_targets().clone()
    assert first.shape == (16, 3 * 2) and torch.equal(first, trainer.env.task.reward_mean.reshape(16, -1))
    with torch.no_grad():
        rollout, _, _, _ = trainer._collect()
    task, trial_steps = rollout["task"], trainer.env.trial_steps
    assert torch.equal(task[0], first)
    assert (task[:trial_steps] == first).all() and not torch.equal(task[trial_steps], first)
    assert (task[trial_steps:] == task[trial_steps]).all()
    assert not torch.equal(trainer._task_targets(), task[-1])  # the trial ended at the rollout's last step


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_checkpoint(tmp_path):
    trainer = RL2Trainer(tiny(tmp_path, run_name="run", checkpoint_every=1))
    trainer.fit(max_iterations=1, progress=False)
    saved = load_checkpoint(trainer.checkpoint_path)["state"]["model"]
    with torch.no_grad():
        trainer.model.value.weight.fill_(float("nan"))
    with pytest.raises(TrainingError, match="PPO loss is nan.*iteration 2.*checkpoint .* is intact"):
        trainer.fit(progress=False)
    reloaded = RL2Trainer.resume(trainer.checkpoint_path)
    assert reloaded.iteration == 1
    for name, tensor in reloaded.model.state_dict().items():
        assert torch.equal(tensor, saved[name]) and torch.isfinite(tensor).all()


def test_bad_checkpoints_are_one_clear_error(tmp_path):
    trainer = RL2Trainer(tiny(tmp_path, run_name="run"))
    path = trainer.fit(max_iterations=1, progress=False)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:1000])
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    for bad, words in [(truncated, "truncated or foreign"), (foreign, "not a metarl checkpoint"),
                       (text, "truncated or foreign"), (tmp_path / "missing.pt", "no checkpoint at")]:
        with pytest.raises(CheckpointError, match=words):
            RL2Trainer.resume(bad)
    with pytest.raises(ConfigError, match="cannot change hidden"):
        RL2Trainer.resume(path, {"hidden": 32})
    payload = torch.load(path, weights_only=True)
    payload["state"]["model"]["value.old_name"] = payload["state"]["model"].pop("value.weight")
    renamed = tmp_path / "renamed.pt"  # a well-formed checkpoint (valid checksum) of another model layout
    save_checkpoint(renamed, agent="rl2", config=payload["config"], progress=payload["progress"],
                    state=payload["state"])
    fit_error = "does not fit this version of the rl2 agent.*value.weight.*value.old_name.*start a new run"
    with pytest.raises(CheckpointError, match=fit_error):
        RL2Trainer.resume(renamed)


@pytest.mark.parametrize("extra", [{}, {"reward_prediction_coef": 1.0, "next_obs_prediction_coef": 1.0,
                                        "task_prediction_coef": 1.0, "previous_obs": True}])
def test_one_iteration_on_every_family(tmp_path, env_id, extra):
    from conftest import SMALL

    trainer = RL2Trainer(RL2Config(env=env_id, env_kwargs=SMALL[env_id], num_envs=4, hidden=8, epochs=1,
                                   minibatches=1, device="cpu", logdir=str(tmp_path), **extra))
    scalars = trainer.train_iteration()
    losses = ("losses/reward_prediction", "losses/next_obs_prediction", "losses/task_prediction")
    assert all((key in scalars) == bool(extra) for key in losses)
    assert trainer.global_step == 4 * trainer.env.trial_steps
    assert all(isinstance(v, float) for v in scalars.values())
    assert trainer.model.head.discrete == hasattr(trainer.env.single_action_space, "n")
