"""The Glyphs family: few-shot image classification, as N-way K-shot episodes and as an online RL task.

Everything of the family lives here:

- :mod:`~metarl.envs.glyphs.classification`: :class:`ImageClassification`, the family base that turns any
  :class:`~metarl.fewshot.ImageClasses` into an episodes view and an online RL view, and its task
  :class:`ClassificationTask`;
- :mod:`~metarl.envs.glyphs.render`: the Glyphs image set, rendered from matplotlib's fonts and cached
  (``METARL_GLYPHS_CLASSES=n`` keeps the first n classes);
- :mod:`~metarl.envs.glyphs.family`: :class:`Glyphs`, registered as ``metarl/Glyphs-v0``;
- :mod:`~metarl.envs.glyphs.omniglot`: Omniglot read from disk, bound to an id by :func:`register_omniglot`.

A new image set becomes a family by subclassing :class:`ImageClassification` (see its docstring).

Example:
    >>> import metarl
    >>> env = metarl.make("metarl/Glyphs-v0", num_envs=4, seed=0)
    >>> isinstance(env, Glyphs) and isinstance(env, ImageClassification)
    True
"""

from metarl.envs.glyphs.classification import ClassificationTask, ImageClassification
from metarl.envs.glyphs.family import Glyphs
from metarl.envs.glyphs.omniglot import Omniglot, load_omniglot, register_omniglot
from metarl.envs.glyphs.render import load_glyphs

__all__ = ["ClassificationTask", "Glyphs", "ImageClassification", "Omniglot", "load_glyphs", "load_omniglot",
           "register_omniglot"]
