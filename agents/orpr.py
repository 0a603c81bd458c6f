"""ORPR step 1: an OR model labels states with orders, the dataset behaviour cloning learns from.

ORPR (operations-research-pretrained reinforcement learning, as JD.com describe for replenishment) first fits a
*simulation-augmented* OR policy: a classic order-up-to rule whose single parameter is chosen by replaying a grid
of candidate levels through the compiled kernel and keeping the smallest stock that meets a service target (here
the fill rate, as practitioners set it, rather than a cost the business cannot state). Any OR baseline can be the
teacher instead. The teacher is then rolled out on the kernel and every visited observation is recorded with the
teacher's order; :class:`~invgym.agents.pretrain.Pretrainer` clones it, and
:class:`~invgym.agents.reinforce.KLRegularizedPPO` fine-tunes with a KL leash to the clone.

Reading order: :class:`ORLabelerConfig`, then :meth:`ORLabeler.fit_teacher` and :meth:`ORLabeler.label`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import numpy as np

from invgym.baselines.common import FittedPolicy, config_of, family_of
from invgym.validation import check_int, check_real

__all__ = ["DaysOfCover", "ORLabeler", "ORLabelerConfig", "load_dataset"]


@dataclasses.dataclass
class ORLabelerConfig:
    """Settings of the teacher's grid search and of the labelled rollout."""

    service_target: float = 0.95
    """Service the level must reach (lost sales: fill rate; replenishment: service level); the smallest such
    level is chosen."""
    levels: tuple[float, ...] | None = None
    """Levels to try (lost sales: order-up-to units, default 0 to the 0.9999 quantile of demand over L+1 periods;
    replenishment: days of cover, default 0..60)."""
    search_envs: int = 64
    """Envs per candidate level (common random numbers: every level sees the same demand)."""
    search_periods: int = 2000
    """Counted periods per env and candidate."""
    search_warmup: int = 100
    """Uncounted periods first."""
    label_envs: int = 64
    """Envs of the labelled rollout."""
    label_periods: int = 300
    """Periods recorded per env (dataset size = label_envs x label_periods)."""
    label_warmup: int = 20
    """Periods run before recording."""
    explore: float = 0.1
    """Probability that an env is moved by a random order instead of the teacher's (its label stays the teacher's),
    so the dataset also covers states off the teacher's path (a cheap form of DAgger's state coverage)."""
    seed: int = 0
    """Seed of the search and the rollout."""

    def validate(self) -> ORLabelerConfig:
        """Check every field; return self."""
        owner = type(self).__name__
        check_real(self.service_target, "service_target", owner, 0.0, 1.0)
        if self.levels is not None:
            levels = np.asarray(self.levels, dtype=np.float64)
            if levels.ndim != 1 or levels.size == 0 or not np.isfinite(levels).all() or (levels < 0).any():
                raise ValueError(f"The 'levels' parameter of {owner} must be a non-empty sequence of non-negative "
                                 f"floats. Got {self.levels!r} instead.")
        for name in ("search_envs", "search_periods", "label_envs", "label_periods"):
            check_int(getattr(self, name), name, owner, 1, 10**7)
        check_int(self.search_warmup, "search_warmup", owner, 0, 10**7)
        check_int(self.label_warmup, "label_warmup", owner, 0, 10**7)
        check_real(self.explore, "explore", owner, 0.0, 1.0)
        check_int(self.seed, "seed", owner, 0, 2**62)
        return self


def _base_stock(config: Any, level: float) -> FittedPolicy:
    from invgym.baselines.base_stock import BaseStock

    return BaseStock.fit(config, level=level)


class DaysOfCover(FittedPolicy):
    """Order up to ``days`` days of recent average sales on the inventory position (on-hand plus on order).

    The replenishment rule JD's buyers start from (and ORPR's OR model for ``invgym/Replenishment-v0``): the
    target stock is ``days x`` mean observed sales over the env's ``history`` window. Case packs, MOQ, capacity and
    review days are left to the env's ``constraints="round"`` rules, which apply them to every request.

    Args:
        config: the replenishment config (gives the observation layout and ``max_order``).
        days: days of cover, >= 0.
    """

    family = "replenishment"

    def __init__(self, config: Any, days: float) -> None:
        super().__init__(days=float(check_real(days, "days", "DaysOfCover", 0.0, None)))
        self.slices = config.slices
        self.max_order = float(config.max_order)
        self.discrete = config.action_type == "discrete"

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return ``ceil(days x mean sales - on-hand - on-order)^+`` per env, within ``[0, max_order]``."""
        demand_rate = obs[:, self.slices["sales"]].mean(axis=1)
        position = obs[:, self.slices["inventory"]].sum(axis=1)
        q = np.clip(np.ceil(self.params["days"] * demand_rate - position - 1e-9), 0.0, self.max_order)
        return q.astype(np.int64) if self.discrete else q


def _days_of_cover(config: Any, days: float) -> FittedPolicy:
    return DaysOfCover(config, days)


# Scenario families with a simulation-augmented OR teacher: (policy of one level, default grid, service metric).
GRID_TEACHERS = {
    "lost_sales": (_base_stock, lambda c: np.arange(0, c.demand.quantile(0.9999, c.lead_time + 1) + 1),
                   "fill_rate"),
    "replenishment": (_days_of_cover, lambda c: np.arange(0, 61), "service_level"),
}


class ORLabeler:
    """Fit (or take) an OR teacher and label the states it visits with its orders.

    Args:
        env: an env, config or registered id (with ``env_kwargs``).
        teacher: an OR policy (e.g. from ``invgym.baselines``) of the env's family; None fits the
            simulation-augmented order-up-to teacher of :data:`GRID_TEACHERS`.
        config: an :class:`ORLabelerConfig`.
        **env_kwargs: scenario parameters, with an id only.
    """

    def __init__(self, env: Any, teacher: Any = None, config: ORLabelerConfig | None = None,
                 **env_kwargs: Any) -> None:
        self.config = (ORLabelerConfig() if config is None else config).validate()
        self.env_config = config_of(env, **env_kwargs)
        self.family = family_of(self.env_config)
        if teacher is not None:
            if isinstance(teacher, FittedPolicy):
                teacher.check_env(self.env_config)  # ValueError naming both families when they differ
            elif not callable(teacher):
                raise TypeError(f"The 'teacher' parameter of ORLabeler must be an OR policy (obs -> actions). "
                                f"Got {teacher!r} instead.")
        elif self.family not in GRID_TEACHERS:
            raise ValueError(f"ORLabeler has no built-in teacher for the {self.family} scenario (known: "
                             f"{sorted(GRID_TEACHERS)}); pass teacher= an OR policy for it.")
        self.teacher = teacher
        self.grid: list[dict[str, float]] = []

    def fit_teacher(self) -> Any:
        """Return the teacher: the given one, or the smallest order-up-to level meeting the service target."""
        if self.teacher is not None:
            return self.teacher
        from invgym.evaluate import evaluate

        cfg = self.config
        factory, default_levels, metric = GRID_TEACHERS[self.family]
        levels = np.sort(np.asarray(default_levels(self.env_config) if cfg.levels is None else cfg.levels, float))
        self.grid = []
        for level in levels:
            # Each candidate runs in compiled code (the base-stock rollout) on the same demand (same seed).
            result = evaluate(factory(self.env_config, float(level)), self.env_config, num_envs=cfg.search_envs,
                              periods=cfg.search_periods, warmup=cfg.search_warmup, seed=cfg.seed)
            self.grid.append({"level": float(level), "average_cost": result.average_cost,
                              metric: result.metrics[metric]})
            if result.metrics[metric] >= cfg.service_target:
                self.teacher = factory(self.env_config, float(level))
                return self.teacher
        raise ValueError(f"no order-up-to level in the grid reaches the {metric} {cfg.service_target} (best "
                         f"{max(g[metric] for g in self.grid):.4f}); lower service_target or extend levels.")

    def label(self, path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
        """Roll out the teacher on the kernel and return (and optionally save) ``{"obs", "actions"}``.

        Args:
            path: write the dataset there as ``.npz`` (atomically: a temporary file, then ``os.replace``), with
                a JSON ``meta`` entry naming the env, the teacher and the settings.
        """
        from invgym.envs.common import KernelVectorEnv

        cfg = self.config
        teacher = self.fit_teacher()
        total = cfg.label_warmup + cfg.label_periods
        envs = KernelVectorEnv(dataclasses.replace(self.env_config, horizon=max(self.env_config.horizon, total)),
                               cfg.label_envs)
        rng = np.random.default_rng(cfg.seed)
        obs, _ = envs.reset(seed=cfg.seed)
        observations, actions = [], []
        for t in range(total):
            action = np.asarray(teacher(obs))
            if t >= cfg.label_warmup:
                keep = _decision_rows(self.env_config, obs)
                observations.append(obs[keep])
                actions.append(action[keep])
            move = action.copy()
            if cfg.explore > 0:
                # Exploration moves the env, never the label: the dataset answers "what would the teacher do here".
                random = _random_actions(self.env_config, cfg.label_envs, rng)
                pick = rng.random(cfg.label_envs) < cfg.explore
                move[pick] = random.reshape(move.shape)[pick]
            obs, *_ = envs.step(move)
        envs.close()
        data = {"obs": np.concatenate(observations).astype(np.float32), "actions": np.concatenate(actions)}
        if path is not None:
            meta = {"env": repr(self.env_config), "family": self.family, "teacher": repr(teacher),
                    "config": dataclasses.asdict(cfg), "grid": self.grid}
            _save_atomic(os.fspath(path), data, meta)
        return data


def _decision_rows(config: Any, obs: np.ndarray) -> np.ndarray:
    """Rows where the order matters: every row, except that replenishment orders only count on review days."""
    slices = getattr(config, "slices", None)
    if family_of(config) == "replenishment" and slices is not None:
        return obs[:, slices["review"].start] > 0.5
    return np.ones(len(obs), dtype=bool)


def _random_actions(config: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform random orders in the action space, from the labeler's own seeded generator."""
    low, high = np.asarray(config.action_low), np.asarray(config.action_high)
    if config.action_type == "discrete":
        out = rng.integers(low.astype(np.int64), high.astype(np.int64) + 1, size=(n, len(low)))
    else:
        out = rng.uniform(low, high, size=(n, len(low))).astype(np.float32)
    return out[:, 0] if len(low) == 1 else out


def _save_atomic(path: str, data: dict[str, np.ndarray], meta: dict) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:  # a file object, so numpy does not append ".npz" to the temporary name
        np.savez(f, meta=np.array(json.dumps(meta, default=str)), **data)
    os.replace(tmp, path)


def load_dataset(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Return ``(data, meta)`` of a dataset written by :meth:`ORLabeler.label`."""
    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files if k != "meta"}
        meta = json.loads(str(f["meta"]))
    return data, meta
