"""RL² or MANN on the online view of Glyphs: does a recurrent agent learn to classify characters it has never seen?

Trains RL² from ``configs/rl2_glyphs.yaml`` (5 classes, 10 images each per trial: 50 steps, the label of
step t arrives in observation t + 1, reward 1 for a right answer) with a wall-clock cap, then plays one
trial on each of ``--trials`` held-out test trials (classes of the test split, never seen in training)
and prints the accuracy on the last 10 steps of a trial (the issue's figure), over the whole trial, and
by how many times the image's class has been shown before (Santoro et al. 2016, Table 1: "1st instance"
is a guess, later instances can be answered from memory), each with a 95% interval, beside chance.
The run lives in ``--logdir`` and continues from its checkpoint on a later call, its time adding up.

``--agent mann`` trains the memory-augmented network (``configs/mann_glyphs.yaml``: the true label of each
step, read from the next observation, as a cross-entropy loss, as Santoro et al. 2016 train it) on the
same view and scores it the same way, beside RL²'s measured 48.6% on the last 10 steps (the target) and
the paper's Omniglot figures by instance.

Usage:
    python benchmarks/rl2_glyphs.py --max-minutes 20
    python benchmarks/rl2_glyphs.py --max-minutes 0 --trials 2000     # score the saved run only
    python benchmarks/rl2_glyphs.py --agent mann --max-minutes 15 --logdir runs/mann-glyphs
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from metarl.agents.rl2 import RL2Trainer

from metarl.fewshot import shown_before
from metarl.registry import make
from metarl.stats import mean_ci95
from metarl.training import command_line_values
from metarl.training.recipes import recipe_trainer, timed_fit

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
RECIPE = CONFIGS / "rl2_glyphs.yaml"
LAST = 10


def mean_ci(values: torch.Tensor) -> tuple[float, float]:
    """Mean of per-trial values and the half-width of its normal 95% interval."""
    return tuple(float(v) for v in mean_ci95(values))


def score(trainer, trials: int, seed: int) -> dict:
    if trainer.agent == "mann":
        return score_mann(trainer, trials, seed)
    cfg = trainer.config
    scores = trainer.evaluate(trials, "test", seed)
    env = make(cfg.env, num_envs=trials, seed=seed, split="test", rl2=True, check=False, **cfg.env_kwargs)
    env.reset()
    labels = env.task.label.cpu()
    rewards = scores.step_rewards
    seen = shown_before(labels)
    by_instance = []
    for k in range(int(seen.max()) + 1):
        mask = (seen == k).double()
        by_instance.append(mean_ci((rewards * mask).sum(1) / mask.sum(1)))
    return {"last": mean_ci(rewards[:, -LAST:].mean(1)), "trial": mean_ci(rewards.mean(1)),
            "by_instance": by_instance, "chance": 1.0 / env.single_action_space.n, "trials": trials,
            "steps": rewards.shape[1]}


def score_mann(trainer, trials: int, seed: int) -> dict:
    """:func:`score` of a MANN run, from its own online scores (its trials are played through the same view)."""
    scores = trainer.evaluate(trials, "test", seed)
    by_instance = [scores.instance(k) for k in range(1, int(scores.seen.max()) + 2)]
    return {"last": scores.last(LAST), "trial": scores.trial(), "by_instance": by_instance,
            "chance": 1.0 / trainer.ways, "trials": trials, "steps": scores.correct.shape[1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", choices=["rl2", "mann"], default="rl2")
    parser.add_argument("--max-minutes", type=float, default=20.0, help="training wall time, this call")
    parser.add_argument("--trials", type=int, default=1000, help="held-out test trials")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a key of the recipe")
    parser.add_argument("--logdir", default="runs/rl2-glyphs")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    flags = {"device": args.device, "seed": args.seed, "logdir": args.logdir,
             "run_name": f"{args.agent}-glyphs__{args.seed}"}
    values = command_line_values(flags, assignments=args.set)
    if args.agent == "mann":
        from metarl.agents.mann import MANNTrainer

        trainer = recipe_trainer(CONFIGS / "mann_glyphs.yaml", values, MANNTrainer)
    else:
        trainer = recipe_trainer(RECIPE, values, RL2Trainer)
    seconds = timed_fit(trainer, 60.0 * args.max_minutes, progress=not args.no_progress)
    print(f"{trainer.agent} on {trainer.config.env} {trainer.config.env_kwargs}: {trainer.global_step:,} training "
          f"steps ({trainer.global_step // trainer.env.trial_steps:,} trials) in {seconds / 60:.1f} min, "
          f"{trainer.global_step / max(seconds, 1e-9):,.0f} steps/s, {torch.get_num_threads()} threads", flush=True)
    result = score(trainer, args.trials, 0)
    print(f"accuracy on {result['trials']} held-out test trials of {result['steps']} steps (± 95%), "
          f"chance {100 * result['chance']:.0f}%:")
    print("  last {} steps {:7.2f}% ± {:.2f}".format(LAST, *(100 * v for v in result["last"])))
    print("  whole trial   {:7.2f}% ± {:.2f}".format(*(100 * v for v in result["trial"])))
    for k, (mean, ci) in enumerate(result["by_instance"]):
        print(f"  instance {k + 1:2d}   {100 * mean:7.2f}% ± {100 * ci:.2f}")
    above = result["last"][0] - result["last"][1] > result["chance"]
    print(f"  last-{LAST} accuracy above chance with 95% confidence: {'yes' if above else 'no'}")
    if args.agent == "mann":
        from metarl.agents.mann.trainer import INSTANCES, RL2_GLYPHS_LAST10, SANTORO_OMNIGLOT

        met = 100 * result["last"][0] > RL2_GLYPHS_LAST10
        print(f"  target: last-{LAST} accuracy above RL²'s {RL2_GLYPHS_LAST10}%: {'met' if met else 'not met'}")
        print("  Santoro et al. 2016 on Omniglot, instances " + " / ".join(map(str, INSTANCES)) + ": " +
              "; ".join(f"{name.upper()} " + " / ".join(f"{v:g}" for v in values)
                        for name, values in SANTORO_OMNIGLOT.items()))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({**result, "minutes": seconds / 60, "steps_trained": trainer.global_step,
                                               "run_dir": str(trainer.run_dir)}, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
