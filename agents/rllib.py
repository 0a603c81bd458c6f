"""Outgrowing one machine: RLlib PPO on invgym ids over Ray, started from the ORPR policy if given.

RLlib builds its envs itself, inside Ray worker processes that have never imported ``invgym``; it calls
``gym.make_vec(config.env, ...)`` on the id it was given. Gymnasium's ``"module:id"`` form makes every
worker import the module first, and importing ``invgym`` registers its ids, so
``"invgym:invgym/LostSales-v0"`` is the whole registration story (:func:`rllib_env_id`). Each env runner
steps ``num_envs_per_env_runner`` envs with one compiled kernel call
(``gym_env_vectorize_mode="vector_entry_point"``): RLlib's runner expects next-step autoreset, which is what
invgym's vector envs declare.

A ``policy`` (ORPR's SB3 ``ActorCriticPolicy``) given to :func:`train_rllib` is copied into the RLlib module
before the first iteration by :func:`~invgym.agents.rllib_export.export_to_rllib` (``agents/rllib_export.py``:
the weight conversion between SB3 and RLlib, kept apart from the training).

Example:
    >>> from invgym.agents.rllib import train_rllib
    >>> run = train_rllib("invgym/LostSales-v0", env_config={"lead_time": 2}, iterations=5)  # doctest: +SKIP
    >>> run.history[-1]["env_runners/episode_return_mean"]  # doctest: +SKIP
    >>> run.algo.stop(); import ray; ray.shutdown()  # doctest: +SKIP

Imports Ray RLlib (``pip install 'invgym[ray]'``) and torch; ``import invgym`` never loads this module.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

from gymnasium import spaces

try:
    import ray
    from ray.rllib.algorithms.algorithm import Algorithm
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("invgym.agents.rllib needs Ray RLlib: pip install 'invgym[ray]' (ray[rllib]).") from exc

from invgym.agents.rllib_export import MODULE_ID, export_to_rllib, rllib_model_config
from invgym.envs.common import config_for
from invgym.registration import ENV_IDS
from invgym.validation import check_choice, check_int

__all__ = ["RLlibRun", "ppo_config", "rllib_env_id", "start_local_ray", "train_rllib"]

# Metrics kept per iteration in RLlibRun.history (RLlib's result dict is large and nested).
_METRICS = (
    ("env_runners", "episode_return_mean"),
    ("env_runners", "episode_len_mean"),
    ("env_runners", "num_env_steps_sampled_lifetime"),
    ("learners", MODULE_ID, "policy_loss"),
    ("learners", MODULE_ID, "vf_loss"),
    ("learners", MODULE_ID, "mean_kl_loss"),
    ("learners", MODULE_ID, "entropy"),
)


# === Environment ids and the cluster ===


def rllib_env_id(env_id: str) -> str:
    """Return the ``"invgym:invgym/<Env>"`` form of an invgym id, the form RLlib's workers can ``gym.make``.

    Accepts ``"invgym/LostSales-v0"``, ``"LostSales-v0"`` or the prefixed form itself.
    """
    if not isinstance(env_id, str):
        raise TypeError(
            f"The 'env_id' parameter of rllib_env_id must be a str in {list(ENV_IDS)}. "
            f"Got {env_id!r} instead."
        )
    bare = env_id.removeprefix("invgym:")
    bare = bare if bare.startswith("invgym/") else f"invgym/{bare}"
    check_choice(bare, "env_id", "rllib_env_id", ENV_IDS)
    return f"invgym:{bare}"


def start_local_ray(num_cpus: int | None = None, **init_kwargs: Any) -> bool:
    """Start a single-node Ray cluster on 127.0.0.1 in this process, unless Ray is already initialised.

    The head binds to the loopback address only, with no dashboard, so nothing is exposed beyond this
    machine. Returns True when this call started Ray (the caller then owns ``ray.shutdown()``).
    """
    if ray.is_initialized():
        return False
    if num_cpus is not None:
        num_cpus = check_int(num_cpus, "num_cpus", "start_local_ray", 1, 4096)
    kwargs = dict(
        address="local",
        num_cpus=num_cpus,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        configure_logging=False,
    )
    ray.init(**{**kwargs, **init_kwargs})
    return True


def _connect(address: str | None, num_cpus: int | None) -> bool:
    """Start (``"local"``/None) or join (any other address, e.g. ``"auto"``) a cluster; True if started."""
    if address in (None, "local"):
        return start_local_ray(num_cpus)
    if not isinstance(address, str):
        raise TypeError(
            f"The 'address' parameter of train_rllib must be a str or None. Got {address!r} instead."
        )
    if ray.is_initialized():
        return False
    ray.init(address=address, log_to_driver=False, configure_logging=False)
    return True


# === The PPO config ===


def _action_space(env_id: str, env_config: dict[str, Any]) -> spaces.Space:
    """Return the env's action space as RLlib sees it: discrete ones start at 0 (the env decodes them)."""
    from invgym.envs.common import env_action_space

    return env_action_space(config_for(env_id.removeprefix("invgym:"), **env_config))[0]


def ppo_config(
    env_id: str,
    env_config: dict[str, Any] | None = None,
    *,
    policy: Any = None,
    net_arch: tuple[int, ...] = (64, 64),
    num_env_runners: int = 1,
    num_envs_per_env_runner: int = 8,
    rollout_fragment_length: int = 64,
    minibatch_size: int = 128,
    num_epochs: int = 4,
    lr: float = 3e-4,
    seed: int | None = 0,
) -> PPOConfig:
    """Return a PPO config on an invgym id (new API stack, torch).

    Args:
        env_id: an invgym id, e.g. "invgym/LostSales-v0" (made ``"invgym:..."`` for the workers).
        env_config: the env's keyword arguments (``lead_time``, ``action_type``, ...).
        policy: an SB3 ``ActorCriticPolicy`` (e.g. from ORPR pretraining) whose architecture the RLModule
            copies; pass it to :func:`export_to_rllib` (or :func:`train_rllib`) to copy its weights too.
        net_arch: hidden layers of the actor and of the critic when no ``policy`` is given (tanh, like SB3's).
        num_env_runners: remote sampling workers (0 samples in the driver).
        num_envs_per_env_runner: envs per worker, stepped in one compiled kernel call.
        rollout_fragment_length: steps per env per sample call; a train batch is one fragment from every env.
        minibatch_size: SGD minibatch.
        num_epochs: SGD passes over each train batch.
        lr: Adam step size.
        seed: seeds the workers' envs and the module initialisation (None: unseeded).
    """
    owner = "ppo_config"
    env_config = dict(env_config or {})
    env = rllib_env_id(env_id)
    action_space = _action_space(env, env_config)
    runners = check_int(num_env_runners, "num_env_runners", owner, 0, 4096)
    per_runner = check_int(num_envs_per_env_runner, "num_envs_per_env_runner", owner, 1, 10**5)
    fragment = check_int(rollout_fragment_length, "rollout_fragment_length", owner, 1, 10**6)
    batch = max(runners, 1) * per_runner * fragment
    model_config = (
        rllib_model_config(policy)
        if policy is not None
        else DefaultModelConfig(
            fcnet_hiddens=list(net_arch),
            fcnet_activation="tanh",
            vf_share_layers=False,
            head_fcnet_hiddens=[],
            # A state-independent log-std for a Box, as SB3's (RLlib allows it for Gaussians only).
            free_log_std=isinstance(action_space, spaces.Box),
        )
    )
    config = (
        PPOConfig()
        # Module outputs are actions in env units, clipped to the Box, exactly as SB3's predict() does;
        # RLlib's default (normalize_actions=True) would rescale [-1, 1] to the bounds instead.
        .environment(env, env_config=env_config, normalize_actions=False, clip_actions=True)
        .env_runners(
            num_env_runners=runners,
            num_envs_per_env_runner=per_runner,
            rollout_fragment_length=fragment,
            gym_env_vectorize_mode="vector_entry_point",
        )
        .training(
            train_batch_size_per_learner=batch,
            minibatch_size=min(minibatch_size, batch),
            num_epochs=num_epochs,
            lr=lr,
        )
        .rl_module(model_config=model_config)
        .debugging(seed=seed)
    )
    return config


# === Training ===


@dataclasses.dataclass
class RLlibRun:
    """What :func:`train_rllib` returns."""

    algo: Algorithm
    """The built PPO algorithm (call ``algo.stop()`` when done; ``algo.get_module()`` is the policy)."""
    history: list[dict[str, float]]
    """Per iteration: ``time_s`` and the flattened metrics named in ``_METRICS`` (``env_runners/...``)."""
    started_ray: bool
    """True when this call started Ray (call ``ray.shutdown()`` when done)."""


def _flat_metrics(result: dict[str, Any]) -> Iterator[tuple[str, float]]:
    for path in _METRICS:
        value: Any = result
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None:
            yield "/".join(k for k in path if k != MODULE_ID), float(value)


def train_rllib(
    env_id: str,
    config: PPOConfig | None = None,
    *,
    env_config: dict[str, Any] | None = None,
    iterations: int = 1,
    address: str | None = "local",
    num_cpus: int | None = None,
    policy: Any = None,
    **ppo_kwargs: Any,
) -> RLlibRun:
    """Train PPO with RLlib on an invgym id, on a local Ray head (127.0.0.1) or an existing cluster.

    Args:
        env_id: an invgym id, e.g. "invgym/LostSales-v0".
        config: a ready PPOConfig; None builds one with :func:`ppo_config` (``env_config``, ``policy``,
            ``ppo_kwargs``).
        env_config: the env's keyword arguments.
        iterations: ``algo.train()`` calls.
        address: "local" (or None) starts a single-node cluster on 127.0.0.1 in this process; any other Ray
            address (``"auto"``, ``"ray://host:10001"``) joins that cluster. Reused if Ray is already up.
        num_cpus: CPUs of the local cluster (None: all).
        policy: an SB3 ``ActorCriticPolicy`` to start from (ORPR's pretrained policy): its architecture and
            weights are copied into the RLModule before the first iteration.
        **ppo_kwargs: more :func:`ppo_config` arguments.
    """
    iterations = check_int(iterations, "iterations", "train_rllib", 0, 10**7)
    if config is None:
        config = ppo_config(env_id, env_config, policy=policy, **ppo_kwargs)
    elif env_config is not None or ppo_kwargs:
        raise TypeError("train_rllib takes either a PPOConfig or env_config/ppo_config keywords, not both.")
    started = _connect(address, num_cpus)
    algo = config.build_algo()
    if policy is not None:
        export_to_rllib(policy, algo)
    history = []
    for _ in range(iterations):
        tic = time.perf_counter()
        result = algo.train()
        history.append({"time_s": time.perf_counter() - tic, **dict(_flat_metrics(result))})
    return RLlibRun(algo=algo, history=history, started_ray=started)
