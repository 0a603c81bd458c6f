"""Helpers the scenario tests share: recording runs of the kernel, the reference and the twin, Markov-chain costs.

tests/test_contract.py calls them once, parametrized over every registered id (kernel = reference = twin,
seeding, pickling); a scenario's own file uses them only for what is specific to it.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from invgym.envs.common import ScenarioConfig


def random_actions(config: ScenarioConfig, rng: np.random.Generator, periods: int) -> np.ndarray:
    """Random valid actions (periods, action_dim): integers for discrete spaces, reals for continuous."""
    low, high = config.action_low, config.action_high
    if config.action_type == "discrete":
        return rng.integers(low.astype(np.int64), high.astype(np.int64) + 1, size=(periods, len(low)))
    return rng.uniform(low, high, size=(periods, len(low)))


def env_action(env: Any, a: np.ndarray) -> np.ndarray:
    """Encode scenario actions (e.g. ProcurementRemoval's signed orders) as the env's indices from 0."""
    offset = getattr(env.unwrapped, "_offset", None)
    return a if offset is None else a - offset


def run_env(env: gym.Env, actions: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Step a single env through ``actions`` (scenario units); record observations, rewards and every info key."""
    obs, _ = env.reset(seed=seed)
    record: dict[str, list] = {"obs": [obs], "reward": []}
    for a in actions:
        action = _action(env, a)
        obs, reward, terminated, truncated, info = env.step(action)
        record["obs"].append(obs)
        record["reward"].append(reward)
        for key, value in info.items():
            record.setdefault(key, []).append(value)
        if terminated or truncated:
            break
    return {key: np.asarray(values) for key, values in record.items()}


def run_reference(module: Any, config: ScenarioConfig, actions: np.ndarray,
                  demand: np.ndarray) -> dict[str, np.ndarray]:
    """Run the reference dynamics on the same actions and demand."""
    state = module.initial(config)
    record: dict[str, list] = {"obs": [module.observe(config, state)], "reward": []}
    for a, d in zip(actions, demand, strict=False):
        state, parts = module.step(config, state, [float(v) for v in a], float(d))
        record["obs"].append(module.observe(config, state))
        record["reward"].append(-parts["cost"])
        for key, value in parts.items():
            record.setdefault(key, []).append(value)
    return {key: np.asarray(values, dtype=np.float64) for key, values in record.items()}


def run_twin(twin: Any, actions: np.ndarray, demand: np.ndarray) -> dict[str, np.ndarray]:
    """Replay actions and demand through a torch twin (float64)."""
    import torch

    acts = torch.as_tensor(actions, dtype=torch.float64)
    t = {"i": 0}

    def policy(obs: torch.Tensor) -> torch.Tensor:
        a = acts[t["i"]][None, :]
        t["i"] += 1
        return a

    result = twin.rollout(policy, torch.as_tensor(demand, dtype=torch.float64)[None, :])
    out = {key: value[0].detach().numpy() for key, value in result.parts.items()}
    final = twin.observe(_last_state(twin, result, acts, demand))
    out["obs"] = np.concatenate([result.observations[0].detach().numpy(), final.detach().numpy()], axis=0)
    return out


def _last_state(twin: Any, result: Any, acts: Any, demand: np.ndarray) -> Any:
    # The rollout does not return its last state; replaying is cheap and uses only the public protocol.
    import torch

    state = twin.initial_state(1, torch.float64)
    for k in range(len(demand)):
        state, _ = twin.step(state, acts[k][None, :], torch.tensor([float(demand[k])], dtype=torch.float64))
    return state


def assert_same_trajectory(a: dict[str, np.ndarray], b: dict[str, np.ndarray], keys: tuple[str, ...],
                           rtol: float = 1e-6) -> None:
    """Assert two recorded trajectories agree on every key in ``keys`` (float32 observations: rtol 1e-6)."""
    for key in keys:
        np.testing.assert_allclose(np.asarray(a[key], np.float64), np.asarray(b[key], np.float64), rtol=rtol,
                                   atol=1e-6, err_msg=f"trajectories differ in {key!r}")


def markov_chain_cost(config: ScenarioConfig, module: Any, policy: Callable[[tuple], list[float]],
                      max_states: int = 200_000) -> float:
    """Exact long-run average cost of a stationary policy, from its Markov chain built with the reference.

    Enumerates the states reachable from the starting state under ``policy`` and the demand pmf, then solves
    pi P = pi, sum(pi) = 1 and returns sum_s pi(s) E[cost | s]. The chain must be finite and unichain.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import eigs

    pmf = config.demand.pmf()
    support = np.flatnonzero(pmf > 0)
    start = module.initial(config)
    index = {start: 0}
    frontier = [start]
    rows, cols, probs, costs = [], [], [], []
    while frontier:
        state = frontier.pop()
        i = index[state]
        action = policy(state)
        expected = 0.0
        for d in support:
            nxt, parts = module.step(config, state, action, float(d))
            if nxt not in index:
                if len(index) >= max_states:
                    raise ValueError("the chain has too many states for this check.")
                index[nxt] = len(index)
                frontier.append(nxt)
            rows.append(i)
            cols.append(index[nxt])
            probs.append(pmf[d])
            expected += pmf[d] * parts["cost"]
        costs.append((i, expected))
    n = len(index)
    matrix = coo_matrix((probs, (rows, cols)), shape=(n, n)).tocsr()
    cost = np.zeros(n)
    for i, c in costs:
        cost[i] = c
    if n == 1:
        return float(cost[0])
    # Stationary distribution: the left eigenvector for eigenvalue 1 (a dense solve for small chains).
    if n <= 3000:
        dense = matrix.toarray().T - np.eye(n)
        dense[-1, :] = 1.0
        rhs = np.zeros(n)
        rhs[-1] = 1.0
        pi = np.linalg.lstsq(dense, rhs, rcond=None)[0]
    else:
        _, vec = eigs(matrix.T, k=1, sigma=1.0 + 1e-9)
        pi = np.real(vec[:, 0])
        pi /= pi.sum()
    return float(pi @ cost)


def check_pickle_roundtrip(env: gym.Env, actions: np.ndarray) -> None:
    """A deep-copied and an unpickled env continue exactly like the original."""
    env.reset(seed=3)
    env.step(_action(env, actions[0]))
    clones = [copy.deepcopy(env.unwrapped), pickle.loads(pickle.dumps(env.unwrapped))]
    for a in actions[1:]:
        expected = env.step(_action(env, a))
        for clone in clones:
            got = clone.step(_action(env, a))
            np.testing.assert_array_equal(expected[0], got[0])
            assert expected[1] == got[1]


def _action(env: gym.Env, a: np.ndarray) -> Any:
    discrete = env.unwrapped.config.action_type == "discrete"
    a = env_action(env, a)
    if discrete and a.shape[0] == 1:
        return int(a[0])
    return a.astype(np.int64) if discrete else a
