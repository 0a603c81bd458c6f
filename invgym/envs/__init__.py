"""The scenario environments: one module per scenario, each with its config, Env and VectorEnv.

The classes exported here are those the scenarios in :data:`invgym.scenarios.SCENARIOS` declare (``config``,
``env``, ``vector_env``); each module is imported on first use.
"""

from typing import Any

from invgym.scenarios import SCENARIOS, load_entry_point

_EXPORTS = {entry.rpartition(":")[2]: entry
            for s in SCENARIOS.values() for entry in (s.config, s.env, s.vector_env)}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return load_entry_point(_EXPORTS[name])
    raise AttributeError(f"module 'invgym.envs' has no attribute {name!r}")
