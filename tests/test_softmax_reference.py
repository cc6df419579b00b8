"""The NumPy softmax family: values, stability, exact zeros, and agreement with finite differences and torch."""

import numpy as np
import pytest

from symformer.reference import (
    central_difference,
    cross_entropy,
    cross_entropy_grad,
    directional_difference,
    log_softmax,
    log_softmax_jacobian,
    softmax,
    softmax_jacobian,
)


def test_softmax_of_huge_logits_does_not_overflow():
    # exp(1e4) overflows float64; with the max subtracted the largest exponent is 0
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to an exact 0 is the point
        p = softmax(np.array([1e4, 1e4 - 1.0, -1e4]))
    assert np.isfinite(p).all()
    assert p[0] == pytest.approx(1 / (1 + np.exp(-1.0)), rel=1e-15)
    assert p[2] == 0.0
    assert log_softmax(np.array([1e4, 0.0]))[1] == -1e4


def test_minus_infinity_gives_exact_zeros_and_the_rest_renormalises():
    p = softmax(np.array([0.0, -np.inf, np.log(3.0)]))
    assert p[1] == 0.0
    assert p[0] == pytest.approx(0.25, rel=1e-15) and p[2] == pytest.approx(0.75, rel=1e-15)
    assert log_softmax(np.array([0.0, -np.inf]))[1] == -np.inf


def test_all_minus_infinity_row_is_nan_as_the_formula_says():
    assert np.isnan(softmax(np.array([-np.inf, -np.inf]))).all()


def test_softmax_jacobian_matches_central_differences(rng):
    z = rng.standard_normal(7)
    assert np.allclose(softmax_jacobian(z), central_difference(softmax, z), atol=1e-9)
    assert np.allclose(softmax_jacobian(z, temperature=0.7), central_difference(lambda v: softmax(v / 0.7), z), atol=1e-9)
    assert np.allclose(log_softmax_jacobian(z), central_difference(log_softmax, z), atol=1e-9)


def test_jacobian_properties_hold_numerically(rng):
    z = rng.standard_normal((3, 5))
    jacobian = softmax_jacobian(z)
    assert np.allclose(jacobian, np.swapaxes(jacobian, -1, -2))
    assert np.allclose(jacobian.sum(axis=-1), 0.0, atol=1e-15)
    assert (np.linalg.eigvalsh(jacobian) > -1e-15).all()
    assert [np.linalg.matrix_rank(j) for j in jacobian] == [4, 4, 4]


def test_cross_entropy_gradient_is_sum_y_p_minus_y(rng):
    z, y = rng.standard_normal(6), rng.uniform(0, 2, 6)
    assert np.allclose(cross_entropy_grad(z, y), y.sum() * softmax(z) - y)
    assert np.allclose(cross_entropy_grad(z, y), central_difference(lambda v: cross_entropy(v, y), z), atol=1e-8)
    one_hot = np.eye(6)[2]
    assert np.allclose(cross_entropy_grad(z, one_hot), softmax(z) - one_hot)


def test_cross_entropy_ignores_zero_targets_on_masked_classes():
    z = np.array([0.0, -np.inf, 0.0])
    assert cross_entropy(z, np.array([1.0, 0.0, 0.0])) == pytest.approx(np.log(2.0))


def test_directional_difference_projects_the_gradient(rng):
    z, y, v = rng.standard_normal(5), np.eye(5)[1], rng.standard_normal(5)
    assert directional_difference(lambda u: cross_entropy(u, y), z, v) == pytest.approx(cross_entropy_grad(z, y) @ v, rel=1e-7)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: softmax(np.float64(1.0)), "at least one axis"),
        (lambda: softmax(np.zeros((2, 0))), "no classes"),
        (lambda: softmax_jacobian(np.zeros(3), temperature=0.0), "temperature must be positive"),
        (lambda: cross_entropy(np.zeros(3), np.zeros(4)), r"targets y have shape \(4,\) but the logits z have shape \(3,\)"),
        (lambda: directional_difference(np.sum, np.zeros(3), np.zeros(2)), r"direction has shape \(2,\)"),
    ],
    ids=["scalar", "empty", "zero-temperature", "target-shape", "direction-shape"],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.torch
def test_agrees_with_torch_autograd(rng):
    torch = pytest.importorskip("torch", reason="torch is not installed; the torch cross-check is skipped")
    z, y = rng.standard_normal((4, 9)), rng.dirichlet(np.ones(9), size=4)
    logits = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y), reduction="sum")
    loss.backward()
    assert np.allclose(torch.softmax(logits, -1).detach().numpy(), softmax(z), rtol=1e-13)
    assert np.allclose(torch.log_softmax(logits, -1).detach().numpy(), log_softmax(z), rtol=1e-13)
    assert np.allclose(logits.grad.numpy(), cross_entropy_grad(z, y), rtol=1e-12, atol=1e-15)
    assert float(loss.detach()) == pytest.approx(cross_entropy(z, y).sum(), rel=1e-13)
    single = torch.tensor(z[0], dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda t: torch.softmax(t, -1), single).numpy()
    assert np.allclose(jac, softmax_jacobian(z[0]), rtol=1e-12, atol=1e-15)
