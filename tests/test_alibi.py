"""ALiBi: the slopes (the paper's values and its rule for other head counts, against BLOOM's torch code), the
biases, their equivalence with BLOOM's m j convention under the softmax, bad input, and the derivations."""

import dataclasses
import math

import numpy as np
import pytest
import sympy as sp

from symformer import InputError, Step, SymformerError, catalog, verify
from symformer.reference.alibi import alibi_bias, alibi_slopes
from symformer.reference.attention import additive_mask, attention, causal_mask

from _reports import catalog_report


def test_eight_heads_have_slopes_one_half_to_one_over_256():
    assert alibi_slopes(8).tolist() == [2.0**-k for k in range(1, 9)]
    # a power of two h: m_k = 2^(-8k/h), a geometric sequence with ratio 2^(-8/h)
    slopes = alibi_slopes(16)
    np.testing.assert_allclose(slopes[1:] / slopes[:-1], 2 ** (-8 / 16), rtol=1e-15)
    assert slopes[-1] == 1 / 256


def test_other_head_counts_interleave_the_slopes_of_twice_as_many_heads():
    # 12 heads: the 8 slopes of 8 heads, then slopes 1, 3, 5, 7 of 16 heads
    expected = [2.0 ** (-k) for k in range(1, 9)] + [2.0 ** (-k / 2) for k in (1, 3, 5, 7)]
    np.testing.assert_allclose(alibi_slopes(12), expected, rtol=1e-15)
    assert alibi_slopes(1).tolist() == [1 / 256]
    assert alibi_slopes(3).tolist() == pytest.approx([1 / 16, 1 / 256, 1 / 4], rel=1e-15)


def _reference_code_slopes(n):
    """The paper's reference code (ofirpress/attention_with_linear_biases), written out as a second implementation."""
    def power_of_2(n):
        start = 2 ** (-2 ** -(math.log2(n) - 3))
        return [start * start**i for i in range(n)]
    if math.log2(n).is_integer():
        return power_of_2(n)
    closest = 2 ** math.floor(math.log2(n))
    return power_of_2(closest) + _reference_code_slopes(2 * closest)[0::2][: n - closest]


@pytest.mark.parametrize("h", list(range(1, 33)) + [40, 48, 64, 96, 100])
def test_slopes_match_the_papers_reference_code(h):
    np.testing.assert_allclose(alibi_slopes(h), _reference_code_slopes(h), rtol=1e-14)


@pytest.mark.torch
@pytest.mark.parametrize("h", [1, 5, 8, 12, 16, 20, 32, 112])
def test_slopes_match_blooms_torch_code(h):
    torch = pytest.importorskip("torch", reason="BLOOM's slope code is written in torch")
    # transformers' build_alibi_tensor (BLOOM), in float64
    closest = 2 ** math.floor(math.log2(h))
    base = torch.tensor(2 ** (-(2 ** -(math.log2(closest) - 3))), dtype=torch.float64)
    slopes = torch.pow(base, torch.arange(1, 1 + closest, dtype=torch.float64))
    if closest != h:
        extra = torch.tensor(2 ** (-(2 ** -(math.log2(2 * closest) - 3))), dtype=torch.float64)
        remaining = min(closest, h - closest)
        slopes = torch.cat([slopes, torch.pow(extra, torch.arange(1, 1 + 2 * remaining, 2, dtype=torch.float64))])
    np.testing.assert_allclose(alibi_slopes(h), slopes.numpy(), rtol=1e-14)


def test_the_bias_is_minus_m_times_the_distance_and_depends_on_it_only():
    bias = alibi_bias(4, 5, 5)
    m = alibi_slopes(4)
    for k in range(4):
        for i in range(5):
            for j in range(5):
                assert bias[k, i, j] == -m[k] * (i - j)
    # relative: the same queries and keys 3 positions later get the same biases
    np.testing.assert_array_equal(alibi_bias(4, 5, 8)[:, :, 3:], bias)


def test_queries_sit_at_the_last_positions_when_n_is_less_than_m():
    # one decoding step after 3 cached tokens: query position 3 against keys 0..3
    np.testing.assert_array_equal(alibi_bias(8, 1, 4)[0, 0], [-1.5, -1.0, -0.5, 0.0])
    assert alibi_bias(2, 0, 3).shape == (2, 0, 3) and alibi_bias(2, 3, 0).shape == (2, 3, 0)


def test_attention_with_alibi_equals_attention_with_blooms_bias(rng):
    # softmax_j(s_ij - m (i - j)) = softmax_j(s_ij + m j): the difference -m i is constant along row i
    heads, n = 6, 9
    Q, K, V = rng.standard_normal((heads, n, 4)), rng.standard_normal((heads, n, 4)), rng.standard_normal((heads, n, 3))
    causal = additive_mask(causal_mask(n))
    paper = attention(Q, K, V, mask=causal + alibi_bias(heads, n, n))
    bloom = attention(Q, K, V, mask=causal + alibi_slopes(heads)[:, None, None] * np.arange(n))
    np.testing.assert_allclose(paper, bloom, rtol=1e-13, atol=1e-14)
    # and the bias matters: without it the output differs
    assert np.abs(paper - attention(Q, K, V, mask=causal)).max() > 1e-3


@pytest.mark.parametrize("call, message", [
    (lambda: alibi_slopes(0), "h (the number of heads) must be an integer >= 1, got 0"),
    (lambda: alibi_slopes(2.5), "h (the number of heads) must be an integer >= 1, got 2.5"),
    (lambda: alibi_slopes(True), "h (the number of heads) must be an integer >= 1, got True"),
    (lambda: alibi_bias(4, -1, 3), "N must be an integer >= 0, got -1"),
    (lambda: alibi_bias(4, 2, 1.5), "M must be an integer >= 0, got 1.5"),
], ids=["no heads", "fractional heads", "boolean", "negative N", "fractional M"])
def test_bad_input_gets_a_clear_error(call, message):
    with pytest.raises(InputError) as caught:
        call()
    assert message in str(caught.value)
    assert isinstance(caught.value, SymformerError) and isinstance(caught.value, ValueError)


# --- the derivations ----------------------------------------------------------------------------------


def test_the_row_constant_is_removed_for_every_length_citing_shift_invariance():
    report = catalog_report("alibi-row-constant")
    assert report.ok, report.describe_failures()
    assert [c.level for c in report.checks[:2]] == ["proved for all n", "proved for all n"]
    derivation = catalog()["alibi-row-constant"]
    assert derivation.steps[1].cite.startswith("derivation softmax-jacobian, claim 'shift invariance")
    assert any(c.statement.startswith("shift invariance") for c in catalog()["softmax-jacobian"].claims)


def test_the_slope_ratio_is_proved_for_every_head_count():
    report = catalog_report("alibi-slopes")
    assert report.ok, report.describe_failures()
    assert {c.level for c in report.checks} == {"proved for all h"}


def test_the_slope_rule_and_relativity_are_witnessed():
    report = catalog_report("alibi-slope-rule")
    assert report.ok, report.describe_failures()
    assert all(c.level == "proved" for c in report.checks), [c.level for c in report.checks]
    rule = catalog()["alibi-slope-rule"].claims[0]
    assert rule.exact({}).holds and rule.numeric(np.random.default_rng(0), {}).error < 1e-13


def test_a_bias_sign_error_is_rejected():
    derivation = catalog()["alibi-row-constant"]
    m = sp.Symbol("m", positive=True)
    wrong_last = derivation.steps[1].expr.xreplace({m: -m})  # exp(z_j - m j) / sum: the slope's sign flipped
    wrong = dataclasses.replace(derivation, slug="alibi-wrong-sign", claims=(),
                                steps=[derivation.steps[0], Step(wrong_last, "a plausible but wrong step")])
    report = verify(wrong)
    assert not report.ok and [c.label for c in report.failures()] == ["step 2"]
