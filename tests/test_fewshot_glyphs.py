"""The Glyphs image set: font coverage, renders, the deterministic split, and the on-disk cache."""

import os
import subprocess
import sys
import unicodedata

import pytest
import torch
from metarl.envs.glyphs import render

import metarl
from metarl import fewshot


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder, and a count of how often the set is rendered."""
    monkeypatch.setenv("METARL_CACHE_DIR", str(tmp_path))
    calls = []
    original = render.render_glyphs

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(render, "render_glyphs", counted)
    return tmp_path, calls


def test_fonts_offer_well_over_a_thousand_classes_from_many_scripts():
    pool = render.candidates()
    assert len(pool) >= 1500, "the full set (after removing look-alikes) must keep >= 1000 classes"
    assert all(len(faces) >= render.MIN_FACES for _, faces in pool)
    scripts = {unicodedata.name(chr(cp)).split()[0] for cp, _ in pool}
    for script in ("LATIN", "GREEK", "CYRILLIC", "ARMENIAN", "GEORGIAN", "HEBREW", "ARABIC", "BOX", "BRAILLE"):
        assert script in scripts
    names = [name for name, _ in render.font_faces()]
    assert {"DejaVuSans.ttf", "DejaVuSerif-Bold.ttf", "STIXGeneral.ttf", "cmr10.ttf"} <= set(names)
    faces = dict(render.font_faces())
    assert ord("A") in faces["cmr10.ttf"] and 0x0394 in faces["cmr10.ttf"], "TeX glyph names map to Unicode"


def test_renders_are_28x28_uint8_with_ink_and_distinct_instances():
    data = render.render_glyphs(limit=15, progress=False)
    assert data.images.shape == (15, render.INSTANCES, 28, 28) and data.images.dtype == torch.uint8
    assert data.images.flatten(2).amax(2).gt(100).all(), "every instance shows its character"
    distinct = [len({bytes(im.numpy()) for im in data.images[c]}) for c in range(15)]
    assert min(distinct) >= render.MIN_FACES
    assert all(name.startswith("U+") for name in data.names)


def test_split_is_deterministic_and_a_prefix_of_the_full_set():
    small, larger = render.render_glyphs(limit=12, progress=False), render.render_glyphs(limit=30, progress=False)
    assert torch.equal(small.images, larger.images[:12]) and small.names == larger.names[:12]
    assert [len(larger.splits[s]) for s in ("train", "validation", "test")] == [21, 3, 6]
    for split in ("train", "validation", "test"):
        assert set(small.splits[split].tolist()) == {c for c in larger.splits[split].tolist() if c < 12}


def test_cache_is_written_once_and_reused(cache):
    folder, calls = cache
    first = render.load_glyphs(limit=12, progress=False)
    path = render.cache_path(12)
    assert path.parent == folder and path.name.startswith("glyphs-") and path.exists()
    mtime = path.stat().st_mtime_ns
    second = render.load_glyphs(limit=12, progress=False)
    assert len(calls) == 1 and path.stat().st_mtime_ns == mtime
    assert torch.equal(first.images, second.images) and first.names == second.names
    assert [p.name for p in folder.iterdir()] == [path.name], "no temporary files are left behind"


def test_version_key_follows_rendering_parameters(monkeypatch):
    key = render.version_key()
    assert render.version_key(12) != key
    monkeypatch.setattr(render, "_EM", render._EM + 1)
    assert render.version_key() != key


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "tampered", "stale"])
def test_corrupt_or_stale_cache_is_rendered_again(cache, damage):
    folder, calls = cache
    good = render.load_glyphs(limit=12, progress=False)
    path = render.cache_path(12)
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(os.urandom(4096))
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        payload = torch.load(path, weights_only=True)
        if damage == "tampered":
            payload["images"][0, 0, 14, 14] ^= 0xFF
        else:
            payload["key"] = "an-older-renderer"
        torch.save(payload, path)
    with pytest.warns(UserWarning, match="ignoring the data cache"):
        again = render.load_glyphs(limit=12, progress=False)
    assert len(calls) == 2 and torch.equal(again.images, good.images)
    assert fewshot.read_cache(path, render.version_key(12)) is not None, "the cache file is repaired"


def test_interrupted_write_leaves_no_cache_file(cache, monkeypatch):
    folder, _ = cache
    data = render.render_glyphs(limit=10, progress=False)

    def failing_save(obj, f):
        f.write(b"PK\x03\x04partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(KeyboardInterrupt):
        fewshot.write_cache(folder / "glyphs-x.pt", "x", data)
    assert list(folder.iterdir()) == []


def test_cache_folder_choice(monkeypatch, tmp_path):
    monkeypatch.setenv("METARL_CACHE_DIR", str(tmp_path / "mine"))
    assert fewshot.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("METARL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert fewshot.cache_dir() == tmp_path / "xdg" / "metarl"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert fewshot.cache_dir() == tmp_path / "home" / ".cache" / "metarl"


@pytest.mark.parametrize("value", ["abc", "3", "-5"])
def test_bad_class_limit_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv(render.CLASSES_ENV, value)
    with pytest.raises(metarl.BadArgumentError, match=render.CLASSES_ENV):
        render.load_glyphs()


def test_the_family_lives_whole_in_envs_glyphs():
    """The id resolves to classes of metarl.envs.glyphs; metarl/ keeps no module of the family (fresh interpreter)."""
    code = """
import importlib.util, metarl
env = metarl.make("metarl/Glyphs-v0")
print(type(env).__module__, type(env).__mro__[1].__module__)
old = ("metarl.glyphs", "metarl.classification", "metarl.omniglot", "metarl.backbones")
print(*[name for name in old if importlib.util.find_spec(name)] or ["none"])
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["metarl.envs.glyphs.family metarl.envs.glyphs.classification", "none"]
