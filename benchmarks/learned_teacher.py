"""Learned teacher against NoTeach, RandTeach and self-paced learning: training instances to reach tau on held-out
students (Fan et al. 2018, whose teacher needs about 45% of NoTeach's instances on MNIST).

Meta-trains the teacher from a recipe in ``configs/`` for at most ``--max-minutes`` of wall time in this
invocation (runs live in ``--logdir`` and resume from their checkpoints, so a run's time adds up over
invocations). Then ``--seeds`` sets of ``--students`` held-out students (test split: held-out images for digits)
are taught by every method; a student's score is the number of kept examples until its test accuracy reaches
tau (its whole budget if never). Per seed the mean is taken over students; the table shows means over seeds,
each method's instances relative to NoTeach with the paired 95% interval over seeds, and whether the learned
teacher meets the target of at most 70% of NoTeach's instances. RandTeach keeps at random at the learned
teacher's own keep rate. A short stable-baselines3 PPO run on the single-env view of ``metarl/Teach-v0``
(``--sb3-steps``) shows that an off-the-shelf library can train the teacher too.

Usage:
    python benchmarks/learned_teacher.py --checkpoint best --json teach.json   # PPO + critic, digits MLP students
    python benchmarks/learned_teacher.py --recipe learned_teacher_digits_mlp.yaml --max-minutes 10 --sb3-steps 0
    python benchmarks/learned_teacher.py --max-minutes 0 --checkpoint best    # score a trained run again
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from metarl.agents.learned_teacher import LearnedTeacherTrainer
from metarl.agents.learned_teacher.evaluate import held_out

from metarl.stats import paired_interval
from metarl.training.loop import BEST_FILE
from metarl.training.recipes import recipe_trainer, timed_fit

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TARGET = 0.7


def train(args: argparse.Namespace) -> tuple[LearnedTeacherTrainer, float]:
    """Meta-train (or resume) the recipe's run for at most ``--max-minutes`` more; returns it and its seconds."""
    name = f"{Path(args.recipe).stem}__{args.seed}"
    values = {"device": args.device, "seed": args.seed, "logdir": args.logdir, "run_name": name, "figures": False}
    trainer = recipe_trainer(CONFIGS / args.recipe, values, LearnedTeacherTrainer)
    return trainer, timed_fit(trainer, 60.0 * args.max_minutes, progress=not args.no_progress)


def evaluate(trainer: LearnedTeacherTrainer, args: argparse.Namespace) -> dict:
    """Per-seed mean instances of every method and the paired comparison with NoTeach."""
    per_seed: dict[str, list[float]] = {}
    reached: dict[str, list[float]] = {}
    keep: dict[str, list[float]] = {}
    for s in range(args.seeds):
        results = held_out(trainer, args.students, "test", 1000 + s)
        for name, result in results.items():
            per_seed.setdefault(name, []).append(float(result.instances.mean()))
            reached.setdefault(name, []).append(float(result.reached.float().mean()))
            keep.setdefault(name, []).append(result.keep_rate)
        print(f"  held-out seed {s + 1}/{args.seeds}: " + ", ".join(
            f"{name} {per_seed[name][-1]:.0f}" for name in results) + " instances", flush=True)
    noteach = torch.tensor(per_seed["noteach"])
    table = {}
    for name, values in per_seed.items():
        ratio, half = paired_interval(torch.tensor(values) / noteach)
        table[name] = {"instances": sum(values) / len(values), "ratio_to_noteach": ratio, "ratio_half_width": half,
                       "reached": sum(reached[name]) / len(reached[name]),
                       "keep_rate": sum(keep[name]) / len(keep[name])}
    return table


def sb3_teacher(args: argparse.Namespace, env_kwargs: dict) -> dict:
    """A short stable-baselines3 PPO run on ``gymnasium.make("metarl/Teach-v0")``; mean episode return before and
    after, over ``--sb3-episodes`` episodes of held-out (test-split) students."""
    import gymnasium
    from stable_baselines3 import PPO

    import metarl  # noqa: F401  (registers the metarl/ ids)

    def returns(model: PPO | None) -> float:
        env = gymnasium.make("metarl/Teach-v0", split="test", **env_kwargs)
        total = 0.0
        obs, _ = env.reset(seed=args.seed)
        for _ in range(args.sb3_episodes):
            done = False
            while not done:
                action = env.action_space.sample() * 0 + 1 if model is None else model.predict(obs)[0]
                obs, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                done = terminated or truncated
            obs, _ = env.reset()
        return total / args.sb3_episodes

    env = gymnasium.make("metarl/Teach-v0", **env_kwargs)
    began = time.perf_counter()
    model = PPO("MlpPolicy", env, n_steps=256, batch_size=64, seed=args.seed, verbose=0, device="cpu")
    model.learn(args.sb3_steps)
    seconds = time.perf_counter() - began
    return {"steps": args.sb3_steps, "seconds": seconds, "noteach_return": returns(None),
            "sb3_ppo_return": returns(model)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="learned_teacher_digits_mlp_ppo_gae.yaml",
                        help="a learned-teacher config in configs/")
    parser.add_argument("--max-minutes", type=float, default=30.0, help="meta-training wall time, this call")
    parser.add_argument("--seeds", type=int, default=10, help="held-out student sets (paired across methods)")
    parser.add_argument("--students", type=int, default=32, help="held-out students per seed")
    parser.add_argument("--seed", type=int, default=0, help="meta-training seed")
    parser.add_argument("--sb3-steps", type=int, default=2048, help="stable-baselines3 PPO steps (0: skip)")
    parser.add_argument("--sb3-episodes", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--logdir", default="runs/learned-teacher-benchmark")
    parser.add_argument("--train-only", action="store_true", help="meta-train (or resume) and stop, no evaluation")
    parser.add_argument("--checkpoint", choices=["last", "best"], default="last",
                        help="evaluate the run's last state or its best.pt (recipes with keep_best)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()

    trainer, seconds = train(args)
    if args.train_only:
        print(f"{args.recipe}: {trainer.global_step:,} minibatches, {seconds / 60:.1f} min of meta-training")
        return
    if args.checkpoint == "best":
        best = Path(trainer.run_dir) / BEST_FILE
        if not best.exists():
            parser.error(f"{best} does not exist: the recipe needs keep_best: true")
        trainer = LearnedTeacherTrainer.resume(best, {"device": args.device})
        print(f"evaluating {best} (lowest validation/instances_ratio {trainer.best:.3f}, at "
              f"{trainer.global_step:,} minibatches)")
    table = evaluate(trainer, args)
    env = trainer.env
    print(f"{trainer.config.env} ({', '.join(f'{k}={v}' for k, v in env.config.items())})")
    print(f"teacher: {args.recipe}, {trainer.config.estimator}, {args.checkpoint} state at {trainer.global_step:,} "
          f"minibatches of a run of {seconds / 60:.1f} min of meta-training; {args.seeds} seeds x {args.students} "
          "held-out students")
    print(f"  {'teacher':10s} {'instances to tau':>17s} {'reached':>8s} {'keep rate':>10s} {'/ noteach (95% CI)':>22s}")
    for name, row in table.items():
        interval = f"{row['ratio_to_noteach']:.3f} ± {row['ratio_half_width']:.3f}"
        print(f"  {name:10s} {row['instances']:17.1f} {row['reached']:8.2f} {row['keep_rate']:10.2f} {interval:>22s}")
    ratio = table["learned"]["ratio_to_noteach"]
    verdict = "meets" if ratio <= TARGET else "misses"
    print(f"learned teacher needs {ratio:.0%} of NoTeach's instances: {verdict} the target of <= {TARGET:.0%} "
          "(paper: about 45% on MNIST)")
    results = {"recipe": args.recipe, "minutes": seconds / 60, "minibatches": trainer.global_step, "table": table}
    if args.sb3_steps > 0:
        sb3 = sb3_teacher(args, trainer.config.env_kwargs)
        print(f"stable-baselines3 PPO on gymnasium.make('metarl/Teach-v0'): {sb3['steps']} steps in "
              f"{sb3['seconds']:.0f} s; mean held-out return {sb3['sb3_ppo_return']:.3f} "
              f"(keep everything: {sb3['noteach_return']:.3f})")
        results["sb3"] = sb3
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
