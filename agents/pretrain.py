"""ORPR step 2: behaviour cloning of the OR teacher's orders into an SB3 ``ActorCriticPolicy``.

The cloned policy is an ordinary Stable-Baselines3 actor-critic, so PPO (or
:class:`~invgym.agents.reinforce.KLRegularizedPPO`) can start from it, and it is evaluated like any SB3 model
(``invgym.evaluate`` calls its ``predict``). The network is deliberately small (two layers of 64 per head, a few
thousand parameters plus one logit per order quantity; far below 1M), as ORPR's point is that the OR prior does
most of the work.

The loss is the negative log-likelihood of the teacher's action under the policy's distribution (cross-entropy
over order quantities for a discrete space, Gaussian likelihood for a continuous one); only the actor is trained.
Observations are scaled inside the features extractor (:class:`ScaledObservations`; by mean demand, or feature by
feature with the dataset's statistics, see :func:`policy_kwargs_for`), so the same initial weights suit any
demand level.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from invgym.baselines.common import config_of
from invgym.validation import check_int, check_real

__all__ = ["PretrainConfig", "Pretrainer", "ScaledObservations", "policy_kwargs_for"]


class ScaledObservations(BaseFeaturesExtractor):
    """Flatten and standardise the observation with fixed per-feature ``loc`` and ``scale`` (from the dataset)."""

    def __init__(self, observation_space: spaces.Box, loc: Any = 0.0, scale: Any = 1.0) -> None:
        dim = int(np.prod(observation_space.shape))
        super().__init__(observation_space, dim)
        # Buffers, so they travel with state_dict() into PPO's copy of the policy.
        self.register_buffer("loc", torch.as_tensor(np.broadcast_to(loc, (dim,)).copy(), dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(np.broadcast_to(scale, (dim,)).copy(), dtype=torch.float32))

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """Return the standardised, flattened observation."""
        return (torch.flatten(observations, start_dim=1) - self.loc) / self.scale


def policy_kwargs_for(env_config: Any, net_arch: tuple[int, ...] = (64, 64), obs: np.ndarray | None = None) -> dict:
    """SB3 ``policy_kwargs`` of the ORPR network (pass the same to PPO, or let KLRegularizedPPO copy them).

    A scenario with a demand model (lost sales, ...) divides every feature by mean demand: its features are all
    stock or sales in units, and one common scale keeps sums such as the inventory position easy to learn. Other
    scenarios (replenishment: units next to flags, calendars and SKU attributes) standardise each feature with the
    mean and standard deviation of ``obs``, the dataset's observations (a constant feature by 1).
    """
    demand = getattr(env_config, "demand", None)
    if demand is not None or obs is None:
        loc, scale = 0.0, max(float(demand.mean), 1e-3) if demand is not None else 1.0
    else:
        loc, scale = obs.mean(axis=0), obs.std(axis=0)
        scale = np.where(scale > 1e-6, scale, 1.0)
    kwargs = {"loc": np.asarray(loc, dtype=np.float32).tolist(), "scale": np.asarray(scale, dtype=np.float32).tolist()}
    return {"net_arch": {"pi": list(net_arch), "vf": list(net_arch)}, "activation_fn": torch.nn.Tanh,
            "features_extractor_class": ScaledObservations, "features_extractor_kwargs": kwargs}


@dataclasses.dataclass
class PretrainConfig:
    """Settings of behaviour cloning."""

    epochs: int = 30
    """Passes over the dataset."""
    batch_size: int = 256
    """Samples per gradient step."""
    learning_rate: float = 3e-3
    """Adam step size."""
    net_arch: tuple[int, ...] = (64, 64)
    """Hidden layers of the actor and of the critic."""
    validation_fraction: float = 0.1
    """Share of the dataset held out to measure accuracy."""
    seed: int = 0
    """Seeds the initial weights and the shuffling."""
    torch_threads: int = 1
    """torch.set_num_threads during training."""

    def validate(self) -> PretrainConfig:
        """Check every field; return self."""
        owner = type(self).__name__
        check_int(self.epochs, "epochs", owner, 1, 10**6)
        check_int(self.batch_size, "batch_size", owner, 1, 10**7)
        check_real(self.learning_rate, "learning_rate", owner, 0.0, 10.0, closed="right")
        if not self.net_arch or not all(isinstance(h, int) and 1 <= h <= 4096 for h in self.net_arch):
            raise ValueError(f"The 'net_arch' parameter of {owner} must be a non-empty sequence of ints in the range "
                             f"[1, 4096]. Got {self.net_arch!r} instead.")
        check_real(self.validation_fraction, "validation_fraction", owner, 0.0, 0.9)
        check_int(self.seed, "seed", owner, 0, 2**62)
        check_int(self.torch_threads, "torch_threads", owner, 1, 1024)
        return self


class Pretrainer:
    """Clone a labelled dataset into an SB3 ``ActorCriticPolicy``.

    Args:
        env: an env, config or id (with ``env_kwargs``): gives the spaces and the observation scale.
        dataset: ``{"obs", "actions"}`` (from :meth:`ORLabeler.label`) or the path of a saved dataset.
        config: a :class:`PretrainConfig`.
        **env_kwargs: scenario parameters, with an id only.
    """

    def __init__(self, env: Any, dataset: dict | str | os.PathLike, config: PretrainConfig | None = None,
                 **env_kwargs: Any) -> None:
        self.config = (PretrainConfig() if config is None else config).validate()
        self.env_config = config_of(env, **env_kwargs)
        if not isinstance(dataset, dict):
            from invgym.agents.orpr import load_dataset

            dataset = load_dataset(dataset)[0]
        obs, actions = np.asarray(dataset["obs"], np.float32), np.asarray(dataset["actions"])
        obs_dim = int(self.env_config.observation_space().shape[0])
        if obs.ndim != 2 or obs.shape[1] != obs_dim or len(actions) != len(obs):
            raise ValueError(f"the dataset must hold obs of shape (n, {obs_dim}) and n actions for this env. Got obs "
                             f"{obs.shape} and {len(actions)} actions instead.")
        self.obs, self.actions = obs, actions
        self.metrics: list[dict[str, float]] = []

    def make_policy(self) -> ActorCriticPolicy:
        """Return a fresh (untrained) policy with the ORPR architecture for this env."""
        cfg = self.config
        return ActorCriticPolicy(self.env_config.observation_space(), self.env_config.action_space(),
                                 lambda _: cfg.learning_rate,
                                 **policy_kwargs_for(self.env_config, cfg.net_arch, self.obs))

    def fit(self) -> ActorCriticPolicy:
        """Train the actor by maximum likelihood of the teacher's actions; return the policy (eval mode)."""
        cfg = self.config
        torch.set_num_threads(cfg.torch_threads)
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        policy = self.make_policy()
        n = len(self.obs)
        order = rng.permutation(n)
        held = int(round(cfg.validation_fraction * n))
        train, valid = order[held:], order[:held]
        obs = torch.as_tensor(self.obs)
        actions = torch.as_tensor(self.actions)
        # Only the actor's parameters: the critic is left for RL to fit to returns.
        critic = ("value_net", "mlp_extractor.value")
        actor = [p for name, p in policy.named_parameters() if not name.startswith(critic)]
        optimizer = torch.optim.Adam(actor, lr=cfg.learning_rate)
        policy.set_training_mode(True)
        for epoch in range(cfg.epochs):
            perm = train[rng.permutation(len(train))]
            total = 0.0
            for start in range(0, len(perm), cfg.batch_size):
                idx = torch.as_tensor(perm[start : start + cfg.batch_size])
                dist = policy.get_distribution(obs[idx])
                loss = -dist.log_prob(actions[idx]).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(idx)
            record = {"epoch": epoch + 1, "losses/bc_nll": total / max(len(perm), 1)}
            if held:
                record.update({f"eval/{k}": v for k, v in self.score(policy, valid).items()})
            self.metrics.append(record)
        policy.set_training_mode(False)
        self.policy = policy
        return policy

    def score(self, policy: ActorCriticPolicy, rows: np.ndarray | None = None) -> dict[str, float]:
        """Return the accuracy (exact match of the deterministic action) and mean absolute error on ``rows``."""
        rows = np.arange(len(self.obs)) if rows is None else rows
        predicted, _ = policy.predict(self.obs[rows], deterministic=True)
        target = self.actions[rows]
        predicted = np.asarray(predicted).reshape(target.shape)
        error = np.abs(predicted.astype(np.float64) - target.astype(np.float64))
        # Continuous orders match when they round to the same unit.
        return {"accuracy": float(np.mean(error < 0.5)), "mae": float(np.mean(error))}

    def num_parameters(self, policy: ActorCriticPolicy | None = None) -> int:
        """Trainable parameters of the policy (actor and critic)."""
        policy = self.policy if policy is None else policy
        return int(sum(p.numel() for p in policy.parameters()))
