"""invgym: Cython-accelerated Gymnasium environments for inventory control.

Importing the package registers every ``invgym/...`` id with Gymnasium; it imports numpy and gymnasium only
(torch, stable-baselines3 and Ray are imported by the modules that use them).
"""

from invgym.registration import register_envs

__version__ = "0.1.0"
__all__ = ["__version__", "register_envs"]

register_envs()
