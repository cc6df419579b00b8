"""RMSNorm: forward, Jacobian and backward against PyTorch, its contrast with LayerNorm, the derivations,
and the blocked backward passes of both norms at sizes that span several blocks."""

import dataclasses

import numpy as np
import pytest

from symformer import catalog, InputError, Step, SymformerError, verify
from symformer.reference import central_difference
from symformer.reference.layernorm import BLOCK_ELEMENTS, layer_norm, layer_norm_backward, layer_norm_jacobian
from symformer.reference.norms import rms_norm, rms_norm_backward, rms_norm_jacobian

from _reports import catalog_report

SLUGS = ["rmsnorm-jacobian", "rmsnorm-weighted-jacobian", "rmsnorm-backward"]


def _rms(x, eps):
    return np.sqrt(np.mean(x**2, axis=-1, keepdims=True) + eps)


def test_rows_have_unit_root_mean_square_and_keep_their_mean(rng):
    x = rng.standard_normal((4, 16)) * 3 + 5
    y = rms_norm(x, eps=0.0)
    np.testing.assert_allclose(np.sqrt(np.mean(y**2, axis=-1)), 1.0, rtol=1e-14)
    # no mean is removed: y is x rescaled row by row, so its mean is mean(x) / r
    np.testing.assert_allclose(y.mean(axis=-1), x.mean(axis=-1) / _rms(x, 0.0)[:, 0], rtol=1e-13)
    weight = rng.standard_normal(16)
    np.testing.assert_allclose(rms_norm(x, weight, eps=0.1), weight * x / _rms(x, 0.1), rtol=1e-14)


def test_jacobian_matches_central_differences_and_the_closed_form(rng):
    x, weight = rng.standard_normal(7), rng.standard_normal(7)
    J = rms_norm_jacobian(x, weight, eps=1e-3)
    np.testing.assert_allclose(J, central_difference(lambda v: rms_norm(v, weight, eps=1e-3), x), rtol=1e-6, atol=1e-8)
    # diag(w) (I - x x^T / (n r^2)) / r
    r = _rms(x, 1e-3)[0]
    np.testing.assert_allclose(J, np.diag(weight) @ (np.eye(7) - np.outer(x, x) / (7 * r**2)) / r, rtol=1e-13)


def test_j_x_is_eps_x_over_r_cubed_and_j_one_is_not_zero_unlike_layernorm(rng):
    x = rng.standard_normal(8) + 0.5
    for eps in (0.0, 0.3):
        # J x = eps x / r^3
        np.testing.assert_allclose(rms_norm_jacobian(x, eps=eps) @ x, eps * x / _rms(x, eps) ** 3, atol=1e-15)
    # J 1 = (1 - x mean(x) / r^2) / r, far from 0; LayerNorm's J 1 is 0
    r = _rms(x, 1e-5)
    np.testing.assert_allclose(rms_norm_jacobian(x, eps=1e-5) @ np.ones(8), (1 - x * x.mean() / r**2) / r, rtol=1e-12)
    assert np.abs(rms_norm_jacobian(x, eps=1e-5) @ np.ones(8)).max() > 0.1
    np.testing.assert_allclose(layer_norm_jacobian(x, eps=1e-5) @ np.ones(8), 0.0, atol=1e-14)


def test_rank_is_n_with_eps_and_n_minus_one_without(rng):
    x = rng.standard_normal(9)
    assert np.linalg.matrix_rank(rms_norm_jacobian(x, eps=1e-2), tol=1e-9) == 9
    assert np.linalg.matrix_rank(rms_norm_jacobian(x, eps=0.0), tol=1e-9) == 8


def test_backward_is_the_jacobian_transposed_times_dy(rng):
    x, dy, weight = rng.standard_normal((3, 10)), rng.standard_normal((3, 10)), rng.standard_normal(10)
    dx, dweight = rms_norm_backward(x, dy, weight, eps=1e-6)
    np.testing.assert_allclose(dx, np.einsum("bi,bij->bj", dy, rms_norm_jacobian(x, weight, eps=1e-6)), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(dweight, np.sum(dy * x / _rms(x, 1e-6), axis=0), rtol=1e-13)
    # x . dx = eps (g . x) / r^3, so with eps = 0 the gradient is orthogonal to x
    dx0, _ = rms_norm_backward(x, dy, weight, eps=0.0)
    np.testing.assert_allclose(np.sum(dx0 * x, axis=-1), 0.0, atol=1e-13)
    assert rms_norm_backward(x, dy, eps=1e-6)[1] is None


@pytest.mark.parametrize("shape", [(1, 8), (5, 3, 1000), (BLOCK_ELEMENTS // 8 * 3 + 7, 8), (2, BLOCK_ELEMENTS + 3)],
                         ids=["one row", "batch axes", "several blocks and a remainder", "rows wider than a block"])
def test_blocked_backward_passes_equal_the_closed_forms_at_any_number_of_rows(rng, shape):
    x, dy, weight = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(shape), rng.standard_normal(shape[-1])
    # LayerNorm: dx = (g - mean(g) - x_hat mean(g x_hat)) / sigma with g = gamma dy, written without blocks
    sigma = np.sqrt(x.var(axis=-1, keepdims=True) + 1e-5)
    x_hat, g = (x - x.mean(axis=-1, keepdims=True)) / sigma, weight * dy
    expected = (g - g.mean(-1, keepdims=True) - x_hat * np.mean(g * x_hat, -1, keepdims=True)) / sigma
    leading = tuple(range(x.ndim - 1))
    dx, dgamma, dbeta = layer_norm_backward(x, dy, weight, eps=1e-5)
    np.testing.assert_allclose(dx, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dgamma, np.sum(dy * x_hat, axis=leading), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dbeta, np.sum(dy, axis=leading), rtol=1e-12, atol=1e-12)
    # RMSNorm: dx = (g - x_hat mean(g x_hat)) / r with x_hat = x / r
    r = _rms(x, 1e-6)
    expected = (g - x / r * np.mean(g * x / r, -1, keepdims=True)) / r
    dx, dweight = rms_norm_backward(x, dy, weight, eps=1e-6)
    np.testing.assert_allclose(dx, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dweight, np.sum(dy * x / r, axis=leading), rtol=1e-10, atol=1e-10)


def test_a_constant_row_in_a_later_block_still_raises_with_eps_zero(rng):
    x = rng.standard_normal((BLOCK_ELEMENTS // 4 * 2 + 5, 4))
    x[-1] = 3.0
    with pytest.raises(match="a row of x is constant and eps = 0"):
        layer_norm_backward(x, np.ones_like(x), eps=0.0)
    x[-1] = 0.0
    with pytest.raises(match="a row of x is zero and eps = 0"):
        rms_norm_backward(x, np.ones_like(x), eps=0.0)


def test_the_ufunc_buffer_size_is_restored_after_a_backward_pass_even_one_that_raises(rng):
    before = np.getbufsize()
    layer_norm_backward(rng.standard_normal((3, 768)), rng.standard_normal((3, 768)))
    assert np.getbufsize() == before
    with pytest.raises(InputError):
        rms_norm_backward(np.zeros((2, 768)), np.ones((2, 768)), eps=0.0)
    assert np.getbufsize() == before


def test_an_empty_batch_gives_empty_gradients():
    dx, dgamma, dbeta = layer_norm_backward(np.ones((0, 5)), np.ones((0, 5)))
    assert dx.shape == (0, 5) and dgamma.tolist() == [0.0] * 5 and dbeta.tolist() == [0.0] * 5
    dx, dweight = rms_norm_backward(np.ones((0, 5)), np.ones((0, 5)), np.ones(5))
    assert dx.shape == (0, 5) and dweight.tolist() == [0.0] * 5


@pytest.mark.torch
@pytest.mark.parametrize("eps", [1e-6, 1e-12, 0.25])
def test_against_torch_autograd(rng, eps):
    torch = pytest.importorskip("torch", reason="the autograd cross-check needs PyTorch")
    x, dy, weight = rng.standard_normal((2, 3, 12)), rng.standard_normal((2, 3, 12)), rng.standard_normal(12)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)
    out = torch.nn.functional.rms_norm(tx, (12,), tw, eps=eps)
    out.backward(torch.tensor(dy))
    np.testing.assert_allclose(rms_norm(x, weight, eps=eps), out.detach().numpy(), rtol=1e-13, atol=1e-14)
    dx, dweight = rms_norm_backward(x, dy, weight, eps=eps)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(dweight, tw.grad.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.torch
def test_jacobian_and_unweighted_form_against_torch(rng):
    torch = pytest.importorskip("torch", reason="the autograd cross-check needs PyTorch")
    x, weight = rng.standard_normal(6), rng.standard_normal(6)
    J = torch.autograd.functional.jacobian(
        lambda v: torch.nn.functional.rms_norm(v, (6,), torch.tensor(weight), eps=1e-6), torch.tensor(x))
    np.testing.assert_allclose(rms_norm_jacobian(x, weight, eps=1e-6), J.numpy(), rtol=1e-12, atol=1e-13)
    t = torch.tensor(x)
    np.testing.assert_allclose(rms_norm(x, eps=1e-6), torch.nn.functional.rms_norm(t, (6,), None, eps=1e-6).numpy(), rtol=1e-14)


@pytest.mark.torch
def test_blocked_layernorm_backward_against_torch_at_a_realistic_size(rng):
    torch = pytest.importorskip("torch", reason="the autograd cross-check needs PyTorch")
    x, dy, gamma = rng.standard_normal((300, 768)) * 4 + 2, rng.standard_normal((300, 768)), rng.standard_normal(768)
    tx, tg = torch.tensor(x, requires_grad=True), torch.tensor(gamma, requires_grad=True)
    torch.nn.functional.layer_norm(tx, (768,), tg, None, eps=1e-5).backward(torch.tensor(dy))
    dx, dgamma, _ = layer_norm_backward(x, dy, gamma, eps=1e-5)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dgamma, tg.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_layer_norm_of_a_row_is_rms_norm_of_the_centred_row(rng):
    # LayerNorm(x) = RMSNorm(x - mean(x)): the same root, of the centred vector
    x = rng.standard_normal((3, 11)) + 4
    np.testing.assert_allclose(layer_norm(x, eps=1e-5), rms_norm(x - x.mean(-1, keepdims=True), eps=1e-5), rtol=1e-13)


@pytest.mark.parametrize("call, message", [
    (lambda: rms_norm(np.zeros((2, 4)), eps=0.0), "a row of x is zero and eps = 0: r = 0"),
    (lambda: rms_norm_jacobian(np.zeros(3), eps=0.0), "a row of x is zero and eps = 0"),
    (lambda: rms_norm(np.ones(3), eps=-1e-6), "eps must be non-negative, got -1e-06"),
    (lambda: rms_norm(np.ones(3), eps=float("nan")), "eps must be non-negative, got nan"),
    (lambda: rms_norm(np.ones((2, 3)), weight=np.ones(4)), "weight must have shape (3,) to match the last axis of x (2, 3), got (4,)"),
    (lambda: rms_norm(np.ones((2, 0))), "x must have a non-empty last axis (the n features), got shape (2, 0)"),
    (lambda: rms_norm(1.0), "x must have a non-empty last axis"),
    (lambda: rms_norm_backward(np.ones(3), np.ones(4)), "dy must have the shape of x (3,), got (4,)"),
], ids=["zero row", "jacobian zero row", "negative eps", "nan eps", "weight", "empty", "scalar", "dy shape"])
def test_bad_input_gets_a_clear_error(call, message):
    with pytest.raises(InputError) as caught:
        call()
    assert message in str(caught.value)
    assert isinstance(caught.value, SymformerError) and isinstance(caught.value, ValueError)


# --- the derivations ----------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_each_derivation_is_proved_for_every_width(slug):
    report = catalog_report(slug)
    assert report.ok, report.describe_failures()
    for check in report.checks:
        if check.kind == "result":
            assert [m.status for m in check.methods] == ["holds", "holds"]
        elif "full rank" in check.label or "ones vector to zero" in check.label:
            assert check.level.startswith("proved for all n (general argument: "), check.level
            assert [m.detail for m in check.methods if m.method == "symbolic, each size"] == ["proved for n = 1..5"]
        else:
            assert check.level == "proved for all n", (check.label, check.level)


def test_the_rank_and_shift_witnesses_say_what_they_found():
    claims = {c.statement: c for c in catalog()["rmsnorm-jacobian"].claims}
    rank = claims["the Jacobian has full rank with eps above zero, and loses one dimension (the direction of x) with eps zero"]
    assert rank.exact({next(iter(catalog()["rmsnorm-jacobian"].sizes)): 3}).detail.startswith("rank 3 with eps = 1/100, 2 with eps = 0")
    shift = claims["unlike LayerNorm, the Jacobian does not send the ones vector to zero"]
    witness = shift.numeric(np.random.default_rng(0), {next(iter(catalog()["rmsnorm-jacobian"].sizes)): 16})
    assert witness.holds and "LayerNorm" in witness.detail


def test_a_jacobian_without_the_n_is_rejected():
    derivation = catalog()["rmsnorm-jacobian"]
    last = derivation.steps[-1]
    n = next(iter(derivation.sizes))
    without_n = last.expr.xreplace({1 / n: 1})  # (I - x x^T / r^2) / r, the 1/n of the mean forgotten
    assert without_n != last.expr
    wrong = dataclasses.replace(derivation, slug="rmsnorm-jacobian-without-n",
                                steps=[*derivation.steps[:-1], Step(without_n, "a plausible but wrong step")])
    report = verify(wrong)
    assert not report.ok
    assert report.failures()[0].label == "step 3"
    assert report.describe_failures().startswith("derivation 'rmsnorm-jacobian-without-n', step 3")
