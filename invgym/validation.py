"""Parameter checks with one message shape everywhere (scikit-learn's).

Every user-facing check raises ``ValueError`` or ``TypeError`` with the message
"The '<name>' parameter of <Owner> must be <what> in the range <range>. Got <value> instead."
Nothing is silently fixed up, and nothing here uses ``assert`` (``python -O`` would strip it).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["check_bool", "check_choice", "check_int", "check_real", "check_vector", "interval"]


def interval(low: float | None, high: float | None, closed: str = "both") -> str:
    """Format a range as "[0, 50]", "(0, inf)" and so on."""
    left = "[" if closed in ("both", "left") and low is not None else "("
    right = "]" if closed in ("both", "right") and high is not None else ")"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}{right}"


def _fail(name: str, owner: str, what: str, value: object, error: type[Exception] = ValueError) -> None:
    raise error(f"The '{name}' parameter of {owner} must be {what}. Got {value!r} instead.")


def check_int(value: object, name: str, owner: str, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer (not a bool) in ``[low, high]``, else raise."""
    what = f"an int in the range {interval(low, high)}"
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        _fail(name, owner, what, value, TypeError)
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        _fail(name, owner, what, value)
    return value


def check_real(
    value: object,
    name: str,
    owner: str,
    low: float | None = None,
    high: float | None = None,
    closed: str = "both",
) -> float:
    """Return ``value`` as a float if it is a finite real in the interval, else raise.

    ``closed`` is "both", "left", "right" or "neither" and says which ends belong to the interval.
    """
    what = f"a float in the range {interval(low, high, closed)}"
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        _fail(name, owner, what, value, TypeError)
    number = float(value)
    if not math.isfinite(number):
        _fail(name, owner, what, value)
    if low is not None and (number < low or (number == low and closed in ("right", "neither"))):
        _fail(name, owner, what, value)
    if high is not None and (number > high or (number == high and closed in ("left", "neither"))):
        _fail(name, owner, what, value)
    return number


def check_bool(value: object, name: str, owner: str) -> bool:
    """Return ``value`` if it is a bool, else raise."""
    if not isinstance(value, bool | np.bool_):
        _fail(name, owner, "a bool", value, TypeError)
    return bool(value)


def check_choice(value: object, name: str, owner: str, choices: tuple) -> object:
    """Return ``value`` if it is one of ``choices``, else raise."""
    if isinstance(value, np.ndarray) or value not in choices:  # an array's `in` would raise its truth-value error
        _fail(name, owner, f"one of {list(choices)}", value)
    return value


# The largest magnitude of a stock level a config accepts: state costs (holding x stock) stay far from overflow and
# exactly representable in the float32 observations' integer range.
MAX_STATE = 1e7


def check_vector(
    value: object, name: str, owner: str, length: int, low: float | None = 0.0, high: float | None = None
) -> np.ndarray:
    """Return ``value`` as a float64 vector of ``length`` finite entries in ``[low, high]``, else raise."""
    what = f"a sequence of {length} finite numbers in the range {interval(low, high)}"
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        _fail(name, owner, what, value, TypeError)
    if arr.shape[0] != length or not np.all(np.isfinite(arr)):
        _fail(name, owner, what, value)
    if (low is not None and np.any(arr < low)) or (high is not None and np.any(arr > high)):
        _fail(name, owner, what, value)
    return arr
