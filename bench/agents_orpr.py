"""ORPR on invgym/Replenishment-v0: teacher, pretrained clone and RLOO fine-tuned policy, JD's metrics.

Run: ``python -m bench.agents_orpr`` (default instance; ``--checkpoint-dir DIR`` makes the fit resumable,
``--iterations N`` changes the RL updates). A benchmark, never a test.

``ORPR("invgym/Replenishment-v0").fit()`` is timed in CPU seconds (``time.process_time``, this process, one torch
thread). The three policies are then evaluated on the kernel over the held-out test year (the split after
``test_start``), every SKU twice (400 envs, env i seeded i), and the issue's goals are checked: the clone within
2 % of the teacher's cost and in-stock rate; the fine-tuned policy's holding cost >= 10 % below the teacher's at
the same in-stock rate (+-0.5 pp) and no lower in-stock rate on promotion days; the fit within 600 CPU s.
"""

from __future__ import annotations

import argparse
import time

from invgym.agents.orpr import ORPR, ORPRConfig
from invgym.agents.reinforce import RLOOConfig

ENV_ID = "invgym/Replenishment-v0"


def main() -> None:
    """Fit, evaluate and print the table and the goals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint-dir", default=None)
    parser.add_argument("--iterations", type=int, default=RLOOConfig.iterations)
    parser.add_argument("--lost-sales-weight", type=float, default=RLOOConfig.lost_sales_weight,
                        help="weight of the lost margin in the RL objective (0: holding + in-stock constraint only)")
    parser.add_argument("--expert-uplift", type=float, default=ORPRConfig.expert_uplift,
                        help="0 turns the promotion expert term off (ablation)")
    args = parser.parse_args()
    agent = ORPR(ENV_ID, ORPRConfig(rl=RLOOConfig(iterations=args.iterations,
                                                              lost_sales_weight=args.lost_sales_weight),
                                    expert_uplift=args.expert_uplift,
                                    checkpoint_dir=args.checkpoint_dir))
    start = time.process_time()
    agent.fit()
    cpu = time.process_time() - start
    clone = agent.clone_metrics[-1]
    last = agent.rloo.metrics[-10:]
    tried = ", ".join(f"{o:+g}: {r:.4f}" for o, r in agent.calibration["tried"])
    print(f"ORPR on {ENV_ID} (default instance): fit {cpu:.1f} CPU s; teacher {agent.teacher.params['days']:g} "
          f"days of cover; clone held-out exact-order match {clone['eval/accuracy']:.4f}; RLOO "
          f"{agent.rloo.iteration} updates, final lambda {agent.rloo.lam:.2f}, KL to clone "
          f"{sum(m['losses/kl_reference'] for m in last) / len(last):.3f}; calibration shift "
          f"{agent.calibration['offset']:+g} days (train in-stock by shift: {tried}; teacher "
          f"{agent.calibration['target']:.4f})")
    rows = agent.report(num_envs=400)
    print("\nTest year (366 days x 200 SKUs x 2 lead-time seeds), on the kernel")
    print(f"{'policy':<12}{'turnover d':>11}{'in-stock':>10}{'promo in-stock':>15}{'holding/SKU-day':>16}"
          f"{'service level':>14}{'cost/SKU-day':>13}")
    for name, m in rows.items():
        print(f"{name:<12}{m['turnover_days']:>11.2f}{m['in_stock_rate']:>10.4f}{m['promo_in_stock_rate']:>15.4f}"
              f"{m['holding_cost']:>16.4f}{m['service_level']:>14.4f}{m['cost']:>13.4f}")
    t, p, f = rows["teacher"], rows["pretrained"], rows["fine-tuned"]
    cost_gap = 100 * (p["cost"] / t["cost"] - 1)
    stock_gap = 100 * (p["in_stock_rate"] - t["in_stock_rate"])
    cut = 100 * (1 - f["holding_cost"] / t["holding_cost"])
    equal = 100 * (f["in_stock_rate"] - t["in_stock_rate"])
    promo = 100 * (f["promo_in_stock_rate"] - t["promo_in_stock_rate"])
    goals = (("clone cost within 2 % of the teacher", cost_gap, "%", abs(cost_gap) <= 2),
             ("clone in-stock rate equal (+-0.5 pp)", stock_gap, "pp", abs(stock_gap) <= 0.5),
             ("fine-tuned holding cost >= 10 % below", cut, "%", cut >= 10),
             ("fine-tuned in-stock rate equal (+-0.5 pp)", equal, "pp", abs(equal) <= 0.5),
             ("fine-tuned promo-day in-stock not lower", promo, "pp", promo >= 0),
             ("fit within 600 CPU s", cpu, "s", cpu <= 600))
    print("\nGoals")
    for what, value, unit, met in goals:
        print(f"{what:<44}{value:>+9.2f} {unit:<3}{'met' if met else 'NOT met'}")

if __name__ == "__main__":
    main()
