"""Decoding with a key/value cache: it gives the rows of causal attention exactly, with grouped heads and after a
prompt; the cache's size; bad input; and the derivations."""

import dataclasses

import numpy as np
import pytest
import sympy as sp

from symformer import InputError, Step, SymformerError, catalog, verify
from symformer.reference.attention import attention, causal_mask
from symformer.reference.grouped_attention import grouped_query_attention
from symformer.reference.kv_cache import decode_with_kv_cache, kv_cache_size

from _reports import catalog_report


def test_decoding_gives_the_rows_of_causal_attention(rng):
    Q, K, V = rng.standard_normal((3, 10, 4)), rng.standard_normal((3, 10, 4)), rng.standard_normal((3, 10, 6))
    # row t of softmax(Q K^T / sqrt(d) + causal) V, computed from q_t and the first t + 1 keys and values only
    np.testing.assert_allclose(decode_with_kv_cache(Q, K, V), attention(Q, K, V, mask=causal_mask(10)), rtol=1e-14, atol=1e-15)


def test_a_prompt_in_the_cache_means_the_bottom_right_alignment(rng):
    Q = rng.standard_normal((2, 8, 3, 5))
    K, V = rng.standard_normal((2, 2, 7, 5)), rng.standard_normal((2, 2, 7, 3))
    decoded = decode_with_kv_cache(Q, K, V, scale=0.4)
    full = grouped_query_attention(Q, K, V, mask=causal_mask(3, 7, "bottom-right"), scale=0.4)
    np.testing.assert_allclose(decoded, full, rtol=1e-14, atol=1e-15)
    # the first decoded query already sees the whole 4-token prompt and itself
    np.testing.assert_allclose(decoded[..., :1, :], grouped_query_attention(Q[..., :1, :], K[..., :5, :], V[..., :5, :], scale=0.4),
                               rtol=1e-15)


def test_later_tokens_never_change_earlier_outputs(rng):
    Q, K, V = rng.standard_normal((1, 6, 4)), rng.standard_normal((1, 6, 4)), rng.standard_normal((1, 6, 2))
    first = decode_with_kv_cache(Q[:, :4], K[:, :4], V[:, :4])
    np.testing.assert_array_equal(decode_with_kv_cache(Q, K, V)[:, :4], first)


def test_float32_stays_float32(rng):
    Q, K, V = (rng.standard_normal((2, 5, 4)).astype(np.float32) for _ in range(3))
    out = decode_with_kv_cache(Q, K, V)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, attention(Q, K, V, mask=causal_mask(5)), rtol=1e-5, atol=1e-6)


def test_the_cache_holds_two_numbers_per_layer_head_and_dimension():
    # 2 L h_kv d_head per token
    assert kv_cache_size(32, 8, 128) == 65_536  # Mistral 7B: 128 KiB per token in fp16
    assert kv_cache_size(12, 12, 64, tokens=1024) == 18_432 * 1024
    assert kv_cache_size(80, 8, 128, tokens=0) == 0


@pytest.mark.parametrize("call, message", [
    (lambda: decode_with_kv_cache(np.ones((1, 4, 2)), np.ones((1, 3, 2)), np.ones((1, 3, 2))),
     "K has shape (1, 3, 2) and Q has shape (1, 4, 2): a cache of M = 3 positions cannot serve N = 4 queries; it needs M >= N"),
    (lambda: decode_with_kv_cache(np.ones((4, 2)), np.ones((1, 4, 2)), np.ones((1, 4, 2))),
     "Q, K and V need at least 3 axes (heads, positions, features), got shapes (4, 2), (1, 4, 2), (1, 4, 2)"),
    (lambda: kv_cache_size(12, -1, 64), "n_kv_heads must be a non-negative integer, got -1"),
    (lambda: kv_cache_size(12, 12, 64, tokens=1.5), "tokens must be a non-negative integer, got 1.5"),
], ids=["cache too short", "rank", "negative heads", "fractional tokens"])
def test_bad_input_gets_a_clear_error(call, message):
    with pytest.raises(InputError) as caught:
        call()
    assert message in str(caught.value)
    assert isinstance(caught.value, SymformerError) and isinstance(caught.value, ValueError)


# --- the derivations ----------------------------------------------------------------------------------


def test_the_cached_row_is_proved_equal_to_the_masked_row():
    report = catalog_report("kv-cache-decoding")
    assert report.ok, report.describe_failures()
    levels = [c.level for c in report.checks]
    assert levels[0] == "proved for all t, u, d_k, d_v"  # the sums split at t, where the mask's condition changes
    assert levels[1] == "proved for all t, u, d_k, d_v"
    assert levels[2].startswith("checked numerically")


def test_the_size_formula_is_proved_and_the_reference_agrees():
    report = catalog_report("kv-cache-size")
    assert report.ok, report.describe_failures()
    assert report.checks[0].level == "proved for all L, h_kv, d_head, T"
    assert report.checks[1].level == "proved for L in {1, 2}, h_kv in {1, 2}, d_head in {1, 2}, T in {1, 2}"


def test_a_cache_that_keeps_one_token_too_many_is_rejected():
    derivation = catalog()["kv-cache-decoding"]
    t, u = sp.Symbol("t", integer=True, positive=True), sp.Symbol("u", integer=True, nonnegative=True)
    # the cached row, but summing one position past the cache whenever a later token exists: it reads the future
    too_long = derivation.steps[1].expr.replace(
        lambda e: isinstance(e, sp.Sum), lambda e: sp.Sum(e.function, (e.limits[0][0], 1, t + sp.Min(u, 1))))
    wrong = dataclasses.replace(derivation, slug="kv-cache-one-too-many", claims=(),
                                steps=[derivation.steps[0], Step(too_long, "a plausible but wrong step")])
    report = verify(wrong)
    assert not report.ok and [c.label for c in report.failures()] == ["step 2"]
    assert report.failures()[0].counterexample.sizes[u] == 2
