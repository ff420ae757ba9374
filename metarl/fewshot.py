"""Supervised few-shot data: batches of N-way K-shot episodes and the image classes behind them.

A supervised family offers ``sample_episodes(batch, ways, shots, queries, split=..., generator=..., device=...)``
returning an :class:`Episodes`: a support set to adapt on and a query set to evaluate on, for each of
``batch`` independent tasks. Classification families (``Glyphs``, Omniglot) draw ``ways`` classes from
the split's class set, which is disjoint from the other splits' sets; regression families (``Sinusoid``)
draw functions from the split's random stream.

Episode e is a pure function of one 32-bit key, hashed with :mod:`metarl.random` like every task of the
engine; the generator supplies the keys (as in ``sample_tasks``), so the same generator state gives the
same episodes on any device.

Example:
    >>> import metarl, torch
    >>> env = metarl.make("metarl/Glyphs-v0")
    >>> g = torch.Generator().manual_seed(0)
    >>> ep = env.sample_episodes(8, ways=5, shots=1, queries=15, split="train", generator=g)
    >>> ep.support_x.shape, ep.support_y.shape, ep.query_x.shape
    (torch.Size([8, 5, 28, 28]), torch.Size([8, 5]), torch.Size([8, 75, 28, 28]))
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import os
import pathlib
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F

from metarl import random as mrandom
from metarl.checks import SPLITS, check_split
from metarl.errors import BadArgumentError, DataError
from metarl.files import write_atomically

DISTORTION_LANES = 7
"""Uniforms per image that :func:`distort` consumes: rotation, shear, scale, aspect, x and y shift, stroke."""
_CACHE_FORMAT = 1


@dataclasses.dataclass
class Episodes:
    """A batch of E few-shot episodes; every field has leading dimension E.

    Classification: ``support_x (E, N*K, H, W)`` float32 in [0, 1], ``support_y (E, N*K)`` int64 in
    [0, N), grouped by label (``y = arange(N).repeat_interleave(K)``); ``query_x (E, N*Q, H, W)`` and
    ``query_y (E, N*Q)`` likewise. Labels are a fresh random assignment of the episode's classes.
    Regression: ``support_x``, ``support_y`` ``(E, K, 1)`` and ``query_x``, ``query_y`` ``(E, Q, 1)``.
    """

    support_x: torch.Tensor
    support_y: torch.Tensor
    query_x: torch.Tensor
    query_y: torch.Tensor

    @property
    def batch_size(self) -> int:
        """Number of episodes E."""
        return self.support_x.shape[0]

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> Episodes:
        """The same episodes on ``device``, their floating-point fields as ``dtype`` when given (a learner's
        precision: ``torch.get_default_dtype()``); labels stay integers.

        Example:
            >>> ep = Episodes(torch.zeros(1, 2, 1), torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, 1, 1),
            ...               torch.zeros(1, 1, dtype=torch.long)).to("cpu", torch.float64)
            >>> ep.support_x.dtype, ep.support_y.dtype
            (torch.float64, torch.int64)
        """
        def moved(value: torch.Tensor) -> torch.Tensor:
            return value.to(device, dtype if dtype is not None and value.is_floating_point() else None)

        return Episodes(*(moved(getattr(self, f.name)) for f in dataclasses.fields(self)))


@dataclasses.dataclass
class ImageClasses:
    """A labelled image set for few-shot classification: C classes of M grayscale images each.

    ``images (C, M, H, W)`` uint8 (0 = background, 255 = ink); ``names`` one readable name per class;
    ``splits`` maps "train", "validation" and "test" to disjoint int64 tensors of class indices.

    Example:
        >>> data = ImageClasses(torch.zeros(6, 2, 28, 28, dtype=torch.uint8), [str(i) for i in range(6)],
        ...                     {"train": torch.arange(4), "validation": torch.tensor([4]), "test": torch.tensor([5])})
        >>> data.num_classes, data.instances, data.image_shape
        (6, 2, (28, 28))
    """

    images: torch.Tensor
    names: list[str]
    splits: dict[str, torch.Tensor]

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise DataError(f"images must be a (C, M, H, W) uint8 tensor, got {self.images.dtype} "
                              f"{tuple(self.images.shape)}")
        if len(self.names) != self.num_classes or set(self.splits) != set(SPLITS):
            raise DataError(f"need one name per class and the splits {sorted(SPLITS)}")
        owner = torch.cat([self.splits[s] for s in SPLITS])
        valid = owner.numel() == 0 or (owner.min() >= 0 and owner.max() < self.num_classes)
        if not valid or owner.unique().numel() != owner.numel():
            raise DataError("the splits must hold disjoint class indices in [0, C)")

    @property
    def num_classes(self) -> int:
        """Number of classes C (over all splits)."""
        return self.images.shape[0]

    @property
    def instances(self) -> int:
        """Images per class M."""
        return self.images.shape[1]

    @property
    def image_shape(self) -> tuple[int, int]:
        """(H, W)."""
        return tuple(self.images.shape[2:])


def shown_before(labels: torch.Tensor) -> torch.Tensor:
    """How many earlier steps of the same online trial showed the same label: ``(N, T)`` from labels ``(N, T)``.

    0 marks a class's first instance (a guess), 1 its second (answerable from one labelled example), ...

    Example:
        >>> shown_before(torch.tensor([[0, 1, 0, 0, 1]]))
        tensor([[0, 0, 1, 2, 1]])
    """
    onehot = F.one_hot(labels)
    return (onehot.cumsum(dim=1) - onehot).gather(2, labels.unsqueeze(2)).squeeze(2)


def check_episode_request(
    env_id: str, batch: int, ways: int, shots: int, queries: int, split: str, *, classes: int | None = None,
    instances: int | None = None,
) -> None:
    """Raise :class:`BadArgumentError` naming the argument unless the episode request can be served.

    ``classes`` and ``instances``: the split's class count and the images per class, for classification.
    """
    for name, value, low in (("batch", batch, 1), ("ways", ways, 1), ("shots", shots, 1), ("queries", queries, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise BadArgumentError(f"{env_id}: episodes argument '{name}' must be an integer >= {low}, got {value!r}")
    check_split(split, env_id=env_id)
    if classes is not None and ways > classes:
        raise BadArgumentError(f"{env_id}: ways={ways} exceeds the {classes} classes of the '{split}' split")
    if instances is not None and shots + queries > instances:
        raise BadArgumentError(
            f"{env_id}: shots + queries = {shots + queries} exceeds the {instances} images per class; "
            f"lower 'shots' or 'queries'"
        )


def episode_keys(
    batch: int, generator: torch.Generator | None, split: str, device: torch.device | str = "cpu",
    part: slice | None = None,
) -> torch.Tensor:
    """``batch`` episode keys for ``split``: raw keys from ``generator``, hashed with the split's number.

    The same keys as ``BatchedEnv.sample_tasks`` draws, so episode e is the task ``sample_tasks`` would give.
    With ``part``, only those of the ``batch`` keys (a data-parallel process's shard); the generator advances as
    for all ``batch``, so episode e is the same whatever the split.
    """
    raw = torch.randint(0, 1 << 32, (batch,), generator=generator, dtype=torch.int64)
    if part is not None:
        raw = raw[part]
    return mrandom.combine(raw.to(device), SPLITS[split])


def choose(keys: torch.Tensor, stream: int, shape: tuple[int, ...], population: int, count: int) -> torch.Tensor:
    """``count`` distinct indices in [0, population) in random order, per key and leading ``shape``.

    Returns ``keys.shape + shape + (count,)`` int64. Ties between equal uniforms break by index, so the
    choice is exact on every device.
    """
    size = math.prod(shape) * population
    u = mrandom.lanes(mrandom.combine(keys, stream), size).view(*keys.shape, *shape, population)
    score = (u * (1 << 23)).long() * (1 << 20) + torch.arange(population, device=keys.device)
    return score.topk(count, dim=-1).indices


def distort(images: torch.Tensor, u: torch.Tensor, strength: float) -> torch.Tensor:
    """Random affine distortion and stroke-width jitter of a batch of images, in [0, 1] in and out.

    ``images (n, H, W)`` float; ``u (n, DISTORTION_LANES)`` uniforms in (0, 1). At ``strength`` 1:
    rotation up to 15 degrees, shear up to 0.25, scale in [0.87, 1.15] with aspect in [0.91, 1.1],
    shift up to 10% of the image, stroke thickening or thinning (a blend with a 3x3 dilation or
    erosion) up to 60%. Ranges grow linearly with ``strength``; 0 returns the images unchanged.
    The sampling grid is computed elementwise, so an image's result does not depend on the batch.

    Example:
        >>> distort(torch.zeros(4, 28, 28), torch.rand(4, DISTORTION_LANES), 1.0).shape
        torch.Size([4, 28, 28])
    """
    if strength == 0 or images.shape[0] == 0:
        return images
    s = u.mul(2.0).sub_(1.0).mul_(strength).unbind(1)
    stroke = (0.6 * s[6]).clamp(-1.0, 1.0).view(-1, 1, 1)
    thicker, thinner = stroke.clamp(min=0.0), stroke.neg().clamp_(min=0.0)
    x = _spread(images, torch.maximum, 0.0).sub_(images).mul_(thicker).add_(images)
    x.add_(_spread(images, torch.minimum, 1.0).sub_(images).mul_(thinner))
    angle, shear = s[0] * (math.pi / 12), s[1] * 0.25
    scale_x = torch.exp(s[2] * math.log(1.15))
    scale_y = scale_x * torch.exp(s[3] * math.log(1.1))
    cos, sin = torch.cos(angle), torch.sin(angle)
    # sampling matrix: rotation @ shear @ diag(1 / scale); output pixel p reads the input at column_x * p_x +
    # column_y * p_y + shift (normalised coordinates)
    column_x = torch.stack([cos / scale_x, sin / scale_x], 1).view(-1, 1, 1, 2)
    column_y = torch.stack([(cos * shear - sin) / scale_y, (sin * shear + cos) / scale_y], 1).view(-1, 1, 1, 2)
    shift = torch.stack([0.2 * s[4], 0.2 * s[5]], 1).view(-1, 1, 1, 2)
    h, w = images.shape[1:]
    ys = (torch.arange(h, device=images.device, dtype=images.dtype) * 2 + 1) / h - 1
    xs = (torch.arange(w, device=images.device, dtype=images.dtype) * 2 + 1) / w - 1
    grid = (column_x * xs.view(1, 1, w, 1) + shift) + column_y * ys.view(1, h, 1, 1)
    out = F.grid_sample(x.unsqueeze(1), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.squeeze(1).clamp_(0.0, 1.0)


def _spread(x: torch.Tensor, pick: Callable, border: float) -> torch.Tensor:
    """3 x 3 dilation (``pick=torch.maximum``) or erosion (``torch.minimum``) of (n, H, W) images, separably."""
    p = F.pad(x, (1, 1, 1, 1), value=border)
    rows = pick(p[:, :-2], p[:, 1:-1])
    rows = pick(rows, p[:, 2:], out=rows)
    out = pick(rows[:, :, :-2], rows[:, :, 1:-1])
    return pick(out, rows[:, :, 2:], out=out)


CLASS_STREAM, INSTANCE_STREAM, DISTORTION_STREAM = 0xC1A55E5, 0x1257A4CE, 0xD157027  # key streams of an episode


def image_episodes(
    images: torch.Tensor, pool: torch.Tensor, keys: torch.Tensor, ways: int, shots: int, queries: int, strength: float
) -> Episodes:
    """Classification episodes, one per key, from ``images (C, M, H, W)`` uint8 on the keys' device.

    ``pool``: the class indices the episodes may use (a split's classes). Label j of episode e is the
    j-th of its randomly chosen classes; each class contributes ``shots`` support and ``queries``
    query images, distinct base images with fresh distortions.
    """
    e, (m, h, w) = keys.shape[0], images.shape[1:]
    picked = pool.to(keys.device)[choose(keys, CLASS_STREAM, (), pool.numel(), ways)]  # (E, N)
    drawn = choose(keys, INSTANCE_STREAM, (ways,), m, shots + queries)  # (E, N, K + Q)
    x = images[picked.unsqueeze(-1), drawn].float().div_(255.0)  # (E, N, K + Q, H, W)
    u = mrandom.lanes(mrandom.combine(keys, DISTORTION_STREAM), ways * (shots + queries) * DISTORTION_LANES)
    x = distort(x.view(-1, h, w), u.view(-1, DISTORTION_LANES), strength).view(e, ways, shots + queries, h, w)
    labels = torch.arange(ways, device=keys.device).view(1, ways, 1)
    support_y = labels.expand(e, ways, shots).reshape(e, ways * shots)
    query_y = labels.expand(e, ways, queries).reshape(e, ways * queries)
    return Episodes(
        x[:, :, :shots].reshape(e, ways * shots, h, w), support_y,
        x[:, :, shots:].reshape(e, ways * queries, h, w), query_y,
    )


# ---------------------------------------------------------------------- on-disk cache of image sets
def cache_dir() -> pathlib.Path:
    """Where rendered or converted data sets are cached: ``$METARL_CACHE_DIR``, else ``$XDG_CACHE_HOME/metarl``,
    else ``~/.cache/metarl``."""
    if os.environ.get("METARL_CACHE_DIR"):
        return pathlib.Path(os.environ["METARL_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "metarl"


def _checksum(images: torch.Tensor, names: list[str]) -> str:
    digest = hashlib.blake2b(images.contiguous().numpy().tobytes(), digest_size=16)
    digest.update("\n".join(names).encode())
    return digest.hexdigest()


def read_cache(path: pathlib.Path, key: str) -> ImageClasses | None:
    """The image set stored at ``path`` if it is complete, intact and made with ``key``; else None.

    A file that exists but cannot be used (truncated, corrupt, from other settings) gives a warning.
    """
    if not path.exists():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if payload.get("format") != _CACHE_FORMAT or payload.get("key") != key:
            raise ValueError("made with other settings")
        images, names = payload["images"], list(payload["names"])
        if payload["checksum"] != _checksum(images, names):
            raise ValueError("checksum mismatch")
        return ImageClasses(images, names, {s: payload["splits"][s].long() for s in SPLITS})
    except Exception as exc:  # truncated, corrupt, stale or not a cache file at all: it is rebuilt
        warnings.warn(f"ignoring the data cache {str(path)!r} ({exc}); building it again", stacklevel=3)
        return None


def write_cache(path: pathlib.Path, key: str, data: ImageClasses) -> None:
    """Store ``data`` at ``path`` atomically: a reader sees the old file, the new one, or none."""
    payload = {"format": _CACHE_FORMAT, "key": key, "images": data.images, "names": data.names,
               "splits": data.splits, "checksum": _checksum(data.images, data.names)}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_atomically(path, buffer.getbuffer())


def cached(path: pathlib.Path, key: str, build: Callable[[], ImageClasses]) -> ImageClasses:
    """The image set cached at ``path`` under ``key``, built and stored first if absent, stale or corrupt."""
    data = read_cache(path, key)
    if data is None:
        data = build()
        write_cache(path, key, data)
    return data
