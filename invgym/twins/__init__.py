"""Differentiable torch twins of the scenario kernels (imports torch; never loaded by ``import invgym``).

A twin re-implements one scenario's period in torch so that gradients of the total cost flow to a policy's
parameters (DirectBackprop). It replays given demand paths, and the tests prove it matches the compiled kernel.
Which scenarios have a twin is declared in :data:`invgym.scenarios.SCENARIOS` (``twin``); the classes named there
are exported here and imported on first use.
"""

from typing import Any

from invgym.scenarios import SCENARIOS, load_entry_point
from invgym.twins.common import Twin, TwinRollout, twin_for

_TWINS = {s.twin.rpartition(":")[2]: s.twin for s in SCENARIOS.values() if s.twin is not None}

__all__ = ["Twin", "TwinRollout", "twin_for", *sorted(_TWINS)]  # noqa: PLE0604 - built from the registry


def __getattr__(name: str) -> Any:
    if name in _TWINS:
        return load_entry_point(_TWINS[name])
    raise AttributeError(f"module 'invgym.twins' has no attribute {name!r}")
