"""The test suite (a package so tests can import tests.reference and tests.scenario_checks)."""
