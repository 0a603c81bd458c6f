"""Suite-wide hooks: with ``INVGYM_REQUIRE_RAY=1`` (the Ray step of ``.ci/run``) no Ray test may skip."""

from __future__ import annotations

import os

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> None:
    """Turn the skip of a ``ray``-marked test into a failure when the run requires Ray.

    The Ray tests skip without the optional ``ray`` extra (the main CI venv); in the venv built with it a skip
    would hide a broken install or a Ray left running by an earlier test, so there it fails instead.
    """
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("INVGYM_REQUIRE_RAY") == "1" and item.get_closest_marker("ray"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"INVGYM_REQUIRE_RAY=1 but this Ray test skipped: {reason}"



@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> None:
    """With ``INVGYM_REQUIRE_RAY=1`` a test file that skips as a whole (e.g. ``tests/test_rllib.py``) fails too."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("INVGYM_REQUIRE_RAY") == "1":
        report.outcome = "failed"
