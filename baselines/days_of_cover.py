"""Days of cover: order up to a number of days of recent mean sales, for the panel scenarios (numpy only).

The replenishment rule buyers start from, and the OR teacher of JD's ORPR (Zhao et al. 2025) for
``invgym/Replenishment-v0``: the target stock is ``days x`` the mean observed sales of the last ``window`` days,
and the order tops the inventory position (on-hand plus on-order, or the pipeline for ``invgym/Retail-v0``) up to
it. Case packs, MOQ, capacity and review days are left to Replenishment-v0's ``constraints="round"`` rules, which
apply them to every request.

``DaysOfCover.fit`` chooses ``days`` by simulation on the panel's **train** window only: every candidate runs
every product over the whole train window at once (one batch of ``products x candidates`` envs, so all candidates
face the same demand and the same vendor lead-time draws), and the one with the lowest average cost is kept.
:func:`protection_period` gives the days a plain order-up-to rule needs to cover — the leaderboard's naive policy
is ``DaysOfCover(config, protection_period(config), window=7)``: last week's mean over the protection period,
without safety stock.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from invgym.baselines.common import FIT_SEED, FittedPolicy, config_of, family_of
from invgym.validation import check_int, check_real

__all__ = ["DaysOfCover", "protection_period"]

PANEL_FAMILIES = ("retail", "replenishment")


def protection_period(config: Any) -> float:
    """Days an order must cover: ``L + 1`` for Retail-v0; ``R + E[lead time]`` (mean over SKUs) for Replenishment-v0.

    With periodic review every R days and a random vendor lead time, an order placed today is the last one to
    arrive before the next order's arrival, R + L days later (the textbook (R, S) protection interval).
    """
    family = _check_family(config)
    if family == "retail":
        return float(config.lead_time + 1)
    mean_lead = config.lead_pmf @ np.arange(config.lead_pmf.shape[1], dtype=np.float64)
    return float(config.review_period + mean_lead.mean())


def _check_family(config: Any) -> str:
    family = family_of(config)
    if family not in PANEL_FAMILIES:
        raise ValueError(f"DaysOfCover works on the panel scenarios (retail, replenishment). Got {family}.")
    return family


def _orders(obs: np.ndarray, days: Any, window: int, slices: dict[str, slice], max_order: float,
            discrete: bool) -> np.ndarray:
    """``ceil(days x mean of the last window days' sales - inventory position)^+`` within ``[0, max_order]``.

    Whole units (rounded up) for both action types, as ORPR's teacher and its clone
    (``invgym.agents.pretrain``) order.
    """
    sales = obs[:, slices["sales"]]
    demand_rate = sales[:, sales.shape[1] - window:].mean(axis=1)
    position = obs[:, slices["inventory"]].sum(axis=1)
    q = np.clip(np.ceil(np.asarray(days, dtype=np.float64) * demand_rate - position - 1e-9), 0.0, max_order)
    return q.astype(np.int64) if discrete else q


class DaysOfCover(FittedPolicy):
    """Order up to ``days`` days of the mean sales of the last ``window`` days, on the inventory position.

    Args:
        config: a Retail-v0 or Replenishment-v0 config (gives the observation layout and ``max_order``).
        days: days of cover, >= 0.
        window: days of sales history averaged, in [1, history]; default the whole history in the observation.
    """

    def __init__(self, config: Any, days: float, window: int | None = None) -> None:
        self.family = _check_family(config)
        history = int(config.history)
        if history < 1:
            raise ValueError(f"DaysOfCover needs sales history in the observation (history >= 1). Got {history}.")
        window = history if window is None else check_int(window, "window", "DaysOfCover", 1, history)
        super().__init__(days=float(check_real(days, "days", "DaysOfCover", 0.0, None)), window=window)
        self.slices = config.slices
        self.max_order = float(config.max_order)
        self.discrete = config.action_type == "discrete"
        self.info: dict[str, Any] = {}

    @classmethod
    def fit(cls, env: Any, days: float | None = None, window: int | None = None, max_days: int = 60,
            seed: int = FIT_SEED, **env_kwargs: Any) -> DaysOfCover:
        """Return the policy with the given ``days``, or with the cheapest integer days on the train window.

        Args:
            env: a Retail-v0 or Replenishment-v0 env, vector env, config or id (with ``env_kwargs``).
            days: days of cover; None searches 0, 1, ..., ``max_days`` by simulation on the train window.
            window: days of sales history averaged (default the whole history in the observation).
            max_days: largest candidate of the search, in [1, 366].
            seed: env i of the search is seeded with ``seed + i`` (Replenishment's lead-time draws).
            **env_kwargs: scenario parameters, with an id only.
        """
        config = config_of(env, **env_kwargs)
        if days is not None:
            return cls(config, days, window)
        max_days = check_int(max_days, "max_days", "DaysOfCover.fit", 1, 366)
        policy = cls(config, 0.0, window)  # validates the family and window before the search
        costs = _search(config, np.arange(max_days + 1, dtype=np.float64), policy.params["window"], seed)
        best = int(np.argmin(costs))
        policy.params["days"] = float(best)
        policy.info = {"train_cost": float(costs[best]), "candidates": max_days + 1}
        return policy

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return ``ceil(days x mean sales - inventory position)^+`` per env, within ``[0, max_order]``."""
        return _orders(obs, self.params["days"], self.params["window"], self.slices, self.max_order, self.discrete)


def _search(config: Any, candidates: np.ndarray, window: int, seed: int) -> np.ndarray:
    """Average cost per SKU-day of each candidate over every product and the whole train window."""
    import invgym

    train = config.replace(split="train", product="all")
    products = train.panel.num_products
    k = len(candidates)
    # Env i runs product i mod P (product="all") with candidate i // P: one batch, common random numbers.
    days = np.repeat(candidates, products)
    slices, max_order, discrete = train.slices, float(train.max_order), train.action_type == "discrete"

    def policy(obs: np.ndarray) -> np.ndarray:
        return _orders(np.asarray(obs, dtype=np.float64), days, window, slices, max_order, discrete)

    result = invgym.evaluate(policy, train, num_envs=products * k, periods=train.window[1], warmup=0, seed=seed)
    return result.per_env_cost.reshape(k, products).mean(axis=1)
