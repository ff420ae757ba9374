"""Few-shot adaptation on held-out tasks: the return after 0, 1, 2, ... gradient steps, as in the MAML paper.

For every task, K trajectories are collected with the current parameters, one vanilla policy-gradient
step is taken on them (the same inner loss as in training), and so on; the return reported after k
steps is the mean return of the K trajectories collected with the parameters after k steps. MAML's
initialisation, a multi-task pretrained policy and a randomly initialised one go through exactly the
same procedure on the same tasks and the same environment noise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from metarl.agents.maml_rl.config import MAMLConfig
from metarl.agents.maml_rl.sampling import collect, inner_loss, process

from metarl.registry import make
from metarl.rl import MLPPolicy, adapt, task_params
from metarl.stats import mean_ci95

MAX_EVAL_ENVS = 4000
"""Environments stepped at once in evaluation (tasks are evaluated in chunks of this many trajectories)."""


@dataclasses.dataclass
class AdaptationScores:
    """``returns`` (tasks, steps + 1): mean trajectory return of each task after k gradient steps."""

    returns: torch.Tensor

    @property
    def means(self) -> list[float]:
        return mean_ci95(self.returns)[0].tolist()

    @property
    def ci95(self) -> list[float]:
        """Half-width of the normal-approximation 95% interval of each mean."""
        return mean_ci95(self.returns)[1].tolist()


def evaluate_adaptation(policy: MLPPolicy, config: MAMLConfig, tasks: int = 100, split: str = "test", seed: int = 0,
                        device: torch.device | str = "cpu", step_sizes: Sequence[float] | None = None
                        ) -> AdaptationScores:
    """Adapt ``policy`` to each of ``tasks`` tasks of ``split`` of ``config``'s environment.

    Everything else comes from ``config``: ``eval_trajectories`` trajectories per step, one gradient step per
    entry of ``eval_step_sizes`` (or of ``step_sizes``, when given), and the inner loss of training (``gamma``,
    ``gae_lambda``, ``baseline_reg``, ``normalize_advantages``). The tasks and the environment noise depend only
    on ``seed``: two policies evaluated with the same seed see the same tasks.

    Example:
        >>> import metarl
        >>> from metarl.rl import MLPPolicy
        >>> policy = MLPPolicy(2, metarl.make("metarl/Navigation2D-v0").single_action_space, hidden=(8,))
        >>> config = MAMLConfig(env_kwargs={"horizon": 5}, eval_trajectories=2)
        >>> scores = evaluate_adaptation(policy, config, tasks=4)
        >>> len(scores.means)  # return after 0, 1, 2, 3 steps (eval_step_sizes: 0.1, 0.05, 0.05)
        4
    """
    step_sizes = config.eval_step_sizes if step_sizes is None else step_sizes
    trajectories = config.eval_trajectories
    chunk = max(1, min(tasks, MAX_EVAL_ENVS // trajectories))
    env = make(config.env, num_envs=chunk * trajectories, device=device, seed=seed, split=split, check=False,
               **config.env_kwargs)
    all_tasks = env.sample_tasks(tasks, torch.Generator().manual_seed(seed), split=split)
    sampler = torch.Generator(env.device).manual_seed(seed)
    meta = {name: value.detach() for name, value in policy.named_parameters()}
    results = []
    for start in range(0, tasks, chunk):
        index = torch.arange(start, start + chunk, device=env.device).clamp(max=tasks - 1)  # the last chunk pads
        chunk_tasks = all_tasks[index]
        params = task_params(meta, chunk)
        returns = []
        for k in range(len(step_sizes) + 1):
            batch = collect(env, policy, params, chunk_tasks, trajectories, sampler)
            returns.append(batch.returns().mean(1))
            if k == len(step_sizes):
                break
            process(batch, config.gamma, config.gae_lambda, config.baseline_reg, config.normalize_advantages)
            with torch.no_grad():
                params = adapt(lambda p, _, batch=batch: inner_loss(policy, p, batch), params, [step_sizes[k]])[-1]
        kept = min(chunk, tasks - start)
        results.append(torch.stack(returns, 1)[:kept].cpu())
    return AdaptationScores(torch.cat(results, 0))


def format_table(rows: Sequence[tuple[str, AdaptationScores | None, str]], steps: int,
                 published: Sequence[float] | None = None, targets: Sequence[str] | None = None,
                 reference: str = "MAML (paper)") -> list[str]:
    """Lines of the table: one row per (name, scores, note), then the paper's numbers and the targets.

    Example:
        >>> print(format_table([("ours", AdaptationScores(torch.zeros(2, 2)), "")], 1)[1])
          ours                            0.00 ± 0.00    0.00 ± 0.00
    """
    width = 15
    header = "".join(f"{f'{k} step' + ('s' if k != 1 else ''):>{width}s}" for k in range(steps + 1))
    lines = [f"  {'policy':28s}{header}"]
    for name, scores, note in rows:
        if scores is None:
            lines.append(f"  {name:28s}  {note}")
            continue
        cells = "".join(f" {f'{m:.2f} ± {c:.2f}':>{width - 1}s}"  # a space between cells, however wide
                        for m, c in zip(scores.means, scores.ci95, strict=True))
        lines.append(f"  {name:28s}{cells}{('  ' + note) if note else ''}")
    if published is not None:
        cells = "".join(f"{v:>{width}.2f}" for v in published[:steps + 1])
        lines.append(f"  {reference:28s}{cells}")
    if targets is not None:
        lines.append(f"  {'target':28s}" + "".join(f"{t:>{width}s}" for t in targets[:steps + 1]))
    return lines
