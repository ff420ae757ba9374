"""PEARL's evaluation on held-out tasks: trials of ``eval_trajectories`` episodes, each starting from the prior.

For the first ``exploration_trajectories`` episodes the actor acts on a z drawn afresh from the prior for each
episode (posterior sampling explores; the paper's code likewise resamples z after every evaluation trajectory
and infers the posterior only once the exploration trajectories are done); from then on each episode draws a
fresh z from the posterior given every transition of the trial so far, the belief being updated online after
each step. The actor acts on the mean of its squashed Gaussian, as in the paper's evaluation. All tasks run at
once, one batched environment per task.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from metarl.agents.pearl.encoder import OnlineBelief

from metarl.published import pearl_published
from metarl.registry import make
from metarl.rl.sac import scale_action
from metarl.stats import mean_ci95


@dataclasses.dataclass
class PEARLScores:
    """Per-task results of evaluation trials: ``returns`` (tasks, episodes), ``step_reward`` (tasks, steps),
    ``entropy`` (tasks, steps + 1): the posterior's entropy before the first step and after each step."""

    returns: torch.Tensor
    step_reward: torch.Tensor
    entropy: torch.Tensor
    horizon: int

    def episode_means(self) -> torch.Tensor:
        return self.returns.mean(0)

    def entropy_at_episode_ends(self) -> torch.Tensor:
        """Mean posterior entropy at the start of the trial and after each episode: (episodes + 1,)."""
        return self.entropy.mean(0)[:: self.horizon]


def evaluate_pearl(trainer: Any, tasks: int, split: str = "test", seed: int = 0,
                   trajectories: int | None = None, exploration: int | None = None) -> PEARLScores:
    """Run one evaluation trial on each of ``tasks`` tasks of ``split`` (drawn from ``seed``) with ``trainer``'s
    encoder and actor; nothing of the trainer's state (generators, environments) changes. ``trajectories`` and
    ``exploration`` replace the config's ``eval_trajectories`` and ``exploration_trajectories``."""
    cfg, device = trainer.config, trainer.device
    episodes = trajectories or cfg.eval_trajectories
    exploring = cfg.exploration_trajectories if exploration is None else exploration
    env = make(cfg.env, num_envs=tasks, device=device, seed=seed, split=split, check=False, **cfg.env_kwargs)
    task = env.sample_tasks(tasks, torch.Generator().manual_seed(seed), split=split)
    generator = torch.Generator(device).manual_seed(seed)
    belief = OnlineBelief(tasks, cfg.latent, device)
    horizon = env.horizon
    returns = torch.zeros(tasks, episodes, device=device)
    step_reward = torch.zeros(tasks, episodes * horizon, device=device)
    entropy = torch.zeros(tasks, episodes * horizon + 1, device=device)
    entropy[:, 0] = belief.entropy()
    prior = OnlineBelief(tasks, cfg.latent, device)
    with torch.no_grad():
        for episode in range(episodes):
            z = (prior if episode < exploring else belief).sample(generator)
            obs = env.reset(task=task)
            alive = torch.ones(tasks, dtype=torch.bool, device=device)
            for t in range(horizon):
                action = trainer.sac.act(trainer.policy_input(obs, z), deterministic=True)
                step = env.step(scale_action(action, trainer.low, trainer.high))
                reward = step.reward * alive
                belief.update(*trainer.encoder(trainer.context_rows(obs, action, step.reward, step.final_obs)), alive)
                k = episode * horizon + t
                returns[:, episode] += reward
                step_reward[:, k] = reward
                entropy[:, k + 1] = belief.entropy()
                alive = alive & ~step.episode_end
                obs = step.obs
    return PEARLScores(returns.cpu(), step_reward.cpu(), entropy.cpu(), horizon)


def oracle_returns(trainer: Any, tasks: int, split: str, seed: int) -> torch.Tensor | None:
    """Per-episode return of the family's ``oracle`` reference solver on the same kind of tasks, if it has one."""
    from metarl.solvers import solver_names, trial_returns

    cfg = trainer.config
    env = make(cfg.env, num_envs=tasks, device=trainer.device, seed=seed, split=split, check=False,
               **{**cfg.env_kwargs, "episodes": 1})
    if "oracle" not in solver_names(env):
        return None
    return trial_returns(env, "oracle", torch.Generator().manual_seed(seed)).cpu()


def _cell(values: torch.Tensor) -> str:
    mean, half = mean_ci95(values.double())
    return f"{float(mean):8.2f} ± {float(half):.2f}"


def report_lines(trainer: Any, scores: PEARLScores, tasks: int, split: str, seed: int) -> list[str]:
    """The lines ``metarl eval`` prints for a PEARL run."""
    cfg, env = trainer.config, trainer.env
    settings = ", ".join(f"{k}={v}" for k, v in env.config.items())
    lines = [f"{cfg.env} ({settings}): {tasks} {split} tasks (seed {seed}); checkpoint at {trainer.global_step:,} "
             f"steps (iteration {trainer.iteration})",
             f"  return of each episode of a trial (± 95% interval over tasks); z from the prior for the first "
             f"{cfg.exploration_trajectories}, then from the posterior"]
    entropies = scores.entropy_at_episode_ends()
    for k in range(scores.returns.shape[1]):
        lines.append(f"  episode {k + 1}: {_cell(scores.returns[:, k])}   posterior entropy before it "
                     f"{float(entropies[k]):7.2f} nats")
    lines.append(f"  posterior entropy at the end of the trial: {float(entropies[-1]):.2f} nats")
    oracle = oracle_returns(trainer, tasks, split, seed)
    if oracle is not None:
        lines.append(f"  oracle (knows the goal), one episode: {_cell(oracle)}")
    reference = pearl_published(env, env.config)
    if reference:
        lines.append(f"  published: {reference['source']}: {reference['text']}")
    return lines


def entropy_figure(scores: PEARLScores) -> Any:
    """Three panels: return of each episode, reward at each step, and the posterior's entropy at each step."""
    from metarl.training.figures import blank_figure

    figure = blank_figure((11, 3))
    left, middle, right = figure.subplots(1, 3)
    episodes = scores.returns.shape[1]
    left.plot(range(1, episodes + 1), scores.episode_means().tolist(), marker="o")
    left.set_xlabel("episode of the trial")
    left.set_ylabel("mean return")
    middle.plot(range(1, scores.step_reward.shape[1] + 1), scores.step_reward.mean(0).tolist())
    middle.set_xlabel("step of the trial")
    middle.set_ylabel("mean reward")
    right.plot(range(scores.entropy.shape[1]), scores.entropy.mean(0).tolist())
    right.set_xlabel("step of the trial")
    right.set_ylabel("posterior entropy (nats)")
    for axes in (middle, right):
        for boundary in range(scores.horizon, scores.step_reward.shape[1], scores.horizon):
            axes.axvline(boundary, color="grey", linestyle=":", linewidth=0.8)
    return figure
