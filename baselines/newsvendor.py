"""The newsvendor policy: order up to the critical-fractile quantile of one period's demand.

With lost sales and zero lead time the order is on hand before demand, each period is a newsvendor problem
with underage cost p - c and overage cost h (stock left over is carried, so it is worth its purchase cost; see
``baselines/lost_sales_policy.py``), and ordering up to ``S = F^{-1}((p - c) / (p - c + h))`` every period is
optimal. With a lead time it is not: use :class:`~invgym.baselines.BaseStock`, whose ``fit`` searches S by
simulation.
"""

from __future__ import annotations

from typing import Any

from invgym.baselines.base_stock import BaseStock
from invgym.baselines.common import fit_config
from invgym.baselines.lost_sales_policy import critical_fractile, effective_costs

__all__ = ["Newsvendor"]


class Newsvendor(BaseStock):
    """Order up to the critical-fractile quantity ``S = F^{-1}((p - c) / (p - c + h))`` (lead time 0 only)."""

    @classmethod
    def fit(cls, env: Any, **env_kwargs: Any) -> Newsvendor:  # type: ignore[override]
        """Return the newsvendor policy of a lost-sales env with ``lead_time=0``.

        Args:
            env: a lost-sales env, vector env, config or id (with ``env_kwargs``).
            **env_kwargs: scenario parameters, with an id only.

        Raises:
            ValueError: if the env's lead time is not 0 (the newsvendor is then not optimal; use BaseStock).
        """
        config = fit_config(env, env_kwargs, cls.__name__, cls.family)
        if config.lead_time != 0:
            raise ValueError(f"Newsvendor is the optimal policy only with lead_time=0. Got lead_time="
                             f"{config.lead_time} instead: use BaseStock.fit, which searches the level by "
                             "simulation.")
        beta = critical_fractile(*effective_costs(config))
        policy = cls(config, level=config.demand.quantile(beta, 1))
        policy.info = {"critical_fractile": beta}
        return policy
