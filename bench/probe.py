"""The compiled-limit probes of bench/_probe.pyx, built on first use with pyximport.

Bench-only: the package never imports them.
"""

from __future__ import annotations

import os

import pyximport

_ROOT = os.path.join(os.path.dirname(__file__), "..")
# Built into this checkout's build/ (not the user-wide ~/.pyxbld, which every clone would share), and rebuilt
# when its build flags or the kernels' .pxd files it inlines change (bench/_probe.pyxdep).
pyximport.install(language_level=3, setup_args={"include_dirs": [_ROOT]}, inplace=False,
                  build_dir=os.path.join(_ROOT, "build", "pyxbld"))

from bench._probe import (  # noqa: E402
    LostSalesStepper,
    dual_sourcing_rollout,
    lost_sales_rollout,
    perishable_rollout,
    procurement_removal_rollout,
)

__all__ = ["LostSalesStepper", "dual_sourcing_rollout", "lost_sales_rollout", "perishable_rollout",
           "procurement_removal_rollout"]
