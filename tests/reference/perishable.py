"""Plain-Python perishable dynamics: the third, independent copy the kernel and twin are tested against.

Written from the period timeline of De Moor, Gijsbrechts & Boute (2022) with the state split into an explicit
on-hand list (by remaining life) and a pipeline list, rather than the kernel's single shifted row. The same three
functions as every reference module: ``initial``, ``observe`` and ``step``.
"""

from __future__ import annotations

import sys
from typing import Any

from tests.reference.lost_sales import ReferenceEnv as _ReferenceEnv

__all__ = ["ReferenceEnv", "initial", "observe", "step"]


def initial(config: Any) -> tuple[float, ...]:
    """Return the starting state: the m - 1 + L entries of ``initial_state`` (oldest units first)."""
    return tuple(float(v) for v in config.initial_state)


def observe(config: Any, state: tuple[float, ...]) -> list[float]:
    """2. OBSERVE: on-hand units by remaining life (1 first), then the pipeline oldest first; [0] if empty."""
    return list(state) if state else [0.0]


def _split(config: Any, state: tuple[float, ...], q: float) -> tuple[list[float], list[float]]:
    """Return (on hand by remaining life 1..m, pipeline arriving in t+1..t+L) once q is placed."""
    m, lead = config.shelf_life, config.lead_time
    if lead == 0:
        # The m - 1 on-hand buckets have lives 1..m-1; the order arrives at once with life m.
        return list(state) + [q], []
    return list(state[:m]), list(state[m:]) + [q]


def step(config: Any, state: tuple[float, ...], action: list[float], d: float) -> tuple[tuple, dict[str, float]]:
    """One period in De Moor et al.'s (2022) conventions; the numbered steps match the kernel's."""
    q = float(action[0])
    # 1. ARRIVAL happened at the end of the previous period; 3. ORDER: q is placed and paid for.
    on_hand, pipeline = _split(config, state, q)
    # 4. DEMAND is given. 5. ISSUING from stock on hand only: FIFO visits lives 1..m, LIFO m..1.
    order = range(len(on_hand)) if config.issuing == "fifo" else reversed(range(len(on_hand)))
    remaining = d
    for life in order:
        served = min(on_hand[life], remaining)
        on_hand[life] -= served
        remaining -= served
    lost = remaining
    sales = d - lost
    # 6. OUTDATING: the units with one period of life left expire.
    outdated = on_hand[0]
    carried = on_hand[1:]
    # 7. COSTS: c per unit ordered, p per unit lost, w per unit outdated, h per unit carried over.
    holding = sum(carried)
    cost = (config.purchase_cost * q + config.lost_sales_cost * lost + config.outdating_cost * outdated
            + config.holding_cost * holding)
    parts = {"cost": cost, "holding": holding, "lost": lost, "outdated": outdated, "sales": sales,
             "demand": d, "order": q}
    # 8. AGEING: the carried units lose a period of life; 1. ARRIVAL: the first pipeline order joins as freshest.
    if pipeline:
        carried = carried + [pipeline[0]]
        pipeline = pipeline[1:]
    return tuple(carried + pipeline), parts


class ReferenceEnv(_ReferenceEnv):
    """These dynamics as a pure-Python Gymnasium env (the benchmarks' baseline)."""

    def __init__(self, config: Any) -> None:
        super().__init__(config, module=sys.modules[__name__])
