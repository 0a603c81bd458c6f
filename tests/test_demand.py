"""Demand models: pmfs are proper and match their moments; kernel sampling follows the pmf; bad input raises."""

from __future__ import annotations

import numpy as np
import pytest

from invgym.demand import (
    TAIL,
    DiscreteUniform,
    Empirical,
    Geometric,
    NegativeBinomial,
    Poisson,
    ProductMixture,
    alias_table,
)
from invgym.envs.lost_sales import LostSalesVectorEnv

MODELS = [
    (Poisson(5.0), 5.0, 5.0),
    (Poisson(0.3), 0.3, 0.3),
    (Geometric(3.0), 3.0, 12.0),  # variance m(1+m)
    (NegativeBinomial(4.0, 10.0), 4.0, 10.0),
    (DiscreteUniform(0, 4), 2.0, 2.0),
    (Empirical([1, 4], [0.25, 0.75]), 3.25, 1.6875),
]


@pytest.mark.parametrize("model,mean,variance", MODELS)
def test_pmf_is_proper_with_the_stated_moments(model, mean, variance):
    pmf = model.pmf()
    assert np.all(pmf >= 0) and abs(pmf.sum() - 1.0) < 1e-15
    assert model.mean == pytest.approx(mean, rel=1e-9)
    assert model.variance == pytest.approx(variance, rel=1e-8)


@pytest.mark.parametrize("model,mean,variance", MODELS)
def test_alias_table_reproduces_the_pmf(model, mean, variance):
    pmf = model.pmf()
    prob, alias = alias_table(pmf)
    k = len(pmf)
    implied = prob / k
    np.add.at(implied, alias, (1.0 - prob) / k)
    np.testing.assert_allclose(implied, pmf, atol=1e-15)


def test_kernel_samples_follow_the_pmf():
    # Chi-square goodness of fit of 200k kernel draws of Poisson(5) (L = 0, order nothing: sales are irrelevant).
    venv = LostSalesVectorEnv(num_envs=1000, lead_time=0, horizon=10**6)
    venv.reset(seed=123)
    counts = np.zeros(64)
    for _ in range(200):
        _, _, _, _, info = venv.step(np.zeros(1000, dtype=np.int64))
        counts += np.bincount(info["demand"].astype(int), minlength=64)[:64]
    pmf = Poisson(5.0).pmf()
    expected = 200_000 * pmf
    keep = expected > 5
    chi2 = (((counts[: len(pmf)][keep] - expected[keep]) ** 2) / expected[keep]).sum()
    assert chi2 < 45.0  # 99.9 % point of chi-square with about 15 degrees of freedom is 37.7


def test_truncation_keeps_tail_below_tail_constant():
    pmf = Poisson(50.0).pmf()
    from math import exp, lgamma, log

    full_tail = sum(exp(-50 + k * log(50) - lgamma(k + 1)) for k in range(len(pmf), len(pmf) + 200))
    assert full_tail < TAIL


def test_mixture_from_ranges_is_reproducible():
    a = ProductMixture.from_ranges("negative_binomial", num_products=5, seed=3)
    b = ProductMixture.from_ranges("negative_binomial", num_products=5, seed=3)
    assert repr(a) == repr(b) and len(a.products()) == 5


@pytest.mark.parametrize(
    "build,message",
    [
        (lambda: Poisson(0.0), "'mean' parameter of Poisson must be a float in the range (0, 10000]"),
        (lambda: Geometric(float("inf")), "'mean' parameter of Geometric"),
        (lambda: NegativeBinomial(5.0, 4.0),
         "'variance' parameter of NegativeBinomial must be a float in the range (5, 2.77528e+06]"),
        (lambda: DiscreteUniform(3, 2), "'high' parameter of DiscreteUniform must be an int in the range [3,"),
        (lambda: Empirical([0, -1], [0.5, 0.5]), "'values' parameter of Empirical"),
        (lambda: Empirical([0, 1], [0.5, 0.6]), "'probs' parameter of Empirical"),
        (lambda: ProductMixture([]), "'products' parameter of ProductMixture"),
        (lambda: ProductMixture.from_ranges("normal"), "'family' parameter of ProductMixture"),
    ],
)
def test_bad_demand_input_raises(build, message):
    with pytest.raises((ValueError, TypeError)) as excinfo:
        build()
    assert message in str(excinfo.value)
