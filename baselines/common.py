"""What every OR baseline shares: the fitted-policy interface, exact solutions and the one fitting toolkit.

A heuristic class has a ``fit(env, ...)`` class method returning a :class:`FittedPolicy`. A fitted policy maps a
batch of observations to actions (``policy(obs)``), has SB3's ``predict``, prints its parameters, refuses an env
other than the one it was fitted for (its ``fitted_fields``), and — when the kernel can run it without leaving
compiled code — names its ``rollout`` form for fast evaluation.

**Fitting toolkit.** Every family's ``fit`` is built from the same pieces:

- :func:`fit_config` returns the config of the env to fit and refuses another family's;
  :func:`check_fit_settings` and :func:`check_param` validate the search settings and the policy parameters.
- Costs are estimated on **common random numbers**: every candidate meets the same demand (env i seeded with
  ``seed + i``), so differences between candidates carry little noise. :class:`RolloutCost` re-seeds one kernel
  for each candidate in turn (memoised), for sequential searches; :func:`batch_rollout` runs a whole grid of
  candidates on the same streams in one compiled call, for screens.
- The search: :func:`descend` (integer descent in one parameter), :func:`steepest_descent` (the eight integer
  neighbours of a pair), :func:`golden_section` (a real parameter).
- :data:`FIT_SEED`: searches run on seeds far from ``invgym.evaluate``'s default seeds 0, 1, ..., so a fitted
  policy is judged on demand it was not fitted on.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from invgym.envs.common import ScenarioConfig, config_of, family_of
from invgym.validation import check_int, check_real

# config_of and family_of live with the scenario configs (invgym.envs.common); re-exported here.
__all__ = ["DEFAULT_MAX_MEMORY_GB", "FIT_SEED", "ExactSolution", "FittedPolicy", "RolloutCost", "batch_rollout",
           "check_fit_settings", "check_max_memory", "check_memory", "check_param", "config_of", "descend",
           "family_of", "fit_config", "golden_section", "steepest_descent"]

FIT_SEED = 2**40
"""Seed of env 0 in every fit's search: far from ``invgym.evaluate``'s default seeds 0, 1, ..."""

class FittedPolicy:
    """A fitted heuristic: ``policy(obs)`` maps a batch of observations to a batch of actions.

    Subclasses set ``family`` and ``params`` and implement ``act``; those the kernel can run natively also return
    ``(name, params)`` from ``rollout_spec`` (see the kernel's ``POLICIES``).
    """

    family: str = ""
    # Config fields the policy's actions depend on; acting in an env that differs in one of them is refused.
    fitted_fields: tuple[str, ...] = ()

    def __init__(self, **params: Any) -> None:
        self.params = params
        self.fitted_for: dict[str, Any] = {}

    def remember_fit(self, config: ScenarioConfig) -> None:
        """Record the values of ``fitted_fields`` in ``config``, which :meth:`check_env` then requires."""
        self.fitted_for = {name: getattr(config, name) for name in self.fitted_fields}

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return actions for a batch of observations (shape ``(num_envs, obs_dim)``)."""
        raise NotImplementedError

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Return actions for one observation (as a batch of one) or a batch of observations."""
        obs = np.asarray(obs, dtype=np.float64)
        return self.act(obs if obs.ndim == 2 else obs[None, :])

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> tuple[np.ndarray, None]:
        """SB3-style ``predict``, so heuristics and trained agents are interchangeable."""
        obs = np.asarray(observation)
        actions = self(obs)
        return (actions[0] if obs.ndim == 1 else actions), None

    def rollout_spec(self) -> tuple[str, np.ndarray] | None:
        """Return ``(kernel policy name, parameter array)`` when the kernel can run this policy, else None."""
        return None

    def check_env(self, env: Any) -> ScenarioConfig:
        """Return the env's config; ValueError unless it is of this policy's family and the env it was fitted for."""
        config = config_of(env)
        found = family_of(config)
        if found != self.family:
            raise ValueError(f"{type(self).__name__} is a {self.family} policy; it cannot act in a {found} env.")
        differ = [name for name, value in self.fitted_for.items() if getattr(config, name) != value]
        if differ:
            fitted = ", ".join(f"{name}={self.fitted_for[name]!r}" for name in differ)
            found = ", ".join(f"{name}={getattr(config, name)!r}" for name in differ)
            raise ValueError(f"{type(self).__name__} was fitted for {fitted}; this env has {found}: "
                             "fit it on this env.")
        return config

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"


@dataclasses.dataclass
class ExactSolution:
    """What ``solve_exact`` returns: the optimal long-run average cost per period and its policy.

    Every exact solver also records ``info["memory_bytes"]``: its working-memory estimate, made before solving.
    """

    average_cost: float
    policy: FittedPolicy
    num_states: int
    iterations: int = 0
    span: float = 0.0
    info: dict = dataclasses.field(default_factory=dict)


# === Exact solvers' memory budget ===

DEFAULT_MAX_MEMORY_GB = 2.0
"""Working memory (GiB) an exact solver may use by default; ``solve_exact(max_memory_gb=...)`` changes it."""

GIB = 2**30
OVERHEAD_BYTES = 2**20  # what a solve allocates besides its arrays (policy, info, small tables), at most
LOG = logging.getLogger("invgym.baselines")


def check_max_memory(max_memory_gb: Any, owner: str = "solve_exact") -> float:
    """Validate the ``max_memory_gb`` option of an exact solver: a float in (0, inf)."""
    return check_real(max_memory_gb, "max_memory_gb", owner, 0.0, None, closed="neither")


def check_memory(estimate: int, max_memory_gb: float, what: str) -> int:
    """Log an exact solver's working-memory estimate (before it solves) and refuse it above the budget.

    Args:
        estimate: bytes the solver's arrays will take at their peak (an upper estimate); ``OVERHEAD_BYTES`` is
            added for everything else.
        max_memory_gb: the budget in GiB.
        what: the instance in words, with its state count (it starts the messages).

    Returns:
        int: the estimate with the overhead, for ``info["memory_bytes"]``.

    Raises:
        ValueError: the estimate exceeds ``max_memory_gb``.
    """
    estimate = int(estimate) + OVERHEAD_BYTES
    LOG.info("%s: working memory about %.3f GiB (estimated before solving; max_memory_gb=%g)", what,
             estimate / GIB, max_memory_gb)
    if estimate > max_memory_gb * GIB:
        raise ValueError(
            f"{what} and needs about {estimate / GIB:.3g} GiB of working memory, more than max_memory_gb="
            f"{max_memory_gb:g}. Raise max_memory_gb if the machine has that much free memory, or make the "
            "instance smaller."
        )
    return estimate


# === Fitting toolkit ===

def fit_config(env: Any, env_kwargs: dict, owner: str, family: str) -> ScenarioConfig:
    """Return the config of ``env`` (an env, vector env, config or id with ``env_kwargs``) if it is of ``family``."""
    config = config_of(env, **env_kwargs)
    found = family_of(config)
    if found != family:
        raise ValueError(f"{owner} is a {family} policy; it cannot act in a {found} env.")
    return config


def check_fit_settings(owner: str, num_envs: Any, periods: Any, warmup: Any,
                       seed: Any) -> tuple[int, int, int, int]:
    """Validate the simulation settings of a fit: ``(num_envs, periods, warmup, seed)``."""
    return (check_int(num_envs, "num_envs", owner, 1, 1_000_000),
            check_int(periods, "periods", owner, 1, 10**9),
            check_int(warmup, "warmup", owner, 0, 10**9),
            check_int(seed, "seed", owner, 0, 2**63))


def check_param(value: Any, name: str, owner: str, config: Any, low: float | None = 0.0) -> float | int:
    """Return a finite policy parameter >= ``low`` (None: any); a whole number with a discrete action space."""
    value = check_real(value, name, owner, low, None)
    if config.action_type == "discrete" and not value.is_integer():
        raise ValueError(f"The '{name}' parameter of {owner} must be a whole number with a discrete action "
                         f"space. Got {value!r} instead.")
    return int(value) if value.is_integer() else value


class RolloutCost:
    """Mean cost per env of a kernel policy (a ``POLICIES`` name and parameters), on common random numbers.

    One kernel of ``num_envs`` envs is built once (its horizon covering ``warmup + periods``) and re-seeded
    identically (env i with ``seed + i``) for every candidate; results are memoised by parameters, so
    ``len(cost.cache)`` counts the candidates simulated.

    Args:
        config: the scenario config.
        num_envs: envs per candidate.
        periods: counted periods per env.
        warmup: uncounted periods first.
        seed: env i is seeded with ``seed + i``.
        discount: passed to the kernel's rollout (the scenarios whose rollout takes one), None for none.
        per_period: divide the total by ``periods`` (the average cost per period) or not (the total).
    """

    def __init__(self, config: Any, num_envs: int, periods: int, warmup: int, seed: int, *,
                 discount: float | None = None, per_period: bool = True) -> None:
        config = dataclasses.replace(config, horizon=periods + warmup)
        self._bound = config.bind(num_envs)
        self.kernel = self._bound.kernel
        self.seeds = np.uint64(seed) + np.arange(num_envs, dtype=np.uint64)
        self.periods, self.warmup = periods, warmup
        self._extra = () if discount is None else (discount,)
        self._scale = periods if per_period else 1
        self.cache: dict[tuple, float] = {}

    def __call__(self, name: str, params: Any) -> float:
        """Return the mean cost (per period, or total) of the policy ``name`` with ``params``."""
        key = (name, *np.asarray(params, dtype=np.float64).reshape(-1).tolist())
        if key not in self.cache:
            self.kernel.reset(self.seeds)  # every candidate starts from the initial state on the same demand
            parts = self.kernel.rollout(name, params, self.periods, self.warmup, *self._extra)
            self.cache[key] = float(parts["cost"].mean()) / self._scale
        return self.cache[key]


def batch_rollout(config: Any, name: str, candidates: np.ndarray, *, num_envs: int, periods: int, warmup: int,
                  seed: int) -> dict[str, np.ndarray]:
    """Run every candidate of a kernel policy on the same ``num_envs`` demand streams, in one compiled call.

    Env ``(c, j)`` of the batch runs candidate c (row c of ``candidates``) with seed ``seed + j``, so all
    candidates meet the same demand. The config is used as given (its horizon included: set it to cover
    ``warmup + periods`` for a long-run average, or keep the episode's).

    Returns:
        each part's totals over the counted periods, shape ``(len(candidates), num_envs)``.
    """
    candidates = np.asarray(candidates, dtype=np.float64)
    n = len(candidates)
    kernel = config.bind(n * num_envs).kernel
    kernel.reset(np.tile(np.uint64(seed) + np.arange(num_envs, dtype=np.uint64), n))
    params = candidates if num_envs == 1 else np.repeat(candidates, num_envs, axis=0)
    parts = kernel.rollout(name, params, periods=periods, warmup=warmup)
    return {key: np.asarray(value).reshape(n, num_envs) for key, value in parts.items()}


def descend(cost: Callable[[int], float], start: int, low: int, high: int) -> int:
    """Return a local minimum of ``cost`` over the integers in ``[low, high]``, by descent from ``start``.

    Steps toward the cheaper neighbour until neither neighbour is cheaper (for costs unimodal in the
    parameter, as base-stock and constant-order costs are, this is the minimum).
    """
    x = min(max(start, low), high)
    while True:
        here = cost(x)
        if x > low and cost(x - 1) < here:
            x -= 1
        elif x < high and cost(x + 1) < here:
            x += 1
        else:
            return x


def steepest_descent(cost: Callable[[int, int], float], start: tuple[int, int],
                     high: tuple[int, int]) -> tuple[int, int]:
    """Move to the cheapest of the eight integer neighbours (within ``[0, high]``) until none is cheaper."""
    x = (min(start[0], high[0]), min(start[1], high[1]))
    while True:
        moves = [(x[0] + a, x[1] + b) for a, b in itertools.product((-1, 0, 1), repeat=2) if a or b]
        moves = [y for y in moves if 0 <= y[0] <= high[0] and 0 <= y[1] <= high[1]]
        best = min(moves, key=lambda y: cost(*y))
        if cost(*best) >= cost(*x):
            return x
        x = best


def golden_section(cost: Callable[[float], float], low: float, high: float, tol: float) -> float:
    """Golden-section search for the minimum of a unimodal ``cost`` on ``[low, high]``, to within ``tol``."""
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = low, high
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    while b - a > tol:
        if cost(c) < cost(d):
            b, d = d, c
            c = b - ratio * (b - a)
        else:
            a, c = c, d
            d = a + ratio * (b - a)
    return (a + b) / 2.0
