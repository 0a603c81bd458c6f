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
from invgym.envs.common import env_action_space
from invgym.validation import check_int, check_real

__all__ = ["CoverCloneConfig", "CoverPolicy", "PretrainConfig", "Pretrainer", "ScaledObservations",
           "clone_cover_policy", "cover_features", "policy_kwargs_for"]


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
        # The policy acts in the env's own space (what SB3 and KLRegularizedPPO see through InvgymVecEnv): discrete
        # orders that do not start at 0 (a signed order) are indices from 0 there, so the labels (the teacher's
        # orders) are shifted into it.
        self.action_space, offset = env_action_space(self.env_config)
        if offset is not None:
            shift = offset[0] if actions.ndim == 1 else offset
            low, high = self.env_config.action_low, self.env_config.action_high
            if actions.min() < low.min() or actions.max() > high.max():
                raise ValueError(f"the dataset's actions must be orders of this env's action space "
                                 f"{self.env_config.action_space()}. Got orders from {actions.min()} to "
                                 f"{actions.max()} instead.")
            actions = actions - shift
        self.obs, self.actions = obs, actions
        self.metrics: list[dict[str, float]] = []

    def make_policy(self) -> ActorCriticPolicy:
        """Return a fresh (untrained) policy with the ORPR architecture for this env."""
        cfg = self.config
        return ActorCriticPolicy(self.env_config.observation_space(), self.action_space,
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


# === Replenishment: a days-of-cover action space (the clone predicts the target, not the order) ===
#
# Cloning the order itself over 1,609 possible sizes leaves the network to relearn the inventory-position
# arithmetic of the teacher from samples. ORPR's OR model is an order-up-to rule, so the action here is its
# parameter: the policy picks *days of cover* d in {0, ..., max_days} from the state, and the order is the
# teacher's own formula, ceil(d * mean sales - position)^+ (:class:`~invgym.agents.orpr.DaysOfCover`). The clone
# of a days-of-cover teacher then reproduces its orders exactly, and RL changes *how many days* to hold per SKU
# and situation (promotions, lead times, case packs), which is where holding cost can be cut.


def cover_features(obs: torch.Tensor, slices: dict[str, slice], review_period: int) -> torch.Tensor:
    """Scale-free features of a replenishment observation (every SKU looks alike whatever its volume).

    Units (stock, sales, case pack, MOQ, capacity) are divided by the recent sales rate plus one unit per
    history window, so a fast and a slow mover with the same days of stock look the same; flags, calendar and
    the review countdown stay as they are; ``log1p(rate)`` keeps the volume itself.
    """
    sales = obs[:, slices["sales"]]
    rate = sales.mean(dim=1, keepdim=True) if sales.shape[1] else torch.zeros_like(obs[:, :1])
    unit = rate + 1.0 / max(sales.shape[1], 1)
    review = obs[:, slices["review"]]
    sku = obs[:, slices["sku"]]
    return torch.cat([
        torch.log1p(obs[:, slices["inventory"]] / unit),
        (sales / unit).clamp(max=20.0),
        sales.std(dim=1, keepdim=True) / unit if sales.shape[1] > 1 else torch.zeros_like(unit),
        obs[:, slices["promo"]], obs[:, slices["holiday"]], obs[:, slices["calendar"]],
        review[:, :1], review[:, 1:] / review_period,
        sku[:, :1] / 7.0, torch.log1p(sku[:, 1:] / unit), torch.log1p(rate),
    ], dim=1)


class CoverPolicy(torch.nn.Module):
    """Days of cover from the state: a discretised normal over ``{0, ..., max_days}`` with a learned mean and scale.

    ``logits_b = -(b - mean(s))^2 / (2 scale(s)^2)``; ``scale >= min_scale`` keeps some exploration for RL. The
    order for days ``d`` is ``ceil(d * mean sales - on-hand - on-order)^+`` within ``[0, max_order]``, as
    :class:`~invgym.agents.orpr.DaysOfCover` orders. ``predict`` (SB3's signature) returns orders, so
    :func:`invgym.evaluate` runs it like any model; ``offset`` (days, 0 by default) shifts the deterministic
    choice (fractions allowed), for a final calibration of the service level.

    Args:
        env_config: the replenishment config (observation layout, review period, ``max_order``).
        max_days: largest days of cover.
        hidden: hidden layers of the MLP.
        min_scale: smallest standard deviation, in days.
        initial_days: the mean before training.
    """

    def __init__(self, env_config: Any, max_days: int = 60, hidden: tuple[int, ...] = (64, 64),
                 min_scale: float = 1.0, initial_days: float = 14.0) -> None:
        super().__init__()
        self.slices, self.review_period = env_config.slices, int(env_config.review_period)
        self.max_order, self.discrete = float(env_config.max_order), env_config.action_type == "discrete"
        self.max_days, self.min_scale = int(max_days), float(min_scale)
        probe = torch.zeros(1, int(env_config.obs_dim))
        sizes = [cover_features(probe, self.slices, self.review_period).shape[1], *hidden]
        layers: list[torch.nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [torch.nn.Linear(a, b), torch.nn.Tanh()]
        self.body = torch.nn.Sequential(*layers)
        self.head = torch.nn.Linear(sizes[-1], 2)
        with torch.no_grad():  # start flat: mean = initial_days everywhere, scale about 2 days
            self.head.weight.mul_(0.01)
            self.head.bias.copy_(torch.tensor([float(initial_days), 1.0]))
        self.register_buffer("bins", torch.arange(self.max_days + 1, dtype=torch.float32))
        self.register_buffer("offset", torch.zeros(()))

    def mean_scale(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation (days) of the discretised normal, each of shape (B, 1)."""
        out = self.head(self.body(cover_features(obs, self.slices, self.review_period)))
        return out[:, :1], self.min_scale + torch.nn.functional.softplus(out[:, 1:])

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        """Unnormalised log-probabilities of each days-of-cover bin, shape (B, max_days + 1)."""
        mean, scale = self.mean_scale(obs)
        return -0.5 * ((self.bins - mean) / scale) ** 2

    def distribution(self, obs: torch.Tensor) -> torch.distributions.Categorical:
        """The policy's distribution over days of cover."""
        return torch.distributions.Categorical(logits=self.logits(obs))

    def days(self, obs: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        """Days of cover per row: the mode (shifted by ``offset``) or a sample."""
        if not deterministic:
            return self.distribution(obs).sample()
        # The mode of the discretised normal is the bin nearest its mean (clipped to the bins).
        return (self.mean_scale(obs)[0][:, 0] + self.offset).round().clamp(0, self.max_days).long()

    def orders(self, obs: np.ndarray, days: Any) -> np.ndarray:
        """Order for ``days`` of cover in each row (the :class:`DaysOfCover` formula, vectorised over bins)."""
        obs = np.asarray(obs, dtype=np.float64)
        rate = obs[:, self.slices["sales"]].mean(axis=1) if self.slices["sales"].stop > 2 else 0.0 * obs[:, 0]
        position = obs[:, self.slices["inventory"]].sum(axis=1)
        days = np.asarray(days, dtype=np.float64)
        if days.ndim == 2:  # (B, bins): every candidate of every row
            rate, position = rate[:, None], position[:, None]
        q = np.clip(np.ceil(days * rate - position - 1e-9), 0.0, self.max_order)
        return q.astype(np.int64) if self.discrete else q.astype(np.float32)

    @torch.no_grad()
    def predict(self, obs: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> tuple[np.ndarray, None]:
        """SB3-style ``(orders, None)`` for a batch of observations."""
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32).reshape(-1, self.slices["sku"].stop))
        return self.orders(x.numpy(), self.days(x, deterministic).numpy()), None


class _OrderRule:
    """The attributes :meth:`CoverPolicy.orders` reads, without building a network."""

    def __init__(self, env_config: Any) -> None:
        self.slices, self.max_order = env_config.slices, float(env_config.max_order)
        self.discrete = env_config.action_type == "discrete"


@dataclasses.dataclass
class CoverCloneConfig:
    """Settings of behaviour cloning into a :class:`CoverPolicy`."""

    epochs: int = 40
    """Passes over the dataset."""
    batch_size: int = 256
    """Samples per gradient step."""
    learning_rate: float = 3e-3
    """Adam step size."""
    net_arch: tuple[int, ...] = (64, 64)
    """Hidden layers."""
    max_days: int = 60
    """Largest days of cover (the action bins are 0..max_days)."""
    min_scale: float = 1.0
    """Smallest standard deviation of the policy, in days (exploration left for RL)."""
    validation_fraction: float = 0.1
    """Share of the dataset held out to measure the exact-order match."""
    seed: int = 0
    """Seeds the initial weights and the shuffling."""

    def validate(self) -> CoverCloneConfig:
        """Check every field; return self."""
        owner = type(self).__name__
        check_int(self.epochs, "epochs", owner, 1, 10**6)
        check_int(self.batch_size, "batch_size", owner, 1, 10**7)
        check_real(self.learning_rate, "learning_rate", owner, 0.0, 10.0, closed="right")
        check_int(self.max_days, "max_days", owner, 1, 3650)
        check_real(self.min_scale, "min_scale", owner, 0.0, 100.0, closed="right")
        check_real(self.validation_fraction, "validation_fraction", owner, 0.0, 0.9)
        check_int(self.seed, "seed", owner, 0, 2**62)
        return self


def clone_cover_policy(env_config: Any, dataset: dict, config: CoverCloneConfig | None = None,
                       ) -> tuple[CoverPolicy, list[dict[str, float]]]:
    """Clone a teacher's orders into a :class:`CoverPolicy`; return it (eval mode) and per-epoch metrics.

    A teacher's order rarely pins down one days-of-cover value (an order of 0 is what every d below the
    position gives), so the label of a row is the *set* of bins whose order equals the teacher's, and the loss
    is the censored likelihood ``-log sum_{b in set} pi(b | s)``; a row no bin reproduces falls back to the bin
    of the nearest order. Metrics: ``eval/accuracy`` is the exact match of the deterministic *order*.
    """
    cfg = (CoverCloneConfig() if config is None else config).validate()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    obs, actions = np.asarray(dataset["obs"], np.float32), np.asarray(dataset["actions"], np.float64)
    bins = np.arange(cfg.max_days + 1.0)
    candidates = CoverPolicy.orders(_OrderRule(env_config), obs, np.broadcast_to(bins, (len(obs), len(bins))))
    gap = np.abs(candidates - actions.reshape(-1, 1))
    match = gap == gap.min(axis=1, keepdims=True)  # exact matches, or the nearest order
    # Start at the teacher's typical days (rows with a positive order pin them down), so few epochs suffice.
    ordered = actions > 0
    initial = float(np.median((match[ordered] * bins).sum(1) / match[ordered].sum(1))) if ordered.any() else 14.0
    policy = CoverPolicy(env_config, cfg.max_days, cfg.net_arch, cfg.min_scale, initial_days=initial)
    label = torch.as_tensor(match)
    x = torch.as_tensor(obs)
    n = len(obs)
    order = rng.permutation(n)
    held = int(round(cfg.validation_fraction * n))
    train, valid = order[held:], order[:held]
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.learning_rate)
    metrics = []
    for epoch in range(cfg.epochs):
        perm = train[rng.permutation(len(train))]
        total = 0.0
        for start in range(0, len(perm), cfg.batch_size):
            idx = torch.as_tensor(perm[start : start + cfg.batch_size])
            log_p = torch.log_softmax(policy.logits(x[idx]), dim=1)
            loss = -torch.logsumexp(log_p.masked_fill(~label[idx], -torch.inf), dim=1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        record = {"epoch": epoch + 1, "losses/bc_nll": total / max(len(perm), 1)}
        if held:
            predicted, _ = policy.predict(obs[valid])
            record["eval/accuracy"] = float(np.mean(np.abs(predicted - actions[valid]) < 0.5))
        metrics.append(record)
    policy.eval()
    return policy, metrics
