"""The scenario environments: one module per scenario, each with its Env, VectorEnv and config."""

from invgym.envs.dual_sourcing import DualSourcingConfig, DualSourcingEnv, DualSourcingVectorEnv
from invgym.envs.lost_sales import LostSalesConfig, LostSalesEnv, LostSalesVectorEnv
from invgym.envs.perishable import PerishableConfig, PerishableEnv, PerishableVectorEnv
from invgym.envs.procurement_removal import (
    ProcurementRemovalConfig,
    ProcurementRemovalEnv,
    ProcurementRemovalVectorEnv,
)
from invgym.envs.replenishment import ReplenishmentConfig, ReplenishmentEnv, ReplenishmentVectorEnv
from invgym.envs.retail import RetailConfig, RetailEnv, RetailVectorEnv

__all__ = ["DualSourcingConfig", "DualSourcingEnv", "DualSourcingVectorEnv",
           "LostSalesConfig", "LostSalesEnv", "LostSalesVectorEnv", "PerishableConfig", "PerishableEnv",
           "PerishableVectorEnv", "ProcurementRemovalConfig",
           "ProcurementRemovalEnv", "ProcurementRemovalVectorEnv",
           "ReplenishmentConfig", "ReplenishmentEnv", "ReplenishmentVectorEnv",
           "RetailConfig", "RetailEnv", "RetailVectorEnv"]
