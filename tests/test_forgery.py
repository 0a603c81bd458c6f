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
    for root in (tmp_path / "board", tmp_path / "board" / "quick"):
        (root / "results").mkdir(parents=True)
        (root / "results" / "BaseStock.json").write_text(json.dumps(full))
        (root / "results" / "sneaky.json").write_text(json.dumps(_rehashed(quick)))
    entries, rejected = collect(tmp_path / "board", suite)
    assert [e["name"] for e in entries] == ["BaseStock"]
    assert [name for name, _ in rejected] == ["sneaky.json"] and "quick protocol" in rejected[0][1]
    entries, rejected = collect(tmp_path / "board" / "quick", suite)
    assert [e["name"] for e in entries] == ["sneaky"] and [n for n, _ in rejected] == ["BaseStock.json"]
