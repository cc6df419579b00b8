"""Why 1/sqrt(d_k): the moment derivation, its exact and Monte Carlo witnesses, and the saturation data."""

import sys
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from symformer import catalog
from symformer.figures.course import softmax_saturation_data

from _reports import catalog_report

d_k = sp.Symbol("d_k", integer=True, positive=True)


@pytest.fixture(scope="module")
def report():
    return catalog_report("dot-product-variance")


def test_the_variance_is_proved_for_every_d_k(report):
    assert report.ok, report.describe_failures()
    levels = {c.label: c.level for c in report.checks}
    for label, level in levels.items():
        if "Gaussian or not" in label:  # the skewed law's exact moments in the moment formula, for every d_k
            assert level.startswith("proved for all d_k (general argument: the skewed law has mean 0 and variance 1"), level
        else:
            assert level == "proved for all d_k", (label, level)


def test_the_general_formula_and_the_papers_case():
    derivation = catalog()["dot-product-variance"]
    general = derivation.steps[-1].expr
    mq, mk = sp.Symbol("mu_q", real=True), sp.Symbol("mu_k", real=True)
    sq, sk = sp.Symbol("sigma_q", positive=True), sp.Symbol("sigma_k", positive=True)
    # Var[q.k] = d (sq^2 sk^2 + sq^2 mk^2 + mq^2 sk^2): d_k for the paper's mean 0, variance 1
    assert sp.expand(general - d_k * (sq**2 * sk**2 + sq**2 * mk**2 + mq**2 * sk**2)) == 0
    assert general.subs({mq: 0, mk: 0, sq: 1, sk: 1}) == d_k
    # a nonzero mean adds variance: with mu = 1, sigma = 1 it is 3 d_k
    assert general.subs({mq: 1, mk: 1, sq: 1, sk: 1}) == 3 * d_k


def test_the_exact_witness_convolves_a_skewed_law():
    derivation = catalog()["dot-product-variance"]
    prop = derivation.claims[-1]
    witness = prop.exact({d_k: 3})
    assert witness.holds
    assert "E[q.k] = 0, Var[q.k] = 3, Var[q.k / sqrt(d_k)] = 1, E[q.q] = 3" in witness.detail


def test_the_monte_carlo_witness_is_seeded_and_within_its_standard_errors():
    prop = catalog()["dot-product-variance"].claims[-1]
    first = prop.numeric(np.random.default_rng(7), {d_k: 16})
    again = prop.numeric(np.random.default_rng(7), {d_k: 16})
    assert first.holds and first.detail == again.detail
    assert 0 <= first.error < 5


def test_the_monte_carlo_witness_can_fail(monkeypatch):
    # components of variance 1.1 make Var[q.k] = 1.21 d_k: the witness must reject that
    prop = catalog()["dot-product-variance"].claims[-1]
    module = sys.modules[prop.numeric.__module__]
    draw = module._draw
    monkeypatch.setattr(module, "_draw", lambda rng, name, shape: np.sqrt(1.1) * draw(rng, name, shape))
    witness = prop.numeric(np.random.default_rng(7), {d_k: 16})
    assert not witness.holds and witness.error > 5


def test_q_equal_k_is_the_counter_case():
    # E[q . q] = d_k: a query is aligned with itself, so the mean is not 0
    rng = np.random.default_rng(0)
    q = rng.standard_normal((50_000, 32))
    assert np.mean(np.sum(q * q, axis=1)) == pytest.approx(32, rel=0.01)
    assert Fraction(1, 5) * 4 + Fraction(4, 5) * Fraction(1, 4) == 1  # the skewed law has E[q_i^2] = 1


def test_saturation_without_the_scale():
    data = softmax_saturation_data(dims=(1, 4, 64, 1024), trials=100)
    unscaled, scaled = data["unscaled"], data["scaled"]
    assert np.all(np.diff(unscaled["max_probability"]) > 0)
    assert unscaled["max_probability"][-1] > 0.95
    assert np.all(np.diff(unscaled["jacobian_norm"][1:]) < 0) and unscaled["jacobian_norm"][-1] < 0.1
    # with the scale the logits keep unit variance at every d_k: the curves stay flat
    assert np.ptp(scaled["max_probability"][1:]) < 0.05
    assert np.all(scaled["max_probability"] < 0.3) and np.all(scaled["jacobian_norm"] > 0.25)
    assert scaled["jacobian_norm"][-1] > 5 * unscaled["jacobian_norm"][-1]
