"""Hyperparameters of a VariBAD run; the defaults are the VariBAD paper's gridworld setting."""

from __future__ import annotations

import dataclasses

from metarl.agents.rl2.config import TrialPPOConfig

from metarl.training.config import check_ranges


@dataclasses.dataclass
class VariBADConfig(TrialPPOConfig):
    """Hyperparameters of a VariBAD run (Zintgraf et al. 2020).

    The defaults follow the paper's code's gridworld configuration (latent size 5, GRU of 64, state and belief
    standardised and embedded in 16 tanh units each, one policy layer of 32, KL weight 0.01, PPO clip 0.05,
    discount 0.95, policy learning rate 7e-4, VAE learning rate 1e-3, three VAE updates per iteration), with many
    environments stepped as one batch instead of 16 processes.

    Example:
        >>> VariBADConfig().env, VariBADConfig(env="metarl/BernoulliBandit-v0").latent
        ('metarl/GoalGrid-v0', 5)
    """

    env: str = "metarl/GoalGrid-v0"
    """Environment id (any registered family)."""
    total_steps: int = 20_000_000
    """Training length: environment steps summed over the ``num_envs`` environments."""
    num_envs: int = 256
    """Environments stepped in parallel, each with its own task."""
    lr: float = 7e-4
    """Adam learning rate of the policy and value networks."""
    anneal_lr: bool = False
    """Decrease the policy's learning rate linearly to 0 over ``total_steps``."""
    gamma: float = 0.95
    """Discount within a trial."""
    clip: float = 0.05
    """PPO clip range of the probability ratio."""
    latent: int = 5
    """Size of the latent task variable m; the belief is a diagonal Gaussian over it."""
    encoder_hidden: int = 64
    """Width of the encoder's GRU state."""
    encoder_embed: int = 32
    """Width of the ReLU layer that embeds each transition before the GRU."""
    policy_hidden: int = 32
    """Width of the tanh layers of the policy and of the value network."""
    policy_layers: int = 1
    """Number of those layers (after the input embeddings)."""
    policy_embed: int = 16
    """Width of the tanh layers that embed the state and the belief, each its own, before the policy's and the
    value network's layers (0: they read the state and belief directly)."""
    normalize_policy_inputs: bool = True
    """Standardise the state and the belief (mean, log-variance) the policy reads by running statistics."""
    decoder_hidden: int = 32
    """Width of the decoder's layers."""
    decode_state: bool = False
    """Also decode next observations (the transition model), not only rewards."""
    state_coef: float = 1.0
    """Weight of the next-observation reconstruction against the reward's."""
    kl_weight: float = 0.01
    """Weight of the KL term, KL(q(m | tau_{:t}) || q(m | tau_{:t-1})), against the reconstruction."""
    vae_lr: float = 1e-3
    """Adam learning rate of the encoder and decoder."""
    vae_updates: int = 3
    """ELBO gradient steps per iteration, each on the iteration's rollout."""
    elbo_samples: int = 16
    """Belief steps per trial whose latent sample decodes the whole trial in one ELBO step (0: every step)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_ranges(self, at_least={"latent": 1, "encoder_hidden": 1, "encoder_embed": 1, "policy_hidden": 1,
                                     "policy_layers": 1, "policy_embed": 0,
                                     "decoder_hidden": 1, "vae_updates": 0, "elbo_samples": 0, "kl_weight": 0.0,
                                     "state_coef": 0.0},
                     positive=("vae_lr",))
