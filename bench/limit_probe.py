"""Every scenario's compiled whole-rollout against its compiled-limit probe (run: python -m bench.limit_probe).

The probes (bench/_probe.pyx) are minimal Cython loops over the kernels' own alias tables: one env at a time,
its state row and random stream in locals, only the total cost summed, no parts, no policy dispatch; each runs
twice, reading its lead time (and shelf life) at run time and, as the "constant probe", compiled for the
instance's values as constants, as the kernels' whole-run loops are (the limit they are held to). Each
scenario's kernel rollout runs the same fixed policy on the same instance as its ``bench.<stem>`` script, with
N = 1024 envs seeded 0, 1, ..., so env i draws the same stream in both: the mean cost per period printed beside
the timings must agree (a probe that did less work would show it). Rows are interleaved (bench/common.py); the
ratio is kernel ns per period over probe ns per period, round by round (target: within 1.2x). Retail and
Replenishment have no compiled rollout and are not in the table.
"""

from __future__ import annotations

import numpy as np

from bench.common import Row, interleaved, load_text, ns_text, ratio_text
from bench.probe import dual_sourcing_rollout, lost_sales_rollout, perishable_rollout, procurement_removal_rollout
from invgym.demand import kernel_tables
from invgym.envs.dual_sourcing import DualSourcingConfig
from invgym.envs.lost_sales import LostSalesConfig
from invgym.envs.perishable import PerishableConfig
from invgym.envs.procurement_removal import ProcurementRemovalConfig

N = 1024
PERIODS = 100  # per round unit


def _tables(config):
    prob, alias, support = kernel_tables(config.demand)
    return prob, alias, int(support[0])


def scenarios() -> list[tuple[str, object, object]]:
    """(name, kernel run, probe run) per scenario: each run(periods) returns the envs' total costs."""
    out = []

    ls = LostSalesConfig.validate("LostSalesEnv", lead_time=2, lost_sales_cost=9.0)  # bench.lost_sales
    prob, alias, support = _tables(ls)
    out.append(("LostSales-v0 L=2, base-stock S=17", ls, "base_stock", [17.0],
                lambda n, c=False: lost_sales_rollout(prob, alias, support, ls.lead_time, ls.holding_cost,
                                                      ls.lost_sales_cost, ls.max_order, 17.0, N, n, c)))

    # bench.dual_sourcing
    ds = DualSourcingConfig.validate("DualSourcingEnv", regular_lead_time=3, expedited_cost=110.0)
    dprob, dalias, dsupport = _tables(ds)
    high = ds.action_high
    out.append(("DualSourcing-v0 l_r=3, dual index (4, 9)", ds, "dual_index", [4.0, 9.0],
                lambda n, c=False: dual_sourcing_rollout(dprob, dalias, dsupport, ds.regular_lead_time,
                                                         ds.regular_cost, ds.expedited_cost, ds.holding_cost,
                                                         ds.backorder_cost, float(high[0]), float(high[1]), 4.0,
                                                         9.0, N, n, c)))

    pe = PerishableConfig.validate("PerishableEnv", shelf_life=3, lead_time=2, issuing="fifo")  # bench.perishable
    pprob, palias, psupport = _tables(pe)
    out.append(("Perishable-v0 m=3, L=2, FIFO, base-stock S=11", pe, "base_stock", [11.0],
                lambda n, c=False: perishable_rollout(pprob, palias, psupport, pe.shelf_life, pe.lead_time,
                                                      pe.holding_cost, pe.lost_sales_cost, pe.outdating_cost,
                                                      pe.purchase_cost, float(pe.max_order), 11.0, N, n, c)))

    pr = ProcurementRemovalConfig.validate("ProcurementRemovalEnv", lead_time=2, lost_sales_cost=9.0,
                                           initial_state=[40, 0])  # bench.procurement_removal
    rprob, ralias, rsupport = _tables(pr)
    out.append(("ProcurementRemoval-v0 L=2, interval (15, 18)", pr, "interval", [15.0, 18.0],
                lambda n, c=False: procurement_removal_rollout(rprob, ralias, rsupport, pr.lead_time,
                                                               pr.holding_cost, pr.lost_sales_cost,
                                                               pr.purchase_cost, pr.salvage_value, pr.removal_cost,
                                                               pr.max_order, pr.max_removal, 15.0, 18.0, 40.0, N,
                                                               n, c)))
    return out


def main() -> None:
    """Time every scenario's kernel rollout and probe interleaved; print ns per period, ratios and mean costs."""
    cases, checks = [], []
    for name, config, policy, params, probe in scenarios():
        kernel = config.bind(N).reset(seed=0).kernel  # each round continues from the last one's state

        def kernel_run(rounds: int, kernel=kernel, policy=policy, params=params) -> int:
            kernel.rollout(policy, params, periods=rounds * PERIODS)
            return rounds * PERIODS * N

        def probe_run(rounds: int, probe=probe) -> int:
            probe(rounds * PERIODS)
            return rounds * PERIODS * N

        def constant_run(rounds: int, probe=probe) -> int:
            probe(rounds * PERIODS, True)
            return rounds * PERIODS * N

        cases += [(f"{name}: kernel", kernel_run), (f"{name}: probe", probe_run),
                  (f"{name}: constant probe", constant_run)]
        periods = 10 * PERIODS
        kernel_cost = config.bind(N).reset(seed=0).kernel.rollout(policy, params, periods=periods)["cost"]
        checks.append((name, kernel_cost.mean() / periods, probe(periods).mean() / periods,
                       float(max(np.max(np.abs(kernel_cost - probe(periods))),
                                 np.max(np.abs(kernel_cost - probe(periods, True)))))))
    rows: list[Row] = interleaved(cases)
    print(f"Whole-rollout vs the compiled-limit probe, N={N}, one core\n{load_text()}; CPU time, "
          f"{len(rows[0].rates)} interleaved rounds")
    print(f"{'scenario and policy':<48}{'kernel ns':>10}{'probe ns':>10}{'const ns':>10}  kernel / probe and "
          "kernel / constant probe per period (<= 1.2x): median [least, greatest round]")
    for k in range(0, len(rows), 3):
        kernel, probe, constant = rows[k], rows[k + 1], rows[k + 2]
        print(f"{kernel.name.rsplit(': ', 1)[0]:<48}{ns_text(kernel):>10}{ns_text(probe):>10}"
              f"{ns_text(constant):>10}  {ratio_text(probe, kernel)}  {ratio_text(constant, kernel)}")
    print(f"\nsame work: mean cost per period over {10 * PERIODS} periods, env i seeded i in all three (the gap: "
          "the largest of either probe's)")
    for name, kernel_cost, probe_cost, gap in checks:
        print(f"  {name:<48} kernel {kernel_cost:12.6f}  probe {probe_cost:12.6f}  largest env gap {gap:.2e}")


if __name__ == "__main__":
    main()
