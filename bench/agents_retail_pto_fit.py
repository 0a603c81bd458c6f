"""Does predict-then-optimize's quantile fit stop at its iteration cap, and does a higher cap change its figures?

Run: ``python -m bench.agents_retail_pto_fit`` or ``--lead-times 2 --caps 60 1000``. A benchmark, never a test;
it changes no default (the leaderboard's PredictThenOptimize rows use the default cap of 60).

:class:`~invgym.baselines.predict_then_optimize.QuantileRegression` runs Hunter & Lange's MM iterations until the
coefficients move by less than 1e-6 (max norm) or ``iterations`` (60) have run. For each lead time and each cap
in ``--caps`` this script fits :class:`~invgym.baselines.PredictThenOptimize` on the train window exactly as the
default does (same rows, same seed), with only the cap changed, and prints how many MM iterations the fit ran
(counted by the number of linear solves; fewer than the cap means it converged), the train pinball loss, the
largest coefficient change against the default fit, and the cost on the leaderboard's retail protocol (all 200
products over the 2016 test window, 200 envs x 366 days, seed 0) with the paired per-env difference to the
default fit (positive: less profit).
"""

from __future__ import annotations

import argparse
import time
import types

import numpy as np

import invgym
import invgym.baselines.predict_then_optimize as pto_module
from bench.agents_common import paired
from invgym.baselines import PredictThenOptimize
from invgym.baselines.predict_then_optimize import QuantileRegression

ENV_ID = "invgym/Retail-v0"
TEST = {"num_envs": 200, "periods": 366, "warmup": 0, "seed": 0}  # the leaderboard's retail protocol
DEFAULT_CAP = QuantileRegression(0.5).iterations


def fit_with_cap(cap: int, **env) -> tuple[PredictThenOptimize, int]:
    """``PredictThenOptimize.fit(ENV_ID, **env)`` with the MM iteration cap ``cap``; the policy and its MM count.

    The cap is set through a subclass bound in the module for the duration of the fit; the iterations are
    counted by wrapping the module's ``np.linalg.solve`` (one solve for the least-squares start, one per MM
    iteration). Both are restored afterwards.
    """
    calls = [0]

    def counted_solve(a, b):
        calls[0] += 1
        return np.linalg.solve(a, b)

    class Capped(QuantileRegression):
        def __init__(self, quantile: float, **kwargs) -> None:
            super().__init__(quantile, **{**kwargs, "iterations": cap})

    proxy = types.SimpleNamespace(**{name: getattr(np, name) for name in dir(np) if not name.startswith("__")})
    proxy.linalg = types.SimpleNamespace(solve=counted_solve)
    saved = pto_module.QuantileRegression, pto_module.np
    pto_module.QuantileRegression, pto_module.np = Capped, proxy
    try:
        policy = PredictThenOptimize.fit(ENV_ID, **env)
    finally:
        pto_module.QuantileRegression, pto_module.np = saved
    return policy, calls[0] - 1


def main() -> None:
    """Fit PredictThenOptimize per lead time and cap; print iterations, pinball and test cost."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lead-times", nargs="+", type=int, default=[0, 2, 5])
    parser.add_argument("--caps", nargs="+", type=int, default=[DEFAULT_CAP, 250, 1000])
    args = parser.parse_args()
    if DEFAULT_CAP not in args.caps:
        parser.error(f"--caps must include the default cap {DEFAULT_CAP} (the reference of the paired differences)")
    print(f"Retail-v0, all 200 products; PredictThenOptimize fitted on the train window (its defaults, MM cap "
          f"varied; default {DEFAULT_CAP}), evaluated on the 2016 test window on the kernel ({TEST['num_envs']} "
          f"envs x {TEST['periods']} days, seed {TEST['seed']})")
    print(f"{'L':>2} {'cap':>5} {'MM iters':>8} {'converged':>9} {'train pinball':>13} {'max |dcoef|':>11} "
          f"{'cost':>8} {'+-se':>6} {'vs cap ' + str(DEFAULT_CAP):>10} {'+-se':>6} {'service':>8} {'fit CPU s':>9}")
    for lead_time in args.lead_times:
        env = {"product": "all", "lead_time": lead_time}
        fits = {}
        for cap in sorted(set(args.caps)):
            start = time.process_time()
            policy, iterations = fit_with_cap(cap, **env)
            fits[cap] = (policy, iterations, time.process_time() - start)
        reference = fits[DEFAULT_CAP][0]
        base = invgym.evaluate(reference, ENV_ID, **TEST, **env, split="test")
        for cap, (policy, iterations, cpu) in fits.items():
            result = base if cap == DEFAULT_CAP else invgym.evaluate(policy, ENV_ID, **TEST, **env, split="test")
            diff, se = paired(result, base)
            change = float(np.max(np.abs(policy.model.coef - reference.model.coef)))
            print(f"{lead_time:>2} {cap:>5} {iterations:>8} {'yes' if iterations < cap else 'no':>9} "
                  f"{policy.info['train_pinball']:>13.6f} {change:>11.2e} {result.average_cost:>8.3f} "
                  f"{result.stderr:>6.3f} {diff:>+10.4f} {se:>6.4f} {result.metrics['service_level']:>8.3f} "
                  f"{cpu:>9.1f}", flush=True)
    print(f"\nwhole command: {time.process_time():.1f} CPU s")


if __name__ == "__main__":
    main()
