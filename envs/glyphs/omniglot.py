"""Omniglot (Lake et al. 2015) from a copy on disk: a loader and a family for the ids you register.

Expected layout (as the official archives unpack)::

    root/images_background/<alphabet>/<character>/*.png   (30 alphabets, 964 characters)
    root/images_evaluation/<alphabet>/<character>/*.png   (20 alphabets, 659 characters)

A root holding alphabet folders directly (``root/<alphabet>/<character>/*.png``) is accepted too.
Characters are ordered background first, then evaluation, alphabets and characters by name. Split
(the customary 1200 / 423, Vinyals et al. 2016): the first ``train_classes + validation_classes``
= 1200 characters are for meta-training, of which the last ``validation_classes`` = 100 are held out
as "validation"; the remaining 423 are "test". With ``rotations`` each character also appears
rotated by 90, 180 and 270 degrees as three more classes of the same split (6492 classes in all).
Images are inverted (ink = 1) and resized to 28 x 28 by area averaging. The converted set is cached
(see :func:`metarl.fewshot.cache_dir`), keyed by the files' names, sizes and times.

The examples read ``omniglot_root``: the folder the archives were unpacked into, such as ``"~/data/omniglot"``.
Their outputs are those of a 7-character tree in the same layout (4 drawers each), split 3 / 1 / 3.

Example:
    >>> import metarl
    >>> spec = register_omniglot(omniglot_root, train_classes=3, validation_classes=1)  # defaults: 1100 / 100
    >>> env = metarl.make("metarl/Omniglot-v0", num_envs=32, ways=3, instances=2)
    >>> env.reset().shape  # a 28 x 28 image and the previous label, one-hot
    torch.Size([32, 787])
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from collections.abc import Hashable
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from metarl.envs.glyphs.classification import ImageClassification

from metarl.errors import BadArgumentError, DataError
from metarl.fewshot import ImageClasses, cache_dir, cached
from metarl.registry import EnvSpec, register

LAYOUT = ("<root>/images_background/<alphabet>/<character>/*.png and <root>/images_evaluation/..., "
          "or <root>/<alphabet>/<character>/*.png")
_FORMAT = 1


def character_folders(root: str | pathlib.Path) -> list[pathlib.Path]:
    """Every character folder under ``root`` in the standard order; a :class:`DataError` if the layout is wrong.

    Example:
        >>> len(character_folders(omniglot_root))  # 1623 in the official archives
        7
    """
    root = pathlib.Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"Omniglot root {str(root)!r} is not a folder; expected {LAYOUT}")
    parts = [root / name for name in ("images_background", "images_evaluation") if (root / name).is_dir()]
    alphabets = [a for part in parts or [root] for a in sorted(part.iterdir()) if a.is_dir()]
    if not alphabets:
        raise DataError(f"no alphabet folders in {str(root)!r}; expected {LAYOUT}")
    folders = []
    for alphabet in alphabets:
        characters = sorted(c for c in alphabet.iterdir() if c.is_dir())
        if not characters:
            raise DataError(f"alphabet folder {str(alphabet)!r} holds no character folders; expected {LAYOUT}")
        folders.extend(characters)
    return folders


def _images(folder: pathlib.Path) -> list[pathlib.Path]:
    files = sorted(folder.glob("*.png"))
    if not files:
        raise DataError(f"character folder {str(folder)!r} holds no .png images; expected {LAYOUT}")
    return files


def _read(path: pathlib.Path, size: int) -> torch.Tensor:
    """One scan as ink in [0, 1] (strokes bright), ``size`` x ``size``."""
    from matplotlib import image

    try:
        pixels = np.asarray(image.imread(path), dtype=np.float32)
    except Exception as exc:
        raise DataError(f"cannot read image {str(path)!r}: {exc}") from exc
    if pixels.ndim == 3:
        pixels = pixels[..., :3].mean(-1)
    if pixels.size and pixels.max() > 1.0:
        pixels = pixels / 255.0
    ink = torch.from_numpy(1.0 - pixels)[None, None]
    return F.interpolate(ink, size=(size, size), mode="area")[0, 0]


def load_omniglot(
    root: str | pathlib.Path,
    train_classes: int = 1100,
    validation_classes: int = 100,
    rotations: bool = True,
    size: int = 28,
    progress: bool = True,
) -> ImageClasses:
    """Omniglot from ``root`` as :class:`~metarl.fewshot.ImageClasses` (see the module text for layout and split).

    Every character folder must hold the same number of images (20 in the official archives).

    Example:
        >>> data = load_omniglot(omniglot_root, train_classes=3, validation_classes=1, progress=False)
        >>> data.images.shape, len(data.splits["train"]), len(data.splits["test"])  # full set: 6492 x 20, 4400, 1692
        (torch.Size([28, 4, 28, 28]), 12, 12)
    """
    folders = character_folders(root)
    files = [_images(folder) for folder in folders]
    counts = {len(f) for f in files}
    if len(counts) > 1:
        odd = next(folder for folder, f in zip(folders, files, strict=True) if len(f) != len(files[0]))
        raise DataError(f"character folders must hold the same number of images; {str(folders[0])!r} has "
                        f"{len(files[0])}, {str(odd)!r} has {len(_images(odd))}")
    if train_classes < 1 or validation_classes < 0 or train_classes + validation_classes >= len(folders):
        raise BadArgumentError(
            f"Omniglot split: need train_classes >= 1, validation_classes >= 0 and their sum below the "
            f"{len(folders)} characters found in {str(root)!r}; got {train_classes} and {validation_classes}"
        )
    base = pathlib.Path(root).expanduser()
    stats = [(str(p.relative_to(base)), p.stat().st_size, p.stat().st_mtime_ns) for f in files for p in f]
    settings = [_FORMAT, train_classes, validation_classes, rotations, size, str(base.resolve()), stats]
    key = hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:16]

    def build() -> ImageClasses:
        from tqdm import tqdm

        scans = torch.stack([torch.stack([_read(p, size) for p in f])
                             for f in tqdm(files, desc="reading Omniglot", unit="character", delay=2.0,
                                           disable=not progress)])
        names = [f"{folder.parent.name}/{folder.name}" for folder in folders]
        turns = 4 if rotations else 1
        if rotations:
            scans = torch.stack([torch.rot90(scans, k, dims=(2, 3)) for k in range(4)], 1).flatten(0, 1)
            names = [f"{name}/rot{90 * k}" for name in names for k in range(4)]
        images = scans.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)
        base_class = torch.arange(len(folders)).repeat_interleave(turns)
        first_test = train_classes + validation_classes
        splits = {"train": (base_class < train_classes).nonzero().squeeze(1),
                  "validation": ((base_class >= train_classes) & (base_class < first_test)).nonzero().squeeze(1),
                  "test": (base_class >= first_test).nonzero().squeeze(1)}
        return ImageClasses(images, names, splits)

    return cached(cache_dir() / f"omniglot-{key}.pt", key, build)


OMNIGLOT_COLUMNS = ((5, 1), (5, 5), (20, 1), (20, 5))
OMNIGLOT_ACCURACY: dict[str, tuple[float | None, float | None, float | None, float | None]] = {
    "maml": (98.7, 99.9, 95.8, 98.9),
    "fomaml": (98.3, 99.2, 89.4, 97.9),
    "protonet": (98.8, 99.7, 96.0, 98.9),
    "matchingnet": (98.1, 98.9, 93.8, 98.5),
    "reptile": (95.39, 98.90, 88.14, 96.65),
    "relationnet": (99.6, 99.8, 97.6, 99.1),
    "gnn": (99.2, 99.7, 97.4, 99.0),
    "metanet": (98.95, None, 97.00, None),
    "meta-sgd": (99.53, 99.93, 95.93, 98.97),
    "versa": (99.70, 99.75, 97.66, 98.77),
}
"""Omniglot test accuracy (%) for (ways, shots) in :data:`OMNIGLOT_COLUMNS`, by learner (None: not reported): MAML
Table 1; Snell et al. 2017, Table 1; Vinyals et al. 2016; Nichol et al. 2018, Table 1, non-transductive; Sung et al.
2018 (Relation Networks), Table 1; Garcia & Bruna 2018 (GNN), Table 1; Munkhdalai & Yu 2017 (MetaNet, one-shot
only); Li et al. 2017 (Meta-SGD); Gordon et al. 2019 (VERSA)."""


class Omniglot(ImageClassification):
    """Omniglot as a family (episodes view and online view); bind a copy on disk with :func:`register_omniglot`."""

    family = "Omniglot"
    description = "Omniglot characters (from disk); N-way online classification, label of the last image shown"
    source = "Lake et al. 2015; online setting of Santoro et al. 2016"
    root: ClassVar[str] = ""
    split_sizes: ClassVar[tuple[int, int]] = (1100, 100)
    rotations: ClassVar[bool] = True

    @staticmethod
    def fewshot_published(agent: str, ways: int, shots: int) -> dict | None:
        """The published test accuracy of ``agent`` at ``ways``-way ``shots``-shot (see :mod:`metarl.published`).

        Example:
            >>> Omniglot.fewshot_published("protonet", 5, 1)["text"]
            'protonet 98.80%'
        """
        if agent not in OMNIGLOT_ACCURACY or (ways, shots) not in OMNIGLOT_COLUMNS:
            return None
        value = OMNIGLOT_ACCURACY[agent][OMNIGLOT_COLUMNS.index((ways, shots))]
        if value is None:
            return None
        return {"source": f"Omniglot {ways}-way {shots}-shot, published", "text": f"{agent} {value:.2f}%"}

    def _data_key(self) -> Hashable:
        return ("omniglot", self.root, self.split_sizes, self.rotations)

    def _load_data(self) -> ImageClasses:
        if not self.root:
            raise DataError(f"{self.id}: no Omniglot folder is bound; use metarl.envs.glyphs.register_omniglot(root)")
        return load_omniglot(self.root, *self.split_sizes, rotations=self.rotations)


def register_omniglot(
    root: str | pathlib.Path,
    env_id: str = "metarl/Omniglot-v0",
    train_classes: int = 1100,
    validation_classes: int = 100,
    rotations: bool = True,
) -> EnvSpec:
    """Register ``env_id`` as Omniglot read from ``root``; the layout is checked now, images load on first use.

    The id then works with ``metarl.make``, ``gymnasium.make`` and ``gymnasium.make_vec`` like any family.

    Example:
        >>> import metarl
        >>> spec = register_omniglot(omniglot_root, "mylab/Omniglot-v0", train_classes=3, validation_classes=1)
        >>> env = metarl.make("mylab/Omniglot-v0", instances=2)  # instances: images per class in a trial
        >>> env.sample_episodes(16, ways=5, shots=1, queries=2).support_x.shape
        torch.Size([16, 5, 28, 28])
    """
    root = pathlib.Path(root).expanduser().resolve()
    for folder in character_folders(root):
        _images(folder)
    bound = type("Omniglot", (Omniglot,), {"root": str(root), "split_sizes": (train_classes, validation_classes),
                                           "rotations": rotations, "__module__": __name__})
    return register(env_id, bound)
