"""Every invgym id is registered on import and the import stays light (the per-id contract: test_contract)."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym

import invgym
from invgym.registration import ENV_IDS

# Warnings the checkers emit by design for these spaces, allowed by exact text.


def test_every_id_is_registered_on_import():
    registered = {env_id for env_id in gym.registry if env_id.startswith("invgym/")}
    assert registered == set(ENV_IDS) and len(ENV_IDS) >= 1


def test_import_is_light():
    code = "import sys, invgym; print([m for m in ('torch', 'stable_baselines3', 'ray') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_version_is_exposed():
    assert invgym.__version__.count(".") == 2
