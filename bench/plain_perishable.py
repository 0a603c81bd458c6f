"""A plain perishable DP solver, written apart from ``invgym.baselines.exact_perishable``: the yardstick of its speed.

Nothing here exploits the model's structure beyond sparsity: for every order q it simulates one period of every
state for every demand level (numpy over the states), stores the transition matrix ``P_q`` (N x N, scipy CSR) and
the expected cost ``c_q``, and a sweep is ``min_q (c_q + P_q V)``. Demand of m Q or more empties any stock, so
that tail is one event (its expected lost sales from the tail's mean). The period follows the timeline of
``/work/shared/references.md`` (De Moor et al. 2022): order, demand, issue from stock on hand (FIFO oldest first,
LIFO freshest first), outdate what is left of the oldest bucket, charge holding on the rest, age by one period.
The state is the env's observation: what is left of each outstanding order, oldest first; with the new order q
appended, its first m entries are on hand when demand arrives and the last L are still in transit.

Used by ``bench/exact.py``; not imported by the package or the tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.sparse import csr_matrix

TAU = 0.9  # the same aperiodicity step as the package's relative value iteration


def build(config: Any) -> tuple[list[Any], np.ndarray]:
    """Return ``[P_q for q]`` and ``costs`` (Q + 1, N) of a perishable config (lattice states, C order)."""
    m, lead, q_max = config.shelf_life, config.lead_time, int(config.max_order)
    width = m - 1 + lead
    n = (q_max + 1) ** width
    grid = np.array(np.unravel_index(np.arange(n), (q_max + 1,) * width)).T  # (N, width), C order
    pmf = config.demand.pmf()
    matrices, costs = [], np.zeros((q_max + 1, n))
    for q in range(q_max + 1):
        row = np.hstack([grid, np.full((n, 1), q)])
        stock = row[:, :m].astype(np.int64)  # on hand at demand time, oldest first
        transit = row[:, m:]
        rows, cols, probs = [], [], []
        top = m * q_max  # demand of at least this empties any stock: one event for the whole tail
        tail = pmf[top:]
        events = [(d, pmf[d], float(d) * pmf[d]) for d in range(min(top, len(pmf)))]
        events.append((top, tail.sum(), float(np.arange(top, top + len(tail)) @ tail)))
        for d, prob, weighted in events:
            if prob == 0.0:
                continue
            left = stock.copy()
            need = np.full(n, d)
            for k in (range(m) if config.issuing == "fifo" else range(m - 1, -1, -1)):
                take = np.minimum(left[:, k], need)
                left[:, k] -= take
                need -= take
            wasted = left[:, 0]
            kept = left[:, 1:]
            # E[lost] of this event: need = d - sold, so prob * need with d replaced by E[D; event].
            lost = weighted - prob * (d - need)
            costs[q] += (prob * (config.purchase_cost * q + config.outdating_cost * wasted
                                 + config.holding_cost * kept.sum(axis=1)) + config.lost_sales_cost * lost)
            nxt = np.hstack([kept, transit])
            index = np.ravel_multi_index(tuple(nxt.T), (q_max + 1,) * width) if width else np.zeros(n, np.int64)
            rows.append(np.arange(n))
            cols.append(index)
            probs.append(np.full(n, prob))
        matrices.append(csr_matrix((np.concatenate(probs), (np.concatenate(rows), np.concatenate(cols))),
                                   shape=(n, n)))
    return matrices, costs


def solve_average(config: Any, tol: float = 1e-6) -> tuple[float, np.ndarray, int]:
    """Relative value iteration: ``(average cost, orders, sweeps)``."""
    matrices, costs = build(config)
    values = np.zeros(costs.shape[1])
    sweeps = 0
    while True:
        sweeps += 1
        q_values = np.stack([c + p @ values for c, p in zip(costs, matrices, strict=True)])
        diff = q_values.min(axis=0) - values
        lo, hi = diff.min(), diff.max()
        if hi - lo < tol:
            return (lo + hi) / 2, q_values.argmin(axis=0), sweeps
        values = values + TAU * diff
        values -= values[0]


def solve_discounted(config: Any, discount: float = 0.99, tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray, int]:
    """Value iteration with MacQueen's stopping rule: ``(values, orders, sweeps)``."""
    matrices, costs = build(config)
    values = np.zeros(costs.shape[1])
    factor = discount / (1.0 - discount)
    sweeps = 0
    while True:
        sweeps += 1
        new = np.stack([c + discount * (p @ values) for c, p in zip(costs, matrices, strict=True)]).min(axis=0)
        diff = new - values
        values = new
        if factor * (diff.max() - diff.min()) < tol:
            values = values + factor * (diff.max() + diff.min()) / 2
            q_values = np.stack([c + discount * (p @ values) for c, p in zip(costs, matrices, strict=True)])
            return values, q_values.argmin(axis=0), sweeps
