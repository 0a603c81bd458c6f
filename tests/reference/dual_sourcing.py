"""Plain-Python dual-sourcing dynamics: the third, independent copy the kernel and twin are tested against.

Same three functions as every reference module — ``initial(config)``, ``observe(config, state)`` and
``step(config, state, action, demand) -> (state, parts)`` — with ``action = [q_regular, q_expedited]``.
The state is ``(net, regular pipeline..., expedited pipeline...)`` as a tuple of floats.
"""

from __future__ import annotations

import sys
from typing import Any

from tests.reference.lost_sales import ReferenceEnv as _ReferenceEnv

__all__ = ["ReferenceEnv", "initial", "observe", "step"]


def initial(config: Any) -> tuple[float, ...]:
    """Return the starting state: net inventory, then the regular and expedited pipelines."""
    return tuple(float(v) for v in config.initial_state)


def observe(config: Any, state: tuple) -> list[float]:
    """2. OBSERVE: net inventory, the regular pipeline, then the expedited pipeline (each oldest first)."""
    return list(state)


def step(config: Any, state: tuple, action: list[float], d: float) -> tuple[tuple, dict[str, float]]:
    """One period in Veeraraghavan & Scheller-Wolf's (2008) conventions; the numbered steps match the kernel's."""
    lr, le = config.regular_lead_time, config.expedited_lead_time
    net = state[0]
    regular = list(state[1:lr])  # orders placed t-l_r+1 .. t-1
    expedited = list(state[lr:])  # orders placed t-l_e+1 .. t-1
    q_r, q_e = float(action[0]), float(action[1])
    # 3. ORDER: with l_e = 0 the expedited order is on hand at once.
    if le == 0:
        net += q_e
    # 4. DEMAND is given.
    # 5. FULFILMENT: backlog, or sell from stock on hand and lose the rest.
    lost = 0.0
    if config.lost_sales:
        sold = min(net, d)
        lost = d - sold
        net -= sold
    else:
        net -= d
    # 6. COSTS on the end-of-period state, purchases when ordered.
    holding, backorder = max(net, 0.0), max(-net, 0.0)
    cost = (config.holding_cost * holding + config.backorder_cost * (backorder + lost)
            + config.regular_cost * q_r + config.expedited_cost * q_e)
    parts = {"cost": cost, "holding": holding, "backorder": backorder, "lost": lost, "demand": d,
             "order_regular": q_r, "order_expedited": q_e}
    # 1. ARRIVAL (start of t+1): the regular order of t+1-l_r and the expedited order of t+1-l_e arrive.
    regular.append(q_r)
    net += regular.pop(0)
    if le >= 1:
        expedited.append(q_e)
        net += expedited.pop(0)
    return (net, *regular, *expedited), parts


class ReferenceEnv(_ReferenceEnv):
    """These dynamics as a pure-Python Gymnasium env (the benchmarks' baseline); actions are (q_r, q_e)."""

    def __init__(self, config: Any) -> None:
        super().__init__(config, module=sys.modules[__name__])
