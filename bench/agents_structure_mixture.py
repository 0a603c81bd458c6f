"""Issue 12, item 5: the structure penalty at Figure 1's setting, in distribution and out of distribution.

Run: ``nice -n 10 python -m bench.agents_structure_mixture`` or ``--weights 10 1 --epochs 150``. A benchmark,
never a test.

The setting is ``examples/figure1.py``'s (its ``setting`` and ``training_config``): one history policy (window
16) for a mixture of 8 Poisson products with means in [2, 10], lost sales L = 5, h = 1, p = 9, 150 epochs x 64
paths. One unpenalised policy and one per ``--weights`` entry are trained with the same seed; the penalty's
states come from their own random stream, so every policy sees the same demand paths and the penalty is the
only difference. Reported per policy:

- the violation rate of each structural property over 512 visited states (``structure_report``, the orders'
  own slopes, tolerance 1e-6), as the figure prints it;
- the average cost on the kernel (200 envs x 500 periods after the figure's warm-up, common random numbers: env
  i is seeded ``seed + i`` for every policy), in distribution and under demand the policies never saw in
  training: every product's mean scaled by 0.7 and 1.4 (level drop, level shock), negative binomial with each
  product's mean and three times its variance (variance shock), eight unseen products drawn from the same mean
  range (another mixture seed), and eight unseen products with means in [10, 14] (outside the training range).
  Every env keeps the training env's action space (``max_order``).

Each penalised policy is compared with the unpenalised one by the per-env paired difference, with a 95 %
confidence interval (mean +- 1.96 standard errors of the 200 per-env differences).
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import time

import numpy as np
import torch

import invgym
from invgym.agents import structure_report
from invgym.baselines.common import config_of
from invgym.demand import NegativeBinomial, Poisson, ProductMixture

ENV_ID = "invgym/LostSales-v0"
Z95 = 1.96


def figure1():
    """``examples/figure1.py`` as a module (its setting and training settings are the figure's)."""
    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "figure1.py"
    spec = importlib.util.spec_from_file_location("figure1", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shifts(mixture: ProductMixture, seed: int) -> dict[str, ProductMixture]:
    """The evaluation demands: the training mixture first, then the out-of-distribution ones."""
    means = [p.mean for p in mixture.products()]
    return {
        "in distribution": mixture,
        "level drop: means x 0.7": ProductMixture([Poisson(0.7 * m) for m in means]),
        "level shock: means x 1.4": ProductMixture([Poisson(1.4 * m) for m in means]),
        "variance shock: NB, var = 3 mean": ProductMixture([NegativeBinomial(m, 3.0 * m) for m in means]),
        "unseen products, means 2-10": ProductMixture.from_ranges("poisson", len(means), (2, 10), seed=seed + 1),
        "unseen products, means 10-14": ProductMixture.from_ranges("poisson", len(means), (10, 14), seed=seed + 2),
    }


def main() -> None:
    """Train the policies, print violation rates, costs and paired differences per demand."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", nargs="+", type=float, default=[10.0, 1.0, 0.1],
                        help="structure_weight of each penalised policy")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--fine-tune-epochs", type=int, default=0,
                        help="penalty after a shared unpenalised warm-up of --epochs (0: each from scratch)")
    parser.add_argument("--fine-tune-lr", type=float, default=1e-3)
    parser.add_argument("--products", type=int, default=8)
    parser.add_argument("--history", type=int, default=16)
    parser.add_argument("--eval-envs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    fig = figure1()
    mixture, env = fig.setting(args.products, args.history, args.seed)
    names = ["unpenalised", *(f"w={w:g}" for w in args.weights)]
    start = time.process_time()
    policies = fig.train_policies(env, dict(zip(names, [0.0, *args.weights], strict=True)), args.epochs,
                                  args.fine_tune_epochs, args.fine_tune_lr, args.history, args.seed)
    train_cpu = time.process_time() - start
    reports = {name: structure_report(policies[name], ENV_ID, num_states=512, warmup=args.history + 20, **env)
               for name in names}
    max_order = config_of(ENV_ID, **env).max_order
    print(f"Figure 1's setting: lost sales L = {fig.LEAD_TIME}, p = 9, {args.products} Poisson products (means "
          f"2-10), history policy window {args.history}, {args.epochs} epochs x 64 paths"
          + (f" unpenalised, then {args.fine_tune_epochs} epochs at lr {args.fine_tune_lr:g} per weight"
             if args.fine_tune_epochs else " per weight, from scratch")
          + f", seed {args.seed}; costs on the kernel: {args.eval_envs} envs x 500 periods (CRN); "
          f"training {train_cpu:.1f} CPU s in all")
    print(f"\nviolation rate over 512 visited states\n{'policy':<14}" + "".join(f"{p:>22}" for p in reports[names[0]]))
    for name in names:
        print(f"{name:<14}" + "".join(f"{100 * v:>21.1f}%" for v in reports[name].values()))
    print(f"\n{'demand':<34}{'policy':<14}{'cost':>9}{'vs unpenalised':>16}{'95 % CI':>20}{'%':>9}")
    settings = {"num_envs": args.eval_envs, "periods": 500, "warmup": args.history + 50, "seed": 2024}
    for label, demand in shifts(mixture, args.seed).items():
        shifted = {**env, "demand": demand, "max_order": max_order}
        per_env = {n: np.asarray(invgym.evaluate(policies[n], ENV_ID, **settings, **shifted).per_env_cost,
                                 dtype=np.float64) for n in names}
        base = per_env["unpenalised"]
        print(f"{label:<34}{'unpenalised':<14}{base.mean():>9.4f}")
        for name in names[1:]:
            d = per_env[name] - base
            mean, half = d.mean(), Z95 * d.std(ddof=1) / np.sqrt(len(d))
            print(f"{'':<34}{name:<14}{per_env[name].mean():>9.4f}{mean:>+16.4f}"
                  f"{f'[{mean - half:+.4f}, {mean + half:+.4f}]':>20}{100 * mean / base.mean():>+8.2f}%", flush=True)
    print(f"\nwhole command: {time.process_time():.1f} CPU s")


if __name__ == "__main__":
    main()
