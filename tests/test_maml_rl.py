"""MAML-RL: the adapted Fisher product, baseline, masking, learning, the pretrained baseline, published numbers
(the contract every agent keeps is in test_trainer_contract.py)."""

import gymnasium
import pytest
import torch
from metarl.agents.maml_rl import MAMLConfig, MAMLTrainer
from metarl.agents.maml_rl.sampling import adapted_fisher_product, collect, inner_loss, process, surrogate

from metarl.errors import ConfigError
from metarl.rl import AdaptationJacobian, MLPPolicy, adapt, fit_linear_baseline, linear_features
from metarl.rl.trpo import fisher_vector_product
from metarl.training import read_scalars

NAV = {"env": "metarl/Navigation2D-v0", "env_kwargs": {"horizon": 5}}
TINY = {**NAV, "meta_batch": 2, "trajectories": 3, "hidden": [8], "checkpoint_every": 2, "device": "cpu"}
TINY_STEPS = 2 * 2 * 3 * 5  # (inner steps + 1) x meta-batch x trajectories x horizon


def tiny(tmp_path, **overrides):
    return MAMLConfig(**{**TINY, "total_steps": 4 * TINY_STEPS, "logdir": str(tmp_path), **overrides})


# ---------------------------------------------------------------- policies, curvature and the adapted Fisher product
# (functional adaptation itself is checked against explicit copy-and-step in test_functional.py)
@pytest.mark.parametrize("space", [gymnasium.spaces.Discrete(3), gymnasium.spaces.Box(-1, 1, (2,))],
                         ids=["categorical", "gaussian"])
def test_batched_policy_forward_matches_vmap_of_functional_call(space):
    torch.manual_seed(0)
    policy = MLPPolicy(2, space, hidden=(6, 5), activation="tanh")
    gen = torch.Generator().manual_seed(0)
    params = {n: (p.detach() + 0.1 * torch.randn(3, *p.shape, generator=gen)).requires_grad_()
              for n, p in policy.named_parameters()}
    obs = torch.randn(3, 4, 7, 2, generator=gen)
    fast = policy.per_task_forward(params, obs)
    slow = torch.func.vmap(lambda q, x: torch.func.functional_call(policy, q, (x,)))(params, obs)
    assert torch.allclose(fast, slow, atol=1e-6)
    weights = torch.randn_like(fast, generator=gen)
    for a, b in zip(torch.autograd.grad((fast * weights).sum(), list(params.values())),
                    torch.autograd.grad((slow * weights).sum(), list(params.values())), strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_unit_actions_map_onto_the_bounds_and_drive_the_environment(tmp_path):
    policy = MLPPolicy(2, gymnasium.spaces.Box(low=-0.1, high=0.3, shape=(2,)), hidden=(4,), unit_actions=True)
    a = torch.tensor([[-1.0, 1.0], [0.0, 5.0], [-7.0, 0.5]])
    assert torch.allclose(policy.env_action(a), torch.tensor([[-0.1, 0.3], [0.1, 0.3], [-0.1, 0.2]]))
    assert MLPPolicy(2, gymnasium.spaces.Discrete(3), unit_actions=True).env_action(torch.tensor([2])).item() == 2
    trainer = MAMLTrainer(tiny(tmp_path))
    assert trainer.policy.unit_actions
    batch = trainer._collect(trainer._meta_params(2, detached=True), trainer.env.sample_tasks(2))
    moved = batch.obs[1] - batch.obs[0]  # the first step's displacement is the rescaled first action
    assert torch.allclose(moved, trainer.policy.env_action(batch.actions[0]), atol=1e-6)


def test_adaptation_jacobian_takes_its_curvature_from_the_curvature_loss_and_its_steps_from_the_loss():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(2, 10, 3, generator=gen), torch.randn(2, 10, generator=gen)
    params = {"w": torch.randn(2, 3, generator=gen).requires_grad_()}

    def loss(n):
        return lambda p, k: ((x[:, :n] @ p["w"].unsqueeze(-1)).squeeze(-1) - y[:, :n]).pow(4).mean(-1).sum()

    mixed = AdaptationJacobian(loss(10), params, [0.1], curvature_fn=loss(4))
    assert torch.allclose(mixed.final["w"], adapt(loss(10), params, [0.1])[-1]["w"].detach())
    v = {"w": torch.randn(2, 3, generator=gen)}
    assert torch.allclose(mixed.jvp(v)["w"], AdaptationJacobian(loss(4), params, [0.1]).jvp(v)["w"], atol=1e-6)
    assert not torch.allclose(mixed.jvp(v)["w"], AdaptationJacobian(loss(10), params, [0.1]).jvp(v)["w"])


@pytest.mark.parametrize("pretrain", [False, True], ids=["maml", "pretrain"])
def test_subsampled_curvature_still_takes_steps_within_the_kl_bound(tmp_path, pretrain):
    trainer = MAMLTrainer(tiny(tmp_path, cg_subsample=0.34, trajectories=6, pretrain=pretrain))
    accepted = []
    for _ in range(3):
        scalars = trainer.train_iteration()
        assert scalars["losses/kl"] <= trainer.config.max_kl
        accepted.append(scalars["losses/line_search_accepted"])
    assert max(accepted) == 1.0


def test_fisher_product_without_inner_steps_is_the_hessian_of_the_kl(tmp_path):
    trainer = MAMLTrainer(tiny(tmp_path, hidden=[6, 5]))
    policy, G = trainer.policy, 2
    batch = trainer._collect(trainer._meta_params(G, detached=True), trainer.env.sample_tasks(G))
    full = fisher_vector_product(surrogate(policy, trainer._meta_params(G), batch)[1], list(policy.parameters()),
                                 damping=0.01)
    structured = adapted_fisher_product(policy, [], batch, [], False, damping=0.01)
    v = torch.randn(sum(p.numel() for p in policy.parameters()), generator=torch.Generator().manual_seed(1))
    assert torch.allclose(structured(v), full(v), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("first_order", [False, True], ids=["second-order", "first-order"])
def test_structured_fisher_product_equals_the_hessian_of_the_kl_through_the_adaptation(first_order):
    trainer = MAMLTrainer(tiny("/tmp", inner_steps=2, hidden=[6, 5], first_order=first_order))
    policy, G, sizes = trainer.policy, 2, [0.3, 0.2]
    tasks = trainer.env.sample_tasks(G, torch.Generator().manual_seed(0))
    params, batches = trainer._meta_params(G, detached=True), []
    for size in sizes:
        batches.append(trainer._collect(params, tasks))
        with torch.no_grad():
            params = adapt(lambda p, _, b=batches[-1]: inner_loss(policy, p, b), params, [size])[-1]
    post = trainer._collect(params, tasks)
    adapted = adapt(lambda p, k: inner_loss(policy, p, batches[k]), trainer._meta_params(G), sizes, first_order)[-1]
    full = fisher_vector_product(surrogate(policy, adapted, post)[1], list(policy.parameters()), damping=0.01)
    structured = adapted_fisher_product(policy, batches, post, sizes, first_order, damping=0.01)
    v = torch.randn(sum(p.numel() for p in policy.parameters()), generator=torch.Generator().manual_seed(1))
    assert torch.allclose(structured(v), full(v), rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- baseline and masking
def test_linear_baseline_fits_a_linear_target_exactly_per_task_and_ignores_masked_steps():
    gen = torch.Generator().manual_seed(0)
    obs = torch.randn(12, 2, 5, 3, generator=gen)  # (T, tasks, trajectories, obs)
    features = linear_features(obs)
    assert features.shape == (12, 2, 5, 10)
    weights = torch.randn(2, 10, generator=gen)  # a different target per task
    target = torch.einsum("tgnf,gf->tgn", features, weights)
    mask = torch.ones(12, 2, 5)
    mask[8:, :, 1] = 0  # one trajectory per task ended early
    garbage = torch.where(mask > 0, target, torch.full_like(target, 1e3))
    values = fit_linear_baseline(features, garbage, mask, reg=0.0)
    assert torch.allclose(values[mask > 0], target[mask > 0], atol=1e-3)
    assert (values[mask == 0] == 0).all()


def test_steps_after_an_episode_ends_are_masked():
    trainer = MAMLTrainer(tiny("/tmp", env_kwargs={"horizon": 20, "goal_radius": 0.3}, meta_batch=4, trajectories=8))
    params = trainer._meta_params(4, detached=True)
    tasks = trainer.env.sample_tasks(4, torch.Generator().manual_seed(0))
    batch = collect(trainer.env, trainer.policy, params, tasks, 8, trainer.sampler)
    mask = batch.mask
    assert (mask[0] == 1).all() and (mask[1:] <= mask[:-1]).all(), "a trajectory stays ended"
    assert (mask[-1] == 0).any() and (mask[-1] == 1).any(), "this setting has early ends and full trajectories"
    distance = -batch.rewards
    ended_at = mask.sum(0).long() - 1  # the last valid step
    last = distance.gather(0, ended_at.unsqueeze(0))[0]
    early = ended_at < 19
    assert (last[early] < 0.3 * 2 ** 0.5).all(), "a trajectory ends inside the square around the goal"
    assert torch.allclose(batch.returns(), (batch.rewards * mask).sum(0))
    process(batch, 0.99, 1.0, 1e-5, normalize=True)
    assert (batch.advantages[mask == 0] == 0).all()


# ---------------------------------------------------------------- training
def test_tiny_run_adapts_post_adaptation_beats_pre_adaptation(tmp_path):
    config = MAMLConfig(meta_batch=10, trajectories=10, env_kwargs={"horizon": 20}, hidden=[32, 32], device="cpu",
                        total_steps=10 * 2 * 100 * 20, logdir=str(tmp_path), checkpoint_every=100)
    trainer = MAMLTrainer(config)
    trainer.fit(progress=False)
    rows = read_scalars(trainer.run_dir)
    assert len(rows) == 10
    scores = trainer.evaluate(trainer.policy, tasks=40, split="test", seed=0)
    before, after = scores.means[0], scores.means[1]
    assert after > before + 2 * (scores.ci95[0] + scores.ci95[1]), scores.means
    assert scores.means[3] > before, scores.means


@pytest.mark.parametrize("env, kwargs", [("metarl/BernoulliBandit-v0", {"arms": 3, "pulls": 6}),
                                         ("metarl/TabularMDP-v0", {"states": 3, "actions": 2, "horizon": 3,
                                                                   "episodes": 2})])
def test_discrete_families_train_and_evaluate(tmp_path, env, kwargs):
    trainer = MAMLTrainer(tiny(tmp_path, env=env, env_kwargs=kwargs, inner_steps=2))
    scalars = [trainer.train_iteration() for _ in range(2)][-1]
    for tag in ("adaptation/step_0", "adaptation/step_2", "charts/post_adaptation_return", "losses/kl"):
        assert tag in scalars and scalars[tag] == scalars[tag]
    assert trainer.global_step == 2 * 3 * 2 * 3 * trainer.env.trial_steps
    scores = trainer.evaluate(trainer.policy, tasks=5)
    assert scores.returns.shape == (5, 4)


def test_pretrained_baseline_joins_the_evaluation_report(tmp_path):
    pre = MAMLTrainer(tiny(tmp_path, run_name="pre", pretrain=True, total_steps=TINY_STEPS))
    pre.fit(progress=False)
    assert pre.global_step == TINY_STEPS, "the baseline gets the same steps per iteration"
    maml = MAMLTrainer(tiny(tmp_path, run_name="maml", total_steps=TINY_STEPS,
                            baseline_checkpoint=str(tmp_path / "pre")))
    maml.fit(progress=False)
    lines = maml.evaluation_report(trials=3, split="test", seed=0)
    text = "\n".join(lines)
    for words in ("maml-rl (this run)", "pretrained (multi-task)", "random init", "3 test tasks", "3 steps"):
        assert words in text
    assert "not trained" not in text
    with pytest.raises(ConfigError, match="not a `pretrain: true`"):
        maml.load_baseline(tmp_path / "maml")


def test_published_numbers_are_printed_for_the_paper_setting():
    from metarl.agents.maml_rl.evaluate import AdaptationScores, format_table
    from metarl.envs.navigation import MAML_NAVIGATION

    from metarl.published import maml_published

    published = maml_published("Navigation2D", {"horizon": 100, "episodes": 1, "goal_range": 0.5, "max_speed": 0.1,
                                                 "goal_radius": 0.01})
    assert published["maml"] == (-40.41, -11.68, -3.33, -3.23)
    assert maml_published("Navigation2D", {"horizon": 20, "episodes": 1}) is None
    lines = format_table([("x", AdaptationScores(torch.zeros(2, 4)), "")], 3, published["maml"],
                         published["targets"], MAML_NAVIGATION["source"])
    assert "-11.68" in lines[-2] and ">= -3.3" in lines[-1]


@pytest.mark.parametrize("maximize", [True, False])
def test_tune_later_steps_keeps_the_first_step_and_picks_the_best_later_size(maximize):
    from metarl.rl.functional import tune_later_steps

    asked = []

    def score(sizes):  # best when the later steps are 0.025
        asked.append(sizes)
        return (-1 if maximize else 1) * abs(sizes[1] - 0.025)

    sizes, tried = tune_later_steps(score, 0.1, 3, factors=(1.0, 0.5, 0.25, 0.125), maximize=maximize)
    assert sizes == [0.1, 0.025, 0.025]
    assert all(s[0] == 0.1 and s[1] == s[2] for s in asked) and sorted(tried) == [0.0125, 0.025, 0.05, 0.1]
    assert tune_later_steps(score, 0.1, 1) == ([0.1], {})
