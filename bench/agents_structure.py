"""Issue 7, goal 4: structure penalties: violation rate, in-distribution cost, and cost under a demand shift.

Run: ``python -m bench.agents_structure`` or ``--lead-time 4 --weight 10 --epochs 200``; other families:
``--family dual_sourcing`` (Gijsbrechts et al. l_r = 3, c_e = 105; default head: the dual-index head) or
``--family perishable`` (m = 3, L = 1, FIFO, the env's gamma demand). A benchmark, never a test.

Lost sales, Poisson(5), h = 1, p = 9. Two DirectBackprop policies (MLP with base-stock head) are trained with the
same seed and the same demand paths, one without and one with the structure penalty of ``agents/structure.py``
(Zipkin 2008: ``-1 <= dq/dx_newest <= ... <= dq/dx_on-hand <= 0``). Reported per policy:

- the violation rate of each property over states the policy visits on the kernel
  (:func:`~invgym.agents.structure.structure_report`, autograd Jacobian, tolerance 1e-6);
- the average cost in distribution on the kernel (:func:`invgym.evaluate`, common random numbers; paired
  difference penalised - unpenalised with its standard error);
- the average cost out of sample under demand shifts the policies never saw in training: a level shock (Poisson
  with mean 3.5 and 7), and a variance shock (negative binomial, mean 5, variance 15), evaluated the same way.
  Every env keeps the training env's action space (``max_order``) so both policies face identical envs.
"""

from __future__ import annotations

import argparse
import time

import invgym
from bench.agents_common import (
    add_evaluation_arguments,
    add_training_arguments,
    evaluation_settings,
    paired,
    training_config,
)
from invgym.agents import DirectBackprop, structure_report
from invgym.demand import DiscreteUniform, NegativeBinomial, Poisson

ENV_ID = "invgym/LostSales-v0"
SHIFTS = {"in distribution: Poisson(5)": Poisson(5.0), "level shock: Poisson(7)": Poisson(7.0),
          "level drop: Poisson(3.5)": Poisson(3.5), "variance shock: NB(5, var 15)": NegativeBinomial(5.0, 15.0)}
# Other families: (env id, env parameters, demand shifts; the first is the training distribution).
FAMILIES = {
    "dual_sourcing": ("invgym/DualSourcing-v0",
                      {"regular_lead_time": 3, "expedited_lead_time": 0, "demand": DiscreteUniform(0, 4),
                       "expedited_cost": 105.0, "holding_cost": 5.0, "backorder_cost": 495.0},
                      {"in distribution: U{0..4}": DiscreteUniform(0, 4), "level shock: U{0..6}": DiscreteUniform(0, 6),
                       "level drop: U{0..2}": DiscreteUniform(0, 2),
                       "variance shock: NB(2, var 6)": NegativeBinomial(2.0, 6.0)}),
    "perishable": ("invgym/Perishable-v0", {"shelf_life": 3, "lead_time": 1, "issuing": "fifo"},
                   {"in distribution: gamma(4, cv 0.5)": None, "level shock: Poisson(6)": Poisson(6.0),
                    "level drop: Poisson(2.5)": Poisson(2.5),
                    "variance shock: NB(4, var 12)": NegativeBinomial(4.0, 12.0)}),
}


def main() -> None:
    """Train both policies, report violations and costs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="lost_sales", choices=["lost_sales", *FAMILIES])
    parser.add_argument("--lead-time", type=int, default=3)
    parser.add_argument("--p", type=float, default=9.0)
    parser.add_argument("--weight", type=float, default=10.0, help="structure_weight of the penalised policy")
    add_training_arguments(parser, epochs=200)
    parser.add_argument("--states", type=int, default=4096, help="visited states of the violation report")
    add_evaluation_arguments(parser)
    args = parser.parse_args()
    env_id, env, shifts = ENV_ID, {"lead_time": args.lead_time, "lost_sales_cost": args.p}, SHIFTS
    if args.family != "lost_sales":
        env_id, env, shifts = FAMILIES[args.family]
    lead = int(env.get("lead_time", env.get("regular_lead_time", 0)))
    settings = evaluation_settings(args)
    policies, cpu, reports = {}, {}, {}
    for name, weight in (("unpenalised", 0.0), (f"penalised (w={args.weight:g})", args.weight)):
        cfg = training_config(args, 8 + 4 * lead, structure_weight=weight)
        agent = DirectBackprop(env_id, config=cfg, **env)
        start = time.process_time()
        policies[name] = agent.fit()
        cpu[name] = time.process_time() - start
        reports[name] = structure_report(policies[name], env_id, num_states=args.states, seed=args.seed, **env)
        max_order = agent.env_config.max_order
    title = (f"Lost sales L={args.lead_time}, Poisson(5), h=1, p={args.p:g}" if args.family == "lost_sales" else
             f"{env_id} {', '.join(f'{k}={v}' for k, v in env.items())}")
    print(f"{title}; {args.epochs} epochs x {args.batch} paths; "
          f"costs on the kernel: {args.envs} envs x {args.periods} periods after {args.warmup} warm-up (CRN)")
    print(f"\nviolation rate over {args.states} visited states (fraction of states violating each property)")
    names = list(policies)
    props = list(reports[names[0]])
    print(f"{'policy':<22}" + "".join(f"{p:>22}" for p in props) + f"{'worst':>12}{'train CPU s':>13}")
    for name in names:
        print(f"{name:<22}" + "".join(f"{100 * reports[name][p]:>21.2f}%" for p in props)
              + f"{100 * max(reports[name].values()):>11.2f}%{cpu[name]:>13.1f}")
    print(f"\n{'demand':<32}{'unpenalised':>12}{'penalised':>12}{'diff':>10}{'+-se':>8}{'diff %':>9}")
    for label, demand in shifts.items():
        shifted = {**env, "max_order": max_order} if demand is None else {**env, "demand": demand,
                                                                           "max_order": max_order}
        results = [invgym.evaluate(policies[n], env_id, **settings, **shifted) for n in names]
        diff, se = paired(results[1], results[0])
        print(f"{label:<32}{results[0].average_cost:>12.4f}{results[1].average_cost:>12.4f}{diff:>+10.4f}"
              f"{se:>8.4f}{100 * diff / results[0].average_cost:>+8.3f}%", flush=True)


if __name__ == "__main__":
    main()
