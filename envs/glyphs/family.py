"""Glyphs: Omniglot-like few-shot classification of characters rendered from the bundled fonts."""

from __future__ import annotations

from collections.abc import Hashable

from metarl.envs.glyphs import render
from metarl.envs.glyphs.classification import ImageClassification

from metarl.fewshot import ImageClasses

__all__ = ["Glyphs"]


class Glyphs(ImageClassification):
    """Characters of many scripts as classes, the same character in different font faces as instances.

    The image set (:mod:`metarl.envs.glyphs.render`): over 3000 classes with 20 base renders each, 28 x 28,
    split 70% / 10% / 20% into disjoint train / validation / test classes; rendered on first use
    (about half a minute) and cached. ``METARL_GLYPHS_CLASSES=n`` uses only the first n classes.

    As an environment this is the online view (see :mod:`metarl.envs.glyphs.classification`): a trial shows
    ``ways * instances`` images, the observation is the 784 pixels followed by the one-hot label of the
    previous image, the action is a label and the reward is 1 when it is right. ``sample_episodes()`` gives
    N-way K-shot batches for supervised learners.

    Example:
        >>> import metarl, torch
        >>> env = metarl.make("metarl/Glyphs-v0", num_envs=16, seed=0)
        >>> env.reset().shape  # 28 * 28 pixels + 5 previous-label entries
        torch.Size([16, 789])
        >>> env.sample_episodes(8, ways=5, shots=1, queries=5).query_y.shape
        torch.Size([8, 25])
    """

    family = "Glyphs"
    description = "characters from the bundled fonts; N-way online classification, label of the last image shown"
    source = "Omniglot-like (Lake et al. 2015); online setting of Santoro et al. 2016"

    def data_settings(self) -> dict[str, str]:
        """``{"METARL_GLYPHS_CLASSES": n or "unset"}``: the class limit changes the classes and so every score.

        Trainers store it in their checkpoints and refuse to resume, or warn on evaluation, under another value.
        """
        limit = render.class_limit()
        return {render.CLASSES_ENV: "unset" if limit is None else str(limit)}

    def _data_key(self) -> Hashable:
        return ("glyphs", str(render.cache_path(render.class_limit())))

    def _load_data(self) -> ImageClasses:
        return render.load_glyphs()
