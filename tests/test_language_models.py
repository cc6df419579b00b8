"""The language-model derivations: BERT's fractions, the masked-LM gradient, the causal factorisation."""

import sys

import numpy as np
import pytest
import sympy as sp

from symformer import catalog
from symformer.notation import derivation_to_latex

from _reports import catalog_report

SLUGS = ["mlm-masking-fractions", "mlm-loss-gradient", "causal-factorisation"]
T = sp.Symbol("T", integer=True, positive=True)


def test_derivations_come_after_attention_in_the_course():
    slugs = list(catalog())
    assert [s for s in slugs if s in SLUGS] == SLUGS
    assert slugs.index("dot-product-variance") < slugs.index("mlm-masking-fractions")
    assert {catalog()[s].topic for s in SLUGS} == {"Masked and causal language models"}


@pytest.mark.parametrize("slug", SLUGS)
def test_each_derivation_verifies(slug):
    report = catalog_report(slug)
    assert report.ok, report.describe_failures()
    for check in report.checks:
        assert check.level.startswith("proved") or check.kind == "result", (check.label, check.level)


def test_the_gradient_is_proved_for_every_sequence_length_and_vocabulary():
    levels = [c.level for c in catalog_report("mlm-loss-gradient").checks if c.kind == "step"]
    assert levels == ["proved for all T, n"] * 4
    result = catalog_report("mlm-loss-gradient").checks[-1]
    assert [m.status for m in result.methods] == ["holds", "holds"]


def test_the_fractions_are_exact_rationals():
    derivation = catalog()["mlm-masking-fractions"]
    values = [derivation.expand(c.lhs) for c in derivation.claims[:3]]
    assert derivation.expand(derivation.lhs) == sp.Rational(12, 100)
    assert values == [sp.Rational(15, 1000), sp.Rational(15, 1000), sp.Rational(15, 100)]


def test_the_simulation_witness_fails_on_a_wrong_rate(monkeypatch):
    # if mlm_mask masked 70% instead of 80% of the chosen tokens, the simulation must notice
    prop = catalog()["mlm-masking-fractions"].claims[-1]
    module = sys.modules[prop.numeric.__module__]
    real = module.mlm_mask
    monkeypatch.setattr(module, "mlm_mask", lambda *a, **k: real(*a, **{**k, "mask_prob": 0.7}))
    witness = prop.numeric(np.random.default_rng(0), {})
    assert not witness.holds and witness.error > 5


def test_the_causal_witness_catches_a_leaky_mask(monkeypatch):
    prop = catalog()["causal-factorisation"].claims[-1]
    assert prop.exact({T: 3}).holds and prop.numeric(np.random.default_rng(1), {T: 6}).holds
    tri = np.tri
    # the derivation builds its mask with np.tri; shift it so each token also sees the next one
    monkeypatch.setattr(np, "tri", lambda N, M=None, k=0, dtype=float: tri(N, M, k + 1, dtype))
    try:
        witness = prop.numeric(np.random.default_rng(1), {T: 6})
    finally:
        monkeypatch.undo()
    assert not witness.holds and "changed a causal output" in witness.detail


def test_the_empty_batch_property_names_the_convention():
    prop = catalog()["mlm-loss-gradient"].claims[-1]
    assert prop.exact({T: 3}).detail == "m = 0 gives 0; otherwise the mean over the chosen positions"


def test_latex_shows_the_factorisation():
    latex = derivation_to_latex(catalog()["causal-factorisation"])
    assert "\\log p(x_1, \\dots, x_T) &= \\sum_{t=1}^{T} \\log q_{t}" in latex
