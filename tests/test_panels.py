"""invgym.panels and invgym.loaders: the synthetic generator's retail features, and loaders on fixture files."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from invgym.loaders import load_favorita, load_m5, load_online_retail
from invgym.panels import Panel, synthetic_panel

# === The synthetic generator ===


@pytest.fixture(scope="module")
def panel() -> Panel:
    return synthetic_panel(num_products=300, seed=1)


def test_same_seed_same_panel_and_different_seed_differs():
    a, b, c = synthetic_panel(20, 60, seed=3), synthetic_panel(20, 60, seed=3), synthetic_panel(20, 60, seed=4)
    np.testing.assert_array_equal(a.demand, b.demand)
    np.testing.assert_array_equal(a.promo, b.promo)
    assert not np.array_equal(a.demand, c.demand)


def test_shapes_dates_and_attributes(panel):
    assert panel.demand.shape == (300, 1096) and panel.promo.shape == (300, 1096)
    assert str(panel.dates[0]) == "2014-01-01" and str(panel.dates[-1]) == "2016-12-31"
    assert np.all(panel.demand >= 0) and np.all(panel.demand == np.round(panel.demand))
    attrs = panel.attributes
    assert np.all(attrs["unit_cost"] < attrs["price"]) and np.all(attrs["case_pack"] >= 1)
    assert np.all(attrs["moq"] % attrs["case_pack"] == 0)


def test_levels_are_long_tailed(panel):
    means = panel.demand.mean(axis=1)
    assert np.percentile(means, 95) > 3 * np.percentile(means, 50)  # a heavy right tail
    assert means.max() > 20 * np.median(means)


def test_slow_movers_are_intermittent(panel):
    slow = panel.attributes["slow_mover"] == 1
    assert 0.15 < slow.mean() < 0.45
    assert (panel.demand[slow] == 0).mean() > 0.6
    assert (panel.demand[~slow] == 0).mean() < (panel.demand[slow] == 0).mean()


def test_weekly_seasonality_weekends_sell_more(panel):
    dow = (panel.dates.astype(np.int64) + 3) % 7
    total = panel.demand.sum(axis=0)
    assert total[dow == 5].mean() > 1.2 * total[dow == 1].mean()  # Saturday vs Tuesday


def test_christmas_peak_and_closed_days(panel):
    total = panel.demand.sum(axis=0)
    dates = panel.dates
    for year in (2014, 2015, 2016):
        peak = (dates >= np.datetime64(f"{year}-12-15")) & (dates <= np.datetime64(f"{year}-12-24"))
        november = (dates >= np.datetime64(f"{year}-11-01")) & (dates <= np.datetime64(f"{year}-11-30"))
        assert total[peak].mean() > 1.5 * total[november].mean()
        assert total[panel.day_of(f"{year}-12-25")] == 0  # stores closed
        assert panel.holiday[panel.day_of(f"{year}-12-25")]


def test_promotions_lift_sales_and_are_followed_by_a_dip(panel):
    fast = panel.attributes["slow_mover"] == 0
    d, promo = panel.demand[fast], panel.promo[fast]
    level = d.mean(axis=1, keepdims=True) + 1e-9
    rel = d / level
    assert rel[promo].mean() > 1.5 * rel[~promo].mean()
    after = np.zeros_like(promo)
    after[:, 1:] = promo[:, :-1] & ~promo[:, 1:]  # the first day after a promotion
    assert rel[after].mean() < rel[~promo & ~after].mean()


def test_shock_is_a_sudden_jump_that_decays(panel):
    total = panel.demand.sum(axis=0)
    t0 = panel.day_of("2016-04-16")
    before, jump, later = total[t0 - 14 : t0].mean(), total[t0 : t0 + 3].mean(), total[t0 + 90 : t0 + 104].mean()
    assert jump > 1.3 * before and later < 0.8 * jump


def test_panel_checks_its_arrays():
    d = np.ones((2, 5))
    good = dict(promo=np.zeros((2, 5), bool), holiday=np.zeros(5, bool),
                dates=np.arange("2020-01-01", "2020-01-06", dtype="datetime64[D]"), product_ids=["a", "b"])
    Panel(d, **good)
    with pytest.raises(ValueError, match="non-negative"):
        Panel(-d, **good)
    with pytest.raises(ValueError, match="consecutive"):
        Panel(d, **{**good, "dates": good["dates"][[0, 1, 2, 3, 4]][::-1]})
    with pytest.raises(ValueError, match="promo must have shape"):
        Panel(d, **{**good, "promo": np.zeros((3, 5), bool)})
    with pytest.raises(ValueError, match="'price'"):
        Panel(d, **good, attributes={"price": [0.0, 1.0]})
    with pytest.raises(ValueError, match="The 'num_products' parameter of synthetic_panel"):
        synthetic_panel(num_products=0)


def test_subset_and_day_of(panel):
    sub = panel.subset([3, 5], "2015-01-01", "2015-01-31")
    assert sub.demand.shape == (2, 31)
    lo, hi = panel.day_of("2015-01-01"), panel.day_of("2015-02-01")
    np.testing.assert_array_equal(sub.demand[1], panel.demand[5, lo:hi])
    with pytest.raises(ValueError, match="outside the panel"):
        panel.day_of("2020-01-01")


# === Loaders on fixture files with the published columns ===


def _write(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


FAVORITA = ["id", "date", "store_nbr", "item_nbr", "unit_sales", "onpromotion"]


def test_favorita_fixture(tmp_path):
    path = _write(tmp_path / "train.csv", FAVORITA, [
        [0, "2016-01-01", 1, 100, "3.0", ""],
        [1, "2016-01-01", 1, 200, "1.5", "False"],
        [2, "2016-01-03", 1, 100, "-2.0", "False"],  # a net return: zero demand under "clip"
        [3, "2016-01-04", 1, 100, "5", "True"],
        [4, "2016-01-04", 2, 100, "7", "True"],      # another store
    ])
    panel = load_favorita(path, stores=[1])
    assert list(panel.product_ids) == ["1-100", "1-200"]
    assert str(panel.dates[0]) == "2016-01-01" and panel.num_days == 4
    np.testing.assert_array_equal(panel.demand, [[3, 0, 0, 5], [1.5, 0, 0, 0]])  # missing days are zeros
    np.testing.assert_array_equal(panel.promo, [[False, False, False, True], [False] * 4])
    assert np.all(panel.attributes["price"] == 1.0)  # documented default
    with pytest.raises(ValueError, match="negative sales -2.0"):
        load_favorita(path, negative="error")
    assert load_favorita(path, start="2016-01-03").num_days == 2


def test_favorita_holidays(tmp_path):
    path = _write(tmp_path / "train.csv", FAVORITA,
                  [[0, "2016-01-01", 1, 1, "1", ""], [1, "2016-01-03", 1, 1, "1", ""]])
    hol = _write(tmp_path / "holidays_events.csv",
                 ["date", "type", "locale", "locale_name", "description", "transferred"],
                 [["2016-01-01", "Holiday", "National", "Ecuador", "Primer dia del ano", "False"],
                  ["2016-01-02", "Holiday", "Local", "Quito", "x", "False"]])
    np.testing.assert_array_equal(load_favorita(path, holidays_path=hol).holiday, [True, False, False])


@pytest.mark.parametrize("rows, header, message", [
    ([[0, "2016-01-01", 1, 1, "1"]], FAVORITA[:-1], "lacks the column"),
    ([[0, "2016-13-01", 1, 1, "1", ""]], FAVORITA, "bad date '2016-13-01'.*line 2"),
    ([[0, "2016-01-01", 1, 1, "many", ""]], FAVORITA, "'many'.*is not a number"),
    ([[0, "2016-01-01", "x", 1, "1", ""]], FAVORITA, "bad store_nbr"),
    ([[0, "2016-01-01", 1, 1, "1", "maybe"]], FAVORITA, "bad onpromotion"),
    ([], FAVORITA, "no rows left"),
])
def test_favorita_malformed_files_raise_clear_errors(tmp_path, rows, header, message):
    path = _write(tmp_path / "train.csv", header, rows)
    with pytest.raises(ValueError, match=message):
        load_favorita(path)


def test_missing_file_says_nothing_is_shipped(tmp_path):
    with pytest.raises(FileNotFoundError, match="invgym ships none"):
        load_favorita(tmp_path / "nope.csv")


def test_m5_fixture(tmp_path):
    sales = _write(tmp_path / "sales.csv",
                   ["id", "item_id", "dept_id", "cat_id", "store_id", "state_id", "d_1", "d_2", "d_3"],
                   [["A_CA_1", "A", "D", "C", "CA_1", "CA", 0, 2, 1], ["B_CA_1", "B", "D", "C", "CA_1", "CA", 4, 0, 3]])
    cal = _write(tmp_path / "calendar.csv", ["date", "wm_yr_wk", "weekday", "d", "event_name_1"],
                 [["2011-01-29", 11101, "Saturday", "d_1", ""], ["2011-01-30", 11101, "Sunday", "d_2", "SuperBowl"],
                  ["2011-01-31", 11101, "Monday", "d_3", ""]])
    prices = _write(tmp_path / "sell_prices.csv", ["store_id", "item_id", "wm_yr_wk", "sell_price"],
                    [["CA_1", "A", 11101, 2.0], ["CA_1", "B", 11101, 4.5]])
    panel = load_m5(sales, cal, prices)
    np.testing.assert_array_equal(panel.demand, [[0, 2, 1], [4, 0, 3]])
    np.testing.assert_array_equal(panel.holiday, [False, True, False])
    np.testing.assert_array_equal(panel.attributes["price"], [2.0, 4.5])
    assert not panel.promo.any()
    bad = _write(tmp_path / "bad.csv", ["id", "item_id", "store_id", "d_9"], [["A", "A", "S", 1]])
    with pytest.raises(ValueError, match="'d_9'.*not in the calendar"):
        load_m5(bad, cal)


@pytest.mark.parametrize("schema", ["I", "II"])
def test_online_retail_fixture_both_schemas(tmp_path, schema):
    if schema == "I":
        header = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID",
                  "Country"]
        dates = ["12/1/2010 8:26", "12/1/2010 9:00", "12/3/2010 10:00", "12/3/2010 11:00"]
    else:
        header = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]
        dates = ["2010-12-01 08:26:00", "2010-12-01 09:00:00", "2010-12-03 10:00:00", "2010-12-03 11:00:00"]
    path = _write(tmp_path / "retail.csv", header, [
        ["536365", "85123A", "HEART", 6, dates[0], 2.55, 17850, "UK"],
        ["536366", "85123A", "HEART", 4, dates[1], 2.55, 17850, "UK"],
        ["C536379", "85123A", "HEART", -3, dates[2], 2.55, 17850, "UK"],  # a cancellation: zero under "clip"
        ["536380", "71053", "LANTERN", 1, dates[3], 3.39, 17850, "UK"],
    ])
    panel = load_online_retail(path)
    assert list(panel.product_ids) == ["71053", "85123A"]
    np.testing.assert_array_equal(panel.demand, [[0, 0, 1], [10, 0, 0]])
    np.testing.assert_allclose(panel.attributes["price"], [3.39, 2.55])
    assert load_online_retail(path, top=1).product_ids.tolist() == ["85123A"]
    with pytest.raises(ValueError, match="negative sales -3.0"):
        load_online_retail(path, negative="error")


def test_online_retail_bad_date(tmp_path):
    path = _write(tmp_path / "r.csv", ["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice"],
                  [["1", "A", 1, "yesterday", 1.0]])
    with pytest.raises(ValueError, match="bad date 'yesterday'"):
        load_online_retail(path)
