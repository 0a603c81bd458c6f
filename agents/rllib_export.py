"""The ORPR policy moved into an RLlib RLModule and back: SB3 ``ActorCriticPolicy`` <-> RLlib's default PPO module.

The ORPR policy (``agents/pretrain.py``: behaviour cloning into an SB3 ``ActorCriticPolicy``) has the shape of
RLlib's default PPO module with separate actor and critic towers: features -> MLP -> linear logits (or
Gaussian mean with a free, state-independent log-std), features -> MLP -> linear value.
:func:`export_to_rllib` copies the weights; the fixed observation scaling of
:class:`~invgym.agents.pretrain.ScaledObservations`, ``(obs - loc) / scale``, is folded into the first
layer of each tower (``W' = W / scale``, ``b' = b - W' loc``), so the result is a stock
``DefaultPPOTorchRLModule`` that RLlib's PPO trains further with no custom class on the workers.
:func:`import_from_rllib` is the inverse map (into an SB3 policy that keeps its own ``loc``/``scale``).
Training on a Ray cluster is ``agents/rllib.py``.

Example:
    >>> from invgym.agents.rllib_export import export_to_rllib, import_from_rllib
    >>> module = export_to_rllib(policy)  # doctest: +SKIP
    >>> import_from_rllib(module, policy)  # doctest: +SKIP

Imports Ray RLlib (``pip install 'invgym[ray]'``) and torch; ``import invgym`` never loads this module.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

try:
    from ray.rllib.algorithms.algorithm import Algorithm
    from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("invgym.agents.rllib_export needs Ray RLlib: pip install 'invgym[ray]' (ray[rllib]).") from exc

__all__ = ["MODULE_ID", "export_to_rllib", "import_from_rllib", "rllib_model_config", "rllib_module_spec"]

MODULE_ID = "default_policy"
"""RLlib's id of the single-agent module (``ray.rllib.core.DEFAULT_MODULE_ID``)."""

# SB3 activation classes and RLlib's names for the same functions.
_ACTIVATIONS = {nn.Tanh: "tanh", nn.ReLU: "relu", nn.ELU: "elu", nn.SiLU: "silu"}


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
