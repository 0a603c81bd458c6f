"""The leaderboard (leaderboard/, imported as invgym.leaderboard): suite, scoring, run, submit, verify, render.

The suite's stored references are checked against Zipkin's (2008) published optimum, the quick board's baselines
against his published heuristic costs; a toy agent is submitted and verified; tampered files, misbehaving agents,
interrupted runs, the Ray backend and the rendered page (in headless chromium) are exercised.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import invgym
from invgym.leaderboard import load_suite, render, run, submit, verify
from invgym.leaderboard._io import atomic_write_text, read_json
from invgym.leaderboard.engine import SECRET_ENV
from invgym.leaderboard.record import check_document, content_hash
from invgym.leaderboard.scoring import (
    SCORE_FLOOR,
    aggregate,
    gap,
    interval_estimates,
    normalized_score,
    overall_groups,
    score_entry,
    score_instance,
    trimmed_mean,
)
from invgym.leaderboard.suite import DEFAULT_SUITE
from invgym.leaderboard.verify import heldout_seed

pytestmark = pytest.mark.slow  # training or leaderboard runs: deselect with -m 'not slow'

DATA = Path(__file__).parent / "data"
SECRET = "test-maintainer-secret"


def _suite_subset(path: Path, ids: list[str], quick_protocol: dict | None = None) -> Path:
    """Write a suite with only the given instances (all marked quick) to ``path``."""
    data = read_json(DEFAULT_SUITE)
    if quick_protocol is not None:
        data["quick_protocol"] = quick_protocol
    tracks = []
    for track in data["tracks"]:
        keep = [dict(inst, quick=True) for inst in track["instances"] if inst["id"] in ids]
        if keep:
            tracks.append({**track, "instances": keep})
    data["tracks"] = tracks
    path.write_text(json.dumps(data))
    return path


def _agent_file(tmp_path: Path, name: str, body: str) -> str:
    """Write an agent module and return its ``file.py:make_agent`` spec."""
    file = tmp_path / f"{name}.py"
    file.write_text("import os, time\nimport numpy as np\n\n" + body)
    return f"{file}:make_agent"


# An order-up-to agent whose level is a rule of thumb (not a fit); lost sales only.
TOY = """
def make_agent(env):
    c = env.unwrapped.config
    width, level = max(c.lead_time, 1), round(c.demand.mean * (c.lead_time + 1) + 2 * c.demand.variance ** 0.5)
    def policy(obs):
        return np.clip(level - np.asarray(obs)[:, :width].sum(axis=1), 0, int(c.max_order)).astype(np.int64)
    return policy
"""


@pytest.fixture(scope="module")
def quick_board(tmp_path_factory):
    """``invgym leaderboard run --quick`` into a fresh directory (the board every test below reads)."""
    root = tmp_path_factory.mktemp("board")
    written = run(quick=True, root=root, jobs=2, progress=False)
    assert not (root / "results").exists()  # a quick run writes to its own place: root/quick
    return root / "quick", written


@pytest.fixture(scope="module")
def small_suite(tmp_path_factory):
    return _suite_subset(tmp_path_factory.mktemp("suite") / "suite.json",
                         ["lost-sales/L1-p9", "lost-sales/L2-p9", "long-lead/L6-p9"])


# === Suite ===


def test_suite_references_reproduce_zipkin_2008_table_3_optimal():
    suite = load_suite()
    published = read_json(DATA / "zipkin_2008_table3.json")
    cells = suite.select(["lost-sales"])[0].instances
    assert len(cells) == 16
    for inst in cells:
        kwargs = inst.env_kwargs()
        expected = published[f"{kwargs['lost_sales_cost']:g}"][str(kwargs["lead_time"])]["optimal"]
        assert inst.reference["method"] == "solve_exact"
        assert abs(inst.reference["cost"] - expected) <= 0.0051, inst.id  # the paper rounds to 2 decimals
        assert inst.naive["cost"] > inst.reference["cost"], inst.id  # standard base-stock is never optimal here
        assert inst.protocol.num_envs >= 2 and inst.protocol.periods > 0


def test_suite_records_how_each_reference_was_computed():
    suite = load_suite()
    ids = {t.id for t in suite.tracks}
    assert {"lost-sales", "long-lead"} <= ids
    for inst in suite.select(["long-lead"])[0].instances:
        assert inst.env_kwargs()["lead_time"] in (6, 8, 10)
        assert inst.reference["method"] == "best OR baseline"
        candidates = inst.reference["details"]["candidates"]
        assert inst.reference["cost"] == min(c["cost"] for c in candidates.values())
        assert "too large" in inst.reference["details"]["exact_refused"] or "states" in \
            inst.reference["details"]["exact_refused"]


def _order_up_to_last_weeks_mean(config):
    """The panel tracks' naive rule written out here: ceil(H * mean of the last 7 days' sales - position)^+."""
    lead = config.lead_pmf @ np.arange(config.lead_pmf.shape[1]) if hasattr(config, "lead_pmf") else None
    cover = config.lead_time + 1.0 if lead is None else round(config.review_period + lead.mean(), 2)
    sl = config.slices

    def policy(obs):
        obs = np.asarray(obs, dtype=np.float64)
        level = cover * obs[:, sl["sales"]][:, -7:].mean(axis=1)
        return np.clip(np.ceil(level - obs[:, sl["inventory"]].sum(axis=1) - 1e-9), 0, config.max_order).astype(int)
    return policy


@pytest.mark.parametrize("track", ["retail", "replenishment"])
def test_panel_tracks_run_every_product_over_the_test_window_against_the_best_or_baseline(track):
    suite = load_suite()
    instances = suite.select([track])[0].instances
    assert len(instances) == 3 and sum(inst.quick for inst in instances) == 1
    for inst in instances:
        config = inst.config()
        assert config.split == "test" and not config.draw_product and len(config.products) == config.panel.num_products
        # Every product once, over the whole test window (no wrap-around), in quick mode too.
        assert inst.protocol.num_envs == config.panel.num_products and inst.protocol.warmup == 0
        assert inst.protocol.periods == config.window[1] == config.panel.num_days - config.panel.day_of(
            config.test_start)
        assert suite.protocol(inst, quick=True) == inst.protocol
        assert inst.reference["method"] == "best OR baseline"
        candidates = inst.reference["details"]["candidates"]
        assert {"PredictThenOptimize", "DaysOfCover"} <= set(candidates)
        assert inst.reference["cost"] == min(c["cost"] for c in candidates.values())
        assert inst.naive["cost"] > inst.reference["cost"] + 0.1 * abs(inst.reference["cost"]), inst.id
    # The recorded naive cost is what the rule written out above costs under the recorded protocol.
    inst = instances[0]
    protocol = inst.naive["details"]["protocol"]
    result = invgym.evaluate(_order_up_to_last_weeks_mean(inst.config()), inst.env, **protocol, **inst.env_kwargs())
    assert result.average_cost == pytest.approx(inst.naive["cost"], rel=1e-9)


def test_suite_leaves_out_tracks_whose_env_is_not_registered_and_rejects_bad_files(tmp_path):
    data = read_json(DEFAULT_SUITE)
    future = json.loads(json.dumps(data["tracks"][0]))
    future["id"] = "future"
    for inst in future["instances"]:
        inst["env"], inst["id"] = "invgym/NotYetWritten-v0", inst["id"].replace("lost-sales/", "future/")
    data["tracks"].append(future)
    (tmp_path / "s.json").write_text(json.dumps(data))
    suite = load_suite(tmp_path / "s.json")
    assert suite.absent_tracks == ("future",)
    assert "future" not in {t.id for t in suite.tracks}
    del data["tracks"][0]["instances"][0]["reference"]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="not a valid suite"):
        load_suite(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="The 'track' parameter"):
        load_suite().instances(["no-such-track"])


# === Scoring ===


def test_scores_gap_and_floor():
    assert gap(10.5, 10.0) == pytest.approx(5.0)
    assert normalized_score(8.0, 6.0, 10.0) == pytest.approx(50.0)
    assert normalized_score(10.0, 6.0, 10.0) == 0.0 and normalized_score(6.0, 6.0, 10.0) == 100.0
    inst = load_suite().instance("lost-sales/L1-p9")
    row = score_instance({"instance": inst.id, "status": "failed", "reason": "x"}, inst)
    assert row["gap_pct"] is None and row["score"] is None
    assert normalized_score(1000.0, 6.0, 10.0) == SCORE_FLOOR  # clipped: -24850 would swamp a track's mean
    good = score_instance({"instance": inst.id, "status": "ok", "average_cost": inst.reference["cost"]}, inst)
    track = aggregate([good, row])  # a failure scores the floor: failing is never better than running badly
    assert track["mean_score"] == pytest.approx((100.0 + SCORE_FLOOR) / 2) and track["failed"] == 1
    assert track["mean_gap_pct"] == pytest.approx(0.0)
    entries = [{"name": n, "tracks": dict.fromkeys(t), "overall": {"mean_score": m}} for n, t, m in
               [("a", ["x"], 50.0), ("b", ["x", "y"], 90.0), ("c", ["x"], 60.0)]]
    groups = overall_groups(entries)  # only entries on the same tracks are ranked against each other
    assert [(tracks, [e["name"] for e in members]) for tracks, members in groups] == [
        (("x",), ["c", "a"]), (("x", "y"), ["b"])]


def _rows_at_scores(suite, scores: dict[str, float], noise: float, failed=()) -> list[dict]:
    """Result rows whose per-env costs (as many as the protocol's envs) average to the cost of each given score."""
    rng = np.random.default_rng(7)
    rows = []
    for instance_id, score in scores.items():
        inst = suite.instance(instance_id)
        if instance_id in failed:
            rows.append({"instance": inst.id, "track": inst.track, "status": "failed", "reason": "x"})
            continue
        r, n = inst.reference["cost"], inst.naive["cost"]
        target = n - score / 100.0 * (n - r)
        costs = target + noise * rng.standard_normal(inst.protocol.num_envs)
        costs += target - costs.mean()  # the mean is exactly the target
        rows.append({"instance": inst.id, "track": inst.track, "status": "ok", "average_cost": float(costs.mean()),
                     "env_costs": costs.tolist()})
    return rows


def test_interval_estimates_are_rliable_stratified_bootstrap_cis():
    pytest.importorskip("rliable")
    suite = load_suite()
    ids = [f"lost-sales/L{lead}-p{p}" for p in (4, 9) for lead in (1, 2, 3, 4)]  # 8 instances of one track
    scores = dict(zip(ids, [50.0, 60.0, 70.0, 80.0, 55.0, 65.0, 75.0, -100.0], strict=True))
    rows = _rows_at_scores(suite, scores, noise=0.01)
    scored = score_entry(rows, suite)
    est = interval_estimates(scored, suite)
    assert set(est) == {"lost-sales", "overall"}
    mean, low, high = est["lost-sales"]["mean_score"]
    assert mean == pytest.approx(scored["tracks"]["lost-sales"]["mean_score"]) == pytest.approx(44.375)
    assert low < mean < high and high - low < 5.0
    iqm = est["lost-sales"]["iqm_score"][0]  # the middle half of the eight scores: 55, 60, 65, 70
    assert iqm == pytest.approx(62.5)  # the -100 instance does not move it
    assert est == interval_estimates(scored, suite)  # a fixed bootstrap seed: the same board every time
    from rliable.metrics import aggregate_iqm

    for n in range(1, 12):  # the bootstrap's inner trimmed mean is rliable's IQM
        values = np.random.default_rng(n).standard_normal(n)
        assert trimmed_mean(values) == pytest.approx(aggregate_iqm(values), rel=1e-12)
    np.random.seed(3)
    before = np.random.random()
    np.random.seed(3)
    interval_estimates(scored, suite)
    assert np.random.random() == before  # numpy's global generator is restored
    noisy = interval_estimates(score_entry(_rows_at_scores(suite, scores, noise=0.3), suite), suite)
    assert noisy["lost-sales"]["mean_score"][2] - noisy["lost-sales"]["mean_score"][1] > 4 * (high - low)
    # A failed instance scores the floor in every resample; the overall mean averages the tracks.
    two = {**dict(list(scores.items())[:2]), "retail/L2": 80.0, "retail/L0": 0.0}
    rows = _rows_at_scores(suite, two, noise=0.01, failed=("retail/L0",))  # 64 and 200 per-env costs
    est = interval_estimates(score_entry(rows, suite), suite)
    assert est["retail"]["mean_score"] == pytest.approx(((80.0 + SCORE_FLOOR) / 2,) * 3, abs=0.1)
    assert est["overall"]["mean_score"][0] == pytest.approx((55.0 + (80.0 + SCORE_FLOOR) / 2) / 2, abs=0.1)


def test_the_vectorised_bootstrap_trims_and_resamples_like_the_one_entry_loop():
    from invgym.leaderboard.scoring import _stratified_bootstrap, _trimmed_means

    rng = np.random.default_rng(0)
    for width in range(1, 12):
        rows = rng.standard_normal((5, width))
        assert _trimmed_means(rows).tolist() == pytest.approx([trimmed_mean(r) for r in rows], rel=1e-12)
    # one instance of 50 envs, scores 100 (naive - cost) / (naive - reference) with reference 0, naive 10
    costs = rng.uniform(1.0, 4.0, size=(50, 1))
    score = 100 * (10 - costs.mean()) / 10
    args = ([costs], [np.array([0])], [np.array([0.0])], [np.array([10.0])], np.zeros(1), [np.array([True])])
    low, high = _stratified_bootstrap(*args, reps=4000, seed=1)
    # a resample's mean lies in [1, 4], so its score in [60, 90]; the interval holds the point score
    assert 60.0 <= low[0] < score < high[0] <= 90.0 and high[0] - low[0] < 5.0
    again, other = _stratified_bootstrap(*args, reps=4000, seed=1), _stratified_bootstrap(*args, reps=4000, seed=2)
    assert [low.tolist(), high.tolist()] == [a.tolist() for a in again]  # a fixed seed: the same board every time
    assert [low.tolist(), high.tolist()] != [a.tolist() for a in other]


# === run --quick: every built-in baseline, the published heuristic costs, the board ===


def test_run_quick_writes_every_baseline_and_reproduces_zipkin_heuristics(quick_board):
    root, written = quick_board
    from invgym.leaderboard.baselines import available_baselines

    names = {b.name for b in available_baselines()}
    assert {p.stem for p in written["results"]} == names
    published = read_json(DATA / "zipkin_2008_table3.json")["9"]["1"]  # L = 1, p = 9
    column = {"BaseStock": "base_stock", "Myopic": "myopic", "StandardVectorBaseStock": "vector_base_stock"}
    board = (root / "LEADERBOARD.md").read_text()
    for path in written["results"]:
        document = read_json(path)
        assert check_document(document) == [], path.name
        assert document["environment"]["numpy"] and document["environment"]["python"]
        assert f"| {document['name']} |" in board
        row = next((r for r in document["results"] if r["instance"] == "lost-sales/L1-p9"), None)
        if document["name"] in column:
            assert row["status"] == "ok"
            expected = published[column[document["name"]]]
            assert abs(row["average_cost"] - expected) < 4 * row["stderr"] + 0.01, document["name"]
            assert row["metrics"]["fill_rate"] > 0.9
    capped = read_json(root / "results" / "CappedBaseStock.json")
    assert all(r["status"] == "ok" and r["gap_pct"] < 3.0 for r in capped["results"])
    # Panel tracks: both OR baselines far above the naive rule, and JD's metrics reported and shown.
    for name in ("PredictThenOptimize", "DaysOfCover"):
        rows = {r["instance"]: r for r in read_json(root / "results" / f"{name}.json")["results"]}
        assert {"retail/L2", "replenishment/R7"} <= set(rows)
        for row in rows.values():
            assert row["status"] == "ok" and row["gap_pct"] < 10.0 and row["score"] > 50.0, (name, row["instance"])
        jd = rows["replenishment/R7"]["metrics"]
        assert 0.5 < jd["in_stock_rate"] <= 1.0 and jd["turnover_days"] > 0 and 0.5 < jd["service_level"] <= 1.0
        assert rows["retail/L2"]["metrics"]["turnover_days"] > 0
    for row in read_json(root / "results" / "PerishableBaseStock.json")["results"]:
        m = row["metrics"]
        assert m["fill_rate"] + m["lost_sales_rate"] == pytest.approx(1.0) and 0 <= m["outdating_rate"] < 1
    assert "| in-stock rate | turnover (days) |" in board
    site = (root / "site" / "index.html").read_text()
    assert ('data-metric="in_stock_rate">in-stock rate</th><th class="sortable" data-type="num" '
            'data-metric="turnover_days">') in site


def test_a_baseline_result_file_verifies(quick_board, monkeypatch):
    root, _ = quick_board
    monkeypatch.setenv(SECRET_ENV, SECRET)
    report = verify(root / "results" / "BaseStock.json", jobs=2, progress=False)
    assert report.accepted, report.summary()
    assert {c["instance"] for c in report.checks} == {"lost-sales/L1-p9", "lost-sales/L2-p39", "long-lead/L6-p9"}
    monkeypatch.setenv(SECRET_ENV, SECRET)  # verify consumed it
    report = verify(root / "results" / "DaysOfCover.json", jobs=2, progress=False)  # refitted, held-out seeds
    assert report.accepted, report.summary()
    assert {c["instance"] for c in report.checks} == {"retail/L2", "replenishment/R7"}


# === submit + verify ===


def test_submit_and_verify_a_toy_agent(tmp_path, small_suite, monkeypatch):
    agent = _agent_file(tmp_path, "toy", TOY)
    path = submit(agent, "toy", quick=True, root=tmp_path, suite=small_suite, jobs=2, progress=False)
    document = read_json(path)
    assert check_document(document) == []
    assert [r["status"] for r in document["results"]] == ["ok", "ok", "ok"]
    assert document["agent"]["kind"] == "python" and len(document["agent"]["sha256"]) == 64
    monkeypatch.setenv(SECRET_ENV, SECRET)
    report = verify(path, suite=small_suite, jobs=2, progress=False)
    assert report.accepted, report.summary()
    assert len(report.checks) == 3 and all(c["holds"] for c in report.checks)
    assert SECRET_ENV not in os.environ  # verify consumed the secret


def test_verify_rejects_tampered_files(tmp_path, small_suite, monkeypatch):
    agent = _agent_file(tmp_path, "toy", TOY)
    path = submit(agent, "toy", quick=True, root=tmp_path, suite=small_suite, jobs=2, progress=False)
    original = read_json(path)

    def check(document, expected):
        tampered = tmp_path / "tampered.json"
        tampered.write_text(json.dumps(document))
        monkeypatch.setenv(SECRET_ENV, SECRET)
        report = verify(tampered, suite=small_suite, jobs=2, progress=False)
        assert not report.accepted
        assert any(expected in p for p in report.problems), report.problems
        return report

    better = json.loads(json.dumps(original))  # a better cost, hash left as it was
    first = better["results"][0]
    first["average_cost"] *= 0.9
    first["stderr"] *= 0.9
    first["env_costs"] = [0.9 * c for c in first["env_costs"]]  # per-seed costs kept consistent with it
    check(better, "hash mismatch")
    for key in ("gap_pct", "score"):  # the careful forger recomputes the scores and the hash ...
        row = better["results"][0]
        row[key] = score_instance(row, load_suite(small_suite).instance(row["instance"]))[key]
    better["integrity"]["sha256"] = content_hash(better)
    report = check(better, "does not hold")  # ... and is caught by the held-out re-evaluation
    assert [c["holds"] for c in report.checks] == [False, True, True]
    broken = json.loads(json.dumps(original))
    del broken["environment"]
    check(broken, "schema violation")

    def resealed(document):
        document["integrity"]["sha256"] = content_hash(document)
        return document

    dropped = json.loads(json.dumps(original))  # a bad instance dropped, the hash recomputed
    del dropped["results"][1]
    check(resealed(dropped), "incomplete: track lost-sales")
    hidden = json.loads(json.dumps(original))  # a bad instance relabelled as failed: failures must reproduce
    row = hidden["results"][1]
    hidden["results"][1] = {k: row[k] for k in ("instance", "track", "env", "seconds")} | {
        "status": "failed", "reason": "the agent crashed", "gap_pct": None, "score": None}
    check(resealed(hidden), "must reproduce as a failure")
    impossible = json.loads(json.dumps(original))  # below the exact optimum, with a tiny claimed stderr
    row = impossible["results"][0]
    deviations = np.asarray(row["env_costs"]) - np.mean(row["env_costs"])
    deviations *= 1e-6 / (deviations.std(ddof=1) / math.sqrt(len(deviations)))
    costs = 0.9 * row["reference_cost"] + deviations  # consistent per-seed costs around the forged mean
    row["env_costs"] = costs.tolist()
    row["average_cost"] = math.fsum(row["env_costs"]) / len(costs)
    row["stderr"] = math.sqrt(math.fsum((c - row["average_cost"]) ** 2 for c in row["env_costs"])
                              / (len(costs) - 1) / len(costs))
    for key in ("gap_pct", "score"):
        row[key] = score_instance(row, load_suite(small_suite).instance(row["instance"]))[key]
    check(resealed(impossible), "impossible: the claimed cost")
    Path(agent.rpartition(":")[0]).write_text(Path(agent.rpartition(":")[0]).read_text() + "\n# changed\n")
    check(original, "hash mismatch: the agent artifact")


def test_verify_needs_the_secret_and_keeps_it_from_the_agent(tmp_path, small_suite, monkeypatch):
    spy = _agent_file(tmp_path, "spy", TOY.replace("    c = env.unwrapped.config", f"""    c = env.unwrapped.config
    environ = open('/proc/self/environ', 'rb').read() if os.path.exists('/proc/self/environ') else b''
    if '{SECRET_ENV}' in os.environ or b'{SECRET}' in environ:
        raise RuntimeError('the agent can read the maintainer secret')"""))
    path = submit(spy, "spy", quick=True, root=tmp_path, suite=small_suite, tracks=["long-lead"], progress=False)
    monkeypatch.delenv(SECRET_ENV, raising=False)
    with pytest.raises(RuntimeError, match=SECRET_ENV):
        verify(path, suite=small_suite, progress=False)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    report = verify(path, suite=small_suite, progress=False)
    assert report.accepted, report.summary()  # the spy raised nothing: it never saw the secret
    seeds = {heldout_seed(SECRET, "1.0.0", i) for i in ("a/b", "a/c")} | {heldout_seed("other", "1.0.0", "a/b")}
    assert len(seeds) == 3 and min(seeds) >= 2**62  # per instance, per secret, far from the public seeds


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_sb3_zip_and_torchscript_agents_are_accepted(tmp_path):
    torch = pytest.importorskip("torch", reason="torch is not installed; the TorchScript agent test is skipped")
    sb3 = pytest.importorskip("stable_baselines3", reason="stable-baselines3 is not installed; skipped")
    from invgym.sb3 import make_sb3_vec_env

    suite = _suite_subset(tmp_path / "s.json", ["lost-sales/L2-p9"])

    class OrderUpTo(torch.nn.Module):
        def forward(self, obs: torch.Tensor) -> torch.Tensor:
            return torch.clamp(19.0 - obs[:, :2].sum(dim=1), 0.0, 8.0)  # S = 19: Zipkin's best level, max order 8

    torch.jit.script(OrderUpTo()).save(str(tmp_path / "policy.pt"))
    scripted = read_json(submit(str(tmp_path / "policy.pt"), "ts", quick=True, root=tmp_path, suite=suite,
                                progress=False))
    row = scripted["results"][0]
    assert scripted["agent"]["kind"] == "torchscript" and row["status"] == "ok", row
    best = read_json(DATA / "zipkin_2008_table3.json")["9"]["2"]["base_stock"]  # 6.32
    assert abs(row["average_cost"] - best) < 4 * row["stderr"] + 0.01
    model = sb3.PPO("MlpPolicy", make_sb3_vec_env("invgym/LostSales-v0", n_envs=4, lead_time=2), n_steps=8,
                    batch_size=32, seed=0)  # untrained: only the loading path is under test
    model.save(tmp_path / "ppo.zip")
    with pytest.raises(ValueError, match="--algo"):
        submit(str(tmp_path / "ppo.zip"), "ppo", quick=True, root=tmp_path, suite=suite, progress=False)
    tiny = _suite_subset(tmp_path / "tiny.json", ["lost-sales/L2-p9"],
                         {"num_envs": 4, "periods": 300, "warmup": 0, "seed": 0})
    zipped = read_json(submit(str(tmp_path / "ppo.zip"), "ppo", algo="PPO", quick=True, root=tmp_path, suite=tiny,
                              progress=False))
    assert zipped["agent"]["kind"] == "sb3" and zipped["agent"]["algo"] == "PPO"
    assert zipped["results"][0]["status"] == "ok", zipped["results"][0]
    # A folder of per-instance models: L2-p9 has its own; L1 and L3 fall back to the track's model, made for L = 2,
    # and fail with both shapes named; an instance of another track finds none.
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(tmp_path / "ppo.zip", folder / "lost-sales__L2-p9.zip")
    shutil.copy(tmp_path / "ppo.zip", folder / "lost-sales.zip")
    three = _suite_subset(tmp_path / "three.json", ["lost-sales/L1-p9", "lost-sales/L2-p9", "lost-sales/L3-p9",
                                                    "long-lead/L6-p9"],
                          {"num_envs": 4, "periods": 300, "warmup": 0, "seed": 0})
    rows = {r["instance"]: r for r in read_json(submit(str(folder), "folder", algo="PPO", quick=True, root=tmp_path,
                                                      suite=three, progress=False))["results"]}
    assert rows["lost-sales/L2-p9"]["status"] == "ok", rows["lost-sales/L2-p9"]
    for cell, dim in (("L1-p9", 1), ("L3-p9", 3)):
        reason = rows[f"lost-sales/{cell}"]["reason"]
        assert f"expects observations of shape (2,), but lost-sales/{cell}" in reason and f"({dim},)" in reason
    assert "no model for long-lead/L6-p9" in rows["long-lead/L6-p9"]["reason"]


@pytest.mark.ray
def test_an_rllib_checkpoint_is_an_agent(tmp_path):
    pytest.importorskip("ray.rllib", reason="Ray RLlib is not installed (the optional 'ray' extra: pip install "
                                            "'invgym[ray]'); the RLlib-checkpoint agent is not tested")
    sb3 = pytest.importorskip("stable_baselines3")
    from invgym.agents.rllib_export import export_to_rllib
    from invgym.sb3 import make_sb3_vec_env

    model = sb3.PPO("MlpPolicy", make_sb3_vec_env("invgym/LostSales-v0", n_envs=4, lead_time=2), n_steps=8,
                    batch_size=32, seed=0)
    module = export_to_rllib(model.policy)
    module.save_to_path(str(tmp_path / "checkpoint"))
    suite = _suite_subset(tmp_path / "s.json", ["lost-sales/L1-p9", "lost-sales/L2-p9"],
                          {"num_envs": 4, "periods": 200, "warmup": 0, "seed": 0})
    document = read_json(submit(str(tmp_path / "checkpoint"), "rllib", quick=True, root=tmp_path, suite=suite,
                                progress=False))
    rows = {r["instance"]: r for r in document["results"]}
    assert document["agent"]["kind"] == "rllib"
    assert rows["lost-sales/L2-p9"]["status"] == "ok", rows["lost-sales/L2-p9"]
    assert "shape (2,), but lost-sales/L1-p9" in rows["lost-sales/L1-p9"]["reason"]


# An RLlib module's greedy action is the argmax of its logits (per component for MultiDiscrete), an index from 0;
# the scenario's order is that index plus the action space's low end (ProcurementRemoval's removals are negative).
# Before, the offset was dropped, and a MultiDiscrete space failed on its missing ``.low``.
RLLIB_CASES = [("invgym/ProcurementRemoval-v0", {}), ("invgym/DualSourcing-v0", {}),
               ("invgym/LostSales-v0", {"lead_time": 2, "action_type": "continuous"})]


@pytest.mark.parametrize("env_id, kwargs", RLLIB_CASES, ids=["signed-discrete", "multidiscrete", "box"])
def test_rllib_greedy_actions_decode_into_scenario_units(env_id, kwargs):
    from invgym.baselines.common import config_of
    from invgym.envs.common import env_action_space
    from invgym.leaderboard.agents import rllib_greedy_actions

    config = config_of(env_id, **kwargs)
    shown, offset = env_action_space(config)
    logits = np.random.default_rng(0).normal(size=(5, _logit_width(shown)))
    actions = rllib_greedy_actions(logits, config)
    assert actions.shape == (5, *config.action_space().shape) or actions.shape == (5,)
    np.testing.assert_array_equal(np.asarray(actions).reshape(5, -1), _greedy(logits, config))
    if isinstance(shown, gym.spaces.Box):
        return
    assert all(config.action_space().contains(np.asarray(a).reshape(config.action_space().shape).astype(
        config.action_space().dtype)) for a in actions)  # in the scenario's own space, not the index space
    if env_id == "invgym/ProcurementRemoval-v0":
        assert offset is not None and offset.min() < 0  # the case the offset matters for
        index = np.zeros((1, int(shown.n)))
        index[0, 0] = 1.0  # index 0 is the largest removal, not "order nothing"
        assert rllib_greedy_actions(index, config).reshape(-1)[0] == int(config.action_low[0]) < 0


def _greedy(logits, config):
    """What the greedy scenario actions must be, worked out here: (num_envs, action dim)."""
    from invgym.envs.common import env_action_space

    shown, _ = env_action_space(config)
    if isinstance(shown, gym.spaces.Box):
        return logits[:, :shown.shape[0]]  # the Gaussian's mean
    nvec = np.atleast_1d(shown.nvec if isinstance(shown, gym.spaces.MultiDiscrete) else shown.n)
    pieces = np.split(logits, np.cumsum(nvec)[:-1], axis=1)
    return np.stack([p.argmax(axis=1) for p in pieces], axis=1) + np.asarray(config.action_low, np.int64)


def _logit_width(space):
    if isinstance(space, gym.spaces.Box):
        return 2 * space.shape[0]  # mean, then log-std
    return int(np.sum(space.nvec)) if isinstance(space, gym.spaces.MultiDiscrete) else int(space.n)


@pytest.mark.parametrize("env_id, kwargs", RLLIB_CASES, ids=["signed-discrete", "multidiscrete", "box"])
def test_the_rllib_agent_path_decodes_a_mocked_module_without_ray(tmp_path, monkeypatch, env_id, kwargs):
    # The whole build_policy path of an RLlib checkpoint, with RLModule replaced by a fake (Ray is not needed).
    import sys
    import types

    torch = pytest.importorskip("torch")
    from invgym.baselines.common import config_of
    from invgym.envs.common import env_action_space
    from invgym.leaderboard.agents import build_policy, parse_agent

    config = config_of(env_id, **kwargs)
    shown, _ = env_action_space(config)
    width = _logit_width(shown)
    weights = torch.as_tensor(np.random.default_rng(1).normal(size=(config.observation_space().shape[0], width)),
                              dtype=torch.float32)

    class FakeModule:
        observation_space, action_space = config.observation_space(), shown

        @classmethod
        def from_checkpoint(cls, path):
            assert path == str(tmp_path / "module")
            return cls()

        def forward_inference(self, batch):
            return {"action_dist_inputs": batch["obs"] @ weights}

    fake = types.ModuleType("ray.rllib.core.rl_module.rl_module")
    fake.RLModule = FakeModule
    for name in ("ray", "ray.rllib", "ray.rllib.core", "ray.rllib.core.rl_module"):
        monkeypatch.setitem(sys.modules, name, sys.modules.get(name) or types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "ray.rllib.core.rl_module.rl_module", fake)
    (tmp_path / "module").mkdir()
    (tmp_path / "module" / "class_and_ctor_args.pkl").write_bytes(b"fake")
    spec = parse_agent(str(tmp_path / "module"))
    assert spec.kind == "rllib"
    policy = build_policy({**spec.as_dict(), "path": spec.path}, env_id, kwargs)
    obs = np.random.default_rng(2).uniform(0, 10, size=(6, config.observation_space().shape[0])).astype(np.float32)
    logits = (torch.as_tensor(obs) @ weights).numpy()
    np.testing.assert_array_equal(np.asarray(policy(obs)).reshape(6, -1), _greedy(logits, config))


@pytest.mark.ray
@pytest.mark.parametrize("env_id, kwargs", RLLIB_CASES[:2], ids=["signed-discrete", "multidiscrete"])
def test_an_exported_rllib_module_acts_as_its_sb3_policy_in_scenario_units(tmp_path, env_id, kwargs):
    # With Ray: an SB3 policy exported to an RLlib module and saved; the leaderboard's RLlib path must give the
    # orders invgym.evaluate gives the SB3 policy itself (which decodes its indices by the env's offset).
    pytest.importorskip("ray.rllib", reason="Ray RLlib is not installed (the optional 'ray' extra: pip install "
                                            "'invgym[ray]'); the RLlib-checkpoint agent is not tested")
    pytest.importorskip("stable_baselines3")
    from invgym.agents.pretrain import PretrainConfig, Pretrainer
    from invgym.agents.rllib_export import export_to_rllib
    from invgym.baselines.common import config_of
    from invgym.envs.common import env_action_space
    from invgym.evaluate import policy_actions
    from invgym.leaderboard.agents import build_policy, parse_agent

    config = config_of(env_id, **kwargs)
    shown, offset = env_action_space(config)
    rng = np.random.default_rng(0)
    dim = config.observation_space().shape[0]
    nvec = np.atleast_1d(shown.nvec if isinstance(shown, gym.spaces.MultiDiscrete) else shown.n)
    index = np.stack([rng.integers(0, n, 256) for n in nvec], axis=1).reshape(256, *shown.shape)
    orders = index + (0 if offset is None else offset[0] if index.ndim == 1 else offset)  # the teacher's orders
    data = {"obs": rng.uniform(0, 10, (256, dim)).astype(np.float32), "actions": orders}
    policy = Pretrainer(env_id, data, PretrainConfig(epochs=2), **kwargs).fit()
    export_to_rllib(policy).save_to_path(str(tmp_path / "module"))
    spec = parse_agent(str(tmp_path / "module"))
    rllib = build_policy({**spec.as_dict(), "path": spec.path}, env_id, kwargs)
    obs = rng.uniform(0, 10, (64, dim)).astype(np.float32)
    expected = np.asarray(policy_actions(policy, config)(obs)).reshape(64, -1)
    np.testing.assert_array_equal(np.asarray(rllib(obs)).reshape(64, -1), expected)


# === Misbehaving agents, resume, atomic writes ===

MISBEHAVING = """
def make_agent(env):
    c = env.unwrapped.config
    if c.lead_time == 2:
        raise RuntimeError('boom at construction')
    if c.lead_time == 3:
        return lambda obs: np.full(len(obs), -1, dtype=np.int64)  # outside the action space
    if c.lead_time == 4:
        time.sleep(120)
    if c.lost_sales_cost == 4.0:
        os._exit(3)  # kills its own worker process
    return lambda obs: np.clip(12 - np.asarray(obs)[:, :1].sum(axis=1), 0, int(c.max_order)).astype(np.int64)
"""


def test_a_misbehaving_agent_fails_per_instance_without_touching_the_others(tmp_path):
    suite = _suite_subset(tmp_path / "s.json", [f"lost-sales/L{k}-p9" for k in (1, 2, 3, 4)] + ["lost-sales/L1-p4"])
    agent = _agent_file(tmp_path, "bad", MISBEHAVING)
    # 20 s: room for each instance's sandbox to start on busy cores; the sleeping instance sleeps 120 s.
    path = submit(agent, "bad", quick=True, root=tmp_path, suite=suite, jobs=2, timeout=20, progress=False)
    document = read_json(path)
    assert check_document(document) == []
    rows = {r["instance"]: r for r in document["results"]}
    assert rows["lost-sales/L1-p9"]["status"] == "ok" and math.isfinite(rows["lost-sales/L1-p9"]["average_cost"])
    assert "boom at construction" in rows["lost-sales/L2-p9"]["reason"]
    assert "outside the action space" in rows["lost-sales/L3-p9"]["reason"]
    assert "time limit of 20 s" in rows["lost-sales/L4-p9"]["reason"]
    assert "agent process died (exit code 3)" in rows["lost-sales/L1-p4"]["reason"]
    assert document["summary"]["overall"]["failed"] == 4


def _stamps(paths):
    """(inode, mtime) per file: a partial result kept on resume is neither rewritten nor replaced."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in paths}


def test_an_interrupted_run_resumes_from_partial_results(tmp_path, small_suite):
    agent = _agent_file(tmp_path, "counted", TOY)
    first = read_json(submit(agent, "counted", quick=True, root=tmp_path, suite=small_suite, progress=False))
    partials = sorted((tmp_path / "quick" / "runs" / "counted").glob("*.json"))
    assert len(partials) == 3
    partials[1].unlink()  # as if the run had stopped before this instance
    kept = _stamps([partials[0], partials[2]])
    (tmp_path / "quick" / "results" / "counted.json").unlink()
    second = read_json(submit(agent, "counted", quick=True, root=tmp_path, suite=small_suite, progress=False))
    assert _stamps([partials[0], partials[2]]) == kept and partials[1].is_file()  # only the missing one ran again
    assert [r["average_cost"] for r in first["results"]] == [r["average_cost"] for r in second["results"]]
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_killed_run_leaves_only_whole_files_and_resumes(tmp_path, small_suite):
    import signal
    import sys
    import time

    agent = _agent_file(tmp_path, "slow", TOY.replace("    c = env.unwrapped.config", """    c = env.unwrapped.config
    time.sleep(2.0)"""))
    command = [sys.executable, "-m", "invgym", "leaderboard", "submit", "--agent", agent, "--name", "slow", "--quick",
               "--jobs", "1", "--root", str(tmp_path), "--suite", str(small_suite), "--no-progress"]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    runs = tmp_path / "quick" / "runs" / "slow"
    deadline = time.monotonic() + 60
    while not (runs.is_dir() and list(runs.glob("*.json"))) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the whole run, workers included, mid-way
    process.wait()
    done = list(runs.glob("*.json"))
    assert 1 <= len(done) < 3 and not (tmp_path / "quick" / "results" / "slow.json").exists()
    assert all(read_json(p)["result"]["status"] == "ok" for p in done)  # every file whole and parseable
    before = _stamps(done)
    assert subprocess.run(command, capture_output=True, timeout=120).returncode == 0
    assert _stamps(done) == before and len(list(runs.glob("*.json"))) == 3  # only the unfinished ones ran again
    assert [r["status"] for r in read_json(tmp_path / "quick" / "results" / "slow.json")["results"]] == ["ok"] * 3
    assert not list(tmp_path.rglob("*.tmp"))


def _board(root: Path) -> dict:
    """A board's content without what legitimately differs between runs (timestamps, timings, the hash)."""
    out = {}
    for path in sorted((root / "results").glob("*.json")):
        document = read_json(path)
        for key in ("created", "integrity", "environment"):
            document.pop(key)
        for row in document["results"]:
            row.pop("seconds")
        out[path.name] = document
    out["LEADERBOARD.md"] = (root / "LEADERBOARD.md").read_text()
    return out


def test_twenty_kill_9_at_random_points_then_resume_give_the_uninterrupted_board(tmp_path):
    """A harness: kill -9 the whole run (workers included) 20 times at random instants, resume, compare."""
    import random
    import signal
    import sys
    import time

    suite = _suite_subset(tmp_path / "s.json", ["lost-sales/L1-p9", "lost-sales/L2-p4"],
                          {"num_envs": 8, "periods": 400, "warmup": 40, "seed": 0})

    def command(root):
        return [sys.executable, "-m", "invgym", "leaderboard", "run", "--quick", "--jobs", "1", "--root", str(root),
                "--suite", str(suite), "--no-progress"]

    assert subprocess.run(command(tmp_path / "clean"), capture_output=True, timeout=600).returncode == 0
    expected = _board(tmp_path / "clean" / "quick")
    rng = random.Random(14)
    killed = tmp_path / "killed"
    kills = 0
    for _ in range(20):
        process = subprocess.Popen(command(killed), start_new_session=True, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 4.0))
        if process.poll() is None:
            kills += 1
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        for path in killed.rglob("*.json"):  # at every instant only whole files exist
            read_json(path)
        partials = sorted((killed / "quick" / "runs").rglob("*.json"))
        for path in rng.sample(partials, len(partials) // 2):  # keep work to do, so the next kill lands mid-run
            path.unlink()
    assert kills >= 10  # most kills landed mid-run
    assert subprocess.run(command(killed), capture_output=True, timeout=600).returncode == 0
    assert _board(killed / "quick") == expected
    assert not list(killed.rglob("*.tmp"))


def test_concurrent_submissions_under_different_and_equal_names_are_safe(tmp_path, small_suite):
    import sys

    agent = _agent_file(tmp_path, "toy", TOY)

    def start(name):
        return subprocess.Popen([sys.executable, "-m", "invgym", "leaderboard", "submit", "--agent", agent, "--name",
                                 name, "--quick", "--jobs", "1", "--root", str(tmp_path), "--suite", str(small_suite),
                                 "--track", "long-lead", "--no-progress"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)

    processes = [start("a"), start("b"), start("same"), start("same")]
    for process in processes:
        assert process.wait(timeout=600) == 0, process.stderr.read()
    documents = {p.stem: read_json(p) for p in (tmp_path / "quick" / "results").glob("*.json")}
    assert set(documents) == {"a", "b", "same"}
    costs = {name: [r["average_cost"] for r in d["results"]] for name, d in documents.items()}
    assert costs["a"] == costs["b"] == costs["same"]  # same agent, same seeds: every writer wrote a whole file
    assert all(check_document(d) == [] for d in documents.values())
    assert not list(tmp_path.rglob("*.tmp"))


def test_atomic_write_leaves_the_old_file_when_the_write_fails(tmp_path, monkeypatch):
    target = tmp_path / "file.json"
    atomic_write_text(target, "old")

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.json"]  # no temp file left behind


def test_orphaned_temporaries_of_a_killed_writer_are_swept_and_nothing_else(tmp_path):
    from invgym.atomic import remove_orphans

    atomic_write_text(tmp_path / "a.json", "whole")
    for leftover in (".a.json.x1.tmp", ".a.json.x2.tmp", ".b.json.x3.tmp", "a.json.tmp", "notes.txt"):
        (tmp_path / leftover).write_text("partial")
    assert sorted(p.name for p in remove_orphans(tmp_path, "a.json")) == [".a.json.x1.tmp", ".a.json.x2.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".b.json.x3.tmp", "a.json", "a.json.tmp", "notes.txt"]
    assert [p.name for p in remove_orphans(tmp_path)] == [".b.json.x3.tmp"]
    assert (tmp_path / "a.json").read_text() == "whole"
    assert remove_orphans(tmp_path / "missing") == []


def test_writes_have_normal_permissions_and_quick_runs_never_replace_full_results(tmp_path, small_suite,
                                                                                   monkeypatch):
    old = os.umask(0o022)
    try:
        written = atomic_write_text(tmp_path / "plain.txt", "x")
    finally:
        os.umask(old)
    assert written.stat().st_mode & 0o777 == 0o644  # as open(path, "w") would make it, not mkstemp's 0600
    full = tmp_path / "results" / "toy.json"
    atomic_write_text(full, '{"full": true}')
    monkeypatch.chdir(tmp_path.parent)  # the default root is ./leaderboard of where the user is
    from invgym.leaderboard.submit import default_root, output_root

    assert default_root() == tmp_path.parent / "leaderboard"
    assert output_root(tmp_path, quick=True) == tmp_path / "quick"
    path = submit(_agent_file(tmp_path, "toy", TOY), "toy", quick=True, root=tmp_path, suite=small_suite,
                  tracks=["long-lead"], progress=False)
    assert path == tmp_path / "quick" / "results" / "toy.json"
    assert full.read_text() == '{"full": true}'  # the full-protocol file is untouched
    assert (tmp_path / "quick" / "LEADERBOARD.md").is_file()  # submit re-renders the board next to its file


def test_dirty_means_a_dirty_source_not_the_boards_own_output(tmp_path):
    from invgym.leaderboard.record import git_commit

    if shutil.which("git") is None:
        pytest.skip("git is not installed")

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    (tmp_path / "leaderboard" / "results").mkdir(parents=True)
    (tmp_path / "leaderboard" / "results" / "A.json").write_text("{}")
    (tmp_path / "leaderboard" / "LEADERBOARD.md").write_text("old")
    (tmp_path / "code.py").write_text("x = 1")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "c")
    clean = git_commit(tmp_path)
    assert clean and not clean.endswith("-dirty")
    (tmp_path / "leaderboard" / "results" / "A.json").write_text('{"new": 1}')  # what a run writes
    (tmp_path / "leaderboard" / "LEADERBOARD.md").write_text("new")
    assert git_commit(tmp_path) == clean
    (tmp_path / "code.py").write_text("x = 2")  # a source change
    assert git_commit(tmp_path) == clean + "-dirty"


def test_a_recorded_agent_path_is_found_in_its_board_folder_then_in_the_current_directory(tmp_path, monkeypatch):
    from invgym.leaderboard.agents import parse_agent, recorded_agent

    board, elsewhere = tmp_path / "board", tmp_path / "elsewhere"
    (board / "learned" / "toy").mkdir(parents=True)
    elsewhere.mkdir()
    file = board / "learned" / "toy" / "agent.py"
    file.write_text("import numpy as np\n\n" + TOY)
    recorded = {**parse_agent(f"{file}:make_agent").as_dict(), "spec": "learned/toy/agent.py:make_agent"}
    monkeypatch.chdir(elsewhere)
    spec = recorded_agent(recorded, board)
    assert spec.spec == recorded["spec"] and Path(spec.path) == file.resolve() and spec.sha256 == recorded["sha256"]
    (elsewhere / "mine.py").write_text("import numpy as np\n\n" + TOY)  # a submission named from where it was made
    assert Path(recorded_agent({**recorded, "spec": "mine.py:make_agent"}, board).path) == elsewhere / "mine.py"
    with pytest.raises(ValueError, match="names the file 'learned/none/agent.py', which does not exist"):
        recorded_agent({**recorded, "spec": "learned/none/agent.py:make_agent"}, board)


def test_check_reproduces_committed_baseline_costs():
    """`invgym leaderboard check` on a subset of the committed board (the command checks all of it)."""
    from invgym.leaderboard.check import check

    committed = Path(__file__).resolve().parents[1] / "leaderboard"
    report = check(root=committed, entries=["BaseStock", "CappedDualIndex"],
                   instances=["lost-sales/L1-p9", "long-lead/L6-p9", "dual-sourcing/consecutive-le0-lr1-ce105"],
                   jobs=2, progress=False)
    assert report.rows and report.reproduced, report.summary()
    assert all(row["verdict"] == "identical" for row in report.rows), report.summary()


# === Ray backend ===


@pytest.mark.ray
def test_ray_and_local_backends_give_identical_results(tmp_path, small_suite):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'invgym[ray]'); the Ray backend "
                                            "test is skipped")
    agent = _agent_file(tmp_path, "toy", TOY)
    local = read_json(submit(agent, "local", quick=True, root=tmp_path, suite=small_suite, progress=False))
    ray.init(address="local", _node_ip_address="127.0.0.1", num_cpus=2, include_dashboard=False,
             log_to_driver=False)
    try:
        remote = read_json(submit(agent, "remote", quick=True, root=tmp_path, suite=small_suite, ray="local",
                                  progress=False))
    finally:
        ray.shutdown()
    for a, b in zip(local["results"], remote["results"], strict=True):
        assert a["status"] == b["status"] == "ok"
        assert (a["average_cost"], a["stderr"], a["metrics"]) == (b["average_cost"], b["stderr"], b["metrics"])


# === CLI ===


def test_cli_submit_verify_render(tmp_path, small_suite, monkeypatch):
    from invgym.__main__ import main

    agent = _agent_file(tmp_path, "toy", TOY)
    args = ["--root", str(tmp_path), "--suite", str(small_suite), "--no-progress"]
    assert main(["leaderboard", "submit", "--agent", agent, "--name", "cli-toy", "--quick", "--track",
                 "long-lead", *args]) == 0
    result = tmp_path / "quick" / "results" / "cli-toy.json"
    monkeypatch.delenv(SECRET_ENV, raising=False)
    assert main(["leaderboard", "verify", str(result), "--suite", str(small_suite), "--no-progress"]) == 2
    monkeypatch.setenv(SECRET_ENV, SECRET)
    assert main(["leaderboard", "verify", str(result), "--suite", str(small_suite), "--no-progress"]) == 0
    document = read_json(result)
    document["results"][0]["average_cost"] += 1.0
    result.write_text(json.dumps(document))
    monkeypatch.setenv(SECRET_ENV, SECRET)
    assert main(["leaderboard", "verify", str(result), "--suite", str(small_suite), "--no-progress"]) == 1
    assert main(["leaderboard", "render", "--root", str(tmp_path / "quick"), "--suite", str(small_suite)]) == 0
    assert "cli-toy.json" in (tmp_path / "quick" / "LEADERBOARD.md").read_text()  # listed as rejected, not ranked
    assert main(["leaderboard", "submit", "--agent", "no_colon", "--name", "x", *args]) == 2


# === The rendered page, in a real headless browser ===


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB(A) non-interlaced PNG (what chromium writes) into rows of raw pixels."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0
    bpp = 3 if color == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):  # undo the PNG filters (RFC 2083, Sec. 6)
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, bpp, rows


def test_the_page_loads_without_console_errors_and_is_drawn_at_desktop_and_phone_width(quick_board, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium); the browser test is skipped")
    root, written = quick_board
    render(root=root)
    page = root / "site" / "index.html"
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--allow-file-access-from-files",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--enable-logging=stderr",
             "--v=0"]
    done = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=60,
                          check=True)
    dom = done.stdout
    assert 'data-ready="1"' in dom and 'data-js-errors="0"' in dom  # the page's script ran, nothing threw
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []  # chromium logs every console message and uncaught error to stderr
    for path in written["results"]:
        assert f"data-entry=\"{path.stem}\"" in dom
    tracks = {row["track"] for path in written["results"] for row in read_json(path)["results"]}
    for track in tracks:  # every track has its section, its bar panel and its scatter panel
        assert f'id="track-{track}"' in dom and f'id="gap-{track}"' in dom and f'id="scatter-{track}"' in dom
    for width in (1280, 390):
        shot = tmp_path / f"page{width}.png"
        subprocess.run([*flags, f"--screenshot={shot}", f"--window-size={width},1400", page.as_uri()],
                       capture_output=True, timeout=60, check=True)
        png_width, bpp, rows = _png_pixels(shot)
        assert png_width == width
        colored = sum(1 for row in rows for i in range(0, len(row), bpp)
                      if max(row[i:i + 3]) - min(row[i:i + 3]) > 60)  # saturated pixels: swatches, bars, points
        assert colored > 2000, width
