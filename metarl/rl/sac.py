"""Soft actor-critic (Haarnoja et al. 2018): a tanh-squashed Gaussian actor, twin critics with a Polyak target,
and a fixed or learned temperature, updated on batches of transitions on the device.

Meta-RL agents condition SAC on a task variable: :meth:`SAC.update` takes ``features`` (a latent ``z`` per
row) appended to the observation. The critics see them with their gradient, so an encoder that produced
them learns from the Bellman error (PEARL's rule); the actor and the targets see them detached. An
``aux_loss`` (PEARL's KL term) joins the critic loss in the same backward pass.

Example:
    >>> sac = SAC(obs_size=3, action_size=2, hidden=(16, 16), generator=torch.Generator().manual_seed(0))
    >>> n = 8
    >>> batch = dict(obs=torch.randn(n, 3), action=torch.rand(n, 2) * 2 - 1, reward=torch.randn(n),
    ...              next_obs=torch.randn(n, 3), terminated=torch.zeros(n))
    >>> sorted(sac.update(**batch))[:3]
    ['actor_loss', 'alpha', 'critic_loss']
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from metarl.errors import BadArgumentError
from metarl.rl.heads import Draw, draw_whole

LOG_STD_RANGE = (-20.0, 2.0)


def mlp(inputs: int, hidden: Sequence[int], outputs: int) -> nn.Sequential:
    """ReLU layers ``inputs -> hidden... -> outputs`` (the last layer linear).

    Example:
        >>> mlp(3, [8, 8], 1)(torch.zeros(5, 3)).shape
        torch.Size([5, 1])
    """
    layers: list[nn.Module] = []
    width = inputs
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, outputs))
    return nn.Sequential(*layers)


class SquashedGaussianActor(nn.Module):
    """``obs -> tanh(N(mean, std))``: actions in [-1, 1]^d with their log-density (change of variables included).

    Example:
        >>> actor = SquashedGaussianActor(4, 2, (16,))
        >>> action, log_prob, _ = actor.sample(torch.zeros(3, 4), torch.Generator().manual_seed(0))
        >>> action.shape, log_prob.shape, bool(action.abs().max() <= 1)
        (torch.Size([3, 2]), torch.Size([3]), True)
    """

    def __init__(self, obs_size: int, action_size: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(obs_size, hidden, 2 * action_size)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log standard deviation (clamped to :data:`LOG_STD_RANGE`) of the pre-squash Gaussian."""
        mean, log_std = self.net(obs).chunk(2, -1)
        return mean, log_std.clamp(*LOG_STD_RANGE)

    def sample(self, obs: torch.Tensor, generator: torch.Generator | None = None, deterministic: bool = False,
               draw: Draw | None = None) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """(action in [-1, 1], its log-density, (mean, log std)); ``deterministic``: tanh(mean), density of it.

        ``draw`` makes the noise (a data-parallel process's :meth:`~metarl.training.parallel.Parallel.draw`, so that
        row i gets the same numbers whatever the split)."""
        mean, log_std = self(obs)
        if deterministic:
            pre = mean
            noise = torch.zeros_like(mean)
        else:
            noise = (draw or draw_whole)(torch.randn, mean.shape, generator=generator, device=mean.device,
                                         dtype=mean.dtype)
            pre = mean + log_std.exp() * noise  # reparameterised: gradients reach mean and log_std
        log_prob = (-0.5 * noise.square() - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        # log|d tanh(u)/du| = log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), stable for large |u|
        log_prob = log_prob - (2.0 * (math.log(2.0) - pre - F.softplus(-2.0 * pre))).sum(-1)
        return torch.tanh(pre), log_prob, (mean, log_std)


class TwinCritic(nn.Module):
    """Two Q-networks ``(obs, action) -> Q``; the minimum of the two fights overestimation.

    Example:
        >>> q1, q2 = TwinCritic(3, 2, (16,))(torch.zeros(5, 3), torch.zeros(5, 2))
        >>> q1.shape
        torch.Size([5])
    """

    def __init__(self, obs_size: int, action_size: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.q1 = mlp(obs_size + action_size, hidden, 1)
        self.q2 = mlp(obs_size + action_size, hidden, 1)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([obs, action], -1)
        return self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)


class SAC(nn.Module):
    """The actor, twin critics, their Polyak target and the temperature, with one :meth:`update` per batch.

    ``alpha`` is the initial temperature; with ``target_entropy`` set it is learned so that the policy's entropy
    tends to ``target_entropy`` (the usual choice: minus the action dimension), otherwise it stays fixed.
    ``reward_scale`` multiplies rewards in the Bellman target (with a fixed ``alpha`` of 1 it is the inverse
    temperature, the form PEARL's settings use). ``policy_reg`` penalises the squared pre-squash mean and log
    standard deviation (keeps the squashed Gaussian away from saturation early on).
    """

    def __init__(self, obs_size: int, action_size: int, hidden: Sequence[int] = (256, 256), *, lr: float = 3e-4,
                 gamma: float = 0.99, tau: float = 0.005, alpha: float = 1.0, target_entropy: float | None = None,
                 reward_scale: float = 1.0, policy_reg: float = 0.0, generator: torch.Generator | None = None
                 ) -> None:
        super().__init__()
        if not (0.0 <= gamma <= 1.0 and 0.0 < tau <= 1.0 and alpha > 0 and lr > 0):
            raise BadArgumentError(f"SAC needs gamma in [0, 1], tau in (0, 1], alpha > 0 and lr > 0, got gamma={gamma}"
                                   f", tau={tau}, alpha={alpha}, lr={lr}")
        with torch.random.fork_rng(devices=[]):
            if generator is not None:
                torch.manual_seed(int(torch.randint(0, 2**62, (), generator=generator)))
            self.actor = SquashedGaussianActor(obs_size, action_size, hidden)
            self.critic = TwinCritic(obs_size, action_size, hidden)
        self.target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = nn.Parameter(torch.tensor(math.log(alpha)), requires_grad=target_entropy is not None)
        self.gamma, self.tau, self.reward_scale, self.policy_reg = gamma, tau, reward_scale, policy_reg
        self.target_entropy = target_entropy
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=lr)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=lr)
        self.alpha_optimizer = torch.optim.Adam([self.log_alpha], lr=lr) if target_entropy is not None else None

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.detach().exp()

    def act(self, obs: torch.Tensor, generator: torch.Generator | None = None, deterministic: bool = False,
            draw: Draw | None = None) -> torch.Tensor:
        """Actions in [-1, 1] for ``obs`` (features already appended), without gradient."""
        with torch.no_grad():
            return self.actor.sample(obs, generator, deterministic, draw)[0]

    def update(self, obs: torch.Tensor, action: torch.Tensor, reward: torch.Tensor, next_obs: torch.Tensor,
               terminated: torch.Tensor, features: torch.Tensor | None = None, aux_loss: torch.Tensor | None = None,
               generator: torch.Generator | None = None, draw: Draw | None = None,
               average: Callable[[torch.optim.Optimizer], None] | None = None) -> dict[str, torch.Tensor]:
        """One gradient step of the critics (plus ``aux_loss``), the actor and the temperature on N transitions.

        ``obs``/``next_obs`` (N, D), ``action`` (N, A) in [-1, 1], ``reward``/``terminated`` (N,) (only a terminal
        state stops the bootstrap, never a time limit), ``features`` (N, F) appended to both observations. Callers
        that train a module producing ``features`` or ``aux_loss`` zero its gradients before and step its optimizer
        after. Returns detached scalar tensors (no host sync): losses, Q, entropy, alpha.

        Data-parallel processes pass their share of the rows, ``draw`` (:meth:`~metarl.training.parallel.Parallel.draw`)
        and ``average`` (:meth:`~metarl.training.parallel.Parallel.average_gradients`), called on each optimizer
        before its step: every loss is a mean over rows, so the averaged gradients are those of all the rows.
        """
        average = average or (lambda optimizer: None)
        if features is not None:
            fixed = features.detach()
            critic_obs, actor_obs, next_obs = (torch.cat([obs, features], -1), torch.cat([obs, fixed], -1),
                                               torch.cat([next_obs, fixed], -1))
        else:
            critic_obs = actor_obs = obs
        alpha = self.alpha
        with torch.no_grad():
            next_action, next_log_prob, _ = self.actor.sample(next_obs, generator, draw=draw)
            target_q = torch.min(*self.target(next_obs, next_action)) - alpha * next_log_prob
            backup = self.reward_scale * reward + self.gamma * (1.0 - terminated.to(target_q.dtype)) * target_q
        q1, q2 = self.critic(critic_obs, action)
        critic_loss = F.mse_loss(q1, backup) + F.mse_loss(q2, backup)
        self.critic_optimizer.zero_grad(set_to_none=True)
        (critic_loss if aux_loss is None else critic_loss + aux_loss).backward()
        average(self.critic_optimizer)
        self.critic_optimizer.step()

        new_action, log_prob, (mean, log_std) = self.actor.sample(actor_obs, generator, draw=draw)
        self.critic.requires_grad_(False)  # the actor's loss must not move the critics
        q_new = torch.min(*self.critic(actor_obs, new_action))
        self.critic.requires_grad_(True)
        actor_loss = (alpha * log_prob - q_new).mean()
        if self.policy_reg:
            actor_loss = actor_loss + self.policy_reg * (mean.square().mean() + log_std.square().mean())
        self.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.backward()
        average(self.actor_optimizer)
        self.actor_optimizer.step()

        out = {"critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach(), "q": q1.detach().mean(),
               "entropy": -log_prob.detach().mean(), "alpha": alpha}
        if self.alpha_optimizer is not None:
            alpha_loss = -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()
            self.alpha_optimizer.zero_grad(set_to_none=True)
            alpha_loss.backward()
            average(self.alpha_optimizer)
            self.alpha_optimizer.step()
            out["alpha_loss"] = alpha_loss.detach()
        with torch.no_grad():
            torch._foreach_lerp_(list(self.target.parameters()), list(self.critic.parameters()), self.tau)
        return out

    def optimizers_state(self) -> dict[str, Any]:
        """The optimizers' states (the parameters are in :meth:`state_dict`)."""
        state = {"actor": self.actor_optimizer.state_dict(), "critic": self.critic_optimizer.state_dict()}
        if self.alpha_optimizer is not None:
            state["alpha"] = self.alpha_optimizer.state_dict()
        return state

    def load_optimizers_state(self, state: dict[str, Any]) -> None:
        self.actor_optimizer.load_state_dict(state["actor"])
        self.critic_optimizer.load_state_dict(state["critic"])
        if self.alpha_optimizer is not None:
            self.alpha_optimizer.load_state_dict(state["alpha"])


def scale_action(action: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """A [-1, 1] action mapped linearly onto the box [low, high].

    Example:
        >>> scale_action(torch.tensor([-1.0, 0.0, 1.0]), torch.tensor(-0.1), torch.tensor(0.1))
        tensor([-0.1000,  0.0000,  0.1000])
    """
    return low + (action + 1.0) * 0.5 * (high - low)


__all__ = ["SAC", "SquashedGaussianActor", "TwinCritic", "mlp", "scale_action"]
