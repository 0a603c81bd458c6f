"""DirectBackprop (agents/direct_backprop.py): twin gradients, Zipkin (2008) L=1 within 2 %, resume, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import invgym  # noqa: E402
from invgym.agents import DemandSampler, DirectBackprop, DirectBackpropConfig, TrainedPolicy, build_policy  # noqa: E402
from invgym.baselines.common import config_of  # noqa: E402
from invgym.demand import Poisson, ProductMixture  # noqa: E402
from invgym.twins import twin_for  # noqa: E402

pytestmark = pytest.mark.slow  # training or leaderboard runs: deselect with -m 'not slow'

ENV_ID = "invgym/LostSales-v0"
TABLE3 = json.loads((Path(__file__).parent / "data" / "zipkin_2008_table3.json").read_text())

# Tuned for the CI budget: ~60 optimiser steps of 64 paths x 40 periods take ~10 s of one core.
FAST = dict(epochs=60, batch_size=64, periods=32, warmup=8, learning_rate=1e-2, eval_envs=64, eval_periods=2000,
            eval_warmup=100)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


# === The twin's gradient is the true derivative of the simulated cost ===


def test_twin_gradient_matches_finite_differences():
    config = config_of(ENV_ID, lead_time=3, lost_sales_cost=9.0)
    twin = twin_for(config)
    torch.manual_seed(3)
    # leak=0: the exact relu gradient (the default small leak is a deliberate surrogate, not the derivative).
    policy = build_policy("mlp", config, hidden=(8,), base_stock_head=True, leak=0.0).double()
    demand = torch.as_tensor(np.random.default_rng(0).poisson(5.0, (16, 30)), dtype=torch.float64)
    params = [p for p in policy.parameters()]
    loss = twin.rollout(policy, demand, warmup=5).average_cost
    grads = torch.autograd.grad(loss, params)
    directions = [torch.randn_like(p) for p in params]
    analytic = sum((g * d).sum() for g, d in zip(grads, directions, strict=True))
    eps = 1e-6  # the cost is piecewise linear; a small step stays on one piece at a generic point

    def shifted(sign: float) -> float:
        with torch.no_grad():
            for p, d in zip(params, directions, strict=True):
                p.add_(sign * eps * d)
            value = float(twin.rollout(policy, demand, warmup=5).average_cost)
            for p, d in zip(params, directions, strict=True):
                p.sub_(sign * eps * d)
        return value

    numeric = (shifted(1.0) - shifted(-1.0)) / (2 * eps)
    assert abs(float(analytic)) > 1e-3  # the check is not vacuous
    assert float(analytic) == pytest.approx(numeric, rel=1e-5, abs=1e-7)


def test_warmup_periods_are_excluded_from_the_loss():
    config = config_of(ENV_ID, lead_time=1)
    twin = twin_for(config)
    demand = torch.full((4, 10), 5.0)
    rollout = twin.rollout(lambda obs: torch.full((obs.shape[0], 1), 5.0), demand, warmup=4)
    assert torch.equal(rollout.total_cost, rollout.parts["cost"][:, 4:].sum(dim=1))


# === Literature: Zipkin (2008), Table 3 ===


def test_zipkin_2008_table_3_lead_time_1_p4_within_2_percent():
    """Lost sales, Poisson(5), h = 1, p = 4, L = 1: optimal 4.04. Learned with a base-stock head, rounded orders."""
    optimal = TABLE3["4"]["1"]["optimal"]
    agent = DirectBackprop(ENV_ID, config=DirectBackpropConfig(**FAST), lead_time=1, lost_sales_cost=4.0)
    policy = agent.fit()
    assert torch.get_num_threads() == 1
    result = invgym.evaluate(policy, ENV_ID, num_envs=64, periods=3000, warmup=100, seed=99, lead_time=1,
                             lost_sales_cost=4.0)
    assert result.path == "step"
    assert result.average_cost <= 1.02 * optimal, result
    # Better than the best base-stock policy (4.16): the learned order-up-to level depends on the state.
    assert result.average_cost < TABLE3["4"]["1"]["base_stock"]
    assert policy.info["eval/average_cost"] == pytest.approx(agent.metrics[-1]["eval/average_cost"])


# === The trained policy behaves like a baseline ===


def test_trained_policy_rounds_and_clips_for_a_discrete_env():
    config = config_of(ENV_ID, lead_time=2)
    module = build_policy("mlp", config, base_stock_head=True)
    policy = TrainedPolicy(module, config)
    obs = np.array([[0.0, 0.0], [3.0, 1.0], [100.0, 100.0]], dtype=np.float32)
    actions = policy(obs)
    assert actions.dtype == np.int64 and actions.shape == (3,)
    raw = policy.orders(obs)[:, 0]
    np.testing.assert_array_equal(actions, np.clip(np.rint(raw), 0, config.max_order))
    action, _ = policy.predict(obs[0])
    assert action == actions[0]
    continuous = TrainedPolicy(module, config_of(ENV_ID, lead_time=2, action_type="continuous"))
    assert continuous(obs).dtype == np.float64
    with pytest.raises(ValueError, match="lost_sales policy; it cannot act in a dual_sourcing env"):
        invgym.evaluate(policy, "invgym/DualSourcing-v0", num_envs=2, periods=5)
    with pytest.raises(ValueError, match="observations of length 2"):
        invgym.evaluate(policy, ENV_ID, num_envs=2, periods=5, lead_time=3)


def test_metrics_are_namespaced_and_logged(tmp_path):
    seen = []
    cfg = DirectBackpropConfig(epochs=3, batch_size=8, periods=8, warmup=2, eval_every=2, eval_envs=4,
                               eval_periods=50, eval_warmup=0, checkpoint_dir=str(tmp_path), progress_bar=True)
    DirectBackprop(ENV_ID, config=cfg, on_epoch=seen.append).fit()
    assert [m["epoch"] for m in seen] == [1, 2, 3]
    for record in seen:
        assert all(k == "epoch" or k.split("/")[0] in ("losses", "charts", "eval") for k in record)
    assert "eval/average_cost" in seen[1] and "eval/average_cost" not in seen[0]
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]


# === Checkpoints: an interrupted run resumes to exactly the uninterrupted result ===


@pytest.mark.parametrize("structure_weight", [0.0, 1.0])  # 1.0: the structure penalty's own stream resumes too
def test_interrupted_training_resumes_to_the_same_result(tmp_path, structure_weight):
    settings = dict(epochs=8, batch_size=16, periods=12, warmup=3, eval_envs=4, eval_periods=50, eval_warmup=0,
                    structure_weight=structure_weight)
    whole = DirectBackprop(ENV_ID, config=DirectBackpropConfig(**settings, checkpoint_dir=str(tmp_path / "a")),
                           lead_time=2)
    whole.fit()
    first = DirectBackprop(ENV_ID, config=DirectBackpropConfig(**settings, checkpoint_dir=str(tmp_path / "b")),
                           lead_time=2)
    first.fit(stop_after=3)
    assert first.epoch == 3
    # No temporary file is left behind by the atomic save.
    assert sorted(os.listdir(tmp_path / "b")) == ["direct_backprop.pt", "metrics.jsonl"]
    second = DirectBackprop(ENV_ID, config=DirectBackpropConfig(**settings, checkpoint_dir=str(tmp_path / "b")),
                            lead_time=2)
    second.fit()
    assert second.epoch == 8
    for (name, a), (_, b) in zip(whole.module.state_dict().items(), second.module.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert [m["losses/cost"] for m in whole.metrics] == [m["losses/cost"] for m in second.metrics]
    # Changing a setting that changes the result is refused rather than silently mixed.
    changed = DirectBackpropConfig(**{**settings, "learning_rate": 0.5}, checkpoint_dir=str(tmp_path / "b"))
    with pytest.raises(ValueError, match="learning_rate"):
        DirectBackprop(ENV_ID, config=changed, lead_time=2).fit()


# === Demand: sampled per product, or replayed from history ===


def test_demand_sampler_keeps_one_product_per_path_and_replays_windows():
    rng = np.random.default_rng(0)
    sampler = DemandSampler(ProductMixture([Poisson(1.0), Poisson(30.0)]))
    paths = sampler.sample(rng, 200, 50)
    means = paths.mean(axis=1)
    assert ((means < 3) | (means > 20)).all()  # a path never mixes the two products
    assert 0.3 < (means > 20).mean() < 0.7
    recorded = np.arange(40, dtype=float).reshape(2, 20)
    windows = DemandSampler(paths=recorded).sample(rng, 30, 5)
    for w in windows:
        assert np.all(np.diff(w) == 1) and (w[0] in recorded[:, :16])
    with pytest.raises(ValueError, match="recorded demand paths have 20 periods"):
        DemandSampler(paths=recorded).sample(rng, 1, 21)


def test_history_policy_trains_across_products():
    mixture = ProductMixture([Poisson(2.0), Poisson(8.0)])
    cfg = DirectBackpropConfig(epochs=12, batch_size=32, periods=24, warmup=16, window=16, learning_rate=1e-2,
                               eval_envs=8, eval_periods=100, eval_warmup=20)
    agent = DirectBackprop(ENV_ID, policy="history", config=cfg, lead_time=1, demand=mixture, history=16)
    policy = agent.fit()
    costs = [m["losses/cost"] for m in agent.metrics]
    assert np.mean(costs[-4:]) < np.mean(costs[:4])
    assert np.isfinite(policy.info["eval/average_cost"])


# === Bad configurations get clear errors ===


@pytest.mark.parametrize(("field", "value", "message"), [
    ("learning_rate", -1e-3, r"The 'learning_rate' parameter of DirectBackpropConfig must be a float in the range "
                             r"\(0, 10\]. Got -0.001 instead."),
    ("epochs", 0, r"'epochs' parameter of DirectBackpropConfig must be an int in the range \[1, 1e\+07\]"),
    ("batch_size", 2.5, r"'batch_size' parameter of DirectBackpropConfig must be an int"),
    ("hidden", (), r"'hidden' parameter of DirectBackpropConfig must be a non-empty sequence"),
    ("grad_clip", float("nan"), r"'grad_clip' parameter"),
])
def test_bad_config_is_refused(field, value, message):
    with pytest.raises((ValueError, TypeError), match=message):
        DirectBackprop(ENV_ID, config=DirectBackpropConfig(**{field: value}))


def test_bad_agent_arguments_are_refused(monkeypatch):
    with pytest.raises(ValueError, match=r"'policy' parameter of DirectBackprop must be one of \['mlp', 'history'\]"):
        DirectBackprop(ENV_ID, policy="transformer")
    with pytest.raises(ValueError, match="history > 0"):
        DirectBackprop(ENV_ID, policy="history")
    with pytest.raises(ValueError, match="'base_stock_head'.*single-order scenario"):
        DirectBackprop("invgym/DualSourcing-v0", policy="history")
    with pytest.raises(TypeError, match="'config' parameter of DirectBackprop"):
        DirectBackprop(ENV_ID, config={"epochs": 3})
    import dataclasses

    from invgym.scenarios import SCENARIOS

    monkeypatch.setitem(SCENARIOS, "lost_sales", dataclasses.replace(SCENARIOS["lost_sales"], twin=None))
    with pytest.raises(ValueError, match="the lost_sales scenario declares no twin"):
        DirectBackprop(ENV_ID)


def test_heuristic_shaped_heads_start_at_their_heuristic_and_train_on_dual_sourcing():
    from invgym.agents.policies import CappedBaseStockPolicy, DualIndexPolicy
    from invgym.baselines import CappedBaseStock, DualIndex
    from invgym.demand import DiscreteUniform

    rng = np.random.default_rng(0)
    lost = config_of(ENV_ID, lead_time=4, lost_sales_cost=9.0)
    obs = rng.integers(0, 12, (200, 4)).astype(np.float64)
    head = CappedBaseStockPolicy(4, 26.0, 6.0, scale=5.0)
    expected = CappedBaseStock.fit(lost, level=26, cap=6).act(obs)
    assert np.array_equal(TrainedPolicy(head, lost).act(obs), expected)
    # Gijsbrechts et al. (2022) instance l_r = 3, c_e = 110 (the head is the dual-index rule at initialisation).
    dual = config_of("invgym/DualSourcing-v0", regular_lead_time=3, expedited_lead_time=0,
                     demand=DiscreteUniform(0, 4), regular_cost=100.0, expedited_cost=110.0, holding_cost=5.0,
                     backorder_cost=495.0)
    obs = np.c_[rng.integers(-6, 10, 200), rng.integers(0, 5, (200, 2))].astype(np.float64)
    head = DualIndexPolicy(3, 0, 3.0, 8.0, scale=2.0, max_expedited=4.0)
    expected = DualIndex.fit(dual, expedited_level=3, regular_level=8).act(obs)
    assert np.array_equal(TrainedPolicy(head, dual).act(obs), expected)
    cfg = DirectBackpropConfig(epochs=5, batch_size=16, periods=8, warmup=4, base_stock_head=False,
                               eval_envs=4, eval_periods=50, eval_warmup=10)
    agent = DirectBackprop(dual, policy=head, config=cfg)
    policy = agent.fit()
    assert np.isfinite(agent.metrics[-1]["eval/average_cost"])
    assert policy.act(obs).shape == (200, 2)
    assert agent.metrics[0]["charts/grad_norm"] > 0  # the zero-initialised last layer still gets a gradient


# === Retail-v0: training paths drawn from the recorded panel ===


def test_panel_sampler_aligns_demand_promotions_and_sales_window_with_each_rows_product_and_day():
    from invgym.agents import PanelSampler

    config = config_of("invgym/Retail-v0", product="all", lead_time=2)
    twin = twin_for(config)
    panel, (start, length) = config.panel, config.window
    demand, state = PanelSampler(twin, config.products).draw(np.random.default_rng(3), 16, 40)
    rows, offset = state["product"].numpy(), int(state["t"])
    assert 0 < offset <= length - 40 and len(set(rows.tolist())) > 1
    days = start + offset + np.arange(40)
    np.testing.assert_array_equal(demand.numpy(), panel.demand[rows[:, None], days].astype(np.float32))
    obs = twin.observe(state).numpy()
    s = config.slices
    np.testing.assert_array_equal(obs[:, s["promo"]], panel.promo[rows[:, None], days[: config.lookahead + 1]])
    history = start + offset - config.history + np.arange(config.history)
    np.testing.assert_array_equal(obs[:, s["sales"]], panel.demand[rows[:, None], history])
    np.testing.assert_allclose(obs[:, s["calendar"]], np.broadcast_to(panel.calendar()[days[0]], (16, 4)), rtol=1e-6)


def test_direct_backprop_trains_on_retail_with_the_panels_features():
    config = config_of("invgym/Retail-v0", product="all", lead_time=2)
    policy = build_policy("history", config, base_stock_head=True)
    s = config.slices
    assert (policy.state_dim, policy.history_start, policy.history) == (s["inventory"].stop, s["sales"].start, 28)
    assert policy.divisor[s["promo"]].eq(1).all() and policy.divisor[s["sales"]].gt(1).all()
    cfg = DirectBackpropConfig(epochs=25, batch_size=32, periods=28, warmup=14, learning_rate=1e-2, eval_envs=8,
                               eval_periods=10, eval_warmup=0)
    agent = DirectBackprop(config, policy="history", config=cfg)
    untrained = agent.fit(stop_after=0)
    trained = agent.fit()
    before, after = (invgym.evaluate(p, config, num_envs=200, periods=120, warmup=0, seed=1) for p in (untrained,
                                                                                                          trained))
    assert after.average_cost < before.average_cost - 1.0  # profit per product-day up by more than 1
    with pytest.raises(ValueError, match="'demand_paths' parameter of DirectBackprop cannot be used with a panel"):
        DirectBackprop(config, demand_paths=np.ones((2, 50)))


def test_forecast_level_policy_starts_at_the_forecasters_orders_and_learns_a_correction():
    from invgym.agents.policies import ForecastLevelPolicy
    from invgym.baselines import PredictThenOptimize

    config = config_of("invgym/Retail-v0", product="all", lead_time=2)
    pto = PredictThenOptimize.fit(config, max_rows=2000)
    s = config.slices
    module = ForecastLevelPolicy(pto.level, int(config.observation_space().shape[0]), state_dim=s["inventory"].stop,
                                 history=config.history, history_start=s["sales"].start, hidden=(8,), scale=3.0)
    obs = np.asarray(config.bind(16).reset(seed=0).obs, dtype=np.float32).copy()
    obs[:, s["inventory"]] = np.arange(16, dtype=np.float32)[:, None]  # positions that cut some orders to 0
    untrained = TrainedPolicy(module, config)(obs)
    np.testing.assert_array_equal(untrained, pto(obs))  # the untrained policy orders as the forecaster does
    assert (untrained == 0).any() and (untrained > 0).any()
    agent = DirectBackprop(config, policy=module, config=DirectBackpropConfig(
        epochs=3, batch_size=8, periods=14, warmup=7, eval_envs=2, eval_periods=5, eval_warmup=0))
    agent.fit()
    assert agent.module.correction.body[-1].weight.abs().sum() > 0  # the correction is trained
    with pytest.raises(TypeError, match="'level' parameter of ForecastLevelPolicy must be callable"):
        ForecastLevelPolicy(None, 10, state_dim=2, history=7, history_start=3)


def test_a_diverged_policy_fails_loudly_instead_of_acting():
    class Diverged(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor(float("nan")))

        def forward(self, obs):
            return (obs[:, :1] * self.w).abs()

    config = config_of(ENV_ID, lead_time=1)
    cfg = DirectBackpropConfig(epochs=3, batch_size=4, periods=8, warmup=2, base_stock_head=False)
    with pytest.raises(FloatingPointError, match="diverged: the training cost is nan at epoch 1"):
        DirectBackprop(config, policy=Diverged(), config=cfg).fit()
    with pytest.raises(FloatingPointError, match="non-finite orders"):
        TrainedPolicy(Diverged(), config).act(np.ones((2, 1), dtype=np.float32))


# === Determinism: every random draw comes from the config's seed ===


def _weights(agent):
    return [t.clone() for t in agent.module.state_dict().values()]


def test_same_config_gives_bit_identical_weights_and_costs_whatever_ran_before():
    from invgym.agents.policies import DualIndexPolicy
    from invgym.demand import DiscreteUniform

    cfg = dict(epochs=4, batch_size=8, periods=10, warmup=3, eval_envs=4, eval_periods=40, eval_warmup=0)
    dual = config_of("invgym/DualSourcing-v0", regular_lead_time=2, expedited_lead_time=0,
                     demand=DiscreteUniform(0, 4), expedited_cost=105.0, holding_cost=5.0, backorder_cost=495.0)

    def train_a():
        agent = DirectBackprop(ENV_ID, config=DirectBackpropConfig(**cfg, seed=7, structure_weight=1.0), lead_time=2)
        agent.fit()
        return agent

    def train_dual():
        head = DualIndexPolicy(2, 0, 4.0, 8.0, scale=2.0, seed=5)
        agent = DirectBackprop(dual, policy=head, config=DirectBackpropConfig(**cfg, base_stock_head=False, seed=5))
        agent.fit()
        return agent

    first, first_dual = train_a(), train_dual()
    # Another agent with another seed, and a deliberate use of both global RNGs, in between.
    DirectBackprop(ENV_ID, config=DirectBackpropConfig(**cfg, seed=8), lead_time=3).fit()
    torch.manual_seed(12345)
    torch.rand(1000)
    np.random.seed(1)
    state = torch.get_rng_state()
    again_dual, again = train_dual(), train_a()
    assert torch.equal(state, torch.get_rng_state())  # training never reads or moves torch's global RNG
    for a, b in ((first, again), (first_dual, again_dual)):
        assert all(torch.equal(x, y) for x, y in zip(_weights(a), _weights(b), strict=True))
        assert [m["losses/cost"] for m in a.metrics] == [m["losses/cost"] for m in b.metrics]
        assert a.metrics[-1]["eval/average_cost"] == b.metrics[-1]["eval/average_cost"]
    # A different seed is a different run (the test above can fail), and the passed module is left untouched.
    other = DirectBackprop(ENV_ID, config=DirectBackpropConfig(**cfg, seed=8, structure_weight=1.0), lead_time=2)
    other.fit()
    assert not all(torch.equal(x, y) for x, y in zip(_weights(first), _weights(other), strict=True))
    head = DualIndexPolicy(2, 0, 4.0, 8.0, scale=2.0, seed=5)
    before = [t.clone() for t in head.state_dict().values()]
    agent = DirectBackprop(dual, policy=head, config=DirectBackpropConfig(**cfg, base_stock_head=False, seed=5))
    agent.fit()
    assert all(torch.equal(x, y) for x, y in zip(before, head.state_dict().values(), strict=True))
    agent.fit()  # fitting the same agent again starts from the same initial weights
    assert all(torch.equal(x, y) for x, y in zip(_weights(first_dual), _weights(agent), strict=True))


def test_the_structure_penalty_leaves_the_demand_paths_of_its_seed_unchanged():
    """A penalised run sees exactly the demand paths of the unpenalised run with the same seed (own state stream)."""
    cfg = dict(epochs=5, batch_size=8, periods=10, warmup=3, eval_envs=2, eval_periods=10, eval_warmup=0, seed=3)
    paths = {}
    for weight in (0.0, 1.0):
        agent = DirectBackprop(ENV_ID, config=DirectBackpropConfig(**cfg, structure_weight=weight), lead_time=2)
        draw, seen = agent.sampler.draw, []

        def record(rng, batch, periods, draw=draw, seen=seen):
            demand, state = draw(rng, batch, periods)
            seen.append(demand.clone())
            return demand, state

        agent.sampler.draw = record
        agent.fit()
        paths[weight] = seen
        assert any(m["losses/structure"] != 0.0 for m in agent.metrics) == (weight > 0)
    assert len(paths[0.0]) == len(paths[1.0]) == 5
    assert all(torch.equal(a, b) for a, b in zip(paths[0.0], paths[1.0], strict=True))


def test_policies_draw_their_weights_from_their_seed_argument():
    from invgym.agents.policies import CappedBaseStockPolicy, draw_weights

    config = config_of(ENV_ID, lead_time=2, history=8)
    a = build_policy("history", config, seed=3)
    torch.rand(10)
    b = build_policy("history", config, seed=3)
    c = build_policy("history", config, seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert not torch.equal(a.body[0].weight, c.body[0].weight)
    # Same draws as seeding torch's global RNG and building the layers in that order (torch's own defaults).
    torch.manual_seed(11)
    reference = torch.nn.Linear(4, 3)
    assert torch.equal(draw_weights(torch.nn.Linear(4, 3), 11).weight, reference.weight)
    capped = CappedBaseStockPolicy(2, 20.0, 6.0, seed=1)
    assert torch.equal(capped.body[0].weight, CappedBaseStockPolicy(2, 20.0, 6.0, seed=1).body[0].weight)
    with pytest.raises(ValueError, match=r"The 'seed' parameter of draw_weights must be an int"):
        draw_weights(torch.nn.Linear(2, 2), -1)


# === Signed actions: order/remove on procurement-removal ===

REMOVAL_ID = "invgym/ProcurementRemoval-v0"


def test_signed_interval_head_orders_below_a_removes_above_b_and_idles_between():
    config = config_of(REMOVAL_ID, lead_time=1, demand=Poisson(4.0))
    policy = build_policy("mlp", config, base_stock_head=True)
    assert policy.signed and policy.body[-1].out_features == 2
    with torch.no_grad():
        policy.body[-1].weight.zero_()  # constant levels: a = initial level, b = a + initial gap
    a = float(policy.body[-1].bias[0].detach() * policy.scale)
    b = a + float(torch.nn.functional.softplus(policy.body[-1].bias[1].detach()) * policy.scale)
    position = torch.tensor([[0.0], [a - 1.0], [(a + b) / 2], [b + 3.0], [b + 20.0]])
    u = policy(position)[:, 0]
    torch.testing.assert_close(u, torch.tensor([a, 1.0, 0.0, -3.0, -20.0]))
    # Rounded and clipped to the signed action space by the trained policy.
    clipped = TrainedPolicy(policy, config).act(np.array([[b + 1000.0]], dtype=np.float32))
    assert clipped.tolist() == [-int(config.max_removal)]


def test_demand_sampler_draws_each_period_from_its_schedule_phase():
    sampler = DemandSampler(schedule=[Poisson(1.0), Poisson(30.0), Poisson(1.0)])
    paths = sampler.sample(np.random.default_rng(0), 400, 9)
    means = paths.mean(axis=0)
    assert (means[1::3] > 25).all() and (means[0::3] < 2).all() and (means[2::3] < 2).all()


@pytest.mark.parametrize("removal_pays", [True, False])
def test_direct_backprop_learns_to_remove_only_when_removal_pays(removal_pays):
    # Ten periods of Poisson(2) from 30 units on hand. Where holding is dear and salvage close to the purchase
    # cost, removing the excess at once pays; where removing costs more than holding the unit to the end, it
    # does not. The untrained head removes in both (its b starts one mean demand above a), so only training
    # tells them apart.
    costs = dict(holding_cost=2.0, salvage_value=2.5, removal_cost=0.0) if removal_pays else dict(
        holding_cost=0.1, salvage_value=0.0, removal_cost=2.0)
    env = dict(lead_time=0, demand=Poisson(2.0), initial_state=[30], horizon=10, purchase_cost=3.0,
               max_removal=30, **costs)
    cfg = DirectBackpropConfig(epochs=40, batch_size=32, periods=10, warmup=0, learning_rate=1e-2, eval_envs=4,
                               eval_periods=10, eval_warmup=0)
    agent = DirectBackprop(REMOVAL_ID, config=cfg, **env)
    untrained, trained = agent.fit(stop_after=0), agent.fit()
    settings = dict(num_envs=200, periods=10, warmup=0, seed=3)
    before, after = (invgym.evaluate(p, REMOVAL_ID, **settings, **env) for p in (untrained, trained))
    assert after.average_cost < before.average_cost
    first = int(trained.act(np.array([[30.0]], dtype=np.float32))[0])
    if removal_pays:
        assert first <= -15 and after.metrics["average_removed"] > 1.0
        keep = dict(env, max_removal=0)  # the same costs with removal switched off cost more
        never = DirectBackprop(REMOVAL_ID, config=cfg, **keep).fit()
        assert after.average_cost < invgym.evaluate(never, REMOVAL_ID, **settings, **keep).average_cost
    else:
        assert first == 0 and after.metrics["average_removed"] < 0.05


def test_default_head_on_dual_sourcing_is_the_dual_index_rule_at_quantile_levels():
    from invgym.agents.policies import DualIndexPolicy, dual_index_levels
    from invgym.baselines import DualIndex
    from invgym.demand import DiscreteUniform

    dual = config_of("invgym/DualSourcing-v0", regular_lead_time=3, expedited_lead_time=0,
                     demand=DiscreteUniform(0, 4), expedited_cost=110.0, holding_cost=5.0, backorder_cost=495.0)
    s_e, s_r = dual_index_levels(dual)
    assert (s_e, s_r) == (4.0, 10.0)  # the 0.99 quantile of U{0..4}, plus the mean over l_r - l_e = 3 periods
    agent = DirectBackprop(dual, config=DirectBackpropConfig(epochs=2, batch_size=4, periods=6, warmup=2,
                                                             eval_envs=2, eval_periods=10, eval_warmup=0))
    untrained = agent.fit(stop_after=0)
    assert isinstance(agent.module, DualIndexPolicy)
    obs = np.c_[np.arange(-6, 10), np.arange(16) % 5, np.arange(16) % 3].astype(np.float64)
    expected = DualIndex(dual, expedited_level=s_e, regular_level=s_r).act(obs)
    assert np.array_equal(untrained.act(obs), expected)


def test_the_history_encoder_adds_the_windows_order_statistics_when_asked():
    from invgym.agents.policies import HistoryEncoder

    sales = torch.tensor([[5.0, 1.0, 3.0, 2.0, 4.0], [0.0, 0.0, 6.0, 0.0, 1.0]])
    plain, stats = HistoryEncoder(5, seed=2), HistoryEncoder(5, seed=2, quantiles=3)
    assert all(torch.equal(x, y) for x, y in zip(plain.state_dict().values(),
                                                 [v for k, v in stats.state_dict().items() if k != "ranks"],
                                                 strict=True))  # the statistics add no weights
    out = stats(sales)
    assert out.shape == (2, plain.embedding + 3 + 2) == (2, stats.embedding)
    torch.testing.assert_close(out[:, : plain.embedding], plain(sales))
    torch.testing.assert_close(out[:, plain.embedding :], torch.tensor(  # ranks 0, 2, 4: min, median, max
        [[1.0, 3.0, 5.0, 3.0, float(np.std([5, 1, 3, 2, 4], ddof=1))],
         [0.0, 0.0, 6.0, 1.4, float(np.std([0, 0, 6, 0, 1], ddof=1))]]))
    with pytest.raises(ValueError, match=r"The 'quantiles' parameter of HistoryEncoder must be an int in the range "
                                         r"\[0, 5\]"):
        HistoryEncoder(5, quantiles=6)
    config = config_of(ENV_ID, lead_time=0, history=8)
    policy = build_policy("history", config, window=8, quantiles=4)
    assert policy.encoder.quantiles == 4 and policy(torch.ones(3, 9)).shape == (3, 1)
    with pytest.raises(ValueError, match=r"The 'history_quantiles' parameter of DirectBackpropConfig must be an int "
                                         r"in the range \[0, 32\]"):
        DirectBackpropConfig(history_quantiles=33).validate()
    cfg = DirectBackpropConfig(epochs=3, batch_size=8, periods=4, warmup=8, window=8, history_quantiles=4,
                               eval_envs=2, eval_periods=5, eval_warmup=8)
    trained = DirectBackprop(ENV_ID, policy="history", config=cfg, lead_time=0, history=8).fit()
    assert trained.module.encoder.quantiles == 4 and np.isfinite(trained.info["eval/average_cost"])


def test_the_dual_index_head_with_a_cap_starts_at_the_capped_dual_index_and_gain_scales_its_corrections():
    from invgym.agents.policies import DualIndexPolicy
    from invgym.baselines import CappedDualIndex
    from invgym.demand import DiscreteUniform

    dual = config_of("invgym/DualSourcing-v0", regular_lead_time=4, expedited_lead_time=0,
                     demand=DiscreteUniform(0, 4), expedited_cost=105.0, holding_cost=5.0, backorder_cost=495.0)
    rng = np.random.default_rng(1)
    obs = np.c_[rng.integers(-6, 10, 300), rng.integers(0, 5, (300, 3))].astype(np.float64)
    head = DualIndexPolicy(4, 0, 4.0, 11.0, scale=2.0, max_expedited=float(dual.max_order[1]), cap=1.0)
    expected = CappedDualIndex.fit(dual, expedited_level=4, regular_level=11, cap=1).act(obs)
    assert np.array_equal(TrainedPolicy(head, dual).act(obs), expected)
    plain, fast = (DualIndexPolicy(4, 0, 4.0, 11.0, scale=2.0, seed=3, gain=g) for g in (1.0, 4.0))
    assert set(plain.state_dict()) == set(fast.state_dict())  # the gain is no weight
    with torch.no_grad():
        for module in (plain, fast):
            module.body[-1].bias.fill_(0.5)
    x = torch.as_tensor(obs[:5], dtype=torch.float32)
    torch.testing.assert_close(fast.level(x) - fast.levels, 4.0 * (plain.level(x) - plain.levels))
    with pytest.raises(ValueError, match=r"The 'gain' parameter of DualIndexPolicy must be a float in the range"):
        DualIndexPolicy(4, 0, 4.0, 11.0, gain=0.0)
