"""GELU (both forms), SiLU and SwiGLU: values, derivatives against finite differences and torch, bad input,
the evaluator's erf, and the derivations of the activations topic."""

import dataclasses
import math

import numpy as np
import pytest
import sympy as sp

from symformer import catalog, InputError, Step, SymformerError, verify
from symformer.reference import central_difference
from symformer.engine.evaluate import evaluate
from symformer.reference.activations import (
    gelu,
    gelu_grad,
    sigmoid,
    silu,
    silu_grad,
    swiglu,
    swiglu_backward,
)

from _reports import catalog_report


def test_gelu_is_x_times_the_normal_cdf():
    # GELU(x) = x Phi(x), with Phi written out by math.erf
    x = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 2.0])
    expected = [v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x]
    np.testing.assert_allclose(gelu(x), expected, rtol=1e-14, atol=1e-17)  # (1 + erf)/2 loses a digit at x = -3
    # GELU(x) - GELU(-x) = x
    np.testing.assert_allclose(gelu(x) - gelu(-x), x, rtol=1e-14, atol=1e-16)


def test_the_left_tail_keeps_its_relative_precision():
    mpmath = pytest.importorskip("mpmath", reason="the 30-digit values come from mpmath")
    # Phi(x) = erfc(-x / sqrt 2) / 2 against 30-digit values, where (1 + erf)/2 would have lost every digit
    for value in (-5.0, -10.0, -20.0):
        with mpmath.workdps(30):
            cdf = mpmath.erfc(-mpmath.mpf(value) / mpmath.sqrt(2)) / 2
            density = mpmath.exp(-mpmath.mpf(value) ** 2 / 2) / mpmath.sqrt(2 * mpmath.pi)
            exact_gelu, exact_grad = float(value * cdf), float(cdf + value * density)
        assert gelu(np.array([value]))[0] == pytest.approx(exact_gelu, rel=1e-13)
        assert gelu_grad(np.array([value]))[0] == pytest.approx(exact_grad, rel=1e-11)


def test_the_tanh_form_stays_within_5e_4_of_gelu_and_peaks_near_2_7():
    grid = np.linspace(-12, 12, 240_001)
    gap = np.abs(gelu(grid, approximate="tanh") - gelu(grid))
    assert gap.max() < 5e-4
    assert gap.max() == pytest.approx(4.7324e-4, abs=1e-7)
    assert abs(grid[np.argmax(gap)]) == pytest.approx(2.699, abs=2e-3)


def test_derivatives_match_central_differences(rng):
    x = rng.standard_normal(9) * 3
    for approximate in ("none", "tanh"):
        numeric = np.diag(central_difference(lambda v: gelu(v, approximate=approximate), x))
        np.testing.assert_allclose(gelu_grad(x, approximate=approximate), numeric, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(silu_grad(x), np.diag(central_difference(silu, x)), rtol=1e-8, atol=1e-10)


def test_silu_is_the_tanh_form_of_gelu_with_u_equal_x_over_2(rng):
    # silu(x) = (x/2)(1 + tanh(x/2)), and sigmoid(x) = (1 + tanh(x/2))/2
    x = rng.standard_normal(20) * 5
    np.testing.assert_allclose(silu(x), x / 2 * (1 + np.tanh(x / 2)), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(sigmoid(x), (1 + np.tanh(x / 2)) / 2, rtol=1e-13, atol=1e-15)


def test_large_inputs_do_not_overflow():
    with np.errstate(over="raise", invalid="raise"):
        assert silu(np.array([-1000.0, 1000.0])).tolist() == [-0.0, 1000.0]
        assert silu_grad(np.array([-1000.0, 1000.0])).tolist() == [0.0, 1.0]
        assert gelu(np.array([-40.0, 40.0])).tolist() == [-0.0, 40.0]
        assert gelu_grad(np.array([-40.0, 40.0]), approximate="tanh").tolist() == [0.0, 1.0]


def test_float32_stays_float32():
    x = np.linspace(-3, 3, 7, dtype=np.float32)
    for out in (gelu(x), gelu(x, "tanh"), gelu_grad(x), gelu_grad(x, "tanh"), silu(x), silu_grad(x)):
        assert out.dtype == np.float32
    w = np.ones((7, 2), dtype=np.float32)
    assert swiglu(x, w, w).dtype == np.float32
    assert all(g.dtype == np.float32 for g in swiglu_backward(x, w, w, np.ones(2, dtype=np.float32)))


def test_swiglu_is_silu_of_the_gate_times_the_up_projection(rng):
    x, w_gate, w_up = rng.standard_normal((3, 4, 6)), rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    # an explicit loop over tokens and hidden units as a second implementation
    expected = np.empty((3, 4, 5))
    for b in range(3):
        for t in range(4):
            for q in range(5):
                a, u = x[b, t] @ w_gate[:, q], x[b, t] @ w_up[:, q]
                expected[b, t, q] = a / (1 + math.exp(-a)) * u
    np.testing.assert_allclose(swiglu(x, w_gate, w_up), expected, rtol=1e-13, atol=1e-14)


def test_swiglu_gradients_match_central_differences(rng):
    x, w_gate, w_up, dy = (rng.standard_normal(s) for s in ((2, 3, 4), (4, 5), (4, 5), (2, 3, 5)))
    dx, dw_gate, dw_up = swiglu_backward(x, w_gate, w_up, dy)
    args = [x, w_gate, w_up]
    for position, gradient in enumerate((dx, dw_gate, dw_up)):
        def loss(value, position=position):
            inputs = list(args)
            inputs[position] = value
            return np.sum(dy * swiglu(*inputs))
        np.testing.assert_allclose(gradient, central_difference(loss, args[position]), rtol=1e-7, atol=1e-9)


@pytest.mark.torch
def test_activations_against_torch(rng):
    torch = pytest.importorskip("torch", reason="the autograd cross-check needs PyTorch")
    F = torch.nn.functional
    x = rng.standard_normal(200) * 4
    for approximate in ("none", "tanh"):
        t = torch.tensor(x, requires_grad=True)
        out = F.gelu(t, approximate=approximate)
        out.sum().backward()
        # torch forms Phi as (1 + erf)/2, which cancels in the left tail: agreement to 1e-14 absolute there
        np.testing.assert_allclose(gelu(x, approximate), out.detach().numpy(), rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(gelu_grad(x, approximate), t.grad.numpy(), rtol=1e-13, atol=1e-14)
    t = torch.tensor(x, requires_grad=True)
    F.silu(t).sum().backward()
    np.testing.assert_allclose(silu(x), F.silu(torch.tensor(x)).numpy(), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(silu_grad(x), t.grad.numpy(), rtol=1e-13, atol=1e-15)


@pytest.mark.torch
def test_swiglu_backward_against_torch_autograd(rng):
    torch = pytest.importorskip("torch", reason="the autograd cross-check needs PyTorch")
    x, w_gate, w_up, dy = (rng.standard_normal(s) for s in ((2, 7, 16), (16, 24), (16, 24), (2, 7, 24)))
    tx, tg, tu = (torch.tensor(a, requires_grad=True) for a in (x, w_gate, w_up))
    out = torch.nn.functional.silu(tx @ tg) * (tx @ tu)
    out.backward(torch.tensor(dy))
    np.testing.assert_allclose(swiglu(x, w_gate, w_up), out.detach().numpy(), rtol=1e-13, atol=1e-13)
    for ours, theirs in zip(swiglu_backward(x, w_gate, w_up, dy), (tx, tg, tu)):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("call, message", [
    (lambda: gelu(np.ones(3), approximate="erf"), "approximate must be 'none' or 'tanh' (PyTorch's names), got 'erf'"),
    (lambda: gelu_grad(np.ones(3), approximate=None), "approximate must be 'none' or 'tanh' (PyTorch's names), got None"),
    (lambda: silu(np.array([True, False])), "x must be a real array, got dtype bool"),
    (lambda: swiglu(np.ones((2, 3)), np.ones((4, 5)), np.ones((4, 5))),
     "x has shape (2, 3) but w_gate has shape (4, 5): w_gate needs d_model = 3 rows"),
    (lambda: swiglu(np.ones(3), np.ones((3, 5)), np.ones((3, 4))), "w_up has shape (3, 4) and w_gate has shape (3, 5)"),
    (lambda: swiglu(np.ones(3), np.ones(3), np.ones(3)), "w_gate must be a (d_model, d_ff) matrix, got shape (3,)"),
    (lambda: swiglu(np.float64(1.0), np.ones((1, 2)), np.ones((1, 2))), "x must have a last axis (d_model), got shape ()"),
    (lambda: swiglu_backward(np.ones((2, 3)), np.ones((3, 5)), np.ones((3, 5)), np.ones((2, 4))),
     "dy has shape (2, 4) but the output has shape (2, 5)"),
], ids=["unknown approximation", "approximation None", "boolean", "d_model", "weights differ", "weight rank", "scalar", "dy"])
def test_bad_input_gets_a_clear_error(call, message):
    with pytest.raises(InputError) as caught:
        call()
    assert message in str(caught.value)
    assert isinstance(caught.value, SymformerError) and isinstance(caught.value, ValueError)


def test_the_evaluator_computes_erf_elementwise():
    k = sp.Symbol("k", integer=True)
    z = sp.IndexedBase("z")
    values = np.array([-1.0, 0.25, 2.0])
    # sum_k erf(z_k), and erf at a scalar
    assert float(evaluate(sp.Sum(sp.erf(z[k]), (k, 1, 3)), {z: values})) == pytest.approx(sum(map(math.erf, values)), rel=1e-15)
    x = sp.Symbol("x", real=True)
    assert float(evaluate(sp.erf(x / sp.sqrt(2)), {x: 1.0})) == pytest.approx(0.6826894921370859, rel=1e-15)


# --- the derivations ----------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["gelu-derivative", "gelu-tanh-derivative", "silu-derivative"])
def test_scalar_derivations_are_proved_and_match_the_references(slug):
    report = catalog_report(slug)
    assert report.ok, report.describe_failures()
    for check in report.checks:
        if check.kind == "result":
            assert [m.status for m in check.methods] == ["holds", "holds"]
        else:
            assert check.level == "proved", (check.label, check.level)


def test_the_tanh_gap_certificate_brackets_the_bound():
    prop = next(c for c in catalog()["gelu-tanh-derivative"].claims if c.statement.startswith("the tanh form stays within"))
    witness = prop.exact({})
    assert witness.holds and "brackets on [0, 7]" in witness.detail
    # the widest bracket stays below 5e-4 but above the true maximum, 4.73e-4
    assert 4.73e-4 < witness.error < 5e-4
    assert prop.numeric(np.random.default_rng(0), {}).detail.startswith("largest |gap| 0.0004732 at |x| = 2.699")


def test_swiglu_derivations_are_proved_for_every_size_where_the_prover_closes():
    gate = catalog_report("swiglu-gate-backward")
    assert gate.ok, gate.describe_failures()
    assert {c.level for c in gate.checks if c.kind != "result"} == {"proved for all d_ff"}
    full = catalog_report("swiglu-backward")
    assert full.ok, full.describe_failures()
    levels = {c.label: c.level for c in full.checks}
    assert levels["step 1"] == "proved for all d_model, d_ff"
    assert levels['claim "the up projection\'s gradient is the outer product of the input with the up branch\'s gradient"'] == "proved for all d_model, d_ff"
    assert levels['claim "the token\'s gradient is the sum of what flows back through the gate and through the up branch"'] == "proved for all d_model, d_ff"
    # the end-to-end step with silu' of a sum: e^(-a) and e^(a) compared as one exponential and its inverse
    assert levels["step 2"] == "proved for all d_model, d_ff"


def test_a_silu_derivative_missing_the_product_rule_term_is_rejected():
    derivation = catalog()["silu-derivative"]
    x = sp.Symbol("x", real=True)
    sigma = sp.Symbol("sigma", positive=True)
    wrong = dataclasses.replace(derivation, slug="silu-derivative-wrong",
                                steps=[*derivation.steps[:2], Step(sigma * (1 - sigma) * x, "a plausible but wrong step")])
    report = verify(wrong)
    assert not report.ok
    assert [c.label for c in report.failures()][0] == "step 3"
    assert "counterexample:" in report.describe_failures()
