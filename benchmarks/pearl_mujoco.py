"""PEARL on HalfCheetahVel: a short training from the paper's recipe, and the CPU hours the full run needs.

The recipe (``configs/pearl_halfcheetah_vel.yaml``) has the settings of Rakelly et al. 2019. On a CPU its 2000
gradient steps per iteration on 3 x 300 networks dominate, so this script trains ``--iterations`` iterations
(``--set gradient_steps=...`` to shorten them), evaluates on held-out velocities, then times the parts of an
iteration in this process (CPU seconds: process time, all threads) and projects the full run:

    initial collection + iterations x (collection + gradient_steps x one gradient step)

for the recipe's ``total_steps`` (2,000,000 environment steps) and for HalfCheetahDir's settings (2 training
tasks, meta-batch 4, 2000 steps collected per iteration). The paper's asymptotic returns (Fig. 3) are learning
curves; a run long enough to compare with them needs the hours printed here, or a GPU.

Usage:
    python benchmarks/pearl_mujoco.py --iterations 2 --set gradient_steps=100
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from metarl.agents.pearl import PEARLTrainer, evaluate_pearl

from metarl.bench import write_json
from metarl.errors import ConfigError, MetaRLError
from metarl.stats import mean_ci95
from metarl.training.recipes import benchmark_values, recipe_trainer

RECIPE = Path(__file__).resolve().parents[1] / "configs" / "pearl_halfcheetah_vel.yaml"
DIR_SETTINGS = {"train_tasks": 2, "meta_batch": 4, "prior_steps": 1000, "extra_posterior_steps": 1000,
                "context_size": 256}
"""HalfCheetahDir in the paper's code: what differs from HalfCheetahVel's settings."""


def cpu_time(work, repeats: int) -> float:
    """CPU seconds of one call of ``work``, over ``repeats`` calls."""
    start = time.process_time()
    for _ in range(repeats):
        work()
    return (time.process_time() - start) / repeats


def warm_up(trainer: PEARLTrainer) -> None:
    """One episode on each collecting task, so that the replay and the context have something to sample."""
    cfg = trainer.config
    trainer._collect(torch.arange(cfg.tasks_per_iteration) % cfg.train_tasks, trainer.env.horizon, False, True)


def iteration_costs(trainer: PEARLTrainer, repeats: int) -> dict[str, float]:
    """CPU seconds of one gradient step and of one iteration's collection with ``trainer``'s settings."""
    cfg = trainer.config
    index = torch.arange(cfg.tasks_per_iteration) % cfg.train_tasks

    def collect() -> None:
        trainer._collect(index, cfg.prior_steps, posterior=False, into_context=True)
        trainer._collect(index, cfg.extra_posterior_steps, posterior=True, into_context=False)

    return {"gradient_step": cpu_time(trainer._gradient_step, repeats), "collection": cpu_time(collect, 1),
            "initial_per_task_step": cpu_time(lambda: trainer._collect(index, trainer.env.horizon, False, True), 1)
            / (cfg.tasks_per_iteration * trainer.env.horizon)}


def projected_hours(cfg, costs: dict[str, float]) -> float:
    per_iteration_steps = cfg.tasks_per_iteration * (cfg.prior_steps + cfg.posterior_steps + cfg.extra_posterior_steps)
    initial = cfg.train_tasks * cfg.initial_steps
    iterations = max(0, cfg.total_steps - initial) / per_iteration_steps
    seconds = initial * costs["initial_per_task_step"] + iterations * (
        costs["collection"] + cfg.gradient_steps * costs["gradient_step"])
    return seconds / 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--trials", type=int, default=30, help="held-out velocities")
    parser.add_argument("--repeats", type=int, default=5, help="gradient steps timed for the projection")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--logdir", default="runs/pearl-mujoco")
    parser.add_argument("--json")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE")
    args = parser.parse_args()
    try:
        trainer = recipe_trainer(RECIPE, benchmark_values("vel", args.set, args.device, args.seed, args.logdir),
                                 PEARLTrainer)
    except (ConfigError, MetaRLError) as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    cpu = time.process_time()
    trainer.fit(max_iterations=args.iterations, progress=not args.no_progress)
    cpu = time.process_time() - cpu
    scores = evaluate_pearl(trainer, args.trials, split="test", seed=0)
    episodes = [mean_ci95(scores.returns[:, k].double()) for k in range(scores.returns.shape[1])]
    paper = recipe_trainer(RECIPE, {"device": args.device, "logdir": args.logdir, "run_name": "timing"}, PEARLTrainer,
                           resume=False)
    warm_up(paper)
    vel = iteration_costs(paper, args.repeats)
    direction = recipe_trainer(RECIPE, {"device": args.device, "logdir": args.logdir, "run_name": "timing-dir",
                                        **DIR_SETTINGS}, PEARLTrainer, resume=False)
    warm_up(direction)
    dir_costs = iteration_costs(direction, args.repeats)
    result = {"iterations": trainer.iteration, "steps": trainer.global_step, "cpu_minutes": cpu / 60,
              "gradient_steps_per_iteration": trainer.config.gradient_steps,
              "episodes": [float(m) for m, _ in episodes], "ci95": [float(h) for _, h in episodes],
              "vel_costs": vel, "dir_costs": dir_costs, "vel_hours": projected_hours(paper.config, vel),
              "dir_hours": projected_hours(direction.config, dir_costs), "threads": torch.get_num_threads()}
    print(f"HalfCheetahVel: {result['iterations']} iterations of {result['gradient_steps_per_iteration']} gradient "
          f"steps, {result['steps']:,} environment steps, {result['cpu_minutes']:.1f} CPU-minutes")
    for k, (mean, half) in enumerate(episodes):
        print(f"  episode {k + 1} on {args.trials} test velocities: {mean:8.1f} ± {half:.1f}")
    for name, costs, hours in (("HalfCheetahVel", vel, result["vel_hours"]),
                               ("HalfCheetahDir", dir_costs, result["dir_hours"])):
        print(f"  {name} with the paper's settings: {costs['gradient_step']:.3f} CPU-s per gradient step, "
              f"{costs['collection']:.1f} CPU-s of collection per iteration -> about {hours:.0f} CPU-hours for "
              f"{paper.config.total_steps:,} environment steps ({result['threads']} thread(s))")
    if args.json:
        write_json(result, args.json)


if __name__ == "__main__":
    main()
