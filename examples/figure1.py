"""Figure 1 of the Amazon structure-informed paper: one policy across products at L = 5, without and with structure.

Run: ``python examples/figure1.py [--epochs 150] [--out figure1.png]`` (about a minute of CPU at the defaults;
needs the ``rl`` and ``plot`` extras: ``pip install -c constraints.txt -e ".[rl,plot]"``).

Lost sales, L = 5, h = 1, p = 9; demand is a ``ProductMixture`` of Poisson products with means spread over
[2, 10]. Two DirectBackprop policies (``policy="history"``: the product is known only through its sales
history) are trained on the same demand paths, one plain and one with the structure penalty
(``structure_weight``; Zipkin 2008's monotone, bounded and ordered sensitivities). The figure is the paper's 2 x 4
grid: top row unpenalised, bottom row penalised, one column per product (four of the mixture's, lowest to highest
mean); each panel is the contour of the order over on-hand stock y0 and the order arriving next y1, the other
pipeline entries held at 0 and the sales history fixed to a recorded path of that product. It prints each
policy's cost on the kernel and its structure violation rate, and writes the PNG (atomically).
"""

from __future__ import annotations

import argparse
import dataclasses
import os

import numpy as np
import torch

import invgym
from invgym.agents import DirectBackprop, DirectBackpropConfig, structure_report
from invgym.demand import ProductMixture

ENV_ID = "invgym/LostSales-v0"
LEAD_TIME = 5


def product_history(mixture: ProductMixture, product: int, history: int, seed: int) -> np.ndarray:
    """A recorded sales history of one product (``history`` periods drawn from its own demand model)."""
    return mixture.products()[product].sample(np.random.default_rng(seed + product), history)


def order_grid(policy, product_sales: np.ndarray, lead_time: int, top: float, resolution: int) -> tuple:
    """Orders of ``policy`` over (y0, y1) in [0, top]^2, other pipeline entries 0, history fixed."""
    axis = np.linspace(0.0, top, resolution)
    y0, y1 = np.meshgrid(axis, axis)
    obs = np.zeros((resolution * resolution, lead_time + len(product_sales)), dtype=np.float32)
    obs[:, 0], obs[:, 1] = y0.ravel(), y1.ravel()
    obs[:, lead_time:] = product_sales
    return y0, y1, policy.orders(obs)[:, 0].reshape(resolution, resolution)


def setting(products: int = 8, history: int = 16, seed: int = 0) -> tuple[ProductMixture, dict]:
    """The figure's training distribution: the product mixture and the env parameters (lost sales, L = 5, p = 9)."""
    mixture = ProductMixture.from_ranges("poisson", num_products=products, mean=(2, 10), seed=seed)
    return mixture, {"lead_time": LEAD_TIME, "lost_sales_cost": 9.0, "demand": mixture, "history": history}


def training_config(structure_weight: float, epochs: int = 150, history: int = 16,
                    seed: int = 0) -> DirectBackpropConfig:
    """The figure's DirectBackprop settings; the two policies differ only in ``structure_weight``."""
    return DirectBackpropConfig(epochs=epochs, batch_size=64, periods=32, warmup=history + 4 * LEAD_TIME,
                                learning_rate=1e-2, window=history, structure_weight=structure_weight, seed=seed,
                                eval_envs=8, eval_periods=10, eval_warmup=0)


def train_policies(env: dict, weights: dict[str, float], epochs: int = 150, fine_tune_epochs: int = 0,
                   fine_tune_lr: float = 1e-3, history: int = 16, seed: int = 0) -> dict:
    """Train one policy per ``weights`` entry (name -> structure_weight); return name -> TrainedPolicy.

    With ``fine_tune_epochs > 0`` the penalty comes in after a warm-up: one unpenalised policy is trained for
    ``epochs``, then each entry continues from it for ``fine_tune_epochs`` at ``fine_tune_lr`` (cosine decay) with
    its own weight, on the same fresh demand paths (seed + 1; the penalty's states have their own stream), so the
    policies differ only by the penalty of the second stage. With 0 each policy is trained from scratch for
    ``epochs`` with its weight throughout (same seed, same demand paths).
    """
    if fine_tune_epochs == 0:
        return {name: DirectBackprop(ENV_ID, policy="history", config=training_config(w, epochs, history, seed),
                                     **env).fit() for name, w in weights.items()}
    warm = DirectBackprop(ENV_ID, policy="history", config=training_config(0.0, epochs, history, seed), **env).fit()
    out = {}
    for name, w in weights.items():
        cfg = dataclasses.replace(training_config(w, fine_tune_epochs, history, seed + 1), learning_rate=fine_tune_lr)
        out[name] = DirectBackprop(ENV_ID, policy=warm.module, config=cfg, **env).fit()
    return out


def main(argv: list[str] | None = None) -> dict:
    """Train both policies, draw the grid, print costs and violation rates; return them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--products", type=int, default=8, help="products in the mixture (four are drawn)")
    parser.add_argument("--history", type=int, default=16, help="periods of sales history the policy reads")
    parser.add_argument("--structure-weight", type=float, default=10.0)
    parser.add_argument("--fine-tune-epochs", type=int, default=0,
                        help="epochs of the second stage, from the shared unpenalised warm-up (0: from scratch)")
    parser.add_argument("--fine-tune-lr", type=float, default=1e-3)
    parser.add_argument("--resolution", type=int, default=31)
    parser.add_argument("--eval-envs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="figure1.png")
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    torch.set_num_threads(1)
    lead_time = LEAD_TIME
    mixture, env = setting(args.products, args.history, args.seed)
    rows, per_env = {}, {}
    policies = train_policies(env, {"unpenalised": 0.0, "penalised": args.structure_weight}, args.epochs,
                              args.fine_tune_epochs, args.fine_tune_lr, args.history, args.seed)
    for name in policies:
        result = invgym.evaluate(policies[name], ENV_ID, num_envs=args.eval_envs, periods=500,
                                 warmup=args.history + 50, seed=2024, **env)
        violations = structure_report(policies[name], ENV_ID, num_states=512, warmup=args.history + 20, **env)
        rows[name] = {"cost": result.average_cost, "stderr": result.stderr, **violations}
        per_env[name] = np.asarray(result.per_env_cost, dtype=np.float64)
        print(f"{name:12s} cost {result.average_cost:.4f} +- {result.stderr:.4f}   violations "
              + ", ".join(f"{k} {100 * v:.1f} %" for k, v in violations.items()))
    # Both policies are evaluated on the same seeds (common random numbers): the paired per-env difference.
    diff = per_env["penalised"] - per_env["unpenalised"]
    paired = {"diff": float(diff.mean()), "stderr": float(diff.std(ddof=1) / np.sqrt(len(diff)))}
    print(f"penalised - unpenalised (paired, same demand): {paired['diff']:+.4f} +- {paired['stderr']:.4f} "
          f"({100 * paired['diff'] / rows['unpenalised']['cost']:+.2f} %)")

    means = np.array([p.mean for p in mixture.products()])
    shown = np.argsort(means)[np.linspace(0, len(means) - 1, 4).round().astype(int)]
    top = 3.0 * float(means.max())
    fig, axes = plt.subplots(2, 4, figsize=(14, 6.6), sharex=True, sharey=True, constrained_layout=True)
    grids = {(r, c): order_grid(policies[name], product_history(mixture, int(k), args.history, args.seed),
                                lead_time, top, args.resolution)
             for r, name in enumerate(policies) for c, k in enumerate(shown)}
    levels = np.linspace(0.0, max(float(g[2].max()) for g in grids.values()) + 1e-9, 15)
    for (r, c), (y0, y1, q) in grids.items():
        ax = axes[r, c]
        filled = ax.contourf(y0, y1, q, levels=levels, cmap="viridis")
        ax.contour(y0, y1, q, levels=levels[::2], colors="white", linewidths=0.5)
        name = list(policies)[r]
        ax.set_title(f"{name}, product mean {means[shown[c]]:.1f}", fontsize=9)
        if r == 1:
            ax.set_xlabel("on-hand $y_0$")
        if c == 0:
            ax.set_ylabel("arriving next $y_1$")
    fig.colorbar(filled, ax=axes, label="order", shrink=0.9)
    fig.suptitle(f"One policy across {args.products} products, lost sales L = {lead_time}, p = 9: the order over "
                 "(y0, y1), other pipeline entries 0")
    tmp = f"{args.out}.tmp{os.getpid()}.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    return {"rows": rows, "paired": paired, "path": args.out, "products": shown.tolist()}


if __name__ == "__main__":
    main()
