"""Attention backward: finite differences, PyTorch autograd, the derivations and their failure on a wrong tau."""

import numpy as np
import pytest
import sympy as sp
from sympy import Derivative, MatrixSymbol, Trace
from sympy.matrices.expressions.hadamard import HadamardProduct

from symformer import catalog, Derivation, Size, Step, verify
from symformer.notation import derivation_to_latex
from symformer.reference import attention, attention_backward, causal_mask, central_difference, padding_mask
from symformer.blocks import RowSoftmax

from _reports import catalog_report

N_, M_, DK, DV = 4, 6, 3, 2  # N != M and d_k != d_v, so no transpose cancels by accident


def _inputs(rng, batch=()):
    shapes = [(N_, DK), (M_, DK), (M_, DV), (N_, DV)]
    return [rng.standard_normal(batch + s) for s in shapes]


@pytest.mark.parametrize("mask", [None, "causal", "bottom-right", "padding"])
def test_gradients_match_central_differences(rng, mask):
    Q, K, V, dO = _inputs(rng)
    masks = {None: None, "causal": causal_mask(N_, M_), "bottom-right": causal_mask(N_, M_, "bottom-right"),
             "padding": padding_mask(np.array([4]), M_)[0]}
    m = masks[mask]
    grads = attention_backward(Q, K, V, dO, mask=m, scale=0.8)
    for position, x in enumerate((Q, K, V)):
        def loss(value, position=position):
            args = [Q, K, V]
            args[position] = value
            return np.sum(dO * attention(*args, mask=m, scale=0.8))
        np.testing.assert_allclose(grads[position], central_difference(loss, x), rtol=1e-6, atol=1e-8)


def test_flash_attention_d_equals_rowsum_of_p_times_dp(rng):
    # D = rowsum(dO o O) = rowsum(P o dP)
    Q, K, V, dO = _inputs(rng)
    O, P = attention(Q, K, V, return_weights=True)
    np.testing.assert_allclose((dO * O).sum(-1), (P * (dO @ V.T)).sum(-1), rtol=1e-13, atol=1e-14)


def test_gradients_at_realistic_size_match_directional_differences(rng):
    Q, K, V, dO = (rng.standard_normal((128, 64)) for _ in range(4))
    dQ, dK, dV = attention_backward(Q, K, V, dO)
    for gradient, position in ((dQ, 0), (dK, 1), (dV, 2)):
        v = rng.standard_normal((128, 64))
        args = [Q, K, V]
        h = 1e-6
        plus = [a + h * v if i == position else a for i, a in enumerate(args)]
        minus = [a - h * v if i == position else a for i, a in enumerate(args)]
        numeric = (np.sum(dO * attention(*plus)) - np.sum(dO * attention(*minus))) / (2 * h)
        assert numeric == pytest.approx(float(np.sum(gradient * v)), rel=1e-6)


def test_batched_gradients_sum_over_broadcast_axes(rng):
    Q, _, _, dO = _inputs(rng, batch=(3,))
    _, K, V, _ = _inputs(rng)
    dQ, dK, dV = attention_backward(Q, K, V, dO)
    assert dQ.shape == Q.shape and dK.shape == K.shape and dV.shape == V.shape
    per_item = [attention_backward(Q[b], K, V, dO[b]) for b in range(3)]
    np.testing.assert_allclose(dK, sum(g[1] for g in per_item), rtol=1e-12)


def test_do_must_have_the_output_shape(rng):
    Q, K, V, _ = _inputs(rng)
    with pytest.raises(ValueError, match=r"dO has shape \(4, 3\) but the output O has shape \(4, 2\)"):
        attention_backward(Q, K, V, np.ones((4, 3)))


@pytest.mark.torch
@pytest.mark.parametrize("mask_kind", [None, "bool", "additive", "fully-masked-row"])
def test_matches_torch_autograd_in_float64(rng, mask_kind):
    torch = pytest.importorskip("torch", reason="PyTorch is the peer check; install torch to run it")
    F = torch.nn.functional
    Q, K, V, dO = _inputs(rng, batch=(2,))
    boolean = causal_mask(N_, M_, "bottom-right") & padding_mask(np.array([5, 3]), M_)
    if mask_kind == "fully-masked-row":
        boolean = boolean.copy()
        boolean[0, 1, :] = False  # batch 0, query 1 sees nothing: PyTorch >= 2.5 returns zeros
    masks = {None: (None, None), "bool": (boolean, torch.tensor(boolean)),
             "additive": (np.where(boolean, 0.0, -np.inf), torch.tensor(np.where(boolean, 0.0, -np.inf))),
             "fully-masked-row": (boolean, torch.tensor(boolean))}
    ours, theirs = masks[mask_kind]
    tensors = [torch.tensor(a, requires_grad=True) for a in (Q, K, V)]
    out = F.scaled_dot_product_attention(*tensors, attn_mask=theirs, scale=0.6)
    out.backward(torch.tensor(dO))
    np.testing.assert_allclose(attention(Q, K, V, mask=ours, scale=0.6), out.detach().numpy(), rtol=1e-12, atol=1e-13)
    for mine, tensor in zip(attention_backward(Q, K, V, dO, mask=ours, scale=0.6), tensors):
        np.testing.assert_allclose(mine, tensor.grad.numpy(), rtol=1e-11, atol=1e-13)
    if mask_kind == "fully-masked-row":
        assert not out.detach().numpy()[0, 1].any() and not tensors[0].grad.numpy()[0, 1].any()


@pytest.mark.torch
def test_is_causal_is_the_top_left_alignment(rng):
    torch = pytest.importorskip("torch", reason="PyTorch is the peer check; install torch to run it")
    Q, K, V, _ = _inputs(rng)
    theirs = torch.nn.functional.scaled_dot_product_attention(*(torch.tensor(a) for a in (Q, K, V)), is_causal=True)
    np.testing.assert_allclose(attention(Q, K, V, mask=causal_mask(N_, M_, "top-left")), theirs.numpy(), rtol=1e-12, atol=1e-13)


BACKWARD = ["attention-backward-v", "attention-backward-scores", "attention-backward-qk", "attention-backward",
            "attention-backward-q-general", "attention-backward-kv-general"]


@pytest.mark.parametrize("slug", BACKWARD)
def test_backward_derivations_verify(slug):
    report = catalog_report(slug)
    assert report.ok, report.describe_failures()


def test_the_backward_stages_cite_the_softmax_derivation_and_are_proved_for_every_size():
    derivation = catalog()["attention-backward-scores"]
    assert derivation.steps[0].cite == "derivation softmax-jacobian"
    report = verify(derivation)
    assert report.checks[0].level == "proved for all N, M"
    assert report.checks[0].methods[0].method == "symbolic, all sizes"
    qk = catalog_report("attention-backward-qk")
    assert qk.checks[1].level == "proved for all N, M, d_k"
    values = catalog_report("attention-backward-v")
    assert values.checks[1].level == "proved for all N, M, d_v"


def test_the_ds_step_prints_as_on_the_slide():
    text = derivation_to_latex(catalog()["attention-backward-scores"])
    assert r"&= P \odot \left(dP - D \mathbf{1}^{\top}\right)" in text
    assert r"\frac{\partial}{\partial S} \left(\operatorname{tr}\left(dP^{\top} P \right)\right)" in text


@pytest.mark.parametrize("factor, label", [(2, "a doubled tau"), (0, "a forgotten tau")])
def test_a_wrong_scale_is_rejected_with_a_counterexample(factor, label):
    # dQ = tau dS K; writing tau^2 dS K or dS K must fail
    N, M, d = sp.symbols("N M d", integer=True, positive=True)
    tau = sp.Symbol("tau", positive=True)
    Q, K, dS = MatrixSymbol("Q", N, d), MatrixSymbol("K", M, d), MatrixSymbol("dS", N, M)
    wrong = Derivation(
        slug="wrong-scale", title=label, topic="Test",
        lhs=Derivative(Trace(dS.T * (tau * Q * K.T)), Q),
        sizes={N: Size(prove=(1, 2), numeric=8), M: Size(prove=(1, 3), numeric=8), d: Size(prove=(1, 2), numeric=4)},
        steps=[Step(tau ** factor * dS * K, label)],
    )
    report = verify(wrong)
    assert not report.ok
    assert report.checks[0].counterexample is not None
    assert "wrong-scale" in report.describe_failures()


def test_a_wrong_softmax_backward_is_rejected():
    # forgetting the -D 1^T term of dS
    N, M = sp.symbols("N M", integer=True, positive=True)
    S, dP = MatrixSymbol("S", N, M), MatrixSymbol("dP", N, M)
    wrong = Derivation(
        slug="wrong-softmax-backward", title="dS = P o dP", topic="Test",
        lhs=Derivative(Trace(dP.T * RowSoftmax(S)), S),
        sizes={N: Size(prove=(1, 2), numeric=8), M: Size(prove=(2, 3), numeric=8)},
        steps=[Step(HadamardProduct(RowSoftmax(S), dP), "forgot the row sums")],
    )
    report = verify(wrong)
    assert not report.ok
    assert report.checks[0].failure.method == "50-digit identity"  # a per-size mismatch is then confirmed numerically
    assert report.checks[0].counterexample is not None


@pytest.mark.parametrize("slug", ["attention-backward-q-general", "attention-backward-kv-general"])
def test_the_general_size_stretch_is_proved_for_all_sizes(slug):
    report = catalog_report(slug)
    assert [c.level for c in report.checks] == [
        "proved for all N, M, d_k" if slug.endswith("q-general") else "proved for all N, M, d_k, d_v"] * len(report.checks)
