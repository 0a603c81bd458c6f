"""A course assignment: write a lost-sales ordering rule, and this script grades it against OR benchmarks.

Run: ``python examples/course_assignment.py`` (seconds, numpy only). Students edit ``my_policy`` only.

The task (Zipkin 2008): Poisson(5) demand each period, unmet demand is lost at cost p, leftover stock costs 1 per
unit and period, and an order placed now arrives after ``lead_time`` periods. The observation is
``[on_hand, oldest order in transit, ..., newest order in transit]``; the action is the order quantity. The
grader evaluates the rule on 200 x 2000 periods with common random numbers (everyone faces the same demand)
and prints its cost next to the myopic policy, the best base-stock policy and the exact optimum, per instance.
"""

from __future__ import annotations

import numpy as np

import invgym
from invgym.baselines import BaseStock, Myopic, solve_exact

ENV_ID = "invgym/LostSales-v0"
INSTANCES = ({"lead_time": 1, "lost_sales_cost": 4.0}, {"lead_time": 2, "lost_sales_cost": 9.0},
             {"lead_time": 4, "lost_sales_cost": 19.0})


def my_policy(obs: np.ndarray, lead_time: int, lost_sales_cost: float) -> np.ndarray:
    """Return one order per row of ``obs`` (a batch). The starting rule: order up to mean demand over L + 1 periods."""
    position = obs[:, : max(lead_time, 1)].sum(axis=1)  # on hand plus everything in transit
    target = 5.0 * (lead_time + 1)
    return np.maximum(0, np.round(target - position)).astype(np.int64)


def grade(policy=my_policy, instances=INSTANCES) -> list[dict[str, float]]:
    """Evaluate ``policy`` on every instance beside the benchmarks; print and return one row per instance."""
    rows = []
    print(f"{'L':>2} {'p':>4} {'yours':>8} {'myopic':>8} {'base-stock':>10} {'optimal':>8} {'your gap':>9}")
    for kwargs in instances:
        run = {"num_envs": 200, "periods": 2000, "warmup": 100, "seed": 7, **kwargs}
        yours = invgym.evaluate(lambda obs, kw=kwargs: policy(obs, **kw), ENV_ID, **run)
        myopic = invgym.evaluate(Myopic.fit(ENV_ID, **kwargs), ENV_ID, **run).average_cost
        base_stock = invgym.evaluate(BaseStock.fit(ENV_ID, **kwargs), ENV_ID, **run).average_cost
        optimal = solve_exact(ENV_ID, **kwargs).average_cost
        gap = 100 * (yours.average_cost / optimal - 1)
        print(f"{kwargs['lead_time']:>2} {kwargs['lost_sales_cost']:>4.0f} {yours.average_cost:8.3f} {myopic:8.3f} "
              f"{base_stock:10.3f} {optimal:8.3f} {gap:+8.2f}%")
        rows.append({"yours": yours.average_cost, "stderr": yours.stderr, "myopic": myopic,
                     "base_stock": base_stock, "optimal": optimal})
    return rows


if __name__ == "__main__":
    grade()
