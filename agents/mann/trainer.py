"""Training and scoring the memory-augmented network on the online view of an image family.

Each iteration plays ``num_envs`` trials through the family's RL interface: the network sees the
observation (the image and the one-hot label of the previous image), answers with its most likely
label, and the environment steps. The label of step t arrives in the observation after it (the final
observation of the step), and the loss is the cross-entropy of step t's logits to that label, over the
whole trial (Santoro et al. 2016 train on the labels the same way); backpropagation runs through the
50 steps of the trial and the memory. The view's observations do not depend on the answers, so a trial's
observations are gathered first and the network then runs over them step by step (its answer at step t
sees observations 0..t only); an answer is right when it equals the label, the reward the view gives.

Data-parallel (``torchrun``): each process plays its contiguous share of the ``num_envs`` trials and the
gradients are averaged; a checkpoint holds every process's environments.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.nn.functional as F
from metarl.agents.mann.config import MANNConfig
from metarl.agents.mann.model import MANN

from metarl.engine import join_env_states, split_env_state
from metarl.errors import ConfigError
from metarl.fewshot import shown_before
from metarl.registry import make
from metarl.stats import mean_ci95
from metarl.training.loop import Trainer, check_finite

LAST = 10
"""The trial's last steps whose accuracy is the headline figure."""
INSTANCES = (1, 2, 3, 4, 5, 10)
"""Instances of a class within a trial reported by :class:`OnlineScores` (1: the first time it is shown)."""
SANTORO_OMNIGLOT = {"mann": (36.4, 82.8, 91.0, 92.6, 94.9, 98.1), "lstm": (24.4, 49.5, 55.3, 61.0, 63.6, 62.5)}
"""Santoro et al. 2016, Table 1: Omniglot accuracy (%) at instances :data:`INSTANCES`, 5 classes, one-hot labels."""
RL2_GLYPHS_LAST10 = 48.56
"""RL² on the same view (``configs/rl2_glyphs.yaml``, 20 CPU minutes; docs/benchmarks.md), last 10 steps (%)."""


@dataclasses.dataclass
class OnlineScores:
    """Right answers ``correct (N, T)`` of N trials and how often each step's class was shown before ``seen (N, T)``.

    Example:
        >>> s = OnlineScores(torch.tensor([[0.0, 1.0, 1.0]]), torch.tensor([[0, 0, 1]]))
        >>> s.instance(2)[0], s.last(2)[0]
        (1.0, 1.0)
    """

    correct: torch.Tensor
    seen: torch.Tensor

    def last(self, steps: int = LAST) -> tuple[float, float]:
        """Mean accuracy over the trials' last ``steps`` steps, and the half-width of its 95% interval."""
        mean, half = mean_ci95(self.correct[:, -steps:].mean(1))
        return float(mean), float(half)

    def trial(self) -> tuple[float, float]:
        mean, half = mean_ci95(self.correct.mean(1))
        return float(mean), float(half)

    def instance(self, k: int) -> tuple[float, float]:
        """Accuracy on the k-th showing of a class (over the trials that have one), with its 95% interval."""
        mask = (self.seen == k - 1).double()
        has = mask.sum(1) > 0
        if not bool(has.any()):
            return math.nan, math.nan
        mean, half = mean_ci95((self.correct * mask).sum(1)[has] / mask.sum(1)[has])
        return float(mean), float(half)


class MANNTrainer(Trainer):
    """The memory-augmented neural network (LRUA memory) as an online learner on the RL view.

    Example:
        >>> trainer = MANNTrainer(MANNConfig(num_envs=4, total_steps=400))
        >>> trainer.fit(progress=False)  # doctest: +SKIP
    """

    agent = "mann"
    config_type = MANNConfig
    data_parallel = True
    config: MANNConfig
    seed_streams = {"env": 0, "model": 0}
    metrics = ("validation/accuracy_last10",)

    def __init__(self, config: MANNConfig) -> None:
        super().__init__(config)
        cfg = config
        self.part = self.parallel.shard(cfg.num_envs, "num_envs")
        """This process's environments of the ``num_envs`` (all of them in one process)."""
        self.env = make(cfg.env, num_envs=self.part.stop - self.part.start, device=self.device,
                        seed=self.stream_seed("env"), first_env=self.part.start, **cfg.env_kwargs)
        if not hasattr(self.env, "sample_episodes") or not hasattr(self.env.single_action_space, "n"):
            raise ConfigError(f"mann learns online classification; {cfg.env} has no online classification view "
                              "(use metarl/Glyphs-v0 or Omniglot)")
        self.ways = int(self.env.single_action_space.n)
        self.pixels = int(self.env.single_observation_space.shape[0]) - self.ways
        shape = tuple(int(n) for n in self.env.image_shape)
        self.shape = (cfg.image_size,) * 2 if 0 < cfg.image_size < max(shape) else shape
        """Shape of the images the network sees."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.stream_seed("model"))
            self.model = MANN(self.shape[0] * self.shape[1] + self.ways, self.ways, cfg.hidden, cfg.memory_slots,
                              cfg.memory_width, cfg.read_heads, cfg.usage_decay, cfg.key_strength).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.best = -math.inf

    # ------------------------------------------------------------------ playing trials
    def play(self, env: Any, learn: bool) -> tuple[torch.Tensor, OnlineScores]:
        """One trial in every environment of ``env``: the mean cross-entropy (with its graph when ``learn``) and
        the answers' scores."""
        real = torch.get_default_dtype()  # the network's precision
        observations, labels = [env.reset()], []
        blank = torch.zeros(env.num_envs, dtype=torch.long, device=self.device)
        for _ in range(env.trial_steps):
            step = env.step(blank)  # the answers change no observation
            labels.append(step.final_obs[:, self.pixels:].argmax(-1))  # the answer, shown after the step
            observations.append(step.obs)
        labels = torch.stack(labels)  # (T, B)
        with torch.set_grad_enabled(learn):
            logits, _ = self.model(self.inputs(torch.stack(observations[:-1]).to(real)))
            loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten())
        correct = (logits.detach().argmax(-1) == labels).T.float()
        return loss, OnlineScores(correct, shown_before(labels.T))

    def inputs(self, observations: torch.Tensor) -> torch.Tensor:
        """The network's inputs ``(..., pixels + ways)``: the image pooled to ``image_size``, the previous label."""
        image, label = observations[..., :self.pixels], observations[..., self.pixels:]
        if self.shape != tuple(self.env.image_shape):
            image = F.adaptive_avg_pool2d(image.reshape(-1, 1, *self.env.image_shape), self.shape)
            image = image.reshape(*label.shape[:-1], -1)
        return torch.cat([image, label], -1)

    def evaluate(self, trials: int = 1000, split: str = "test", seed: int = 0) -> OnlineScores:
        """One trial on each of ``trials`` tasks of ``split`` (the same tasks for the same seed)."""
        env = make(self.config.env, num_envs=trials, device=self.device, seed=seed, split=split,
                   **self.config.env_kwargs)
        self.model.eval()
        try:
            return self.play(env, learn=False)[1]
        finally:
            self.model.train()

    # ------------------------------------------------------------------ the iteration
    def train_iteration(self) -> dict[str, float]:
        cfg = self.config
        loss, scores = self.play(self.env, learn=True)
        check_finite("the MANN loss", loss)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.parallel.average_gradients(self.optimizer)
        if cfg.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        self.global_step += cfg.num_envs * self.env.trial_steps
        scalars = {"losses/cross_entropy": float(loss.detach()), "charts/accuracy_last10": scores.last()[0],
                   "charts/accuracy_trial": scores.trial()[0]}
        if (self.iteration + 1) % cfg.validate_every == 0:
            valid = self.evaluate(cfg.validation_trials, "validation", seed=0)
            scalars.update({"validation/accuracy_last10": valid.last()[0],
                            "validation/accuracy_trial": valid.trial()[0],
                            **{f"validation/instance_{k}": valid.instance(k)[0] for k in INSTANCES}})
            self.keep_if_best(scalars["validation/accuracy_last10"], True, chance=1.0 / self.ways,
                              noise=valid.last()[1], save=False)
        return scalars

    def headline(self, scalars: dict[str, float]) -> str:
        return f"last {LAST} steps {scalars['charts/accuracy_last10']:.3f}"

    def run_label(self) -> str:
        return f"{self.env.family}__{self.agent}"

    def evaluation_report(self, trials: int = 1000, split: str = "test", seed: int = 0, greedy: bool = False
                          ) -> list[str]:
        """Accuracy over the last 10 steps, the whole trial and by instance, beside RL² and Santoro et al.'s."""
        scores = self.evaluate(trials, split, seed)
        settings = ", ".join(f"{k}={v}" for k, v in self.env.config.items())
        lines = [f"{self.config.env} ({settings}): {trials} {split} trials of {self.env.trial_steps} steps (seed "
                 f"{seed}), checkpoint at {self.global_step:,} steps; accuracy ± 95%, chance {100 / self.ways:.0f}%",
                 f"  {'mann (this run), last 10 steps':40s}{_percent(scores.last())}",
                 f"  {'rl2 on Glyphs (docs/benchmarks.md)':40s}{RL2_GLYPHS_LAST10:8.2f}%",
                 f"  {'mann (this run), whole trial':40s}{_percent(scores.trial())}",
                 f"  {'instance':10s}{'mann (this run)':>20s}{'MANN (paper)':>16s}{'LSTM (paper)':>16s}   Omniglot"]
        for k, mann, lstm in zip(INSTANCES, *SANTORO_OMNIGLOT.values(), strict=True):
            lines.append(f"  {k:<10d}{_percent(scores.instance(k)):>20s}{mann:15.1f}%{lstm:15.1f}%")
        return lines

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        env = self.env.state_dict()
        if self.parallel.active:  # every process's environments: the run resumes with any number of processes
            env = join_env_states(self.parallel.gather_objects(env))
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "env": env,
                "best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        env = state["env"]
        if env.get("num_envs") != self.env.num_envs:  # saved by another number of processes
            env = split_env_state(env, self.part)
        self.env.load_state_dict(env)
        self.best = float(state.get("best", self.best))


def _percent(value: tuple[float, float]) -> str:
    return f"{100 * value[0]:8.2f}% ± {100 * value[1]:.2f}"


__all__ = ["INSTANCES", "MANNTrainer", "OnlineScores", "SANTORO_OMNIGLOT"]
