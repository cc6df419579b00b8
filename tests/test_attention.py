"""Scaled dot-product attention forward: the NumPy reference, its bad inputs, its derivation and its LaTeX."""

import numpy as np
import pytest
import sympy as sp

from symformer.blocks import RowSoftmax
from symformer.notation import to_latex
from symformer.reference import attention, safe_row_softmax

from _reports import catalog_report

N_, M_, DK, DV = 5, 7, 4, 3


def _qkv(rng, batch=()):
    return (rng.standard_normal(batch + (N_, DK)), rng.standard_normal(batch + (M_, DK)), rng.standard_normal(batch + (M_, DV)))


def test_attention_is_softmax_of_scaled_scores_times_values(rng):
    # O = softmax(Q K^T / sqrt(d_k)) V, written out with explicit loops as a second implementation
    Q, K, V = _qkv(rng)
    expected = np.zeros((N_, DV))
    for i in range(N_):
        scores = [Q[i] @ K[j] / np.sqrt(DK) for j in range(M_)]
        weights = np.exp(scores) / np.sum(np.exp(scores))
        expected[i] = sum(w * V[j] for j, w in enumerate(weights))
    np.testing.assert_allclose(attention(Q, K, V), expected, rtol=1e-13, atol=1e-14)


def test_weights_are_row_stochastic_and_outputs_convex(rng):
    Q, K, V = _qkv(rng)
    O, P = attention(Q, K, V, scale=0.7, return_weights=True)
    assert P.shape == (N_, M_) and (P > 0).all()
    np.testing.assert_allclose(P.sum(axis=-1), 1.0, rtol=0, atol=1e-14)
    assert (O >= V.min(axis=0) - 1e-14).all() and (O <= V.max(axis=0) + 1e-14).all()


def test_permuting_keys_and_values_together_leaves_the_output(rng):
    Q, K, V = _qkv(rng)
    order = rng.permutation(M_)
    np.testing.assert_allclose(attention(Q, K[order], V[order]), attention(Q, K, V), rtol=1e-13, atol=1e-14)


def test_batch_axes_broadcast(rng):
    Q, K, V = _qkv(rng, batch=(2, 3))
    out = attention(Q, K[0, 0], V[0, 0])
    assert out.shape == (2, 3, N_, DV)
    np.testing.assert_allclose(out[1, 2], attention(Q[1, 2], K[0, 0], V[0, 0]), rtol=1e-14)


def test_float32_in_float32_out(rng):
    Q, K, V = (a.astype(np.float32) for a in _qkv(rng))
    out = attention(Q, K, V)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, attention(*(a.astype(np.float64) for a in (Q, K, V))), rtol=1e-5, atol=1e-6)


def test_logits_of_1e4_do_not_overflow():
    Q = np.array([[100.0, 0.0]])
    K = np.array([[100.0, 0.0], [-100.0, 0.0]])  # scores 1e4 and -1e4 at scale 1
    O, P = attention(Q, K, np.array([[1.0], [2.0]]), scale=1.0, return_weights=True)
    assert P.tolist() == [[1.0, 0.0]] and O.tolist() == [[1.0]]
    assert safe_row_softmax(np.array([[1e4, 1e4 - 1.0]])).round(6).tolist() == [[0.731059, 0.268941]]


def test_nan_in_an_unmasked_position_propagates_to_its_row():
    Q = np.array([[np.nan, 0.0], [1.0, 0.0]])
    K = np.eye(2)
    O = attention(Q, K, np.eye(2))
    assert np.isnan(O[0]).all() and np.isfinite(O[1]).all()


@pytest.mark.parametrize("args, message", [
    ((np.ones((2, 3)), np.ones((4, 2)), np.ones((4, 1))), r"K has shape \(4, 2\) and Q has shape \(2, 3\)"),
    ((np.ones((2, 3)), np.ones((4, 3)), np.ones((5, 1))), r"V has shape \(5, 1\) and K has shape \(4, 3\)"),
    ((np.ones(3), np.ones((4, 3)), np.ones((4, 1))), r"Q must have at least 2 axes, got shape \(3,\)"),
    ((np.ones((2, 2, 3)), np.ones((3, 4, 3)), np.ones((3, 4, 1))), r"batch axes of Q \(2, 2, 3\), K \(3, 4, 3\)"),
    ((np.ones((2, 3), dtype=bool), np.ones((4, 3)), np.ones((4, 1))), "Q must be a real floating-point array"),
], ids=["d_k", "keys-values", "rank", "batch", "dtype"])
def test_mismatched_shapes_name_the_argument_and_both_shapes(args, message):
    with pytest.raises(ValueError, match=message):
        attention(*args)


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan")])
def test_scale_must_be_positive(scale):
    with pytest.raises(ValueError, match="scale must be positive"):
        attention(np.ones((2, 3)), np.ones((4, 3)), np.ones((4, 1)), scale=scale)


def test_row_softmax_block_latex_and_explicit_form():
    n, m = sp.symbols("N M", integer=True, positive=True)
    tau = sp.Symbol("tau", positive=True)
    Q, K = sp.MatrixSymbol("Q", n, 2), sp.MatrixSymbol("K", m, 2)
    assert to_latex(tau * Q * K.T) == r"\tau Q K^{\top}"
    assert to_latex(RowSoftmax(tau * Q * K.T)) == r"\operatorname{softmax}\left(\tau Q K^{\top}\right)"
    a, b = sp.symbols("a b", real=True)
    explicit = RowSoftmax(sp.ImmutableMatrix([[a, b]])).as_explicit()
    assert explicit[0, 0] == sp.exp(a) / (sp.exp(a) + sp.exp(b))
    assert RowSoftmax(sp.ImmutableMatrix([[-sp.oo, -sp.oo]])).as_explicit().tolist() == [[0, 0]]


def test_forward_derivation_is_proved_for_every_size():
    report = catalog_report("scaled-dot-product-attention")
    assert report.ok, report.describe_failures()
    levels = {c.label: c.level for c in report.checks}
    every = "proved for all N, M, d_k, d_v"
    assert levels["claim " + repr(r"$P$ is row-stochastic: $P \mathbf{1} = \mathbf{1}$")] == every
    for kind in ("a cycle", "a swap"):
        assert levels["claim " + repr(rf"permuting the rows of $K$ and $V$ together leaves $O$ unchanged ({kind})")] == every
    assert levels["step 1"] == levels["step 2"] == every


def test_projection_derivations_verify():
    for slug in ("projection-weight-gradient", "self-attention-input-gradient"):
        report = catalog_report(slug)
        assert report.ok, report.describe_failures()
        assert all(c.level.startswith("proved") or c.kind == "result" for c in report.checks), [c.level for c in report.checks]
