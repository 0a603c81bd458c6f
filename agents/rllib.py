"""Outgrowing one machine: RLlib PPO on invgym ids over Ray, and the ORPR policy moved into an RLlib RLModule.

RLlib builds its envs itself, inside Ray worker processes that have never imported ``invgym``; it calls
``gym.make_vec(config.env, ...)`` on the id it was given. Gymnasium's ``"module:id"`` form makes every
worker import the module first, and importing ``invgym`` registers its ids, so
``"invgym:invgym/LostSales-v0"`` is the whole registration story (:func:`rllib_env_id`). Each env runner
steps ``num_envs_per_env_runner`` envs with one compiled kernel call
(``gym_env_vectorize_mode="vector_entry_point"``): RLlib's runner expects next-step autoreset, which is what
invgym's vector envs declare.

The ORPR policy (``agents/pretrain.py``: behaviour cloning into an SB3 ``ActorCriticPolicy``) has the shape of
RLlib's default PPO module with separate actor and critic towers: features -> MLP -> linear logits (or
Gaussian mean with a free, state-independent log-std), features -> MLP -> linear value.
:func:`export_to_rllib` copies the weights; the fixed observation scaling of
:class:`~invgym.agents.pretrain.ScaledObservations`, ``(obs - loc) / scale``, is folded into the first
layer of each tower (``W' = W / scale``, ``b' = b - W' loc``), so the result is a stock
``DefaultPPOTorchRLModule`` that RLlib's PPO trains further with no custom class on the workers.
:func:`import_from_rllib` is the inverse map (into an SB3 policy that keeps its own ``loc``/``scale``).

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

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

try:
    import ray
    from ray.rllib.algorithms.algorithm import Algorithm
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("invgym.agents.rllib needs Ray RLlib: pip install 'invgym[ray]' (ray[rllib]).") from exc

from invgym.envs.common import config_for
from invgym.registration import ENV_IDS
from invgym.validation import check_choice, check_int

__all__ = [
    "RLlibRun",
    "export_to_rllib",
    "import_from_rllib",
    "ppo_config",
    "rllib_env_id",
    "rllib_model_config",
    "rllib_module_spec",
    "start_local_ray",
    "train_rllib",
]

MODULE_ID = "default_policy"
"""RLlib's id of the single-agent module (``ray.rllib.core.DEFAULT_MODULE_ID``)."""

# SB3 activation classes and RLlib's names for the same functions.
_ACTIVATIONS = {nn.Tanh: "tanh", nn.ReLU: "relu", nn.ELU: "elu", nn.SiLU: "silu"}

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
    """Return the env's action space; refuse one RLlib would mis-handle, saying the fix, up front."""
    action_space = config_for(env_id.removeprefix("invgym:"), **env_config).action_space()
    start = getattr(action_space, "start", None)
    if start is not None and np.any(np.asarray(start) != 0):
        # RLlib's Categorical samples indices 0..n-1 and sends them as they are (SB3's adapter shifts them).
        raise ValueError(
            f"RLlib samples discrete actions from 0, but {env_id} has {action_space}: pass "
            f"env_config={{'action_type': 'continuous', ...}} for this env."
        )
    return action_space


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


# === SB3 ActorCriticPolicy <-> RLlib DefaultPPOTorchRLModule ===


def _linears(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def _observation_affine(policy: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(loc, scale)`` of the policy's fixed features map ``(obs - loc) / scale`` (float64)."""
    extractor = policy.features_extractor
    dim = int(np.prod(policy.observation_space.shape))
    if type(extractor).__name__ == "FlattenExtractor":
        return torch.zeros(dim, dtype=torch.float64), torch.ones(dim, dtype=torch.float64)
    if isinstance(getattr(extractor, "loc", None), torch.Tensor) and isinstance(
        getattr(extractor, "scale", None), torch.Tensor
    ):
        return extractor.loc.detach().double().cpu(), extractor.scale.detach().double().cpu()
    raise TypeError(
        f"the policy's features extractor must be FlattenExtractor or ScaledObservations (an affine map "
        f"of the observation, which folds into the first layer). Got {type(extractor).__name__} instead."
    )


def _check_policy(policy: Any) -> tuple[list[int], str]:
    """Check that an SB3 policy has the shape of RLlib's default PPO module; return its layers, activation."""
    if not all(
        hasattr(policy, a) for a in ("mlp_extractor", "action_net", "value_net", "features_extractor")
    ):
        raise TypeError(
            f"expected a stable-baselines3 ActorCriticPolicy. Got {type(policy).__name__} instead."
        )
    if not isinstance(policy.observation_space, spaces.Box) or len(policy.observation_space.shape) != 1:
        raise ValueError(f"only flat Box observations are supported. Got {policy.observation_space} instead.")
    if not isinstance(policy.action_space, spaces.Discrete | spaces.MultiDiscrete | spaces.Box):
        raise ValueError(
            f"the action space must be Discrete, MultiDiscrete or Box. Got {policy.action_space} instead."
        )
    if getattr(policy, "use_sde", False) or getattr(policy, "squash_output", False):
        raise ValueError("policies with gSDE or squashed outputs have no RLlib default-module counterpart.")
    if not getattr(policy, "share_features_extractor", True):
        raise ValueError("the actor and the critic must share the features extractor (SB3's default).")
    activation = _ACTIVATIONS.get(policy.activation_fn)
    if activation is None:
        raise ValueError(
            f"the activation must be one of {[c.__name__ for c in _ACTIVATIONS]}. "
            f"Got {policy.activation_fn.__name__} instead."
        )
    actor = [layer.out_features for layer in _linears(policy.mlp_extractor.policy_net)]
    critic = [layer.out_features for layer in _linears(policy.mlp_extractor.value_net)]
    if not actor or actor != critic:
        raise ValueError(
            f"RLlib's default PPO module gives the actor and the critic the same non-empty hidden "
            f"layers. Got actor {actor} and critic {critic} instead."
        )
    return actor, activation


def rllib_model_config(policy: Any) -> DefaultModelConfig:
    """Return the RLlib model config with the architecture of an SB3 ``ActorCriticPolicy``."""
    hidden, activation = _check_policy(policy)
    return DefaultModelConfig(
        fcnet_hiddens=hidden,
        fcnet_activation=activation,
        vf_share_layers=False,
        head_fcnet_hiddens=[],
        free_log_std=isinstance(policy.action_space, spaces.Box),
    )


def rllib_module_spec(policy: Any) -> RLModuleSpec:
    """Return the spec of an RLlib PPO module with the architecture and spaces of an SB3 policy."""
    return RLModuleSpec(
        module_class=DefaultPPOTorchRLModule,
        observation_space=policy.observation_space,
        action_space=policy.action_space,
        model_config=rllib_model_config(policy),
    )


def _towers(module: Any) -> dict[str, list[nn.Linear]]:
    """The Linear layers of an RLlib PPO module's towers, input first (no critic if inference-only)."""
    encoder = module.encoder
    if not hasattr(encoder, "actor_encoder"):
        raise ValueError(
            "the RLlib module must have separate actor and critic encoders (vf_share_layers=False)."
        )
    towers = {"actor": _linears(encoder.actor_encoder), "pi": _linears(module.pi)}
    if getattr(encoder, "critic_encoder", None) is not None and getattr(module, "vf", None) is not None:
        towers.update(critic=_linears(encoder.critic_encoder), vf=_linears(module.vf))
    return towers


def _sb3_towers(policy: Any) -> dict[str, list[nn.Linear]]:
    return {
        "actor": _linears(policy.mlp_extractor.policy_net),
        "pi": [policy.action_net],
        "critic": _linears(policy.mlp_extractor.value_net),
        "vf": [policy.value_net],
    }


def _module_state(policy: Any, module: Any) -> dict[str, torch.Tensor]:
    """The RLlib module's state dict holding the SB3 policy's weights (observation scaling folded in)."""
    _check_policy(policy)
    loc, scale = _observation_affine(policy)
    source, target = _sb3_towers(policy), _towers(module)
    # Parameter name of every target layer, to build a state dict that load_state_dict/set_weights accept.
    names = {id(m): name for name, m in module.named_modules()}
    state: dict[str, torch.Tensor] = {}
    for tower, layers in target.items():
        shapes = [tuple(t.weight.shape) for t in layers]
        if len(layers) != len(source[tower]):
            raise ValueError(
                f"the RLlib module's {tower} has {len(layers)} linear layers {shapes}, the SB3 policy "
                f"{len(source[tower])}: build the module with rllib_module_spec(policy)."
            )
        for i, (src, dst) in enumerate(zip(source[tower], layers, strict=True)):
            weight, bias = src.weight.detach().double().cpu(), src.bias.detach().double().cpu()
            if i == 0 and tower in ("actor", "critic"):
                # (obs - loc) / scale feeds W x + b, i.e. (W / scale) obs + (b - (W / scale) loc).
                weight = weight / scale
                bias = bias - weight @ loc
            if (
                tower == "pi"
                and isinstance(policy.action_space, spaces.Box)
                and dst.out_features == 2 * len(bias)
            ):
                # A head without a free log-std emits [mean, log_std]: the log-std half is SB3's constant one.
                log_std = policy.log_std.detach().double().cpu()
                weight = torch.cat([weight, torch.zeros_like(weight)])
                bias = torch.cat([bias, log_std])
            if tuple(dst.weight.shape) != tuple(weight.shape):
                raise ValueError(
                    f"the RLlib module's {tower} layer {i} has weight shape {tuple(dst.weight.shape)}, "
                    f"the SB3 policy's {tuple(weight.shape)}: build it with rllib_module_spec(policy)."
                )
            prefix = names[id(dst)]
            state[f"{prefix}.weight"] = weight.to(dst.weight.dtype)
            state[f"{prefix}.bias"] = bias.to(dst.bias.dtype)
    free_log_std = getattr(module.pi, "log_std", None)
    if isinstance(free_log_std, nn.Parameter):
        state[f"{names[id(module.pi)]}.log_std"] = policy.log_std.detach().to(free_log_std.dtype)
    return state


def export_to_rllib(policy: Any, target: Any = None, module_id: str = MODULE_ID) -> Any:
    """Copy an SB3 ``ActorCriticPolicy`` into an RLlib PPO module; forward outputs stay identical.

    ``module.forward_inference({"obs": x})["action_dist_inputs"]`` equals ``policy.action_net`` of the latent
    (the logits; for a Box, the mean followed by SB3's ``log_std``), and ``module.compute_values`` equals
    ``policy.predict_values``, up to float32 rounding of the folded first layer.

    Args:
        policy: the SB3 policy, e.g. ``Pretrainer(...).fit()`` or ``PPO(...).policy``.
        target: None (build a new module with :func:`rllib_module_spec`), an RLlib ``TorchRLModule``
            built with that spec (inference-only modules get the actor only), or a built PPO ``Algorithm``:
            then the learner's module is set and the weights are synced to every env runner.
        module_id: the module inside an Algorithm.

    Returns:
        The target (the new module when ``target`` is None).
    """
    if target is None:
        target = rllib_module_spec(policy).build()
    if isinstance(target, Algorithm):
        learner_module = (
            target.learner_group._learner.module[module_id] if target.learner_group.is_local else None
        )
        if learner_module is None:
            # Remote learners: build a full module locally only to name the parameters.
            learner_module = target.config.get_rl_module_spec().build()
        state = {k: v.numpy() for k, v in _module_state(policy, learner_module).items()}
        target.learner_group.set_weights({module_id: state})
        # Inference-only copies on the env runners (actor only), the local runner included.
        target.env_runner_group.sync_weights(
            from_worker_or_learner_group=target.learner_group, inference_only=True, timeout_seconds=60.0
        )
        return target
    state = _module_state(policy, target)
    missing, unexpected = target.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("log_std_clip_param_const")]
    if missing or unexpected:
        raise ValueError(
            f"the RLlib module does not match the policy: missing {missing}, unexpected {unexpected}."
        )
    return target


def import_from_rllib(module: Any, policy: Any) -> Any:
    """Copy an RLlib PPO module (e.g. trained by RLlib) into an SB3 ``ActorCriticPolicy``: the inverse map.

    The policy keeps its own observation scaling; the first layers are unfolded (``W = W' scale``,
    ``b = b' + W' loc``) so its forward outputs equal the module's. The module must be a full (not
    inference-only) module with the policy's architecture, e.g. ``algo.learner_group._learner.module[...]``
    or one built by :func:`rllib_module_spec` and loaded with ``algo.get_module().get_state()``.

    Returns:
        The policy.
    """
    _check_policy(policy)
    loc, scale = _observation_affine(policy)
    source, target = _towers(module), _sb3_towers(policy)
    if "critic" not in source:
        raise ValueError("the RLlib module is inference-only (no critic): pass the learner's module instead.")
    with torch.no_grad():
        for tower, layers in target.items():
            if len(layers) != len(source[tower]):
                raise ValueError(
                    f"the RLlib module's {tower} has {len(source[tower])} linear layers, the SB3 "
                    f"policy {len(layers)}."
                )
            for i, (src, dst) in enumerate(zip(source[tower], layers, strict=True)):
                weight, bias = src.weight.detach().double(), src.bias.detach().double()
                if i == 0 and tower in ("actor", "critic"):
                    bias = bias + weight @ loc
                    weight = weight * scale
                if tower == "pi" and isinstance(policy.action_space, spaces.Box):
                    n = dst.out_features
                    if src.out_features == 2 * n:
                        # The log-std half must not depend on the observation for SB3's state-independent std.
                        if torch.any(weight[n:] != 0):
                            raise ValueError(
                                "the module's log-std depends on the observation; SB3's does not."
                            )
                        policy.log_std.copy_(bias[n:].to(policy.log_std.dtype))
                        weight, bias = weight[:n], bias[:n]
                    else:
                        policy.log_std.copy_(module.pi.log_std.detach().to(policy.log_std.dtype))
                if tuple(dst.weight.shape) != tuple(weight.shape):
                    raise ValueError(
                        f"the SB3 policy's {tower} layer {i} has weight shape {tuple(dst.weight.shape)}, "
                        f"the RLlib module's {tuple(weight.shape)}."
                    )
                dst.weight.copy_(weight.to(dst.weight.dtype))
                dst.bias.copy_(bias.to(dst.bias.dtype))
    return policy
