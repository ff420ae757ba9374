"""The episodes view: shapes, dtypes, label ranges, determinism, split separation, clear errors."""

import math

import pytest
import torch
from conftest import DEVICES

import metarl
from metarl.fewshot import DISTORTION_LANES, Episodes, distort

CLASSIFICATION = [  # (split, ways, shots, queries); the test cache has 42 / 6 / 12 classes
    ("train", 5, 1, 15),
    ("train", 20, 5, 5),
    ("validation", 6, 2, 3),
    ("test", 12, 3, 0),
]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("split, ways, shots, queries", CLASSIFICATION)
def test_classification_shapes_dtypes_labels(split, ways, shots, queries):
    env = metarl.make("metarl/Glyphs-v0")
    ep = env.sample_episodes(4, ways, shots, queries, split=split, generator=gen())
    assert isinstance(ep, Episodes) and ep.batch_size == 4
    assert ep.support_x.shape == (4, ways * shots, 28, 28) and ep.query_x.shape == (4, ways * queries, 28, 28)
    assert ep.support_y.shape == (4, ways * shots) and ep.query_y.shape == (4, ways * queries)
    assert ep.support_x.dtype == ep.query_x.dtype == torch.float32
    assert ep.support_y.dtype == ep.query_y.dtype == torch.int64
    assert float(ep.support_x.min()) >= 0.0 and float(ep.support_x.max()) <= 1.0
    expected = torch.arange(ways).repeat_interleave(shots)
    assert torch.equal(ep.support_y, expected.expand(4, -1))
    assert torch.equal(ep.query_y, torch.arange(ways).repeat_interleave(queries).expand(4, -1))


@pytest.mark.parametrize("shots, queries", [(1, 1), (10, 5), (5, 0)])
def test_regression_shapes_and_values(shots, queries):
    env = metarl.make("metarl/Sinusoid-v0")
    ep = env.sample_episodes(6, shots=shots, queries=queries, split="test", generator=gen(3))
    assert ep.support_x.shape == ep.support_y.shape == (6, shots, 1)
    assert ep.query_x.shape == ep.query_y.shape == (6, queries, 1)
    assert ep.support_x.abs().max() <= 5.0 and ep.support_y.abs().max() <= 5.0
    tasks = env.sample_tasks(6, gen(3), split="test")  # same keys: the same functions
    x = torch.cat([ep.support_x, ep.query_x], 1)[..., 0]
    y = torch.cat([ep.support_y, ep.query_y], 1)[..., 0]
    assert torch.allclose(y, tasks.amplitude[:, None] * torch.sin(x - tasks.phase[:, None]), atol=1e-5)
    assert torch.equal(ep.support_x[..., 0], tasks.inputs[:, :shots])


def test_sinusoid_task_distribution():
    tasks = metarl.make("metarl/Sinusoid-v0").sample_tasks(20000, gen(1))
    assert 0.1 <= float(tasks.amplitude.min()) and float(tasks.amplitude.max()) <= 5.0
    assert 0.0 <= float(tasks.phase.min()) and float(tasks.phase.max()) <= math.pi
    assert abs(float(tasks.amplitude.mean()) - 2.55) < 0.03 and abs(float(tasks.phase.mean()) - math.pi / 2) < 0.03
    assert abs(float(tasks.inputs.mean())) < 0.05 and float(tasks.inputs.abs().max()) <= 5.0


@pytest.mark.parametrize("env_id, kwargs", [("metarl/Glyphs-v0", {"ways": 5, "shots": 2, "queries": 3}),
                                            ("metarl/Sinusoid-v0", {"shots": 5, "queries": 5})])
def test_deterministic_under_seeded_generator(env_id, kwargs):
    env = metarl.make(env_id)
    a, b = (env.sample_episodes(3, **kwargs, generator=gen(7)) for _ in range(2))
    c = env.sample_episodes(3, **kwargs, generator=gen(8))
    for name in ("support_x", "support_y", "query_x", "query_y"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    assert not torch.equal(a.support_x, c.support_x)
    other = metarl.make(env_id, seed=123).sample_episodes(3, **kwargs, generator=gen(7))
    assert torch.equal(a.query_x, other.query_x), "episodes depend on the generator only"


def _class_of(images, data):
    """Base class of each undistorted image (exact pixel match), (n,) int64."""
    base = data.images.float().div(255.0).flatten(2)  # (C, M, 784)
    match = (images.flatten(1)[:, None, None, :] == base[None]).all(-1)  # (n, C, M)
    assert match.flatten(1).any(1).all(), "every image is one of the base renders"
    return match.any(2).float().argmax(1)


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_episodes_use_only_their_split_classes(split):
    env = metarl.make("metarl/Glyphs-v0", distortion=0.0)
    data = env.data
    ep = env.sample_episodes(3, ways=5, shots=2, queries=2, split=split, generator=gen(1))
    for e in range(3):
        support = _class_of(ep.support_x[e], data)
        query = _class_of(ep.query_x[e], data)
        assert set(support.tolist()) <= set(data.splits[split].tolist())
        for label in range(5):  # one class per label, the same in support and query
            classes = set(support[ep.support_y[e] == label].tolist()) | set(query[ep.query_y[e] == label].tolist())
            assert len(classes) == 1
        assert len(set(support.tolist())) == 5


@pytest.mark.parametrize("split", ["train", "test"])
def test_labelled_images_carry_their_class_within_the_split(split):
    env = metarl.make("metarl/Glyphs-v0", distortion=0.0)
    data, pool = env.data, env.data.splits[split]
    x, y = env.sample_images(200, split=split, generator=gen(2))
    assert x.shape == (200, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    renders = data.images[pool[y]].float().div(255.0).flatten(2)  # (200, M, 784): the labelled class's base renders
    assert (x.flatten(1)[:, None] == renders).all(-1).any(-1).all(), "label i is the image's class, by split position"
    assert y.unique().numel() >= len(pool) // 2, "classes are drawn across the split"
    again, _ = env.sample_images(200, split=split, generator=gen(2))
    distorted, _ = metarl.make("metarl/Glyphs-v0").sample_images(200, split=split, generator=gen(2))
    assert torch.equal(x, again) and not torch.equal(x, distorted)


def test_class_splits_disjoint_and_complete():
    data = metarl.make("metarl/Glyphs-v0").data
    sets = {s: set(v.tolist()) for s, v in data.splits.items()}
    assert not (sets["train"] & sets["validation"] or sets["train"] & sets["test"] or sets["validation"] & sets["test"])
    assert set().union(*sets.values()) == set(range(data.num_classes))
    assert [len(sets[s]) for s in ("train", "validation", "test")] == [42, 6, 12]


def test_regression_splits_are_separate_streams():
    env = metarl.make("metarl/Sinusoid-v0")
    train = env.sample_episodes(200, shots=2, queries=0, split="train", generator=gen(0)).support_x
    test = env.sample_episodes(200, shots=2, queries=0, split="test", generator=gen(0)).support_x
    assert not (train[:, None] == test[None]).all(-1).all(-1).any()


def test_distort_identity_range_and_batch_independence():
    x = torch.rand(6, 28, 28, generator=gen(2))
    u = torch.rand(6, DISTORTION_LANES, generator=gen(3))
    assert torch.equal(distort(x, u, 0.0), x)
    y = distort(x, u, 2.0)
    assert y.shape == x.shape and float(y.min()) >= 0.0 and float(y.max()) <= 1.0 and not torch.equal(y, x)
    assert torch.equal(distort(x[2:3], u[2:3], 2.0), y[2:3])
    centre = torch.full((1, DISTORTION_LANES), 0.5)  # every parameter at the middle of its range: no change
    assert torch.allclose(distort(x[:1], centre, 1.0), x[:1], atol=1e-5)


@pytest.mark.parametrize(
    "env_id, kwargs, words",
    [
        ("metarl/Glyphs-v0", {"ways": 5, "shots": 10, "queries": 11}, ["shots + queries = 21", "20 images"]),
        ("metarl/Glyphs-v0", {"ways": 7, "split": "validation"}, ["ways=7", "6 classes", "'validation'"]),
        ("metarl/Glyphs-v0", {"ways": 5, "shots": 0}, ["'shots'", ">= 1"]),
        ("metarl/Glyphs-v0", {"ways": 5, "split": "valid"}, ["split must be one of"]),
        ("metarl/Sinusoid-v0", {"ways": 2}, ["ways=1"]),
        ("metarl/Sinusoid-v0", {"queries": -1}, ["'queries'"]),
    ],
)
def test_bad_episode_requests(env_id, kwargs, words):
    with pytest.raises(metarl.BadArgumentError) as info:
        metarl.make(env_id).sample_episodes(2, **kwargs)
    for w in [env_id, *words]:
        assert w in str(info.value)


@pytest.mark.skipif("cuda" not in DEVICES, reason="compares CPU with CUDA")
@pytest.mark.parametrize("env_id", ["metarl/Glyphs-v0", "metarl/Sinusoid-v0"])
def test_cuda_episodes_match_cpu(env_id):
    env = metarl.make(env_id)
    kwargs = {"ways": 5} if env_id == "metarl/Glyphs-v0" else {}
    cpu = env.sample_episodes(4, shots=2, queries=3, generator=gen(5), **kwargs)
    cuda = env.sample_episodes(4, shots=2, queries=3, generator=gen(5), device="cuda", **kwargs)
    assert cuda.support_x.device.type == "cuda"
    assert torch.equal(cpu.support_y, cuda.support_y.cpu())
    assert torch.allclose(cpu.query_x, cuda.query_x.cpu(), atol=1e-4)
