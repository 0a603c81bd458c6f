"""Structure-informed penalties (agents/structure.py).

Zero for base-stock, positive for perverse policies, Zipkin's (2008) sensitivity ordering holds for the exact
optimal policy, the policy contour of a torch module, bad input.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from invgym.agents import StructurePenalty, build_policy, structure_report  # noqa: E402
from invgym.agents.structure import policy_jacobian, sample_states  # noqa: E402
from invgym.baselines.common import config_of  # noqa: E402
from invgym.scenarios import SCENARIOS  # noqa: E402

ENV_ID = "invgym/LostSales-v0"


def _base_stock_module(config, level: float) -> torch.nn.Module:
    """A torch base-stock policy q = (S - position)^+ : the head of OrderPolicy with a constant level."""
    module = build_policy("mlp", config, base_stock_head=True)
    with torch.no_grad():
        module.body[-1].weight.zero_()
        module.body[-1].bias.fill_(level / float(module.scale))
    return module


class MoreWhenRich(torch.nn.Module):
    """Orders more when more stock is on hand: violates monotonicity everywhere."""

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Return 1 + on-hand / 2."""
        return 1.0 + 0.5 * obs[:, :1]


class OldestFirst(torch.nn.Module):
    """Decreasing and bounded, but reacts more to on-hand stock than to the newest order (Zipkin's order reversed)."""

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Return (100 + w . x)^+ with weights from -0.9 (on-hand) to -0.1 (newest)."""
        weights = torch.linspace(-0.9, -0.1, obs.shape[1], dtype=obs.dtype)
        return torch.relu(100.0 + obs @ weights)[:, None]


# === The penalty ===


@pytest.mark.parametrize("lead_time", [1, 3])
def test_penalty_is_zero_for_base_stock_and_positive_for_perverse_policies(lead_time):
    config = config_of(ENV_ID, lead_time=lead_time)
    penalty = StructurePenalty.for_env(config)
    assert penalty.properties == SCENARIOS["lost_sales"].structure
    states = torch.rand(200, config.width) * 30.0
    assert float(penalty(_base_stock_module(config, 6.0 * (lead_time + 1)), states).detach()) == 0.0
    parts = penalty.violations(MoreWhenRich(), states)
    assert float(parts["monotone"].min()) == pytest.approx(0.5)  # dq/dx_0 = +0.5 at every state
    assert float(parts["bounded_sensitivity"].max()) == 0.0
    if lead_time > 1:
        reversed_parts = penalty.violations(OldestFirst(), states)
        assert float(reversed_parts["ordered_sensitivity"].min()) > 0
        assert float(reversed_parts["monotone"].max()) == 0.0


def test_penalty_gradient_repairs_a_violating_policy():
    config = config_of(ENV_ID, lead_time=2)
    module = torch.nn.Linear(2, 1)
    with torch.no_grad():  # orders grow with on-hand (+0.5) and with the newest order (+0.3)
        module.weight.copy_(torch.tensor([[0.5, 0.3]]))
    penalty = StructurePenalty.for_env(config)
    states = torch.rand(32, 2) * 20.0
    before = float(penalty(module, states).detach())
    optimizer = torch.optim.SGD(module.parameters(), lr=0.05)
    for _ in range(30):
        optimizer.zero_grad()
        penalty(module, states).backward()
        optimizer.step()
    assert before == pytest.approx(0.8)
    assert float(penalty(module, states).detach()) == 0.0
    w = module.weight.detach()[0]
    assert -1.0 <= float(w[1]) <= float(w[0]) <= 0.0  # Zipkin's ordering reached, not just monotonicity


def test_jacobian_matches_autograd_of_a_linear_policy():
    weights = torch.tensor([-0.2, -0.7, 0.3])
    states = torch.rand(5, 3)
    jac = policy_jacobian(lambda obs: (obs @ weights)[:, None], states)
    assert jac.shape == (5, 1, 3)
    assert torch.allclose(jac, weights.expand(5, 1, 3))


# === The report, on states the policy visits ===


def test_report_is_zero_for_base_stock_policies():
    config = config_of(ENV_ID, lead_time=3, lost_sales_cost=9.0)
    clean = {name: 0.0 for name in SCENARIOS["lost_sales"].structure}
    assert structure_report(_base_stock_module(config, 22.0), config, num_states=256) == clean
    base_stock = pytest.importorskip("invgym.baselines.base_stock")
    assert structure_report(base_stock.BaseStock.fit(config, level=22), config, num_states=256) == clean
    report = structure_report(MoreWhenRich(), config, num_states=256)
    assert report["monotone"] == 1.0


def test_zipkin_2008_structure_holds_for_the_exact_optimal_policy():
    """Zipkin (2008) / Morton (1969): -1 <= dq/dx_newest <= ... <= dq/dx_on-hand <= 0 for the optimal policy.

    The exact policy (value iteration on the integer lattice) is differenced with unit steps; integer rounding
    breaks the ordering at a handful of states, while the reversed ordering fails at many.
    """
    exact = pytest.importorskip("invgym.baselines.exact_lost_sales")
    config = config_of(ENV_ID, lead_time=2, lost_sales_cost=9.0)
    policy = exact.solve_lost_sales(config).policy
    report = structure_report(policy, config, num_states=2000, seed=1)
    assert report["monotone"] == 0.0 and report["bounded_sensitivity"] == 0.0
    assert report["ordered_sensitivity"] <= 0.01
    from invgym.agents.structure import _numeric_jacobian

    jac = _numeric_jacobian(policy, sample_states(policy, config, 2000, seed=1), 2, 1.0)[:, 0]
    assert np.mean(jac[:, 1] < jac[:, 0]) > 0.1  # strictly more sensitive to the newest order: often
    assert np.mean(jac[:, 0] < jac[:, 1]) <= 0.01  # the reverse: only as lattice noise


@pytest.mark.slow
def test_direct_backprop_with_structure_weight_keeps_violations_low():
    from invgym.agents import DirectBackprop, DirectBackpropConfig

    cfg = DirectBackpropConfig(epochs=15, batch_size=32, periods=16, warmup=4, structure_weight=10.0,
                               structure_states=64, eval_envs=8, eval_periods=100, eval_warmup=10)
    agent = DirectBackprop(ENV_ID, config=cfg, lead_time=2)
    policy = agent.fit()
    assert all(np.isfinite(m["losses/structure"]) for m in agent.metrics)
    assert agent.metrics[-1]["losses/structure"] <= agent.metrics[0]["losses/structure"] + 1e-6
    report = structure_report(policy, ENV_ID, num_states=256, lead_time=2)
    assert max(report.values()) <= 0.05


# === The plot: invgym.plot draws a torch policy ===


def test_policy_contour_draws_a_torch_module():
    pytest.importorskip("matplotlib")
    from invgym import plot

    config = config_of(ENV_ID, lead_time=2)
    fig = plot.policy_contour(_base_stock_module(config, 12.0), config, dims=(0, 1), ranges=[(0, 10), (0, 10)],
                              resolution=6)
    q = np.asarray(fig.axes[0].collections[0].get_array()).reshape(6, 6)
    grid = np.linspace(0, 10, 6)
    expected = np.maximum(0.0, 12.0 - grid[None, :] - grid[:, None])  # (S - on-hand - arriving next)^+
    np.testing.assert_allclose(q, np.round(expected))


# === Bad input ===


def test_bad_structure_arguments_are_refused(monkeypatch):
    import dataclasses

    config = config_of(ENV_ID, lead_time=2)
    monkeypatch.setitem(SCENARIOS, "dual_sourcing", dataclasses.replace(SCENARIOS["dual_sourcing"], structure=()))
    with pytest.raises(ValueError, match="no structural properties are registered for the dual_sourcing scenario"):
        StructurePenalty.for_env("invgym/DualSourcing-v0")
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"'properties' parameter of StructurePenalty must be a non-empty list"):
        StructurePenalty(["convex"], state_dim=2)
    with pytest.raises(ValueError, match=r"'num_states' parameter of structure_report"):
        structure_report(MoreWhenRich(), config, num_states=0)


# === Every family has registered structure, and structure_report covers it ===

FAMILY_IDS = {"lost_sales": ENV_ID, "dual_sourcing": "invgym/DualSourcing-v0", "perishable": "invgym/Perishable-v0",
              "procurement_removal": "invgym/ProcurementRemoval-v0", "retail": "invgym/Retail-v0",
              "replenishment": "invgym/Replenishment-v0"}


class _Linear(torch.nn.Module):
    """``relu(c + slope * sum(state))`` for every order (signed: no relu); ``slope`` sets the structure."""

    def __init__(self, state_dim: int, actions: int, slope: float, signed: bool = False) -> None:
        super().__init__()
        self.state_dim, self.actions, self.slope, self.signed = state_dim, actions, slope, signed

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Return (B, actions) orders."""
        u = 6.0 + self.slope * obs[:, : self.state_dim].sum(dim=1, keepdim=True)
        u = u if self.signed else torch.relu(u) + 1e-3 * u  # a small slope where the relu is flat
        return u.expand(-1, self.actions) / self.actions


@pytest.mark.parametrize("family", sorted(FAMILY_IDS))
def test_structure_report_covers_every_family_and_detects_violations(family):
    from invgym.agents.structure import _state_dim

    assert {name for name, s in SCENARIOS.items() if s.structure} == set(FAMILY_IDS)
    config = config_of(FAMILY_IDS[family])
    state_dim, actions = _state_dim(config), len(config.action_low)
    signed = family == "procurement_removal"
    assert 1 <= state_dim <= config.observation_space().shape[0]
    good = structure_report(_Linear(state_dim, actions, -0.5, signed), config, num_states=64, warmup=5)
    bad = structure_report(_Linear(state_dim, actions, +0.5, signed), config, num_states=64, warmup=5)
    assert set(good) == set(bad) == set(SCENARIOS[family].structure)
    assert all(v == 0.0 for v in good.values()), good
    assert bad["monotone"] > 0.5, bad
    steep = structure_report(_Linear(state_dim, actions, -3.0, signed), config, num_states=64, warmup=5)
    if "bounded_sensitivity" in SCENARIOS[family].structure:
        assert steep["bounded_sensitivity"] > 0.2, steep  # wherever the relu is not flat
    penalty = StructurePenalty.for_env(config)
    states = torch.as_tensor(sample_states(_Linear(state_dim, actions, 0.5, signed), config, 16, 5),
                             dtype=torch.float32)
    assert float(penalty(_Linear(state_dim, actions, 0.5, signed), states)) > 0
    assert float(penalty(_Linear(state_dim, actions, -0.5, signed), states)) == 0


def test_dual_sourcing_total_sensitivity_is_checked_across_both_orders():
    config = config_of("invgym/DualSourcing-v0")
    state_dim = config.observation_space().shape[0]
    # Each order alone falls by 0.6 per unit (bounded), but together by 1.2: the total property catches it.
    report = structure_report(_Linear(state_dim, 2, -1.2), config, num_states=64, warmup=5)
    assert report["bounded_sensitivity"] == 0.0 and report["bounded_total_sensitivity"] > 0.5


def test_jacobian_is_the_orders_slope_not_the_heads_training_leak():
    """Where a relu head orders nothing its slope is 0; the training leak (a surrogate) is not reported."""
    config = config_of(ENV_ID, lead_time=2, lost_sales_cost=9.0)
    module = build_policy("mlp", config, base_stock_head=True, hidden=(8,), leak=0.25)
    with torch.no_grad():
        module.body[-1].weight.zero_()
        module.body[-1].bias.fill_(10.0 / float(module.scale))  # S = 10 everywhere
    states = torch.tensor([[2.0, 2.0], [20.0, 10.0]])  # position 4 (orders 6), position 30 (orders 0)
    jac = policy_jacobian(module, states)
    assert torch.allclose(jac[0], torch.full((1, 2), -1.0))
    assert torch.equal(jac[1], torch.zeros(1, 2))
    assert module.leak == 0.25  # restored: training still sees its surrogate slope
    z = module(states[1:])
    z.sum().backward()  # the leak's surrogate gradient is still there outside the Jacobian
    assert float(module.body[-1].bias.grad.abs().sum()) > 0
