"""Masks: causal (both alignments), padding, their combination, polarity, fully masked rows, bad masks."""

import numpy as np
import pytest
import sympy as sp
from sympy import MatrixSymbol, ZeroMatrix
from sympy.matrices.expressions.hadamard import HadamardProduct

from symformer import Derivation, Size, Step, verify
from symformer.blocks import CausalMask, MaskedEntries, PaddingMask
from symformer.notation import to_latex
from symformer.reference import additive_mask, attention, attention_backward, causal_mask, padding_mask
from symformer.blocks import RowSoftmax

from _reports import catalog_report


def test_causal_alignments():
    assert causal_mask(3, 5).astype(int).tolist() == [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0]]
    assert causal_mask(3, 5, "bottom-right").astype(int).tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]
    assert causal_mask(3, 2, "bottom-right").astype(int).tolist() == [[0, 0], [1, 0], [1, 1]]  # query 0 sees nothing
    assert np.array_equal(causal_mask(4), causal_mask(4, 4, "bottom-right"))


def test_padding_mask_and_combination():
    pad = padding_mask([2, 0], 3)
    assert pad.shape == (2, 1, 3) and pad.astype(int).tolist() == [[[1, 1, 0]], [[0, 0, 0]]]
    both = causal_mask(3) & pad
    assert both.shape == (2, 3, 3)
    np.testing.assert_array_equal(additive_mask(both), additive_mask(causal_mask(3)) + additive_mask(pad))


def test_boolean_and_additive_masks_agree(rng):
    Q, K, V = rng.standard_normal((4, 3)), rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    boolean = causal_mask(4, 6, "bottom-right")
    np.testing.assert_array_equal(attention(Q, K, V, mask=boolean), attention(Q, K, V, mask=np.where(boolean, 0.0, -np.inf)))


def test_masked_entries_get_zero_weight_and_padded_keys_zero_gradient(rng):
    Q, K, V, dO = rng.standard_normal((4, 3)), rng.standard_normal((6, 3)), rng.standard_normal((6, 2)), rng.standard_normal((4, 2))
    mask = padding_mask([4], 6)[0]
    _, P = attention(Q, K, V, mask=mask, return_weights=True)
    assert not P[:, 4:].any()
    _, dK, dV = attention_backward(Q, K, V, dO, mask=mask)
    assert not dK[4:].any() and not dV[4:].any() and dK[:4].any()


def test_causal_prefix_invariance(rng):
    X = rng.standard_normal((3, 8, 4))
    out = attention(*X, mask=causal_mask(8))
    X[:, 5:] += 100.0
    np.testing.assert_array_equal(attention(*X, mask=causal_mask(8))[:5], out[:5])


def test_fully_masked_row_gives_zeros_and_zero_gradient(rng):
    Q, K, V, dO = rng.standard_normal((3, 2)), rng.standard_normal((2, 2)), rng.standard_normal((2, 2)), rng.standard_normal((3, 2))
    mask = causal_mask(3, 2, "bottom-right")
    O = attention(Q, K, V, mask=mask)
    dQ, dK, dV = attention_backward(Q, K, V, dO, mask=mask)
    assert O[0].tolist() == [0.0, 0.0] and dQ[0].tolist() == [0.0, 0.0]
    assert all(np.isfinite(a).all() for a in (O, dQ, dK, dV))


def test_nan_in_a_masked_position_still_poisons_the_row():
    # NaN + (-inf) is NaN: masking does not repair a NaN score (documented, as in PyTorch)
    Q, K = np.array([[1.0, 0.0]]), np.array([[1.0, 0.0], [np.nan, 0.0]])
    O = attention(Q, K, np.eye(2), mask=np.array([[True, False]]))
    assert np.isnan(O).all()


@pytest.mark.parametrize("mask, message", [
    (np.ones((3, 5), dtype=bool), r"mask has shape \(3, 5\), which does not broadcast to the scores' shape \(4, 6\)"),
    (np.ones((4, 1, 6), dtype=bool)[:, :, :5], r"mask has shape \(4, 1, 5\)"),
    (np.ones((4, 6), dtype=int), "mask must be boolean"),
], ids=["rows", "columns", "dtype"])
def test_a_mask_of_the_wrong_shape_is_rejected(rng, mask, message):
    Q, K, V = rng.standard_normal((4, 3)), rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    with pytest.raises(ValueError, match=message):
        attention(Q, K, V, mask=mask)


@pytest.mark.parametrize("call, message", [
    (lambda: causal_mask(3, 4, "top-right"), "alignment must be one of"),
    (lambda: causal_mask(-1), "n must be a non-negative integer"),
    (lambda: padding_mask([1, 5], 4), r"lengths must lie in 0..4"),
    (lambda: padding_mask([[1]], 4), "lengths must be a 1-D array"),
], ids=["alignment", "negative", "too-long", "2-d"])
def test_bad_mask_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.torch
def test_fully_masked_rows_and_padding_match_torch(rng):
    torch = pytest.importorskip("torch", reason="PyTorch is the peer check; install torch to run it")
    Q, K, V, dO = (rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 2)),
                   rng.standard_normal((2, 5, 2)))
    mask = causal_mask(5, 4, "bottom-right") & padding_mask([3, 0], 4)  # batch 1: every row fully masked
    tensors = [torch.tensor(a, requires_grad=True) for a in (Q, K, V)]
    out = torch.nn.functional.scaled_dot_product_attention(*tensors, attn_mask=torch.tensor(mask))
    out.backward(torch.tensor(dO))
    np.testing.assert_allclose(attention(Q, K, V, mask=mask), out.detach().numpy(), rtol=1e-12, atol=1e-13)
    for mine, tensor in zip(attention_backward(Q, K, V, dO, mask=mask), tensors):
        np.testing.assert_allclose(mine, tensor.grad.numpy(), rtol=1e-11, atol=1e-13)
    assert not out.detach().numpy()[1].any()


def test_mask_blocks_latex_and_explicit_form():
    n, m = sp.symbols("N M", integer=True, positive=True)
    assert to_latex(CausalMask(n, m)) == r"B_{\mathrm{causal}}"
    assert to_latex(CausalMask(n, m, "bottom-right")) == r"B_{\mathrm{causal}}^{\searrow}"
    assert to_latex(MaskedEntries(CausalMask(n, m))) == r"\mathbf{1}\left[B_{\mathrm{causal}} = -\infty\right]"
    assert CausalMask(2, 3, "bottom-right").as_explicit().tolist() == [[0, 0, -sp.oo], [0, 0, 0]]
    assert PaddingMask(1, 3, 2).as_explicit().tolist() == [[0, 0, -sp.oo]]


def test_masks_derivation_verifies():
    report = catalog_report("masked-attention")
    assert report.ok, report.describe_failures()
    assert all(c.level.startswith("proved") for c in report.checks), [c.level for c in report.checks]
    # the masks' entries at a general position: j <= i in both alignments when M - N = 0
    levels = {c.label: c.level for c in report.checks}
    assert levels["claim 'the two alignments agree when $N = M$'"] == "proved for all N, M"


def test_a_wrong_mask_claim_fails():
    # P is NOT zero on the visible entries: the claim P o (1 - [B = -inf]) = 0 must be rejected
    n, m = sp.symbols("N M", integer=True, positive=True)
    S = MatrixSymbol("S", n, m)
    visible = sp.OneMatrix(n, m) - MaskedEntries(CausalMask(n, m))
    wrong = Derivation(slug="wrong-mask", title="wrong", topic="Test",
                       lhs=HadamardProduct(RowSoftmax(S + CausalMask(n, m)), visible),
                       sizes={n: Size(prove=(1, 2), numeric=8), m: Size(prove=(1, 2), numeric=8)},
                       steps=[Step(ZeroMatrix(n, m), "wrong on purpose")])
    report = verify(wrong)
    assert not report.ok and report.checks[0].counterexample is not None
