"""VariBAD and its gridworld: the GoalGrid family's rules and solvers, the belief network, the ELBO's masks, a tiny
run that learns (the contract every agent keeps is in test_trainer_contract.py; GoalGrid's family contract runs
through ENV_IDS in conftest.py)."""

import gymnasium
import pytest
import torch
from metarl.agents.rl2.evaluate import evaluate_policy
from metarl.agents.varibad import VariBADConfig, VariBADModel, VariBADTrainer
from metarl.agents.varibad.model import gaussian_kl
from metarl.envs.goal_grid import GoalGrid, goal_cells

import metarl
from metarl.errors import ConfigError
from metarl.solvers import trial_returns

GRID = {"env": "metarl/GoalGrid-v0", "env_kwargs": {"cells": 3, "horizon": 4, "episodes": 2}}
TINY = {**GRID, "num_envs": 8, "encoder_hidden": 8, "encoder_embed": 8, "policy_hidden": 8, "decoder_hidden": 8,
        "device": "cpu"}


def test_goal_grid_rewards_the_goal_cell_and_never_puts_it_at_the_start():
    env = metarl.make("metarl/GoalGrid-v0", num_envs=3, seed=0)
    goals = env.sample_tasks(2000, torch.Generator().manual_seed(0)).goal
    assert ((goals[:, 0] > 1) | (goals[:, 1] > 1)).all()
    assert len({tuple(g) for g in goals.tolist()}) == len(goal_cells(5)) == 21
    env.reset(task={"goal": torch.tensor([[2, 0], [0, 2], [4, 4]])})
    rewards = [env.step(torch.tensor([2, 1, 0])).reward for _ in range(2)]  # right, up, stay
    assert rewards[0].tolist() == pytest.approx([-0.1, -0.1, -0.1])
    assert rewards[1].tolist() == pytest.approx([1.0, 1.0, -0.1])
    assert env.step(torch.tensor([0, 0, 3])).reward.tolist() == pytest.approx([1.0, 1.0, -0.1])  # stay on the goal


def test_goal_grid_solvers_rank_oracle_search_random():
    env = metarl.make("metarl/GoalGrid-v0", num_envs=500, seed=0, split="test")
    oracle, search, random = (float(trial_returns(env, name, torch.Generator().manual_seed(0)).mean())
                              for name in ("oracle", "search", "random"))
    assert oracle > search > random
    goals = env.sample_tasks(10_000, torch.Generator().manual_seed(1)).goal
    distance = goals.sum(1).float()  # steps from (0, 0); each costs 0.1 and the goal pays 1 each step after
    expected = (4 * (-0.1 * (distance - 1) + (15 - distance + 1))).mean()
    assert oracle == pytest.approx(float(expected), abs=0.3)


def test_belief_sequence_equals_stepping_and_resets_at_trial_starts():
    torch.manual_seed(0)
    net = VariBADModel(6, 2, gymnasium.spaces.Discrete(3), latent=3, hidden=8, embed=8, policy_hidden=8,
                       time_feature=True)
    T, B = 7, 3
    inputs = torch.randn(T, B, 6)
    start = torch.zeros(T, B, dtype=torch.bool)
    start[0] = True
    start[4, 1] = True
    state0 = net.initial_state(B)
    params, values = net.sequence(inputs, state0, start)
    state, stepped = state0, []
    for t in range(T):
        p, v, state = net.step(inputs[t], state, start[t])
        stepped.append((p, v))
    assert torch.allclose(params, torch.stack([p for p, _ in stepped]), atol=1e-6)
    assert torch.allclose(values, torch.stack([v for _, v in stepped]), atol=1e-6)
    fresh = net.step(inputs[0], torch.zeros_like(state0), torch.zeros(B, dtype=torch.bool))[0]
    assert torch.allclose(net.step(inputs[0], torch.randn_like(state0), torch.ones(B, dtype=torch.bool))[0], fresh)


@pytest.mark.parametrize("inputs", [{}, {"normalize": True, "policy_embed": 4, "policy_layers": 1}],
                         ids=["raw", "standardised-embedded"])
def test_rl_loss_does_not_reach_the_encoder(inputs):
    torch.manual_seed(0)
    net = VariBADModel(6, 2, gymnasium.spaces.Discrete(3), latent=3, hidden=8, embed=8, policy_hidden=8, **inputs)
    start = torch.zeros(5, 2, dtype=torch.bool)
    start[0] = True
    params, values = net.sequence(torch.randn(5, 2, 6), net.initial_state(2), start)
    (params.sum() + values.sum()).backward()
    assert all(p.grad is None for p in net.vae_parameters())
    assert all(p.grad is not None for p in net.policy_parameters())


def test_policy_reads_state_and_belief_standardised_by_the_rollouts_so_far(tmp_path):
    """The statistics move only between iterations (collection and PPO read the same ones) and live in the model's
    state, so a checkpoint carries them."""
    trainer = VariBADTrainer(VariBADConfig(**TINY, logdir=str(tmp_path), seed=0))
    norm = trainer.model.belief_norm
    assert norm is not None and float(norm.count) < 1 and trainer.model.belief_embed is not None
    trainer.train_iteration()
    assert float(norm.count) == pytest.approx(trainer.config.num_envs * trainer.env.trial_steps, abs=1e-3)
    assert {"belief_norm.mean", "belief_norm.var", "state_norm.mean"} <= set(trainer.model.state_dict())
    x, mean, logvar = torch.randn(5, 2 + 1 + 5 + 1 + 1), torch.randn(5, 5), torch.randn(5, 5)
    before = trainer.model.act(x, mean, logvar)[0]
    norm.mean.add_(1.0)
    assert not torch.allclose(trainer.model.act(x, mean, logvar)[0], before)


def test_kl_to_itself_is_zero_and_to_a_wider_prior_positive():
    mean, logvar = torch.randn(4, 3), torch.randn(4, 3)
    assert torch.allclose(gaussian_kl(mean, logvar, mean, logvar), torch.zeros(4), atol=1e-6)
    assert (gaussian_kl(mean, logvar, mean, logvar + 1.0) > 0).all()


def test_elbo_decodes_each_trial_only_from_its_own_beliefs(tmp_path, monkeypatch):
    """A latent of a rollout's first trial explains that trial's rewards, none of the next trial's."""
    trainer = VariBADTrainer(VariBADConfig(**TINY, rollout_trials=2, elbo_samples=0, logdir=str(tmp_path)))
    with torch.no_grad():
        rollout, states, _, _ = trainer._collect()
    n = trainer.env.trial_steps
    assert rollout["start"][0].all() and rollout["start"][n].all() and not rollout["start"][1:n].any()
    monkeypatch.setattr(trainer.model.decoder, "reward", lambda z, obs, action, next_obs: torch.zeros(
        z.shape[0], obs.shape[1], z.shape[2]))  # predicts 0: the error is the square of each decoded reward
    squares = rollout["reward"].square()
    per_trial = torch.stack([squares[:n].sum(0), squares[n:].sum(0)])  # (2, B)
    expected = per_trial.mean()  # every belief step decodes its own trial: half the steps in each
    _, parts = trainer._elbo_loss(rollout, states[0])
    assert float(parts["reconstruction"]) == pytest.approx(float(expected), rel=1e-5)
    steps = VariBADTrainer._trial_step(rollout["start"])
    assert steps[:, 0].tolist() == [*range(n), *range(n)]


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="latent"):
        VariBADConfig(latent=0)
    with pytest.raises(ConfigError, match="vae_lr"):
        VariBADConfig(vae_lr=0.0)


def test_tiny_run_beats_random_on_two_armed_bandit_and_narrows_its_belief(tmp_path):
    config = VariBADConfig(env="metarl/BernoulliBandit-v0", env_kwargs={"arms": 2, "pulls": 10}, num_envs=128,
                           encoder_hidden=32, policy_hidden=32, lr=3e-3, gamma=1.0, clip=0.2, epochs=2, minibatches=2,
                           total_steps=128 * 10 * 60, logdir=str(tmp_path), device="cpu", seed=0)
    trainer = VariBADTrainer(config)
    trainer.fit(progress=False)
    scores = evaluate_policy(trainer.model, config.env, config.env_kwargs, trials=2000, split="test", seed=0)
    random = trial_returns(metarl.make(config.env, num_envs=2000, seed=0, split="test",
                                       **config.env_kwargs), "random").mean()
    assert scores.mean > float(random) + 3 * scores.ci95 / 1.96, (scores.mean, float(random))
    entropy = trainer.last_belief["entropy"]
    assert float(entropy[-1]) < float(entropy[0]), "the belief narrows as the trial shows the arms"


def test_goal_grid_is_a_registered_family_with_published_text():
    assert metarl.spec("metarl/GoalGrid-v0").entry_point is GoalGrid
    published = GoalGrid.published_episode_returns({"cells": 5, "horizon": 15, "episodes": 4})
    assert "VariBAD" in published["source"]
    assert GoalGrid.published_episode_returns({"cells": 4, "horizon": 15, "episodes": 4}) is None


def test_one_iteration_on_every_family(tmp_path, env_id):
    """Discrete and continuous actions alike: the decoder one-hot encodes the one and reads the other as is."""
    from conftest import SMALL

    trainer = VariBADTrainer(VariBADConfig(env=env_id, env_kwargs=SMALL[env_id], num_envs=4, encoder_hidden=8,
                                           encoder_embed=8, policy_hidden=8, decoder_hidden=8, epochs=1,
                                           minibatches=1, vae_updates=1, elbo_samples=3, decode_state=True,
                                           device="cpu", logdir=str(tmp_path)))
    scalars = trainer.train_iteration()
    assert trainer.global_step == 4 * trainer.env.trial_steps
    assert all(isinstance(v, float) for v in scalars.values())
    assert {"losses/vae_reconstruction", "losses/vae_state_reconstruction", "belief/kl"} <= set(scalars)
