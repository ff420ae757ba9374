"""PEARL on the point robot, dense and sparse (Rakelly et al. 2019): train each recipe, score it on held-out goals.

For each setting this trains PEARL from its recipe in ``configs/`` (resuming a saved run of the same name, so a
longer budget continues where the last one stopped), then runs one evaluation trial on each of ``--trials``
test goals and prints the return of every episode of the trial with a 95% interval, the posterior's entropy
before each episode, the oracle (which knows the goal) on the same goals, the published reference, the target,
whether it is met, and the training's CPU time (process time: all threads, not the wall clock).

Targets. Dense: the adapted episode within 10% of the oracle's return (the paper reports no dense
point-robot number). Sparse: the adapted episode at least half the oracle's return; the paper reports this
setting as a learning curve (Fig. 6), against which only the oracle gives a number.

Usage:
    python benchmarks/pearl_navigation.py                                  # both settings
    python benchmarks/pearl_navigation.py --settings dense --max-minutes 15 --json pearl.json
    python benchmarks/pearl_navigation.py --settings sparse --set gradient_steps=250
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import torch
from metarl.agents.pearl import PEARLTrainer, evaluate_pearl
from metarl.agents.pearl.evaluate import entropy_figure, oracle_returns

from metarl.bench import write_json
from metarl.errors import ConfigError
from metarl.stats import mean_ci95
from metarl.training.recipes import benchmark_values, load_config, recipe_trainer, timed_fit

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
# name -> (recipe, fraction of the oracle's one-episode return the adapted episode must reach)
SETTINGS = {"dense": ("pearl_navigation_dense.yaml", None), "sparse": ("pearl_navigation_sparse.yaml", 0.5)}
DENSE_MARGIN = 0.10
"""Dense returns are negative: the adapted episode must be within this fraction of the oracle's."""


def setting_values(name: str, args: argparse.Namespace) -> dict:
    return benchmark_values(name, args.set, args.device, args.seed, args.logdir)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_setting(name: str, args: argparse.Namespace) -> dict:
    file, fraction = SETTINGS[name]
    trainer = recipe_trainer(CONFIGS / file, setting_values(name, args), PEARLTrainer)
    cpu, wall = cpu_seconds(), time.perf_counter()
    spent = timed_fit(trainer, None if args.max_minutes is None else args.max_minutes * 60,
                      progress=not args.no_progress)
    cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
    scores = evaluate_pearl(trainer, args.trials, split="test", seed=0)
    if args.figures:
        Path(args.figures).mkdir(parents=True, exist_ok=True)
        entropy_figure(scores).savefig(Path(args.figures) / f"pearl_{name}.png", dpi=80)
    oracle = oracle_returns(trainer, args.trials, "test", 0)
    explored = {k: float(evaluate_pearl(trainer, args.trials, split="test", seed=0, trajectories=k + 1,
                                        exploration=k).returns[:, -1].mean()) for k in args.exploration}
    episodes = [mean_ci95(scores.returns[:, k].double()) for k in range(scores.returns.shape[1])]
    oracle_mean = float(oracle.double().mean())
    adapted = float(episodes[-1][0])
    target = oracle_mean * (1 + DENSE_MARGIN) if fraction is None else oracle_mean * fraction
    return {"setting": name, "episodes": [float(m) for m, _ in episodes], "ci95": [float(h) for _, h in episodes],
            "entropy": scores.entropy_at_episode_ends().tolist(), "oracle": oracle_mean, "adapted": adapted,
            "target": target, "met": adapted >= target, "after_exploration": explored,
            "latent_spread": latent_spread(trainer), "steps": trainer.global_step, "iterations": trainer.iteration,
            "wall_minutes_total": spent / 60, "wall_minutes_now": wall / 60, "cpu_minutes_now": cpu / 60,
            "threads": torch.get_num_threads(), "device": str(trainer.device)}


def latent_spread(trainer: PEARLTrainer) -> list[float]:
    """Per-dimension standard deviation, over the training tasks, of the posterior mean given each task's context
    (64 transitions): where it is far above the prior's 1, a z drawn from the prior stands for no task, and the
    exploration episodes it drives say little about the goal."""
    index = torch.arange(trainer.config.train_tasks, device=trainer.device)
    with torch.no_grad():
        batch = trainer.context.sample(index, 64, torch.Generator(trainer.device).manual_seed(0))
        mean, _ = trainer.encoder.posterior(trainer.batch_context(batch))
    return mean.std(0).tolist()


def lines(r: dict) -> list[str]:
    out = [f"{r['setting']}: {r['iterations']} iterations, {r['steps']:,} environment steps; this call "
           f"{r['cpu_minutes_now']:.1f} CPU-minutes ({r['wall_minutes_now']:.1f} wall; "
           f"{r['wall_minutes_total']:.1f} wall minutes over all calls), {r['threads']} thread(s)"]
    for k, (mean, half, entropy) in enumerate(zip(r["episodes"], r["ci95"], r["entropy"], strict=False)):
        out.append(f"  episode {k + 1}: {mean:8.2f} ± {half:.2f}   posterior entropy before it {entropy:6.2f} nats")
    out.append(f"  posterior entropy at the end of the trial {r['entropy'][-1]:.2f} nats")
    for k, value in r["after_exploration"].items():
        out.append(f"  diagnosis: one posterior episode after {k} exploration episode(s) (a prior z each): {value:.2f}")
    spread = ", ".join(f"{v:.2f}" for v in r["latent_spread"])
    out.append(f"  diagnosis: std over the training tasks of each dimension of the posterior mean {spread} (prior: 1)")
    out.append(f"  oracle (one episode, knows the goal) {r['oracle']:.2f}; target for the last episode "
               f"{r['target']:.2f}: {'MET' if r['met'] else 'NOT MET'}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--max-minutes", type=float, help="wall-clock cap on each setting's training in this call")
    parser.add_argument("--trials", type=int, default=100, help="held-out test goals")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--logdir", default="runs/pearl-navigation")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--figures", help="also save each setting's evaluation figure (return per episode, reward and "
                                          "posterior entropy per step) as FIGURES/pearl_SETTING.png")
    parser.add_argument("--exploration", type=int, nargs="*", default=[1, 3, 10], metavar="K",
                        help="also print the return of one posterior episode after K exploration episodes")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="change a recipe value, e.g. --set gradient_steps=250 (repeatable)")
    args = parser.parse_args()
    try:
        for name in args.settings:
            load_config(CONFIGS / SETTINGS[name][0], setting_values(name, args), trainer_cls=PEARLTrainer)
    except ConfigError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    results = []
    for name in args.settings:
        results.append(run_setting(name, args))
        print("\n".join(lines(results[-1])), flush=True)
    if args.json:
        write_json(results, args.json)
        print(f"wrote {args.json}")
    if not all(r["met"] for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
