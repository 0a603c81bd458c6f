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

Why a plain start learns nothing, and what this class does about it: a behaviour-cloned policy puts ~96 % of
its mass on the teacher's order, so PPO's rollouts hardly try another one and its critic starts untrained; after
100k steps the deterministic policy is still exactly the clone. ``temperature`` softens the start and the KL
anchor without moving their mode (:func:`temper`), ``value_warmup`` fits the critic to the clone's returns before
the actor moves, and :class:`SelectBest` keeps the weights whose *deterministic* policy scores best on a fixed
validation simulation (the clone included). ``agents.orpr.clone_and_fine_tune`` runs the three together;
``python -m bench.agents_kl_ppo`` measures them on Zipkin's 16 lost-sales cells.

Saving: ``save()`` stores the frozen reference's weights with the model, so SB3's own
``KLRegularizedPPO.load(path)`` restores the leash without ``reference=``.

The expert term (ORPR's expert guidance for promotions) enters the same way: an ``expert(obs) -> actions``
callable labels the states where a buyer's decision is known (NaN elsewhere), and each labelled sample adds
``expert_coef * log pi(a_expert | s)`` to its "entropy", i.e. ``-expert_coef * mean(mask * log pi(a_expert | s))``
to the loss: behaviour cloning towards the expert on those states only, averaged over the minibatch (unlabelled
samples contribute zero). ``train/expert_nll`` logs the mean negative log-likelihood over the labelled samples.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import ActorCriticPolicy

from invgym.validation import check_int, check_real

__all__ = ["RLOO", "KLRegularizedPPO", "RLOOConfig", "SelectBest", "promotion_expert", "reference_kl", "temper"]

# Parameter names of the critic in an ActorCriticPolicy with separate actor and critic networks.
_CRITIC = ("value_net", "mlp_extractor.value", "vf_features_extractor")

# Constructor arguments of the reference policy that PPO passes itself (or that describe the spaces).
_NOT_POLICY_KWARGS = ("observation_space", "action_space", "lr_schedule", "use_sde")


def reference_kl(reference: ActorCriticPolicy, policy: ActorCriticPolicy, obs: torch.Tensor) -> torch.Tensor:
    """Per-observation ``KL(reference || policy)``, differentiable in ``policy``'s parameters."""
    with torch.no_grad():
        ref = reference.get_distribution(obs).distribution
    cur = policy.get_distribution(obs).distribution
    if isinstance(ref, list):  # a MultiDiscrete space: independent categoricals, whose KLs add up
        return sum(torch.distributions.kl_divergence(r, c) for r, c in zip(ref, cur, strict=True))
    kl = torch.distributions.kl_divergence(ref, cur)
    return kl.sum(dim=-1) if kl.ndim > 1 else kl  # a diagonal Gaussian: sum over action dimensions


def temper(policy: ActorCriticPolicy, temperature: float) -> ActorCriticPolicy:
    """Soften ``policy`` in place without moving its mode: logits / T (categorical), std x T (Gaussian).

    A behaviour-cloned policy is nearly deterministic (the teacher's order gets ~96 % of the mass), so PPO's
    rollouts hardly ever try another order and its gradient cannot move the mode: the cloned policy's cost stays
    exactly the clone's. Tempering keeps the clone's deterministic actions and gives PPO something to compare.
    """
    if temperature == 1.0:
        return policy
    with torch.no_grad():
        dist = policy.action_dist
        if hasattr(policy, "log_std") and isinstance(policy.log_std, torch.nn.Parameter):
            policy.log_std.add_(float(np.log(temperature)))
        elif type(dist).__name__ in ("CategoricalDistribution", "MultiCategoricalDistribution",
                                     "BernoulliDistribution"):
            policy.action_net.weight.div_(temperature)
            policy.action_net.bias.div_(temperature)
        else:
            raise ValueError(f"The 'temperature' parameter of KLRegularizedPPO supports categorical and diagonal "
                             f"Gaussian policies. Got {type(dist).__name__} with temperature {temperature}.")
    return policy


class SelectBest(BaseCallback):
    """Keep the weights whose *deterministic* policy scores best on a fixed validation simulation.

    PPO improves the sampled policy; the policy that is deployed is its mode, whose cost moves in jumps as one
    order flips to the next. Every ``every`` rollouts (and at the start, so the clone itself is a candidate) the
    model's deterministic policy is evaluated with ``score(model) -> cost`` (e.g. ``invgym.evaluate`` on seeds
    kept apart from the test seeds, common random numbers across candidates); at the end of ``learn`` the best
    weights are loaded back. ``history`` lists ``(timesteps, cost)``; ``best`` is ``(timesteps, cost)``.
    """

    def __init__(self, score: Any, every: int = 4) -> None:
        super().__init__()
        if not callable(score):
            raise TypeError(f"The 'score' parameter of SelectBest must be a callable model -> cost. Got {score!r}.")
        self.score, self.every = score, check_int(every, "every", "SelectBest", 1, 10**6)
        self.history: list[tuple[int, float]] = []
        self.best: tuple[int, float] | None = None
        self._state: dict | None = None
        self._rollouts = 0

    def _check(self) -> None:
        cost = float(self.score(self.model))
        self.history.append((int(self.model.num_timesteps), cost))
        if self.best is None or cost < self.best[1]:
            self.best = (int(self.model.num_timesteps), cost)
            self._state = copy.deepcopy(self.model.policy.state_dict())

    def _on_training_start(self) -> None:
        if self.best is None:
            self._check()

    def _on_rollout_start(self) -> None:
        if self._rollouts and self._rollouts % self.every == 0:
            self._check()
        self._rollouts += 1

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        self._check()
        self.model.policy.load_state_dict(self._state)


class KLRegularizedPPO(PPO):
    """PPO with ``kl_coef * KL(pi_ref || pi)`` added to the loss, ``pi_ref`` a frozen pretrained policy.

    Args:
        policy: as for PPO ("MlpPolicy" or a policy class); with a ``reference`` and no ``policy_kwargs``, the
            reference's architecture is used so its weights can be loaded.
        env: the training env (e.g. ``invgym.sb3.make_sb3_vec_env(...)``).
        reference: the pretrained ``ActorCriticPolicy`` (e.g. from :class:`~invgym.agents.pretrain.Pretrainer`);
            the PPO policy starts from its weights and a frozen copy anchors the KL. None: plain PPO start.
        kl_coef: weight of the KL term, >= 0 (0: exactly PPO's loss).
        expert: ``obs (n, obs_dim) numpy -> actions`` in the model's action space (what ``predict`` returns), with
            NaN in the rows of states that carry no expert label (e.g. non-promotion periods). None: no expert term.
        expert_coef: weight of the expert term, >= 0 (used only with an ``expert``).
        temperature: in (0, 100]; the start (and the KL anchor) is the reference with its logits divided by it
            (a Gaussian's std multiplied by it): the same deterministic actions, more exploration (see
            :func:`temper`). 1: the reference as it is.
        value_warmup: the first ``value_warmup`` updates train the critic only (a cloned policy comes with an
            untrained critic, whose advantages would otherwise move the actor at random).
        **kwargs: every other PPO argument (``seed``, ``n_steps``, ``ent_coef``, ...).
    """

    def __init__(self, policy: Any, env: Any, reference: ActorCriticPolicy | None = None, kl_coef: float = 0.1,
                 expert: Any = None, expert_coef: float = 0.1, temperature: float = 1.0, value_warmup: int = 0,
                 **kwargs: Any) -> None:
        owner = type(self).__name__
        self.kl_coef = check_real(kl_coef, "kl_coef", owner, 0.0, None)
        self.expert_coef = check_real(expert_coef, "expert_coef", owner, 0.0, None)
        self.temperature = check_real(temperature, "temperature", owner, 0.0, 100.0, closed="right")
        self.value_warmup = check_int(value_warmup, "value_warmup", owner, 0, 10**6)
        self._train_calls = 0
        loading = kwargs.get("_init_setup_model", True) is False  # SB3's load() builds the shell first
        if expert is not None and not callable(expert):
            raise TypeError(f"The 'expert' parameter of {type(self).__name__} must be a callable obs -> actions "
                            f"(NaN where there is no label) or None. Got {expert!r} instead.")
        self.expert = expert
        if reference is not None and not isinstance(reference, ActorCriticPolicy):
            raise TypeError(f"The 'reference' parameter of {type(self).__name__} must be an SB3 ActorCriticPolicy "
                            f"(e.g. from Pretrainer.fit()). Got {reference!r} instead.")
        if self.kl_coef > 0 and reference is None and not loading:
            raise ValueError(f"The 'kl_coef' parameter of {type(self).__name__} is {self.kl_coef} but no reference "
                             "policy was given: pass reference= (the pretrained policy) or set kl_coef=0.")
        if reference is not None and "policy_kwargs" not in kwargs:
            params = reference._get_constructor_parameters()
            kwargs["policy_kwargs"] = {k: v for k, v in params.items() if k not in _NOT_POLICY_KWARGS}
        self._reference_source = reference
        self._has_reference = reference is not None  # saved with the model: load() rebuilds the frozen copy
        self.reference: ActorCriticPolicy | None = None
        self._kl_log: list[float] = []
        self._expert_log: list[float] = []
        super().__init__(policy, env, **kwargs)

    def _setup_model(self) -> None:
        super()._setup_model()
        source = getattr(self, "_reference_source", None)
        if source is None:
            if getattr(self, "_has_reference", False):
                # load(): a shell of the reference, whose saved weights set_parameters() then loads.
                self.reference = self._frozen(self.policy)
            return
        # Start from the pretrained weights (in place: the optimizer already holds these parameter tensors),
        # tempered: the logits divided by ``temperature`` (a Gaussian's standard deviation multiplied by it).
        self.policy.load_state_dict(source.state_dict())
        with torch.no_grad():
            temper(self.policy, self.temperature)
        self.reference = self._frozen(self.policy)  # the tempered clone: the same mode as the clone

    def _frozen(self, policy: ActorCriticPolicy) -> ActorCriticPolicy:
        reference = copy.deepcopy(policy).to(self.device)
        reference.set_training_mode(False)
        for p in reference.parameters():
            p.requires_grad_(False)
        return reference

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
        self._kl_log, self._expert_log = [], []

        def with_kl(obs: torch.Tensor, actions: torch.Tensor) -> tuple:
            values, log_prob, entropy = evaluate_actions(obs, actions)
            # PPO's own fallback when a distribution has no analytic entropy.
            entropy = -log_prob if entropy is None else entropy
            bonus = user_ent_coef * entropy
            if self.kl_coef > 0 and self.reference is not None:
                kl = reference_kl(self.reference, self.policy, obs)
                self._kl_log.append(float(kl.detach().mean()))
                bonus = bonus - self.kl_coef * kl
            if self.expert is not None and self.expert_coef > 0:
                bonus = bonus + self.expert_coef * self._expert_log_prob(obs)
            return values, log_prob, bonus

        # Value warm-up: the first updates fit the critic only (the actor's parameters get no gradient), so
        # the first policy steps follow advantages of a critic that knows the clone's returns.
        actor = [p for name, p in self.policy.named_parameters() if not name.startswith(_CRITIC)]
        warming = self._train_calls < self.value_warmup
        self.ent_coef = 1.0
        self.policy.evaluate_actions = with_kl
        try:
            if warming:
                for p in actor:
                    p.requires_grad_(False)
            super().train()
        finally:
            self.ent_coef = user_ent_coef
            del self.policy.evaluate_actions  # back to the class's method
            for p in actor:
                p.requires_grad_(True)
        self._train_calls += 1
        self.logger.record("train/value_warmup", float(warming))
        if self._kl_log:
            self.logger.record("train/kl_reference", float(np.mean(self._kl_log)))
        if self._expert_log:
            self.logger.record("train/expert_nll", float(np.mean(self._expert_log)))

    def _expert_log_prob(self, obs: torch.Tensor) -> torch.Tensor:
        """Per-sample ``log pi(a_expert | s)`` on labelled states, 0 on the others."""
        labels = np.asarray(self.expert(obs.detach().cpu().numpy()), dtype=np.float64).reshape(len(obs), -1)
        mask = ~np.isnan(labels).any(axis=1)
        out = torch.zeros(len(obs), device=obs.device)
        if not mask.any():
            return out
        rows = torch.as_tensor(np.flatnonzero(mask), device=obs.device)
        actions = torch.as_tensor(labels[mask], dtype=torch.float32, device=obs.device)
        if isinstance(self.action_space, gym.spaces.Discrete):
            actions = actions[:, 0]  # SB3's categorical takes (n,) indices
        log_p = self.policy.get_distribution(obs[rows]).log_prob(actions)
        self._expert_log.append(float(-log_p.detach().mean()))
        return out.index_put((rows,), log_p)

    def _excluded_save_params(self) -> list[str]:
        # The frozen reference travels as a state dict (see _get_torch_save_params), not pickled; the expert is
        # a callable the caller passes again to load() (expert=...) when training goes on.
        return [*super()._excluded_save_params(), "_reference_source", "reference", "_kl_log", "expert",
                "_expert_log"]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        state_dicts, tensors = super()._get_torch_save_params()
        if self.reference is not None:
            state_dicts = [*state_dicts, "reference"]
        return state_dicts, tensors


# === RLOO fine-tuning of a days-of-cover policy (ORPR's reinforce stage on invgym/Replenishment-v0) ===


def promotion_expert(teacher_days: float, uplift: float = 2.25, max_days: int = 60) -> Any:
    """The buyer's label on promotion periods: the teacher's days plus the promotion's extra demand, in days.

    A promotion multiplies demand by ``uplift`` (the default synthetic panel draws it from U(1.5, 3), mean
    2.25), so covering each announced promotion day takes ``uplift - 1`` extra days of normal sales. Returns
    ``obs -> days`` with NaN where nothing is announced (no label).
    """

    def label(obs: np.ndarray, slices: dict[str, slice]) -> np.ndarray:
        announced = np.asarray(obs)[:, slices["promo"]].sum(axis=1)
        days = np.minimum(np.round(teacher_days + (uplift - 1.0) * announced), max_days)
        return np.where(announced > 0, days, np.nan)

    return label


@dataclasses.dataclass
class RLOOConfig:
    """Settings of REINFORCE leave-one-out fine-tuning with a KL leash and an expert term."""

    iterations: int = 300
    """Policy updates."""
    skus: int = 64
    """SKUs per update (drawn from the env's products); each is rolled out ``samples`` times."""
    samples: int = 4
    """Rollouts per SKU (same SKU, same days; RLOO's baseline is the mean return of the others)."""
    days: int = 84
    """Counted days per rollout."""
    warmup: int = 21
    """Days run first with the policy's mode, uncounted (leaves the arbitrary starting stock behind)."""
    credit_days: int = 28
    """Days of cost credited to a decision (its order acts for about the review period plus the lead time)."""
    learning_rate: float = 3e-3
    """Adam step size."""
    kl_coef: float = 0.02
    """Weight of KL(pi_ref || pi) on the decision states (the leash to the pretrained policy)."""
    expert_coef: float = 0.01
    """Weight of -log pi(expert days | s) on promotion states carrying an expert label."""
    lost_sales_weight: float = 1.0
    """Weight of the env's lost-margin cost in the objective (0: holding cost and the in-stock constraint only)."""
    stockout_price: float = 10.0
    """Initial Lagrange multiplier: money charged per SKU-day without stock on the shelf."""
    dual_rate: float = 0.05
    """Multiplicative step of the multiplier per percentage point of in-stock rate below the teacher's."""
    in_stock_margin: float = 0.001
    """In-stock rate the policy must keep above the teacher's on the same SKUs and days (the constraint)."""
    turnover_weight: float = 0.0
    """Weight of JD's turnover days in the objective: each unit on hand costs ``turnover_weight`` divided by its
    SKU's mean daily train demand per day (so a SKU's daily term is its stock in days of its sales); 0 (the
    default) leaves it out."""
    checkpoint_every: int = 25
    """Updates between checkpoints."""
    seed: int = 0
    """Seeds the SKU and window draws, the lead times and the action samples."""

    def validate(self) -> RLOOConfig:
        """Check every field; return self."""
        owner = type(self).__name__
        for name in ("iterations", "skus", "days", "credit_days", "checkpoint_every"):
            check_int(getattr(self, name), name, owner, 1, 10**7)
        check_int(self.samples, "samples", owner, 2, 1024)
        check_int(self.warmup, "warmup", owner, 0, 10**5)
        check_real(self.learning_rate, "learning_rate", owner, 0.0, 10.0, closed="right")
        for name in ("kl_coef", "expert_coef", "lost_sales_weight", "stockout_price", "dual_rate", "turnover_weight"):
            check_real(getattr(self, name), name, owner, 0.0, None)
        check_real(self.in_stock_margin, "in_stock_margin", owner, -1.0, 1.0)
        check_int(self.seed, "seed", owner, 0, 2**62)
        return self


class RLOO:
    """Fine-tune a :class:`~invgym.agents.pretrain.CoverPolicy` with REINFORCE leave-one-out (Kool et al. 2019).

    Each update draws ``skus`` SKUs and a start day in the training window, and rolls out every SKU
    ``samples`` times with sampled days of cover (plus once with the teacher, on the same days) through the
    compiled kernel. The objective is JD's — holding cost at the teacher's in-stock rate, as a Lagrangian — plus
    the env's lost margin: each counted day costs ``holding_cost + w * lost_sales_cost + lam * 1[no stock on
    the shelf]`` (``w = lost_sales_weight``; without it, stock moves from fast to slow movers, which keeps the
    SKU-day in-stock rate but loses more sales), plus ``turnover_weight * on_hand / mean train demand`` when
    that weight is set (JD's turnover days); ``lam`` rises when the sampled
    rollouts' in-stock rate falls below the teacher's and falls otherwise (dual ascent). The ``teacher`` argument
    is only the in-stock reference: pass the incumbent to hold RL above the incumbent's rate instead. The loss is

        -mean_i A_i * sum_t log pi(d_it | s_it) + kl_coef * mean_s KL(pi_ref || pi)(s)
        - expert_coef * mean_{s: promotion} log pi(d_expert(s) | s)

    with ``A_i = R_i - mean_{j != i} R_j`` over the samples of one SKU (divided by the batch's standard
    deviation), the sums over review days only (other days' orders are zero whatever the action).

    Args:
        env_config: the replenishment config to train on (its products and window).
        policy: the policy to fine-tune (in place); ``reference``: the frozen pretrained copy for the KL.
        teacher: the OR policy the in-stock constraint is measured against.
        expert: ``(obs, slices) -> days`` with NaN where there is no label (e.g. :func:`promotion_expert`).
        config: an :class:`RLOOConfig`.
    """

    def __init__(self, env_config: Any, policy: Any, reference: Any, teacher: Any, expert: Any = None,
                 config: RLOOConfig | None = None) -> None:
        self.config = (RLOOConfig() if config is None else config).validate()
        self.env_config, self.policy, self.teacher, self.expert = env_config, policy, teacher, expert
        self.reference = copy.deepcopy(reference).eval()
        for p in self.reference.parameters():
            p.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=self.config.learning_rate)
        self.lam = float(self.config.stockout_price)
        self.iteration = 0
        self.metrics: list[dict[str, float]] = []
        self.rng = np.random.default_rng(self.config.seed)

    def state_dict(self) -> dict:
        """Everything needed to resume: weights, optimizer, multiplier, iteration, metrics, generator state."""
        return {"policy": self.policy.state_dict(), "optimizer": self.optimizer.state_dict(), "lam": self.lam,
                "iteration": self.iteration, "metrics": self.metrics, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        """Resume from :meth:`state_dict`."""
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.lam, self.iteration, self.metrics = state["lam"], state["iteration"], state["metrics"]
        self.rng.bit_generator.state = state["rng"]

    def _rollout(self) -> dict:
        """Roll out ``skus x samples`` sampled policies and ``skus`` teachers on the same SKUs and days."""
        cfg, env = self.config, self.env_config
        g, k = cfg.skus, cfg.samples
        skus = self.rng.choice(np.asarray(env.products), size=g)
        total = cfg.warmup + cfg.days
        start, length = env.window
        first = start + int(self.rng.integers(0, max(length - total, 1)))
        # Env i runs products[i]: samples of SKU j at rows j*k .. j*k+k-1, its teacher at row g*k + j.
        products = tuple(int(p) for p in np.concatenate([np.repeat(skus, k), skus]))
        run = dataclasses.replace(env, product=products, window=(first, min(total, length)), horizon=total)
        buf = run.bind(len(products))
        kernel = buf.kernel
        # Common random numbers: the samples of one SKU share a seed, hence their lead-time draws.
        seeds = self.rng.integers(0, 2**63, size=g).astype(np.uint64)
        kernel.reset(np.concatenate([np.repeat(seeds, k), seeds]))
        parts = type(run).parts
        hold, lost, in_stock = parts.index("holding_cost"), parts.index("lost_sales_cost"), parts.index("in_stock")
        review = env.slices["review"].start
        n = g * k
        on_hand = parts.index("on_hand")
        per_unit = cfg.turnover_weight / np.maximum(env.train_mean[np.asarray(products[:n])], 1e-3)
        states, chosen, when, owner = [], [], [], []
        cost = np.zeros((cfg.days, n))
        stocked = np.zeros(len(products))
        for t in range(total):
            obs = buf.obs.copy()
            x = torch.as_tensor(obs[:n])
            with torch.no_grad():
                if t < cfg.warmup:
                    days = self.policy.days(x).numpy()
                else:  # inverse-cdf sampling from this object's generator, so a resumed run draws the same
                    cdf = torch.softmax(self.policy.logits(x), dim=1).cumsum(dim=1).numpy()
                    days = np.minimum((cdf < self.rng.random((n, 1)) * cdf[:, -1:]).sum(axis=1), cdf.shape[1] - 1)
            buf.actions[:, 0] = np.concatenate([self.policy.orders(obs[:n], days), np.asarray(self.teacher(obs[n:]))])
            kernel.step()
            if t >= cfg.warmup:
                decide = np.flatnonzero(obs[:n, review] > 0.5)
                states.append(obs[decide])
                chosen.append(days[decide])
                when.append(np.full(len(decide), t - cfg.warmup))
                owner.append(decide)
                cost[t - cfg.warmup] = (buf.parts[:n, hold] + cfg.lost_sales_weight * buf.parts[:n, lost]
                                        + self.lam * (1.0 - buf.parts[:n, in_stock]))
                if cfg.turnover_weight:
                    cost[t - cfg.warmup] += per_unit * buf.parts[:n, on_hand]
                stocked += buf.parts[:, in_stock]
        # Credit of a decision: the cost of the next credit_days days (an order acts for about R + L days).
        cum = np.vstack([np.zeros((1, n)), np.cumsum(cost, axis=0)])
        t0 = np.arange(cfg.days)
        window = cum[np.minimum(t0 + cfg.credit_days, cfg.days)] - cum[t0]  # (days, n)
        grouped = window.reshape(cfg.days, g, k)
        # RLOO: the baseline of a sample is the mean of the other samples of the same SKU on the same day.
        advantage = (grouped - (grouped.sum(axis=2, keepdims=True) - grouped) / (k - 1)).reshape(cfg.days, n)
        when, owner = np.concatenate(when), np.concatenate(owner)
        return {"obs": np.concatenate(states), "days": np.concatenate(chosen), "advantage": -advantage[when, owner],
                "returns": -cost.sum(axis=0), "in_stock": stocked[:n].mean() / cfg.days,
                "teacher_in_stock": stocked[n:].mean() / cfg.days}

    def update(self) -> dict[str, float]:
        """One rollout and one gradient step; returns its metrics."""
        cfg = self.config
        batch = self._rollout()
        advantage = batch["advantage"] / (batch["advantage"].std() + 1e-8)
        x = torch.as_tensor(batch["obs"])
        log_p = torch.log_softmax(self.policy.logits(x), dim=1)
        chosen = log_p.gather(1, torch.as_tensor(batch["days"]).long().view(-1, 1)).squeeze(1)
        policy_loss = -(torch.as_tensor(advantage, dtype=torch.float32) * chosen).mean()
        ref = torch.log_softmax(self.reference.logits(x), dim=1)
        kl = (ref.exp() * (ref - log_p)).sum(dim=1).mean()
        loss = policy_loss + cfg.kl_coef * kl
        expert_nll = torch.zeros(())
        if self.expert is not None and cfg.expert_coef > 0:
            label = self.expert(batch["obs"], self.env_config.slices)
            rows = np.flatnonzero(np.isfinite(label))
            if len(rows):
                target = torch.as_tensor(label[rows]).long().clamp(0, self.policy.max_days).view(-1, 1)
                expert_nll = -log_p[torch.as_tensor(rows)].gather(1, target).mean()
                loss = loss + cfg.expert_coef * expert_nll
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.policy.parameters(), 1.0)
        self.optimizer.step()
        # Dual ascent on the in-stock constraint (multiplicative, so lam stays positive).
        gap = batch["teacher_in_stock"] + cfg.in_stock_margin - batch["in_stock"]
        self.lam *= float(np.exp(np.clip(cfg.dual_rate * 100.0 * gap, -0.5, 0.5)))
        self.iteration += 1
        record = {"iteration": self.iteration, "charts/in_stock": batch["in_stock"],
                  "charts/teacher_in_stock": batch["teacher_in_stock"], "charts/lambda": self.lam,
                  "charts/mean_days": float(batch["days"].mean()), "losses/kl_reference": float(kl.detach()),
                  "losses/expert_nll": float(expert_nll.detach()), "charts/return": float(batch["returns"].mean())}
        self.metrics.append(record)
        return record
