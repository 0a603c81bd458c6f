"""Loaders for retail data sets a user downloads, producing an :class:`invgym.panels.Panel`.

invgym ships no third-party data and never downloads any: the retail envs run on
:func:`invgym.panels.synthetic_panel` by default. These loaders read the public files in their published schemas,
with the standard library's ``csv`` module and numpy (no pandas):

- :func:`load_favorita` — Corporación Favorita Grocery Sales Forecasting (Kaggle, 2017), ``train.csv`` with the
  columns ``date, store_nbr, item_nbr, unit_sales, onpromotion`` (an ``id`` column is ignored). One product is
  one (store, item) pair. Favorita lists only non-zero sales: a missing (product, day) means zero sales, not
  promoted. An empty ``onpromotion`` (early years) means not promoted.
- :func:`load_m5` — M5 Forecasting (Kaggle, 2020), the wide ``sales_train_*.csv`` (``id, item_id, dept_id,
  cat_id, store_id, state_id, d_1, ..., d_N``) with ``calendar.csv`` (``date, d, event_name_1, ...``) and
  optionally ``sell_prices.csv``. M5 records no promotions, so ``promo`` is all False; a day with an event
  (``event_name_1``) is a holiday.
- :func:`load_online_retail` — UCI Online Retail (``InvoiceNo, StockCode, Quantity, InvoiceDate, UnitPrice``)
  and Online Retail II (``Invoice, StockCode, Quantity, InvoiceDate, Price``); quantities are summed per stock
  code and day. Dates may be ISO (``2010-12-01 08:26:00``) or the original ``12/1/2010 8:26``.

Negative sales are returns, not demand. ``negative="clip"`` (the default) counts a negative value as zero
demand — per row for Online Retail (cancelled lines), per (product, day) for Favorita and M5 — and
``negative="error"`` raises ``ValueError`` naming the first offending line. Missing or malformed columns, bad
dates and non-numeric quantities raise ``ValueError`` naming the file and line. Days with no rows inside the
loaded range are zero-demand days.
"""

from __future__ import annotations

import csv
import datetime as _dt
import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from invgym.panels import Panel
from invgym.validation import check_choice

__all__ = ["load_favorita", "load_m5", "load_online_retail"]

NEGATIVE = ("clip", "error")


def _exists(path: Any, owner: str) -> None:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{owner}: no such file {os.fspath(path)!r} (download the data set yourself; "
                                "invgym ships none).")


def _rows(path: str | os.PathLike, required: tuple[str, ...], owner: str) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) from a CSV file after checking its header has every ``required`` column."""
    _exists(path, owner)
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise ValueError(f"{owner}: {os.fspath(path)!r} lacks the column(s) {missing}; its header is {header}.")
        for row in reader:
            yield reader.line_num, row


def _date(text: str, path: Any, line: int, owner: str) -> np.datetime64:
    text = (text or "").strip()
    try:
        if "/" in text:  # the original Online Retail export: month/day/year hour:minute
            return np.datetime64(_dt.datetime.strptime(text.split()[0], "%m/%d/%Y").date(), "D")
        return np.datetime64(text[:10], "D")
    except ValueError:
        raise ValueError(f"{owner}: bad date {text!r} in {os.fspath(path)!r}, line {line}.") from None


def _number(text: str, column: str, path: Any, line: int, owner: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: the {column!r} value {text!r} in {os.fspath(path)!r}, line {line}, "
                         "is not a number.") from None
    if not np.isfinite(value):
        raise ValueError(f"{owner}: the {column!r} value {text!r} in {os.fspath(path)!r}, line {line}, is not finite.")
    return value


def _negative(value: float, negative: str, where: str, owner: str) -> float:
    if value >= 0:
        return value
    if negative == "error":
        raise ValueError(f"{owner}: negative sales {value} ({where}): returns are not demand; pass "
                         "negative='clip' to count them as zero demand.")
    return 0.0


def _window(start: Any, end: Any) -> tuple[np.datetime64 | None, np.datetime64 | None]:
    lo = None if start is None else np.datetime64(start, "D")
    hi = None if end is None else np.datetime64(end, "D")
    return lo, hi


def _assemble(series: dict[str, dict[np.datetime64, float]], promos: dict[str, set], holidays: set,
              attributes: dict[str, dict[str, float]], start: Any, end: Any, owner: str) -> Panel:
    """Turn per-product {day: units} dicts into a Panel over every day from the first to the last."""
    if not series:
        raise ValueError(f"{owner}: no rows left after filtering; nothing to build a panel from.")
    days = [d for s in series.values() for d in s]
    lo = np.datetime64(start, "D") if start is not None else min(days)
    hi = np.datetime64(end, "D") if end is not None else max(days)
    dates = np.arange(lo, hi + np.timedelta64(1, "D"), dtype="datetime64[D]")
    ids = sorted(series)
    demand = np.zeros((len(ids), dates.shape[0]))
    promo = np.zeros(demand.shape, dtype=np.bool_)
    for r, pid in enumerate(ids):
        for day, units in series[pid].items():
            demand[r, int((day - lo).astype(np.int64))] += units
        for day in promos.get(pid, ()):
            promo[r, int((day - lo).astype(np.int64))] = True
    holiday = np.isin(dates, np.array(sorted(holidays), dtype="datetime64[D]"))
    attrs = {name: np.array([values.get(pid, np.nan) for pid in ids]) for name, values in attributes.items()}
    attrs = {name: value for name, value in attrs.items() if np.all(np.isfinite(value))}
    return Panel(demand, promo, holiday, dates, np.array(ids), attrs)


def load_favorita(
    path: str | os.PathLike,
    stores: Iterable[int] | None = None,
    items: Iterable[int] | None = None,
    start: Any = None,
    end: Any = None,
    negative: str = "clip",
    holidays_path: str | os.PathLike | None = None,
) -> Panel:
    """Read Favorita's ``train.csv`` into a panel of (store, item) products.

    Args:
        path: the file (the full file has 125 million rows; filter with ``stores``/``items``/dates, since the
            csv module reads about a million rows per second).
        stores: keep only these ``store_nbr`` (all when None).
        items: keep only these ``item_nbr`` (all when None).
        start: first date kept (ISO string or datetime64), inclusive; the first date in the file when None.
        end: last date kept, inclusive.
        negative: "clip" (a negative daily ``unit_sales``, a net return, counts as zero) or "error".
        holidays_path: optional ``holidays_events.csv`` (``date, type, locale, transferred``): national
            holidays that were not transferred become holiday flags.

    Returns:
        A :class:`Panel`; product ids are ``"<store_nbr>-<item_nbr>"``.
    """
    owner = "load_favorita"
    check_choice(negative, "negative", owner, NEGATIVE)
    keep_stores = None if stores is None else {int(s) for s in stores}
    keep_items = None if items is None else {int(i) for i in items}
    lo, hi = _window(start, end)
    series: dict[str, dict] = {}
    promos: dict[str, set] = {}
    required = ("date", "store_nbr", "item_nbr", "unit_sales", "onpromotion")
    for line, row in _rows(path, required, owner):
        try:
            store, item = int(row["store_nbr"]), int(row["item_nbr"])
        except (TypeError, ValueError):
            raise ValueError(f"{owner}: bad store_nbr/item_nbr {row['store_nbr']!r}/{row['item_nbr']!r} in "
                             f"{os.fspath(path)!r}, line {line}.") from None
        if (keep_stores is not None and store not in keep_stores) or (
                keep_items is not None and item not in keep_items):
            continue
        day = _date(row["date"], path, line, owner)
        if (lo is not None and day < lo) or (hi is not None and day > hi):
            continue
        units = _number(row["unit_sales"], "unit_sales", path, line, owner)
        units = _negative(units, negative, f"{os.fspath(path)!r}, line {line}", owner)
        pid = f"{store}-{item}"
        bucket = series.setdefault(pid, {})
        bucket[day] = bucket.get(day, 0.0) + units
        flag = (row["onpromotion"] or "").strip().lower()
        if flag not in ("", "true", "false", "1", "0", "nan"):
            raise ValueError(f"{owner}: bad onpromotion {row['onpromotion']!r} in {os.fspath(path)!r}, line {line}.")
        if flag in ("true", "1"):
            promos.setdefault(pid, set()).add(day)
    holidays: set = set()
    if holidays_path is not None:
        for line, row in _rows(holidays_path, ("date", "type", "locale", "transferred"), owner):
            if row["locale"] == "National" and row["type"] != "Work Day" and row["transferred"].lower() != "true":
                holidays.add(_date(row["date"], holidays_path, line, owner))
    return _assemble(series, promos, holidays, {}, lo, hi, owner)


def load_m5(
    sales_path: str | os.PathLike,
    calendar_path: str | os.PathLike,
    prices_path: str | os.PathLike | None = None,
    items: Iterable[str] | None = None,
    start: Any = None,
    end: Any = None,
    negative: str = "clip",
) -> Panel:
    """Read M5's wide sales file and calendar into a panel (one product per row ``id``).

    Args:
        sales_path: ``sales_train_validation.csv`` or ``sales_train_evaluation.csv``.
        calendar_path: ``calendar.csv`` (maps ``d_k`` to dates; ``event_name_1`` marks holidays).
        prices_path: optional ``sell_prices.csv``; a product's price attribute is its mean ``sell_price``.
        items: keep only rows whose ``id`` or ``item_id`` is listed (all when None).
        start: first date kept, inclusive.
        end: last date kept, inclusive.
        negative: "clip" or "error" (M5 has no negative sales; a corrupted file might).

    Returns:
        A :class:`Panel` with all-False promotions (M5 records none).
    """
    owner = "load_m5"
    check_choice(negative, "negative", owner, NEGATIVE)
    keep = None if items is None else set(items)
    lo, hi = _window(start, end)
    day_of: dict[str, np.datetime64] = {}
    holidays: set = set()
    week_of: dict[str, list] = {}
    for line, row in _rows(calendar_path, ("date", "d", "event_name_1", "wm_yr_wk"), owner):
        day = _date(row["date"], calendar_path, line, owner)
        day_of[row["d"]] = day
        week_of.setdefault(row["wm_yr_wk"], []).append(day)
        if (row["event_name_1"] or "").strip():
            holidays.add(day)
    series: dict[str, dict] = {}
    store_item: dict[str, tuple[str, str]] = {}
    for line, row in _rows(sales_path, ("id", "item_id", "store_id"), owner):
        if keep is not None and row["id"] not in keep and row["item_id"] not in keep:
            continue
        bucket = series.setdefault(row["id"], {})
        store_item[row["id"]] = (row["store_id"], row["item_id"])
        for column, text in row.items():
            if column is None or not column.startswith("d_"):
                continue
            if column not in day_of:
                raise ValueError(f"{owner}: the column {column!r} of {os.fspath(sales_path)!r} is not in the calendar.")
            day = day_of[column]
            if (lo is not None and day < lo) or (hi is not None and day > hi):
                continue
            units = _number(text, column, sales_path, line, owner)
            bucket[day] = _negative(units, negative, f"{os.fspath(sales_path)!r}, line {line}, {column}", owner)
    attributes: dict[str, dict[str, float]] = {}
    if prices_path is not None:
        sums: dict[tuple[str, str], list[float]] = {}
        for line, row in _rows(prices_path, ("store_id", "item_id", "wm_yr_wk", "sell_price"), owner):
            sums.setdefault((row["store_id"], row["item_id"]), []).append(
                _number(row["sell_price"], "sell_price", prices_path, line, owner))
        attributes["price"] = {pid: float(np.mean(sums[key])) for pid, key in store_item.items() if key in sums}
        if len(attributes["price"]) != len(store_item):
            attributes.pop("price")  # some products have no price: keep the documented default for all
    return _assemble(series, {}, holidays, attributes, lo, hi, owner)


def load_online_retail(
    path: str | os.PathLike,
    top: int | None = None,
    start: Any = None,
    end: Any = None,
    negative: str = "clip",
) -> Panel:
    """Read UCI Online Retail (I or II, exported to CSV) into a panel of daily units per stock code.

    Args:
        path: the CSV export.
        top: keep only the ``top`` stock codes by total units (all when None).
        start: first date kept, inclusive.
        end: last date kept, inclusive.
        negative: "clip" (cancelled lines and returns, negative ``Quantity``, count as zero) or "error".

    Returns:
        A :class:`Panel`; a product's price attribute is its median unit price.
    """
    owner = "load_online_retail"
    check_choice(negative, "negative", owner, NEGATIVE)
    lo, hi = _window(start, end)
    _exists(path, owner)
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        header = next(csv.reader(handle), [])
    price_column = "UnitPrice" if "UnitPrice" in header else "Price"
    series: dict[str, dict] = {}
    prices: dict[str, list[float]] = {}
    for line, row in _rows(path, ("StockCode", "Quantity", "InvoiceDate", price_column), owner):
        day = _date(row["InvoiceDate"], path, line, owner)
        if (lo is not None and day < lo) or (hi is not None and day > hi):
            continue
        units = _number(row["Quantity"], "Quantity", path, line, owner)
        units = _negative(units, negative, f"{os.fspath(path)!r}, line {line}", owner)
        code = (row["StockCode"] or "").strip()
        if not code:
            raise ValueError(f"{owner}: empty StockCode in {os.fspath(path)!r}, line {line}.")
        bucket = series.setdefault(code, {})
        bucket[day] = bucket.get(day, 0.0) + units
        price = _number(row[price_column], price_column, path, line, owner)
        if price > 0:
            prices.setdefault(code, []).append(price)
    if top is not None:
        ranked = sorted(series, key=lambda c: -sum(series[c].values()))[: int(top)]
        series = {c: series[c] for c in ranked}
    attributes = {"price": {c: float(np.median(prices[c])) for c in series if c in prices}}
    if len(attributes["price"]) != len(series):
        attributes = {}
    return _assemble(series, {}, set(), attributes, lo, hi, owner)


