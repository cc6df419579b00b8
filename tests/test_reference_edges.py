"""The NumPy references at their edges: empty axes, infinities, NaN, complex and non-numeric input.

Each edge either has a documented result, asserted here exactly (and with warnings as errors, so
no RuntimeWarning leaks), or an InputError whose message names the argument.
"""

import numpy as np
import pytest

from symformer.errors import InputError
from symformer.reference import (
    attention,
    attention_backward,
    causal_mask,
    cross_entropy,
    cross_entropy_grad,
    log_softmax,
    log_softmax_jacobian,
    multi_head_attention,
    multi_head_attention_backward,
    multi_head_parameter_count,
    padding_mask,
    softmax,
    softmax_jacobian,
)
from symformer.reference.attention import safe_row_softmax

pytestmark = pytest.mark.filterwarnings("error")  # a RuntimeWarning fails the test

Q, K, V = np.ones((2, 3)), np.ones((2, 3)), np.arange(8.0).reshape(2, 4)


def test_attention_with_no_keys_attends_to_nothing_and_outputs_zeros():
    # M = 0: every query is a fully masked row, so P = 0 (shape N x 0) and O = P V = 0 (N x d_v)
    O, P = attention(Q, np.ones((0, 3)), np.ones((0, 4)), return_weights=True)
    assert P.shape == (2, 0) and O.tolist() == [[0.0] * 4] * 2
    dQ, dK, dV = attention_backward(Q, np.ones((0, 3)), np.ones((0, 4)), np.ones((2, 4)))
    assert dQ.tolist() == [[0.0] * 3] * 2 and dK.shape == (0, 3) and dV.shape == (0, 4)


def test_attention_with_no_queries_has_an_empty_output():
    assert attention(np.ones((0, 3)), K, V).shape == (0, 4)


def test_a_fully_masked_row_gives_zeros_without_a_warning_in_float32_and_float64():
    mask = np.array([[False, False], [True, True]])
    for dtype in (np.float32, np.float64):
        O = attention(Q.astype(dtype), K.astype(dtype), V.astype(dtype), mask=mask)
        assert O.dtype == dtype and O[0].tolist() == [0.0] * 4 and O[1].tolist() == [2.0, 3.0, 4.0, 5.0]
        additive = np.where(mask, 0.0, -np.inf).astype(dtype)
        dQ, dK, dV = attention_backward(Q.astype(dtype), K.astype(dtype), V.astype(dtype), np.ones((2, 4), dtype),
                                        mask=additive)
        assert dQ[0].tolist() == [0.0] * 3
    assert safe_row_softmax(np.full((1, 3), -np.inf)).tolist() == [[0.0, 0.0, 0.0]]


def test_softmax_of_an_all_minus_infinity_row_is_nan_without_a_warning():
    row = np.array([-np.inf, -np.inf])
    assert np.isnan(softmax(row)).all() and np.isnan(log_softmax(row)).all()
    assert np.isnan(softmax_jacobian(row)).all() and np.isnan(log_softmax_jacobian(row)).all()
    assert np.isnan(cross_entropy(row, [1.0, 0.0])) and np.isnan(cross_entropy_grad(row, [1.0, 0.0])).all()
    assert np.isnan(softmax(np.array([np.inf, 0.0]))).all()  # +inf: documented NaN, no limit taken


def test_cross_entropy_of_any_real_targets_is_linear_in_them(rng):
    # L(z, y) = -sum_i y_i log p_i is linear in y, so negative targets are a documented result, not an error:
    # L(z, a y1 + b y2) = a L(z, y1) + b L(z, y2), and the gradient (sum y) p - y holds for them too
    z, y1, y2 = rng.standard_normal(5), rng.standard_normal(5), rng.standard_normal(5)
    assert np.isclose(cross_entropy(z, 2 * y1 - 3 * y2), 2 * cross_entropy(z, y1) - 3 * cross_entropy(z, y2))
    assert np.allclose(cross_entropy_grad(z, y1), y1.sum() * softmax(z) - y1)
    assert cross_entropy([0.0, np.log(3.0)], [-1.0, 0.0]) < 0  # not a loss any more: the docstring says so


@pytest.mark.parametrize("call, message", [
    (lambda: attention(np.ones((2, 0)), np.ones((2, 0)), V), r"Q has shape \(2, 0\) and K has shape \(2, 0\): d_k = 0"),
    (lambda: attention(Q, K, V, mask=np.array([[0.0, np.inf], [0.0, 0.0]])),
     r"mask has inf at index \(0, 1\); an additive mask holds 0 \(may attend\), -inf \(may not\) or finite biases"),
    (lambda: attention(Q, K, V, mask=np.array([[0.0, np.nan], [0.0, 0.0]])), r"mask has nan at index \(0, 1\)"),
    (lambda: attention(Q, K, V, scale=np.inf), r"scale must be positive and finite, got inf"),
    (lambda: attention(Q, K, V, scale=np.nan), r"scale must be positive and finite, got nan"),
    (lambda: attention(Q, K, V, scale=-1.0), r"scale must be positive and finite, got -1.0"),
    (lambda: attention(Q, K, V, scale=np.array([1.0, 2.0])), r"scale must be one positive real number"),
    (lambda: attention(Q, K, V, scale="large"), r"scale must be one positive real number, got 'large'"),
    (lambda: attention(Q, K, V, scale=1j), r"scale must be one positive real number, got 1j"),
    (lambda: attention_backward(Q, K, V, np.ones((2, 4)), scale=np.inf), r"scale must be positive and finite"),
    (lambda: attention(Q * 1j, K, V), r"Q must be a real floating-point array, got dtype complex128"),
    (lambda: softmax(np.array([1 + 1j, 0])), r"z must be an array of real numbers, got dtype complex128"),
    (lambda: softmax(["a", "b"]), r"z must be an array of real numbers, got dtype <U1"),
    (lambda: log_softmax(np.array([1 + 1j])), r"z must be an array of real numbers"),
    (lambda: softmax_jacobian([0.0, 1.0], temperature=np.nan), r"the temperature must be positive and finite, got nan"),
    (lambda: softmax_jacobian([0.0, 1.0], temperature=np.inf), r"the temperature must be positive and finite, got inf"),
    (lambda: softmax_jacobian([0.0, 1.0], temperature=0), r"the temperature must be positive and finite, got 0.0"),
    (lambda: softmax_jacobian([0.0, 1.0], temperature=[1.0]), r"the temperature must be one positive number"),
    (lambda: cross_entropy([0.0, 1.0], [np.nan, 1.0]), r"the targets y must be finite numbers, got nan at index \(0,\)"),
    (lambda: cross_entropy([0.0, 1.0], [1.0, np.inf]), r"the targets y must be finite numbers, got inf at index \(1,\)"),
    (lambda: cross_entropy_grad([0.0, 1.0], [1j, 0.0]), r"y must be an array of real numbers, got dtype complex128"),
    (lambda: causal_mask(np.nan), r"n must be a non-negative integer, got nan"),
    (lambda: causal_mask(2, -1), r"m must be a non-negative integer, got -1"),
    (lambda: padding_mask([1], -1), r"m must be a non-negative integer, got -1"),
    (lambda: padding_mask([1], "3"), r"m must be a non-negative integer, got '3'"),
    (lambda: multi_head_parameter_count(8, 0), r"n_heads must be a positive integer, got 0"),
    (lambda: multi_head_parameter_count(0, 2), r"d_model must be a positive integer, got 0"),
    (lambda: multi_head_parameter_count(8, 2, d_k=0, d_v=4), r"d_k must be a positive integer, got 0"),
    (lambda: multi_head_attention(*[np.eye(2)] * 6, n_heads=True), r"n_heads must be a positive integer, got True"),
    (lambda: multi_head_attention_backward(*[np.eye(2)] * 6, 1.5, np.ones((2, 2))),
     r"n_heads must be a positive integer, got 1.5"),
], ids=["d_k-zero", "mask-plus-inf", "mask-nan", "scale-inf", "scale-nan", "scale-negative", "scale-array",
        "scale-text", "scale-complex", "backward-scale-inf", "complex-Q", "softmax-complex", "softmax-text",
        "log-softmax-complex", "temperature-nan", "temperature-inf", "temperature-zero", "temperature-array",
        "targets-nan", "targets-inf", "targets-complex", "causal-nan", "causal-negative", "padding-negative",
        "padding-text", "heads-zero", "d_model-zero", "d_k-zero-count", "heads-bool", "heads-fraction"])
def test_a_bad_edge_input_names_the_argument(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_whole_number_arguments_may_be_floats_that_are_whole():
    assert causal_mask(2.0).tolist() == [[True, False], [True, True]]
    assert multi_head_attention(*[np.eye(2)] * 6, n_heads=2.0).shape == (2, 2)
