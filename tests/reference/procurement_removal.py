"""Plain-Python procurement-removal dynamics: the third, independent copy the kernel and twin are tested against.

Same three functions as every reference module — ``initial(config)``, ``observe(config, state)`` and
``step(config, state, action, demand) -> (state, parts)`` — so ``tests/scenario_checks.py`` drives it. The state
is ``(stock, phase)``: on-hand (net inventory with backlog) and the pipeline oldest first, and the schedule phase
t mod S (always 0 for stationary demand, so a stationary policy's Markov chain stays finite).
"""

from __future__ import annotations

from typing import Any


def initial(config: Any) -> tuple[tuple[float, ...], int]:
    """Return the starting state: (on-hand and pipeline, phase 0)."""
    return tuple(config.initial_state), 0


def observe(config: Any, state: tuple) -> list[float]:
    """2. OBSERVE: on-hand, the pipeline oldest first, then the phase when demand follows a schedule."""
    x, phase = state
    return list(x) + ([float(phase)] if config.num_phases else [])


def step(config: Any, state: tuple, action: list[float], d: float) -> tuple[tuple, dict[str, float]]:
    """One period; the numbered steps match the kernel's ``period``."""
    x, phase = list(state[0]), state[1]
    u = float(action[0])
    q = removed = 0.0
    # 3. ORDER OR REMOVE: u >= 0 orders u (on hand at once if L = 0); u < 0 removes up to -u from the shelf.
    if u >= 0:
        q = u
        if config.lead_time == 0:
            x[0] += q
    else:
        removed = min(-u, max(x[0], 0.0))
        x[0] -= removed
    # 4. DEMAND is given.
    # 5. SALES AND LOST SALES OR BACKLOG.
    before = x[0]
    if config.backlog:
        x[0] = before - d
        sales = max(before, 0.0) - max(x[0], 0.0)
        lost, backlog = 0.0, max(-x[0], 0.0)
    else:
        sales = min(before, d)
        lost, backlog = d - sales, 0.0
        x[0] = before - sales
    # 6. COSTS on the end-of-period state.
    holding = max(x[0], 0.0)
    salvage = config.salvage_value * removed
    cost = (config.holding_cost * holding + config.shortage_cost * (lost + backlog) + config.purchase_cost * q
            + config.removal_cost * removed - salvage)
    parts = {"cost": cost, "holding": holding, "lost": lost, "backlog": backlog, "sales": sales, "demand": d,
             "order": q, "removed": removed, "salvage": salvage}
    # 1. ARRIVAL (start of t+1): the order placed L periods before t+1 arrives; the pipeline shifts.
    if config.lead_time >= 1:
        pipeline = x[1:] + [q]
        x = [x[0] + pipeline[0]] + pipeline[1:]
    phase = (phase + 1) % config.num_phases if config.num_phases else 0
    return (tuple(x), phase), parts
