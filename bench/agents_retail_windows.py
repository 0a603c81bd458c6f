"""Retail end to end (issue 12, item 7): db-pto vs predict-then-optimize by window, on two panels.

The shock and holiday windows of the test year, on the default panel and on a real-format panel read through
the Favorita loader.

Run: ``nice -n 10 python -m bench.agents_retail_windows`` or ``--lead-times 2 --panels synthetic``. A benchmark,
never a test.

Panels:

- ``synthetic``: the default panel of Retail-v0 (200 products, 2014-2016; its demand shock starts 2016-04-16 and
  decays with an e-folding time of 20 days; Christmas ramps up to 23-24 Dec).
- ``favorita``: a sample in Favorita's published ``train.csv`` schema (``id, date, store_nbr, item_nbr,
  unit_sales, onpromotion``; only non-zero sales are listed, so a promotion on a zero-sales day is lost as in
  the real file) plus ``holidays_events.csv``, written to a temporary directory from
  ``synthetic_panel(num_products=--favorita-products, seed=1)`` and read back with
  :func:`invgym.loaders.load_favorita`. The loader knows no prices, so every product gets the documented
  defaults (price 1, unit cost 0.7).

For each panel and lead time, :class:`~invgym.baselines.PredictThenOptimize` is fitted on the train window with
its defaults and ``db-pto`` (predict-then-optimize's level times a learnt factor plus a learnt shift,
``bench.agents_retail``'s ``pto_start``) is trained end to end from it on the train window (``--epochs`` x 64
paths x 28 + 112 days, lr ``--lr``). Both run every product once over the whole test window
(:func:`invgym.analysis.did.run_panel`, env i = product i, seed 0, the leaderboard's protocol), and the daily
parts are cut into windows of the test year: ``all`` (the 366 days), ``shock`` (the 60 days from the shock
date; the Favorita sample's products are other draws of the same generator, whose shock falls on the same
date), ``holiday`` (the days the panel flags as holidays) and ``rest`` (the test days in neither).
Each window reports profit per product-day (revenue - purchase - holding - penalty, i.e. minus the cost), the
service level (sales / demand) and the mean stock on hand per product-day of each policy, and the paired
difference db-pto - PtO in profit per product-day with a 95 % t interval over products (positive: db-pto earns
more).
"""

from __future__ import annotations

import argparse
import csv
import pathlib
import tempfile
import time

import numpy as np
import torch
from scipy import stats

from bench.agents_common import add_training_arguments, training_config
from bench.agents_retail import pto_start
from invgym.agents import DirectBackprop
from invgym.analysis.did import run_panel
from invgym.baselines import PredictThenOptimize
from invgym.baselines.common import config_of
from invgym.loaders import load_favorita
from invgym.panels import Panel, default_panel, synthetic_panel

ENV_ID = "invgym/Retail-v0"
TEST_START = "2016-01-01"
SHOCK_DATE, SHOCK_DAYS = "2016-04-16", 60


def favorita_sample(directory: pathlib.Path, products: int, seed: int = 1) -> Panel:
    """Write a synthetic panel in Favorita's schema (train.csv, holidays_events.csv) and load it back."""
    source = synthetic_panel(num_products=products, seed=seed)
    train = directory / "train.csv"
    with open(train, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "date", "store_nbr", "item_nbr", "unit_sales", "onpromotion"])
        row = 0
        for t, date in enumerate(source.dates):
            for i in np.nonzero(source.demand[:, t] > 0)[0]:
                writer.writerow([row, str(date), 1, 1000 + int(i), f"{source.demand[i, t]:g}",
                                 "True" if source.promo[i, t] else "False"])
                row += 1
    holidays = directory / "holidays_events.csv"
    with open(holidays, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["date", "type", "locale", "locale_name", "description", "transferred"])
        for date in source.dates[source.holiday]:
            writer.writerow([str(date), "Holiday", "National", "Ecuador", "holiday", "False"])
    return load_favorita(train, holidays_path=holidays)


def windows(panel: Panel, first: int, days: int) -> dict[str, np.ndarray]:
    """Boolean masks over the test window's days: all, shock, holiday, rest."""
    dates = panel.dates[first:first + days]
    holiday = panel.holiday[first:first + days].astype(bool)
    start = np.datetime64(SHOCK_DATE, "D")
    shock = (dates >= start) & (dates < start + SHOCK_DAYS)
    return {"all": np.ones(days, dtype=bool), "shock": shock, "holiday": holiday, "rest": ~(shock | holiday)}


def t_interval(values: np.ndarray) -> tuple[float, float]:
    """Mean and 95 % t half-width of ``values``."""
    return float(values.mean()), float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1)
                                       / np.sqrt(len(values)))


def main() -> None:
    """Fit PtO, train db-pto, run both over the test window, print one row per panel, lead time and window."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", nargs="+", default=["synthetic", "favorita"], choices=["synthetic", "favorita"])
    parser.add_argument("--lead-times", nargs="+", type=int, default=[0, 2, 5])
    parser.add_argument("--favorita-products", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=28, help="uncounted days of each training path")
    add_training_arguments(parser, epochs=300)
    parser.set_defaults(train_periods=112, lr=1e-3)  # bench.agents_retail's db-pto settings
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"Retail-v0; PtO fitted and db-pto trained on the train window ({args.epochs} epochs x {args.batch} paths "
          f"x {args.warmup}+{args.train_periods} days, lr {args.lr:g}); every product run once over the test window "
          f"from {TEST_START} (seed 0); profit per product-day, paired db-pto - PtO with a 95 % t CI over products "
          "(positive: db-pto earns more)")
    print(f"{'panel':<10}{'L':>2} {'window':<8}{'days':>5} {'PtO profit':>10} {'db-pto':>8} {'diff, 95 % CI':>24} "
          f"{'PtO serv':>8} {'db serv':>8} {'PtO stock':>9} {'db stock':>9} {'train CPU s':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        panels = {"synthetic": default_panel(),
                  "favorita": favorita_sample(pathlib.Path(tmp), args.favorita_products)}
    for name in args.panels:
        panel = panels[name]
        for lead_time in args.lead_times:
            train = {"product": "all", "lead_time": lead_time, "panel": panel, "test_start": TEST_START}
            pto = PredictThenOptimize.fit(ENV_ID, **train)
            cfg = training_config(args, args.warmup)
            agent = DirectBackprop(ENV_ID, policy=pto_start(pto, train, cfg), config=cfg, **train)
            start = time.process_time()
            try:
                db = agent.fit()
            except FloatingPointError as error:  # a diverged run is a result too: report it, go on
                spent = time.process_time() - start
                print(f"{name:<10}{lead_time:>2} db-pto diverged after {spent:.1f} CPU s: {error}")
                continue
            cpu = time.process_time() - start
            test = config_of(ENV_ID, **train, split="test")
            parts = {"pto": run_panel(test, pto.act, seed=0), "db": run_panel(test, db.act, seed=0)}
            for label, mask in windows(panel, test.window[0], test.window[1]).items():
                if not mask.any():
                    continue
                profit = {k: -p["cost"][:, mask].mean(axis=1) for k, p in parts.items()}
                service = {k: p["sales"][:, mask].sum() / max(p["demand"][:, mask].sum(), 1e-12)
                           for k, p in parts.items()}
                stock = {k: p["on_hand"][:, mask].mean() for k, p in parts.items()}
                diff, half = t_interval(profit["db"] - profit["pto"])
                print(f"{name:<10}{lead_time:>2} {label:<8}{int(mask.sum()):>5} {profit['pto'].mean():>10.3f} "
                      f"{profit['db'].mean():>8.3f} {f'{diff:+.3f} [{diff - half:+.3f}, {diff + half:+.3f}]':>24} "
                      f"{service['pto']:>8.3f} {service['db']:>8.3f} {stock['pto']:>9.2f} {stock['db']:>9.2f} "
                      f"{cpu:>11.1f}", flush=True)
    print(f"\nwhole command: {time.process_time():.1f} CPU s")


if __name__ == "__main__":
    main()
