"""Glyphs: an Omniglot-like image set rendered from the fonts that ship with matplotlib; nothing to download.

A class is one character (Latin, Greek, Cyrillic, Armenian, Georgian, Hebrew, Arabic, Canadian
syllabics, Tifinagh, math operators, arrows, box drawing, Braille, ...); its instances are that
character in different font faces (DejaVu Sans / Serif / Mono with their bold and oblique variants,
STIX, Computer Modern), only faces whose character map holds it. Selection:

- letters, digits, punctuation and symbols (Unicode categories L, N, P, S) that have no Unicode
  decomposition (no accented copies of a base letter) and lie outside the private-use and pictograph
  planes, present in at least ``MIN_FACES`` faces;
- near-duplicates (homoglyphs such as Latin A, Greek Alpha and Cyrillic A, which share outlines) are
  dropped, keeping the first in the class order;
- the class order is a fixed hash of the code point; in each block of ten consecutive classes the
  first seven are "train", the eighth "validation" and the last two "test".

Each class keeps ``INSTANCES`` base renders (28 x 28, ink centred, rendered at 2x and averaged down);
faces are cycled and repeated faces get another size. Episodes and trials add random distortions on
the fly (:func:`metarl.fewshot.distort`). The set is rendered once and cached (see :func:`load_glyphs`).

Example:
    >>> data = load_glyphs()
    >>> data.images.shape[1:]
    torch.Size([20, 28, 28])
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pathlib
import unicodedata

import numpy as np
import torch
from tqdm import tqdm

from metarl.errors import BadArgumentError
from metarl.fewshot import ImageClasses, cache_dir, cached

RENDER_VERSION = 1
SIZE = 28
INSTANCES = 20
MIN_FACES = 4
_SUPERSAMPLE = 2
_EM = 44  # em size in pixels on the 2x canvas (capital letters are about 32 of 56 pixels tall)
_MAX_EXTENT = 52  # larger glyphs are shrunk to fit this many pixels of the 2x canvas
_DUPLICATE_DISTANCE = 0.015  # RMS difference of primary renders below which two classes count as one
_MIN_PEAK = 0.5  # renders whose darkest pixel is fainter than this (hairlines, specks) are not used
_SIZE_JITTER = 0.2  # repeated faces are rendered at 1 +- this relative size
_EXCLUDED_RANGES = ((0xE000, 0xF8FF), (0x1F000, 0x10FFFF))  # private use; pictographs, emoji, cards
_SKIPPED_FACES = ("LastResort",)  # a fallback font drawing placeholder boxes
_GREEK_ALIASES = {0x2206: 0x0394, 0x2126: 0x03A9}  # TeX names Delta/Omega resolve to increment/ohm
CLASSES_ENV = "METARL_GLYPHS_CLASSES"
"""Environment variable: render only the first n classes (a quick, small set for tests and trials)."""


def font_directory() -> pathlib.Path:
    """matplotlib's bundled TrueType fonts."""
    import matplotlib

    return pathlib.Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@functools.lru_cache(maxsize=1)
def font_faces() -> tuple[tuple[str, dict[int, int]], ...]:
    """(file name, {code point: glyph index}) of every usable bundled face, sorted by file name.

    Computer Modern faces (``cm*``) use TeX encodings, so their code points come from glyph names.
    """
    from fontTools import agl
    from matplotlib import ft2font

    faces = []
    for path in sorted(font_directory().glob("*.ttf")):
        if path.name.startswith(_SKIPPED_FACES):
            continue
        font = ft2font.FT2Font(str(path))
        if path.name.startswith("cm"):
            glyphs = {}
            for index in range(font.num_glyphs):
                text = agl.toUnicode(font.get_glyph_name(index))
                if len(text) == 1:
                    glyphs[_GREEK_ALIASES.get(ord(text), ord(text))] = index
        else:
            glyphs = dict(font.get_charmap())
        faces.append((path.name, glyphs))
    return tuple(faces)


def _order(codepoint: int) -> int:
    """A fixed pseudo-random rank of a code point (the class order)."""
    return int.from_bytes(hashlib.blake2b(codepoint.to_bytes(4, "little"), digest_size=8).digest(), "little")


def candidates() -> list[tuple[int, list[int]]]:
    """(code point, indices of the faces holding it) of every eligible character, in class order."""
    coverage: dict[int, list[int]] = {}
    for face, (_, glyphs) in enumerate(font_faces()):
        for codepoint in glyphs:
            coverage.setdefault(codepoint, []).append(face)
    out = []
    for codepoint, faces in coverage.items():
        char = chr(codepoint)
        if (len(faces) < MIN_FACES or unicodedata.category(char)[0] not in "LNPS" or unicodedata.decomposition(char)
                or any(lo <= codepoint <= hi for lo, hi in _EXCLUDED_RANGES)):
            continue
        out.append((codepoint, faces))
    return sorted(out, key=lambda item: (_order(item[0]), item[0]))


class _Renderer:
    """Draws one glyph of one face as a SIZE x SIZE float image in [0, 1] (None when it has no clear ink).

    Glyphs keep their place in the character cell, so position tells classes apart (a low line from a
    hyphen, one Braille dot from another): the em square is centred on the canvas with the baseline
    at 80% of its height, and the pen starts where the advance width is centred. Glyphs too large for
    the canvas are rendered smaller; glyphs that would stick out are moved in.
    """

    def __init__(self) -> None:
        from matplotlib import ft2font

        self._flags = ft2font.LoadFlags.NO_HINTING
        self._fonts = [ft2font.FT2Font(str(font_directory() / name)) for name, _ in font_faces()]
        self._glyphs = [glyphs for _, glyphs in font_faces()]

    def _draw(self, face: int, glyph: int, em: float) -> tuple[np.ndarray, float, float]:
        """(ink bitmap cropped to its bounding box, its top and left offsets from the canvas origin)."""
        font = self._fonts[face]
        font.set_size(em, 72)
        loaded = font.load_glyph(glyph, self._flags)
        bitmap = np.zeros((loaded.height // 64 + 4, loaded.width // 64 + 4), np.uint8)
        font.draw_glyph_to_bitmap(bitmap, 1, 1, loaded)
        rows, cols = np.flatnonzero(bitmap.any(1)), np.flatnonzero(bitmap.any(0))
        if rows.size == 0:
            return bitmap[:0, :0], 0.0, 0.0
        ink = bitmap[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        full = SIZE * _SUPERSAMPLE
        baseline = (full - em) / 2 + 0.8 * em
        x_min, _, _, y_max = (v / 64 for v in loaded.bbox)
        advance = loaded.horiAdvance / 64
        pen = (full - advance) / 2 if advance > 0 else (full - ink.shape[1]) / 2 - x_min
        return ink, baseline - y_max, pen + x_min

    def __call__(self, codepoint: int, face: int, size: float = 1.0) -> np.ndarray | None:
        glyph = self._glyphs[face][codepoint]
        em = _EM * size
        ink, top, left = self._draw(face, glyph, em)
        for _ in range(3):
            if max(ink.shape) <= _MAX_EXTENT:
                break
            em *= _MAX_EXTENT / max(ink.shape)
            ink, top, left = self._draw(face, glyph, em)
        if ink.size == 0 or max(ink.shape) > _MAX_EXTENT:
            return None
        full = SIZE * _SUPERSAMPLE
        top = int(np.clip(round(top), 1, full - 1 - ink.shape[0]))
        left = int(np.clip(round(left), 1, full - 1 - ink.shape[1]))
        canvas = np.zeros((full, full), np.float32)
        canvas[top : top + ink.shape[0], left : left + ink.shape[1]] = ink
        image = canvas.reshape(SIZE, _SUPERSAMPLE, SIZE, _SUPERSAMPLE).mean((1, 3)) / 255.0
        return image if image.max() >= _MIN_PEAK else None


def _render_class(render: _Renderer, codepoint: int, faces: list[int]) -> np.ndarray | None:
    """INSTANCES renders of one character; instance 0 is in its primary face (see :func:`_primary_face`)."""
    rng = np.random.default_rng(codepoint)
    drawn = [(face, image) for face in faces if (image := render(codepoint, face)) is not None]
    if len(drawn) < MIN_FACES:
        return None
    first = [face for face, _ in drawn].index(_primary_face([face for face, _ in drawn]))
    order = [drawn[first], *(drawn[i] for i in rng.permutation(len(drawn)) if i != first)]
    images = [image for _, image in order[:INSTANCES]]
    for i in range(len(images), INSTANCES):
        face, fallback = order[i % len(order)]
        image = render(codepoint, face, 1.0 + _SIZE_JITTER * (2.0 * rng.random() - 1.0))
        images.append(fallback if image is None else image)
    return np.stack(images)


def _primary_face(faces: list[int]) -> int:
    """DejaVu Sans when it holds the character, else the first face that does."""
    names = [font_faces()[f][0] for f in faces]
    return faces[names.index("DejaVuSans.ttf")] if "DejaVuSans.ttf" in names else faces[0]


def _first_distinct(primary: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Keep mask: a class is dropped when its primary render is within ``_DUPLICATE_DISTANCE`` (RMS) of an
    earlier kept class's in the same face. Depends only on earlier classes, so a prefix keeps a prefix."""
    flat = primary.flatten(1).double()
    sq = flat.square().sum(1)
    close = ((sq[:, None] + sq[None] - 2 * flat @ flat.T).clamp_(min=0) / flat.shape[1]).sqrt_() < _DUPLICATE_DISTANCE
    close &= faces[:, None] == faces[None]
    close = close.tril_(-1).numpy()
    keep = np.ones(len(flat), bool)
    for i in range(len(flat)):
        keep[i] = not (close[i, :i] & keep[:i]).any()
    return torch.from_numpy(keep)


def render_glyphs(limit: int | None = None, progress: bool = True) -> ImageClasses:
    """Render the Glyphs set: every eligible class, or the first ``limit`` classes, without any cache.

    Example:
        >>> render_glyphs(limit=20).images.shape
        torch.Size([20, 20, 28, 28])
    """
    render = _Renderer()
    pool = candidates()
    rendered: list[tuple[int, int, np.ndarray]] = []  # (code point, primary face, renders)
    keep = torch.zeros(0, dtype=torch.bool)
    bar = tqdm(total=len(pool), desc="rendering Glyphs", unit="class", delay=2.0, disable=not progress)
    done = 0
    while done < len(pool) and (limit is None or int(keep.sum()) < limit):
        chunk = pool[done : done + (len(pool) if limit is None else max(16, 2 * (limit - int(keep.sum()))))]
        for codepoint, faces in chunk:
            images = _render_class(render, codepoint, faces)
            if images is not None:
                rendered.append((codepoint, _primary_face(faces), images))
            bar.update(1)
        done += len(chunk)
        if rendered:
            primary = torch.from_numpy(np.stack([images[0] for _, _, images in rendered]))
            keep = _first_distinct(primary, torch.tensor([face for _, face, _ in rendered]))
    bar.close()
    kept = [item for item, k in zip(rendered, keep.tolist(), strict=True) if k][:limit]
    images = torch.from_numpy(np.round(np.stack([im for _, _, im in kept]) * 255.0).astype(np.uint8))
    names = [f"U+{cp:04X} {unicodedata.name(chr(cp), '?')}" for cp, _, _ in kept]
    position = torch.arange(len(kept)) % 10
    splits = {"train": (position < 7).nonzero().squeeze(1), "validation": (position == 7).nonzero().squeeze(1),
              "test": (position >= 8).nonzero().squeeze(1)}
    return ImageClasses(images, names, splits)


def class_limit() -> int | None:
    """The class count set by ``METARL_GLYPHS_CLASSES`` (None: all classes)."""
    text = os.environ.get(CLASSES_ENV, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 10:
        raise BadArgumentError(f"{CLASSES_ENV} must be an integer >= 10 (or unset for all classes), got {text!r}")
    return int(text)


def version_key(limit: int | None = None) -> str:
    """Hash of everything the renders depend on: rendering settings, the font files, the class limit."""
    import matplotlib

    fonts = [(p.name, p.stat().st_size) for p in sorted(font_directory().glob("*.ttf"))]
    settings = {"version": RENDER_VERSION, "size": SIZE, "instances": INSTANCES, "min_faces": MIN_FACES,
                "supersample": _SUPERSAMPLE, "em": _EM, "max_extent": _MAX_EXTENT, "dup": _DUPLICATE_DISTANCE,
                "size_jitter": _SIZE_JITTER, "min_peak": _MIN_PEAK, "excluded": _EXCLUDED_RANGES, "fonts": fonts,
                "limit": limit, "matplotlib": matplotlib.__version__}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def cache_path(limit: int | None = None) -> pathlib.Path:
    """File of the cached renders: ``<cache dir>/glyphs-<version key>.pt``."""
    return cache_dir() / f"glyphs-{version_key(limit)}.pt"


def load_glyphs(limit: int | None = None, progress: bool = True) -> ImageClasses:
    """The Glyphs set from the cache, rendering and caching it first when needed.

    ``limit`` (default: ``$METARL_GLYPHS_CLASSES``, else all) keeps only the first classes. The cache
    lives in :func:`metarl.fewshot.cache_dir`; it is written atomically and a corrupt or stale file is
    re-rendered.

    Example:
        >>> data = load_glyphs(limit=30)
        >>> len(data.splits["train"]), len(data.splits["validation"]), len(data.splits["test"])
        (21, 3, 6)
    """
    limit = class_limit() if limit is None else limit
    return cached(cache_path(limit), version_key(limit), lambda: render_glyphs(limit, progress))
