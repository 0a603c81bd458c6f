"""Vector base-stock policies for lost sales (Zipkin 2008, Sec. 3), with Morton's levels or searched ones.

A vector base-stock policy keeps one order-up-to level per horizon: with levels ``s_0, ..., s_L`` it orders
``q = min(s_0, s_l - (x_{L-l} + ... + x_{L-1}) for 0 < l < L, s_L - (x_0 + ... + x_{L-1}))^+`` — the order
plus the l most recent outstanding orders may not exceed ``s_l``, and the order plus the whole inventory
position may not exceed ``s_L``. Only recent orders count for short horizons because stock on hand now may be
sold before the new order arrives. With ``s_0 >= s_L`` it is the base-stock policy; keeping only ``s_0`` and
``s_L`` it is the capped base-stock policy. (With L = 0 there is one level, on the on-hand stock: the
newsvendor.)

The **standard** levels are Morton's (1971) bounds, which an optimal order never exceeds: ``s_l`` is the
``(p - c) / (p - c + h)`` quantile of demand over l + 1 periods. Zipkin (2008) evaluates this policy in Table
3 (reproduced in ``tests/test_lost_sales_baselines.py``). Morton's levels are upper bounds, so the policy
over-orders; ``fit(env, search=True)`` lowers (or raises) the levels by coordinate descent on simulated cost.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from invgym.baselines.common import FIT_SEED, RolloutCost, check_fit_settings, descend, fit_config
from invgym.baselines.lost_sales_policy import LostSalesPolicy, fractile_levels
from invgym.validation import check_bool, check_vector

__all__ = ["VectorBaseStock"]


class VectorBaseStock(LostSalesPolicy):
    """Zipkin's (2008) vector base-stock policy: one order-up-to level per horizon l = 0..L."""

    @classmethod
    def fit(cls, env: Any, *, levels: Any = None, search: bool = False, num_envs: int = 100,
            periods: int = 10_000, warmup: int = 200, seed: int = FIT_SEED, max_rounds: int = 10,
            **env_kwargs: Any) -> VectorBaseStock:
        """Return the vector base-stock policy with ``levels``, Morton's levels, or searched levels.

        Args:
            env: a lost-sales env, vector env, config or id (with ``env_kwargs``).
            levels: the L + 1 levels ``s_0, ..., s_L``; None takes Morton's (the standard policy).
            search: improve the levels (given or Morton's) by coordinate descent: each level in turn moves to
                the best integer with the others fixed, on common random numbers, until a full round changes
                nothing (or ``max_rounds`` rounds have run).
            num_envs: envs per candidate in the search.
            periods: counted periods per env in the search.
            warmup: uncounted periods first.
            seed: env i of the search is seeded with ``seed + i``.
            max_rounds: the most rounds of coordinate descent.
            **env_kwargs: scenario parameters, with an id only.
        """
        name = cls.__name__
        config = fit_config(env, env_kwargs, name, cls.family)
        num_envs, periods, warmup, seed = check_fit_settings(name, num_envs, periods, warmup, seed)
        search = check_bool(search, "search", name)
        size = config.lead_time + 1
        if levels is None:
            chosen = [int(s) for s in fractile_levels(config)]
        else:
            values = check_vector(levels, "levels", name, size, 0.0, None)
            if config.action_type == "discrete" and not np.array_equal(values, np.floor(values)):
                raise ValueError(f"The 'levels' parameter of {name} must hold whole numbers with a discrete "
                                 f"action space. Got {levels!r} instead.")
            chosen = [int(v) if float(v).is_integer() else float(v) for v in values]
        if not search:
            return cls(config, levels=tuple(chosen))
        cost = RolloutCost(config, num_envs, periods, warmup, seed)
        start = list(chosen)
        for _ in range(max_rounds):
            before = list(chosen)
            for j in range(size):
                def at(v: int, j: int = j) -> float:
                    return cost("vector_base_stock", chosen[:j] + [v] + chosen[j + 1 :])

                chosen[j] = descend(at, int(round(chosen[j])), 0, 4 * max(start) + 10)
            if chosen == before:
                break
        policy = cls(config, levels=tuple(chosen))
        policy.info = {"morton_levels": tuple(fractile_levels(config)), "evaluations": len(cost.cache),
                       "search_cost": cost("vector_base_stock", chosen)}
        return policy

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return ``min_l (s_l - partial sum_l)^+``, clipped to ``max_order``."""
        x = self._state(obs)
        s = [float(v) for v in self.params["levels"]]
        lead = self.lead_time
        if lead == 0:
            return self._finish(s[0] - x[:, 0])
        # In the kernel's order of operations, so the compiled and stepped paths agree to the last bit.
        q = np.full(x.shape[0], s[0])
        recent = np.zeros(x.shape[0])
        for j in range(1, lead):
            recent += x[:, lead - j]
            np.minimum(q, s[j] - recent, out=q)
        np.minimum(q, s[lead] - (recent + x[:, 0]), out=q)
        return self._finish(q)

    def rollout_spec(self) -> tuple[str, np.ndarray]:
        """Return the kernel's "vector_base_stock" policy with these levels."""
        return "vector_base_stock", np.asarray(self.params["levels"], dtype=np.float64)
