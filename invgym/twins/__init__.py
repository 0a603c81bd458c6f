"""Differentiable torch twins of the scenario kernels (imports torch; never loaded by ``import invgym``).

A twin re-implements one scenario's period in torch so that gradients of the total cost flow to a policy's
parameters (DirectBackprop). It replays given demand paths, and the tests prove it matches the compiled kernel.
"""

from invgym.twins.common import Twin, TwinRollout, twin_for
from invgym.twins.dual_sourcing import DualSourcingTwin
from invgym.twins.lost_sales import LostSalesTwin
from invgym.twins.perishable import PerishableTwin
from invgym.twins.procurement_removal import ProcurementRemovalTwin

__all__ = ["DualSourcingTwin", "LostSalesTwin", "PerishableTwin", "ProcurementRemovalTwin", "Twin", "TwinRollout",
           "twin_for"]
