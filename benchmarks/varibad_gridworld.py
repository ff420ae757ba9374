"""VariBAD on the VariBAD paper's gridworld: return per inner episode beside the search and oracle solvers, and the
posterior's entropy against the step of the trial.

Trains from ``configs/varibad_goalgrid.yaml`` (or continues the run it names) for ``--steps`` environment steps,
then runs one trial on each of ``--trials`` held-out tasks, recording each episode's return and the entropy of
q(m | trial so far) at every step. The paper reports the per-episode returns only as a figure (its Figure 3), with
variBAD close to its Bayes-optimal agent, which searches in the first episode and goes straight to the goal after
it; the ``search`` solver plays that behaviour on the same tasks. The target: from episode 2 on, VariBAD's return
within ``--tolerance`` of the search solver's. The script exits with status 1 when it misses it. ``--plot`` writes
the entropy curve (and the per-step reward) as a PNG. ``--max-minutes`` caps this call's training; the next call
with the same ``--logdir`` and ``--seed`` continues the run from its checkpoint, and the CPU time printed is the
run's over all calls. ``--set KEY=VALUE`` changes a recipe key for a new run.

Usage:
    python benchmarks/varibad_gridworld.py --steps 20000000 --max-minutes 20 --plot runs/varibad_gridworld.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from metarl.agents.rl2.policy import PolicyInputs
from metarl.agents.varibad.model import gaussian_entropy
from metarl.envs.goal_grid import GoalGrid

import metarl
from metarl.files import write_atomically
from metarl.solvers import trial_returns
from metarl.stats import mean_ci95
from metarl.training.recipes import benchmark_values, recipe_trainer, run_cpu_seconds, timed_fit

RECIPE = Path(__file__).resolve().parents[1] / "configs" / "varibad_goalgrid.yaml"


@torch.no_grad()
def belief_trial(model, env_kwargs: dict, trials: int, seed: int = 0, time_feature: bool = True) -> dict:
    """One trial per test task: returns per episode (N, E), rewards (N, T) and the belief's entropy (N, T)."""
    env = metarl.make("metarl/GoalGrid-v0", num_envs=trials, seed=seed, split="test", rl2=True, check=False,
                      **env_kwargs)
    inputs = PolicyInputs(env.trial_steps, env.single_observation_space.shape[0] - env.extra_size, time_feature)
    generator = torch.Generator().manual_seed(seed)
    obs, state = env.reset(), model.initial_state(trials)
    start = torch.ones(trials, dtype=torch.bool)
    rewards, entropy = torch.zeros(trials, env.trial_steps), torch.zeros(trials, env.trial_steps)
    for t in range(env.trial_steps):
        x = inputs(obs, torch.full((trials,), t))
        mean, logvar, state = model.encode(x.unsqueeze(0), state, start.unsqueeze(0))
        params, _ = model.act(x, mean[0], logvar[0])
        entropy[:, t] = gaussian_entropy(logvar[0])
        step = env.step(model.head.sample(params, generator))
        rewards[:, t] = step.reward
        obs, start = step.obs, step.trial_end
    episodes = rewards.view(trials, env.episodes, env.horizon).sum(-1)
    return {"episodes": episodes, "rewards": rewards, "entropy": entropy}


def solver_episode_returns(name: str, env_kwargs: dict, trials: int, seed: int = 0) -> torch.Tensor:
    """(E,) mean return of each inner episode of a reference solver on the same test tasks."""
    env = metarl.make("metarl/GoalGrid-v0", num_envs=trials, seed=seed, split="test", **env_kwargs)
    per_episode = []
    for episode in range(env.episodes):  # a trial of `episode + 1` episodes, less the one before it
        shorter = {**env_kwargs, "episodes": episode + 1}
        short = metarl.make("metarl/GoalGrid-v0", num_envs=trials, seed=seed, split="test", **shorter)
        per_episode.append(trial_returns(short, name, torch.Generator().manual_seed(seed)).mean())
    totals = torch.stack(per_episode)
    return torch.cat([totals[:1], totals[1:] - totals[:-1]])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="a recipe key (repeatable); a new run "
                        "needs its own --logdir, a saved one keeps its values")
    parser.add_argument("--max-minutes", type=float, help="stop this call's training after this many wall minutes")
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--tolerance", type=float, default=0.5, help="return per episode, from episode 2 on")
    parser.add_argument("--logdir", default="runs/bench-varibad-gridworld")
    parser.add_argument("--plot", type=Path, help="write the posterior entropy against the trial step here (PNG)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    values = benchmark_values("gridworld", args.set, "cpu", args.seed, args.logdir)
    trainer = recipe_trainer(RECIPE, {**values, "total_steps": args.steps})
    seconds = timed_fit(trainer, None if args.max_minutes is None else 60.0 * args.max_minutes, progress=False)
    cpu = run_cpu_seconds(trainer)
    config = trainer.config
    trainer.model.eval()
    result = belief_trial(trainer.model, config.env_kwargs, args.trials, time_feature=config.time_feature)
    ours = result["episodes"].mean(0)
    search = solver_episode_returns("search", config.env_kwargs, args.trials)
    oracle = solver_episode_returns("oracle", config.env_kwargs, args.trials)
    published = GoalGrid.published_episode_returns(metarl.make(config.env, **config.env_kwargs).config)
    half = torch.stack([mean_ci95(column.double())[1] for column in result["episodes"].T])
    cpu_text = "CPU time not recorded" if cpu is None else f"{cpu:.0f} CPU s"
    print(f"VariBAD on {config.env} {config.env_kwargs}: {trainer.global_step:,} of {config.total_steps:,} steps, "
          f"{seconds:.0f} s of training ({cpu_text}, all calls), {args.trials} test trials")
    print(f"  {'episode':10s} " + " ".join(f"{k + 1:>12d}" for k in range(len(ours))))
    print(f"  {'varibad':10s} " + " ".join(f"{m:6.2f} ± {h:4.2f}" for m, h in zip(ours, half, strict=True)))
    for name, values in (("search", search), ("oracle", oracle)):
        print(f"  {name:10s} " + " ".join(f"{v:12.2f}" for v in values))
    print(f"  paper: {published['text']} ({published['source']})")
    entropy = result["entropy"].mean(0)
    marks = [0, 14, 15, 29, 59] if len(entropy) == 60 else [0, len(entropy) - 1]
    print("  posterior entropy (nats) at trial steps " + ", ".join(f"{t + 1}: {entropy[t]:.2f}" for t in marks))
    met = bool((ours[1:] >= search[1:] - args.tolerance).all())
    print(f"  target: episodes 2.. within {args.tolerance} of the search solver: {'MET' if met else 'NOT MET'}")
    if args.plot:
        from metarl.training.figures import method_curves_figure

        steps = list(range(1, len(entropy) + 1))
        figure = method_curves_figure({"posterior entropy": (steps, entropy.tolist()),
                                       "reward per step": (steps, result["rewards"].mean(0).tolist())},
                                      "step of the trial (4 episodes of 15)", "nats / reward",
                                      title="VariBAD on GoalGrid", highlight="posterior entropy")
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(args.plot, dpi=100)
    if args.json:
        write_atomically(args.json, json.dumps({"steps": trainer.global_step, "episodes": ours.tolist(),
                                                "ci95": half.tolist(), "search": search.tolist(),
                                                "oracle": oracle.tolist(), "entropy": entropy.tolist(),
                                                "seconds": seconds, "cpu_seconds": cpu, "met": met}, indent=2).encode())
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
