"""ORPR step 3: PPO fine-tuning kept close to the cloned OR policy by a KL penalty.

:class:`KLRegularizedPPO` is Stable-Baselines3's PPO with one extra loss term,
``kl_coef * KL(pi_ref || pi_theta)``, averaged over each minibatch's observations, where ``pi_ref`` is a frozen
copy of the pretrained (behaviour-cloned) policy. The policy starts as a copy of ``pi_ref``, so the KL is zero at
the start and grows only as far as the advantage justifies — the trust region ORPR uses so that RL improves on the
OR policy without forgetting it (the same construction as the KL-to-reference term of RLHF fine-tuning).

How the term enters PPO's loss without re-implementing ``PPO.train``: SB3 forms
``loss = policy_loss + ent_coef * entropy_loss + vf_coef * value_loss`` with ``entropy_loss = -mean(entropy)``, a
linear term. During :meth:`train` this class sets PPO's ``ent_coef`` to 1 and hands PPO the per-sample
"entropy" ``user_ent_coef * entropy - kl_coef * KL``, so the entropy term becomes exactly
``user_ent_coef * (-mean(entropy)) + kl_coef * mean(KL)``; everything else (clipping, value loss, gradient
clipping, early stopping on approx_kl, logging) is PPO's own code. With ``kl_coef=0`` the KL is never computed.
The logged ``train/entropy_loss`` therefore includes the KL term; ``train/kl_reference`` logs the KL alone.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.policies import ActorCriticPolicy

from invgym.validation import check_real

__all__ = ["KLRegularizedPPO", "reference_kl"]

# Constructor arguments of the reference policy that PPO passes itself (or that describe the spaces).
_NOT_POLICY_KWARGS = ("observation_space", "action_space", "lr_schedule", "use_sde")


def reference_kl(reference: ActorCriticPolicy, policy: ActorCriticPolicy, obs: torch.Tensor) -> torch.Tensor:
    """Per-observation ``KL(reference || policy)``, differentiable in ``policy``'s parameters."""
    with torch.no_grad():
        ref = reference.get_distribution(obs).distribution
    cur = policy.get_distribution(obs).distribution
    kl = torch.distributions.kl_divergence(ref, cur)
    return kl.sum(dim=-1) if kl.ndim > 1 else kl  # a diagonal Gaussian: sum over action dimensions


class KLRegularizedPPO(PPO):
    """PPO with ``kl_coef * KL(pi_ref || pi)`` added to the loss, ``pi_ref`` a frozen pretrained policy.

    Args:
        policy: as for PPO ("MlpPolicy" or a policy class); with a ``reference`` and no ``policy_kwargs``, the
            reference's architecture is used so its weights can be loaded.
        env: the training env (e.g. ``invgym.sb3.make_sb3_vec_env(...)``).
        reference: the pretrained ``ActorCriticPolicy`` (e.g. from :class:`~invgym.agents.pretrain.Pretrainer`);
            the PPO policy starts from its weights and a frozen copy anchors the KL. None: plain PPO start.
        kl_coef: weight of the KL term, >= 0 (0: exactly PPO's loss).
        **kwargs: every other PPO argument (``seed``, ``n_steps``, ``ent_coef``, ...).
    """

    def __init__(self, policy: Any, env: Any, reference: ActorCriticPolicy | None = None, kl_coef: float = 0.1,
                 **kwargs: Any) -> None:
        self.kl_coef = check_real(kl_coef, "kl_coef", type(self).__name__, 0.0, None)
        if reference is not None and not isinstance(reference, ActorCriticPolicy):
            raise TypeError(f"The 'reference' parameter of {type(self).__name__} must be an SB3 ActorCriticPolicy "
                            f"(e.g. from Pretrainer.fit()). Got {reference!r} instead.")
        if self.kl_coef > 0 and reference is None:
            raise ValueError(f"The 'kl_coef' parameter of {type(self).__name__} is {self.kl_coef} but no reference "
                             "policy was given: pass reference= (the pretrained policy) or set kl_coef=0.")
        if reference is not None and "policy_kwargs" not in kwargs:
            params = reference._get_constructor_parameters()
            kwargs["policy_kwargs"] = {k: v for k, v in params.items() if k not in _NOT_POLICY_KWARGS}
        self._reference_source = reference
        self.reference: ActorCriticPolicy | None = None
        self._kl_log: list[float] = []
        super().__init__(policy, env, **kwargs)

    def _setup_model(self) -> None:
        super()._setup_model()
        source = self._reference_source
        if source is None:
            return
        # Start from the pretrained weights (in place: the optimizer already holds these parameter tensors).
        self.policy.load_state_dict(source.state_dict())
        self.reference = copy.deepcopy(source).to(self.device)
        self.reference.set_training_mode(False)
        for p in self.reference.parameters():
            p.requires_grad_(False)

    def kl_to_reference(self, obs: np.ndarray) -> float:
        """Mean ``KL(pi_ref || pi)`` over a batch of observations (0 without a reference)."""
        if self.reference is None:
            return 0.0
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
            return float(reference_kl(self.reference, self.policy, x).mean())

    def train(self) -> None:
        """One PPO update with the KL term folded into the entropy term (see the module docstring)."""
        user_ent_coef = self.ent_coef
        evaluate_actions = self.policy.evaluate_actions
        self._kl_log = []

        def with_kl(obs: torch.Tensor, actions: torch.Tensor) -> tuple:
            values, log_prob, entropy = evaluate_actions(obs, actions)
            # PPO's own fallback when a distribution has no analytic entropy.
            entropy = -log_prob if entropy is None else entropy
            bonus = user_ent_coef * entropy
            if self.kl_coef > 0 and self.reference is not None:
                kl = reference_kl(self.reference, self.policy, obs)
                self._kl_log.append(float(kl.detach().mean()))
                bonus = bonus - self.kl_coef * kl
            return values, log_prob, bonus

        self.ent_coef = 1.0
        self.policy.evaluate_actions = with_kl
        try:
            super().train()
        finally:
            self.ent_coef = user_ent_coef
            del self.policy.evaluate_actions  # back to the class's method
        if self._kl_log:
            self.logger.record("train/kl_reference", float(np.mean(self._kl_log)))

    def _excluded_save_params(self) -> list[str]:
        # The frozen reference is not pickled with the model; save the pretrained policy on its own.
        return [*super()._excluded_save_params(), "_reference_source", "reference", "_kl_log"]
