"""Networks shared by every supervised few-shot learner: the 4-layer conv net for images, the MLP for regression.

:class:`FewShotNet` is a body (an embedding) followed by an optional linear head. Metric learners
(prototypical and matching networks) use the body's embedding; gradient-based learners (MAML,
first-order MAML, Reptile) and the pretrained baseline put a linear head on it (``ways`` logits, or
one output for regression) and adapt the whole network per task with :mod:`metarl.rl.functional`.

**Normalisation.** ``norm="batch"`` (the default) is batch normalisation *without running
statistics*: every call normalises with the statistics of the images it is given, in training and
evaluation alike. Called per task (``per_task_call``), that is one task's support set or query set,
the convention of MAML and Reptile (Finn et al. 2017, Nichol et al. 2018); it makes query predictions
depend on the other queries of their episode (transductive). ``norm="layer"`` normalises each image
on its own (``GroupNorm`` with one group), so a prediction depends on its image only; ``"none"``
leaves the blocks unnormalised. All three are plain functions of the parameters, so they run under
:func:`torch.func.vmap` with per-task parameters.

Example:
    >>> net = FewShotNet(ConvBody((28, 28), channels=64), outputs=5)   # MAML's Omniglot network
    >>> net(torch.zeros(10, 28, 28)).shape
    torch.Size([10, 5])
    >>> FewShotNet(MLPBody(1, (40, 40)), outputs=1)(torch.zeros(7, 1)).shape   # the sinusoid regressor
    torch.Size([7, 1])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from metarl.errors import BadArgumentError

Norm = Literal["batch", "layer", "none"]
NORMS: tuple[str, ...] = ("batch", "layer", "none")


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """Batch normalisation without running statistics that, while :attr:`world` is set to an active data-parallel
    world, normalises with the statistics of the whole global batch (every process's images), so that a batch split
    over N processes trains exactly as in one. Unset (the default, and always at evaluation), it is ``BatchNorm2d``.

    Example:
        >>> norm = GlobalBatchNorm2d(3, track_running_stats=False)
        >>> x = torch.randn(4, 3, 5, 5)
        >>> torch.allclose(norm(x), nn.functional.batch_norm(x, None, None, norm.weight, norm.bias, True), atol=1e-6)
        True
    """

    world = None
    """The data-parallel world (:class:`metarl.training.parallel.Parallel`) whose global batch sets the statistics."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.world is None or not self.world.active or not self.training:
            return super().forward(x)
        moments = self.world.sum_with_gradients(torch.stack([x.sum((0, 2, 3)), x.square().sum((0, 2, 3))]))
        count = x.numel() // x.shape[1] * self.world.size  # shards are equal: an uneven split is refused
        mean = moments[0] / count
        scale = torch.rsqrt(moments[1] / count - mean.square() + self.eps) * self.weight
        return (x - mean[:, None, None]) * scale[:, None, None] + self.bias[:, None, None]


def norm_layer(kind: str, channels: int) -> nn.Module:
    """The normalisation of a conv block: ``"batch"`` (per-call statistics), ``"layer"`` or ``"none"``.

    Example:
        >>> type(norm_layer("layer", 8)).__name__, type(norm_layer("batch", 8)).__name__
        ('GroupNorm', 'GlobalBatchNorm2d')
    """
    if kind == "batch":
        return GlobalBatchNorm2d(channels, track_running_stats=False)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise BadArgumentError(f"norm must be one of {list(NORMS)}, got {kind!r}")


class ConvBody(nn.Module):
    """``layers`` blocks of Conv3x3 (``channels`` filters, padding 1), normalisation, ReLU, MaxPool2; flattened.

    ``pooled`` (default: all) leading blocks end with the max-pool; the later ones keep the map's size (Relation
    Networks compare 7 x 7 maps).

    Input ``(n, H, W)`` or ``(n, 1, H, W)``; output ``(n, out_features)``. On 28 x 28 images with 4
    blocks the spatial size goes 28 -> 14 -> 7 -> 3 -> 1, so ``out_features == channels`` (64): the
    standard few-shot backbone (Vinyals et al. 2016, Snell et al. 2017, Finn et al. 2017).

    Example:
        >>> ConvBody((28, 28), channels=8).out_features
        8
        >>> ConvBody((28, 28), channels=8, pooled=2).map_shape
        (8, 7, 7)
    """

    def __init__(self, image_shape: Sequence[int] = (28, 28), channels: int = 64, layers: int = 4,
                 norm: Norm = "batch", pooled: int | None = None) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        height, width = image_shape
        pooled = layers if pooled is None else pooled
        for i in range(layers):
            if i < pooled and min(height, width) < 2:
                raise BadArgumentError(f"{pooled} pooled conv blocks need images of at least {2 ** pooled} pixels a "
                                       f"side, got {tuple(image_shape)}")
            blocks += [nn.Conv2d(1 if i == 0 else channels, channels, 3, padding=1), norm_layer(norm, channels),
                       nn.ReLU()]
            if i < pooled:
                blocks.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
        self.blocks = nn.Sequential(*blocks)
        self.map_shape = (channels, height, width)
        """Shape of the last block's feature map (flattened, it is the embedding)."""
        self.out_features = channels * height * width
        # Channels-last filters make every block's maps channels-last: convolution, normalisation and max-pooling
        # run about twice as fast on a CPU as in the default layout (the same values up to rounding). Not with layer
        # normalisation: group_norm under vmap does not take channels-last maps (not implemented in torch 2.13).
        if norm != "layer":
            self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            x = x.unsqueeze(1)
        return self.blocks(x).flatten(1)


class MLPBody(nn.Module):
    """Linear + ReLU layers of the given widths: ``(n, inputs) -> (n, hidden[-1])`` (MAML's sinusoid net: 2 x 40).

    Example:
        >>> MLPBody(1, (40, 40))(torch.zeros(3, 1)).shape
        torch.Size([3, 40])
    """

    def __init__(self, inputs: int, hidden: Sequence[int] = (40, 40)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = inputs
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        self.layers = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class FewShotNet(nn.Module):
    """A body and, when ``outputs`` is given, a linear head: ``x -> head(body(x))`` (or the embedding ``body(x)``).

    Parameter names are ``body.*`` and ``head.*``, so a learner can adapt or replace the head alone.

    Example:
        >>> net = FewShotNet(MLPBody(1, (8,)), outputs=None)
        >>> net(torch.zeros(2, 1)).shape, net.head is None
        (torch.Size([2, 8]), True)
    """

    def __init__(self, body: nn.Module, outputs: int | None) -> None:
        super().__init__()
        self.body = body
        self.head = nn.Linear(body.out_features, outputs) if outputs is not None else None

    @property
    def features(self) -> int:
        """Width of the body's embedding."""
        return self.body.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.body(x)
        return z if self.head is None else self.head(z)


def build_net(input_shape: Sequence[int], outputs: int | None, *, channels: int = 64, layers: int = 4,
              norm: Norm = "batch", hidden: Sequence[int] = (40, 40), seed: int | None = None) -> FewShotNet:
    """The backbone for one example's shape: :class:`ConvBody` for ``(H, W)`` images, :class:`MLPBody` for ``(D,)``.

    ``seed`` initialises the parameters without touching the global random state.

    Example:
        >>> build_net((28, 28), 5, channels=8, seed=0)(torch.zeros(4, 28, 28)).shape
        torch.Size([4, 5])
        >>> build_net((1,), 1, seed=0).body.out_features
        40
    """
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        if len(input_shape) == 2:
            body: nn.Module = ConvBody(input_shape, channels, layers, norm)
        elif len(input_shape) == 1:
            body = MLPBody(input_shape[0], hidden)
        else:
            raise BadArgumentError(f"few-shot inputs must be (H, W) images or (D,) vectors, got shape "
                                   f"{tuple(input_shape)}")
        return FewShotNet(body, outputs)


__all__ = ["NORMS", "ConvBody", "FewShotNet", "MLPBody", "Norm", "build_net", "norm_layer"]
