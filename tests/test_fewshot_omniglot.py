"""The Omniglot loader on a tiny synthetic tree in the official layout, and its errors."""

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from matplotlib import image
from metarl.envs.glyphs import load_omniglot, register_omniglot

import metarl
from metarl import registry

TREE = {  # part -> alphabet -> characters, in the order the loader must list them
    "images_background": {"Alpha": ["character01", "character02", "character03"], "Beta": ["character01"]},
    "images_evaluation": {"Gamma": ["character01", "character02"], "Delta": ["character01"]},
}


def scan(character, drawer, size=35):
    """A white 'scan' with a dark stroke whose place identifies the character and the drawer."""
    pixels = np.ones((size, size))
    pixels[4 + 3 * character : 7 + 3 * character, 2 : 20 + drawer] = 0.0
    pixels[2:size - 2, 28:31] = 0.0  # off-centre, so rotations differ
    return pixels


def write_tree(root, tree=TREE, drawers=4):
    character = 0
    for part, alphabets in tree.items():
        for alphabet in sorted(alphabets):
            for name in alphabets[alphabet]:
                folder = root / part / alphabet / name
                folder.mkdir(parents=True)
                for drawer in range(drawers):
                    image.imsave(folder / f"{character:04d}_{drawer:02d}.png", scan(character, drawer), cmap="gray")
                character += 1
    return root


@pytest.fixture
def tree(tmp_path):
    return write_tree(tmp_path / "omniglot")


def test_layout_order_split_and_rotations(tree):
    data = load_omniglot(tree, train_classes=3, validation_classes=1, progress=False)
    assert data.images.shape == (7 * 4, 4, 28, 28) and data.images.dtype == torch.uint8
    assert data.names[:5] == ["Alpha/character01/rot0", "Alpha/character01/rot90", "Alpha/character01/rot180",
                              "Alpha/character01/rot270", "Alpha/character02/rot0"]
    assert data.names[16] == "Delta/character01/rot0", "background alphabets first, then evaluation, by name"
    assert [len(data.splits[s]) for s in ("train", "validation", "test")] == [12, 4, 12]
    assert data.splits["validation"].tolist() == [12, 13, 14, 15]
    assert torch.equal(data.images[1], torch.rot90(data.images[0], 1, dims=(1, 2)))
    assert data.images[0, :, 0, :].max() < 30 and data.images.max() > 200, "ink is bright, background dark"


def test_without_rotations_and_alphabets_at_the_root(tmp_path):
    root = write_tree(tmp_path / "flat", {".": {"Alpha": ["a", "b"], "Beta": ["a", "b", "c"]}})
    data = load_omniglot(root, train_classes=2, validation_classes=0, rotations=False, progress=False)
    assert data.names == ["Alpha/a", "Alpha/b", "Beta/a", "Beta/b", "Beta/c"]
    assert [len(data.splits[s]) for s in ("train", "validation", "test")] == [2, 0, 3]


def test_converted_set_is_cached(tree, monkeypatch):
    first = load_omniglot(tree, train_classes=3, validation_classes=1, progress=False)
    from metarl.envs.glyphs import omniglot

    monkeypatch.setattr(omniglot, "_read", lambda *a: pytest.fail("read again instead of using the cache"))
    again = load_omniglot(tree, train_classes=3, validation_classes=1, progress=False)
    assert torch.equal(first.images, again.images)


def _errors(tmp_path):
    cases = {}
    cases["missing"] = (tmp_path / "nowhere", ["nowhere", "is not a folder", "images_background/<alphabet>"])
    (tmp_path / "empty").mkdir()
    cases["empty"] = (tmp_path / "empty", ["no alphabet folders", "empty", "<character>/*.png"])
    (tmp_path / "bare" / "images_background" / "Alpha").mkdir(parents=True)
    cases["bare"] = (tmp_path / "bare", ["Alpha", "holds no character folders"])
    (tmp_path / "nopng" / "Alpha" / "c1").mkdir(parents=True)
    (tmp_path / "nopng" / "Alpha" / "c1" / "notes.txt").write_text("x")
    cases["nopng"] = (tmp_path / "nopng", ["c1", "holds no .png images"])
    uneven = write_tree(tmp_path / "uneven", {".": {"Alpha": ["a", "b"]}})
    (uneven / "Alpha" / "b" / "0001_00.png").unlink()
    cases["uneven"] = (uneven, ["same number of images", "has 3"])
    broken = write_tree(tmp_path / "broken", {".": {"Alpha": ["a", "b"]}})
    (broken / "Alpha" / "a" / "0000_01.png").write_bytes(b"not a png")
    cases["broken"] = (broken, ["cannot read image", "0000_01.png"])
    return cases


@pytest.mark.parametrize("case", ["missing", "empty", "bare", "nopng", "uneven", "broken"])
def test_malformed_folders_are_one_clear_error(tmp_path, case):
    root, words = _errors(tmp_path)[case]
    with pytest.raises(metarl.DataError) as info:
        load_omniglot(root, train_classes=1, validation_classes=0, progress=False)
    for w in words:
        assert w in str(info.value)


def test_split_larger_than_the_data_is_a_clear_error(tree):
    with pytest.raises(metarl.BadArgumentError, match="7 characters found"):
        load_omniglot(tree, progress=False)  # the default 1100 + 100 needs the full data set


def test_registered_omniglot_family(tree):
    env_id = "test/Omniglot-v0"
    try:
        register_omniglot(tree, env_id=env_id, train_classes=3, validation_classes=1)
        env = metarl.make(env_id, num_envs=4, seed=0, ways=3, instances=2)
        assert env.reset().shape == (4, 784 + 3)
        ep = env.sample_episodes(2, ways=4, shots=2, queries=2, split="test", generator=torch.Generator())
        assert ep.support_x.shape == (2, 8, 28, 28) and int(ep.query_y.max()) == 3
        check_env(gymnasium.make(env_id, ways=3, instances=2).unwrapped)
        with pytest.raises(metarl.DataError, match="images_background"):
            register_omniglot(tree / "missing", env_id="test/Nothing-v0")
    finally:
        registry._REGISTRY.pop(env_id, None)
        gymnasium.registry.pop(env_id, None)
