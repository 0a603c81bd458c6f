"""agents/rllib.py: PPO on "invgym:invgym/<Env>" ids on a local 127.0.0.1 Ray cluster; agents/rllib_export.py."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")
pytest.importorskip(
    "ray.rllib",
    reason="Ray RLlib is not installed (the optional 'ray' extra: "
    "pip install 'invgym[ray]'); the Ray/RLlib scale-out path is not tested.",
)

import ray  # noqa: E402

import invgym  # noqa: E402, F401
from invgym.agents.pretrain import PretrainConfig, Pretrainer  # noqa: E402
from invgym.agents.rllib import ppo_config, rllib_env_id, train_rllib  # noqa: E402
from invgym.agents.rllib_export import export_to_rllib, import_from_rllib, rllib_module_spec  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.ray]  # training on Ray: CI runs -m ray in the ray venv

ENV_ID = "invgym/LostSales-v0"
KW = dict(lead_time=2, horizon=50)
LEVEL = 18  # a base-stock level near the newsvendor quantile of Poisson(5) demand over L + 1 = 3 periods


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def base_stock_data(env_id: str = ENV_ID, n_envs: int = 16, periods: int = 60, seed: int = 0, **kw) -> dict:
    """States a base-stock policy (order up to LEVEL) visits, and its orders: a teacher unrelated to RLlib."""
    env = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point", **kw)
    obs, _ = env.reset(seed=seed)
    high = (
        env.single_action_space.n - 1
        if hasattr(env.single_action_space, "n")
        else env.single_action_space.high[0]
    )
    rows, labels = [], []
    for _ in range(periods):
        order = np.clip(LEVEL - obs.sum(axis=1), 0, high)
        order = order.astype(env.single_action_space.dtype).reshape((n_envs, *env.single_action_space.shape))
        rows.append(obs.copy())
        labels.append(order)
        obs, *_ = env.step(order)
    env.close()
    return {"obs": np.concatenate(rows), "actions": np.concatenate(labels)}


def pretrained_policy(env_id: str = ENV_ID, epochs: int = 8, **kw):
    trainer = Pretrainer(env_id, base_stock_data(env_id, **kw), PretrainConfig(epochs=epochs), **kw)
    return trainer, trainer.fit()


def sb3_outputs(policy, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """SB3's action-distribution inputs (logits, or mean and log-std) and values, by SB3's own code path."""
    with torch.no_grad():
        latent = policy.mlp_extractor.forward_actor(
            policy.extract_features(obs, policy.pi_features_extractor)
        )
        inputs = policy.action_net(latent)
        if isinstance(policy.action_space, gym.spaces.Box):
            inputs = torch.cat([inputs, policy.log_std.expand_as(inputs)], dim=1)
        return inputs, policy.predict_values(obs).squeeze(-1)


def rllib_outputs(module, obs: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return module.forward_inference({"obs": obs})["action_dist_inputs"]


def observations(policy, n: int = 512, seed: int = 1) -> torch.Tensor:
    """A batch spread over (and beyond) the states the teacher visits."""
    dim = policy.observation_space.shape[0]
    return torch.as_tensor(np.random.default_rng(seed).uniform(0, 25, size=(n, dim)).astype(np.float32))


# === Ids ===


def test_rllib_env_id_adds_the_module_prefix_the_workers_import():
    assert rllib_env_id("invgym/LostSales-v0") == "invgym:invgym/LostSales-v0"
    assert rllib_env_id("LostSales-v0") == "invgym:invgym/LostSales-v0"
    assert rllib_env_id("invgym:invgym/Perishable-v0") == "invgym:invgym/Perishable-v0"
    # The prefixed id is what RLlib hands to gym.make_vec in a fresh worker.
    env = gym.make_vec(
        rllib_env_id("LostSales-v0"), num_envs=2, vectorization_mode="vector_entry_point", **KW
    )
    assert env.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    env.close()
    with pytest.raises(ValueError, match=r"The 'env_id' parameter of rllib_env_id must be one of \["):
        rllib_env_id("invgym/Nope-v0")


def test_discrete_spaces_start_at_zero_for_rllib():
    # ProcurementRemoval's signed order is shown as indices 0..n-1 and decoded inside the env, so RLlib's
    # Categorical (which samples from 0) works on it unchanged.
    from invgym.agents.rllib import _action_space

    space = _action_space("invgym:invgym/ProcurementRemoval-v0", {})
    assert space == gym.make("invgym/ProcurementRemoval-v0").action_space == gym.spaces.Discrete(29)
    ppo_config("invgym/ProcurementRemoval-v0")
    ppo_config("invgym/ProcurementRemoval-v0", {"action_type": "continuous"})


# === Export: identical forward outputs (no Ray cluster needed) ===


@pytest.mark.parametrize(
    "env_id, kw",
    [
        (ENV_ID, dict(KW)),
        (ENV_ID, dict(KW, action_type="continuous")),
        ("invgym/DualSourcing-v0", {}),  # MultiDiscrete: concatenated logits in both libraries
    ],
    ids=["discrete", "continuous", "multidiscrete"],
)
def test_export_gives_identical_forward_outputs(env_id, kw):
    if env_id == ENV_ID:
        _, policy = pretrained_policy(env_id, epochs=2, **kw)
    else:
        data = {
            "obs": np.random.default_rng(0).uniform(0, 10, (256, 2)).astype(np.float32),
            "actions": np.random.default_rng(0).integers(0, 5, (256, 2)),
        }
        policy = Pretrainer(env_id, data, PretrainConfig(epochs=2), **kw).fit()
    if isinstance(policy.action_space, gym.spaces.Box):
        with torch.no_grad():
            policy.log_std.fill_(-0.7)  # not RLlib's initial 0, so a log-std left behind would show
    module = export_to_rllib(policy)
    obs = observations(policy)
    inputs, values = sb3_outputs(policy, obs)
    out = rllib_outputs(module, obs)
    assert torch.allclose(out, inputs, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        assert torch.allclose(module.compute_values({"obs": obs}), values, rtol=1e-5, atol=1e-5)
        # The same distribution: log-probabilities of the same actions agree, and so do the greedy actions.
        dist = module.get_inference_action_dist_cls().from_logits(out)
        sb3_dist = policy.get_distribution(obs)
        actions = sb3_dist.sample()
        assert torch.allclose(dist.logp(actions), sb3_dist.log_prob(actions), rtol=1e-4, atol=1e-4)
        greedy = dist.to_deterministic().sample()
    sb3_greedy, _ = policy.predict(obs.numpy(), deterministic=True)
    if isinstance(policy.action_space, gym.spaces.Box):
        np.testing.assert_allclose(
            np.clip(greedy.numpy(), policy.action_space.low, policy.action_space.high),
            sb3_greedy,
            rtol=1e-5,
            atol=1e-5,
        )
    else:
        np.testing.assert_array_equal(greedy.numpy().reshape(sb3_greedy.shape), sb3_greedy)


def test_import_from_rllib_inverts_the_export():
    trainer, policy = pretrained_policy(epochs=2, **KW)
    module = export_to_rllib(policy)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.01 * torch.randn_like(p))  # as if RLlib had trained it
    fresh = trainer.make_policy()
    import_from_rllib(module, fresh)
    obs = observations(policy)
    inputs, values = sb3_outputs(fresh, obs)
    assert torch.allclose(rllib_outputs(module, obs), inputs, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        assert torch.allclose(module.compute_values({"obs": obs}), values, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("action_type", ["discrete", "continuous"])
def test_a_fresh_ppo_config_builds_the_module_an_sb3_policy_exports_into(action_type):
    kw = dict(KW, action_type=action_type)
    config = ppo_config(ENV_ID, kw, net_arch=(32, 16))
    assert config.env == "invgym:invgym/LostSales-v0" and config.normalize_actions is False
    env = gym.make(config.env, **kw)
    module = config.get_rl_module_spec(env=env.unwrapped).build()
    env.close()
    # SB3's DiagGaussian has a state-independent log-std; RLlib's free_log_std is that (Box only).
    free_log_std = isinstance(getattr(module.pi, "log_std", None), torch.nn.Parameter)
    assert free_log_std == (action_type == "continuous")
    settings = PretrainConfig(epochs=1, net_arch=(32, 16))
    policy = Pretrainer(ENV_ID, base_stock_data(**kw), settings, **kw).fit()
    export_to_rllib(policy, module)
    obs = observations(policy)
    assert torch.allclose(rllib_outputs(module, obs), sb3_outputs(policy, obs)[0], rtol=1e-5, atol=1e-5)


def test_export_refuses_a_module_of_another_shape():
    _, policy = pretrained_policy(epochs=1, **KW)
    spec = rllib_module_spec(policy)
    spec.model_config.fcnet_hiddens = [32]
    with pytest.raises(ValueError, match="linear layers"):
        export_to_rllib(policy, spec.build())


# === A local Ray cluster on 127.0.0.1 ===


@pytest.fixture(scope="module")
def local_ray():
    if ray.is_initialized():
        pytest.skip("Ray is already initialised in this process; the test needs its own local head.")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        configure_logging=False,
    )
    yield
    ray.shutdown()


def random_policy_return(periods: int, episodes: int = 64) -> float:
    env = gym.make_vec(ENV_ID, num_envs=episodes, vectorization_mode="vector_entry_point", **KW)
    env.reset(seed=123)
    rng = np.random.default_rng(0)
    total = np.zeros(episodes)
    for _ in range(periods):
        _, reward, *_ = env.step(rng.integers(0, env.single_action_space.n, episodes))
        total += reward
    env.close()
    return float(total.mean())


def test_ppo_on_a_local_cluster_starts_from_the_exported_policy_and_trains(local_ray):
    _, policy = pretrained_policy(epochs=8, **KW)
    run = train_rllib(
        ENV_ID,
        env_config=KW,
        iterations=0,
        policy=policy,
        num_env_runners=1,
        num_envs_per_env_runner=4,
        rollout_fragment_length=KW["horizon"],
        minibatch_size=100,
        num_epochs=2,
    )
    algo = run.algo
    try:
        assert run.started_ray is False and ray.is_initialized()
        obs = observations(policy, n=128)
        inputs, values = sb3_outputs(policy, obs)
        # The learner's full module, the driver's runner and the remote worker's runner all hold the policy.
        learner = algo.learner_group._learner.module["default_policy"]
        assert torch.allclose(rllib_outputs(learner, obs), inputs, atol=1e-5)
        with torch.no_grad():
            assert torch.allclose(learner.compute_values({"obs": obs}), values, atol=1e-5)
        assert torch.allclose(rllib_outputs(algo.get_module(), obs), inputs, atol=1e-5)
        remote = algo.env_runner_group.foreach_env_runner(
            lambda runner: runner.module.get_state(), local_env_runner=False
        )
        assert len(remote) == 1
        replica = rllib_module_spec(policy).build()
        replica.set_state(remote[0].get("default_policy", remote[0]))
        assert torch.allclose(rllib_outputs(replica, obs), inputs, atol=1e-5)

        history = []
        for _ in range(2):
            result = algo.train()
            history.append(result["env_runners"])
        # Each iteration samples one fragment from each of the 4 envs: 4 complete 50-period episodes.
        assert history[-1]["num_env_steps_sampled_lifetime"] == 2 * 4 * KW["horizon"]
        assert history[0]["episode_len_mean"] == KW["horizon"]
        # The first batch was sampled by the cloned base-stock policy; random orders trail it by far.
        random_return = random_policy_return(KW["horizon"])
        assert history[0]["episode_return_mean"] > 0.5 * random_return  # returns are negative costs
        # PPO moved the weights away from the export.
        assert not torch.allclose(rllib_outputs(learner, obs), inputs, atol=1e-4)
    finally:
        algo.stop()
