"""VERSA on sinusoid regression: accuracy of its predictive mean, calibration of its predictive interval, a figure.

Trains VERSA from ``configs/versa_sinusoid.yaml`` (a Gaussian posterior over the regressor's linear head
and the task's noise, inferred from the support set in one pass) with a wall-clock cap (the run continues
from its checkpoint on a later call), then scores ``--tasks`` test tasks with 5 support and 100 query
points: the MSE of the predictive mean with its 95% interval, beside the MAML paper's 5-shot MSEs (MAML
after 1 / 10 steps: 0.67 / 0.35), and the share of query points inside the central 90% predictive
interval (0.90 when calibrated). ``--figure`` saves the predictive mean and 90% interval of four test
tasks against the true function (the ``adaptation/predictive`` figure the run logs to TensorBoard).

Usage:
    python benchmarks/versa_sinusoid.py --max-minutes 10 --figure docs/versa_sinusoid.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from metarl.agents.fewshot import VersaTrainer
from metarl.envs.sinusoid import MAML_SINUSOID

from metarl.training.recipes import recipe_trainer, timed_fit

RECIPE = Path(__file__).resolve().parents[1] / "configs" / "versa_sinusoid.yaml"
TARGET_COVERAGE = (0.85, 0.95)
"""The 90% interval's coverage counted as calibrated."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-minutes", type=float, default=10.0, help="training wall time, this call")
    parser.add_argument("--tasks", type=int, default=1000, help="test tasks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--logdir", default="runs/versa-sinusoid")
    parser.add_argument("--figure", help="save the predictive figure here (PNG)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    values = {"device": args.device, "seed": args.seed, "logdir": args.logdir,
              "run_name": f"versa-sinusoid__{args.seed}"}
    trainer = recipe_trainer(RECIPE, values, VersaTrainer)
    seconds = timed_fit(trainer, 60.0 * args.max_minutes, progress=not args.no_progress)
    scores = trainer.evaluate(args.tasks, "test", seed=0)
    coverage = trainer.last_calibration["coverage90"]
    baselines = {name: float(v.mean()) for name, v in scores.baselines.items()}
    maml = " / ".join(f"{v:g}" for v in MAML_SINUSOID["maml"].values())
    print(f"VERSA on {trainer.config.env}: {trainer.global_step:,} training tasks in {seconds / 60:.1f} min; "
          f"{args.tasks} test tasks, {trainer.eval_shape.shots} support and {trainer.eval_shape.queries} query points")
    print(f"  MSE of the predictive mean   {scores.means[0]:.3f} ± {scores.ci95[0]:.3f}")
    for name, value in baselines.items():
        print(f"  {name:28s} {value:.3f}")
    print(f"  MAML paper (5 shots), after 1 / 5 / 10 steps: {maml}")
    low, high = TARGET_COVERAGE
    print(f"  query points inside the 90% predictive interval: {100 * coverage:.1f}% "
          f"({'calibrated' if low <= coverage <= high else 'not calibrated'}: {100 * low:.0f}-{100 * high:.0f}%)")
    if args.figure:
        figure = trainer.figures()["adaptation/predictive"]
        Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(args.figure, dpi=90)
        print(f"wrote {args.figure}")
    if args.json:
        result = {"mse": scores.means[0], "ci95": scores.ci95[0], "coverage90": coverage, "baselines": baselines,
                  "tasks_trained": trainer.global_step, "minutes": seconds / 60}
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
