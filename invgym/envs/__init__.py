"""The scenario environments: one module per scenario, each with its Env, VectorEnv and config."""

from invgym.envs.lost_sales import LostSalesConfig, LostSalesEnv, LostSalesVectorEnv

__all__ = ["LostSalesConfig", "LostSalesEnv", "LostSalesVectorEnv"]
