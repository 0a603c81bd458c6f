"""Why was the board's DirectBackprop 313 % below PredictThenOptimize's profit on retail/L5? Each suspect measured.

Run: ``nice -n 10 python -m bench.board_db_retail`` (``--instance retail/L2`` for another lead time; one torch
thread; ~60 CPU s). It trains DirectBackprop exactly as the board does (:func:`invgym.agents.board._db_config`
of the track, on the panel's train window, seed 0) once with the warm-up the committed artifacts had
(``DirectBackpropConfig.warmup`` 16, uncounted) and once with the board's setting now (``TRACK_BUDGETS``: 0), and
prints, for each:

- the training loss (the twin's cost per counted product-day) and the clipped gradient norm along the epochs;
- the cost on the instance's own protocol (200 products x the 366 test days, seed 0) on the kernel, and on the twin
  with the very demand the kernel drew (continuous orders: does the twin model what the kernel scores?);
- the mean order over the products on the first test days and the mean stock on hand over the year per band of
  mean daily demand, against PredictThenOptimize (fitted on the train window, as the board fits it);

and finally the training loss of one order rule (order up to ``L + 2`` times the mean of the sales window) with
and without a binge on an empty pipeline (``30`` times that mean on top while nothing is held or on order), under
each warm-up: with uncounted warm-up days, stock bought then is free while the revenue it brings later counts.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

BANDS = ((0, 1), (1, 3), (3, 10), (10, np.inf))


def _kernel_run(policy, config, protocol):
    """Orders, stock on hand, demand and cost per (day, product) of ``policy`` on the instance's protocol."""
    from invgym.envs.common import KernelVectorEnv

    envs = KernelVectorEnv(config, protocol.num_envs)
    obs, _ = envs.reset(seed=protocol.seed)
    orders, on_hand, demand, cost = [], [], [], []
    for _ in range(protocol.warmup + protocol.periods):
        action = np.asarray(policy(obs))
        obs, reward, _, _, info = envs.step(action)
        orders.append(action.reshape(len(action), -1)[:, 0])
        on_hand.append(info["on_hand"])
        demand.append(info["demand"])
        cost.append(-reward)
    envs.close()
    return {k: np.array(v)[protocol.warmup:] for k, v in
            (("orders", orders), ("on_hand", on_hand), ("demand", demand), ("cost", cost))}


def _binge_losses(train, cfg, twin) -> tuple[float, float]:
    """Training loss of the order rule without and with the empty-pipeline binge, on the board's paths."""
    import torch

    from invgym.agents.direct_backprop import PanelSampler

    demand, state = PanelSampler(twin, train.products).draw(np.random.default_rng(cfg.seed), cfg.batch_size,
                                                            cfg.warmup + cfg.periods)
    sales, held = train.slices["sales"], train.slices["inventory"]

    def loss(binge: float) -> float:
        def policy(obs: torch.Tensor) -> torch.Tensor:
            mean, position = obs[:, sales].mean(1), obs[:, held].sum(1)
            level = (train.lead_time + 2) * mean + binge * mean * (position == 0)
            return torch.relu(level - position)[:, None]

        start = {k: v.clone() for k, v in state.items()}
        return float(twin.rollout(policy, demand, state=start, warmup=cfg.warmup).average_cost)

    return loss(0.0), loss(30.0)


def main() -> None:
    """Print the figures of one retail instance."""
    import torch

    from invgym.agents.board import _db_config, _spend
    from invgym.agents.direct_backprop import DirectBackprop
    from invgym.leaderboard.baselines import fit_baseline
    from invgym.leaderboard.suite import load_suite
    from invgym.twins import twin_for

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", default="retail/L5")
    args = parser.parse_args()
    torch.set_num_threads(1)
    inst = load_suite().instance(args.instance)
    test, protocol = inst.config(), inst.protocol
    train = test.replace(split="train")
    board = _db_config(_spend("default", inst.track))
    teacher = fit_baseline("PredictThenOptimize", train)
    reference = _kernel_run(teacher, test, protocol)
    print(f"{args.instance}: train window {train.window}, test window {test.window}, {len(test.products)} products; "
          f"PredictThenOptimize cost {reference['cost'].mean():.4f} a product-day (negative: profit)")
    mean_demand = reference["demand"].mean(0)
    for warmup in (16, board.warmup):
        cfg = dataclasses.replace(board, warmup=warmup)
        start = time.process_time()
        agent = DirectBackprop(train, "mlp", cfg)
        policy = agent.fit()
        seconds = time.process_time() - start
        label = f"warmup {warmup}" + (" (the board now)" if warmup == board.warmup else " (the committed artifacts)")
        print(f"\n== DirectBackprop, {cfg.epochs} epochs x {cfg.batch_size} paths x {cfg.warmup}+{cfg.periods} days, "
              f"{label}: {seconds:.1f} CPU s of training")
        print(" epoch  train loss  grad norm  mean order")
        for m in agent.metrics[:: max(1, cfg.epochs // 10)] + agent.metrics[-1:]:
            print(f" {m['epoch']:5d} {m['losses/cost']:11.3f} {m['charts/grad_norm']:10.2f} "
                  f"{m['charts/mean_order']:11.3f}")
        run = _kernel_run(policy, test, protocol)
        with torch.no_grad():
            module = agent.module
            replay = twin_for(test).rollout(lambda o, m=module: m(o.float()).double(),
                                            torch.as_tensor(run["demand"].T, dtype=torch.float64))
        gap = 100 * (run["cost"].mean() - reference["cost"].mean()) / abs(reference["cost"].mean())
        print(f" test cost: kernel {run['cost'].mean():.4f} (gap to PredictThenOptimize {gap:+.2f} %), twin on the "
              f"kernel's demand {float(replay.average_cost):.4f}")
        print(" mean order on test days 0-6:     " + " ".join(f"{v:6.1f}" for v in run["orders"][:7].mean(1)))
        print(" PredictThenOptimize, days 0-6:   " + " ".join(f"{v:6.1f}" for v in reference["orders"][:7].mean(1)))
        for lo, hi in BANDS:
            rows = (mean_demand >= lo) & (mean_demand < hi)
            print(f"  demand/day in [{lo}, {hi}): {rows.sum():3d} products, stock on hand "
                  f"{run['on_hand'][:, rows].mean():7.1f} "
                  f"(PtO {reference['on_hand'][:, rows].mean():5.1f}), cost {run['cost'][:, rows].mean():8.3f} "
                  f"(PtO {reference['cost'][:, rows].mean():8.3f})")
    twin = twin_for(train)
    print("\n== The order rule (up to (L+2) x the sales window's mean), without / with a 30x binge on an empty "
          "pipeline")
    for warmup in (16, board.warmup):
        plain, binge = _binge_losses(train, dataclasses.replace(board, warmup=warmup), twin)
        print(f" warmup {warmup:2d}: training loss {plain:.3f} / {binge:.3f} "
              f"({'the binge is cheaper' if binge < plain else 'the binge costs more'})")


if __name__ == "__main__":
    main()
