"""Learning agents, imported as ``invgym.agents`` (with invgym.twins and invgym.sb3, the only torch/SB3 users).

- :class:`DirectBackprop` (``agents/direct_backprop.py``): gradient descent on the cost through a torch twin.
- :class:`StructurePenalty`, :func:`structure_report` (``agents/structure.py``).
- ORPR: :class:`ORLabeler` (``agents/orpr.py``), :class:`Pretrainer` (``agents/pretrain.py``),
  :class:`KLRegularizedPPO` (``agents/reinforce.py``); on replenishment the whole pipeline is :class:`ORPR`
  (a days-of-cover :class:`CoverPolicy` cloned, then fine-tuned by :class:`RLOO`).
- Ray/RLlib (the ``ray`` extra): :func:`train_rllib` (``agents/rllib.py``), :func:`export_to_rllib`,
  :func:`import_from_rllib` (``agents/rllib_export.py``).

Names are loaded lazily, so ``import invgym.agents`` costs nothing until one is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DirectBackprop": "direct_backprop",
    "DirectBackpropConfig": "direct_backprop",
    "DemandSampler": "direct_backprop",
    "PanelSampler": "direct_backprop",
    "TrainedPolicy": "direct_backprop",
    "OrderPolicy": "policies",
    "HistoryEncoder": "policies",
    "build_policy": "policies",
    "CappedBaseStockPolicy": "policies",
    "DualIndexPolicy": "policies",
    "StructurePenalty": "structure",
    "structure_report": "structure",
    "ORLabeler": "orpr",
    "ORLabelerConfig": "orpr",
    "DaysOfCover": "orpr",
    "Pretrainer": "pretrain",
    "PretrainConfig": "pretrain",
    "KLRegularizedPPO": "reinforce",
    "ORPR": "orpr",
    "ORPRConfig": "orpr",
    "CoverPolicy": "pretrain",
    "CoverCloneConfig": "pretrain",
    "RLOO": "reinforce",
    "RLOOConfig": "reinforce",
    "train_rllib": "rllib",
    "export_to_rllib": "rllib_export",
    "import_from_rllib": "rllib_export",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"invgym.agents.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'invgym.agents' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
