"""VariBAD (Zintgraf et al. 2020): PPO on (state, belief) plus a VAE that learns the belief from whole trials.

Collection and the PPO update are the shared trial-PPO step (:class:`~metarl.agents.rl2.trials.TrialPPOTrainer`),
with the encoder's belief, detached, as the policy's input. After the PPO epochs, ``vae_updates`` ELBO steps
train the encoder and decoder on the same rollout: for ``elbo_samples`` belief steps t of each trial, a
latent sampled from q(m | tau_{:t}) decodes every reward (and next observation) of the trial, past and future;
the KL term pulls each belief toward the one before it (the first toward N(0, I)).

Data-parallel (``torchrun``): each process steps its shard of the environments; PPO learns from the gathered
rollout as in RL², and the ELBO of each process's own environments (latent noise drawn for all of them and sliced)
gives a gradient averaged over the processes.
"""

from __future__ import annotations

from typing import Any

import torch
from metarl.agents.rl2.trials import TrialPPOTrainer
from metarl.agents.varibad.config import VariBADConfig
from metarl.agents.varibad.model import VariBADModel, gaussian_entropy, gaussian_kl
from torch import nn

from metarl.rl import Rollout
from metarl.training.loop import check_finite


class VariBADTrainer(TrialPPOTrainer):
    """Trains a :class:`VariBADModel` on an environment family's RL² view.

    Example:
        >>> trainer = VariBADTrainer(VariBADConfig(num_envs=8, device="cpu"))
        >>> trainer.model.latent, trainer.env.trial_steps  # a 5-dimensional belief over 4 episodes of 15 steps
        (5, 60)
    """

    agent = "varibad"
    config_type = VariBADConfig
    data_parallel = True
    seed_streams = {**TrialPPOTrainer.seed_streams, "latent": 2}
    """Random streams: those of the trial-PPO step and the ELBO's belief steps and latent samples (on the device)."""

    def __init__(self, config: VariBADConfig) -> None:
        super().__init__(config)
        self.vae_optimizer = torch.optim.Adam(self.model.vae_parameters(), lr=config.vae_lr)
        self.latent_noise = self.generator("latent", self.device)
        self.last_belief: dict[str, torch.Tensor] = {}

    def build_model(self, input_size: int) -> nn.Module:
        cfg = self.config
        return VariBADModel(input_size, self.inputs.obs_size, self.env.single_action_space, cfg.latent,
                            cfg.encoder_hidden, cfg.encoder_embed, cfg.policy_hidden, cfg.decoder_hidden,
                            time_feature=cfg.time_feature, decode_state=cfg.decode_state,
                            normalize=cfg.normalize_policy_inputs, policy_embed=cfg.policy_embed,
                            policy_layers=cfg.policy_layers)

    def ppo_parameters(self) -> list[nn.Parameter]:
        return self.model.policy_parameters()

    def extra_fields(self) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        return {"next_obs": ((self.inputs.obs_size,), torch.get_default_dtype())}

    def record(self, rollout: Rollout, t: int, step: Any) -> None:
        rollout.put(t, next_obs=step.final_obs[:, : self.inputs.obs_size])  # before an inner episode's reset

    # ------------------------------------------------------------------ the ELBO
    def after_ppo(self, rollout: Rollout, chunk_states: torch.Tensor) -> dict[str, float]:
        stats: dict[str, list[torch.Tensor]] = {"reconstruction": [], "state_reconstruction": [], "kl": []}
        world = self.parallel
        own = {name: value[:, self.part] for name, value in rollout.data.items()}  # this process's environments
        state = chunk_states[0][:, self.part]
        for _ in range(self.config.vae_updates):
            loss, parts = self._elbo_loss(own, state)
            check_finite("the VAE loss", loss)
            self.vae_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            world.average_gradients(self.vae_optimizer)
            self.vae_optimizer.step()
            for key, value in parts.items():
                stats[key].append(value)
        scalars = {f"losses/vae_{key}": float(torch.stack(values).mean()) for key, values in stats.items() if values}
        with torch.no_grad():
            mean, logvar, _ = self.model.encode(own["obs"], state, own["start"])
            mean, logvar = world.gather(mean, 1), world.gather(logvar, 1)  # every process's environments
            kl = self._step_kl(mean, logvar, rollout["start"])
            self.model.update_input_stats(rollout["obs"], mean, logvar)  # what the next rollout's policy reads
        entropy = gaussian_entropy(logvar)
        step = self._trial_step(rollout["start"]).flatten()
        count = torch.zeros(self.env.trial_steps, device=self.device).index_add_(0, step, torch.ones_like(step,
                                                                                 dtype=entropy.dtype))
        per_step = {name: torch.zeros_like(count).index_add_(0, step, value.flatten()) / count.clamp(min=1)
                    for name, value in (("entropy", entropy), ("kl", kl))}
        self.last_belief = {name: value.cpu() for name, value in per_step.items()}
        scalars.update({"belief/entropy": float(entropy.mean()), "belief/kl": float(kl.mean()),
                        "belief/entropy_trial_start": float(per_step["entropy"][0]),
                        "belief/entropy_trial_end": float(per_step["entropy"][-1])})
        return scalars

    @staticmethod
    def _trial_step(start: torch.Tensor) -> torch.Tensor:
        """(T, B) steps since the last trial start within the rollout (from the rollout's first step before one)."""
        steps = torch.arange(start.shape[0], device=start.device).unsqueeze(1).expand_as(start)
        return steps - torch.where(start, steps, 0).cummax(0).values

    @staticmethod
    def _step_kl(mean: torch.Tensor, logvar: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        """(T, B) KL of each belief to the one before it in its trial, the first of a trial to N(0, I)."""
        fresh = start.unsqueeze(-1)
        prior_mean = torch.where(fresh, 0.0, torch.cat([torch.zeros_like(mean[:1]), mean[:-1]]))
        prior_logvar = torch.where(fresh, 0.0, torch.cat([torch.zeros_like(logvar[:1]), logvar[:-1]]))
        return gaussian_kl(mean, logvar, prior_mean, prior_logvar)

    def _elbo_loss(self, rollout: dict[str, torch.Tensor], state: torch.Tensor
                   ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The negative ELBO of the rollout's trials (mean over environments and belief steps) and its parts;
        ``rollout`` holds this process's environments (all of them in one process)."""
        cfg, model, obs_size = self.config, self.model, self.inputs.obs_size
        inputs, start = rollout["obs"], rollout["start"]
        mean, logvar, _ = model.encode(inputs, state, start)
        steps = inputs.shape[0]
        count = steps if cfg.elbo_samples == 0 else min(cfg.elbo_samples, steps)
        chosen = torch.randperm(steps, generator=self.latent_noise, device=self.device)[:count]
        noise = self.parallel.draw(torch.randn, (count, *mean.shape[1:]), 1, generator=self.latent_noise,
                                   device=self.device)
        z = (mean[chosen] + (0.5 * logvar[chosen]).exp() * noise).unsqueeze(1)  # (K, 1, B, L)
        trial = start.long().cumsum(0)
        same = (trial[chosen].unsqueeze(1) == trial.unsqueeze(0)).to(mean.dtype)  # (K, T, B): decode its own trial only
        obs, action = inputs[..., :obs_size].unsqueeze(0), rollout["action"].unsqueeze(0)
        predicted = model.decoder.reward(z, obs, action, rollout["next_obs"].unsqueeze(0))
        reconstruction = ((predicted - rollout["reward"]).square() * same).sum(1).mean()
        loss = reconstruction
        parts = {"reconstruction": reconstruction.detach()}
        if cfg.decode_state:
            error = (model.decoder.next_obs(z, obs, action) - rollout["next_obs"]).square().sum(-1)
            state_reconstruction = (error * same).sum(1).mean()
            loss = loss + cfg.state_coef * state_reconstruction
            parts["state_reconstruction"] = state_reconstruction.detach()
        kl = self._step_kl(mean, logvar, start).mean()
        parts["kl"] = kl.detach()
        return loss + cfg.kl_weight * kl, parts

    # ------------------------------------------------------------------ reporting and state
    def evaluation_report(self, trials: int = 1000, split: str = "test", seed: int = 0,
                          greedy: bool = False) -> list[str]:
        """The trial-PPO report, with what the family's paper says of the return per inner episode."""
        from metarl.published import episode_published

        lines = super().evaluation_report(trials, split, seed, greedy)
        paper = episode_published(self.env.family, self.env.config)
        return lines + ([f"  paper: {paper['text']} ({paper['source']})"] if paper else [])

    def figures(self) -> dict[str, Any]:
        figures = super().figures()
        if self.last_belief:
            from metarl.training.figures import method_curves_figure

            steps = list(range(1, self.env.trial_steps + 1))
            figures["belief/entropy_curve"] = method_curves_figure(
                {"posterior entropy": (steps, self.last_belief["entropy"].tolist())}, "step of the trial",
                "entropy of q(m | trial so far) (nats)", title=f"{self.env.id} at {self.global_step:,} steps")
        return figures

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "vae_optimizer": self.vae_optimizer.state_dict(),
                "latent_noise": self.latent_noise.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.vae_optimizer.load_state_dict(state["vae_optimizer"])
        self.latent_noise.set_state(state["latent_noise"].cpu())
