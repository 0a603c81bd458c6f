"""Generate ``leaderboard/suite.json``: the tracks, their instances and how each reference cost was computed.

Run ``python -m invgym.leaderboard.make_suite`` (a few minutes). For every instance the script records

- ``reference``: the exact optimum from ``solve_exact`` where the state space fits (``max_states`` below), else
  the lowest cost among the built-in OR baselines fitted on the instance and evaluated with ``REFERENCE_PROTOCOL``
  (with every candidate's cost in ``details``); the panel tracks (retail, replenishment) have no exact solver and
  use their own instance protocol (every product over the test window) on other seeds instead;
- ``naive``: the family's standard policy (``leaderboard/baselines.py: naive_policy``), evaluated likewise;
- ``published``: the literature's number where there is one, so a test can check the reference against it.

Tracks whose environment is not registered in this version of invgym are left out (they appear when their
scenario lands); bump ``SUITE_VERSION`` whenever an instance, protocol or reference changes. ``--tracks retail
replenishment`` recomputes only those tracks and copies every other track unchanged from the existing suite file
(how 1.2.0 replaced the panel references, see ``SUITE_VERSION``).
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path
from typing import Any

import invgym
from invgym.leaderboard._io import atomic_write_json
from invgym.leaderboard.baselines import available_baselines, naive_policy
from invgym.leaderboard.record import git_commit
from invgym.leaderboard.suite import DEFAULT_SUITE, decode_kwargs, load_suite
from invgym.registration import ENV_IDS

# 1.2.0: the panel tracks' (retail, replenishment) references and naive costs recomputed with the thread-independent
# PredictThenOptimize fit (1.1.0's were made with the BLAS-thread-dependent one); every other track is 1.1.0's, byte
# for byte. A minor bump: the instances and protocols are unchanged, only references (hence scores) moved, and the
# suite's sha256 (which every result file records) changes, so every 1.1.0 result file is re-run.
SUITE_VERSION = "1.2.0"
DEFAULT_PROTOCOL = {"num_envs": 64, "periods": 10_000, "warmup": 1_000, "seed": 0}
QUICK_PROTOCOL = {"num_envs": 16, "periods": 2_000, "warmup": 200, "seed": 0}
# References are simulated on their own seeds (far from the public seeds 0..63 and the fits' 2^40 + i) and longer.
# Dual-sourcing costs (~220 per period, gaps of 0.1 %) need longer runs to tell the heuristics apart.
DUAL_SOURCING_PROTOCOL = {"num_envs": 64, "periods": 40_000, "warmup": 1_000, "seed": 0}
REFERENCE_PROTOCOL = {"num_envs": 256, "periods": 20_000, "warmup": 1_000, "seed": 10**6}
MAX_EXACT_STATES = 300_000
# Panel scenarios (retail, replenishment): every product of the default synthetic panel over its whole test
# window (2016), once: env i runs product i, demand is the panel's, so no warm-up and no wrap-around. The
# baselines fit on the train window (2014-15) only. Seeds only move Replenishment's vendor lead-time draws.
PANEL_KWARGS = {"product": "all", "split": "test"}

# Zipkin (2008), Table 3: optimal average cost, Poisson(5), h = 1, by (p, L) (see /work/shared/references.md).
ZIPKIN_OPTIMAL = {
    4: (4.04, 4.40, 4.60, 4.73), 9: (5.44, 6.09, 6.53, 6.84),
    19: (6.68, 7.66, 8.36, 8.89), 39: (7.84, 9.11, 10.04, 10.79),
}


def _gijsbrechts() -> dict[tuple[int, int], dict[str, Any]]:
    """Published gaps (%) above the optimum of the four heuristics, by (l_r, c_e), from the tests' data file."""
    path = Path(__file__).resolve().parent.parent / "tests" / "data" / "gijsbrechts_2022_dual_sourcing.json"
    if not path.is_file():  # an installed package has no tests/: the suite is generated from a checkout
        return {}
    from invgym.leaderboard._io import read_json

    data = read_json(path)
    out = {}
    for key, gaps in data["gaps_percent"].items():
        lr, ce = (int(v) for v in key.split(","))
        out[(lr, ce)] = {"gaps_pct": gaps,
                         "source": "Gijsbrechts et al. (2022), Sec. 6.2 (gaps above the optimum)"}
    return out


def panel_protocol(env: str, seed: int) -> dict[str, int]:
    """Every product of the default panel once, over the whole test window (sized from the panel itself)."""
    from invgym.envs.common import config_for

    config = config_for(env, **PANEL_KWARGS)
    return {"num_envs": config.panel.num_products, "periods": config.window[1], "warmup": 0, "seed": seed}


def track_specs() -> list[dict[str, Any]]:
    """The tracks and their instances (env id, kwargs, quick flag, published numbers), before references."""
    lost_sales = [
        {"id": f"lost-sales/L{lead}-p{p}", "env": "invgym/LostSales-v0",
         "kwargs": {"lead_time": lead, "lost_sales_cost": float(p)},
         "quick": (lead, p) in ((1, 9), (2, 39)),
         "published": {"optimal": ZIPKIN_OPTIMAL[p][lead - 1], "source": "Zipkin (2008), Table 3"}}
        for p in (4, 9, 19, 39) for lead in (1, 2, 3, 4)
    ]
    long_lead = [
        {"id": f"long-lead/L{lead}-p9", "env": "invgym/LostSales-v0",
         "kwargs": {"lead_time": lead, "lost_sales_cost": 9.0}, "quick": lead == 6}
        for lead in (6, 8, 10)
    ]
    removal = [
        {"id": "removal/L0-lost-p9", "env": "invgym/ProcurementRemoval-v0",
         "kwargs": {"lead_time": 0, "lost_sales_cost": 9.0}, "quick": True},
        {"id": "removal/L1-backlog-b9", "env": "invgym/ProcurementRemoval-v0",
         "kwargs": {"lead_time": 1, "backlog": True, "backorder_cost": 9.0}},
        {"id": "removal/L2-lost-p19", "env": "invgym/ProcurementRemoval-v0",
         "kwargs": {"lead_time": 2, "lost_sales_cost": 19.0}},
    ]
    # Gijsbrechts et al. (2022, Sec. 6.2): uniform {0..4} demand, l_e = 0, c_r = 100, h = 5, b = 495; their six
    # non-consecutive cells, and consecutive ones (l_r = l_e + 1), where the dual index is optimal (Fukuda 1964).
    published = _gijsbrechts()
    dual = [
        {"id": f"dual-sourcing/consecutive-le{le}-lr{le + 1}-ce{ce}", "env": "invgym/DualSourcing-v0",
         "kwargs": {"expedited_lead_time": le, "regular_lead_time": le + 1, "expedited_cost": float(ce)},
         "quick": (le, ce) == (0, 105)}
        for le, ce in ((0, 105), (0, 110), (1, 105))
    ] + [
        {"id": f"dual-sourcing/le0-lr{lr}-ce{ce}", "env": "invgym/DualSourcing-v0",
         "kwargs": {"expedited_lead_time": 0, "regular_lead_time": lr, "expedited_cost": float(ce)},
         **({"published": published[(lr, ce)]} if (lr, ce) in published else {})}
        for lr in (2, 3, 4) for ce in (105, 110)
    ]
    # De Moor, Gijsbrechts & Boute (2022), scenario A: gamma demand (mean 4, CV 0.5), lost sale 5, holding 1,
    # ordering 3 (the env's defaults); shelf life m, lead time L, outdating cost and issuing rule vary.
    perishable = [
        {"id": f"perishable/m{m}-L{lead}-{issuing}-w{waste}", "env": "invgym/Perishable-v0",
         "kwargs": {"shelf_life": m, "lead_time": lead, "issuing": issuing, "outdating_cost": float(waste)},
         "quick": (m, lead, issuing) == (2, 1, "fifo")}
        for m, lead, issuing, waste in ((2, 1, "fifo", 7), (2, 1, "lifo", 7), (3, 1, "fifo", 10), (3, 2, "fifo", 7),
                                        (4, 2, "fifo", 10), (5, 2, "lifo", 7))
    ]
    # Madeka et al. (2022): one policy for every product, censored sales, lost sales, vendor lead time L.
    retail = [
        {"id": f"retail/L{lead}", "env": "invgym/Retail-v0", "kwargs": {**PANEL_KWARGS, "lead_time": lead},
         "quick": lead == 2}
        for lead in (0, 2, 5)
    ]
    # Zhao et al. (2025), JD: review days, case packs, MOQ, capacity, random vendor lead times.
    replenishment = [
        {"id": f"replenishment/R{review}" + (f"-b{penalty:g}" if penalty else ""), "env": "invgym/Replenishment-v0",
         "kwargs": {**PANEL_KWARGS, "review_period": review, "lost_sales_penalty": penalty},
         "quick": (review, penalty) == (7, 0.0)}
        for review, penalty in ((7, 0.0), (3, 0.0), (7, 0.5))
    ]
    # --quick keeps the whole protocol here: one pass over the test window takes a fraction of a second, while
    # the suite's quick protocol (16 envs, 2000 days) would wrap the window and make costs incomparable with the
    # reference; quick mode shrinks the baselines' fits instead (leaderboard/baselines.py).
    panel = {env: {"protocol": panel_protocol(env, 0), "quick_protocol": panel_protocol(env, 0),
                   "reference_protocol": panel_protocol(env, 10**6)}
             for env in ("invgym/Retail-v0", "invgym/Replenishment-v0") if env in ENV_IDS}
    return [
        {"id": "lost-sales", "title": "Lost sales (Zipkin 2008)",
         "description": "Zipkin's 16 cells: Poisson(5) demand, h = 1, p in {4, 9, 19, 39}, lead time 1 to 4; "
                        "reference: the exact optimum.", "instances": lost_sales},
        {"id": "long-lead", "title": "Lost sales, long lead times",
         "description": "Poisson(5), h = 1, p = 9, L = 6, 8, 10: too large to solve exactly; reference: the best "
                        "OR baseline.", "instances": long_lead},
        {"id": "perishable", "title": "Perishable inventory (De Moor et al. 2022)",
         "description": "Fixed shelf life m, lead time L, FIFO or LIFO issuing, gamma demand; reference: the exact "
                        "optimum where it fits (m L <= 6), else the best OR baseline.", "instances": perishable},
        {"id": "dual-sourcing", "title": "Dual sourcing (Gijsbrechts et al. 2022)",
         "description": "Regular and expedited supplier, full backlogging, uniform {0..4} demand; consecutive "
                        "(l_r = l_e + 1) and non-consecutive lead times; reference: the exact optimum.",
         "protocol": DUAL_SOURCING_PROTOCOL, "instances": dual},
        {"id": "removal", "title": "Procurement and removal (Maggiar & Sadighian)",
         "description": "Order or remove stock each period; purchase 2, salvage 1, h = 1; reference: the exact "
                        "optimum.", "instances": removal},
        {"id": "retail", "title": "Retail panel (Madeka et al. 2022)",
         "description": "One policy for all 200 products of the synthetic panel, censored sales, lost sales, vendor "
                        "lead time L = 0, 2, 5; fit on 2014-15, evaluated on every product over 2016. Cost = "
                        "purchase + holding - revenue (negative: a profit); gaps are relative to |reference|; "
                        "reference: the best OR baseline.", **panel.get("invgym/Retail-v0", {}), "instances": retail},
        {"id": "replenishment", "title": "JD replenishment (Zhao et al. 2025)",
         "description": "200 SKUs of the synthetic panel with review days (R = 7 or 3), case packs, MOQ, capacity "
                        "and random vendor lead times; lost-sales penalty b = 0 or 0.5 p; fit on 2014-15, evaluated "
                        "on every SKU over 2016; reference: the best OR baseline.",
         **panel.get("invgym/Replenishment-v0", {}), "instances": replenishment},
    ]


def _simulate(policy: Any, env: str, kwargs: dict[str, Any],
              protocol: dict[str, int] = REFERENCE_PROTOCOL) -> tuple[float, float]:
    result = invgym.evaluate(policy, env, **protocol, **kwargs)
    return result.average_cost, result.stderr


def _exact(config: Any) -> Any:
    """Solve exactly with the scenario's declared solver (ValueError when it declares none or refuses)."""
    from invgym.baselines.exact import solve_exact

    return solve_exact(config, max_states=MAX_EXACT_STATES)


def reference(instance: dict[str, Any], config: Any,
              protocol: dict[str, int] = REFERENCE_PROTOCOL) -> dict[str, Any]:
    """The exact optimum where it fits, else the best built-in baseline simulated under ``protocol``."""
    kwargs = decode_kwargs(instance["kwargs"])
    try:
        start = time.perf_counter()
        solution = _exact(config)
        return {"cost": solution.average_cost, "stderr": 0.0, "method": "solve_exact",
                "details": {"num_states": solution.num_states, "iterations": solution.iterations,
                            "span": solution.span, "seconds": round(time.perf_counter() - start, 2),
                            "note": "relative value iteration; the cost is within span/2 of the optimum"}}
    except ValueError as exc:
        why = str(exc)
    from invgym.baselines.common import family_of

    candidates = {}
    for baseline in available_baselines():
        if not baseline.serves(family_of(config)) or not baseline.applies(config):
            continue
        policy = baseline.load().fit(config)
        cost, stderr = _simulate(policy, instance["env"], kwargs, protocol)
        candidates[baseline.name] = {"policy": repr(policy), "cost": cost, "stderr": stderr}
    best = min(candidates, key=lambda name: candidates[name]["cost"])
    return {"cost": candidates[best]["cost"], "stderr": candidates[best]["stderr"], "method": "best OR baseline",
            "policy": candidates[best]["policy"],
            "details": {"exact_refused": why, "protocol": protocol, "candidates": candidates,
                        "note": "each baseline fitted with its package defaults, then evaluated with "
                                "invgym.evaluate under this protocol"}}


def naive(instance: dict[str, Any], config: Any, protocol: dict[str, int] = REFERENCE_PROTOCOL) -> dict[str, Any]:
    """The cost of the family's naive policy (score 0), by simulation under ``protocol``."""
    policy, description = naive_policy(config)
    cost, stderr = _simulate(policy, instance["env"], decode_kwargs(instance["kwargs"]), protocol)
    return {"cost": cost, "stderr": stderr, "method": "simulation", "policy": description,
            "details": {"protocol": protocol}}


def make_suite(path: str | Path = DEFAULT_SUITE, verbose: bool = True, only: list[str] | None = None) -> Path:
    """Compute every instance's reference and naive cost and write the suite file atomically.

    Args:
        path: where to write the suite.
        verbose: print each instance's reference and naive cost.
        only: recompute only these track ids; every other track is copied unchanged from the suite file at
            ``path`` (which must exist and hold them).
    """
    from invgym.envs.common import config_for
    from invgym.leaderboard._io import read_json

    specs = track_specs()
    kept: dict[str, Any] = {}
    if only is not None:
        known = [track["id"] for track in specs]
        unknown = sorted(set(only) - set(known))
        if unknown:
            raise ValueError(f"The 'only' parameter of make_suite must name tracks in {known}. Got {unknown} instead.")
        kept = {track["id"]: track for track in read_json(path)["tracks"]}
        missing = sorted(set(known) - set(only) - set(kept))
        if missing:
            raise ValueError(f"{path} has no track {missing} to keep: recompute it too (or the whole suite).")
    tracks = []
    for track in specs:
        if only is not None and track["id"] not in only:
            tracks.append(kept[track["id"]])
            continue
        unknown = sorted({inst["env"] for inst in track["instances"]} - set(ENV_IDS))
        if unknown:  # the tracks are defined here: an id no scenario declares is a mistake, never left out
            raise ValueError(f"track {track['id']!r} uses {unknown}, which no scenario in invgym.scenarios declares.")
        instances = []
        ref_protocol = track.get("reference_protocol", REFERENCE_PROTOCOL)
        for inst in track["instances"]:
            config = config_for(inst["env"], **decode_kwargs(inst["kwargs"]))
            row = {"id": inst["id"], "env": inst["env"], "kwargs": inst["kwargs"], "quick": inst.get("quick", False),
                   "protocol": track.get("protocol", DEFAULT_PROTOCOL),
                   "reference": reference(inst, config, ref_protocol), "naive": naive(inst, config, ref_protocol)}
            if "quick_protocol" in track:
                row["quick_protocol"] = track["quick_protocol"]
            if "published" in inst:
                row["published"] = inst["published"]
            instances.append(row)
            if verbose:
                print(f"{inst['id']}: reference {row['reference']['cost']:.4f} ({row['reference']['method']}), "
                      f"naive {row['naive']['cost']:.4f}", flush=True)
        tracks.append({"id": track["id"], "title": track["title"], "description": track["description"],
                       "instances": instances})
    document = {
        "name": "invgym-suite", "version": SUITE_VERSION,
        "generated_by": "python -m invgym.leaderboard.make_suite",
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "invgym_version": invgym.__version__, "git_commit": git_commit(),
        "notes": "Env i of an instance is seeded with protocol.seed + i (the public seeds); verify re-evaluates on "
                 "held-out seeds derived from the maintainer secret.",
        "quick_protocol": QUICK_PROTOCOL, "tracks": tracks,
    }
    written = atomic_write_json(path, document)
    load_suite(written)  # validate what was written
    return written


def main() -> None:
    """Command-line entry: ``python -m invgym.leaderboard.make_suite [--out PATH]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEFAULT_SUITE), help="where to write the suite (default: %(default)s)")
    parser.add_argument("--tracks", nargs="+", default=None,
                        help="recompute only these tracks, copying the others from the existing --out file")
    args = parser.parse_args()
    print(f"wrote {make_suite(args.out, only=args.tracks)}")


if __name__ == "__main__":
    main()
