"""invgym: Cython-accelerated Gymnasium environments for inventory control.

Importing the package registers every ``invgym/...`` id with Gymnasium; it imports numpy and gymnasium only
(torch, stable-baselines3 and Ray are imported by the modules that use them).
"""

from invgym.evaluate import EvaluationResult, evaluate  # numpy only; binds invgym.evaluate to the function
from invgym.registration import register_envs

__version__ = "0.1.0"
__all__ = ["EvaluationResult", "__version__", "evaluate", "register_envs"]

register_envs()
