"""The controller's per-decision-type output heads: which head a decision reads, their shapes, ES populations,
determinism and the refusal of checkpoints written with one shared head (exact resume is in the trainer contract)."""

import pytest
import torch
from metarl.agents.controller import ControllerConfig, ControllerTrainer
from metarl.agents.controller.policy import DecisionPolicy, RecurrentDecisionPolicy

import metarl
from metarl.errors import BadArgumentError, CheckpointError, ConfigError
from metarl.training.checkpoint import load_checkpoint, save_checkpoint


def observations(decisions: int, choices: int) -> torch.Tensor:
    """The observation of every decision index with no previous choice."""
    return torch.cat([torch.eye(decisions), torch.zeros(decisions, choices + 1)], 1)


def with_history(obs: torch.Tensor, choices: int) -> torch.Tensor:
    """``obs`` followed by an empty history (no decision made), the layout a policy with history reads."""
    return torch.cat([obs, torch.zeros(obs.shape[0], obs.shape[0] * (choices + 1))], 1)


POLICIES = [pytest.param(DecisionPolicy, id="mlp"), pytest.param(RecurrentDecisionPolicy, id="lstm")]


@pytest.mark.parametrize("policy_type", POLICIES)
def test_each_decision_reads_the_head_of_its_type_only(policy_type):
    torch.manual_seed(0)
    policy = policy_type(6 + 5, 4, ("operation", "width", "skip") * 2, hidden=(8,))
    assert policy.heads == ("operation", "width", "skip") and policy.head.linear.out_features == 12
    obs = observations(6, 4)
    if policy_type is RecurrentDecisionPolicy:
        obs = with_history(obs, 4)
    before = policy(obs)
    assert before.shape == (6, 4)
    with torch.no_grad():
        policy.head.linear.bias[4:8] += 1.0  # the width head's choices only
    changed = (policy(obs) - before).abs().sum(1) > 0
    assert changed.tolist() == [False, True, False, False, True, False]


def test_per_task_forward_of_a_population_matches_forward():
    policy = DecisionPolicy(3 + 5, 4, ("a", "b", "a"), hidden=(8,))
    params = {name: p.detach().expand(2, *p.shape) for name, p in policy.named_parameters()}
    obs = observations(3, 4)
    together = policy.per_task_forward(params, obs.expand(2, 3, 8))
    assert together.shape == (2, 3, 4) and torch.allclose(together[1], policy(obs), atol=1e-6)


def test_the_recurrent_controller_sees_the_choices_made_before_a_decision_and_none_after():
    torch.manual_seed(0)
    policy = RecurrentDecisionPolicy(3 + 5, 4, ("a", "b", "a"), hidden=(8,))
    obs = with_history(observations(3, 4), 4).repeat(2, 1)
    made = obs[:, 8:].view(6, 3, 5)
    made[:, :, 0] = 1.0
    made[3:, 0] = torch.tensor([0.0, 0, 0, 1, 0])  # rows 3-5: the first decision made differently
    out = policy(obs)
    assert torch.equal(out[0], out[3]) and not torch.allclose(out[1], out[4]) and not torch.allclose(out[2], out[5])


def test_the_recurrent_controller_refuses_a_population():
    with pytest.raises(ConfigError, match="reinforce or ppo"):
        ControllerConfig(controller="lstm", estimator="es")


def test_a_policy_without_decisions_is_refused():
    with pytest.raises(BadArgumentError, match="decision type"):
        DecisionPolicy(3, 4, (), hidden=(8,))


@pytest.mark.parametrize("env_id, kwargs, kinds", [
    ("metarl/ArchitectureSearch-v0", {"layers": 2}, 3), ("metarl/Augment-v0", {"subpolicies": 1}, 3),
])
def test_discrete_families_name_a_type_for_every_decision(env_id, kwargs, kinds):
    process = metarl.make(env_id, num_envs=1, seed=0, **kwargs).process
    assert len(process.decision_types) == process.decisions and len(set(process.decision_types)) == kinds


def small(tmp_path, **extra):
    return ControllerTrainer(ControllerConfig(env="metarl/Augment-v0", env_kwargs={"subpolicies": 1, "steps": 2,
                                                                                   "eval_size": 16},
                                              tasks=2, samples=2, hidden=4, logdir=str(tmp_path), **extra))


@pytest.mark.parametrize("controller", ["mlp", "lstm"])
def test_the_same_seed_gives_the_same_heads_and_updates(tmp_path, controller):
    a, b = small(tmp_path / "a", controller=controller), small(tmp_path / "b", controller=controller)
    assert a.policy.head.linear.out_features == 3 * 8
    a.train_iteration(), b.train_iteration()
    for (name, x), y in zip(a.policy.state_dict().items(), b.policy.state_dict().values(), strict=True):
        assert torch.equal(x, y), name


def test_a_checkpoint_with_one_shared_head_is_refused_with_a_clear_error(tmp_path):
    trainer = small(tmp_path, run_name="run")
    trainer.fit(max_iterations=1, progress=False)
    payload = load_checkpoint(tmp_path / "run")
    shared = payload["state"]["policy"]
    shared["head.linear.weight"], shared["head.linear.bias"] = shared["head.linear.weight"][:8], shared[
        "head.linear.bias"][:8]
    old = tmp_path / "old.pt"
    save_checkpoint(old, agent="controller", config=payload["config"], progress=payload["progress"],
                    state=payload["state"], data=payload["data"])
    with pytest.raises(CheckpointError, match="one head per decision type"):
        ControllerTrainer.resume(old)


def test_with_history_the_controller_sees_every_earlier_choice():
    from metarl.agents.controller.policy import observation

    process = metarl.make("metarl/ArchitectureSearch-v0", num_envs=1, seed=0, layers=1).process
    policy = DecisionPolicy(process.observation_size, 4, process.decision_types, hidden=(4,), history=True)
    tasks = metarl.make("metarl/ArchitectureSearch-v0", num_envs=1, seed=0, layers=1).sample_tasks(
        2, torch.Generator().manual_seed(0), split="train")
    state = process.start(tasks)
    state, _, _ = process.advance(state, torch.tensor([2, 1]), tasks)
    state, _, _ = process.advance(state, torch.tensor([3, 3]), tasks)
    obs = observation(policy, process, state, tasks)
    assert obs.shape == (2, process.observation_size + 3 * 5) == (2, policy.body[0].in_features)
    history = obs[:, process.observation_size:].view(2, 3, 5)
    assert history.argmax(-1).tolist() == [[3, 4, 0], [2, 4, 0]]  # choice + 1; 0: not made yet
    assert torch.equal(observation(None, process, state, tasks), process.observe(state, tasks))


def test_an_annealed_entropy_bonus_falls_linearly_to_zero(tmp_path):
    trainer = small(tmp_path, entropy_coef=0.1, entropy_anneal=True, total_steps=8)
    assert trainer._entropy_weight() == pytest.approx(0.1)
    trainer.train_iteration()  # 4 child trainings
    assert trainer._entropy_weight() == pytest.approx(0.05)
    assert small(tmp_path, entropy_coef=0.1, total_steps=8)._entropy_weight() == pytest.approx(0.1)


def test_the_scored_decisions_of_training_are_kept_across_a_resume(tmp_path):
    trainer = small(tmp_path, run_name="run")
    trainer.fit(max_iterations=2, progress=False)
    choices, accuracy = trainer.observed_decisions()
    assert choices.shape == (8, trainer.process.decisions) and accuracy.shape == (8,)
    assert ((accuracy >= 0) & (accuracy <= 1)).all()
    again = ControllerTrainer.resume(tmp_path / "run")
    assert all(torch.equal(x, y) for x, y in zip(again.observed_decisions(), (choices, accuracy), strict=True))
