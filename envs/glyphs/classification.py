"""Few-shot image classification as a family: an episodes view and an online RL view of one image set.

:class:`ImageClassification` turns any :class:`~metarl.fewshot.ImageClasses` into a family.
Subclasses say where the images come from (``Glyphs`` renders them from fonts; Omniglot reads them
from disk, see :mod:`metarl.envs.glyphs.omniglot`).

- **Episodes view**: ``env.sample_episodes(batch, ways, shots, queries, split=...)``, N-way K-shot episodes
  drawn from the split's classes (see :mod:`metarl.fewshot`).
- **RL view** (the online, memory-augmented setting of Santoro et al. 2016): a trial draws ``ways``
  classes of the env's split, gives them labels 0..N-1 in random order, and shows ``instances`` images
  of each class in random order, one per step. The agent answers a label (``Discrete(ways)``) and
  gets reward 1 when it is right, else 0. The observation is the flattened image followed by the
  one-hot label of the *previous* image (zeros at the start of a trial): the answer to step t arrives
  in observation t + 1. The observation after a trial's last step is a blank image with the last label.

Images are the base renders or scans with fresh random distortions (``distortion`` sets their
strength); the data is loaded on first use, once per process, and kept on each device it is used on.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Hashable
from typing import ClassVar

import gymnasium
import numpy as np
import torch
import torch.nn.functional as F

from metarl import random as mrandom
from metarl.checks import SPLITS, check_count, check_split
from metarl.engine import BatchedEnv
from metarl.errors import BadArgumentError, DataError
from metarl.fewshot import (
    CLASS_STREAM,
    DISTORTION_LANES,
    DISTORTION_STREAM,
    INSTANCE_STREAM,
    Episodes,
    ImageClasses,
    check_episode_request,
    choose,
    distort,
    episode_keys,
    image_episodes,
)
from metarl.params import Param
from metarl.tasks import Task

_ORDER_STREAM = 0x0DE7
_LOADED: dict[Hashable, ImageClasses] = {}
_ON_DEVICE: dict[tuple[Hashable, str], torch.Tensor] = {}


@dataclasses.dataclass
class ClassificationTask(Task):
    """One trial of the online view, T = ways * instances steps.

    ``classes (B, N)`` int64: the image-set class given label j; ``label (B, T)`` int64: the label of the
    image shown at each step; ``instance (B, T)`` int64: which base image of its class; ``distortion
    (B, T, 7)`` float32: the uniforms in [0, 1] of that image's distortion.
    """

    classes: torch.Tensor
    label: torch.Tensor
    instance: torch.Tensor
    distortion: torch.Tensor


class ImageClassification(BatchedEnv):
    """N-way image classification: few-shot episodes and online trials with delayed labels.

    Subclasses implement :meth:`_data_key` and :meth:`_load_data` and set ``family`` and the texts.
    """

    params = {
        "ways": Param(5, low=2, high=1000, doc="classes per trial (N)"),
        "instances": Param(10, low=1, high=1000, doc="images shown per class in a trial"),
        "distortion": Param(1.0, low=0.0, high=4.0, doc="strength of the random affine and stroke distortion"),
    }
    task_type = ClassificationTask
    can_terminate = False
    image_shape: ClassVar[tuple[int, int]] = (28, 28)
    _key: Hashable | None = None
    _own_images: torch.Tensor | None = None

    @abc.abstractmethod
    def _data_key(self) -> Hashable:
        """Identifies the image set :meth:`_load_data` returns (loaded once per process and key)."""

    @abc.abstractmethod
    def _load_data(self) -> ImageClasses:
        """The image set, with ``image_shape`` images."""

    @property
    def _source(self) -> Hashable:
        if self._key is None:
            self._key = self._data_key()
        return self._key

    @property
    def data(self) -> ImageClasses:
        """The image set (loaded on first use; the argument checks that need it run then)."""
        key = self._source
        if key not in _LOADED:
            data = self._load_data()
            if data.image_shape != self.image_shape:
                raise DataError(f"{self.id}: images must be {self.image_shape}, got {data.image_shape}")
            _LOADED[key] = data
        data = _LOADED[key]
        c = self.config
        if c["ways"] > len(data.splits[self.split]):
            raise BadArgumentError(f"{self.id}: argument 'ways' ({c['ways']}) exceeds the "
                                   f"{len(data.splits[self.split])} classes of the '{self.split}' split")
        if c["instances"] > data.instances:
            raise BadArgumentError(f"{self.id}: argument 'instances' ({c['instances']}) exceeds the "
                                   f"{data.instances} images per class")
        return data

    def images(self, device: torch.device | str | None = None) -> torch.Tensor:
        """The image set's ``(C, M, H, W)`` uint8 images on ``device`` (the env's by default), copied once."""
        if device is None and self._own_images is not None:
            return self._own_images
        key = (self._source, str(torch.device(self.device if device is None else device)))
        if key not in _ON_DEVICE:
            _ON_DEVICE[key] = self.data.images.to(key[1])
        if device is None:
            self._own_images = _ON_DEVICE[key]
        return _ON_DEVICE[key]

    # ------------------------------------------------------------------ episodes view
    def sample_episodes(
        self,
        batch: int,
        ways: int | None = None,
        shots: int = 1,
        queries: int = 15,
        *,
        split: str | None = None,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        part: slice | None = None,
    ) -> Episodes:
        """``batch`` N-way K-shot episodes from the classes of ``split`` (the env's own by default); with ``part``,
        only those episodes of the ``batch`` (see :func:`metarl.fewshot.episode_keys`).

        ``ways`` defaults to the env's ``ways``; each class gives ``shots`` support and ``queries`` query
        images (distinct base images, freshly distorted). Deterministic given the generator's state.

        Example:
            >>> import metarl
            >>> env = metarl.make("metarl/Glyphs-v0")
            >>> g = torch.Generator().manual_seed(0)
            >>> ep = env.sample_episodes(4, ways=5, shots=5, queries=5, split="test", generator=g)
            >>> ep.support_x.shape, int(ep.support_y.max())
            (torch.Size([4, 25, 28, 28]), 4)
        """
        split = self.split if split is None else split
        ways = self.config["ways"] if ways is None else ways
        data = self.data
        pool = data.splits[split] if split in SPLITS else None
        check_episode_request(self.id, batch, ways, shots, queries, split,
                              classes=None if pool is None else len(pool), instances=data.instances)
        device = torch.device(self.device if device is None else device)
        keys = episode_keys(batch, generator, split, device, part)
        return image_episodes(self.images(device), pool, keys, ways, shots, queries, self.config["distortion"])

    def sample_images(
        self,
        batch: int,
        *,
        split: str | None = None,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        part: slice | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``batch`` labelled images of ``split`` for ordinary (non-episodic) classification over all its classes
        (with ``part``, only those of the ``batch``).

        Returns ``images (batch, H, W)`` float in [0, 1], freshly distorted, and ``labels (batch,)`` int64:
        the class's position in ``data.splits[split]`` (so labels lie in [0, number of classes in the split)).
        Classes and base images are drawn uniformly with replacement; image i is a pure function of key i
        drawn from ``generator``, as for episodes.

        Example:
            >>> import metarl
            >>> env = metarl.make("metarl/Glyphs-v0")
            >>> x, y = env.sample_images(64, split="train", generator=torch.Generator().manual_seed(0))
            >>> x.shape, bool(y.max() < len(env.data.splits["train"]))
            (torch.Size([64, 28, 28]), True)
        """
        split = check_split(self.split if split is None else split, env_id=self.id)
        data, device = self.data, torch.device(self.device if device is None else device)
        check_episode_request(self.id, batch, 1, 1, 0, split, classes=len(data.splits[split]))
        pool = data.splits[split].to(device)
        keys = episode_keys(batch, generator, split, device, part)
        u = mrandom.lanes(mrandom.combine(keys, CLASS_STREAM), 2)
        labels = (u[:, 0] * pool.numel()).long().clamp_(max=pool.numel() - 1)
        instance = (u[:, 1] * data.instances).long().clamp_(max=data.instances - 1)
        images = self.images(device)[pool[labels], instance].float().div_(255.0)
        lanes = mrandom.lanes(mrandom.combine(keys, DISTORTION_STREAM), DISTORTION_LANES)
        return distort(images, lanes, self.config["distortion"]), labels

    # ------------------------------------------------------------------ tasks
    def sample_tasks(
        self,
        n: int,
        generator: torch.Generator | None = None,
        split: str | None = None,
        device: torch.device | str | None = None,
    ) -> ClassificationTask:
        """``n`` trials whose classes come from ``split`` (the env's own by default); see ``BatchedEnv``."""
        n = check_count(n, "n", env_id=self.id)
        split = check_split(self.split if split is None else split, env_id=self.id)
        return self.tasks_from_keys(episode_keys(n, generator, split, self.device if device is None else device), split)

    def tasks_from_keys(self, keys: torch.Tensor, split: str) -> ClassificationTask:
        n, k, m = self.config["ways"], self.config["instances"], self.data.instances
        pool = self.data.splits[split].to(keys.device)
        classes = pool[choose(keys, CLASS_STREAM, (), pool.numel(), n)]
        drawn = choose(keys, INSTANCE_STREAM, (n,), m, k).view(-1, n * k)  # slot s = label * k + i
        order = choose(keys, _ORDER_STREAM, (), n * k, n * k)  # the slot shown at each step
        u = mrandom.lanes(mrandom.combine(keys, DISTORTION_STREAM), n * k * DISTORTION_LANES)
        return ClassificationTask(classes=classes, label=order // k, instance=drawn.gather(1, order),
                                  distortion=u.view(-1, n * k, DISTORTION_LANES))

    def task_shapes(self, batch: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        t = self.horizon
        return {"classes": ((batch, self.config["ways"]), torch.int64), "label": ((batch, t), torch.int64),
                "instance": ((batch, t), torch.int64), "distortion": ((batch, t, DISTORTION_LANES), torch.float32)}

    def _task_error(self, task: ClassificationTask) -> str | None:
        data = self.data
        ranges = (("classes", task.classes, data.num_classes), ("label", task.label, self.config["ways"]),
                  ("instance", task.instance, data.instances))
        for name, value, high in ranges:
            if bool(((value < 0) | (value >= high)).any()):
                return f"task field '{name}' must hold integers in [0, {high - 1}]"
        if bool(((task.distortion < 0) | (task.distortion > 1)).any()):
            return "task field 'distortion' must lie in [0, 1]"
        return None

    # ------------------------------------------------------------------ RL view
    def _trial_shape(self) -> tuple[int, int]:
        return self.config["ways"] * self.config["instances"], 1

    def _spaces(self) -> tuple[gymnasium.Space, gymnasium.Space]:
        size = int(np.prod(self.image_shape)) + self.config["ways"]
        return gymnasium.spaces.Box(0.0, 1.0, (size,), np.float32), gymnasium.spaces.Discrete(self.config["ways"])

    def reward_bounds(self) -> tuple[float, float]:
        return 0.0, 1.0

    def _start_episode(self, mask: torch.Tensor | None) -> None:
        pass

    def _at(self, field: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``field[b, t[b]]`` for a (B, T, ...) task field, with t clamped into the trial."""
        index = t.clamp(0, self.horizon - 1).view(-1, 1, *([1] * (field.dim() - 2)))
        return field.gather(1, index.expand(-1, 1, *field.shape[2:])).squeeze(1)

    def _transition(self, action: torch.Tensor, u: None) -> tuple[torch.Tensor, None]:
        return (action == self._at(self.task.label, self._episode_step)).to(torch.float32), None

    def _observe(self) -> torch.Tensor:
        t = self._episode_step
        label = self._at(self.task.label, t)
        shown = self.task.classes.gather(1, label.unsqueeze(1)).squeeze(1)
        image = self.images()[shown, self._at(self.task.instance, t)].float().div_(255.0)
        image = distort(image, self._at(self.task.distortion, t), self.config["distortion"])
        image = image.flatten(1) * (t < self.horizon).unsqueeze(1)
        previous = F.one_hot(self._at(self.task.label, t - 1), self.config["ways"]).to(torch.float32)
        return torch.cat([image, previous * (t > 0).unsqueeze(1)], 1)
