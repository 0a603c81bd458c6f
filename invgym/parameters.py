"""The parameter table of a scenario: each parameter declared once, everything else derived from it.

A scenario config lists its parameters as :class:`Param` rows (name, type, default, allowed values, symbol, unit,
one-line doc), in the spirit of scikit-learn's ``_parameter_constraints``. From that one table
:class:`~invgym.envs.common.ScenarioConfig` derives

- the dataclass fields (frozen, keyword-only) and the validation run by every way of building a config
  (``Config(...)``, ``dataclasses.replace``, ``config.replace``), with one message shape everywhere;
- the Env and VectorEnv ``__init__`` signatures (real keywords with real defaults, for ``inspect.signature``,
  ``help()`` and IDEs);
- the ``## Arguments`` table of the env's docstring.

``None`` always means "the default": the declared one, or, for a parameter with ``derive``, one computed from the
other (already validated) parameters and documented by ``default_doc`` (e.g. Morton's bound for ``max_order``).
Derived values are the code's own and are stored as computed; given values are checked and normalised (a list
becomes a tuple, an int cost a float). Checking a stored value again returns it unchanged, which is what makes
``dataclasses.replace`` both validating and lossless.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from invgym.validation import check_bool, check_choice, check_int, check_real, check_vector, interval

__all__ = ["Boolean", "Computed", "Custom", "Demand", "Interval", "OneOf", "Param", "Vector", "WholeOrReal",
           "arguments_table"]

Bound = float | int | Callable[[Any], float] | None


def _resolve(bound: Bound, config: Any) -> Any:
    return bound(config) if callable(bound) else bound


class Constraint:
    """What values a parameter allows: ``check`` returns the normalised value or raises; ``describe`` says it."""

    def check(self, value: Any, name: str, owner: str, config: Any) -> Any:
        """Return ``value`` normalised, or raise ValueError/TypeError naming ``name`` and ``owner``."""
        raise NotImplementedError

    def describe(self) -> str:
        """Return the allowed values for the docs' "allowed" column."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Interval(Constraint):
    """An int or a finite float in ``[low, high]``; a bound may be a function of the config (see ``doc``).

    ``closed`` is "both", "left", "right" or "neither" (floats only). With ``as_float`` an int parameter is stored
    as a float and accepts an integral float back (so a stored value checks again unchanged).
    """

    kind: type
    low: Bound = None
    high: Bound = None
    closed: str = "both"
    doc: str | None = None
    as_float: bool = False

    def check(self, value: Any, name: str, owner: str, config: Any) -> Any:  # noqa: D102
        low, high = _resolve(self.low, config), _resolve(self.high, config)
        if self.kind is int:
            if self.as_float and isinstance(value, float | np.floating) and float(value).is_integer():
                value = int(value)
            out = check_int(value, name, owner, low, high)
            return float(out) if self.as_float else out
        return check_real(value, name, owner, low, high, self.closed)

    def describe(self) -> str:  # noqa: D102
        if self.doc is not None:
            return self.doc
        return interval(self.low, self.high, "both" if self.kind is int else self.closed)


@dataclasses.dataclass(frozen=True)
class WholeOrReal(Constraint):
    """An int (``action_type="discrete"``) or a float (``"continuous"``) in ``[low, high]``: an order bound.

    With ``positive`` the range is [1, high] for ints and (0, high] for floats. With ``as_float`` the int is
    stored as a float (and an integral float is accepted back).
    """

    low: float = 0.0
    high: float | None = None
    positive: bool = False
    as_float: bool = False

    def check(self, value: Any, name: str, owner: str, config: Any) -> Any:  # noqa: D102
        if config.action_type == "discrete":
            low = 1 if self.positive else int(self.low)
            return Interval(int, low, self.high, as_float=self.as_float).check(value, name, owner, config)
        closed = "right" if self.positive else "both"
        return Interval(float, float(self.low), self.high, closed).check(value, name, owner, config)

    def describe(self) -> str:  # noqa: D102
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"[1, {high}] (float: (0, {high}])" if self.positive else f"[{self.low:g}, {high}]"


@dataclasses.dataclass(frozen=True)
class OneOf(Constraint):
    """One of a fixed tuple of values."""

    choices: tuple

    def check(self, value: Any, name: str, owner: str, config: Any) -> Any:  # noqa: D102
        return check_choice(value, name, owner, self.choices)

    def describe(self) -> str:  # noqa: D102
        return ", ".join(f'"{c}"' if isinstance(c, str) else repr(c) for c in self.choices)


@dataclasses.dataclass(frozen=True)
class Boolean(Constraint):
    """A bool (not an int)."""

    def check(self, value: Any, name: str, owner: str, config: Any) -> Any:  # noqa: D102
        return check_bool(value, name, owner)

    def describe(self) -> str:  # noqa: D102
        return "True, False"


@dataclasses.dataclass(frozen=True)
class Vector(Constraint):
    """A sequence of ``length(config)`` finite numbers in ``[low, high]``, stored as a tuple of floats."""

    length: Callable[[Any], int]
    low: Bound = 0.0
    high: Bound = None
    doc: str = ""

    def check(self, value: Any, name: str, owner: str, config: Any) -> Any:  # noqa: D102
        arr = check_vector(value, name, owner, self.length(config), _resolve(self.low, config),
                           _resolve(self.high, config))
        return tuple(arr.tolist())

    def describe(self) -> str:  # noqa: D102
        return self.doc


@dataclasses.dataclass(frozen=True)
class Custom(Constraint):
    """A check written as a function ``check(value, name, owner, config) -> value``, described by ``doc``."""

    function: Callable[[Any, str, str, Any], Any]
    doc: str

    def check(self, value: Any, name: str, owner: str, config: Any) -> Any:  # noqa: D102
        return self.function(value, name, owner, config)

    def describe(self) -> str:  # noqa: D102
        return self.doc


@dataclasses.dataclass(frozen=True)
class Param:
    """One row of a scenario's parameter table.

    Attributes:
        name: the keyword (and config field).
        type: the type as the docs and the signatures show it (``"int"``, ``"float"``, ``"DemandModel"``, ...).
        default: the default value (None when ``derive`` computes it).
        allowed: the constraint a given value must meet.
        doc: one line saying what the parameter is.
        symbol: the paper's symbol (markdown, e.g. ``"$L$"``), or "".
        unit: the unit (``"periods"``, ``"per unit per period"``, ...), or "".
        derive: computes the default from the config, whose ``needs`` are already set; called when the value is
            None. Its result is stored as it is (not checked).
        default_doc: how the docs show a derived default.
        needs: the parameters ``allowed`` or ``derive`` read; they are checked first (otherwise table order).
        follows: ``config.replace`` derives it again when it still holds its derived value and is not changed
            (a horizon that follows the data window, say).
        public: an Env/VectorEnv keyword with a docs row; False for a config-only parameter.
        repr: shown in the config's repr.
    """

    name: str
    type: str
    default: Any
    allowed: Constraint
    doc: str
    symbol: str = ""
    unit: str = ""
    derive: Callable[[Any], Any] | None = None
    default_doc: str | None = None
    needs: tuple[str, ...] = ()
    follows: bool = False
    public: bool = True
    repr: bool = True

    def show_default(self) -> str:
        """Return the default as the docs show it."""
        if self.default_doc is not None:
            return self.default_doc
        return f'"{self.default}"' if isinstance(self.default, str) else repr(self.default)


@dataclasses.dataclass(frozen=True)
class Computed:
    """A config field derived from the parameters (not a keyword): ``function(config)`` once they are checked."""

    name: str
    type: str
    function: Callable[[Any], Any]
    doc: str


def validation_order(params: Sequence[Param]) -> tuple[Param, ...]:
    """Return the parameters in table order, except that each comes after the parameters it ``needs``."""
    names = {p.name for p in params}
    for p in params:
        unknown = set(p.needs) - names
        if unknown:
            raise ValueError(f"parameter {p.name!r} needs {sorted(unknown)}, which the table does not declare.")
    pending, done, order = list(params), set(), []
    while pending:
        ready = next((p for p in pending if set(p.needs) <= done), None)
        if ready is None:
            raise ValueError(f"the parameters {[p.name for p in pending]} need each other in a cycle.")
        pending.remove(ready)
        done.add(ready.name)
        order.append(ready)
    return tuple(order)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def arguments_table(params: Sequence[Param]) -> str:
    """Return the markdown ``## Arguments`` table of the public parameters."""
    lines = ["| parameter | symbol | type | default | allowed | unit | meaning |", "|---|---|---|---|---|---|---|"]
    for p in params:
        if p.public:
            cells = [f"``{p.name}``", p.symbol, p.type, p.show_default(), p.allowed.describe(), p.unit, p.doc]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def is_sequence(value: Any) -> bool:
    """Return whether ``value`` is a non-string sequence or array."""
    return isinstance(value, Sequence | np.ndarray) and not isinstance(value, str)


def is_integer(value: Any) -> bool:
    """Return whether ``value`` is an integer and not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


@dataclasses.dataclass(frozen=True)
class Demand(Constraint):
    """A demand model from :mod:`invgym.demand` (``mixtures``: a ``ProductMixture`` is allowed too)."""

    mixtures: bool = True

    def check(self, value: Any, name: str, owner: str, config: Any) -> Any:  # noqa: D102
        from invgym.demand import ProductMixture, check_demand

        value = check_demand(value, owner, name)
        if not self.mixtures and isinstance(value, ProductMixture):
            raise TypeError(f"The '{name}' parameter of {owner} must be a single-product demand model from "
                            f"invgym.demand (not a ProductMixture). Got {value!r} instead.")
        return value

    def describe(self) -> str:  # noqa: D102
        return "any model, incl. ``ProductMixture``" if self.mixtures else "any single-product model"
