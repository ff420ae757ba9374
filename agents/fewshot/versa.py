"""VERSA (Gordon et al. 2019): an amortized Gaussian posterior over each task's linear head, from its support set.

The backbone embeds every example (``h(x)``, shared slow weights). The task-specific latent variable
is the linear head ``psi`` on top of it; an inference network maps the support set to a diagonal
Gaussian ``q(psi | support)`` in one forward pass, no gradient steps:

- **Classification**: the weights and bias of class c come from the mean embedding of c's support
  examples (the paper's per-class amortization, so any number of ways works). A query's logits are then
  Gaussian (the local reparameterization: mean ``h . mu``, variance ``h^2 . sigma^2``); the predictive
  averages the softmax of ``samples`` logit draws.
- **Regression**: one head per task, from the mean of an encoding of the support pairs ``(h(x), y)``,
  plus the task's observation noise. The predictive of a query point is exactly Gaussian: mean
  ``h . mu``, variance ``h^2 . sigma^2 + noise^2``.

Training maximises the query points' predictive log-likelihood (the paper's objective), with Adam.
Scores: query accuracy or the MSE of the predictive mean; calibration is the expected calibration
error of the predictive's top class (classification) or the coverage of the central 90% predictive
interval (regression), both reported by ``metarl eval`` and logged at validation.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from metarl.agents.fewshot.base import EpisodicTrainer
from metarl.agents.fewshot.config import VersaConfig
from metarl.agents.fewshot.scoring import Scores, task_scores
from metarl.agents.fewshot.uncertainty import coverage, expected_calibration_error, predictive_figure
from torch import nn

from metarl.fewshot import Episodes
from metarl.rl.functional import per_task_call

Z90 = 1.6448536269514722
"""Half-width of the central 90% interval of a standard normal."""


class VersaNet(nn.Module):
    """The embedding (``forward``) and the inference network of the head's posterior (mean and log-variance)."""

    def __init__(self, body: nn.Module, classification: bool, hidden: int, targets: int = 1) -> None:
        super().__init__()
        self.body = body
        features = body.out_features
        inputs = features if classification else features + targets
        self.encoder = nn.Sequential(nn.Linear(inputs, hidden), nn.ELU(), nn.Linear(hidden, hidden), nn.ELU())
        self.mean = nn.Linear(hidden, features + 1)
        self.log_var = nn.Linear(hidden, features + 1)
        nn.init.constant_(self.log_var.bias, -6.0)
        self.log_noise = None if classification else nn.Linear(hidden, targets)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def posterior(self, code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of the head ``(..., D + 1)`` (weights, then bias) from an encoding of the support set."""
        return self.mean(code), self.log_var(code).clamp(-20.0, 10.0).exp()


def linear_gaussian(features: torch.Tensor, mean: torch.Tensor, variance: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of ``h . w + b`` for ``(w, b) ~ N(mean, diag variance)``: ``(E, Q, D)`` with ``(E, K, D + 1)``
    heads -> two ``(E, Q, K)``.

    Example:
        >>> m, v = linear_gaussian(torch.ones(1, 1, 2), torch.ones(1, 1, 3), torch.full((1, 1, 3), 0.5))
        >>> m.item(), v.item()
        (3.0, 1.5)
    """
    mu = features @ mean[..., :-1].transpose(1, 2) + mean[..., -1].unsqueeze(1)
    var = features.pow(2) @ variance[..., :-1].transpose(1, 2) + variance[..., -1].unsqueeze(1)
    return mu, var


class VersaTrainer(EpisodicTrainer):
    """VERSA: amortized inference of a Gaussian posterior over the task's head; classification and regression.

    Example:
        >>> from metarl.agents.fewshot import VersaConfig
        >>> VersaTrainer.agent, VersaConfig().samples  # trainer = VersaTrainer(VersaConfig()); trainer.fit()
        ('versa', 10)
    """

    agent = "versa"
    config_type = VersaConfig
    config: VersaConfig
    seed_streams = {**EpisodicTrainer.seed_streams, "samples": 1}
    """The base streams, and the head samples drawn in training."""

    def build_model(self) -> VersaNet:
        body = self.backbone(None).body
        targets = 1 if self.classification else self.outputs
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.stream_seed("model"))
            net = VersaNet(body, self.classification, self.config.inference_hidden, targets).to(self.device)
        self.sample_generator = self.generator("samples", device=self.device)
        self.last_calibration: dict[str, float] = {}
        """Calibration of the last :meth:`evaluate`: ``ece`` (classification) or ``coverage90`` (regression)."""
        self._calibration: list[tuple[torch.Tensor, torch.Tensor | None]] = []
        return net

    # ------------------------------------------------------------------ the predictive
    def predictive(self, episodes: Episodes, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Classification: log predictive probabilities ``(E, Q, ways)`` and nothing. Regression: the predictive's
        mean and variance ``(E, Q, d)``."""
        support = per_task_call(self.net, None, episodes.support_x)
        query = per_task_call(self.net, None, episodes.query_x)
        if self.classification:
            ways = int(episodes.support_y.max()) + 1
            onehot = F.one_hot(episodes.support_y, ways).to(support.dtype)
            pooled = onehot.transpose(1, 2) @ support / onehot.sum(1).unsqueeze(-1)  # (E, N, D)
            mean, variance = self.net.posterior(self.net.encoder(pooled))
            mu, var = linear_gaussian(query, mean, variance)  # (E, Q, N)
            noise = torch.randn((self.config.samples, *mu.shape), generator=generator, device=mu.device)
            log_probs = torch.log_softmax(mu + var.sqrt() * noise, -1)
            return torch.logsumexp(log_probs, 0) - math.log(self.config.samples), mu.new_zeros(())
        code = self.net.encoder(torch.cat([support, episodes.support_y], -1)).mean(1, keepdim=True)  # (E, 1, H)
        mean, variance = self.net.posterior(code)
        mu, var = linear_gaussian(query, mean, variance)  # (E, Q, 1)
        return mu, var + (2 * self.net.log_noise(code)).exp()

    def log_likelihood(self, episodes: Episodes, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-episode mean log predictive density of the query targets ``(E,)``, and the query scores ``(E,)``."""
        first, second = self.predictive(episodes, generator)
        if self.classification:
            ll = first.gather(-1, episodes.query_y.unsqueeze(-1)).squeeze(-1).mean(1)
            return ll, task_scores(first, episodes.query_y)
        normal = torch.distributions.Normal(first, second.sqrt())
        return normal.log_prob(episodes.query_y).flatten(1).mean(1), task_scores(first, episodes.query_y)

    # ------------------------------------------------------------------ training and scoring
    def learn(self) -> dict[str, float]:
        ep = self.episodes()
        ll, scores = self.log_likelihood(ep, self.sample_generator)
        loss = -ll.mean()
        self.update(loss)
        return self.train_scalars(loss, scores.detach())

    @torch.no_grad()
    def score(self, episodes: Episodes) -> torch.Tensor:
        first, second = self.predictive(episodes, torch.Generator(self.device).manual_seed(0))
        if self.classification:
            confidence, predicted = first.exp().max(-1)
            self._calibration.append((confidence.flatten().cpu(), (predicted == episodes.query_y).flatten().cpu()))
        else:
            inside = (episodes.query_y - first).abs() <= Z90 * second.sqrt()
            self._calibration.append((inside.float().flatten().cpu(), None))
        return task_scores(first, episodes.query_y).unsqueeze(1)

    def evaluate(self, episodes: int, split: str = "test", seed: int = 0) -> Scores:
        """As :meth:`EpisodicTrainer.evaluate`; also sets :attr:`last_calibration` (ECE, or 90%-interval coverage)."""
        self._calibration = []
        scores = super().evaluate(episodes, split, seed)
        if self.classification:
            confidence = torch.cat([c for c, _ in self._calibration])
            correct = torch.cat([k for _, k in self._calibration])
            self.last_calibration = {"ece": expected_calibration_error(confidence, correct,
                                                                       self.config.calibration_bins)}
        else:
            self.last_calibration = {"coverage90": coverage(torch.cat([c for c, _ in self._calibration]))}
        return scores

    def validate(self) -> dict[str, float]:
        scalars = super().validate()
        scalars.update({f"validation/{name}": value for name, value in self.last_calibration.items()})
        return scalars

    def evaluation_report(self, trials: int = 1000, split: str = "test", seed: int = 0, greedy: bool = False
                          ) -> list[str]:
        lines = super().evaluation_report(trials, split, seed, greedy)
        if "ece" in self.last_calibration:
            lines.append(f"  expected calibration error ({self.config.calibration_bins} bins of the top-class "
                         f"probability): {100 * self.last_calibration['ece']:.2f}%")
        else:
            lines.append(f"  query points inside the central 90% predictive interval: "
                         f"{100 * self.last_calibration['coverage90']:.1f}%")
        return lines

    def figures(self) -> dict[str, Any]:
        """Regression: the predictive mean and 90% interval of a few test tasks against the true function."""
        if self.classification:
            return {}
        episodes = self.env.sample_episodes(4, ways=1, shots=self.eval_shape.shots, queries=100, split="test",
                                            generator=torch.Generator().manual_seed(0), device=self.device
                                            ).to(self.device, torch.get_default_dtype())
        with torch.no_grad():
            mean, variance = self.predictive(episodes, torch.Generator(self.device).manual_seed(0))
        return {"adaptation/predictive": predictive_figure(episodes, mean, variance.sqrt() * Z90,
                                                           title=f"{self.agent} at {self.global_step:,} tasks")}

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "samples": self.sample_generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.sample_generator.set_state(state["samples"].cpu())


__all__ = ["VersaNet", "VersaTrainer", "linear_gaussian"]
