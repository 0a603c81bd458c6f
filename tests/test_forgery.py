"""Issue 14: a dishonest submitter's attacks that earlier tests did not cover (each must be refused)."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest

from invgym.leaderboard import submit
from invgym.leaderboard._io import read_json
from invgym.leaderboard.record import check_document, content_hash, load_document
from invgym.leaderboard.verify import _impossible

BOARD = Path(__file__).resolve().parent.parent / "leaderboard"


def _rehashed(document):
    document["integrity"]["sha256"] = content_hash(document)
    return document


@pytest.mark.parametrize("key", ["average_cost", "stderr", "ci95", "gap_pct", "score"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_number_in_a_result_row_is_rejected(tmp_path, key, value):
    # A NaN stderr compared as "not different" from the env costs' and made verify's impossibility margin NaN
    # (every cost passed it); a NaN cost or score broke the board's sort. The forger re-hashes the file.
    document = copy.deepcopy(read_json(BOARD / "results" / "BaseStock.json"))
    assert check_document(document) == []
    row = document["results"][0]
    row[key] = [value, value] if key == "ci95" else value
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(_rehashed(document)))  # json writes NaN / Infinity literals, and reads them back
    _, problems = load_document(path)
    # refused by the schema (a negative stderr) or as not finite: either way, naming the field
    assert any(key in p and ("not a finite number" in p or "schema violation" in p) for p in problems), problems


def test_a_nan_claimed_stderr_cannot_widen_the_impossibility_margin():
    class Instance:
        reference = {"method": "solve_exact", "cost": 5.0}

    claim = {"instance": "x", "average_cost": 4.0, "stderr": math.nan}
    assert _impossible(claim, {"average_cost": 4.0, "stderr": 0.01}, Instance(), 3.0)  # still impossible


def test_a_submission_cannot_take_a_baselines_or_a_learned_entrys_name(tmp_path):
    root = tmp_path / "board"
    (root / "results").mkdir(parents=True)
    toy = str(BOARD / "toy_agent.py") + ":make_agent"
    for name in ("BaseStock", "basestock", "CAPPEDDUALINDEX"):  # a built-in baseline, in any case
        with pytest.raises(ValueError, match=r"The 'name' parameter must not be .*built-in baseline"):
            submit(toy, name, root=root, quick=True, progress=False)
    learned = read_json(BOARD / "results" / "PPO.json")
    (root / "results" / "PPO.json").write_text(json.dumps(learned))
    with pytest.raises(ValueError, match=r"The 'name' parameter must not be .*learned board entry"):
        submit(toy, "PPO", root=root, quick=False, progress=False)
    with pytest.raises(ValueError, match="differs only in case"):
        submit(toy, "ppo", root=root, quick=False, progress=False)
    assert read_json(root / "results" / "PPO.json") == learned  # nothing replaced


def test_a_quick_protocol_file_does_not_rank_on_the_full_board(tmp_path):
    # A quick run covers a few instances over fewer periods: copied into the full board's results/, it would
    # rank in the per-track tables against full-protocol entries. It is listed as rejected instead.
    from invgym.leaderboard.render import collect
    from invgym.leaderboard.suite import load_suite

    suite = load_suite()
    full = read_json(BOARD / "results" / "BaseStock.json")
    quick = copy.deepcopy(full)
    quick["name"], quick["protocol"] = "sneaky", "quick"
    # shaped as a quick run's file (render checks the instances and env counts against the recorded protocol)
    quick["results"] = [row for row in quick["results"] if suite.instance(row["instance"]).quick]
    for row in quick["results"]:
        instance = suite.instance(row["instance"])
        _reseat(row, row["env_costs"][:suite.protocol(instance, True).num_envs], instance)
    for root in (tmp_path / "board", tmp_path / "board" / "quick"):
        (root / "results").mkdir(parents=True)
        (root / "results" / "BaseStock.json").write_text(json.dumps(full))
        (root / "results" / "sneaky.json").write_text(json.dumps(_rehashed(quick)))
    entries, rejected = collect(tmp_path / "board", suite)
    assert [e["name"] for e in entries] == ["BaseStock"]
    assert [name for name, _ in rejected] == ["sneaky.json"] and "quick protocol" in rejected[0][1]
    entries, rejected = collect(tmp_path / "board" / "quick", suite)
    assert [e["name"] for e in entries] == ["sneaky"] and [n for n, _ in rejected] == ["BaseStock.json"]


def _reseat(row, costs, instance):
    """Give an ok row these per-seed costs, with the average, stderr, CI, gap and score that follow from them."""
    from invgym.leaderboard.scoring import score_instance

    n = len(costs)
    row["env_costs"] = [float(c) for c in costs]
    row["average_cost"] = math.fsum(row["env_costs"]) / n
    row["stderr"] = math.sqrt(math.fsum((c - row["average_cost"]) ** 2 for c in row["env_costs"]) / (n - 1) / n)
    row["ci95"] = [row["average_cost"] - 1.96 * row["stderr"], row["average_cost"] + 1.96 * row["stderr"]]
    row.update({k: score_instance(row, instance)[k] for k in ("gap_pct", "score")})
    return row


def _forged_below_the_optimum(document, suite, index, factor, spread):
    """A careful forger's file: row ``index`` moved to ``factor`` times its exact optimum, then re-hashed.

    Its per-seed costs stay consistent with it (their standard error ``spread`` times the expected one), and its
    gap and score are recomputed.
    """
    import numpy as np

    from invgym.leaderboard.verify import expected_stderr

    row = document["results"][index]
    instance = suite.instance(row["instance"])
    assert instance.reference["method"] == "solve_exact"
    deviations = np.asarray(row["env_costs"]) - np.mean(row["env_costs"])
    target = spread * expected_stderr(instance, suite.protocol(instance, False))
    deviations *= target / (deviations.std(ddof=1) / math.sqrt(len(deviations)))
    _reseat(row, factor * instance.reference["cost"] + deviations, instance)
    assert math.isclose(row["stderr"], target)
    return _rehashed(document)


def test_every_committed_result_file_passes_the_checks_render_makes():
    from invgym.leaderboard.suite import load_suite
    from invgym.leaderboard.verify import static_problems

    suite = load_suite()
    files = sorted((BOARD / "results").glob("*.json"))
    assert len(files) >= 15
    for path in files:
        document, problems = load_document(path)
        assert problems == [] and static_problems(document, suite) == [], (path.name, problems)


@pytest.mark.parametrize("spread", [1.0, 100.0])
def test_render_refuses_a_rehashed_forgery_below_the_exact_optimum(tmp_path, spread):
    # Before, render checked only the schema and the hash: a forger who re-hashed the file ranked #1 until verify
    # rejected it. With spread 100 the per-seed costs' own standard error would widen the margin past the forged
    # 10 % (z * stderr ~ 1.4 against 0.4): the margin trusts at most PLAUSIBLE_STDERR_FACTOR times the expected one.
    from invgym.leaderboard.render import collect, render
    from invgym.leaderboard.suite import load_suite

    suite = load_suite()
    honest = read_json(BOARD / "results" / "BaseStock.json")
    forged = _forged_below_the_optimum(copy.deepcopy(honest), suite, 0, 0.9, spread)
    forged["name"] = "Forged"
    forged = _rehashed(forged)
    assert check_document(forged) == []  # schema and hash sound: render used to rank it
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "BaseStock.json").write_text(json.dumps(honest))
    (tmp_path / "results" / "Forged.json").write_text(json.dumps(forged))
    entries, rejected = collect(tmp_path, suite)
    assert [e["name"] for e in entries] == ["BaseStock"]
    assert [name for name, _ in rejected] == ["Forged.json"]
    assert "impossible: the claimed cost" in rejected[0][1] and forged["results"][0]["instance"] in rejected[0][1]
    render(root=tmp_path, suite=None)
    board = (tmp_path / "LEADERBOARD.md").read_text()
    assert "| Forged |" not in board and "- `Forged.json`: " in board.split("## Rejected result files")[1]


@pytest.mark.parametrize("forgery", ["dropped", "rescored", "env_costs"])
def test_render_refuses_other_rehashed_forgeries(tmp_path, forgery):
    from invgym.leaderboard.render import collect
    from invgym.leaderboard.suite import load_suite

    suite = load_suite()
    document = copy.deepcopy(read_json(BOARD / "results" / "BaseStock.json"))
    if forgery == "dropped":  # the worst instance of a track left out
        worst = max(range(len(document["results"])), key=lambda i: document["results"][i].get("gap_pct") or 0)
        del document["results"][worst]
        expected = "incomplete: track"
    elif forgery == "rescored":  # a flattering score beside an honest cost
        document["results"][0]["score"] = 100.0
        expected = "the claimed score 100.0 does not follow from its cost"
    else:  # half of the per-seed costs (consistent mean and stderr): fewer envs than the protocol runs
        row = document["results"][0]
        _reseat(row, row["env_costs"][: len(row["env_costs"]) // 2], suite.instance(row["instance"]))
        expected = "env_costs, but the protocol runs"
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "BaseStock.json").write_text(json.dumps(_rehashed(document)))
    assert check_document(document) == []
    entries, rejected = collect(tmp_path, suite)
    assert entries == [] and len(rejected) == 1 and expected in rejected[0][1], rejected


# === an artifact swapped between its hash and its load ===

LOST_SALES = ("invgym/LostSales-v0", {"lead_time": 1, "lost_sales_cost": 9.0})


def _swap_after_first_open(monkeypatch, target, replacement):
    """From the first time anything opens ``target``, the file on disk is ``replacement`` (a new inode).

    The opener that triggered it still reads the original bytes (its handle is on the old inode), every later
    open reads the replacement: the race a submitter could win on the evaluating machine, made certain.
    """
    import builtins
    import io
    import os

    target = os.path.realpath(target)
    real_open, real_open_code = io.open, io.open_code
    swapped = []

    def swap(file):
        if not swapped and isinstance(file, (str, os.PathLike)) and os.path.realpath(os.fspath(file)) == target:
            swapped.append(file)
            with real_open(target + ".swap", "wb") as handle:
                handle.write(replacement)
            os.replace(target + ".swap", target)

    def opener(file, *args, **kwargs):
        handle = real_open(file, *args, **kwargs)
        swap(file)
        return handle

    def open_code(path):
        handle = real_open_code(path)
        swap(path)
        return handle

    monkeypatch.setattr(builtins, "open", opener)
    monkeypatch.setattr(io, "open", opener)
    monkeypatch.setattr(io, "open_code", open_code)
    return swapped


FACTORY = """
import numpy as np

def make_agent(env):
    return lambda obs: np.full(len(obs), {order}, dtype=np.int64)
"""


@pytest.mark.parametrize("named", ["file", "module"])
def test_a_python_factory_swapped_after_its_hash_does_not_run(tmp_path, monkeypatch, named):
    # Before, build_policy hashed the file, then imported it by path: a factory swapped in between ran under
    # the honest file's hash. Now the bytes read once are both hashed and executed.
    import sys

    import numpy as np

    from invgym.leaderboard.agents import build_policy, parse_agent

    file = tmp_path / "swapmod.py"
    file.write_text(FACTORY.format(order=0))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "swapmod", raising=False)
    spec = parse_agent(f"{file}:make_agent" if named == "file" else "swapmod:make_agent")
    swapped = _swap_after_first_open(monkeypatch, file, FACTORY.format(order=7).encode())
    try:
        policy = build_policy({**spec.as_dict(), "path": spec.path}, *LOST_SALES)
    finally:
        sys.modules.pop("swapmod", None)
    assert swapped and "order}, dtype" not in file.read_text() and "7, dtype" in file.read_text()  # it was swapped
    assert np.array_equal(policy(np.zeros((3, 1))), [0, 0, 0])  # ... and the hashed factory is the one that ran


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_a_torchscript_model_swapped_after_its_hash_does_not_load(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    import numpy as np

    from invgym.leaderboard.agents import build_policy, parse_agent

    class Constant(torch.nn.Module):
        def __init__(self, value: float):
            super().__init__()
            self.value = value

        def forward(self, obs):
            return torch.full((obs.shape[0],), self.value)

    honest, evil = tmp_path / "policy.pt", tmp_path / "evil.pt"
    torch.jit.script(Constant(0.0)).save(str(honest))
    torch.jit.script(Constant(7.0)).save(str(evil))
    spec = parse_agent(str(honest))
    swapped = _swap_after_first_open(monkeypatch, honest, evil.read_bytes())
    policy = build_policy({**spec.as_dict(), "path": spec.path}, *LOST_SALES)
    assert swapped and honest.read_bytes() == evil.read_bytes()
    assert np.array_equal(policy(np.zeros((3, 1), dtype=np.float32)), [0.0, 0.0, 0.0])


def test_an_artifact_changed_before_it_is_read_is_refused(tmp_path):
    from invgym.leaderboard.agents import build_policy, parse_agent

    file = tmp_path / "agent.py"
    file.write_text(FACTORY.format(order=0))
    spec = parse_agent(f"{file}:make_agent")
    file.write_text(FACTORY.format(order=7))
    with pytest.raises(RuntimeError, match="changed since it was hashed"):
        build_policy({**spec.as_dict(), "path": spec.path}, *LOST_SALES)


# === plagiarised baseline results ===


def test_a_submission_repeating_a_baselines_costs_is_listed_on_the_board(tmp_path):
    # A file made by wrapping a built-in baseline in one's own factory verifies (its claims hold for that agent).
    # What render can see: per-seed costs bit for bit a baseline's on every instance of a track. Learned entries
    # that share a baseline's policy on a few instances of a track are not listed.
    from invgym.leaderboard.render import collect, render
    from invgym.leaderboard.suite import load_suite

    suite = load_suite()
    (tmp_path / "results").mkdir()
    for name in ("BaseStock", "CappedBaseStock", "EstimatedWithdrawal", "KL-PPO"):
        (tmp_path / "results" / f"{name}.json").write_text((BOARD / "results" / f"{name}.json").read_text())
    copy_ = copy.deepcopy(read_json(BOARD / "results" / "CappedBaseStock.json"))
    copy_["name"], copy_["kind"] = "MyAgent", "submission"
    copy_["agent"] = {"kind": "python", "spec": "my_agent.py:make_agent", "algo": None, "sha256": "0" * 64}
    (tmp_path / "results" / "MyAgent.json").write_text(json.dumps(_rehashed(copy_)))
    entries, rejected = collect(tmp_path, suite)
    assert rejected == []
    flags = {e["name"]: e["copied_from"] for e in entries}
    tracks = sorted({r["track"] for r in copy_["results"]})
    counts = {t: sum(r["track"] == t and r["status"] == "ok" for r in copy_["results"]) for t in tracks}
    assert flags["MyAgent"] == [("CappedBaseStock", t, counts[t]) for t in tracks]
    # KL-PPO matches EstimatedWithdrawal on 3 of the 6 perishable instances: not listed; baselines never are
    assert flags["KL-PPO"] == [] and flags["BaseStock"] == [] and flags["EstimatedWithdrawal"] == []
    render(root=tmp_path)
    board = (tmp_path / "LEADERBOARD.md").read_text().split("## Identical to a baseline")[1]
    assert ("- MyAgent (submission, agent 'my_agent.py:make_agent'): per-seed costs bit for bit those of "
            f"CappedBaseStock on all {counts[tracks[0]]} {tracks[0]} instances") in board
    assert "KL-PPO" not in board
    assert "Identical to a baseline" in (tmp_path / "site" / "index.html").read_text()


def test_one_identical_instance_is_no_copy():
    from invgym.leaderboard.verify import copied_from

    def rows(*costs, track="t"):
        return [{"instance": f"{track}/{i}", "track": track, "status": "ok", "env_costs": c}
                for i, c in enumerate(costs)]

    baseline = {"B": rows([1.0, 2.0], [3.0, 4.0]) + rows([5.0], [6.0], track="u")}
    assert copied_from(rows([1.0, 2.0], [3.0, 4.0]), baseline) == [("B", "t", 2)]
    assert copied_from(rows([1.0, 2.0], [3.0, 4.5]), baseline) == []  # one instance of the track differs
    assert copied_from(rows([1.0, 2.0]), baseline) == []  # a single shared instance is no evidence
    mixed = rows([1.0, 2.0], [3.0, 4.0]) + rows([5.0], [6.5], track="u")
    assert copied_from(mixed, baseline) == [("B", "t", 2)]  # per track
