"""Demand models: each one compiles to a truncated pmf on {0, 1, ..., K-1} that kernels sample by alias table.

The same pmf feeds the kernels (sampling), the exact solvers (expectations) and the tests, so every part of invgym
agrees on one distribution. Tails are cut where the remaining mass falls below ``TAIL`` (1e-12) and that mass is
moved to the last support point, so every pmf sums to exactly one.

A :class:`ProductMixture` holds many products; each env draws one product uniformly at every reset (the Amazon
paper's setting of one policy across many products, learnt from demand history only).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from invgym.validation import check_int, check_real

__all__ = [
    "TAIL",
    "DemandModel",
    "DiscreteUniform",
    "Empirical",
    "Gamma",
    "Geometric",
    "NegativeBinomial",
    "Poisson",
    "ProductMixture",
    "alias_table",
    "check_demand",
]

TAIL = 1e-12
MAX_SUPPORT = 100_000
# Poisson pmfs by mean: every env, vector env and evaluate call builds its config's pmf more than once, and the
# lgamma sum costs about 0.5 ms each time (a third of a small evaluate call).
_POISSON_PMFS: dict[float, np.ndarray] = {}
_CACHED_MEANS = 256


def _truncate(pmf: np.ndarray) -> np.ndarray:
    """Cut the pmf where the tail mass drops below TAIL, moving that mass to the last point."""
    pmf = np.clip(np.asarray(pmf, dtype=np.float64), 0.0, None)
    cdf = np.cumsum(pmf)
    total = cdf[-1]
    k = int(np.searchsorted(cdf, total * (1.0 - TAIL))) + 1
    out = pmf[:k].copy() / total
    out[-1] += 1.0 - out.sum()
    return out


def alias_table(pmf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Build Walker's alias table (Vose 1991) for a pmf on {0, ..., K-1}: ``(prob, alias)``."""
    k = len(pmf)
    scaled = np.asarray(pmf, dtype=np.float64) * k
    prob = np.ones(k)
    alias = np.arange(k, dtype=np.int32)
    small = [i for i in range(k) if scaled[i] < 1.0]
    large = [i for i in range(k) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        prob[s] = scaled[s]
        alias[s] = g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    return prob, alias


class DemandModel:
    """A discrete demand distribution on the non-negative integers (one product)."""

    def pmf(self) -> np.ndarray:
        """Return the truncated pmf on {0, ..., K-1}; it sums to one."""
        raise NotImplementedError

    def products(self) -> list[DemandModel]:
        """Return the products an env draws from at reset (one for a plain model)."""
        return [self]

    @property
    def mean(self) -> float:
        """Mean of the (truncated) distribution."""
        pmf = self.pmf()
        return float(np.dot(np.arange(len(pmf)), pmf))

    @property
    def variance(self) -> float:
        """Variance of the (truncated) distribution."""
        pmf = self.pmf()
        x = np.arange(len(pmf))
        return float(np.dot(x * x, pmf) - np.dot(x, pmf) ** 2)

    def sample(self, rng: np.random.Generator, size: int | tuple = ()) -> np.ndarray:
        """Draw demands with numpy (used by pure-Python references; kernels use their own streams)."""
        cdf = np.cumsum(self.pmf())
        return np.searchsorted(cdf, rng.random(size), side="right").astype(np.float64)

    def quantile(self, level: float, periods: int = 1) -> int:
        """Smallest d with P(D_1 + ... + D_periods <= d) >= level, for iid demands."""
        pmf = self.pmf()
        total = np.array([1.0])
        for _ in range(periods):
            total = np.convolve(total, pmf)
        return int(np.searchsorted(np.cumsum(total), level - 1e-12))

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))


class Poisson(DemandModel):
    """Poisson demand with the given mean (Zipkin 2008 uses mean 5)."""

    def __init__(self, mean: float) -> None:
        self._mean = check_real(mean, "mean", "Poisson", 0.0, 10_000.0, closed="right")

    def pmf(self) -> np.ndarray:
        """Return the truncated Poisson pmf (a fresh copy: computed once per mean, then cached)."""
        lam = self._mean
        cached = _POISSON_PMFS.get(lam)
        if cached is None:
            k = np.arange(int(lam + 40.0 * math.sqrt(lam) + 40))
            logp = -lam + k * math.log(lam) - np.array([math.lgamma(i + 1.0) for i in k])
            cached = _truncate(np.exp(logp))
            if len(_POISSON_PMFS) >= _CACHED_MEANS:
                _POISSON_PMFS.clear()
            _POISSON_PMFS[lam] = cached
        return cached.copy()

    def __repr__(self) -> str:
        return f"Poisson(mean={self._mean!r})"


class Geometric(DemandModel):
    """Geometric demand on {0, 1, 2, ...} with the given mean: P(k) = p (1-p)^k, p = 1 / (1 + mean)."""

    def __init__(self, mean: float) -> None:
        self._mean = check_real(mean, "mean", "Geometric", 0.0, 1_000.0, closed="right")

    def pmf(self) -> np.ndarray:
        """Return the truncated geometric pmf."""
        p = 1.0 / (1.0 + self._mean)
        k = int(math.ceil(math.log(TAIL) / math.log(1.0 - p))) + 2
        return _truncate(p * (1.0 - p) ** np.arange(k))

    def __repr__(self) -> str:
        return f"Geometric(mean={self._mean!r})"


class NegativeBinomial(DemandModel):
    """Negative-binomial demand with the given mean and variance (variance > mean: overdispersed demand)."""

    def __init__(self, mean: float, variance: float) -> None:
        self._mean = check_real(mean, "mean", "NegativeBinomial", 0.0, 10_000.0, closed="right")
        # The pmf covers mean + 60 sd + 40 points: bound the variance so that stays within MAX_SUPPORT (an
        # unbounded variance took minutes, then raised MemoryError, building the pmf).
        top = ((MAX_SUPPORT - 40.0 - self._mean) / 60.0) ** 2
        self._var = check_real(variance, "variance", "NegativeBinomial", self._mean, top, closed="right")

    def pmf(self) -> np.ndarray:
        """Return the truncated pmf with r = mean^2 / (variance - mean) and p = mean / variance."""
        r = self._mean**2 / (self._var - self._mean)
        p = self._mean / self._var
        sd = math.sqrt(self._var)
        k = np.arange(int(self._mean + 60.0 * sd + 40))
        logp = (
            np.array([math.lgamma(i + r) - math.lgamma(i + 1.0) for i in k])
            - math.lgamma(r)
            + r * math.log(p)
            + k * math.log1p(-p)
        )
        return _truncate(np.exp(logp))

    def __repr__(self) -> str:
        return f"NegativeBinomial(mean={self._mean!r}, variance={self._var!r})"


class DiscreteUniform(DemandModel):
    """Demand uniform on the integers {low, ..., high} (Gijsbrechts et al. 2022 use {0, ..., 4})."""

    def __init__(self, low: int, high: int) -> None:
        self._low = check_int(low, "low", "DiscreteUniform", 0, MAX_SUPPORT - 1)
        self._high = check_int(high, "high", "DiscreteUniform", self._low, MAX_SUPPORT - 1)

    def pmf(self) -> np.ndarray:
        """Return the pmf, zero below ``low``."""
        pmf = np.zeros(self._high + 1)
        pmf[self._low :] = 1.0 / (self._high - self._low + 1)
        return pmf

    def __repr__(self) -> str:
        return f"DiscreteUniform(low={self._low!r}, high={self._high!r})"


class Empirical(DemandModel):
    """Demand taking the non-negative integer ``values`` with probabilities ``probs`` (normalised if they sum to 1)."""

    def __init__(self, values: Sequence[int], probs: Sequence[float]) -> None:
        vals = np.asarray(values)
        prb = np.asarray(probs, dtype=np.float64)
        if vals.ndim != 1 or vals.size == 0 or not np.issubdtype(vals.dtype, np.integer):
            raise TypeError(
                f"The 'values' parameter of Empirical must be a non-empty sequence of ints. Got {values!r} instead."
            )
        if np.any(vals < 0) or np.any(vals >= MAX_SUPPORT):
            raise ValueError(
                f"The 'values' parameter of Empirical must hold ints in the range [0, {MAX_SUPPORT - 1}]. "
                f"Got {values!r} instead."
            )
        if prb.shape != vals.shape or not np.all(np.isfinite(prb)) or np.any(prb < 0) or abs(prb.sum() - 1.0) > 1e-9:
            raise ValueError(
                f"The 'probs' parameter of Empirical must be {vals.size} non-negative numbers summing to 1. "
                f"Got {probs!r} instead."
            )
        self._values = tuple(int(v) for v in vals)
        self._probs = tuple(float(p) for p in prb)

    def pmf(self) -> np.ndarray:
        """Return the pmf on {0, ..., max(values)}."""
        pmf = np.zeros(max(self._values) + 1)
        np.add.at(pmf, list(self._values), list(self._probs))
        return pmf / pmf.sum()

    def __repr__(self) -> str:
        return f"Empirical(values={list(self._values)!r}, probs={list(self._probs)!r})"


class ProductMixture(DemandModel):
    """Many products; each env draws one uniformly at every reset and keeps it for the episode.

    The agent is not told which product it faces: it must infer it from observed history (set ``history`` > 0 on
    the env). Build one from explicit models or with :meth:`from_ranges`.
    """

    def __init__(self, products: Sequence[DemandModel]) -> None:
        products = list(products)
        if not products or not all(isinstance(p, DemandModel) and not isinstance(p, ProductMixture) for p in products):
            raise TypeError(
                "The 'products' parameter of ProductMixture must be a non-empty sequence of demand models "
                f"(not mixtures). Got {products!r} instead."
            )
        self._products = products

    @classmethod
    def from_ranges(cls, family: str = "poisson", num_products: int = 50, mean: tuple[float, float] = (2.0, 10.0),
                    variance_ratio: tuple[float, float] = (1.5, 3.0), seed: int = 0) -> ProductMixture:
        """Draw ``num_products`` products with means uniform on ``mean`` (and variance/mean on ``variance_ratio``).

        Args:
            family: "poisson", "geometric" or "negative_binomial".
            num_products: how many products, in [1, 100000].
            mean: range of the products' means.
            variance_ratio: range of variance/mean for the negative binomial (ignored otherwise).
            seed: seed of the draw, so a mixture is reproducible by its arguments.
        """
        num_products = check_int(num_products, "num_products", "ProductMixture", 1, 100_000)
        if family not in ("poisson", "geometric", "negative_binomial"):
            raise ValueError(
                "The 'family' parameter of ProductMixture must be one of ['poisson', 'geometric', "
                f"'negative_binomial']. Got {family!r} instead."
            )
        rng = np.random.default_rng(seed)
        means = rng.uniform(mean[0], mean[1], num_products)
        if family == "poisson":
            return cls([Poisson(float(m)) for m in means])
        if family == "geometric":
            return cls([Geometric(float(m)) for m in means])
        ratios = rng.uniform(variance_ratio[0], variance_ratio[1], num_products)
        return cls([NegativeBinomial(float(m), float(m * r)) for m, r in zip(means, ratios, strict=True)])

    def products(self) -> list[DemandModel]:
        """Return the product models."""
        return list(self._products)

    def pmf(self) -> np.ndarray:
        """Return the pmf of demand in a period of a uniformly drawn product (the population's marginal)."""
        pmfs = [p.pmf() for p in self._products]
        out = np.zeros(max(len(p) for p in pmfs))
        for p in pmfs:
            out[: len(p)] += p / len(pmfs)
        return out

    def __repr__(self) -> str:
        return f"ProductMixture({self._products!r})"


def check_demand(value: object, owner: str, name: str = "demand") -> DemandModel:
    """Return ``value`` if it is a demand model, else raise a TypeError naming the parameter."""
    if not isinstance(value, DemandModel):
        raise TypeError(
            f"The '{name}' parameter of {owner} must be a demand model from invgym.demand "
            f"(e.g. Poisson(5.0)). Got {value!r} instead."
        )
    return value


def kernel_tables(model: DemandModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the alias bank ``(prob[P, K], alias[P, K], support[P])`` a kernel samples from."""
    pmfs = [p.pmf() for p in model.products()]
    width = max(len(p) for p in pmfs)
    prob = np.zeros((len(pmfs), width))
    alias = np.zeros((len(pmfs), width), dtype=np.int32)
    for row, pmf in enumerate(pmfs):
        prob[row, : len(pmf)], alias[row, : len(pmf)] = alias_table(pmf)
    return prob, alias, np.array([len(p) for p in pmfs], dtype=np.int64)


def _regularized_gamma(a: float, x: np.ndarray) -> np.ndarray:
    """Return P(a, x) = gamma(a, x) / Gamma(a) for x >= 0, elementwise.

    The power series where x < a + 1 and Lentz's continued fraction for the complement elsewhere (the
    textbook split of Press et al., Numerical Recipes, Sec. 6.2), both to double precision.
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    positive = x > 0.0
    log_front = np.zeros_like(x)
    log_front[positive] = -x[positive] + a * np.log(x[positive]) - math.lgamma(a)
    series = positive & (x < a + 1.0)
    if series.any():
        xs = x[series]
        term = np.full_like(xs, 1.0 / a)
        total = term.copy()
        for n in range(1, 100_000):
            term = term * xs / (a + n)
            total += term
            if np.all(term <= total * 2e-17):
                break
        out[series] = total * np.exp(log_front[series])
    fraction = positive & ~series
    if fraction.any():
        xf = x[fraction]
        tiny = 1e-300
        b = xf + 1.0 - a
        c = np.full_like(xf, 1.0 / tiny)
        d = 1.0 / b
        h = d.copy()
        for i in range(1, 100_000):
            an = -i * (i - a)
            b = b + 2.0
            d = an * d + b
            d = np.where(np.abs(d) < tiny, tiny, d)
            c = b + an / c
            c = np.where(np.abs(c) < tiny, tiny, c)
            d = 1.0 / d
            delta = d * c
            h = h * delta
            if np.all(np.abs(delta - 1.0) <= 5e-16):
                break
        out[fraction] = 1.0 - np.exp(log_front[fraction]) * h
    return np.clip(out, 0.0, 1.0)


class Gamma(DemandModel):
    """Gamma demand with the given mean and coefficient of variation, rounded to the nearest integer.

    The discretisation of De Moor, Gijsbrechts & Boute (2022): P(0) = F(0.5) and P(k) = F(k + 0.5) - F(k - 0.5)
    for the gamma cdf F with shape 1/cv^2 and scale mean * cv^2. With ``cap`` the demand is min(D, cap), so
    P(cap) = 1 - F(cap - 0.5); their scenarios use ``Gamma(4.0, 0.5, cap=100)``.
    """

    def __init__(self, mean: float, cv: float, cap: int | None = None) -> None:
        self._mean = check_real(mean, "mean", "Gamma", 0.0, 10_000.0, closed="right")
        self._cv = check_real(cv, "cv", "Gamma", 0.0, 10.0, closed="right")
        self._cap = None if cap is None else check_int(cap, "cap", "Gamma", 1, MAX_SUPPORT - 1)
        if self._cap is None:
            shape, scale = 1.0 / self._cv**2, self._mean * self._cv**2
            beyond = 1.0 - _regularized_gamma(shape, np.array([(MAX_SUPPORT - 1.5) / scale]))[0]
            if beyond > TAIL:
                raise ValueError(
                    f"Gamma(mean={self._mean!r}, cv={self._cv!r}) puts {beyond:.3g} > {TAIL:g} of its mass above "
                    f"{MAX_SUPPORT - 1}: pass a cap in the range [1, {MAX_SUPPORT - 1}]."
                )

    def pmf(self) -> np.ndarray:
        """Return the pmf of the rounded (and capped) gamma demand, tail-truncated."""
        shape, scale = 1.0 / self._cv**2, self._mean * self._cv**2
        last = MAX_SUPPORT - 1 if self._cap is None else self._cap
        # Grow the grid until the mass beyond it is negligible (or the cap is reached) before evaluating F.
        top = min(last, int(self._mean + 10.0 * self._mean * self._cv) + 10)
        while top < last and 1.0 - _regularized_gamma(shape, np.array([(top + 0.5) / scale]))[0] > TAIL * 1e-3:
            top = min(last, 2 * top)
        cdf = _regularized_gamma(shape, (np.arange(top) + 0.5) / scale)
        pmf = np.diff(np.concatenate(([0.0], cdf, [1.0])))
        return _truncate(pmf)

    def __repr__(self) -> str:
        cap = "" if self._cap is None else f", cap={self._cap!r}"
        return f"Gamma(mean={self._mean!r}, cv={self._cv!r}{cap})"
