"""LayerNorm: forward, Jacobian and backward against PyTorch, the rank facts, and eps = 0 on a constant row."""

import numpy as np
import pytest
import sympy as sp

from symformer import catalog, SymformerError
from symformer.errors import InputError as InputError
from symformer.reference import central_difference, layer_norm, layer_norm_backward, layer_norm_jacobian

from _reports import catalog_report

SLUGS = ["layernorm-jacobian", "layernorm-affine-jacobian", "layernorm-backward"]
H = sp.Symbol("H", integer=True, positive=True)


def test_normalised_rows_have_mean_zero_and_variance_one_minus_eps_share(rng):
    x = rng.standard_normal((4, 16)) * 3 + 5
    y = layer_norm(x, eps=0.0)
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-14)
    np.testing.assert_allclose(y.var(axis=-1), 1, rtol=1e-13)
    # with eps the variance is var / (var + eps) < 1
    var = x.var(axis=-1)
    np.testing.assert_allclose(layer_norm(x, eps=0.5).var(axis=-1), var / (var + 0.5), rtol=1e-13)


def test_jacobian_matches_central_differences_and_the_closed_form(rng):
    x, gamma = rng.standard_normal(7), rng.standard_normal(7)
    J = layer_norm_jacobian(x, gamma, eps=1e-3)
    np.testing.assert_allclose(J, central_difference(lambda v: layer_norm(v, gamma, eps=1e-3), x), rtol=1e-6, atol=1e-8)
    # (1/sigma)(I - 1 1^T / H - x_hat x_hat^T / H), then diag(gamma)
    sigma = np.sqrt(x.var() + 1e-3)
    x_hat = (x - x.mean()) / sigma
    np.testing.assert_allclose(J, np.diag(gamma) @ (np.eye(7) - 1 / 7 - np.outer(x_hat, x_hat) / 7) / sigma, rtol=1e-13)


def test_j_one_is_zero_and_the_rank_depends_on_eps(rng):
    x = rng.standard_normal(8)
    for eps, rank in [(1e-2, 7), (0.0, 6)]:
        J = layer_norm_jacobian(x, eps=eps)
        np.testing.assert_allclose(J @ np.ones(8), 0, atol=1e-14)
        assert np.linalg.matrix_rank(J, tol=1e-9) == rank
    # J x_hat = eps x_hat / sigma^3
    sigma = np.sqrt(x.var() + 0.3)
    x_hat = (x - x.mean()) / sigma
    np.testing.assert_allclose(layer_norm_jacobian(x, eps=0.3) @ x_hat, 0.3 * x_hat / sigma**3, rtol=1e-12)


def test_backward_is_the_jacobian_transposed_times_dy(rng):
    x, dy, gamma = rng.standard_normal((3, 10)), rng.standard_normal((3, 10)), rng.standard_normal(10)
    dx, dgamma, dbeta = layer_norm_backward(x, dy, gamma, eps=1e-5)
    J = layer_norm_jacobian(x, gamma, eps=1e-5)
    np.testing.assert_allclose(dx, np.einsum("bi,bij->bj", dy, J), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(dbeta, dy.sum(axis=0), rtol=1e-14)
    np.testing.assert_allclose(dgamma, np.sum(dy * layer_norm(x, eps=1e-5), axis=0), rtol=1e-13)
    np.testing.assert_allclose(dx.sum(axis=-1), 0, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("eps", [1e-5, 1e-12, 0.25])
def test_against_torch_autograd(rng, eps):
    torch = pytest.importorskip("torch", reason="the autograd cross-check needs PyTorch")
    x, dy = rng.standard_normal((2, 3, 12)), rng.standard_normal((2, 3, 12))
    gamma, beta = rng.standard_normal(12), rng.standard_normal(12)
    tx, tg, tb = (torch.tensor(v, requires_grad=True) for v in (x, gamma, beta))
    out = torch.nn.functional.layer_norm(tx, (12,), tg, tb, eps=eps)
    out.backward(torch.tensor(dy))
    np.testing.assert_allclose(layer_norm(x, gamma, beta, eps=eps), out.detach().numpy(), rtol=1e-12, atol=1e-13)
    dx, dgamma, dbeta = layer_norm_backward(x, dy, gamma, eps=eps)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dgamma, tg.grad.numpy(), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(dbeta, tb.grad.numpy(), rtol=1e-13)


@pytest.mark.torch
def test_jacobian_against_torch_autograd(rng):
    torch = pytest.importorskip("torch", reason="the autograd cross-check needs PyTorch")
    x, gamma = rng.standard_normal(6), rng.standard_normal(6)
    J = torch.autograd.functional.jacobian(
        lambda v: torch.nn.functional.layer_norm(v, (6,), torch.tensor(gamma), None, eps=1e-5), torch.tensor(x))
    np.testing.assert_allclose(layer_norm_jacobian(x, gamma, eps=1e-5), J.numpy(), rtol=1e-10, atol=1e-12)


def test_a_constant_row_maps_to_beta_when_eps_is_positive():
    beta = np.array([1.0, -2.0, 3.0])
    np.testing.assert_array_equal(layer_norm(np.full((2, 3), 7.0), beta=beta, eps=1e-5), [beta, beta])
    # J = (I - 1 1^T / H) / sqrt(eps)
    np.testing.assert_allclose(layer_norm_jacobian(np.full(3, 7.0), eps=0.04), (np.eye(3) - 1 / 3) / 0.2, rtol=1e-14)


@pytest.mark.parametrize("call, message", [
    (lambda: layer_norm(np.full((2, 4), 3.0), eps=0.0), "a row of x is constant and eps = 0: sigma = 0"),
    (lambda: layer_norm_backward(np.ones(4), np.ones(4), eps=0.0), "a row of x is constant and eps = 0"),
    (lambda: layer_norm_jacobian([5.0], eps=0.0), "a row of x is constant and eps = 0"),
    (lambda: layer_norm(np.ones(3), eps=-1e-5), "eps must be non-negative, got -1e-05"),
    (lambda: layer_norm(np.ones(3), eps=float("nan")), "eps must be non-negative, got nan"),
    (lambda: layer_norm(np.ones((2, 3)), gamma=np.ones(4)), "gamma must have shape (3,) to match the last axis of x (2, 3)"),
    (lambda: layer_norm(np.ones(3), beta=np.ones(2)), "beta must have shape (3,)"),
    (lambda: layer_norm(np.ones((2, 0))), "x must have a non-empty last axis (the H features), got shape (2, 0)"),
    (lambda: layer_norm(2.0), "x must have a non-empty last axis"),
    (lambda: layer_norm_backward(np.ones(3), np.ones(4)), "dy must have the shape of x (3,), got (4,)"),
], ids=["constant eps 0", "backward constant", "one feature eps 0", "negative eps", "nan eps", "gamma", "beta",
        "empty", "scalar", "dy shape"])
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
            assert all(m.status == "holds" for m in check.methods)
        elif "rank of $J$" in check.label:  # a property: its general argument, then the exact witness at H = 2..5
            assert check.level.startswith("proved for all H (general argument: "), check.level
            assert [m.detail for m in check.methods if m.method == "symbolic, each size"] == ["proved for H = 2..5"]
        else:
            assert check.level == "proved for all H", (check.label, check.level)


def test_eps_is_an_explicit_symbol_of_every_derivation():
    for slug in SLUGS:
        derivation = catalog()[slug]
        assert sp.Symbol("epsilon", positive=True) in derivation.expand(derivation.steps[-1].expr).free_symbols


def test_the_rank_witness_distinguishes_eps_zero():
    prop = next(c for c in catalog()["layernorm-jacobian"].claims if "rank of $J$" in c.statement)
    witness = prop.exact({H: 4})
    assert witness.holds and witness.detail.startswith("rank 3 with eps = 1/100, 2 with eps = 0")
    assert prop.exact({H: 1}) is None
    assert prop.numeric(np.random.default_rng(0), {H: 16}).detail == "numerical rank 15 with eps = 1e-2, 14 with eps = 0"
