"""DirectBackprop: train an order policy by backpropagating the total cost through a differentiable twin.

Madeka et al. (2022), "Deep inventory management" (and the Amazon structure-informed follow-up), observe that in
inventory control the only randomness is exogenous demand, and the period dynamics are piecewise linear in the
orders. So instead of estimating a policy gradient from rewards, one can replay a batch of demand paths through
the scenario's torch twin (``invgym.twins``) with the policy in the loop and differentiate the average cost per
period with respect to the policy's weights exactly, as in training a recurrent network.

Reading order (CleanRL style): :class:`DirectBackpropConfig` (every setting, one line each), then
:meth:`DirectBackprop.fit` top to bottom: build twin and policy, sample demand paths, roll out, step the
optimiser, log, checkpoint, evaluate. Evaluation runs the trained policy on the compiled kernel through
:func:`invgym.evaluate`, never on the twin.

Example:
    >>> from invgym.agents import DirectBackprop, DirectBackpropConfig
    >>> agent = DirectBackprop("invgym/LostSales-v0", config=DirectBackpropConfig(epochs=5),
    ...                        lead_time=1, lost_sales_cost=4.0)
    >>> policy = agent.fit()                        # a FittedPolicy: policy(obs) -> integer orders
    >>> agent.evaluate(policy).average_cost         # doctest: +SKIP
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from invgym.agents.policies import POLICY_KINDS, build_policy
from invgym.atomic import atomic_save
from invgym.baselines.common import FittedPolicy, config_of, family_of
from invgym.validation import check_bool, check_int, check_real

__all__ = ["DemandSampler", "DirectBackprop", "DirectBackpropConfig", "PanelSampler", "TrainedPolicy"]

CHECKPOINT_NAME = "direct_backprop.pt"
STRUCTURE_STREAM = 0x5354  # second entropy word of the structure penalty's state stream (``[seed, STRUCTURE_STREAM]``)


@dataclasses.dataclass
class DirectBackpropConfig:
    """Every setting of DirectBackprop; ``validate`` raises ValueError/TypeError naming a bad field and its range."""

    epochs: int = 300
    """Optimiser steps; each uses a fresh batch of demand paths."""
    batch_size: int = 128
    """Demand paths per step."""
    periods: int = 64
    """Counted periods per path (the loss is the average cost over these)."""
    warmup: int = 16
    """Leading periods per path that move the state but are excluded from the loss (start-up transient)."""
    learning_rate: float = 3e-3
    """Adam step size."""
    final_lr_fraction: float = 0.1
    """Cosine decay of the step size down to this fraction of ``learning_rate`` at the last epoch."""
    grad_clip: float = 10.0
    """Clip the gradient's global norm to this (0: no clipping)."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer sizes of the policy MLP (for a policy built from its name)."""
    base_stock_head: bool = True
    """Order ``relu(S(x) - position)``: the network learns a state-dependent order-up-to level. With signed
    actions (procurement-removal) an interval head; with two orders (dual sourcing) the dual-index head
    :class:`~invgym.agents.policies.DualIndexPolicy` started at :func:`~invgym.agents.policies.dual_index_levels`;
    other multi-order scenarios need ``base_stock_head=False``."""
    window: int = 32
    """Periods of sales history the history encoder reads (``policy="history"``)."""
    history_quantiles: int = 0
    """Order statistics of the sales window (plus its mean and standard deviation) the history encoder hands the
    policy beside its learned summary (``policy="history"``; see ``HistoryEncoder``); 0: none, at most ``window``."""
    structure_weight: float = 0.0
    """Weight of the structure penalty (``invgym.agents.structure.StructurePenalty``) added to the loss; 0: off."""
    structure_states: int = 256
    """States sampled from each step's rollout at which the structure penalty is evaluated."""
    seed: int = 0
    """Seeds every random draw of training: the policy's initial weights (a local ``torch.Generator``), the
    demand paths (a local ``numpy.random.Generator``) and the structure penalty's states (a second local
    generator, so that penalised and unpenalised runs of one seed see the same demand paths); torch's and numpy's
    global RNGs are never used, so the same config gives the same weights whatever ran before in the process."""
    eval_every: int = 0
    """Evaluate on the compiled kernel every this many epochs (0: only when fit ends)."""
    eval_envs: int = 64
    """Envs of each evaluation (``invgym.evaluate``'s ``num_envs``)."""
    eval_periods: int = 2000
    """Counted periods per env of each evaluation."""
    eval_warmup: int = 200
    """Uncounted periods per env of each evaluation."""
    eval_seed: int = 12345
    """Seed of the evaluation envs (fixed: every evaluation sees the same demand)."""
    checkpoint_dir: str | None = None
    """Folder for the checkpoint and ``metrics.jsonl``; None: no checkpoints."""
    checkpoint_every: int = 1
    """Save the checkpoint every this many epochs (and at the end)."""
    resume: bool = True
    """Continue from the checkpoint in ``checkpoint_dir`` when there is one."""
    progress_bar: bool = False
    """Show a tqdm progress bar."""
    torch_threads: int = 1
    """torch.set_num_threads during fit: small networks on few cores are much faster single-threaded."""

    def validate(self) -> DirectBackpropConfig:
        """Check every field; return self."""
        owner = type(self).__name__
        check_int(self.epochs, "epochs", owner, 1, 10**7)
        check_int(self.batch_size, "batch_size", owner, 1, 10**6)
        check_int(self.periods, "periods", owner, 1, 10**6)
        check_int(self.warmup, "warmup", owner, 0, 10**6)
        check_real(self.learning_rate, "learning_rate", owner, 0.0, 10.0, closed="right")
        check_real(self.final_lr_fraction, "final_lr_fraction", owner, 0.0, 1.0)
        check_real(self.grad_clip, "grad_clip", owner, 0.0, None)
        if not isinstance(self.hidden, Sequence) or not self.hidden or not all(
                isinstance(h, int) and not isinstance(h, bool) and 1 <= h <= 4096 for h in self.hidden):
            raise ValueError(f"The 'hidden' parameter of {owner} must be a non-empty sequence of ints in the range "
                             f"[1, 4096]. Got {self.hidden!r} instead.")
        check_bool(self.base_stock_head, "base_stock_head", owner)
        check_int(self.window, "window", owner, 2, 1024)
        check_int(self.history_quantiles, "history_quantiles", owner, 0, self.window)
        check_real(self.structure_weight, "structure_weight", owner, 0.0, None)
        check_int(self.structure_states, "structure_states", owner, 1, 10**6)
        check_int(self.seed, "seed", owner, 0, 2**63 - 1)
        check_int(self.eval_every, "eval_every", owner, 0, None)
        check_int(self.eval_envs, "eval_envs", owner, 1, 10**6)
        check_int(self.eval_periods, "eval_periods", owner, 1, None)
        check_int(self.eval_warmup, "eval_warmup", owner, 0, None)
        check_int(self.eval_seed, "eval_seed", owner, 0, 2**62)
        if self.checkpoint_dir is not None and not isinstance(self.checkpoint_dir, str | os.PathLike):
            raise TypeError(f"The 'checkpoint_dir' parameter of {owner} must be a path or None. "
                            f"Got {self.checkpoint_dir!r} instead.")
        check_int(self.checkpoint_every, "checkpoint_every", owner, 1, None)
        check_bool(self.resume, "resume", owner)
        check_bool(self.progress_bar, "progress_bar", owner)
        check_int(self.torch_threads, "torch_threads", owner, 1, 1024)
        return self


class DemandSampler:
    """Draws demand paths (B, T) from an env's demand model, or replays windows of recorded paths.

    For a ``ProductMixture`` each path draws one product uniformly and keeps it, as the env does at every reset:
    a policy trained on these paths must infer the product from the sales it observes. With a demand schedule
    (procurement-removal's ``demand_schedule``) period t of every path is drawn from phase ``t mod S``: paths
    start at phase 0, as the env and its twin do at every reset.

    Args:
        demand: an ``invgym.demand`` model (None when ``paths`` or ``schedule`` are given).
        paths: recorded demand, shape (num_paths, length); each training path is a random window of one row.
        schedule: one demand model per phase (the env's ``demand_schedule``).
    """

    def __init__(self, demand: Any = None, paths: np.ndarray | None = None, schedule: Any = None) -> None:
        self.phase_cdfs = None
        if paths is not None:
            paths = np.asarray(paths, dtype=np.float64)
            if paths.ndim != 2 or not np.isfinite(paths).all() or (paths < 0).any():
                raise ValueError("The 'demand_paths' parameter of DirectBackprop must be a 2-D array of finite, "
                                 f"non-negative demands (paths, periods). Got shape {paths.shape} instead.")
            self.paths, self.cdfs = paths, None
        elif schedule:
            self.paths, self.cdfs = None, None
            self.phase_cdfs = [np.cumsum(m.pmf()) for m in schedule]
        elif demand is None:
            raise ValueError("this scenario has no 'demand' model to sample from: pass demand_paths to replay.")
        else:
            self.paths = None
            self.cdfs = [np.cumsum(p.pmf()) for p in demand.products()]

    def draw(self, rng: np.random.Generator, batch: int, periods: int) -> tuple[torch.Tensor, None]:
        """Return demand paths as a float32 tensor, and no starting state (the twin's own)."""
        return torch.as_tensor(self.sample(rng, batch, periods), dtype=torch.float32), None

    def sample(self, rng: np.random.Generator, batch: int, periods: int) -> np.ndarray:
        """Return ``batch`` demand paths of ``periods`` periods."""
        if self.paths is not None:
            rows, length = self.paths.shape
            if length < periods:
                raise ValueError(f"the recorded demand paths have {length} periods; training needs warmup + "
                                 f"periods = {periods}. Shorten them or record longer paths.")
            row = rng.integers(0, rows, batch)
            start = rng.integers(0, length - periods + 1, batch)
            return self.paths[row[:, None], start[:, None] + np.arange(periods)]
        if self.phase_cdfs is not None:
            u = rng.random((batch, periods))
            out = np.empty((batch, periods))
            phases = len(self.phase_cdfs)
            for k in range(min(phases, periods)):  # inverse-cdf sampling, phase by phase
                out[:, k::phases] = np.searchsorted(self.phase_cdfs[k], u[:, k::phases], side="right")
            return out
        product = rng.integers(0, len(self.cdfs), batch)
        u = rng.random((batch, periods))
        out = np.empty((batch, periods))
        for k in np.unique(product):  # inverse-cdf sampling, product by product
            rows = product == k
            out[rows] = np.searchsorted(self.cdfs[k], u[rows], side="right")
        return out


class PanelSampler:
    """Draws training paths from a twin that replays a recorded panel (``invgym/Retail-v0``).

    Every epoch takes ``batch`` products at random from the env's products and one random start day in its
    window; each row's demand, promotions, holidays and calendar then belong to that product and those days
    (the twin's ``initial_state`` and ``demand_paths`` with the same ``products`` and ``offset``).

    Args:
        twin: a twin with ``demand_paths`` and ``initial_state(batch, dtype, products, offset)``.
        products: the panel products to draw from (the env's ``products``).
    """

    def __init__(self, twin: Any, products: Any) -> None:
        self.twin, self.products = twin, np.asarray(products, dtype=np.int64)

    def draw(self, rng: np.random.Generator, batch: int, periods: int) -> tuple[torch.Tensor, dict]:
        """Return demand (B, periods) and the matching starting state."""
        rows = self.products[rng.integers(0, len(self.products), batch)]
        offset = int(rng.integers(0, max(self.twin.length - periods, 0) + 1))
        demand = self.twin.demand_paths(batch, periods, torch.float32, products=rows, offset=offset)
        return demand, self.twin.initial_state(batch, torch.float32, products=rows, offset=offset)


class TrainedPolicy(FittedPolicy):
    """A trained torch policy usable wherever a baseline is: ``policy(obs)``, ``predict``, ``invgym.evaluate``.

    Orders are clipped to the action space ``[low, high]``; with a discrete action space they are rounded to the
    nearest integer (the twin is trained with continuous orders; rounding is the projection onto the integers,
    and the only place where the trained and the evaluated policy differ).

    Args:
        module: the torch policy (observations to continuous orders).
        config: the scenario config it was trained for (family, bounds, action type).
        info: training summary (epochs, final loss, ...).
    """

    def __init__(self, module: nn.Module, config: Any, info: dict | None = None) -> None:
        super().__init__(kind=type(module).__name__)
        self.family = family_of(config)
        self.module = module
        self.low = np.asarray(config.action_low, dtype=np.float64)
        self.high = np.asarray(config.action_high, dtype=np.float64)
        self.discrete = config.action_type == "discrete"
        self.obs_dim = int(config.observation_space().shape[0])
        self.info = dict(info or {})

    def check_env(self, env: Any) -> Any:
        """Return the env's config; ValueError if its family or observation length differs from training."""
        config = super().check_env(env)
        obs_dim = int(config.observation_space().shape[0])
        if obs_dim != self.obs_dim:
            raise ValueError(f"the policy was trained on observations of length {self.obs_dim}; this env has "
                             f"{obs_dim} (a different lead time or history?).")
        return config

    def orders(self, obs: np.ndarray) -> np.ndarray:
        """Continuous orders of the torch policy, shape (B, action_dim), before clipping and rounding."""
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(obs, dtype=np.float32))
            return self.module(x).reshape(x.shape[0], -1).double().numpy()

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return clipped (and, for a discrete space, rounded) orders for a batch of observations."""
        raw = self.orders(obs)
        if not np.isfinite(raw).all():
            raise FloatingPointError("the trained policy returned non-finite orders (its weights diverged in "
                                     "training: lower the learning_rate or the grad_clip of DirectBackpropConfig).")
        q = np.clip(raw, self.low, self.high)
        if self.discrete:
            q = np.rint(q).astype(np.int64)
        return q[:, 0] if q.shape[1] == 1 else q


class DirectBackprop:
    """Fit a policy by gradient descent on the twin's average cost per period.

    Args:
        env: a registered id (with ``env_kwargs``), env or config of a scenario with a torch twin.
        policy: "mlp", "history" (causal-convolution encoder of past sales; needs ``history > 0`` on the env),
            or a ``torch.nn.Module`` mapping observations (B, obs_dim) to orders (B, action_dim). A module is
            copied when the agent is made and every ``fit`` starts from that copy, so fitting twice gives the same
            result and the module passed in is never changed; its initial weights are its own (the policies of
            :mod:`invgym.agents.policies` draw them from their ``seed`` argument).
        config: a :class:`DirectBackpropConfig` (default settings when None).
        demand_paths: recorded demand (paths, periods) to replay instead of sampling the env's demand model.
        on_epoch: called with each epoch's metrics dict (e.g. to forward them to TensorBoard or W&B).
        **env_kwargs: scenario parameters, with an id only.
    """

    def __init__(self, env: Any, policy: str | nn.Module = "mlp", config: DirectBackpropConfig | None = None, *,
                 demand_paths: np.ndarray | None = None, on_epoch: Callable[[dict], None] | None = None,
                 **env_kwargs: Any) -> None:
        from invgym.twins import twin_for

        self.config = (DirectBackpropConfig() if config is None else config)
        if not isinstance(self.config, DirectBackpropConfig):
            raise TypeError(f"The 'config' parameter of DirectBackprop must be a DirectBackpropConfig. "
                            f"Got {config!r} instead.")
        self.config.validate()
        self.env_config = config_of(env, **env_kwargs)
        self.twin = twin_for(self.env_config)  # ValueError for a scenario without a twin
        if not (isinstance(policy, nn.Module) or policy in POLICY_KINDS):
            raise ValueError(f"The 'policy' parameter of DirectBackprop must be one of {list(POLICY_KINDS)} or a "
                             f"torch.nn.Module. Got {policy!r} instead.")
        if (self.config.base_stock_head and len(self.env_config.action_low) != 1 and not isinstance(policy, nn.Module)
                and (family_of(self.env_config) != "dual_sourcing" or policy != "mlp")):
            raise ValueError("The 'base_stock_head' parameter of DirectBackpropConfig needs a single-order scenario "
                             f"(or policy='mlp' on dual sourcing); this one has {len(self.env_config.action_low)} "
                             "orders. Set base_stock_head=False.")
        if policy == "history" and int(getattr(self.env_config, "history", 0)) < 1:
            raise ValueError("The 'policy' parameter of DirectBackprop is 'history' but the env keeps no sales "
                             "history: make it with history > 0 (e.g. history=32).")
        # A module is kept as a private copy of its initial weights: each fit starts from a fresh copy of it.
        self.policy_spec = copy.deepcopy(policy) if isinstance(policy, nn.Module) else policy
        if hasattr(self.twin, "demand_paths"):  # the twin replays a recorded panel: draw products and days from it
            if demand_paths is not None:
                raise ValueError("The 'demand_paths' parameter of DirectBackprop cannot be used with a panel env "
                                 f"({family_of(self.env_config)}): its demand is the panel's; choose the products "
                                 "and window with the env's 'product' and 'split' instead.")
            self.sampler: DemandSampler | PanelSampler = PanelSampler(self.twin, self.env_config.products)
        else:
            self.sampler = DemandSampler(getattr(self.env_config, "demand", None), demand_paths,
                                         getattr(self.env_config, "demand_schedule", None))
        self.on_epoch = on_epoch
        self.metrics: list[dict[str, float]] = []
        self.epoch = 0

    # === Training ===

    def fit(self, stop_after: int | None = None) -> TrainedPolicy:
        """Train (or continue training from the checkpoint) and return the trained policy.

        Args:
            stop_after: stop once this many epochs in total are done (checkpoint saved), as an interrupted
                run would; fitting again with ``resume=True`` continues exactly where it stopped.
        """
        cfg = self.config
        torch.set_num_threads(cfg.torch_threads)

        # 1. POLICY, OPTIMISER AND RNG, all from cfg.seed through local generators (never the global RNGs);
        #    then restored from the checkpoint if there is one.
        self.module = self._build_module()
        self.optimizer = torch.optim.Adam(self.module.parameters(), lr=cfg.learning_rate)
        # Cosine decay to final_lr_fraction (Loshchilov & Hutter 2017): large steps early, fine ones at the end.
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda e: cfg.final_lr_fraction + (
            1.0 - cfg.final_lr_fraction) * 0.5 * (1.0 + math.cos(math.pi * min(e, cfg.epochs) / cfg.epochs)))
        self.rng = np.random.default_rng(cfg.seed)
        # The structure penalty's states come from a stream of their own, so a penalised run draws exactly the
        # demand paths of the unpenalised run with the same seed (the penalty is then the only difference).
        self.structure_rng = np.random.default_rng([cfg.seed, STRUCTURE_STREAM])
        self.epoch, self.metrics = 0, []
        if cfg.checkpoint_dir is not None and cfg.resume and os.path.exists(self.checkpoint_path):
            self._load_checkpoint()
        penalty = self._structure_penalty()
        last = cfg.epochs if stop_after is None else min(cfg.epochs, check_int(
            stop_after, "stop_after", "DirectBackprop.fit", 0, None))

        bar = None
        if cfg.progress_bar:
            from tqdm.auto import tqdm  # lazily: only when asked for

            bar = tqdm(total=cfg.epochs, initial=self.epoch, desc="DirectBackprop", unit="epoch")
        while self.epoch < last:
            start = time.perf_counter()
            # 2. DEMAND: a fresh batch of paths (warm-up periods first, then the counted ones).
            demand, state = self.sampler.draw(self.rng, cfg.batch_size, cfg.warmup + cfg.periods)
            # 3. ROLLOUT through the twin; the loss is the average cost per counted period, differentiable in
            #    the policy's weights (Madeka et al. 2022, Sec. 4).
            rollout = self.twin.rollout(self.module, demand, state=state, warmup=cfg.warmup)
            cost = rollout.average_cost
            if not torch.isfinite(cost):
                # Fail loudly before the step: the weights (and the last checkpoint) are still the finite ones.
                raise FloatingPointError(f"DirectBackprop diverged: the training cost is {float(cost.detach())} at "
                                         f"epoch {self.epoch + 1}; lower the learning_rate or the grad_clip.")
            loss = cost
            structure = torch.zeros(())
            if penalty is not None:
                # 4. STRUCTURE: penalise Jacobian violations at states the policy actually visits.
                states = rollout.observations[:, cfg.warmup:].reshape(-1, rollout.observations.shape[-1]).detach()
                pick = torch.as_tensor(self.structure_rng.integers(0, states.shape[0], cfg.structure_states))
                structure = penalty(self.module, states[pick])
                loss = loss + cfg.structure_weight * structure
            # 5. GRADIENT STEP.
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(self.module.parameters(),
                                                 cfg.grad_clip if cfg.grad_clip > 0 else float("inf"))
            if not torch.isfinite(grad_norm):
                raise FloatingPointError(f"DirectBackprop diverged: the gradient norm is {float(grad_norm)} at epoch "
                                         f"{self.epoch + 1}; lower the learning_rate or the grad_clip.")
            self.optimizer.step()
            self.scheduler.step()
            self.epoch += 1
            # 6. LOG (namespaced keys, as CleanRL writes them).
            record = {
                "epoch": self.epoch,
                "losses/cost": float(cost.detach()),
                "losses/structure": float(structure.detach()),
                "losses/total": float(loss.detach()),
                "charts/learning_rate": float(self.optimizer.param_groups[0]["lr"]),
                "charts/grad_norm": float(grad_norm),
                "charts/mean_order": float(rollout.actions.detach().mean()),
                "charts/epoch_seconds": time.perf_counter() - start,
            }
            if cfg.eval_every and self.epoch % cfg.eval_every == 0 and self.epoch < cfg.epochs:
                record.update(self._eval_record())
            self._log(record, bar)
            # 7. CHECKPOINT (atomically: a crash mid-save leaves the previous checkpoint intact).
            if cfg.checkpoint_dir is not None and (self.epoch % cfg.checkpoint_every == 0 or self.epoch == last):
                self._save_checkpoint()
        if bar is not None:
            bar.close()
        info = {"epochs": self.epoch, "final_cost": self.metrics[-1]["losses/cost"] if self.metrics else math.nan}
        self.policy = TrainedPolicy(self.module, self.env_config, info)
        # 8. EVALUATE on the compiled kernel once training is complete.
        if self.epoch >= cfg.epochs and self.metrics and "eval/average_cost" not in self.metrics[-1]:
            record = self._eval_record()
            self.metrics[-1].update(record)
            self.policy.info.update(record)
        return self.policy

    def evaluate(self, policy: Any = None, **kwargs: Any) -> Any:
        """Evaluate ``policy`` (default: the trained one) with :func:`invgym.evaluate` on the compiled kernel."""
        from invgym.evaluate import evaluate

        cfg = self.config
        settings = {"num_envs": cfg.eval_envs, "periods": cfg.eval_periods, "warmup": cfg.eval_warmup,
                    "seed": cfg.eval_seed, **kwargs}
        return evaluate(self.policy if policy is None else policy, self.env_config, **settings)

    # === Pieces ===

    def _build_module(self) -> nn.Module:
        if isinstance(self.policy_spec, nn.Module):
            return copy.deepcopy(self.policy_spec)
        cfg = self.config
        return build_policy(self.policy_spec, self.env_config, hidden=tuple(cfg.hidden),
                            base_stock_head=cfg.base_stock_head, window=cfg.window, seed=cfg.seed,
                            quantiles=cfg.history_quantiles)

    def _structure_penalty(self) -> Any:
        if self.config.structure_weight == 0:
            return None
        from invgym.agents.structure import StructurePenalty

        return StructurePenalty.for_env(self.env_config, state_dim=getattr(self.module, "state_dim", None))

    def _eval_record(self) -> dict[str, float]:
        result = self.evaluate(TrainedPolicy(self.module, self.env_config))
        record = {"eval/average_cost": result.average_cost, "eval/stderr": result.stderr}
        record.update({f"eval/{k}": float(v) for k, v in result.metrics.items()})
        return record

    def _log(self, record: dict, bar: Any) -> None:
        self.metrics.append(record)
        if self.on_epoch is not None:
            self.on_epoch(record)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(cost=f"{record['losses/cost']:.3f}")
        if self.config.checkpoint_dir is not None:
            os.makedirs(self.config.checkpoint_dir, exist_ok=True)
            with open(os.path.join(self.config.checkpoint_dir, "metrics.jsonl"), "a") as f:
                f.write(json.dumps(record) + "\n")

    # === Checkpoints ===

    @property
    def checkpoint_path(self) -> str:
        """Where the checkpoint lives (inside ``config.checkpoint_dir``)."""
        return os.path.join(str(self.config.checkpoint_dir), CHECKPOINT_NAME)

    def _save_checkpoint(self) -> None:
        os.makedirs(str(self.config.checkpoint_dir), exist_ok=True)
        state = {
            "epoch": self.epoch,
            "policy": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "numpy_rng": self.rng.bit_generator.state,
            "structure_rng": self.structure_rng.bit_generator.state,
            "metrics": self.metrics,
            "config": dataclasses.asdict(self.config),
        }
        atomic_save(self.checkpoint_path, lambda handle: torch.save(state, handle))  # invgym.atomic

    def _load_checkpoint(self) -> None:
        state = torch.load(self.checkpoint_path, weights_only=False)
        saved = {k: v for k, v in state["config"].items() if k not in _RESUMABLE}
        current = {k: v for k, v in dataclasses.asdict(self.config).items() if k not in _RESUMABLE}
        if saved != current:
            changed = sorted(k for k in current if saved.get(k) != current[k])
            raise ValueError(f"the checkpoint in {self.config.checkpoint_dir!r} was written with different settings "
                             f"({', '.join(changed)}); use another checkpoint_dir or resume=False.")
        self.module.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.rng.bit_generator.state = state["numpy_rng"]
        if "structure_rng" in state:
            self.structure_rng.bit_generator.state = state["structure_rng"]
        elif self.config.structure_weight > 0 and int(state["epoch"]) > 0:
            raise ValueError(f"the checkpoint in {self.config.checkpoint_dir!r} predates the structure penalty's own "
                             "random stream (its states were drawn from the demand stream), so resuming it would "
                             "not give the uninterrupted run; use another checkpoint_dir or resume=False.")
        self.epoch = int(state["epoch"])
        self.metrics = list(state["metrics"])


# Settings that may change between an interrupted run and its continuation without changing the result.
_RESUMABLE = {"resume", "progress_bar", "checkpoint_dir", "checkpoint_every", "eval_every"}
