"""Issue 12, item 5: the structure penalty at Figure 1's setting, in distribution and out of distribution.

Run: ``nice -n 10 python -m bench.agents_structure_mixture`` or ``--weights 10 1 --epochs 150``; several training
seeds: ``--seeds 0 1 2 --weights 10 3 1 --out DIR`` (resumable: one JSON per seed in DIR). A benchmark, never a test.

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

With ``--seeds`` the training seed varies (the mixture stays the one of ``--seed``, so the training
distribution is fixed) and each policy is also evaluated on every product alone (``--product-envs`` envs x 500
periods, CRN). Item 5's limit is then tested on the cells seed x product: the relative paired difference
100 (penalised - unpenalised) / unpenalised of each cell, its mean with a 95 % t interval over the cells, and,
since the cells of one seed share a trained policy, the mean of the per-seed mixture differences with a t
interval over seeds as well. Each seed's costs and violation rates go to ``DIR/seed_S.json`` (written
atomically); a re-run loads the seeds already there (and fails loudly if they were made with other settings).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import time

import numpy as np
import torch
from scipy import stats

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
    parser.add_argument("--seed", type=int, default=0, help="seed of the mixture (and of training without --seeds)")
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="training seeds: per-product cells and CIs over seeds x products (needs --out)")
    parser.add_argument("--product-envs", type=int, default=100, help="envs per product with --seeds")
    parser.add_argument("--out", default=None, help="directory of the per-seed JSON files (resume) with --seeds")
    args = parser.parse_args()
    if args.seeds is not None:
        if args.out is None:
            parser.error("--seeds needs --out DIR (one resumable JSON file per seed)")
        multi_seed(args)
        return
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


def seed_run(args: argparse.Namespace, fig, seed: int) -> dict:
    """Train the policies of one training seed and evaluate them per product and on every shifted demand."""
    mixture, env = fig.setting(args.products, args.history, args.seed)
    names = ["unpenalised", *(f"w={w:g}" for w in args.weights)]
    start = time.process_time()
    policies = fig.train_policies(env, dict(zip(names, [0.0, *args.weights], strict=True)), args.epochs,
                                  0, args.fine_tune_lr, args.history, seed)
    train_cpu = time.process_time() - start
    violations = {n: structure_report(policies[n], ENV_ID, num_states=512, warmup=args.history + 20, **env)
                  for n in names}
    max_order = config_of(ENV_ID, **env).max_order
    per_product = {n: [] for n in names}
    for product in mixture.products():
        settings = {"num_envs": args.product_envs, "periods": 500, "warmup": args.history + 50, "seed": 2024}
        alone = {**env, "demand": ProductMixture([product]), "max_order": max_order}
        for n in names:
            per_product[n].append(np.asarray(invgym.evaluate(policies[n], ENV_ID, **settings, **alone).per_env_cost,
                                             dtype=np.float64).tolist())
    shifted_costs = {}
    settings = {"num_envs": args.eval_envs, "periods": 500, "warmup": args.history + 50, "seed": 2024}
    for label, demand in shifts(mixture, args.seed).items():
        shifted = {**env, "demand": demand, "max_order": max_order}
        shifted_costs[label] = {n: np.asarray(invgym.evaluate(policies[n], ENV_ID, **settings, **shifted)
                                              .per_env_cost, dtype=np.float64).tolist() for n in names}
    return {"settings": run_settings(args), "seed": seed, "train_cpu": train_cpu, "names": names,
            "means": [p.mean for p in mixture.products()], "violations": violations,
            "per_product": per_product, "shifts": shifted_costs, "cpu": time.process_time() - start}


def run_settings(args: argparse.Namespace) -> dict:
    """The settings a seed's file must have been made with to be reused."""
    return {k: getattr(args, k) for k in ("weights", "epochs", "products", "history", "eval_envs", "seed",
                                          "product_envs")}


def t_interval(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95 % t interval of ``values`` (the half-width is inf for fewer than two values)."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, -np.inf, np.inf
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return mean, mean - half, mean + half


def multi_seed(args: argparse.Namespace) -> None:
    """Item 5's cost limit over training seeds x products (resumable: one JSON per seed in ``--out``)."""
    torch.set_num_threads(1)
    fig = figure1()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = []
    for seed in args.seeds:
        path = out / f"seed_{seed}.json"
        if path.exists():
            run = json.loads(path.read_text())
            if run["settings"] != run_settings(args):
                raise ValueError(f"{path} was made with {run['settings']}, not {run_settings(args)}: use another "
                                 "--out or the same settings.")
            print(f"seed {seed}: loaded {path} ({run['cpu']:.1f} CPU s when it ran)", flush=True)
        else:
            run = seed_run(args, fig, seed)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(run))
            os.replace(tmp, path)
            print(f"seed {seed}: trained and evaluated in {run['cpu']:.1f} CPU s "
                  f"(training {run['train_cpu']:.1f}), wrote {path}", flush=True)
        runs.append(run)
    names = runs[0]["names"]
    means = runs[0]["means"]
    print(f"\nFigure 1's setting: lost sales L = {figure1().LEAD_TIME}, p = 9, {args.products} Poisson products "
          f"(mixture seed {args.seed}, means {min(means):.2f}-{max(means):.2f}), history window {args.history}, "
          f"{args.epochs} epochs x 64 paths per policy from scratch; training seeds {args.seeds}; per product "
          f"{args.product_envs} envs x 500 periods, shifts {args.eval_envs} envs x 500 periods (CRN)")
    print(f"training + evaluation: {sum(r['cpu'] for r in runs):.1f} CPU s over {len(runs)} seeds "
          f"(training {sum(r['train_cpu'] for r in runs):.1f})")
    props = list(runs[0]["violations"][names[0]])
    print(f"\nviolation rate over 512 visited states, mean over seeds (min-max)\n{'policy':<14}"
          + "".join(f"{p:>26}" for p in props))
    for n in names:
        cells = []
        for p in props:
            v = 100 * np.array([r["violations"][n][p] for r in runs])
            cells.append(f"{v.mean():5.1f}% ({v.min():5.1f}-{v.max():5.1f})")
        print(f"{n:<14}" + "".join(f"{c:>26}" for c in cells))
    print("\nin distribution, per product: 100 (penalised - unpenalised) / unpenalised, % (per-product paired, "
          "mean over its envs)")
    print(f"{'policy':<10}{'seed':>5}" + "".join(f"{f'mu={m:.1f}':>9}" for m in means) + f"{'mixture':>10}")
    summary = {}
    for n in names[1:]:
        cells, per_seed = [], []
        for r in runs:
            base = np.array([np.mean(c) for c in r["per_product"]["unpenalised"]])
            pen = np.array([np.mean(c) for c in r["per_product"][n]])
            rel = 100 * (pen - base) / base
            cells.extend(rel)
            per_seed.append(100 * (pen.mean() - base.mean()) / base.mean())
            print(f"{n:<10}{r['seed']:>5}" + "".join(f"{x:>+8.2f}%" for x in rel) + f"{per_seed[-1]:>+9.2f}%")
        summary[n] = (t_interval(np.array(cells)), t_interval(np.array(per_seed)), len(cells))
    print(f"\n{'policy':<10}{'cells':>6}{'mean over seeds x products, 95 % t CI':>42}"
          f"{'mixture, mean over seeds, 95 % t CI':>40}  limit +0.2 %")
    for n, ((cm, clo, chi), (sm, slo, shi), k) in summary.items():
        verdict = ("met" if max(chi, shi) <= 0.2 else "missed" if min(clo, slo) > 0.2 else
                   "not shown (CI covers +0.2 %)")
        print(f"{n:<10}{k:>6}{f'{cm:+.3f} % [{clo:+.3f}, {chi:+.3f}]':>42}"
              f"{f'{sm:+.3f} % [{slo:+.3f}, {shi:+.3f}]':>40}  {verdict}")
    print("\nout of distribution: mixture-level 100 (penalised - unpenalised) / unpenalised per seed, and the mean "
          "with a 95 % t CI over seeds")
    for label in runs[0]["shifts"]:
        for n in names[1:]:
            rel = np.array([100 * (np.mean(r["shifts"][label][n]) - np.mean(r["shifts"][label]["unpenalised"]))
                            / np.mean(r["shifts"][label]["unpenalised"]) for r in runs])
            m, lo, hi = t_interval(rel)
            print(f"{label:<34}{n:<8}" + "".join(f"{x:>+8.2f}%" for x in rel)
                  + f"   mean {m:+.2f} % [{lo:+.2f}, {hi:+.2f}]")
    print(f"\nwhole command: {time.process_time():.1f} CPU s")


if __name__ == "__main__":
    main()
