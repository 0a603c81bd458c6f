"""Structure-informed learning: penalise and report violations of the known shape of optimal order policies.

For several inventory models theory tells us how the optimal order q(x) reacts to the state x, without telling
us q itself. The Amazon structure-informed DirectBackprop work adds such knowledge to training as penalties on
the policy's Jacobian dq/dx at states the policy visits. This module holds:

- :data:`PROPERTIES`: every property by name (a scenario lists those that hold for it as ``structure`` in
  :data:`invgym.scenarios.SCENARIOS`, the one place that says which holds where);
- :class:`StructurePenalty`: the differentiable penalty (Jacobian by ``torch.func.vmap(jacrev)``);
  both it and the report differentiate the orders themselves: a relu head's surrogate leak (the small slope
  training uses where the relu is flat) is switched off for the Jacobian (:func:`exact_slopes`);
- :func:`structure_report`: the violation rate of each property over states sampled from rollouts on the kernel
  (any policy: autograd for torch policies, central finite differences otherwise).

To draw a policy's orders over two state coordinates, use :func:`invgym.plot.policy_contour` (matplotlib; it
takes torch modules too).

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

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from invgym.baselines.common import config_of
from invgym.scenarios import SCENARIOS, scenario_of
from invgym.validation import check_int, check_real

__all__ = ["PROPERTIES", "StructurePenalty", "structure_report"]


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


@contextlib.contextmanager
def exact_slopes(module: nn.Module) -> Iterator[nn.Module]:
    """Within the block, the relu heads of ``module`` differentiate as the relu they are (their ``leak`` set to 0).

    The heads of :mod:`invgym.agents.policies` give a small surrogate slope where the relu is flat (``leak``),
    so that training can revive a level that fell below the position; the orders there are exactly 0 and so is
    their true derivative. The structural properties are about the orders, so the Jacobian is taken with every
    submodule's ``leak`` attribute at 0 (restored on leaving the block; the weights are untouched).
    """
    parts = module.modules() if isinstance(module, nn.Module) else ()
    saved = [(m, m.leak) for m in parts if isinstance(getattr(m, "leak", None), float)]
    for m, _ in saved:
        m.leak = 0.0
    try:
        yield module
    finally:
        for m, leak in saved:
            m.leak = leak


def policy_jacobian(module: nn.Module, states: torch.Tensor) -> torch.Tensor:
    """Return dq/dobs of a torch policy at each state, shape (N, action_dim, obs_dim); differentiable in weights.

    This is the derivative of the orders themselves: a head's surrogate leak is switched off (:func:`exact_slopes`),
    so where a relu is flat (no order) the slope is 0, not the leak.
    """

    def single(x: torch.Tensor) -> torch.Tensor:
        return module(x[None, :]).reshape(-1)

    with exact_slopes(module):
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
