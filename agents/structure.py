"""Structure-informed learning: penalise and report violations of the known shape of optimal order policies.

For several inventory models theory tells us how the optimal order q(x) reacts to the state x, without telling
us q itself. The Amazon structure-informed DirectBackprop work adds such knowledge to training as penalties on
the policy's Jacobian dq/dx at states the policy visits. This module holds:

- :data:`PROPERTIES`: every property by name (a scenario lists those that hold for it as ``structure`` in
  :data:`invgym.scenarios.SCENARIOS`, the one place that says which holds where);
- :class:`StructurePenalty`: the differentiable penalty (Jacobian by ``torch.func.vmap(jacrev)``);
- :func:`structure_report`: the violation rate of each property over states sampled from rollouts on the kernel
  (any policy: autograd for torch policies, central finite differences otherwise);
- :func:`plot_policy_contour`: a heat map of orders over two state coordinates, written as a hand-made SVG, so
  no plotting library is needed (matplotlib is not a dependency of invgym).

Lost sales (state: on-hand, then outstanding orders oldest first; Morton 1969, Zipkin 2008 "On the structure
of lost-sales inventory models", Oper. Res. 56(4), Sec. 3): the optimal order is non-increasing in every state
component, reacts less than one-for-one, and reacts more to recent orders than to older stock:
``-1 <= dq/dx_newest <= ... <= dq/dx_oldest (on-hand) <= 0``.

The other families (each scenario's ``structure`` in :data:`invgym.scenarios.SCENARIOS`):

- dual sourcing (net inventory, regular pipeline, expedited pipeline; orders (q_r, q_e)): both orders are
  non-increasing in every state component with sensitivities in [-1, 0], and their sum reacts less than
  one-for-one too (Hua, Yu, Zhang & Xu 2015 via L-natural convexity; Sun & Van Mieghem 2019 use the same
  monotone, bounded-sensitivity form);
- perishable (stock by remaining life, then the pipeline): the order falls in every age class and by less than
  one unit per unit (Nahmias 1975; Fries 1975; Li & Yu 2014, via L-natural convexity);
- procurement-removal (on-hand and pipeline; one signed action): the interval structure, order up to a below a,
  remove down to b above b, idle in between (Maggiar & Sadighian), so du/dx is in [-1, 0] in every inventory
  column (the phase column is not a state coordinate);
- retail and replenishment: the order falls as inventory rises (monotone in the inventory columns of the
  config's ``slices`` only; promotions, calendar and sales history are features, not state).
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from invgym.baselines.common import config_of
from invgym.scenarios import SCENARIOS, scenario_of
from invgym.validation import check_int, check_real

__all__ = ["PROPERTIES", "StructurePenalty", "plot_policy_contour", "structure_report"]


# === Properties: each maps the Jacobian block J (N, A, S) of orders w.r.t. inventory state to violations (N,) ===

def _monotone(jac: torch.Tensor) -> torch.Tensor:
    # Orders never increase with more stock on hand or in the pipeline: dq/dx_i <= 0.
    return torch.relu(jac).sum(dim=(1, 2))


def _bounded(jac: torch.Tensor) -> torch.Tensor:
    # One more unit in stock never cuts the order by more than one unit: dq/dx_i >= -1.
    return torch.relu(-1.0 - jac).sum(dim=(1, 2))


def _ordered(jac: torch.Tensor) -> torch.Tensor:
    # Columns run oldest (on-hand) to newest; newer stock weighs more: dq/dx_{i+1} <= dq/dx_i (Zipkin 2008).
    if jac.shape[2] < 2:
        return jac.new_zeros(jac.shape[0])
    return torch.relu(jac[:, :, 1:] - jac[:, :, :-1]).sum(dim=(1, 2))


def _bounded_total(jac: torch.Tensor) -> torch.Tensor:
    # Several orders: one more unit in stock never cuts the orders' total by more than one unit.
    return torch.relu(-1.0 - jac.sum(dim=1)).sum(dim=1)


PROPERTIES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "monotone": _monotone,
    "bounded_sensitivity": _bounded,
    "ordered_sensitivity": _ordered,
    "bounded_total_sensitivity": _bounded_total,
}
"""Every property by name."""


def _state_dim(config: Any) -> int:
    """Inventory columns at the start of the observation, the state the properties talk about.

    A config whose observation has named ``slices`` (the panel scenarios) gives them as ``slices["inventory"]``;
    otherwise they are the observation less the trailing sales history and schedule-phase columns.
    """
    slices = getattr(config, "slices", None)
    if slices is not None:
        return int(slices["inventory"].stop)
    phase = 1 if int(getattr(config, "num_phases", 0) or 0) > 0 else 0
    return int(config.observation_space().shape[0]) - int(getattr(config, "history", 0)) - phase


def _properties_for(config: Any) -> tuple[str, ...]:
    scenario = scenario_of(config)
    if not scenario.structure:
        known = [s.name for s in SCENARIOS.values() if s.structure]
        raise ValueError(f"no structural properties are registered for the {scenario.name} scenario; known: "
                         f"{known} (declare them as its Scenario's structure in invgym.scenarios, with a "
                         "reference).")
    unknown = set(scenario.structure) - set(PROPERTIES)
    if unknown:
        raise ValueError(f"the {scenario.name} scenario declares unknown structural properties {sorted(unknown)}; "
                         f"known: {sorted(PROPERTIES)}.")
    return scenario.structure


def policy_jacobian(module: nn.Module, states: torch.Tensor) -> torch.Tensor:
    """Return dq/dobs of a torch policy at each state, shape (N, action_dim, obs_dim); differentiable in weights."""

    def single(x: torch.Tensor) -> torch.Tensor:
        return module(x[None, :]).reshape(-1)

    return torch.func.vmap(torch.func.jacrev(single))(states)


class StructurePenalty:
    """Mean hinge violation of structural properties of ``dq/dx`` at given states (add it to the loss).

    Args:
        properties: names from :data:`PROPERTIES` (e.g. ``SCENARIOS["lost_sales"].structure``).
        state_dim: leading observation columns that are inventory state (the Jacobian block penalised).
        weights: per-property weights (default 1 each).
    """

    def __init__(self, properties: Sequence[str], state_dim: int, weights: dict[str, float] | None = None) -> None:
        unknown = [p for p in properties if p not in PROPERTIES]
        if unknown or not properties:
            raise ValueError(f"The 'properties' parameter of StructurePenalty must be a non-empty list from "
                             f"{sorted(PROPERTIES)}. Got {list(properties)!r} instead.")
        self.properties = tuple(properties)
        self.state_dim = check_int(state_dim, "state_dim", "StructurePenalty", 1, None)
        weights = dict(weights or {})
        for name, w in weights.items():
            check_real(w, f"weights[{name!r}]", "StructurePenalty", 0.0, None)
        self.weights = {p: float(weights.get(p, 1.0)) for p in self.properties}

    @classmethod
    def for_env(cls, env: Any, state_dim: int | None = None, **kwargs: Any) -> StructurePenalty:
        """Return the penalty with the registered properties of an env, config or id (with ``kwargs``)."""
        config = config_of(env, **kwargs)
        return cls(_properties_for(config), _state_dim(config) if state_dim is None else state_dim)

    def violations(self, module: nn.Module, states: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return each property's violation at each state, shape (N,) (0 where it holds)."""
        jac = policy_jacobian(module, states)[:, :, : self.state_dim]
        return {name: PROPERTIES[name](jac) for name in self.properties}

    def __call__(self, module: nn.Module, states: torch.Tensor) -> torch.Tensor:
        """Return the weighted mean violation over ``states`` (a differentiable scalar)."""
        parts = self.violations(module, states)
        return sum(self.weights[name] * v.mean() for name, v in parts.items())


# === Report ===

def _torch_module(policy: Any) -> nn.Module | None:
    if isinstance(policy, nn.Module):
        return policy
    module = getattr(policy, "module", None)
    return module if isinstance(module, nn.Module) else None


def _actor(policy: Any, config: Any) -> Callable[[np.ndarray], np.ndarray]:
    """``obs -> valid actions`` for stepping the kernel (torch modules are wrapped as a TrainedPolicy)."""
    if isinstance(policy, nn.Module):
        from invgym.agents.direct_backprop import TrainedPolicy

        return TrainedPolicy(policy, config)
    if not callable(policy):
        raise TypeError(f"policy must be callable (obs -> actions) or a torch module. Got {policy!r} instead.")
    return policy


def sample_states(policy: Any, env: Any, num_states: int = 1024, warmup: int = 50, seed: int = 0) -> np.ndarray:
    """Return ``num_states`` observations visited by ``policy`` on the compiled kernel (after ``warmup`` periods).

    ``num_states`` envs run in one vector env; each contributes its observation after the warm-up.
    """
    from invgym.envs.common import KernelVectorEnv

    config = config_of(env)
    act = _actor(policy, config)
    # dataclasses.replace, as invgym.evaluate does: only the horizon changes (long enough for the warm-up).
    envs = KernelVectorEnv(dataclasses.replace(config, horizon=max(config.horizon, warmup + 1)), num_states)
    obs, _ = envs.reset(seed=seed)
    for _ in range(warmup):
        obs, *_ = envs.step(np.asarray(act(obs)))
    envs.close()
    return np.asarray(obs, dtype=np.float64)


def _numeric_jacobian(policy: Any, states: np.ndarray, state_dim: int, step: float) -> np.ndarray:
    """Central differences of the policy's orders along each inventory column, shape (N, A, state_dim)."""
    cols = []
    for i in range(state_dim):
        up, down = states.copy(), states.copy()
        up[:, i] += step
        down[:, i] -= step
        # Stock that cannot go negative is differenced one-sided at zero (net inventory may be negative).
        floor = (states[:, i] >= 0) & (down[:, i] < 0)
        down[floor, i] = 0.0
        span = (up[:, i] - down[:, i])[:, None]
        diff = (np.asarray(policy(up), dtype=np.float64).reshape(len(states), -1)
                - np.asarray(policy(down), dtype=np.float64).reshape(len(states), -1)) / span
        cols.append(diff.reshape(len(states), -1))
    return np.stack(cols, axis=2)


def structure_report(policy: Any, env: Any, *, num_states: int = 1024, warmup: int = 50, seed: int = 0,
                     tol: float = 1e-6, step: float | None = None, **env_kwargs: Any) -> dict[str, float]:
    """Return the fraction of visited states at which each registered property is violated (by more than ``tol``).

    Args:
        policy: a torch module, a :class:`~invgym.agents.direct_backprop.TrainedPolicy` (Jacobian by autograd of
            its continuous orders) or any ``obs -> actions`` policy such as a baseline (central differences).
        env: an env, config or id (with ``env_kwargs``) with declared structure (its scenario's ``structure``).
        num_states: states sampled from a rollout of the policy on the kernel.
        warmup: periods before states are taken.
        seed: seed of the rollout.
        tol: violations up to this size count as none (rounding noise).
        step: finite-difference step for non-torch policies (default 1 unit; orders of integer policies move in
            whole units, and a smaller step would just see the rounding).
        **env_kwargs: scenario parameters, with an id only.
    """
    config = config_of(env, **env_kwargs)
    properties = _properties_for(config)
    num_states = check_int(num_states, "num_states", "structure_report", 1, 10**7)
    warmup = check_int(warmup, "warmup", "structure_report", 0, None)
    tol = check_real(tol, "tol", "structure_report", 0.0, None)
    states = sample_states(policy, config, num_states, warmup, seed)
    state_dim = _state_dim(config)
    module = _torch_module(policy)
    if module is not None:
        jac = policy_jacobian(module, torch.as_tensor(states, dtype=torch.float32)).detach()[:, :, :state_dim]
    else:
        step = 1.0 if step is None else check_real(step, "step", "structure_report", 0.0, None, closed="neither")
        jac = torch.as_tensor(_numeric_jacobian(policy, states, state_dim, step))
    return {name: float((PROPERTIES[name](jac) > tol).double().mean()) for name in properties}


# === Plot (hand-written SVG; no plotting library needed) ===

def _colour(t: float) -> str:
    """Map t in [0, 1] to a perceptually ordered blue-to-yellow ramp (a coarse viridis)."""
    stops = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
    t = min(max(t, 0.0), 1.0) * (len(stops) - 1)
    k = min(int(t), len(stops) - 2)
    f = t - k
    rgb = [round(a + f * (b - a)) for a, b in zip(stops[k], stops[k + 1], strict=True)]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def plot_policy_contour(policy: Any, env: Any, dims: Sequence[int] = (0, 1), *, ranges: Sequence[tuple[float, float]]
                        | None = None, fixed: Sequence[float] | None = None, resolution: int = 21,
                        path: str | None = None, **env_kwargs: Any) -> str:
    """Draw the policy's order over one or two observation coordinates as an SVG heat map; return the SVG text.

    Args:
        policy: any ``obs -> actions`` policy (the first action is drawn) or a torch module.
        env: env, config or id (with ``env_kwargs``); gives the observation length and labels.
        dims: one or two observation indices to vary (x axis, then y axis).
        ranges: ``(low, high)`` per dim (default 0 to ``3 * (L + 1) * mean demand``, or 0..20).
        fixed: values of the other observation coordinates (default all zero).
        resolution: grid points per axis, in [2, 200].
        path: also write the SVG there (atomically: written to a temporary file, then renamed).
        **env_kwargs: scenario parameters, with an id only.
    """
    config = config_of(env, **env_kwargs)
    obs_dim = int(config.observation_space().shape[0])
    dims = list(dims)
    if not 1 <= len(dims) <= 2 or len(set(dims)) != len(dims) or not all(
            isinstance(d, int) and 0 <= d < obs_dim for d in dims):
        raise ValueError(f"The 'dims' parameter of plot_policy_contour must be one or two distinct ints in the "
                         f"range [0, {obs_dim - 1}]. Got {dims!r} instead.")
    resolution = check_int(resolution, "resolution", "plot_policy_contour", 2, 200)
    demand = getattr(config, "demand", None)
    top = 3.0 * (int(getattr(config, "lead_time", 0)) + 1) * float(demand.mean) if demand is not None else 20.0
    ranges = [(0.0, top)] * len(dims) if ranges is None else [tuple(map(float, r)) for r in ranges]
    base = np.zeros(obs_dim) if fixed is None else np.asarray(fixed, dtype=np.float64).reshape(obs_dim)
    axes = [np.linspace(lo, hi, resolution) for lo, hi in ranges]
    ys = axes[1] if len(dims) == 2 else np.zeros(1)
    grid = np.tile(base, (len(ys) * resolution, 1))
    xx, yy = np.meshgrid(axes[0], ys)
    grid[:, dims[0]] = xx.ravel()
    if len(dims) == 2:
        grid[:, dims[1]] = yy.ravel()
    act = _actor(policy, config) if isinstance(policy, nn.Module) else policy
    q = np.asarray(act(grid), dtype=np.float64).reshape(len(grid), -1)[:, 0].reshape(len(ys), resolution)

    cell, left, top_pad, bar = 20, 60, 20, 40
    width, height = left + cell * resolution + bar + 60, top_pad + cell * len(ys) + 50
    lo, hi = float(q.min()), float(q.max())
    span = hi - lo if hi > lo else 1.0
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           f'font-size="10">', f"<title>{html.escape(type(policy).__name__)} orders</title>"]
    for r in range(len(ys)):
        for c in range(resolution):
            y = top_pad + cell * (len(ys) - 1 - r)  # y grows upwards, as on a plot
            out.append(f'<rect x="{left + c * cell}" y="{y}" width="{cell}" height="{cell}" '
                       f'fill="{_colour((q[r, c] - lo) / span)}"><title>{q[r, c]:g}</title></rect>')
    for c in range(0, resolution, max(1, resolution // 5)):
        out.append(f'<text x="{left + c * cell + cell / 2}" y="{top_pad + cell * len(ys) + 12}" '
                   f'text-anchor="middle">{axes[0][c]:g}</text>')
    out.append(f'<text x="{left + cell * resolution / 2}" y="{height - 12}" text-anchor="middle">obs[{dims[0]}]</text>')
    if len(dims) == 2:
        for r in range(0, len(ys), max(1, len(ys) // 5)):
            y = top_pad + cell * (len(ys) - 1 - r) + cell / 2 + 3
            out.append(f'<text x="{left - 4}" y="{y}" text-anchor="end">{ys[r]:g}</text>')
        out.append(f'<text x="14" y="{top_pad + cell * len(ys) / 2}" transform="rotate(-90 14 '
                   f'{top_pad + cell * len(ys) / 2})" text-anchor="middle">obs[{dims[1]}]</text>')
    x0 = left + cell * resolution + 15
    for k in range(10):  # colour bar, low at the bottom
        out.append(f'<rect x="{x0}" y="{top_pad + (9 - k) * cell * len(ys) / 10}" width="12" '
                   f'height="{cell * len(ys) / 10}" fill="{_colour(k / 9)}"/>')
    out.append(f'<text x="{x0 + 16}" y="{top_pad + 8}">{hi:g}</text>')
    out.append(f'<text x="{x0 + 16}" y="{top_pad + cell * len(ys)}">{lo:g}</text>')
    out.append("</svg>")
    svg = "\n".join(out)
    if path is not None:
        from invgym.atomic import atomic_write_text

        atomic_write_text(path, svg)
    return svg
