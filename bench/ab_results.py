"""Two builds of the package, same results: every compiled rollout's totals and final state, bit for bit.

Run: ``python -m bench.ab_results --old DIR`` from the repository root, with DIR as for ``bench.ab`` (a built copy
of the ``invgym`` package from before a kernel change; ``--new DIR`` names another build than this checkout).
Each build runs the same grid in a child process: every fixed policy of the lost-sales, dual-sourcing,
procurement-removal and perishable rollouts, with sampled and replayed demand, a warm-up, a second run that
continues from the first, lead times from 0 up, both issuing rules and two discounts, 5 envs seeded 3 + i. The
totals and every state array (streams, clocks, state rows) must be equal in both builds; the script prints the
number of runs compared and every difference, and exits 1 if there is one. A check of a kernel change, next to the
tests (which compare a kernel with its twin, its reference and its stepped self), not a benchmark.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile

import numpy as np

CHILD = r'''
import pickle, sys
import numpy as np
import invgym
from invgym.demand import Poisson
from invgym.envs.dual_sourcing import DualSourcingConfig
from invgym.envs.lost_sales import LostSalesConfig
from invgym.envs.perishable import PerishableConfig
from invgym.envs.procurement_removal import ProcurementRemovalConfig

out = {"invgym": invgym.__file__}


def run(tag, config, policy, params, replay, **kw):
    try:
        kernel = config.bind(5).reset(seed=3).kernel
        if replay:
            kernel.set_demand_path(np.random.default_rng(1).integers(0, 12, (5, 1000)).astype(float))
        first = kernel.rollout(policy, params, periods=60, warmup=7, **kw)
        again = {} if replay else kernel.rollout(policy, params, periods=30, **kw)
        out[tag] = ({**first, **{"again " + k: v for k, v in again.items()}}, kernel.get_state())
    except Exception as err:  # the same refusal in both builds is the same result
        out[tag] = repr(err)


for lr in (1, 2, 3, 4, 6):
    for le in range(min(lr, 3)):
        for lost in (False, True):
            c = DualSourcingConfig.validate("DualSourcingEnv", regular_lead_time=lr, expedited_lead_time=le,
                                            lost_sales=lost)
            for pol, prm in (("constant", [3.0, 1.0]), ("dual_index", [4.0, 9.0]), ("single_index", [4.0, 9.0]),
                             ("capped_dual_index", [4.0, 12.0, 3.0]), ("tailored_base_surge", [3.0, 6.0])):
                for rep in (False, True):
                    run(("dual sourcing", lr, le, lost, pol, rep), c, pol, prm, rep)
for L in range(6):
    for backlog in (False, True):
        for schedule in (False, True):
            kw = dict(lead_time=L, backlog=backlog)
            if schedule:
                kw["demand_schedule"] = [Poisson(3.0), Poisson(6.0), Poisson(4.0)]
            c = ProcurementRemovalConfig.validate("ProcurementRemovalEnv", **kw)
            phased = [8.0, 9.0, 7.0, 12.0, 13.0, 11.0] if schedule else [8.0, 12.0]
            for pol, prm in (("constant", [2.0]), ("constant", [-1.0]), ("interval", [8.0, 12.0]),
                             ("phased_interval", phased)):
                for rep in (False, True):
                    run(("removal", L, backlog, schedule, pol, tuple(prm), rep), c, pol, prm, rep)
for m in range(1, 6):
    for L in range(4):
        for issuing in ("fifo", "lifo"):
            c = PerishableConfig.validate("PerishableEnv", shelf_life=m, lead_time=L, issuing=issuing)
            for pol, prm in (("constant", [3.0]), ("base_stock", [11.0]), ("capped_base_stock", [11.0, 4.0]),
                             ("ewa", [11.0, 6.0, 4.0])):
                for rep in (False, True):
                    for discount in (1.0, 0.97):
                        run(("perishable", m, L, issuing, pol, rep, discount), c, pol, prm, rep, discount=discount)
for L in (0, 1, 2, 3, 5):
    c = LostSalesConfig.validate("LostSalesEnv", lead_time=L)
    for pol, prm in (("base_stock", [12.0]), ("constant", [4.0]), ("capped_base_stock", [12.0, 5.0])):
        for rep in (False, True):
            run(("lost sales", L, pol, rep), c, pol, prm, rep)
with open(sys.argv[1], "wb") as f:
    pickle.dump(out, f)
'''


def child(folder: str, path: str) -> dict:
    """Run the grid on the build in ``folder``; return its results by run."""
    env = dict(os.environ, PYTHONPATH=folder, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    subprocess.run([sys.executable, "-c", CHILD, path], cwd=folder, env=env, check=True)
    with open(path, "rb") as f:
        result = pickle.load(f)
    expected = os.path.realpath(os.path.join(folder, "invgym", "__init__.py"))
    if os.path.realpath(result.pop("invgym")) != expected:
        raise RuntimeError(f"the child imported invgym from outside {folder}")
    return result


def differences(old: dict, new: dict) -> list[str]:
    """Every run whose totals, state or refusal differ between the builds."""
    if old.keys() != new.keys():
        return [f"runs differ: {sorted(map(str, old.keys() ^ new.keys()))}"]
    found = []
    for tag, a in old.items():
        b = new[tag]
        if isinstance(a, str) or isinstance(b, str):
            if a != b:
                found.append(f"{tag}: {a} vs {b}")
            continue
        for what, x, y in (("totals", a[0], b[0]), ("state", a[1], b[1])):
            if x.keys() != y.keys() or any(not np.array_equal(x[k], y[k]) for k in x):
                found.append(f"{tag}: {what}")
    return found


def main() -> None:
    """Run the grid on both builds and print how many runs agree bit for bit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="folder holding the old build's invgym package")
    parser.add_argument("--new", default=os.path.join(os.path.dirname(__file__), ".."),
                        help="folder holding the new build's invgym package (default: this checkout)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = child(os.path.abspath(args.old), os.path.join(tmp, "old.pkl"))
        new = child(os.path.abspath(args.new), os.path.join(tmp, "new.pkl"))
    found = differences(old, new)
    refused = sum(isinstance(v, str) for v in old.values())
    print(f"{len(old)} rollouts compared ({refused} refused alike in both builds); {len(found)} differ")
    for line in found:
        print("  " + line)
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
