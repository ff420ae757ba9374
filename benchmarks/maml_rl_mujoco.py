"""MAML-TRPO on the HalfCheetah families against the MAML paper's curve, over 10 paired evaluation seeds.

Loads a trained MAML-RL run (``metarl train --config configs/maml_rl_halfcheetah_dir_2h.yaml``) and, optionally,
the multi-task baseline trained the same way (``--set pretrain=true``), and evaluates both with the same seeds:
evaluation seed s draws the same held-out tasks and environment noise for both policies. Printed, with 95%
Student-t intervals over the seeds:

- the return before and after one policy-gradient step, and the paired gain of the step (adaptation works
  when its interval lies above 0);
- where a baseline is given, MAML after one step minus the baseline after one step (MAML beats the pretrained
  policy when that interval lies above 0);
- the paper's figure after one step (``maml_published``) and the gap to it. The target is 10% of it.

The script exits 1 when the adapted policy does not beat the baseline or misses the target.

Usage:
    python benchmarks/maml_rl_mujoco.py runs/RUN [--baseline runs/PRETRAINED_RUN] [--seeds 10] [--tasks 10]
"""

from __future__ import annotations

import argparse
import math

import torch
from metarl.agents.maml_rl import MAMLTrainer
from metarl.agents.maml_rl.evaluate import evaluate_adaptation

from metarl.published import maml_published
from metarl.stats import paired_interval


def returns(trainer: MAMLTrainer, policy: torch.nn.Module, seeds: int, tasks: int) -> torch.Tensor:
    """Mean return over ``tasks`` held-out tasks after 0 and 1 steps, per seed: (seeds, 2)."""
    rows = []
    for seed in range(seeds):
        scores = evaluate_adaptation(policy, trainer.config, tasks=tasks, split="test", seed=1000 + seed,
                                     step_sizes=trainer.config.eval_step_sizes[:1])
        rows.append(scores.returns.double().mean(0))
    return torch.stack(rows)


def line(name: str, values: torch.Tensor) -> str:
    mean, half = paired_interval(values)
    return f"  {name:34s} {mean:9.2f} +- {half:6.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a MAML-RL run directory or checkpoint")
    parser.add_argument("--baseline", help="the pretrained (multi-task) run trained the same way")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=10, help="held-out tasks per seed")
    args = parser.parse_args(argv)
    trainer = MAMLTrainer.resume(args.run)
    maml = returns(trainer, trainer.policy, args.seeds, args.tasks)
    print(f"{trainer.config.env} {trainer.config.env_kwargs}: {trainer.iteration} meta-iterations, "
          f"{trainer.global_step:,} steps; {args.seeds} seeds x {args.tasks} held-out tasks, 95% intervals")
    print(line("MAML before adaptation", maml[:, 0]))
    print(line("MAML after 1 step", maml[:, 1]))
    print(line("gain of the step (paired)", maml[:, 1] - maml[:, 0]))
    failed = False
    if args.baseline:
        base = returns(trainer, trainer.load_baseline(args.baseline), args.seeds, args.tasks)
        print(line("pretrained after 1 step", base[:, 1]))
        difference = maml[:, 1] - base[:, 1]
        print(line("MAML - pretrained (paired)", difference))
        mean, half = paired_interval(difference)
        print(f"  MAML beats the pretrained baseline: {'MET' if mean - half > 0 else 'NOT MET'}")
        failed |= not mean - half > 0
    published = maml_published(trainer.env.family, trainer.env.config)
    if published is not None:
        paper, target = published["maml"][1], published["target_values"][1]
        ours = float(maml[:, 1].mean())
        gap = (ours - paper) / abs(paper)
        print(f"  {published['source']}: {paper:.1f} after 1 step; ours {ours:.1f} ({100 * gap:+.0f}%), "
              f"target {target:g}: {'MET' if ours >= target else 'NOT MET'}")
        failed |= not ours >= target
    else:
        print("  no published figure for this setting")
    return 1 if failed or math.isnan(float(maml.mean())) else 0


if __name__ == "__main__":
    raise SystemExit(main())
