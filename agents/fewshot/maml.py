"""Gradient-based learners: MAML, first-order MAML and Reptile, the whole meta-batch adapted in one vmapped pass.

All three keep one set of parameters per task (:func:`metarl.rl.functional.task_params`) and take the
inner gradient steps with :func:`metarl.rl.functional.adapt`: one ``autograd.grad`` per step for the
whole meta-batch, since task t's loss depends only on its own row of parameters. At test time each
adapts on an episode's support set with ``eval_steps`` steps of ``eval_lr`` (default: ``inner_lr``)
and is scored on the query set after every step.

- **MAML** (Finn et al. 2017): inner steps on the support set, the query loss of the adapted
  parameters differentiated through the steps (second order), Adam on the mean over tasks.
- **First-order MAML**: the same, with the inner gradients treated as constants, so the
  meta-gradient is the query gradient at the adapted parameters.
- **Meta-SGD** (Li et al. 2017): MAML whose inner step size is a learned tensor of the parameter's
  shape (one step size per entry, initialised to ``inner_lr``), meta-learned with the initialisation;
  test-time steps use the learned step sizes.
- **Reptile** (Nichol et al. 2018): ``inner_steps`` plain SGD steps per task on all of its labelled
  examples (support and query), no second derivatives; the initialisation then moves ``lr`` of the
  way to the mean of the adapted parameters (``lr`` decreasing linearly to 0 with ``anneal``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from metarl.agents.fewshot.backbones import FewShotNet
from metarl.agents.fewshot.base import EpisodicTrainer
from metarl.agents.fewshot.config import MAMLConfig, MetaSGDConfig, ReptileConfig
from metarl.agents.fewshot.scoring import adaptation_scores, scored_steps, support_loss, task_losses, task_scores
from torch import nn

from metarl.errors import ConfigError
from metarl.fewshot import Episodes
from metarl.rl.functional import Params, adapt, per_task_call, task_params
from metarl.training.loop import check_finite


class GradientTrainer(EpisodicTrainer):
    """Shared by MAML, FOMAML and Reptile: the backbone with a ``ways``-output head, adaptation at test time."""

    config: MAMLConfig

    def build_model(self) -> FewShotNet:
        if self.eval_shape.ways != self.train_shape.ways:
            raise ConfigError(f"{self.agent}'s head has one output per training class ({self.train_shape.ways}); "
                              f"eval_ways ({self.eval_shape.ways}) must equal ways")
        return self.backbone(self.outputs)

    @property
    def eval_lr(self) -> float:
        return self.config.eval_lr if self.config.eval_lr is not None else self.config.inner_lr

    def meta_params(self, tasks: int, detached: bool = False) -> Params:
        """The shared parameters repeated for ``tasks`` tasks (gradients flow back unless ``detached``)."""
        return task_params({n: p.detach() if detached else p for n, p in self.net.named_parameters()}, tasks)

    def score(self, episodes: Episodes) -> torch.Tensor:
        return adaptation_scores(self.net, self.meta_params(episodes.batch_size, detached=True), episodes,
                                 self.config.eval_schedule(self.eval_lr))

    def score_steps(self) -> list[int]:
        return scored_steps(self.config.eval_steps)

    def describe_scores(self) -> str:
        return (f"query {self.metric} after k gradient steps of {self.config.describe_schedule(self.eval_lr)} on the "
                "support set")


class MAMLTrainer(GradientTrainer):
    """MAML (second order): the query loss after ``inner_steps`` support steps, differentiated through them.

    Example:
        >>> from metarl.agents.fewshot import MAMLConfig
        >>> config = MAMLConfig(env="metarl/Sinusoid-v0", ways=1, shots=10, inner_lr=0.01, total_steps=2500)
        >>> MAMLTrainer(config).fit(progress=False)  # doctest: +SKIP
    """

    agent = "maml"
    config_type = MAMLConfig
    first_order: ClassVar[bool] = False

    def inner_schedule(self, steps: int) -> list[float] | list[Params]:
        """The step sizes of ``steps`` inner steps: ``inner_lr`` each (Meta-SGD: its learned tensors)."""
        return [self.config.inner_lr] * steps

    def learn(self) -> dict[str, float]:
        cfg, ep = self.config, self.episodes()
        adapted = adapt(support_loss(self.net, ep.support_x, ep.support_y), self.meta_params(ep.batch_size),
                        self.inner_schedule(cfg.inner_steps), self.first_order)[-1]
        out = per_task_call(self.net, adapted, ep.query_x)
        loss = task_losses(out, ep.query_y).mean()
        self.update(loss)
        return self.train_scalars(loss, task_scores(out.detach(), ep.query_y))


class FOMAMLTrainer(MAMLTrainer):
    """First-order MAML: as :class:`MAMLTrainer`, with the inner gradients held constant in the meta-gradient."""

    agent = "fomaml"
    first_order = True


class StepSizes(nn.Module):
    """One learned step size per parameter entry of ``module``, each initialised to ``initial``.

    Example:
        >>> sizes = StepSizes(torch.nn.Linear(2, 3), 0.1)
        >>> {n: tuple(v.shape) for n, v in sizes.named().items()}
        {'weight': (3, 2), 'bias': (3,)}
    """

    def __init__(self, module: nn.Module, initial: float) -> None:
        super().__init__()
        self.names = [name for name, _ in module.named_parameters()]
        self.sizes = nn.ParameterList([nn.Parameter(torch.full_like(p.detach(), initial)) for p in module.parameters()])

    def named(self) -> Params:
        """The step sizes by parameter name (a mapping :func:`metarl.rl.functional.gradient_step` takes)."""
        return dict(zip(self.names, self.sizes, strict=True))


class MetaSGDTrainer(MAMLTrainer):
    """Meta-SGD: MAML with a learned step size per parameter entry (the step sizes are part of the checkpoint).

    Example:
        >>> from metarl.agents.fewshot import MetaSGDConfig
        >>> MetaSGDTrainer.agent, MetaSGDConfig().inner_lr  # the step sizes start at inner_lr
        ('meta-sgd', 0.4)
    """

    agent = "meta-sgd"
    config_type = MetaSGDConfig

    def build_model(self) -> FewShotNet:
        net = super().build_model()
        self.step_sizes = StepSizes(net, self.config.inner_lr).to(self.device)
        return net

    def build_optimizer(self) -> torch.optim.Optimizer:
        """Adam on two groups: the initialisation and the step sizes (the same ``lr``)."""
        return torch.optim.Adam([{"params": self.net.parameters()}, {"params": self.step_sizes.parameters()}],
                                lr=self.config.lr)

    def inner_schedule(self, steps: int) -> list[Params]:
        return [self.step_sizes.named()] * steps

    def learn(self) -> dict[str, float]:
        scalars = super().learn()
        sizes = torch.cat([s.detach().flatten() for s in self.step_sizes.sizes])
        scalars.update({"perf/step_size_mean": float(sizes.mean()), "perf/step_size_abs_max": float(sizes.abs().max())})
        return scalars

    def score(self, episodes: Episodes) -> torch.Tensor:
        return adaptation_scores(self.net, self.meta_params(episodes.batch_size, detached=True), episodes,
                                 self.inner_schedule(self.config.eval_steps))

    def describe_scores(self) -> str:
        return f"query {self.metric} after k gradient steps of the learned step sizes on the support set"

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "step_sizes": self.step_sizes.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.step_sizes.load_state_dict(state["step_sizes"])


class ReptileTrainer(GradientTrainer):
    """Reptile: SGD on each task's examples, then a step of the initialisation towards the adapted parameters.

    Example:
        >>> from metarl.agents.fewshot import ReptileConfig
        >>> ReptileTrainer(ReptileConfig(total_steps=50)).fit(progress=False)  # doctest: +SKIP
    """

    agent = "reptile"
    config_type = ReptileConfig
    config: ReptileConfig

    def build_optimizer(self) -> None:
        return None

    def learn(self) -> dict[str, float]:
        cfg, ep = self.config, self.episodes()
        x, y = torch.cat([ep.support_x, ep.query_x], 1), torch.cat([ep.support_y, ep.query_y], 1)
        last: dict[str, torch.Tensor] = {}

        def loss_fn(params: Params, step: int) -> torch.Tensor:
            out = per_task_call(self.net, params, x)
            losses = task_losses(out, y)
            if step == cfg.inner_steps - 1:
                last.update(loss=losses.detach().mean(), scores=task_scores(out.detach(), y))
            return losses.sum()

        with torch.no_grad():
            adapted = adapt(loss_fn, self.meta_params(ep.batch_size, detached=True), [cfg.inner_lr] * cfg.inner_steps)
            check_finite("the inner loss", last["loss"])
            size = cfg.lr * max(0.0, 1.0 - self.global_step / cfg.total_steps) if cfg.anneal else cfg.lr
            for name, p in self.net.named_parameters():
                p.add_(self.parallel.mean(adapted[-1][name].mean(0)) - p, alpha=size)
        scalars = self.train_scalars(last["loss"], last["scores"])
        scalars["perf/meta_step_size"] = size
        return scalars


__all__ = ["FOMAMLTrainer", "GradientTrainer", "MAMLTrainer", "MetaSGDTrainer", "ReptileTrainer", "StepSizes"]
