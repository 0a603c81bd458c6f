"""Difference-in-differences over SKU × day panel results, with cluster-bootstrap confidence intervals.

JD's field test of ORPR (Zhao et al. 2025, arXiv:2512.19001) compares treated SKUs (the new policy) with
control SKUs (incumbent practice), before and after the switch. With outcome y[i, t] for SKU i on day t,
treated flags g[i] and the post-switch flags post[t], the estimate is

    effect = mean_{i: g=1} (ybar_i,post - ybar_i,pre) - mean_{i: g=0} (ybar_i,post - ybar_i,pre),

where ybar_i,post and ybar_i,pre are SKU i's mean outcome over the post and pre days. It equals the two-way
fixed-effects regression coefficient on g·post for a balanced panel. The confidence interval resamples SKUs
with replacement within each group (a cluster bootstrap: days of one SKU are serially correlated, so
resampling days would understate the uncertainty; Bertrand, Duflo & Mullainathan 2004) and takes percentiles.

:func:`simulate_deployment` builds the panel such a test produces, in simulation: every SKU runs the control
policy, the treated SKUs switch to the treatment policy on a given day, and the same run without the switch
gives the true effect on the treated, so the estimator can be checked against a known answer.
"""

from __future__ import annotations

import dataclasses
import inspect
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from invgym.validation import check_int, check_real

__all__ = ["DiDResult", "difference_in_differences", "run_panel", "simulate_deployment"]


@dataclasses.dataclass(frozen=True)
class DiDResult:
    """What :func:`difference_in_differences` returns.

    Attributes:
        effect: the difference-in-differences estimate (treated change minus control change).
        ci: percentile bootstrap interval ``(low, high)`` at level ``level``.
        stderr: standard deviation of the bootstrap estimates.
        level: the interval's coverage level.
        treated_change: mean post-minus-pre change of the treated SKUs.
        control_change: mean post-minus-pre change of the control SKUs.
        num_treated: treated SKUs used (those with outcomes both before and after).
        num_control: control SKUs used.
        boot: the bootstrap estimates.
    """

    effect: float
    ci: tuple[float, float]
    stderr: float
    level: float
    treated_change: float
    control_change: float
    num_treated: int
    num_control: int
    boot: np.ndarray = dataclasses.field(repr=False, compare=False)


def difference_in_differences(
    outcome: Any,
    treated: Any,
    post: Any,
    num_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> DiDResult:
    """Estimate the effect of a policy switch on the treated SKUs, with a cluster-bootstrap interval.

    Args:
        outcome: array (num_skus, num_days) of a per-SKU, per-day outcome (e.g. on-hand units, in-stock flags);
            NaN marks a missing day and is skipped.
        treated: bool array (num_skus,): the SKU switched policy.
        post: bool array (num_days,): the day is after the switch.
        num_boot: bootstrap resamples, in [100, 1000000].
        level: coverage of the interval, in (0, 1).
        seed: seed of the resampling.

    Returns:
        A :class:`DiDResult`.
    """
    owner = "difference_in_differences"
    y = np.asarray(outcome, dtype=np.float64)
    g = np.asarray(treated)
    after = np.asarray(post)
    if y.ndim != 2:
        raise ValueError(f"The 'outcome' parameter of {owner} must be a 2-D array (skus, days). Got shape {y.shape}.")
    if g.shape != (y.shape[0],) or g.dtype != np.bool_:
        raise ValueError(f"The 'treated' parameter of {owner} must be a bool array of shape ({y.shape[0]},). "
                         f"Got {g.dtype} of shape {g.shape} instead.")
    if after.shape != (y.shape[1],) or after.dtype != np.bool_ or after.all() or not after.any():
        raise ValueError(f"The 'post' parameter of {owner} must be a bool array of shape ({y.shape[1]},) with "
                         "both pre and post days.")
    num_boot = check_int(num_boot, "num_boot", owner, 100, 1_000_000)
    level = check_real(level, "level", owner, 0.0, 1.0, closed="neither")
    seed = check_int(seed, "seed", owner, 0, 2**63 - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN SKU gives NaN and is dropped, as documented
        change = np.nanmean(y[:, after], axis=1) - np.nanmean(y[:, ~after], axis=1)
    usable = np.isfinite(change)
    t_change, c_change = change[usable & g], change[usable & ~g]
    if t_change.size < 2 or c_change.size < 2:
        raise ValueError(f"{owner} needs at least two treated and two control SKUs with outcomes before and after "
                         f"the switch. Got {t_change.size} and {c_change.size}.")
    effect = float(t_change.mean() - c_change.mean())
    rng = np.random.default_rng(seed)
    # Cluster bootstrap: resample whole SKUs within each group (their days stay together).
    boot_t = t_change[rng.integers(0, t_change.size, (num_boot, t_change.size))].mean(axis=1)
    boot_c = c_change[rng.integers(0, c_change.size, (num_boot, c_change.size))].mean(axis=1)
    boot = boot_t - boot_c
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(boot, [alpha, 1.0 - alpha])
    return DiDResult(effect, (float(low), float(high)), float(boot.std(ddof=1)), level, float(t_change.mean()),
                     float(c_change.mean()), int(t_change.size), int(c_change.size), boot)


Policy = Callable[[np.ndarray], np.ndarray]


def run_panel(config: Any, policy: Policy | Callable[[np.ndarray, int], np.ndarray], days: int | None = None,
              seed: int = 0) -> dict[str, np.ndarray]:
    """Run every SKU of a panel scenario once, env i = SKU i, and record every part per SKU and day.

    Args:
        config: a ``RetailConfig`` or ``ReplenishmentConfig`` (``product`` is set to "all" here).
        policy: maps observations (num_skus, obs_dim) — and, if it takes two arguments, the day index t — to
            orders (num_skus,).
        days: days to run (default: the config's horizon).
        seed: env i is seeded with ``seed + i``.

    Returns:
        dict mapping each part name to an array (num_skus, days).
    """
    config = config.replace(product="all")
    days = config.horizon if days is None else check_int(days, "days", "run_panel", 1, 10**7)
    config = config.replace(horizon=days)
    n = config.panel.num_products
    buf = config.bind(n).reset(seed)
    kernel = buf.kernel
    takes_day = len(inspect.signature(policy).parameters) >= 2
    record = np.zeros((len(config.parts), n, days))
    for t in range(days):
        obs = buf.obs.copy()
        actions = policy(obs, t) if takes_day else policy(obs)
        buf.actions[:, 0] = np.asarray(actions, dtype=np.float64).reshape(n)
        bad = kernel.step()
        if bad >= 0:
            raise ValueError(f"the policy returned {buf.actions[bad, 0]!r} for SKU {bad}, outside the action space.")
        record[:, :, t] = buf.parts.T
    return {name: record[k] for k, name in enumerate(config.parts)}


def simulate_deployment(config: Any, control: Policy, treatment: Policy, treated: Any, switch_day: int,
                        days: int | None = None, seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Simulate a field test: treated SKUs switch from ``control`` to ``treatment`` on ``switch_day``.

    Returns ``(observed, counterfactual)``: the parts per SKU and day of the deployment, and of the same run
    (same seeds, same demand) in which nobody switches. ``observed - counterfactual`` over the treated SKUs'
    post days is the true effect on the treated that :func:`difference_in_differences` estimates.
    """
    treated = np.asarray(treated, dtype=np.bool_)

    def deployed(obs: np.ndarray, t: int) -> np.ndarray:
        actions = np.asarray(control(obs), dtype=np.float64).reshape(-1)
        if t >= switch_day:
            actions = np.where(treated, np.asarray(treatment(obs), dtype=np.float64).reshape(-1), actions)
        return actions

    observed = run_panel(config, deployed, days, seed)
    counterfactual = run_panel(config, lambda obs, t: control(obs), days, seed)
    return observed, counterfactual
