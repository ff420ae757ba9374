"""What every few-shot learner's training shares: episodes, the backbone, validation, evaluation, state.

A learner subclasses :class:`EpisodicTrainer` and writes :meth:`~EpisodicTrainer.learn` (one
meta-update on a batch it draws with :meth:`~EpisodicTrainer.episodes`) and
:meth:`~EpisodicTrainer.score` (per-episode query scores of held-out episodes, after each test-time
gradient step for the learners that take them). The base class builds the environment and the
backbone, counts training episodes, validates every ``validate_every`` iterations on fixed
validation episodes (``validation/<metric>`` with its 95% interval, ``adaptation/step_k``), saves and
restores the state, and prints the evaluation report of ``metarl eval``.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from typing import Any, ClassVar

import torch
from metarl.agents.fewshot.backbones import FewShotNet, build_net
from metarl.agents.fewshot.config import FewShotConfig
from metarl.agents.fewshot.scoring import Scores, baseline_scores, format_score, is_classification

from metarl.errors import ConfigError
from metarl.fewshot import Episodes
from metarl.registry import make
from metarl.training.loop import Trainer, check_finite

EVAL_ELEMENTS = 100_000
"""Input numbers per evaluation chunk (bounds the memory of scoring many episodes at once)."""
VALIDATION_SEED = 0
"""Seed of the validation episodes: every run and every validation sees the same ones."""


@dataclasses.dataclass(frozen=True)
class EpisodeShape:
    """Ways, shots and queries per class of an episode (ways = 1 for regression)."""

    ways: int
    shots: int
    queries: int

    def kwargs(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    def describe(self, classification: bool) -> str:
        if classification:
            return f"{self.ways}-way {self.shots}-shot, {self.queries} queries per class"
        return f"{self.shots}-shot, {self.queries} query points"


class EpisodicTrainer(Trainer):
    """Base class of the few-shot learners; ``total_steps`` counts training episodes.

    Example:
        >>> from metarl.agents.fewshot import MetricConfig, ProtoNetTrainer
        >>> trainer = ProtoNetTrainer(MetricConfig(total_steps=64, meta_batch=8))
        >>> trainer.fit(progress=False); print("\\n".join(trainer.evaluation_report(100)))  # doctest: +SKIP
    """

    config_type: ClassVar[type[FewShotConfig]] = FewShotConfig
    data_parallel = True
    seed_streams = {"env": 0, "model": 0, "episodes": 0}
    """Random streams: the env, backbone init, training episodes (and pretrain's images)."""
    needs_classes: ClassVar[bool] = False
    """Whether the learner only works on classification families."""

    def __init__(self, config: FewShotConfig) -> None:
        super().__init__(config)
        cfg = self.config = config
        self.env = make(cfg.env, device=self.device, seed=self.stream_seed("env"), **cfg.env_kwargs)
        if not hasattr(self.env, "sample_episodes"):
            raise ConfigError(f"{cfg.env} has no few-shot episodes view; the {self.agent} learner needs a supervised "
                              "family such as metarl/Glyphs-v0 or metarl/Sinusoid-v0")
        probe = self._probe("train", cfg.ways, cfg.shots, cfg.queries)
        self.classification = is_classification(probe.support_y)
        if self.needs_classes and not self.classification:
            raise ConfigError(f"{self.agent} classifies; {cfg.env} is a regression family (use maml, fomaml, "
                              "meta-sgd, reptile, versa or pretrain)")
        self.train_shape = self._shape(probe)
        self.eval_shape = self._shape(self._probe("validation", cfg.eval_ways or self.train_shape.ways,
                                                  cfg.eval_shots or self.train_shape.shots,
                                                  cfg.eval_queries or self.train_shape.queries))
        self._probe("test", self.eval_shape.ways, self.eval_shape.shots, self.eval_shape.queries)
        self.input_shape = tuple(probe.support_x.shape[2:])
        self.outputs = self.train_shape.ways if self.classification else probe.support_y.shape[-1]
        self.metric = "accuracy" if self.classification else "mse"
        self.metrics = (f"validation/{self.metric}",)
        self.episode_generator = self.generator("episodes")
        self.best = -math.inf if self.classification else math.inf
        """The best ``validation/<metric>`` so far (accuracy: highest; MSE: lowest)."""
        self.validation_chance = math.nan
        """The no-learning baseline's score on the validation episodes (set by :meth:`validate`)."""
        self.net = self.build_model()
        self.optimizer = self.build_optimizer()

    # ------------------------------------------------------------------ what learners implement
    @abc.abstractmethod
    def build_model(self) -> FewShotNet:
        """The network this learner trains (see :meth:`backbone`)."""

    def build_optimizer(self) -> torch.optim.Optimizer | None:
        """Adam with ``lr`` on the network's parameters (None: the learner updates them itself)."""
        return torch.optim.Adam(self.net.parameters(), lr=self.config.lr)

    @abc.abstractmethod
    def learn(self) -> dict[str, float]:
        """One meta-update on ``meta_batch`` training episodes' worth of data; returns the scalars to log."""

    @abc.abstractmethod
    def score(self, episodes: Episodes) -> torch.Tensor:
        """Query scores of held-out ``episodes``: ``(E, S)``, column j after ``score_steps()[j]`` gradient steps."""

    def score_steps(self) -> list[int]:
        """The test-time gradient steps after which :meth:`score` scores the query set (none: ``[0]``)."""
        return [0]

    def describe_scores(self) -> str:
        """What the columns of :meth:`score` are, for the evaluation report."""
        return f"query {self.metric}"

    # ------------------------------------------------------------------ helpers for learners
    def backbone(self, outputs: int | None) -> FewShotNet:
        """The config's backbone for this family's inputs, with a linear head of ``outputs`` (None: the embedding)."""
        cfg = self.config
        return build_net(self.input_shape, outputs, channels=cfg.channels, layers=cfg.conv_layers, norm=cfg.norm,
                         hidden=cfg.hidden, seed=self.stream_seed("model")).to(self.device)

    def episodes(self) -> Episodes:
        """``meta_batch`` training episodes, drawn with the run's generator: this process's shard of them."""
        return self.env.sample_episodes(self.config.meta_batch, **self.train_shape.kwargs(), split="train",
                                        generator=self.episode_generator, device=self.device,
                                        part=self.part()).to(self.device, torch.get_default_dtype())

    def part(self, total: int | None = None) -> slice | None:
        """This process's shard of ``total`` items (default ``meta_batch``), or None in one process."""
        if not self.parallel.active:
            return None
        return self.parallel.shard(self.config.meta_batch if total is None else total, "meta_batch")

    def update(self, loss: torch.Tensor) -> None:
        """One optimizer step on ``loss`` (a mean over this process's shard), after checking that it is finite; the
        gradient is averaged over the processes first."""
        check_finite("the meta-training loss", loss)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.parallel.average_gradients(self.optimizer)
        self.optimizer.step()

    def train_scalars(self, loss: torch.Tensor, scores: torch.Tensor) -> dict[str, float]:
        """The meta-training loss and the mean score (accuracy or MSE) of the meta-batch's queries."""
        return {"losses/meta_train": float(loss.detach()), f"charts/meta_train_{self.metric}": float(scores.mean())}

    # ------------------------------------------------------------------ the iteration
    def train_iteration(self) -> dict[str, float]:
        scalars = self.learn()
        self.global_step += self.config.meta_batch
        if (self.iteration + 1) % self.config.validate_every == 0:
            scalars.update(self.validate())
            # Every validation is watched for a collapse back to the no-learning baseline; best.pt only with keep_best.
            self.keep_if_best(scalars[f"validation/{self.metric}"], self.classification, chance=self.validation_chance,
                              noise=scalars[f"validation/{self.metric}_ci95"], save=self.config.keep_best)
        return scalars

    def validate(self) -> dict[str, float]:
        """Scores on the fixed validation episodes: the final column with its 95% interval, and each column k.

        Also sets :attr:`validation_chance`, the score of the no-learning baseline on the same episodes (chance
        accuracy; for regression the MSE of predicting the support mean).
        """
        scores = self.evaluate(self.config.validation_episodes, "validation", VALIDATION_SEED)
        baseline = scores.baselines["chance" if self.classification else "predict the support mean"]
        self.validation_chance = float(baseline.mean())
        out = {f"validation/{self.metric}": scores.means[-1], f"validation/{self.metric}_ci95": scores.ci95[-1]}
        if scores.values.shape[1] > 1:
            out.update({f"adaptation/step_{k}": m for k, m in zip(scores.steps, scores.means, strict=True)})
        return out

    def evaluate(self, episodes: int, split: str = "test", seed: int = 0) -> Scores:
        """:meth:`score` of ``episodes`` episodes of ``split`` with the evaluation shape, and the baselines' scores on
        the same episodes (:func:`baseline_scores`); the same seed gives the same episodes.

        Example:
            >>> from metarl.agents.fewshot import MetricConfig, ProtoNetTrainer
            >>> scores = ProtoNetTrainer(MetricConfig(meta_batch=8)).evaluate(20)  # untrained: about chance
            >>> scores.values.shape, list(scores.baselines)  # (episodes, scored steps); means: test accuracy or MSE
            (torch.Size([20, 1]), ['chance'])
        """
        generator = torch.Generator().manual_seed(seed)
        shape = self.eval_shape
        chunk = max(1, EVAL_ELEMENTS // (shape.ways * (shape.shots + shape.queries) * math.prod(self.input_shape)))
        values, baselines = [], []
        for start in range(0, episodes, chunk):
            batch = self.env.sample_episodes(min(chunk, episodes - start), **shape.kwargs(), split=split,
                                             generator=generator, device=self.device
                                             ).to(self.device, torch.get_default_dtype())
            values.append(self.score(batch).cpu())
            baselines.append(baseline_scores(batch))
        return Scores(torch.cat(values), {name: torch.cat([b[name] for b in baselines]).cpu() for name in baselines[0]},
                      self.score_steps())

    def headline(self, scalars: dict[str, float]) -> str:
        text = f"{self.metric} {scalars[f'charts/meta_train_{self.metric}']:.3f}"
        if f"validation/{self.metric}" in scalars:
            text += f", validation {scalars[f'validation/{self.metric}']:.3f}"
        return text

    def run_label(self) -> str:
        return f"{self.env.family}__{self.agent}"

    # ------------------------------------------------------------------ evaluation report
    def evaluation_report(self, trials: int = 1000, split: str = "test", seed: int = 0, greedy: bool = False
                          ) -> list[str]:
        """Mean query accuracy or MSE over ``trials`` episodes of ``split``, with 95% intervals, beside baselines."""
        from metarl.published import fewshot_published

        cfg, shape = self.config, self.eval_shape
        scores = self.evaluate(trials, split, seed)
        settings = ", ".join(f"{k}={v}" for k, v in self.env.config.items())
        lines = [f"{cfg.env} ({settings}): {shape.describe(self.classification)}; {trials} {split} episodes "
                 f"(seed {seed}); checkpoint after {self.global_step:,} training episodes (iteration {self.iteration})",
                 f"  {self.describe_scores()}, mean over episodes ± 95% interval:"]
        name = f"{self.agent} (this run)"
        if scores.values.shape[1] == 1:
            lines.append(f"  {name:30s}{format_score(scores.means[0], scores.ci95[0], self.classification):>20s}")
        else:
            lines.append(f"  {'gradient steps':30s}{name:>20s}")
            for k, m, c in zip(scores.steps, scores.means, scores.ci95, strict=True):
                lines.append(f"  {k:<30d}{format_score(m, c, self.classification):>20s}")
        for label, values in scores.baselines.items():
            base = Scores(values.unsqueeze(1))
            text = format_score(base.means[0], base.ci95[0], self.classification) if label != "chance" else \
                f"{100 * base.means[0]:.2f}%"
            lines.append(f"  {label:30s}{text:>20s}")
        published = fewshot_published(self.env.family, self.agent, shape.ways, shape.shots)
        if published is not None:
            lines.append(f"  {published['source']}: {published['text']}")
        return lines

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        state = {"net": self.net.state_dict(), "generator": self.episode_generator.get_state(), "best": self.best}
        if self.optimizer is not None:
            state["optimizer"] = self.optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.episode_generator.set_state(state["generator"].cpu())
        self.best = float(state.get("best", self.best))
        if self.optimizer is not None:
            self.optimizer.load_state_dict(state["optimizer"])

    # ------------------------------------------------------------------ internals
    def _probe(self, split: str, ways: int | None, shots: int | None, queries: int | None) -> Episodes:
        """One episode of the requested shape on the CPU (None: the family's default), so a bad request fails now."""
        given = {k: v for k, v in (("ways", ways), ("shots", shots), ("queries", queries)) if v is not None}
        return self.env.sample_episodes(1, **given, split=split, generator=torch.Generator().manual_seed(0),
                                        device="cpu")

    def _shape(self, probe: Episodes) -> EpisodeShape:
        if is_classification(probe.support_y):
            ways = int(probe.support_y.max()) + 1
            return EpisodeShape(ways, probe.support_y.shape[1] // ways, probe.query_y.shape[1] // ways)
        return EpisodeShape(1, probe.support_y.shape[1], probe.query_y.shape[1])


__all__ = ["EpisodeShape", "EpisodicTrainer"]
