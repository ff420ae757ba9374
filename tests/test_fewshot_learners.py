"""Few-shot learners: each beats chance, ProtoNets solve a separable family, metric heads, best.pt, recipes
(the contract every agent keeps is in test_trainer_contract.py)."""

import dataclasses
import pathlib

import gymnasium
import pytest
import torch
from metarl.agents.fewshot import MetricConfig, ProtoNetTrainer
from metarl.agents.fewshot.metric import matching_log_probs, prototype_log_probs
from metarl.envs.glyphs import ImageClassification

import metarl
from metarl import registry
from metarl.agent_registry import agent_names, trainer_class
from metarl.fewshot import ImageClasses
from metarl.training import build_config, load_checkpoint, load_yaml, read_scalars

CONFIGS = pathlib.Path(__file__).resolve().parents[1] / "configs"
LEARNERS = ["maml", "fomaml", "reptile", "protonet", "matchingnet", "pretrain", "relationnet", "gnn", "metanet",
            "meta-sgd", "versa"]
GRADIENT = ["maml", "fomaml", "reptile", "pretrain", "meta-sgd"]
REGRESSION = [*GRADIENT, "versa"]
GLYPHS = {"env": "metarl/Glyphs-v0", "ways": 5, "shots": 1, "queries": 3, "eval_queries": 5, "channels": 8,
          "validation_episodes": 6}
SINUSOID = {"env": "metarl/Sinusoid-v0", "shots": 10, "queries": 10, "eval_shots": 5, "eval_queries": 50,
            "eval_steps": 5, "validation_episodes": 20}
PER_LEARNER = {  # (family, learner) -> settings of a run of a few seconds
    ("glyphs", "maml"): {"meta_batch": 4, "total_steps": 40, "eval_steps": 2},
    ("glyphs", "fomaml"): {"meta_batch": 4, "total_steps": 40, "eval_steps": 2},
    ("glyphs", "reptile"): {"meta_batch": 2, "total_steps": 20, "inner_steps": 3, "eval_steps": 5},
    ("glyphs", "protonet"): {"total_steps": 20},
    ("glyphs", "matchingnet"): {"total_steps": 20},
    ("glyphs", "pretrain"): {"total_steps": 20, "eval_steps": 10},
    ("glyphs", "relationnet"): {"total_steps": 100},
    ("glyphs", "gnn"): {"total_steps": 150, "lr": 0.003},
    ("glyphs", "metanet"): {"total_steps": 100},
    ("glyphs", "meta-sgd"): {"meta_batch": 4, "total_steps": 40, "eval_steps": 1},
    ("glyphs", "versa"): {"total_steps": 20},
    ("sinusoid", "maml"): {"meta_batch": 10, "total_steps": 3000, "inner_lr": 0.01},
    ("sinusoid", "fomaml"): {"meta_batch": 10, "total_steps": 3000, "inner_lr": 0.01},
    ("sinusoid", "reptile"): {"meta_batch": 5, "total_steps": 1000, "inner_lr": 0.02, "lr": 0.1, "eval_lr": 0.002},
    ("sinusoid", "pretrain"): {"meta_batch": 10, "total_steps": 3000, "finetune": "all", "eval_lr": 0.002},
    ("sinusoid", "meta-sgd"): {"meta_batch": 10, "total_steps": 3000, "inner_lr": 0.01, "eval_steps": 1},
    ("sinusoid", "versa"): {"meta_batch": 10, "total_steps": 3000},
}


def tiny(name, family, tmp_path, **overrides):
    cls = trainer_class(name)
    keys = {f.name for f in dataclasses.fields(cls.config_type)}
    base = {k: v for k, v in (GLYPHS if family == "glyphs" else SINUSOID).items() if k in keys}  # versa: no steps
    values = {**base, **PER_LEARNER[(family, name)], "device": "cpu", "logdir": str(tmp_path), "validate_every": 1000,
              "checkpoint_every": 1000, **overrides}
    return cls(build_config(cls.config_type, values))


# ---------------------------------------------------------------- learning
@pytest.mark.parametrize("name", LEARNERS)
def test_tiny_glyphs_run_beats_chance(name, tmp_path):
    trainer = tiny(name, "glyphs", tmp_path)
    trainer.fit(progress=False)
    assert trainer.global_step == PER_LEARNER[("glyphs", name)]["total_steps"]
    scores = trainer.evaluate(40, "test", seed=0)
    steps = 1 + PER_LEARNER[("glyphs", name)].get("eval_steps", 0) if name in GRADIENT else 1
    assert scores.values.shape == (40, steps)
    assert scores.means[-1] - scores.ci95[-1] > 1 / 5, scores.means


@pytest.mark.parametrize("name", REGRESSION)
def test_tiny_sinusoid_run_beats_the_zero_and_mean_predictors(name, tmp_path):
    trainer = tiny(name, "sinusoid", tmp_path)
    trainer.fit(progress=False)
    scores = trainer.evaluate(200, "test", seed=0)
    best_baseline = min(float(v.mean()) for v in scores.baselines.values())
    assert scores.means[-1] + scores.ci95[-1] < best_baseline, (scores.means, best_baseline)
    if name == "maml":
        assert scores.means[-1] < scores.means[0], "the gradient steps on the support set lower the error"


class Patterns(ImageClassification):
    """30 classes, each a uniform grey level with a little pixel noise: separable by mean brightness alone."""

    family = "Patterns"
    description = "grey levels with noise (test family)"

    def _data_key(self):
        return ("test-patterns",)

    def _load_data(self):
        levels = (torch.arange(30) * 8 + 8).view(30, 1, 1, 1)
        noise = torch.randint(-3, 4, (30, 10, 28, 28), generator=torch.Generator().manual_seed(0))
        splits = {"train": torch.arange(0, 30, 3), "validation": torch.arange(1, 30, 3), "test": torch.arange(2, 30, 3)}
        return ImageClasses((levels + noise).to(torch.uint8), [f"grey {i}" for i in range(30)], splits)


@pytest.fixture
def patterns():
    metarl.register("test/Patterns-v0", Patterns, kwargs={"distortion": 0.0})
    yield "test/Patterns-v0"
    registry._REGISTRY.pop("test/Patterns-v0", None)
    gymnasium.registry.pop("test/Patterns-v0", None)


def test_protonet_is_near_perfect_on_a_separable_family(patterns, tmp_path):
    trainer = ProtoNetTrainer(MetricConfig(env=patterns, channels=8, queries=4, total_steps=10, device="cpu",
                                           logdir=str(tmp_path)))
    trainer.fit(progress=False)
    assert trainer.evaluate(50, "test").means[0] >= 0.98


def test_metric_heads_pick_the_nearest_class():
    support = torch.tensor([[[0.0, 1.0], [0.0, 3.0], [4.0, 0.0]]])  # class 0 twice, class 1 once
    labels = torch.tensor([[0, 0, 1]])
    query = torch.tensor([[[0.0, 2.0], [3.0, 0.5]]])
    log_probs = prototype_log_probs(support, labels, query, 2)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(1, 2))
    assert log_probs.argmax(-1).tolist() == [[0, 1]]
    assert torch.allclose(log_probs[0, 0], torch.log_softmax(-torch.tensor([0.0, 20.0]), -1)), "distance to the mean"
    matching = matching_log_probs(support, labels, query, 2, scale=5.0)
    assert torch.allclose(matching.exp().sum(-1), torch.ones(1, 2)) and matching.argmax(-1).tolist() == [[0, 1]]


def test_gnn_classifies_each_query_in_its_own_graph(tmp_path):
    trainer = tiny("gnn", "glyphs", tmp_path, norm="layer")  # per-image normalisation: queries cannot mix through it
    ep = trainer.episodes()
    with torch.no_grad():
        whole = trainer.log_probs(ep, 5)
        ep.query_x, ep.query_y = ep.query_x[:, :4], ep.query_y[:, :4]
        assert torch.allclose(trainer.log_probs(ep, 5), whole[:, :4], atol=1e-5)


def test_meta_sgd_learns_its_step_sizes_and_keeps_them(tmp_path):
    trainer = tiny("meta-sgd", "glyphs", tmp_path, total_steps=8, run_name="run", checkpoint_every=1)
    sizes = list(trainer.step_sizes.parameters())
    grouped = [p for group in trainer.optimizer.param_groups for p in group["params"]]
    assert len(sizes) == len(list(trainer.net.parameters())) and all(any(p is q for q in grouped) for p in sizes)
    trainer.fit(progress=False)
    assert any(not torch.allclose(p, torch.full_like(p, trainer.config.inner_lr)) for p in sizes), "they are learned"
    resumed = type(trainer).resume(tmp_path / "run")
    assert all(torch.equal(a, b) for a, b in zip(sizes, resumed.step_sizes.parameters(), strict=True))


def test_versa_reports_calibration_beside_accuracy(tmp_path):
    trainer = tiny("versa", "glyphs", tmp_path)
    trainer.fit(progress=False)
    lines = trainer.evaluation_report(20)
    assert 0.0 <= trainer.last_calibration["ece"] <= 1.0
    assert any("expected calibration error" in line for line in lines)
    assert "validation/ece" in trainer.validate()


def test_expected_calibration_error_of_over_and_under_confidence():
    from metarl.agents.fewshot.uncertainty import expected_calibration_error

    right = torch.tensor([True] * 6 + [False] * 4)  # 60% right
    assert expected_calibration_error(torch.full((10,), 0.6), right) == pytest.approx(0.0, abs=1e-6)
    assert expected_calibration_error(torch.full((10,), 0.99), right) == pytest.approx(0.39)
    assert expected_calibration_error(torch.full((10,), 0.3), right) == pytest.approx(0.3)


# ---------------------------------------------------------------- logging, resume, recipes
@pytest.mark.parametrize("name, family", [("maml", "sinusoid"), ("protonet", "glyphs")])
def test_keep_best_keeps_the_state_of_the_best_validation_score(name, family, tmp_path):
    per_iteration = PER_LEARNER[(family, name)].get("meta_batch", 1)
    trainer = tiny(name, family, tmp_path, total_steps=6 * per_iteration, validate_every=1, keep_best=True,
                   run_name="run")
    trainer.fit(progress=False)
    metric = "mse" if family == "sinusoid" else "accuracy"
    values = [row[f"validation/{metric}"] for row in read_scalars(tmp_path / "run")]
    best_value = min(values) if metric == "mse" else max(values)
    best = type(trainer).resume(tmp_path / "run" / "best.pt")
    assert best.iteration == values.index(best_value) + 1 and best.best == best_value
    assert best.validate()[f"validation/{metric}"] == pytest.approx(best_value)
    assert load_checkpoint(tmp_path / "run")["progress"]["iteration"] == 6


def test_every_recipe_builds_its_config():
    agents = set()
    for path in sorted(CONFIGS.glob("*.yaml")):
        values = load_yaml(path)
        agent = values.pop("agent")
        build_config(trainer_class(agent).config_type, values)
        agents.add(agent)
    assert set(LEARNERS) <= agents <= set(agent_names())


# ---------------------------------------------------------------- command line
