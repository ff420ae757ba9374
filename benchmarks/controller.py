"""A controller against its family's baselines on held-out tasks: architecture search, augmentation, a learned loss,
meta-KD (``metarl/ArchitectureSearch-v0``, ``Augment-v0``, ``LearnedLoss-v0``, ``MetaKD-v0``).

Meta-trains the controller from a recipe in ``configs/`` for at most ``--max-minutes`` of wall time in this
invocation (runs resume from their checkpoints). For the discrete families, random search then gets the same number
of child trainings: ``global_step / tasks`` random decisions, each scored on ``tasks`` fresh training-split tasks,
the best mean kept. The best hand-designed decision (the family's baselines) is picked on validation-split tasks.
Then ``--seeds`` sets of ``--tasks`` held-out (test-split) tasks train children with every method's decision; a
seed's score is the mean accuracy over its tasks, and the table shows each method's mean over seeds and the
controller's paired difference with its 95% interval over seeds. The target is met when that interval lies above 0
for each comparator the issue names (random search and the best hand-designed child; no and random augmentation;
cross-entropy; plain KD). There are no published figures for these digits settings: the papers report CIFAR-10,
ImageNet and GLUE, so the column of published numbers names the paper's setting only.

Usage:
    python benchmarks/controller.py --recipe controller_architecture_digits.yaml --max-minutes 8
    python benchmarks/controller.py --recipe controller_learned_loss_es.yaml --max-minutes 5 --json loss.json
    python benchmarks/controller.py --recipe controller_augment_digits.yaml --set total_steps=6400  # a longer run
    python benchmarks/controller.py --recipe controller_architecture_digits.yaml --set total_steps=1280 --select 40
    python benchmarks/controller.py --recipe controller_architecture_digits_deep.yaml --select 40 --select-from observed
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import torch
from metarl.agents.controller import ControllerTrainer
from metarl.agents.controller.evaluate import decide, greedy_choices, policy_choices

from metarl.stats import paired_interval
from metarl.training.recipes import benchmark_values, recipe_trainer, timed_fit

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TARGETS = {"ArchitectureSearch": ("random search", "best hand-designed"), "Augment": ("no augmentation", "random"),
           "LearnedLoss": ("cross-entropy",), "MetaKD": ("plain KD",)}
PUBLISHED = {"ArchitectureSearch": "NAS (Zoph & Le 2017): 3.65% CIFAR-10 error; no digits figure",
             "Augment": "AutoAugment (Cubuk et al. 2019): CIFAR-10 error 3.9 -> 2.6% (Wide-ResNet); no digits figure",
             "LearnedLoss": "ML3 (Bechtle et al. 2021): faster convergence than CE on MNIST; no table figure",
             "MetaKD": "MetaDistil (Zhou et al. 2022): +0.5-1.5 GLUE points over KD; no digits figure"}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def train(args: argparse.Namespace) -> tuple[ControllerTrainer, float]:
    values = benchmark_values(Path(args.recipe).stem, args.set, args.device, args.seed, args.logdir)
    trainer = recipe_trainer(CONFIGS / args.recipe, values, ControllerTrainer)
    return trainer, timed_fit(trainer, 60.0 * args.max_minutes, progress=not args.no_progress)


def random_search(trainer: ControllerTrainer, trainings: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The best of ``trainings / tasks`` uniformly random decisions, each scored on ``tasks`` fresh training tasks,
    and every candidate's score."""
    process, per = trainer.process, trainer.config.tasks
    generator = torch.Generator().manual_seed(trainer.config.seed + 777)
    candidates = torch.randint(0, process.choices, (max(1, trainings // per), process.decisions), generator=generator)
    return best_of(trainer, candidates, generator)


def best_of(trainer: ControllerTrainer, candidates: torch.Tensor, generator: torch.Generator, chunk: int = 32
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """The best of decisions ``candidates (N, K)``, each scored on ``tasks`` fresh training-split tasks, and the
    scores ``(N,)``."""
    process, per = trainer.process, trainer.config.tasks
    scores = []
    for first in range(0, candidates.shape[0], chunk):
        block = candidates[first : first + chunk]
        tasks = trainer.env.sample_tasks(block.shape[0] * per, generator, split="train")
        choices = block.float().repeat_interleave(per, 0).to(process.device)
        accuracy, _ = process.train_children(tasks, choices)
        scores.append(accuracy.view(-1, per).mean(1).cpu())
    scores = torch.cat(scores)
    return candidates[scores.argmax()].float(), scores


def best_observed(trainer: ControllerTrainer, count: int) -> torch.Tensor:
    """The ``count`` distinct decisions ``(count, K)`` that scored best (mean accuracy over their children, one task
    each) among those the controller's training already trained children with."""
    choices, accuracy = trainer.observed_decisions()
    if not len(accuracy):
        raise SystemExit("--select-from observed: this run kept no scored decisions (a run of estimator reinforce or "
                         "ppo, started with this version, keeps them in its checkpoints)")
    unique, inverse = torch.unique(choices, dim=0, return_inverse=True)
    mean = torch.zeros(len(unique)).scatter_reduce(0, inverse, accuracy, "mean", include_self=False)
    return unique[mean.argsort(descending=True)[:count]]


def best_baseline(trainer: ControllerTrainer, tasks: int) -> tuple[str, torch.Tensor]:
    """The family's baseline with the best mean accuracy on ``tasks`` validation-split tasks."""
    task = trainer.env.sample_tasks(tasks, trainer.generator("tasks", seed=99), split="validation")
    scores = {name: float(decide(None, trainer.process, task, None, fixed=c).returns.mean())
              for name, c in trainer.process.baselines().items()}
    name = max(scores, key=scores.get)
    return name, trainer.process.baselines()[name]


def evaluate(trainer: ControllerTrainer, decisions: dict[str, torch.Tensor | None], args: argparse.Namespace
             ) -> dict[str, list[float]]:
    """Per-seed mean held-out accuracy of every method (None: a uniformly random decision per task)."""
    process, per_seed = trainer.process, {name: [] for name in decisions}
    for s in range(args.first_seed, args.first_seed + args.seeds):
        task = trainer.env.sample_tasks(args.tasks, trainer.generator("tasks", seed=1000 + s), split="test")
        scored: dict[tuple, float] = {}  # a decision two methods share (the best hand-designed) trains once
        for name, choices in decisions.items():
            if choices is None:
                noise = torch.Generator().manual_seed(2000 + s)
                choices = torch.randint(0, process.choices, (args.tasks, process.decisions), generator=noise).float()
            key = tuple(choices.flatten().tolist())
            if key not in scored:
                scored[key] = float(decide(None, process, task, None, fixed=choices).returns.mean())
            per_seed[name].append(scored[key])
        print(f"  held-out seed {s + 1}/{args.first_seed + args.seeds}: " + ", ".join(
            f"{name} {100 * values[-1]:.2f}" for name, values in per_seed.items()), flush=True)
    return per_seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default="controller_architecture_digits.yaml")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-minutes", type=float, default=10.0)
    parser.add_argument("--seeds", type=int, default=10, help="held-out task sets")
    parser.add_argument("--tasks", type=int, default=32, help="held-out tasks per set")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="the first held-out task set (10: sets 11-20, fresh tasks for a confirmation run)")
    parser.add_argument("--logdir", default="runs/benchmarks")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", default=None)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a recipe value on top (a resumed run takes only total_steps and checkpoint_every)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--select", type=int, default=0, metavar="N",
                        help="the controller's decision is the best of N it samples, each scored on `tasks` training "
                             "tasks (as random search scores its candidates); random search gets those trainings too")
    parser.add_argument("--select-from", choices=("samples", "observed"), default="samples",
                        help="--select's candidates: decisions the trained controller samples, or the best-scoring "
                             "distinct decisions among those its training already trained children with")
    args = parser.parse_args()

    start_cpu, start_wall = cpu_seconds(), time.perf_counter()
    trainer, seconds = train(args)
    train_cpu = cpu_seconds() - start_cpu
    family, process = trainer.env.family, trainer.process
    decisions: dict[str, torch.Tensor | None] = {"controller": greedy_choices(trainer)}
    search_cpu, selection = 0.0, args.select * trainer.config.tasks
    if args.select:  # the controller's decision: the best of its samples, within the budget random search gets
        before = cpu_seconds()
        generator = torch.Generator().manual_seed(trainer.config.seed + 555)
        decisions["controller greedy"] = decisions["controller"]
        candidates = (best_observed(trainer, args.select) if args.select_from == "observed"
                      else policy_choices(trainer, args.select, generator))
        decisions["controller"], scores = best_of(trainer, candidates, generator)
        print(f"selection among {len(candidates)} {args.select_from} decisions: {selection} child trainings, "
              f"{cpu_seconds() - before:.0f} CPU s; best {100 * scores.max():.2f}% on training tasks")
    if process.discrete:
        before = cpu_seconds()
        decisions["random search"], scores = random_search(trainer, trainer.global_step + selection)
        search_cpu = cpu_seconds() - before
        quartiles = " / ".join(f"{100 * q:.1f}" for q in scores.quantile(torch.tensor([0.25, 0.5, 0.75, 0.9])))
        print(f"random search's {scores.numel()} candidates on training tasks: quartiles and 90th percentile "
              f"{quartiles}%, best {100 * scores.max():.2f}%")
        name, choices = best_baseline(trainer, args.tasks)
        decisions["best hand-designed"] = choices
        print(f"best hand-designed on validation tasks: {name}")
    decisions.update(process.baselines())
    if process.discrete:
        decisions["random"] = None
    for name in ("controller", "controller greedy", "random search"):
        if name in decisions and hasattr(process, "describe"):
            print(f"{name}: {process.describe(decisions[name])}")
    per_seed = evaluate(trainer, decisions, args)
    mine = torch.tensor(per_seed["controller"])
    print(f"\n{trainer.config.env}: {trainer.global_step:,} child trainings ({trainer.config.estimator}) + "
          f"{selection} to select, "
          f"{seconds / 60:.1f} min wall of training in total, {train_cpu:.0f} CPU s in this invocation; random "
          f"search {search_cpu:.0f} CPU s; {args.seeds} seeds x {args.tasks} held-out tasks")
    print(f"  {'method':24s} {'accuracy %':>11s} {'controller - method (pp, 95% over seeds)':>42s}")
    rows = {}
    for name, values in per_seed.items():
        mean = 100 * sum(values) / len(values)
        row = f"  {name:24s} {mean:11.2f}"
        if name != "controller":
            diff, half = paired_interval(100 * (mine - torch.tensor(values)))
            row += f" {f'{diff:+.2f} ± {half:.2f}':>42s}"
            rows[name] = (diff, half)
        print(row)
    verdicts = {name: rows[name][0] - rows[name][1] > 0 for name in TARGETS[family] if name in rows}
    for name, met in verdicts.items():
        print(f"  target: controller beats {name}: {'MET' if met else 'NOT MET'}")
    print(f"  published: {PUBLISHED[family]}")
    print(f"  wall time of this invocation: {time.perf_counter() - start_wall:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"family": family, "recipe": args.recipe, "per_seed": per_seed,
                                               "differences": rows, "targets": verdicts,
                                               "child_trainings": trainer.global_step,
                                               "selection_trainings": selection, "train_cpu_s": train_cpu,
                                               "random_search_cpu_s": search_cpu}, indent=1))


if __name__ == "__main__":
    main()
