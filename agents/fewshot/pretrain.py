"""The pretrained-backbone baseline: ordinary training on all training data, fine-tuning on each test episode.

Training is not episodic. Classification trains the backbone with a head over *every* training class
on labelled images (:meth:`~metarl.envs.glyphs.ImageClassification.sample_images`); regression
trains the network on the points of training tasks, all tasks at once (the MAML paper's "pretrained on
all tasks" baseline). An iteration uses as many examples as ``meta_batch`` episodes hold and counts
``meta_batch`` training episodes, so equal ``total_steps`` means equal data for every learner.

At test time each episode fine-tunes its own copy with ``eval_steps`` gradient steps of ``eval_lr`` on
its support set (``finetune: head`` only the head, on the body's fixed features; ``all`` the whole
network). Classification starts from a fresh zero-initialised head with one output per episode class;
regression keeps the trained head.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from metarl.agents.fewshot.backbones import FewShotNet, GlobalBatchNorm2d
from metarl.agents.fewshot.base import EpisodicTrainer
from metarl.agents.fewshot.config import PretrainConfig
from metarl.agents.fewshot.scoring import adaptation_scores, scored_steps

from metarl.errors import ConfigError
from metarl.fewshot import Episodes
from metarl.rl.functional import Params, per_task_call, task_params


class PretrainTrainer(EpisodicTrainer):
    """Pretrain on all training classes (or tasks), fine-tune on the support set at test time.

    Example:
        >>> from metarl.agents.fewshot import PretrainConfig
        >>> trainer = PretrainTrainer(PretrainConfig(total_steps=3200, finetune="all"))
        >>> trainer.fit(progress=False); print("\\n".join(trainer.evaluation_report(100)))  # doctest: +SKIP
    """

    agent = "pretrain"
    config_type = PretrainConfig
    config: PretrainConfig

    def build_model(self) -> FewShotNet:
        if not self.classification:
            net = self.backbone(self.outputs)
            self.eval_net = net
            return net
        if not hasattr(self.env, "sample_images"):
            raise ConfigError(f"{self.config.env} cannot give labelled images of all its training classes, which "
                              "pretraining needs")
        net = self.backbone(len(self.env.data.splits["train"]))
        with torch.random.fork_rng(devices=[]):  # its head's values are never used: fine-tuning starts from zeros
            self.eval_net = FewShotNet(net.body, self.eval_shape.ways).to(self.device)
        return net

    def learn(self) -> dict[str, float]:
        shape = self.train_shape
        if self.classification:
            count = self.config.meta_batch * shape.ways * (shape.shots + shape.queries)
            x, y = self.env.sample_images(count, split="train", generator=self.episode_generator, device=self.device,
                                          part=self.part(count))
            x = x.to(torch.get_default_dtype())
            out = self.globally_normalised(x)
            loss = F.cross_entropy(out, y)
            scores = (out.detach().argmax(-1) == y).float()
        else:
            ep = self.episodes()
            x, y = torch.cat([ep.support_x, ep.query_x], 1), torch.cat([ep.support_y, ep.query_y], 1)
            errors = (self.net(x.flatten(0, 1)) - y.flatten(0, 1)).pow(2)
            loss, scores = errors.mean(), errors.detach().flatten(1).mean(1)
        self.update(loss)
        return self.train_scalars(loss, scores)

    def globally_normalised(self, x: torch.Tensor) -> torch.Tensor:
        """The network's output on this process's share of the images, batch-normalised with the statistics of the
        whole global batch, so that training under torchrun equals training in one process."""
        norms = [m for m in self.net.modules() if isinstance(m, GlobalBatchNorm2d)]
        for norm in norms:
            norm.world = self.parallel
        try:
            return self.net(x)
        finally:
            for norm in norms:
                norm.world = None

    def initial_head(self) -> Params:
        """The head fine-tuning starts from: zeros for classification, the trained one for regression."""
        if self.classification:
            return {name: torch.zeros_like(p) for name, p in self.eval_net.head.named_parameters()}
        return {name: p.detach() for name, p in self.net.head.named_parameters()}

    def score(self, episodes: Episodes) -> torch.Tensor:
        cfg, tasks = self.config, episodes.batch_size
        head = self.initial_head()
        steps = cfg.eval_schedule(cfg.eval_lr)
        if cfg.finetune == "head":
            with torch.no_grad():
                features = Episodes(per_task_call(self.net.body, None, episodes.support_x), episodes.support_y,
                                    per_task_call(self.net.body, None, episodes.query_x), episodes.query_y)
            return adaptation_scores(self.eval_net.head, task_params(head, tasks), features, steps)
        params = {f"body.{n}": p.detach() for n, p in self.net.body.named_parameters()}
        params.update({f"head.{n}": p for n, p in head.items()})
        return adaptation_scores(self.eval_net, task_params(params, tasks), episodes, steps)

    def score_steps(self) -> list[int]:
        return scored_steps(self.config.eval_steps)

    def describe_scores(self) -> str:
        part = "the head" if self.config.finetune == "head" else "the whole network"
        return (f"query {self.metric} after k gradient steps of {self.config.describe_schedule(self.config.eval_lr)} "
                f"on {part} (support set)")


__all__ = ["PretrainTrainer"]
