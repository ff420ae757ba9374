"""VariBAD's networks: a recurrent encoder of the trial into a Gaussian belief over a latent task variable,
a decoder of rewards (and next observations) from a latent sample, and a policy on (state, belief).

The encoder reads the RL² observation, which is (s_t, a_{t-1}, r_{t-1}, done_{t-1}) and so exactly the
transition stream VariBAD encodes; its output after step t is q(m | tau_{:t}) = N(mean, exp(logvar)). The
policy and value networks read the current observation with the belief's mean and log-variance, detached:
the belief is learnt only from the ELBO, as in the paper. As in the paper's code, the state and the belief
are standardised by running statistics and each embedded by a tanh layer before the policy's layers: the
belief's log-variance falls to large negative values as training goes, and read raw it saturates the tanh
units the policy learns with.
"""

from __future__ import annotations

import math

import gymnasium
import torch
from torch import nn

from metarl.rl import ActionHead, InputNormalizer


class VariBADModel(nn.Module):
    """Encoder (GRU) -> belief (mean, logvar) -> policy and value MLPs; a reward (and next-state) decoder.

    ``obs_size`` is the width of the environment's own observation: the leading part of each input, which the
    policy reads beside the belief (with the time feature when the inputs carry one, ``time_feature``). With
    ``normalize`` the state and belief are standardised by running statistics (:meth:`update_input_stats`);
    with ``policy_embed`` > 0 each goes through its own tanh layer of that width before ``policy_layers`` tanh
    layers of ``policy_hidden``.

    Example:
        >>> net = VariBADModel(8, 2, gymnasium.spaces.Discrete(3), latent=4)
        >>> state = net.initial_state(5)
        >>> params, value, state = net.step(torch.zeros(5, 8), state, torch.ones(5, dtype=torch.bool))
        >>> params.shape, value.shape, state.shape
        (torch.Size([5, 3]), torch.Size([5]), torch.Size([1, 5, 64]))
    """

    def __init__(self, input_size: int, obs_size: int, action_space: gymnasium.Space, latent: int = 5,
                 hidden: int = 64, embed: int = 32, policy_hidden: int = 32, decoder_hidden: int = 32,
                 time_feature: bool = False, decode_state: bool = False, normalize: bool = False,
                 policy_embed: int = 0, policy_layers: int = 2) -> None:
        super().__init__()
        self.obs_size, self.latent, self.hidden, self.time_feature = obs_size, latent, hidden, time_feature
        self.embed = nn.Sequential(nn.Linear(input_size, embed), nn.ReLU())
        self.core = nn.GRU(embed, hidden)
        self.belief = nn.Linear(hidden, 2 * latent)
        self.state_norm = InputNormalizer(obs_size) if normalize else None
        self.belief_norm = InputNormalizer(2 * latent) if normalize else None
        self.state_embed = nn.Sequential(nn.Linear(obs_size, policy_embed), nn.Tanh()) if policy_embed else None
        self.belief_embed = nn.Sequential(nn.Linear(2 * latent, policy_embed), nn.Tanh()) if policy_embed else None
        policy_in = (2 * policy_embed if policy_embed else obs_size + 2 * latent) + int(time_feature)
        self.actor = _tanh_layers(policy_in, policy_hidden, policy_layers)
        self.critic = nn.Sequential(*_tanh_layers(policy_in, policy_hidden, policy_layers),
                                    nn.Linear(policy_hidden, 1))
        self.head = ActionHead(action_space, policy_hidden)
        self.decoder = Decoder(latent, obs_size, action_space, decoder_hidden, decode_state)

    def policy_parameters(self) -> list[nn.Parameter]:
        """What the RL loss trains: the input embeddings, the actor, the action head and the critic."""
        embeds = [module for module in (self.state_embed, self.belief_embed) if module is not None]
        return [*(p for module in embeds for p in module.parameters()), *self.actor.parameters(),
                *self.head.parameters(), *self.critic.parameters()]

    def update_input_stats(self, inputs: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> None:
        """Add the states and beliefs of a rollout to the policy's input statistics (without ``normalize``: none)."""
        if self.state_norm is not None and self.belief_norm is not None:
            self.state_norm.update(inputs[..., : self.obs_size])
            self.belief_norm.update(torch.cat([mean, logvar], -1))

    def vae_parameters(self) -> list[nn.Parameter]:
        """What the ELBO trains: the encoder and the decoder."""
        return [*self.embed.parameters(), *self.core.parameters(), *self.belief.parameters(),
                *self.decoder.parameters()]

    def initial_state(self, batch: int, device: torch.device | str | None = None) -> torch.Tensor:
        return torch.zeros(1, batch, self.hidden, device=device)

    def encode(self, inputs: torch.Tensor, state: torch.Tensor, trial_start: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Beliefs after each of (T, B) inputs: (mean (T, B, L), logvar (T, B, L), last state).

        The state is zeroed where a trial starts, so a belief holds only what its own trial has shown; stretches
        without a start run as one fused GRU call.
        """
        cuts = trial_start[1:].any(1).nonzero().squeeze(1).add(1).tolist() if inputs.shape[0] > 1 else []
        x = self.embed(inputs)
        outputs = []
        for begin, end in zip([0, *cuts], [*cuts, inputs.shape[0]], strict=True):
            state = state * (~trial_start[begin]).to(state.dtype).view(1, -1, 1)
            out, state = self.core(x[begin:end], state)
            outputs.append(out)
        mean, logvar = self.belief(torch.cat(outputs, 0)).chunk(2, -1)
        return mean, logvar, state

    def act(self, inputs: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor
            ) -> tuple[torch.Tensor, torch.Tensor]:
        """(action-distribution parameters, value) from the inputs' observation part and the detached belief."""
        state, belief = inputs[..., : self.obs_size], torch.cat([mean, logvar], -1).detach()
        if self.state_norm is not None and self.belief_norm is not None:
            state, belief = self.state_norm(state), self.belief_norm(belief)
        if self.state_embed is not None and self.belief_embed is not None:
            state, belief = self.state_embed(state), self.belief_embed(belief)
        parts = [state, belief]
        if self.time_feature:
            parts.append(inputs[..., -1:])
        x = torch.cat(parts, -1)
        return self.head(self.actor(x)), self.critic(x).squeeze(-1)

    def step(self, inputs: torch.Tensor, state: torch.Tensor, trial_start: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step for B environments: (action-distribution parameters, value, next state)."""
        mean, logvar, state = self.encode(inputs.unsqueeze(0), state, trial_start.unsqueeze(0))
        params, value = self.act(inputs, mean[0], logvar[0])
        return params, value, state

    def sequence(self, inputs: torch.Tensor, state: torch.Tensor, trial_start: torch.Tensor,
                 return_features: bool = False) -> tuple[torch.Tensor, ...]:
        """(T, B) steps from ``state``: (parameters, values[, beliefs (T, B, 2L) as mean then logvar])."""
        mean, logvar, _ = self.encode(inputs, state, trial_start)
        params, values = self.act(inputs, mean, logvar)
        return (params, values, torch.cat([mean, logvar], -1)) if return_features else (params, values)


def _tanh_layers(size: int, hidden: int, layers: int) -> nn.Sequential:
    """``layers`` (at least one) linear layers of width ``hidden``, each followed by tanh."""
    modules: list[nn.Module] = []
    for index in range(max(layers, 1)):
        modules += [nn.Linear(size if index == 0 else hidden, hidden), nn.Tanh()]
    return nn.Sequential(*modules)


class Decoder(nn.Module):
    """p(r_t [, s_{t+1}] | m, s_t, a_t, s_{t+1}): the reward (and next observation) of a transition given a latent.

    The latent and the transition enter through separate linear maps that are summed, so K latent samples
    decode T transitions as a (K, T, B) broadcast without repeating either. The next-observation head reads
    the transition without ``s_{t+1}``.

    Example:
        >>> decoder = Decoder(4, 2, gymnasium.spaces.Discrete(3), hidden=8)
        >>> z = torch.zeros(5, 1, 7, 4)  # 5 samples for each of 7 environments
        >>> obs, next_obs = torch.zeros(1, 10, 7, 2), torch.zeros(1, 10, 7, 2)
        >>> decoder.reward(z, obs, torch.zeros(1, 10, 7, dtype=torch.long), next_obs).shape
        torch.Size([5, 10, 7])
    """

    def __init__(self, latent: int, obs_size: int, action_space: gymnasium.Space, hidden: int = 32,
                 decode_state: bool = False) -> None:
        super().__init__()
        self.discrete = isinstance(action_space, gymnasium.spaces.Discrete)
        self.actions = int(action_space.n) if self.discrete else math.prod(action_space.shape)
        self.action_dims = 0 if self.discrete else len(action_space.shape)
        step_size = 2 * obs_size + self.actions
        self.reward_latent, self.reward_step = nn.Linear(latent, hidden), nn.Linear(step_size, hidden, bias=False)
        self.reward_out = nn.Sequential(nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.decode_state = decode_state
        if decode_state:
            self.state_latent = nn.Linear(latent, hidden)
            self.state_step = nn.Linear(obs_size + self.actions, hidden, bias=False)
            self.state_out = nn.Sequential(nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                           nn.Linear(hidden, obs_size))

    def _action(self, action: torch.Tensor) -> torch.Tensor:
        if self.discrete:
            return nn.functional.one_hot(action.long(), self.actions).to(torch.get_default_dtype())
        flat = action.reshape(*action.shape[: action.dim() - self.action_dims], self.actions)
        return flat.to(torch.get_default_dtype())

    def reward(self, z: torch.Tensor, obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor
               ) -> torch.Tensor:
        """Predicted rewards, broadcast over the leading dimensions of ``z`` (..., L) and the transition's."""
        step = torch.cat([obs, self._action(action), next_obs], -1)
        return self.reward_out(self.reward_latent(z) + self.reward_step(step)).squeeze(-1)

    def next_obs(self, z: torch.Tensor, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Predicted next observations (..., obs_size), broadcast the same way."""
        step = torch.cat([obs, self._action(action)], -1)
        return self.state_out(self.state_latent(z) + self.state_step(step))


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor, prior_mean: torch.Tensor, prior_logvar: torch.Tensor
                ) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(prior_mean, exp(prior_logvar))) of diagonal Gaussians, summed over the last axis.

    Example:
        >>> float(gaussian_kl(torch.zeros(3), torch.zeros(3), torch.zeros(3), torch.zeros(3)))
        0.0
    """
    ratio = (logvar - prior_logvar).exp()
    return 0.5 * (ratio + (mean - prior_mean).square() / prior_logvar.exp() - 1.0 - (logvar - prior_logvar)).sum(-1)


def gaussian_entropy(logvar: torch.Tensor) -> torch.Tensor:
    """Differential entropy (nats) of a diagonal Gaussian with log-variances ``logvar``, summed over the last axis.

    Example:
        >>> round(float(gaussian_entropy(torch.zeros(1))), 4)  # a standard normal: 0.5 * log(2 pi e)
        1.4189
    """
    return 0.5 * (logvar + math.log(2 * math.pi * math.e)).sum(-1)
