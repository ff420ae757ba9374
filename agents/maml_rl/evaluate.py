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


def evaluate_adaptation(policy: MLPPolicy, env_id: str, env_kwargs: dict, tasks: int = 100,
                        trajectories: int = 40, step_sizes: Sequence[float] = (0.1, 0.05, 0.05), split: str = "test",
                        seed: int = 0, device: torch.device | str = "cpu", gamma: float = 0.99,
                        gae_lambda: float = 1.0, baseline_reg: float = 1e-5, normalize_advantages: bool = True
                        ) -> AdaptationScores:
    """Adapt ``policy`` to each of ``tasks`` tasks of ``split`` with ``len(step_sizes)`` gradient steps.

    The tasks and the environment noise depend only on ``seed``: two policies evaluated with the same
    seed see the same tasks.

    Example:
        >>> import metarl
        >>> from metarl.rl import MLPPolicy
        >>> policy = MLPPolicy(2, metarl.make("metarl/Navigation2D-v0").single_action_space, hidden=(8,))
        >>> scores = evaluate_adaptation(policy, "metarl/Navigation2D-v0", {"horizon": 5}, tasks=4, trajectories=2)
        >>> len(scores.means)  # return after 0, 1, 2, 3 steps
        4
    """
    chunk = max(1, min(tasks, MAX_EVAL_ENVS // trajectories))
    env = make(env_id, num_envs=chunk * trajectories, device=device, seed=seed, split=split, check=False,
               **env_kwargs)
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
            process(batch, gamma, gae_lambda, baseline_reg, normalize_advantages)
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
