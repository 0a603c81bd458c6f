"""De Moor et al.'s (2022) evaluation protocol for the perishable scenario: discounted reward of fixed episodes.

Unlike ``invgym.evaluate`` (a long-run average cost), the protocol starts every episode in the env's initial
state, discards a warm-up and sums discounted rewards over a fixed number of periods, as in the paper's tables
(reproduced in ``tests/test_perishable_baselines.py``).

References:
    B. J. De Moor, J. Gijsbrechts & R. N. Boute (2022), "Reward shaping to improve the performance of deep
    reinforcement learning in perishable inventory management", EJOR 301(2), 535-545.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from invgym.baselines.common import FittedPolicy, fit_config
from invgym.evaluate import rollout_totals
from invgym.validation import check_int, check_real

__all__ = ["protocol_rewards"]


def protocol_rewards(policy: Any, env: Any, *, episodes: int = 1000, warmup: int = 100, periods: int = 365,
                     discount: float = 0.99, seed: int = 0, **env_kwargs: Any) -> np.ndarray:
    """Simulate De Moor et al.'s (2022) protocol; return each episode's discounted reward (a negative number).

    Each episode starts in the env's initial state (empty by default), runs ``warmup`` periods uncounted, then
    sums ``discount ** k`` times the reward of the k-th of ``periods`` counted periods. Episode i is seeded with
    ``seed + i``. A fitted heuristic runs in the kernel's compiled rollout; any other policy is stepped through
    the same kernel with the same demand.

    Args:
        policy: a fitted perishable heuristic, an exact table policy, or any callable obs -> orders.
        env: a perishable env, vector env, config or id (with ``env_kwargs``).
        episodes: independent episodes.
        warmup: uncounted periods first.
        periods: counted periods.
        discount: weight factor per counted period.
        seed: episode i is seeded with ``seed + i``.
        **env_kwargs: scenario parameters, with an id only.
    """
    owner = "protocol_rewards"
    config = fit_config(env, env_kwargs, owner, "perishable")
    episodes = check_int(episodes, "episodes", owner, 1, 10_000_000)
    warmup = check_int(warmup, "warmup", owner, 0, 10**7)
    periods = check_int(periods, "periods", owner, 1, 10**7)
    discount = check_real(discount, "discount", owner, 0.0, 1.0, closed="right")
    if isinstance(policy, FittedPolicy):
        policy.check_env(config)
    config = dataclasses.replace(config, horizon=warmup + periods)
    buf = config.bind(episodes).reset(seed)
    kernel = buf.kernel
    totals = rollout_totals(policy, config, kernel, periods, warmup, discount)
    if totals is not None:
        return -totals[:, type(config).parts.index("cost")]
    total, weight = np.zeros(episodes), 1.0
    for t in range(warmup + periods):
        buf.actions[:, 0] = np.asarray(policy(buf.obs), dtype=np.float64).reshape(-1)
        bad = kernel.step()
        if bad >= 0:
            raise ValueError(f"the policy ordered {buf.actions[bad, 0]!r} in episode {bad}, outside "
                             f"[0, {config.max_order}].")
        if t >= warmup:
            total += weight * buf.rewards
            weight *= discount
    return total
