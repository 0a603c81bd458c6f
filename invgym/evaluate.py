"""The one evaluation function: long-run average cost of any policy in any invgym scenario, with a 95 % CI.

``evaluate(policy, env_or_id)`` builds ``num_envs`` independent copies of the scenario, seeds env i with
``seed + i`` — so two policies evaluated with the same seed face the same demand (common random numbers) —
runs ``warmup`` periods uncounted and then ``periods`` counted ones, and reports the mean over envs of each
env's average cost per period. Fitted heuristics and lookup-table policies the kernel can run natively
(``policy.rollout_spec()``) never leave compiled code; anything else (a callable, an SB3 model, a policy
without a rollout form) is stepped period by period through the same kernel, with the same demand, so both
paths give identical numbers for the same policy.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from invgym.metrics import metrics_for
from invgym.scenarios import scenario_of
from invgym.typing import ScenarioPolicy
from invgym.validation import check_int

__all__ = ["EvaluationResult", "evaluate", "policy_actions", "rollout_totals"]

MAX_PERIODS = 10**12

def t975(df: int) -> float:
    """Two-sided 95 % Student t quantile with ``df`` degrees of freedom (scipy, imported on first use)."""
    from scipy.special import stdtrit  # scipy.special, not scipy.stats: a third of the import time

    return float(stdtrit(df, 0.975))


@dataclasses.dataclass(frozen=True)
class EvaluationResult:
    """What :func:`evaluate` returns.

    Attributes:
        average_cost: mean over envs of each env's average cost per counted period.
        stderr: sample standard deviation of the per-env averages over ``sqrt(num_envs)`` (NaN with one env).
        ci95: Student-t 95 % confidence interval ``(low, high)`` for the long-run average cost.
        num_envs: independent envs (env i seeded with ``seed + i``).
        periods: counted periods per env.
        warmup: uncounted periods run first in each env.
        seed: the seed of env 0.
        metrics: the family's metrics (``invgym.metrics``), e.g. ``fill_rate`` for lost sales.
        env: the env id, or the config's repr when a config or env was given.
        path: "rollout" (the kernel's compiled rollout ran the policy) or "step" (stepped period by period).
        per_env_cost: each env's average cost per period, for paired comparisons under common random numbers.
    """

    average_cost: float
    stderr: float
    ci95: tuple[float, float]
    num_envs: int
    periods: int
    warmup: int
    seed: int
    metrics: dict[str, float]
    env: str
    path: str
    per_env_cost: np.ndarray = dataclasses.field(repr=False, compare=False)


def evaluate(
    policy: Any,
    env_or_id: Any,
    *,
    num_envs: int = 64,
    periods: int = 10_000,
    warmup: int = 1_000,
    seed: int = 0,
    **env_kwargs: Any,
) -> EvaluationResult:
    """Estimate the long-run average cost per period of ``policy`` in a scenario.

    Args:
        policy: a fitted heuristic (``invgym.baselines``), any callable mapping a batch of observations
            ``(num_envs, obs_dim)`` to a batch of actions, or an object with SB3's ``predict`` (used with
            ``deterministic=True``). Actions are used exactly as returned: nothing is rounded or clipped, and
            an action outside the action space, or a non-integer one for a discrete space, raises ValueError.
        env_or_id: a registered id such as ``"invgym/LostSales-v0"`` (with ``env_kwargs``), an invgym env or
            vector env (only its config is used; its own state is left untouched), or a scenario config.
        num_envs: independent envs, in [1, 10_000_000].
        periods: counted periods per env, in [1, 10^12].
        warmup: uncounted periods run first, in [0, 10^12].
        seed: env i is seeded with ``seed + i``; the same seed gives every policy the same demand.
        **env_kwargs: scenario parameters, with an id only.

    Returns:
        An :class:`EvaluationResult`.

    Example:
        >>> import invgym
        >>> from invgym.baselines import BaseStock
        >>> policy = BaseStock.fit("invgym/LostSales-v0", lead_time=2, lost_sales_cost=9.0)
        >>> result = invgym.evaluate(policy, "invgym/LostSales-v0", lead_time=2, lost_sales_cost=9.0)
        >>> result.ci95[0] < 6.32 < result.ci95[1]  # Zipkin (2008), Table 3: best base-stock 6.32
        True
    """
    from invgym.envs.common import config_of  # loads the compiled kernels: not at ``import invgym``

    owner = "evaluate"
    num_envs = check_int(num_envs, "num_envs", owner, 1, 10_000_000)
    periods = check_int(periods, "periods", owner, 1, MAX_PERIODS)
    warmup = check_int(warmup, "warmup", owner, 0, MAX_PERIODS)
    seed = check_int(seed, "seed", owner, 0, 2**64 - 1 - num_envs)
    if isinstance(policy, type):
        raise TypeError(f"evaluate needs a policy instance; got the class {policy.__name__}: "
                        f"fit it first (e.g. {policy.__name__}.fit(env)).")
    config = config_of(env_or_id, **env_kwargs)
    described = env_or_id if isinstance(env_or_id, str) else repr(config)
    if isinstance(policy, ScenarioPolicy):
        policy.check_env(config)
    # Only the horizon changes, and it must cover the whole run so no env is truncated (and reset) mid-run.
    # dataclasses.replace keeps every other validated field as it is.
    config = dataclasses.replace(config, horizon=warmup + periods)
    buf = config.bind(num_envs).reset(seed)
    kernel = buf.kernel

    totals = rollout_totals(policy, config, kernel, periods, warmup)
    if totals is not None:
        counts = np.full(num_envs, periods, dtype=np.int64)
        path = "rollout"
    else:
        totals, counts = _step(policy_actions(policy, config), config, kernel, buf, periods, warmup)
        path = "step"

    per_env = totals[:, type(config).parts.index("cost")] / counts  # every scenario's PARTS has "cost"
    mean = float(per_env.mean())
    stderr = float(per_env.std(ddof=1) / math.sqrt(num_envs)) if num_envs > 1 else math.nan
    half = t975(num_envs - 1) * stderr if num_envs > 1 else math.nan
    family = scenario_of(config).name
    pooled = dict(zip(type(config).parts, totals.sum(axis=0).tolist(), strict=True))
    return EvaluationResult(
        average_cost=mean,
        stderr=stderr,
        ci95=(mean - half, mean + half),
        num_envs=num_envs,
        periods=periods,
        warmup=warmup,
        seed=seed,
        metrics=metrics_for(family, pooled, int(counts.sum())),
        env=described,
        path=path,
        per_env_cost=per_env,
    )


def rollout_totals(policy: Any, config: Any, kernel: Any, periods: int, warmup: int,
                   discount: float = 1.0) -> np.ndarray | None:
    """Run ``policy`` in the kernel's compiled rollout when it has one; return the part totals, else None.

    ``policy.rollout_spec()`` names the rollout: a fixed heuristic's ``(name, params)`` runs in the scenario
    kernel's ``rollout``; ``("table", keywords)`` runs a lookup-table policy in ``BatchKernel.rollout_table``.

    Returns:
        float64 array (num_envs, len(config.parts)) of (discounted) totals over the counted periods, or None
        when the policy has no compiled form (the caller steps it).
    """
    spec = policy.rollout_spec() if callable(getattr(policy, "rollout_spec", None)) else None
    if spec is None:
        return None
    name, params = spec
    if name == "table":
        return kernel.rollout_table(periods=periods, warmup=warmup, discount=discount, **params)
    if not hasattr(kernel, "rollout"):
        return None
    extra = () if discount == 1.0 else (discount,)  # only the perishable rollout takes a discount
    parts = kernel.rollout(name, params, periods, warmup, *extra)
    return np.stack([parts[key] for key in type(config).parts], axis=1)


def policy_actions(policy: Any, config: Any = None) -> Any:
    """Return ``obs -> actions`` (in scenario units) for a callable or an object with SB3's ``predict``.

    An SB3 model trained on the env sees discrete actions as indices from 0 (see ``env_action_space``); its
    indices are decoded into the scenario's orders here, as the env itself does.
    """
    from invgym.envs.common import env_action_space

    if not isinstance(policy, ScenarioPolicy) and callable(getattr(policy, "predict", None)):
        offset = None
        if config is not None:
            shown, offset = env_action_space(config)
            offset = offset if offset is not None and getattr(policy, "action_space", None) == shown else None
        if offset is not None:
            return lambda obs: np.asarray(policy.predict(obs, deterministic=True)[0]).reshape(len(obs), -1) + offset
        return lambda obs: policy.predict(obs, deterministic=True)[0]
    if callable(policy):
        return policy
    raise TypeError(f"policy must be callable (obs -> actions) or have SB3's predict(). "
                    f"Got {policy!r} instead.")


def as_actions(raw: Any, shape: tuple[int, int], discrete: bool) -> np.ndarray:
    """Check a policy's output and return it as a float64 array of ``shape``; never rounds or clips."""
    if isinstance(raw, tuple):
        raise TypeError("the policy returned a tuple: pass the model (or a callable returning only actions), "
                        "not model.predict.")
    if hasattr(raw, "detach"):  # a torch tensor, without importing torch
        raw = raw.detach().cpu().numpy()
    arr = np.asarray(raw)
    n, m = shape
    if arr.dtype.kind not in "iuf" or arr.size != n * m:
        kind = "int" if discrete else "float"
        raise ValueError(f"the policy must return {kind} actions of shape ({n},) or ({n}, {m}). "
                         f"Got {arr.dtype} of shape {arr.shape} instead.")
    if discrete and arr.dtype.kind == "f":
        integral = np.isfinite(arr) & (arr == np.round(arr))
        if not integral.all():
            bad = float(arr.reshape(-1)[np.flatnonzero(~integral.reshape(-1))[0]])
            raise ValueError(f"the action space is discrete but the policy returned the non-integer action "
                             f"{bad!r}: did you pass the policy's logits or a continuous agent? "
                             "Nothing is rounded.")
    return arr.reshape(shape).astype(np.float64, copy=False)


def _step(act: Any, config: Any, kernel: Any, buf: Any, periods: int,
          warmup: int) -> tuple[np.ndarray, np.ndarray]:
    """Step the kernel with ``act(obs)`` each period; return per-env part totals and counted periods."""
    n, m = buf.actions.shape
    discrete = config.action_type == "discrete"
    totals = np.zeros((n, kernel.num_parts), dtype=np.float64)
    counts = np.zeros(n, dtype=np.int64)
    done = np.zeros(n, dtype=np.bool_)
    space = config.action_space()
    for t in range(warmup + periods):
        np.copyto(buf.actions, as_actions(act(buf.obs.copy()), (n, m), discrete))
        bad = kernel.step()  # reads the bound buffer buf.actions
        if bad >= 0:
            raise ValueError(f"the policy returned {buf.actions[bad].tolist()} for env {bad}, outside the "
                             f"action space {space}. Nothing is clipped.")
        if t >= warmup:
            totals += buf.parts  # a step that only reset an env (after an episode ended) has all parts zero
            counts += ~done
        # Scenarios that terminate restart an env in the next step (next-step autoreset); that step is not a
        # period.
        np.logical_or(buf.terminated, buf.truncated, out=done)
    return totals, np.maximum(counts, 1)
