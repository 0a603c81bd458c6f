"""ORPR (agents/orpr.py, pretrain.py, reinforce.py): OR labels, behaviour cloning, KL-regularised PPO."""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from stable_baselines3 import PPO  # noqa: E402

import invgym  # noqa: E402
from invgym.agents.orpr import ORLabeler, ORLabelerConfig, load_dataset  # noqa: E402
from invgym.agents.pretrain import PretrainConfig, Pretrainer  # noqa: E402
from invgym.agents.reinforce import KLRegularizedPPO  # noqa: E402
from invgym.sb3 import make_sb3_vec_env  # noqa: E402

pytestmark = pytest.mark.slow  # training or leaderboard runs: deselect with -m 'not slow'

ENV_ID = "invgym/LostSales-v0"
KW = dict(lead_time=2)
PPO_SETTINGS = dict(n_steps=32, batch_size=64, n_epochs=2, seed=0)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    path = tmp_path_factory.mktemp("orpr") / "labels.npz"
    # Uniform moves (the labeler's old default): many states far above the base-stock level, where the order is 0,
    # so the clone's accuracy is 0.98; on states near the teacher's path (explore 0 or LocalExplore) it is 0.93-0.94,
    # with the clone's cost within 0.3 % of the teacher's either way.
    labeler = ORLabeler(ENV_ID, config=ORLabelerConfig(label_envs=64, label_periods=120, explore=0.1), **KW)
    data = labeler.label(path)
    return labeler, data, path


@pytest.fixture(scope="module")
def pretrained(labelled):
    _, data, _ = labelled
    trainer = Pretrainer(ENV_ID, data, PretrainConfig(epochs=12), **KW)
    return trainer, trainer.fit()


# === Step 1: the simulation-augmented OR teacher and its labels ===


def test_labeler_picks_the_smallest_level_meeting_the_service_target(labelled):
    labeler, data, path = labelled
    target = labeler.config.service_target
    chosen = labeler.teacher.params["level"]
    assert labeler.grid[-1]["level"] == chosen and labeler.grid[-1]["fill_rate"] >= target
    assert all(g["fill_rate"] < target for g in labeler.grid[:-1])
    # Fill rate rises with the level (common random numbers make the grid monotone here).
    assert np.all(np.diff([g["fill_rate"] for g in labeler.grid]) >= 0)
    # Every label is the teacher's order at that state, even where exploration moved the env.
    np.testing.assert_array_equal(data["actions"], labeler.teacher(data["obs"]))
    assert len(data["obs"]) == 64 * 120
    saved, meta = load_dataset(path)
    np.testing.assert_array_equal(saved["obs"], data["obs"])
    assert meta["family"] == "lost_sales" and "BaseStock" in meta["teacher"]
    assert not [p for p in path.parent.iterdir() if ".tmp" in p.name]  # atomic write left nothing behind


def test_any_or_baseline_can_be_the_teacher_but_not_one_of_another_family():
    base_stock = pytest.importorskip("invgym.baselines.base_stock")
    teacher = base_stock.BaseStock.fit(ENV_ID, level=15, **KW)
    labeler = ORLabeler(ENV_ID, teacher=teacher, config=ORLabelerConfig(label_envs=4, label_periods=5), **KW)
    assert labeler.fit_teacher() is teacher
    assert labeler.label()["actions"].shape == (20,)
    with pytest.raises(ValueError, match="is a lost_sales policy; it cannot act in a dual_sourcing env"):
        ORLabeler("invgym/DualSourcing-v0", teacher=teacher)
    with pytest.raises(ValueError, match="no built-in teacher for the dual_sourcing scenario"):
        ORLabeler("invgym/DualSourcing-v0")


# === Step 2: behaviour cloning ===


def test_behaviour_cloning_of_a_base_stock_teacher_reaches_95_percent_accuracy(pretrained, labelled):
    trainer, policy = pretrained
    assert trainer.metrics[-1]["eval/accuracy"] >= 0.95
    assert trainer.num_parameters() < 100_000  # lightweight: far below 1M
    # The clone is an SB3 policy: invgym.evaluate runs it through predict(), close to its teacher.
    labeler = labelled[0]
    clone = invgym.evaluate(policy, ENV_ID, num_envs=16, periods=500, warmup=50, **KW)
    teacher = invgym.evaluate(labeler.teacher, ENV_ID, num_envs=16, periods=500, warmup=50, **KW)
    assert clone.average_cost == pytest.approx(teacher.average_cost, rel=0.03)


# === Step 3: KL-regularised PPO ===


def _env():
    return make_sb3_vec_env(ENV_ID, n_envs=8, seed=0, **KW)


def test_kl_regularized_ppo_with_zero_coefficient_is_ppo():
    plain = PPO("MlpPolicy", _env(), ent_coef=0.01, **PPO_SETTINGS).learn(512)
    ours = KLRegularizedPPO("MlpPolicy", _env(), kl_coef=0.0, ent_coef=0.01, **PPO_SETTINGS).learn(512)
    a, b = plain.policy.state_dict(), ours.policy.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_kl_is_zero_at_the_start_and_the_leash_holds(pretrained, labelled):
    _, reference = pretrained
    obs = labelled[1]["obs"][:512]
    leashed = KLRegularizedPPO("MlpPolicy", _env(), reference=reference, kl_coef=5.0, learning_rate=3e-3,
                               **PPO_SETTINGS)
    free = KLRegularizedPPO("MlpPolicy", _env(), reference=reference, kl_coef=0.0, learning_rate=3e-3,
                            **PPO_SETTINGS)
    assert leashed.kl_to_reference(obs) == 0.0 and free.kl_to_reference(obs) == 0.0
    leashed.learn(768)
    free.learn(768)
    assert leashed._kl_log and all(v >= 0 for v in leashed._kl_log)  # the term PPO's loss saw in the last update
    assert 0.0 < leashed.kl_to_reference(obs) < free.kl_to_reference(obs)
    # The reference stays frozen.
    for name, p in reference.state_dict().items():
        assert torch.equal(p, leashed.reference.state_dict()[name])


def test_the_ppo_expert_term_pulls_labelled_states_towards_the_expert_action():
    def expert(o):  # a "promotion" label on states whose newest pipeline order is small: order 3 there
        return np.where(o[:, 1] <= 8, 3.0, np.nan)

    def p_expert(model, obs):
        with torch.no_grad():
            return model.policy.get_distribution(torch.as_tensor(obs)).distribution.probs[:, 3].numpy()

    plain = KLRegularizedPPO("MlpPolicy", _env(), kl_coef=0.0, learning_rate=3e-3, **PPO_SETTINGS)
    guided = KLRegularizedPPO("MlpPolicy", _env(), kl_coef=0.0, expert=expert, expert_coef=1.0, learning_rate=3e-3,
                              **PPO_SETTINGS)
    plain.learn(768)
    guided.learn(768)
    assert guided._expert_log and all(v > 0 for v in guided._expert_log)  # labelled states were in every update
    obs = guided.rollout_buffer.observations.reshape(-1, 2)
    labelled = ~np.isnan(expert(obs))
    assert 0 < labelled.sum() < len(obs)
    assert p_expert(guided, obs)[labelled].mean() > 2 * p_expert(plain, obs)[labelled].mean()
    with pytest.raises(TypeError, match="'expert' parameter of KLRegularizedPPO must be a callable"):
        KLRegularizedPPO("MlpPolicy", _env(), kl_coef=0.0, expert=3)
    with pytest.raises(ValueError, match=r"'expert_coef' parameter of KLRegularizedPPO must be a float in the range"):
        KLRegularizedPPO("MlpPolicy", _env(), kl_coef=0.0, expert=expert, expert_coef=-1.0)


# === Bad input ===


def test_bad_orpr_settings_are_refused(pretrained):
    _, reference = pretrained
    with pytest.raises(ValueError, match=r"'service_target' parameter of ORLabelerConfig must be a float in the "
                                         r"range \[0, 1\]"):
        ORLabeler(ENV_ID, config=ORLabelerConfig(service_target=1.5))
    with pytest.raises(ValueError, match="no order-up-to level in the grid reaches the fill_rate"):
        ORLabeler(ENV_ID, config=ORLabelerConfig(levels=(0, 1, 2), search_envs=4, search_periods=50)).fit_teacher()
    with pytest.raises(ValueError, match=r"'kl_coef' parameter of KLRegularizedPPO must be a float in the range"):
        KLRegularizedPPO("MlpPolicy", _env(), kl_coef=-1.0)
    with pytest.raises(ValueError, match="no reference policy was given"):
        KLRegularizedPPO("MlpPolicy", _env(), kl_coef=0.1)
    with pytest.raises(TypeError, match="'reference' parameter of KLRegularizedPPO must be an SB3 ActorCriticPolicy"):
        KLRegularizedPPO("MlpPolicy", _env(), reference="pretrained.zip")
    with pytest.raises(ValueError, match=r"obs of shape \(n, 3\)"):
        Pretrainer(ENV_ID, {"obs": np.zeros((5, 2)), "actions": np.zeros(5)}, lead_time=3)
    with pytest.raises(ValueError, match=r"'epochs' parameter of PretrainConfig"):
        Pretrainer(ENV_ID, {"obs": np.zeros((5, 2)), "actions": np.zeros(5)}, PretrainConfig(epochs=0), **KW)


# === The JD replenishment scenario: days-of-cover teacher, clone, KL-PPO end to end ===


def test_orpr_runs_end_to_end_on_replenishment():
    import gymnasium as gym

    if "invgym/Replenishment-v0" not in gym.registry:
        pytest.skip("invgym/Replenishment-v0 is not registered")
    env_id = "invgym/Replenishment-v0"
    labeler = ORLabeler(env_id, config=ORLabelerConfig(levels=tuple(range(0, 61, 6)), search_envs=16,
                                                       search_periods=200, search_warmup=30, label_envs=32,
                                                       label_periods=70))
    data = labeler.label()
    assert labeler.teacher.params["days"] == labeler.grid[-1]["level"]
    assert labeler.grid[-1]["service_level"] >= 0.95 > labeler.grid[-2]["service_level"]
    review = data["obs"][:, labeler.env_config.slices["review"].start]
    assert len(data["obs"]) > 0 and np.all(review == 1.0)  # only review days carry a meaningful order
    trainer = Pretrainer(env_id, data, PretrainConfig(epochs=2))
    reference = trainer.fit()
    model = KLRegularizedPPO("MlpPolicy", make_sb3_vec_env(env_id, n_envs=4, seed=0), reference=reference,
                             kl_coef=0.1, n_steps=16, batch_size=32, n_epochs=1, seed=0)
    assert model.kl_to_reference(data["obs"][:64]) == 0.0
    model.learn(64)
    assert model.kl_to_reference(data["obs"][:64]) > 0.0


# === ORPR on replenishment in the days-of-cover action space: clone, expert term, resumable pipeline ===

REPLENISHMENT = "invgym/Replenishment-v0"
SMALL_LABELS = dict(levels=tuple(range(0, 61, 4)), search_envs=32, search_periods=300, search_warmup=0,
                    label_envs=64, label_periods=140)


@pytest.fixture(scope="module")
def cover_labels():
    from invgym.agents.orpr import ORLabeler, ORLabelerConfig

    labeler = ORLabeler(REPLENISHMENT, config=ORLabelerConfig(**SMALL_LABELS))
    return labeler, labeler.label()


def test_cover_clone_reproduces_the_days_of_cover_teacher(cover_labels):
    from invgym.agents.orpr import replenishment_report
    from invgym.agents.pretrain import CoverCloneConfig, clone_cover_policy

    labeler, data = cover_labels
    policy, metrics = clone_cover_policy(labeler.env_config, data, CoverCloneConfig(epochs=4))
    assert metrics[-1]["eval/accuracy"] >= 0.99  # the teacher's exact order, over ~1,600 possible sizes
    held_out = dict(product="all", split="test")
    clone = replenishment_report(policy, REPLENISHMENT, num_envs=200, **held_out)
    teacher = replenishment_report(labeler.teacher, REPLENISHMENT, num_envs=200, **held_out)
    assert clone["cost"] == pytest.approx(teacher["cost"], rel=0.02)
    assert abs(clone["in_stock_rate"] - teacher["in_stock_rate"]) <= 0.005


def test_the_expert_term_pulls_promotion_states_towards_the_expert_label(cover_labels):
    import copy

    from invgym.agents.pretrain import CoverCloneConfig, clone_cover_policy
    from invgym.agents.reinforce import RLOO, RLOOConfig, promotion_expert

    labeler, data = cover_labels
    slices = labeler.env_config.slices
    days = labeler.teacher.params["days"]
    expert = promotion_expert(days, uplift=2.0)
    label = expert(data["obs"], slices)
    announced = data["obs"][:, slices["promo"]].sum(axis=1)
    promo = announced > 0
    assert promo.any() and np.isnan(label[~promo]).all()
    np.testing.assert_array_equal(label[promo], np.minimum(days + announced[promo], 60))  # uplift 2: +1 day each
    reference, _ = clone_cover_policy(labeler.env_config, data, CoverCloneConfig(epochs=2))
    obs = torch.as_tensor(data["obs"][promo])
    gaps = {}
    for coef in (0.0, 1.0):
        policy = copy.deepcopy(reference)
        rl = RLOO(labeler.env_config, policy, reference, labeler.teacher, expert,
                  RLOOConfig(skus=8, samples=2, days=28, warmup=7, kl_coef=0.0, expert_coef=coef))
        for _ in range(4):
            rl.update()
        with torch.no_grad():
            gaps[coef] = float(np.abs(policy.mean_scale(obs)[0][:, 0].numpy() - label[promo]).mean())
    assert gaps[1.0] < gaps[0.0]


def test_orpr_fits_end_to_end_and_resumes_from_its_checkpoints(tmp_path):
    from invgym.agents.orpr import ORPR, ORLabelerConfig, ORPRConfig
    from invgym.agents.pretrain import CoverCloneConfig
    from invgym.agents.reinforce import RLOOConfig

    def config(iterations, folder=tmp_path / "resumed"):
        return ORPRConfig(labeler=ORLabelerConfig(**{**SMALL_LABELS, "label_envs": 16, "label_periods": 70}),
                          clone=CoverCloneConfig(epochs=2),
                          rl=RLOOConfig(iterations=iterations, skus=4, samples=2, days=14, warmup=7,
                                        checkpoint_every=1),
                          calibration_shifts=(0.0,), checkpoint_dir=str(folder))

    few = dict(product=list(range(20)))  # 20 SKUs keep the calibration pass short
    first = ORPR(REPLENISHMENT, config(2), **few)
    policy = first.fit()
    saved = {p.name for p in (tmp_path / "resumed").iterdir()}
    assert saved == {"labels.pt", "pretrained.pt", "rloo.pt", "calibration.pt"}
    assert first.rloo.iteration == 2 and policy.predict(np.zeros((3, 49), np.float32))[0].shape == (3,)
    resumed = ORPR(REPLENISHMENT, config(3), **few)
    resumed.fit()
    assert resumed.rloo.iteration == 3 and len(resumed.rloo.metrics) == 3  # two loaded, one new update
    assert resumed.rloo.metrics[:2] == first.rloo.metrics
    assert resumed.calibration["iteration"] == 3  # recalibrated for the new policy
    # Stopping after 2 updates and resuming gives exactly the run that never stopped.
    straight = ORPR(REPLENISHMENT, config(3, tmp_path / "straight"), **few)
    straight.fit()
    assert straight.rloo.metrics == resumed.rloo.metrics
    for key, value in straight.policy.state_dict().items():
        assert torch.equal(value, resumed.policy.state_dict()[key]), key
    with pytest.raises(ValueError, match="needs a replenishment env"):
        ORPR(ENV_ID, **KW)


def test_orpr_refuses_the_promotion_expert_on_a_panel_without_promotions():
    from invgym.agents.orpr import ORPR, ORPRConfig
    from invgym.panels import synthetic_panel

    panel = synthetic_panel(num_products=10, promo_rate=0.0, seed=3)
    with pytest.raises(ValueError, match=r"'expert_uplift' parameter of ORPRConfig is 2.25 .* no promotion day"):
        ORPR(REPLENISHMENT, panel=panel)
    assert ORPR(REPLENISHMENT, ORPRConfig(expert_uplift=0.0), panel=panel).teacher is None  # accepted without it
    ORPR(REPLENISHMENT, panel=synthetic_panel(num_products=10, promo_rate=0.05, seed=3))  # promotions: accepted


def test_orpr_without_pretraining_starts_rl_from_an_untrained_policy(tmp_path):
    # The "no pretraining" ablation: no clone, so RL starts from CoverPolicy's flat 14 days and may not be leashed.
    from invgym.agents.orpr import ORPR, ORLabelerConfig, ORPRConfig
    from invgym.agents.pretrain import CoverCloneConfig
    from invgym.agents.reinforce import RLOOConfig

    labels = ORLabelerConfig(**{**SMALL_LABELS, "label_envs": 16, "label_periods": 70})
    rl = RLOOConfig(iterations=1, skus=4, samples=2, days=14, warmup=7, kl_coef=0.0)
    with pytest.raises(ValueError, match="'kl_coef' parameter of RLOOConfig must be 0"):
        ORPRConfig(pretrain=False, rl=RLOOConfig(kl_coef=0.02)).validate()
    with pytest.raises(ValueError, match="'rl' parameter of ORPRConfig"):
        ORPRConfig(pretrain=False).validate()
    with pytest.raises(TypeError, match="'pretrain' parameter of ORPRConfig must be a bool"):
        ORPRConfig(pretrain="no").validate()
    runs = []
    for _ in range(2):
        agent = ORPR(REPLENISHMENT, ORPRConfig(labeler=labels, clone=CoverCloneConfig(epochs=2), rl=rl,
                                               pretrain=False, calibration_shifts=(0.0,)), product=list(range(20)))
        agent.fit()
        runs.append(agent)
    obs = torch.zeros((5, 49))
    with torch.no_grad():
        mean, _ = runs[0].pretrained.mean_scale(obs)
    assert runs[0].clone_metrics == [] and torch.allclose(mean, torch.full_like(mean, 14.0), atol=0.5)
    for key, value in runs[0].policy.state_dict().items():  # same config, same untrained start, same RL
        assert torch.equal(value, runs[1].policy.state_dict()[key]), key


def test_orpr_holds_its_in_stock_rate_above_a_reference_policy(tmp_path):
    # The paper's field objective: RL's in-stock constraint and the calibration aim at the incumbent's rate plus a
    # margin, not at the OR teacher's; a changed margin recalibrates a resumed fit.
    from invgym.agents.orpr import ORPR, DaysOfCover, ORLabelerConfig, ORPRConfig, replenishment_report
    from invgym.agents.pretrain import CoverCloneConfig
    from invgym.agents.reinforce import RLOOConfig
    from invgym.envs.common import config_of

    few = dict(product=list(range(20)))
    train = config_of(REPLENISHMENT, **few)
    incumbent = DaysOfCover(train, 10)

    def config(margin):
        return ORPRConfig(labeler=ORLabelerConfig(**{**SMALL_LABELS, "label_envs": 16, "label_periods": 70}),
                          clone=CoverCloneConfig(epochs=2),
                          rl=RLOOConfig(iterations=2, skus=4, samples=2, days=14, warmup=7, turnover_weight=0.1,
                                        in_stock_margin=margin),
                          calibration_shifts=(-2.0, 0.0, 2.0), in_stock_reference=incumbent,
                          calibration_margin=margin, checkpoint_dir=str(tmp_path))

    agent = ORPR(REPLENISHMENT, config(0.01), **few)
    agent.fit()
    assert agent.rloo.teacher is incumbent and agent.teacher.params["days"] != 10  # labels stay the OR teacher's
    base = replenishment_report(incumbent, train.replace(product=tuple(train.products)), 20)["in_stock_rate"]
    assert agent.calibration["target"] == pytest.approx(base + 0.01)
    again = ORPR(REPLENISHMENT, config(0.03), **few)
    again.fit()
    assert again.calibration["target"] == pytest.approx(base + 0.03)  # not the checkpoint's old target
    with pytest.raises(TypeError, match="'in_stock_reference' parameter of ORPRConfig must be None or a policy"):
        ORPRConfig(in_stock_reference="incumbent").validate()
    with pytest.raises(ValueError, match="'calibration_margin' parameter of ORPRConfig"):
        ORPRConfig(calibration_margin=2.0).validate()
    with pytest.raises(ValueError, match="'turnover_weight' parameter of RLOOConfig"):
        RLOOConfig(turnover_weight=-1.0).validate()


def test_the_turnover_weight_charges_stock_in_days_of_its_skus_sales(cover_labels):
    import copy

    from invgym.agents.pretrain import CoverCloneConfig, clone_cover_policy
    from invgym.agents.reinforce import RLOO, RLOOConfig

    labeler, data = cover_labels
    reference, _ = clone_cover_policy(labeler.env_config, data, CoverCloneConfig(epochs=1))
    returns = {}
    for weight in (0.0, 0.5, 1.0):
        rl = RLOO(labeler.env_config, copy.deepcopy(reference), reference, labeler.teacher, None,
                  RLOOConfig(skus=8, samples=2, days=28, warmup=7, turnover_weight=weight))
        returns[weight] = rl._rollout()["returns"]  # same seed: same SKUs, days and sampled actions
    extra = returns[0.0] - returns[0.5]
    assert (extra > 0).all()  # every sampled rollout holds stock at some point
    np.testing.assert_allclose(returns[0.0] - returns[1.0], 2 * extra, rtol=1e-9)  # linear in the weight


def test_labeler_matches_exhaustive_enumeration_of_exact_fill_rates():
    # Exhaustive check on a tiny instance: the exact fill rate of every order-up-to level from its Markov chain
    # (built with the plain-Python reference; lost-sales cost 1 and no holding cost make the chain's average
    # cost the expected lost units per period), then the smallest level meeting a target placed midway between
    # two levels' exact fill rates. The labeler's simulation search must pick exactly that level.
    from invgym.demand import DiscreteUniform
    from invgym.envs.lost_sales import LostSalesConfig
    from tests import scenario_checks as sc
    from tests.reference import lost_sales as ref

    kw = dict(lead_time=1, demand=DiscreteUniform(0, 3), max_order=12)
    chain = LostSalesConfig.validate("test", holding_cost=0.0, lost_sales_cost=1.0, **kw)
    mean_demand = chain.demand.mean
    fill = []
    for level in range(13):
        lost = sc.markov_chain_cost(chain, ref, lambda s, level=level: [max(0.0, level - sum(s[0]))])
        fill.append(1.0 - lost / mean_demand)
    assert np.all(np.diff(fill) >= -1e-12)
    expected = next(s for s in range(1, 13) if fill[s] - fill[s - 1] > 0.02 and fill[s] > 0.8)
    target = 0.5 * (fill[expected - 1] + fill[expected])
    labeler = ORLabeler(ENV_ID, config=ORLabelerConfig(service_target=target, label_envs=4, label_periods=10), **kw)
    teacher = labeler.fit_teacher()
    assert teacher.params["level"] == expected, (fill, target)


# === The SB3 reinforce stage learns: tempered start, critic warm-up, selection; save/load; determinism ===


def _small_fine_tune(timesteps, seed=0, **overrides):
    # The labels' uniform moves (explore=0.1, the labeler's default when these tests were written): with the
    # LocalExplore default the L=4, p=39 clone starts nearer its teacher and 40k steps no longer lower it.
    from invgym.agents.orpr import FineTuneConfig

    settings = dict(timesteps=timesteps, n_envs=16, n_steps=128, batch_size=512, select_every=2, select_envs=16,
                    select_periods=1000, labeler=ORLabelerConfig(label_envs=32, label_periods=100, explore=0.1),
                    pretrain=PretrainConfig(epochs=12), seed=seed)
    return FineTuneConfig(**{**settings, **overrides})


def test_tempering_keeps_the_clones_actions_and_softens_its_distribution(pretrained, labelled):
    from invgym.agents.reinforce import temper

    _, reference = pretrained
    obs = torch.as_tensor(labelled[1]["obs"][:500])
    model = KLRegularizedPPO("MlpPolicy", _env(), reference=reference, temperature=3.0, **PPO_SETTINGS)
    np.testing.assert_array_equal(model.predict(obs.numpy(), deterministic=True)[0],
                                  reference.predict(obs.numpy(), deterministic=True)[0])
    with torch.no_grad():
        h0 = reference.get_distribution(obs).distribution.entropy().mean()
        h1 = model.policy.get_distribution(obs).distribution.entropy().mean()
    assert h1 > 2 * h0
    assert model.kl_to_reference(obs.numpy()) == 0.0  # the anchor is the tempered clone
    with pytest.raises(ValueError, match=r"'temperature' parameter of KLRegularizedPPO must be a float in the range"):
        KLRegularizedPPO("MlpPolicy", _env(), reference=reference, temperature=0.0)
    with pytest.raises(ValueError, match=r"'value_warmup' parameter of KLRegularizedPPO must be an int"):
        KLRegularizedPPO("MlpPolicy", _env(), reference=reference, value_warmup=-1)
    assert temper(reference, 1.0) is reference


def test_value_warmup_trains_the_critic_only(pretrained):
    _, reference = pretrained
    model = KLRegularizedPPO("MlpPolicy", _env(), reference=reference, value_warmup=2, **PPO_SETTINGS)
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    model.learn(2 * 32 * 8)  # two rollouts, two updates: both warm-up
    after = model.policy.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith(("action_net", "mlp_extractor.policy")))
    assert not torch.equal(before["value_net.weight"], after["value_net.weight"])
    model.learn(32 * 8, reset_num_timesteps=False)  # the third update moves the actor
    assert not torch.equal(before["action_net.weight"], model.policy.state_dict()["action_net.weight"])


def test_the_sb3_reinforce_stage_lowers_the_clones_cost():
    # L=4, p=39: the clone of the base-stock teacher is sub-optimal; a small PPO budget must lower its cost on
    # test seeds kept apart from the selection seeds (paired over envs, more than 3 standard errors).
    from invgym.agents.orpr import clone_and_fine_tune
    from invgym.baselines.base_stock import BaseStock

    kw = dict(lead_time=4, lost_sales_cost=39.0)
    fit = clone_and_fine_tune(ENV_ID, BaseStock.fit(ENV_ID, **kw), _small_fine_tune(40_000), **kw)
    best_step, best_cost = fit["selection"]["best"]
    assert best_step > 0 and best_cost < fit["selection"]["history"][0][1]
    clone = invgym.evaluate(fit["clone"], ENV_ID, num_envs=32, periods=2000, warmup=100, seed=7, **kw)
    tuned = invgym.evaluate(fit["model"], ENV_ID, num_envs=32, periods=2000, warmup=100, seed=7, **kw)
    d = clone.per_env_cost - tuned.per_env_cost
    assert d.mean() > 3 * d.std(ddof=1) / np.sqrt(len(d))


def test_kl_ppo_loads_with_sb3s_own_load_and_keeps_its_reference(pretrained, labelled, tmp_path):
    _, reference = pretrained
    obs = labelled[1]["obs"][:256]
    model = KLRegularizedPPO("MlpPolicy", _env(), reference=reference, kl_coef=0.5, temperature=2.0,
                             learning_rate=3e-3, **PPO_SETTINGS)
    model.learn(512)
    model.save(tmp_path / "kl_ppo.zip")
    loaded = KLRegularizedPPO.load(tmp_path / "kl_ppo.zip", env=_env())  # no reference= needed
    assert loaded.kl_coef == 0.5 and loaded.reference is not None
    for key, value in model.reference.state_dict().items():
        assert torch.equal(value, loaded.reference.state_dict()[key]), key
    assert loaded.kl_to_reference(obs) == pytest.approx(model.kl_to_reference(obs)) and loaded.kl_to_reference(obs) > 0
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])
    loaded.learn(256)  # training goes on with the leash
    assert loaded._kl_log
    plain = KLRegularizedPPO("MlpPolicy", _env(), kl_coef=0.0, **PPO_SETTINGS)
    plain.save(tmp_path / "plain.zip")
    assert KLRegularizedPPO.load(tmp_path / "plain.zip").reference is None


def test_reinforce_config_checks_its_fields_and_keeps_fine_tune_config_as_it_is():
    import dataclasses

    from invgym.agents.orpr import FineTuneConfig, ReinforceConfig

    with pytest.raises(TypeError, match=r"'center_rewards' parameter of ReinforceConfig must be a bool"):
        ReinforceConfig(center_rewards=1).validate()
    with pytest.raises(TypeError, match=r"'kl_anneal' parameter of ReinforceConfig must be a bool"):
        ReinforceConfig(kl_anneal="yes").validate()
    with pytest.raises(ValueError, match=r"'ent_coef' parameter of ReinforceConfig must be a float in the range"):
        ReinforceConfig(ent_coef=-0.1).validate()
    with pytest.raises(ValueError, match=r"'n_envs' parameter of ReinforceConfig must be an int"):
        ReinforceConfig(n_envs=0).validate()  # the inherited fields are checked too
    # The board records FineTuneConfig's fields: the new settings live only on the subclass.
    assert not {"center_rewards", "kl_anneal", "ent_coef"} & {f.name for f in dataclasses.fields(FineTuneConfig)}


def test_centred_rewards_add_the_clones_cost_and_the_kl_weight_anneals():
    import dataclasses

    from invgym.agents.orpr import ReinforceConfig, _ShiftedRewards, clone_and_fine_tune

    small = _small_fine_tune(2 * 16 * 128, select_periods=50, pretrain=PretrainConfig(epochs=1))
    cfg = ReinforceConfig(**{f.name: getattr(small, f.name) for f in dataclasses.fields(small)}, kl_anneal=True)
    fit = clone_and_fine_tune(ENV_ID, None, cfg, **KW)
    clone_cost = invgym.evaluate(fit["clone"], ENV_ID, num_envs=cfg.select_envs, periods=cfg.select_periods,
                                 warmup=100, seed=cfg.select_seed, **KW).average_cost
    assert fit["reward_offset"] == clone_cost > 0
    assert 0 <= fit["model"].kl_coef < cfg.kl_coef  # annealed from kl_coef towards 0
    assert isinstance(fit["model"].get_env(), _ShiftedRewards(_env(), 0.0).__class__)
    # The wrapper adds the constant to every reward and changes nothing else.
    plain, shifted = _env(), _ShiftedRewards(_env(), 2.5)
    o1, o2 = plain.reset(), shifted.reset()
    actions = np.full(8, 3)
    for _ in range(5):
        plain.step_async(actions), shifted.step_async(actions)
        (o1, r1, d1, _), (o2, r2, d2, _) = plain.step_wait(), shifted.step_wait()
        np.testing.assert_array_equal(o1, o2), np.testing.assert_array_equal(d1, d2)
        np.testing.assert_allclose(r2, r1 + 2.5)


def test_orpr_agents_are_deterministic_given_their_seed(labelled):
    # Train A, then B (another seed), then A again: A's weights are bit-identical both times, whatever ran
    # between (torch's and numpy's global generators are disturbed on purpose).
    from invgym.agents.orpr import clone_and_fine_tune
    from invgym.agents.pretrain import CoverCloneConfig, clone_cover_policy
    from invgym.agents.reinforce import RLOO, RLOOConfig

    data = labelled[1]

    def pretrain(seed):
        torch.rand(7), np.random.rand(3)
        return Pretrainer(ENV_ID, data, PretrainConfig(epochs=2, seed=seed), **KW).fit().state_dict()

    def fine_tune(seed):
        torch.rand(5), np.random.rand(2)
        fit = clone_and_fine_tune(ENV_ID, None, _small_fine_tune(2 * 16 * 128, seed=seed, select_periods=50,
                                                                 pretrain=PretrainConfig(epochs=1)), **KW)
        return fit["model"].policy.state_dict(), fit["selection"]["history"]

    def same(a, b):
        return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    a1, b, a2 = pretrain(0), pretrain(1), pretrain(0)
    assert same(a1, a2) and not same(a1, b)
    (w1, h1), (wb, _), (w2, h2) = fine_tune(0), fine_tune(1), fine_tune(0)
    assert same(w1, w2) and h1 == h2 and not same(w1, wb)

    labeler = ORLabeler(REPLENISHMENT, config=ORLabelerConfig(**{**SMALL_LABELS, "label_envs": 8,
                                                                 "label_periods": 70}))
    cover = labeler.label()

    def rloo(seed):
        torch.rand(3), np.random.rand(4)
        policy, _ = clone_cover_policy(labeler.env_config, cover, CoverCloneConfig(epochs=1, seed=seed))
        reference = copy.deepcopy(policy)
        rl = RLOO(labeler.env_config, policy, reference, labeler.teacher, None,
                  RLOOConfig(skus=4, samples=2, days=14, warmup=7, seed=seed))
        rl.update(), rl.update()
        return policy.state_dict(), rl.metrics

    (r1, m1), (rb, _), (r2, m2) = rloo(0), rloo(1), rloo(0)
    assert same(r1, r2) and m1 == m2 and not same(r1, rb)


def test_a_signed_order_env_is_labelled_on_the_teachers_path_and_cloned_in_its_own_space():
    # ProcurementRemoval's env takes indices from 0 (u = a - 14): the labeler steps it with the teacher's orders
    # shifted into indices (the labels stay orders), and the clone acts in the env's Discrete(29).
    from invgym.baselines.interval_stock import IntervalStock
    from invgym.envs.common import config_for, env_action_space

    config = config_for("invgym/ProcurementRemoval-v0", lead_time=1, backlog=True, backorder_cost=9.0,
                        lost_sales_cost=0.0)
    teacher = IntervalStock.fit(config)
    data = ORLabeler(config, teacher=teacher, config=ORLabelerConfig(label_envs=32, label_periods=100,
                                                                     label_warmup=20, explore=0.0)).label()
    # On the teacher's own path orders average the demand (5 a period); the old, unshifted moves ordered
    # 14 fewer units than labelled, so the backlog grew and every label was the largest order.
    assert abs(data["actions"].mean() - 5.0) < 1.0
    assert np.array_equal(data["actions"], teacher(data["obs"]))
    space, offset = env_action_space(config)
    pretrainer = Pretrainer(config, data, PretrainConfig(epochs=12, validation_fraction=0.0))
    policy = pretrainer.fit()
    assert policy.action_space == space and offset[0] == config.action_low[0] < 0
    assert pretrainer.score(policy)["accuracy"] > 0.7  # against the labels shifted into indices
    bad = {"obs": data["obs"], "actions": np.full(len(data["obs"]), 99)}
    with pytest.raises(ValueError, match="orders of this env's action space"):
        Pretrainer(config, bad)


def test_the_reference_kl_of_a_multidiscrete_policy_adds_its_categoricals():
    import torch

    from invgym.agents.reinforce import reference_kl
    from invgym.envs.common import config_for

    config = config_for("invgym/DualSourcing-v0")
    data = {"obs": np.zeros((4, config.observation_space().shape[0]), np.float32),
            "actions": np.array([[1, 2]] * 4)}
    a = Pretrainer(config, data, PretrainConfig(epochs=1, seed=0)).make_policy()
    b = Pretrainer(config, data, PretrainConfig(epochs=1, seed=1)).make_policy()
    with torch.no_grad():
        generator = torch.Generator().manual_seed(0)
        b.action_net.bias.add_(torch.randn(b.action_net.bias.shape, generator=generator))
    obs = torch.zeros((3, config.observation_space().shape[0]))
    same, other = reference_kl(a, a, obs), reference_kl(a, b, obs)
    assert same.shape == (3,) and torch.allclose(same, torch.zeros(3), atol=1e-6)
    ra, rb = a.get_distribution(obs).distribution, b.get_distribution(obs).distribution
    parts = sum(torch.distributions.kl_divergence(x, y) for x, y in zip(ra, rb, strict=True))
    assert (other > 0).all() and torch.allclose(other, parts)


def test_the_default_exploration_stays_near_the_teachers_path_on_a_wide_action_space():
    # Replenishment-v0 orders range over 0..1608 units against demand of a few units a day: a uniform random move
    # (explore=0.1, the labeler's old default) fills the shelf for weeks, so about half the labels become zero orders
    # (22 % on the teacher's own path). The default, LocalExplore, moves envs near the teacher's order and keeps
    # the labels' distribution.
    from invgym.agents.orpr import DaysOfCover, LocalExplore
    from invgym.envs.common import config_for

    train = config_for("invgym/Replenishment-v0", split="train", product="all")
    teacher = DaysOfCover(train, 19.0)

    def labels(explore):
        cfg = ORLabelerConfig(label_envs=200, label_periods=140, explore=explore)
        return ORLabeler(train, teacher=teacher, config=cfg).label()

    assert ORLabelerConfig().explore == LocalExplore(prob=0.1, width=0.5)
    path, uniform, local = labels(0.0), labels(0.1), labels(ORLabelerConfig().explore)
    zero = {name: float(np.mean(d["actions"] == 0)) for name, d in (("path", path), ("uniform", uniform),
                                                                    ("local", local))}
    assert zero["uniform"] > zero["path"] + 0.2  # the old, uniform moves
    assert abs(zero["local"] - zero["path"]) < 0.03
    assert not np.array_equal(local["obs"], path["obs"])  # it does move the envs
    again = labels(LocalExplore(prob=0.1, width=0.5))
    assert np.array_equal(again["obs"], local["obs"]) and np.array_equal(again["actions"], local["actions"])


def test_local_moves_are_near_the_teachers_order_and_inside_the_action_space():
    from invgym.agents.orpr import LocalExplore, _local_moves
    from invgym.envs.common import config_for

    config = config_for("invgym/LostSales-v0", lead_time=2, lost_sales_cost=9.0)
    action = np.array([0, 3, 20, 5] * 250)
    sizes, counts = np.where(action > 0, 4.0 * action, 0.0), np.where(action > 0, 4.0, 0.0)
    moved = _local_moves(config, action, sizes, counts, LocalExplore(prob=0.5, width=0.5),
                         np.random.default_rng(0))
    assert moved.dtype == action.dtype and moved.min() >= 0 and moved.max() <= config.action_high[0]
    bound = np.maximum(0.5 * action, 1)  # each env's mean non-zero order here is its order; at least one unit
    assert (np.abs(moved - action) <= np.ceil(bound)).all()
    # prob 0.5, less the draws that round back to the order (1 in 5 at order 5: |noise| <= 2.5)
    assert 0.3 < np.mean(moved[action == 5] != 5) < 0.5
    assert 0.1 < np.mean(moved[action == 0] == 1) < 0.4  # a zero order moves by one unit (or is clipped at 0)
    for bad, match in ((LocalExplore(prob=1.5), "'prob' parameter of LocalExplore"),
                       ("local", "'explore' parameter of ORLabelerConfig"),
                       (True, "'explore' parameter of ORLabelerConfig")):
        with pytest.raises((ValueError, TypeError), match=match):
            ORLabelerConfig(explore=bad).validate()


def test_the_selection_env_must_match_the_training_envs_scenario_and_spaces():
    from invgym.agents.orpr import clone_and_fine_tune
    from invgym.envs.common import config_for

    with pytest.raises(ValueError, match="'select_env' parameter of clone_and_fine_tune"):
        clone_and_fine_tune(ENV_ID, None, select_env=config_for("invgym/Replenishment-v0"), **KW)
    with pytest.raises(ValueError, match="'select_env' parameter of clone_and_fine_tune"):
        clone_and_fine_tune(ENV_ID, None, select_env=config_for(ENV_ID, lead_time=KW["lead_time"] + 1))


def test_orpr_can_label_with_the_simulation_optimised_teachers(tmp_path):
    from invgym.agents.orpr import ORPR, ORLabelerConfig, ORPRConfig
    from invgym.agents.pretrain import CoverCloneConfig
    from invgym.agents.reinforce import RLOOConfig
    from invgym.baselines.regime_cover import Preference, SkuCover

    assert ORPRConfig().teacher == "grid"  # the default is unchanged: the service-target grid teacher
    few = dict(product=list(range(12)))

    def config(teacher, folder):
        return ORPRConfig(labeler=ORLabelerConfig(label_envs=12, label_periods=70), teacher=teacher,
                          teacher_preference=Preference(in_stock_target=0.9), clone=CoverCloneConfig(epochs=1),
                          rl=RLOOConfig(iterations=1, skus=4, samples=2, days=14, warmup=7),
                          calibration_shifts=(0.0,), checkpoint_dir=str(tmp_path / folder))

    agent = ORPR(REPLENISHMENT, config("sku", "sku"), **few)
    agent.fit()
    assert isinstance(agent.teacher, SkuCover)
    labels = torch.load(tmp_path / "sku" / "labels.pt", weights_only=False)
    np.testing.assert_array_equal(labels["data"]["actions"], agent.teacher(labels["data"]["obs"]))
    assert labels["days"] == float(np.median(agent.teacher.params["days"]))  # the expert's base days
    # Resumed from the checkpoint: the same teacher, rebuilt from its saved parameters.
    again = ORPR(REPLENISHMENT, config("sku", "sku"), **few)
    again.fit()
    assert again.teacher.params == agent.teacher.params
    with pytest.raises(ValueError, match="labels of a 'sku' teacher, not the configured 'regime'"):
        ORPR(REPLENISHMENT, config("regime", "sku"), **few).fit()
    with pytest.raises(ValueError, match="'teacher' parameter of ORPRConfig must be one of"):
        ORPRConfig(teacher="days").validate()
