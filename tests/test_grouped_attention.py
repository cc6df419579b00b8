"""Grouped-query and multi-query attention: the head mapping, the group sums of the gradients, torch SDPA with
enable_gqa, the counts against multi-head attention, bad input, and the derivations."""

import dataclasses

import numpy as np
import pytest
import sympy as sp

from symformer import catalog, InputError, Step, SymformerError, verify
from symformer.reference import central_difference
from symformer.reference.attention import attention, attention_backward, causal_mask, padding_mask
from symformer.reference.grouped_attention import (
    grouped_query_attention,
    grouped_query_attention_backward,
    grouped_query_parameter_count,
)

from _reports import catalog_report

B, HQ, HKV, N_, M_, DK, DV = 2, 6, 2, 4, 7, 3, 5  # N != M, d_k != d_v, groups of 3


def _inputs(rng, h_q=HQ, h_kv=HKV):
    return (rng.standard_normal((B, h_q, N_, DK)), rng.standard_normal((B, h_kv, M_, DK)),
            rng.standard_normal((B, h_kv, M_, DV)), rng.standard_normal((B, h_q, N_, DV)))


def test_query_head_i_uses_key_value_head_i_floor_divided_by_the_group_size(rng):
    Q, K, V, _ = _inputs(rng)
    out = grouped_query_attention(Q, K, V, scale=0.8)
    group = HQ // HKV
    for b in range(B):
        for head in range(HQ):
            np.testing.assert_allclose(out[b, head], attention(Q[b, head], K[b, head // group], V[b, head // group], scale=0.8),
                                       rtol=1e-14, atol=1e-15)


def test_as_many_key_value_heads_as_query_heads_is_multi_head_attention(rng):
    Q, K, V, dO = _inputs(rng, h_kv=HQ)
    np.testing.assert_allclose(grouped_query_attention(Q, K, V), attention(Q, K, V), rtol=1e-15)
    for ours, plain in zip(grouped_query_attention_backward(Q, K, V, dO), attention_backward(Q, K, V, dO)):
        np.testing.assert_allclose(ours, plain, rtol=1e-14, atol=1e-15)


def test_one_key_value_head_is_multi_query_attention(rng):
    Q, K, V, _ = _inputs(rng, h_kv=1)
    out = grouped_query_attention(Q, K, V)
    # every query head reads the same K and V
    np.testing.assert_allclose(out, attention(Q, K[:, :1], V[:, :1]), rtol=1e-15)


def test_a_shared_heads_gradient_is_the_sum_over_its_group(rng):
    Q, K, V, dO = _inputs(rng)
    _, dK, dV = grouped_query_attention_backward(Q, K, V, dO, scale=0.7)
    group = HQ // HKV
    # dK_g = sum over the query heads h of group g of the per-head dK
    for g in range(HKV):
        per_head = [attention_backward(Q[:, h], K[:, g], V[:, g], dO[:, h], scale=0.7) for h in range(g * group, (g + 1) * group)]
        np.testing.assert_allclose(dK[:, g], sum(p[1] for p in per_head), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(dV[:, g], sum(p[2] for p in per_head), rtol=1e-12, atol=1e-14)


def test_gradients_match_central_differences(rng):
    Q, K, V, dO = (a[:1] for a in _inputs(rng))
    mask = causal_mask(N_, M_, "bottom-right")
    grads = grouped_query_attention_backward(Q, K, V, dO, mask=mask)
    for position, x in enumerate((Q, K, V)):
        def loss(value, position=position):
            args = [Q, K, V]
            args[position] = value
            return np.sum(dO * grouped_query_attention(*args, mask=mask))
        np.testing.assert_allclose(grads[position], central_difference(loss, x), rtol=1e-6, atol=1e-8)


def test_batch_axes_broadcast_and_gradients_sum_over_them(rng):
    Q, K, V, dO = _inputs(rng)
    dQ, dK, dV = grouped_query_attention_backward(Q, K[:1], V[:1], dO)
    assert dK.shape == (1, HKV, M_, DK) and dV.shape == (1, HKV, M_, DV)
    per_batch = [grouped_query_attention_backward(Q[b:b + 1], K[:1], V[:1], dO[b:b + 1]) for b in range(B)]
    np.testing.assert_allclose(dK, sum(p[1] for p in per_batch), rtol=1e-12, atol=1e-14)


def test_float32_stays_float32(rng):
    Q, K, V, dO = (a.astype(np.float32) for a in _inputs(rng))
    assert grouped_query_attention(Q, K, V).dtype == np.float32
    assert all(g.dtype == np.float32 for g in grouped_query_attention_backward(Q, K, V, dO))


@pytest.mark.torch
@pytest.mark.parametrize("mask_kind", [None, "causal", "padding", "fully-masked-row"])
@pytest.mark.parametrize("h_kv", [1, 2, 6], ids=["multi-query", "grouped", "multi-head"])
def test_matches_torch_sdpa_with_enable_gqa(rng, mask_kind, h_kv):
    torch = pytest.importorskip("torch", reason="PyTorch's SDPA is the peer check; install torch to run it")
    Q, K, V, dO = _inputs(rng, h_kv=h_kv)
    boolean = {None: None, "causal": causal_mask(N_, M_, "bottom-right"),
               "padding": padding_mask(np.array([5, 3]), M_)[:, None],  # (B, 1, 1, M): broadcast over heads and queries
               "fully-masked-row": np.ones((B, HQ, N_, M_), dtype=bool)}[mask_kind]
    if mask_kind == "fully-masked-row":
        boolean[1, 4, 2] = False  # batch 1, query head 4, query 2 sees nothing: PyTorch >= 2.5 returns zeros
    tensors = [torch.tensor(a, requires_grad=True) for a in (Q, K, V)]
    theirs = torch.nn.functional.scaled_dot_product_attention(
        *tensors, attn_mask=None if boolean is None else torch.tensor(boolean), scale=0.6, enable_gqa=True)
    theirs.backward(torch.tensor(dO))
    np.testing.assert_allclose(grouped_query_attention(Q, K, V, mask=boolean, scale=0.6), theirs.detach().numpy(),
                               rtol=1e-12, atol=1e-13)
    for ours, tensor in zip(grouped_query_attention_backward(Q, K, V, dO, mask=boolean, scale=0.6), tensors):
        np.testing.assert_allclose(ours, tensor.grad.numpy(), rtol=1e-11, atol=1e-13)
    if mask_kind == "fully-masked-row":
        assert not theirs.detach().numpy()[1, 4, 2].any() and not tensors[0].grad.numpy()[1, 4, 2].any()


@pytest.mark.torch
def test_default_scale_is_one_over_sqrt_d_k_as_in_torch(rng):
    torch = pytest.importorskip("torch", reason="PyTorch's SDPA is the peer check; install torch to run it")
    Q, K, V, _ = _inputs(rng)
    theirs = torch.nn.functional.scaled_dot_product_attention(*(torch.tensor(a) for a in (Q, K, V)), enable_gqa=True)
    np.testing.assert_allclose(grouped_query_attention(Q, K, V), theirs.numpy(), rtol=1e-12, atol=1e-13)


def test_parameter_count_against_multi_head_attention():
    # d_model d_head (2 h_q + 2 h_kv); with h_kv = h_q it is 4 d_model^2
    assert grouped_query_parameter_count(768, 12, 12) == 4 * 768**2
    assert grouped_query_parameter_count(4096, 32, 8) == 4096 * 128 * (2 * 32 + 2 * 8)
    assert grouped_query_parameter_count(64, 4, 1, d_head=32) == 64 * 32 * 10


@pytest.mark.parametrize("call, message", [
    (lambda: grouped_query_attention(np.ones((6, 2, 3)), np.ones((4, 5, 3)), np.ones((4, 5, 2))),
     "Q has 6 heads (shape (6, 2, 3)) and K has 4 (shape (4, 5, 3)): the query heads must be a multiple of the key/value heads"),
    (lambda: grouped_query_attention(np.ones((4, 2, 3)), np.ones((2, 5, 3)), np.ones((1, 5, 2))),
     "V has shape (1, 5, 2) and K has shape (2, 5, 3): they need the same number of heads"),
    (lambda: grouped_query_attention(np.ones((4, 2, 3)), np.ones((2, 5, 4)), np.ones((2, 5, 2))),
     "K has shape (2, 5, 4) and Q has shape (4, 2, 3): their last axes (d_k) must agree"),
    (lambda: grouped_query_attention(np.ones((4, 2, 3)), np.ones((2, 5, 3)), np.ones((2, 6, 2))),
     "V has shape (2, 6, 2) and K has shape (2, 5, 3): they need the same number of positions (M keys)"),
    (lambda: grouped_query_attention(np.ones((2, 3)), np.ones((1, 5, 3)), np.ones((1, 5, 2))),
     "Q must have at least 3 axes (heads, positions, features), got shape (2, 3)"),
    (lambda: grouped_query_attention(np.ones((2, 4, 2, 3)), np.ones((3, 2, 5, 3)), np.ones((3, 2, 5, 2))),
     "the batch axes of Q (2, 4, 2, 3), K (3, 2, 5, 3) and V (3, 2, 5, 2) do not broadcast"),
    (lambda: grouped_query_attention(np.ones((4, 2, 3)), np.ones((2, 5, 3)), np.ones((2, 5, 2)), mask=np.ones((3, 5), bool)),
     "mask has shape (3, 5), which does not broadcast to the scores' shape (4, 2, 5) (..., h_q, N, M)"),
    (lambda: grouped_query_attention(np.ones((4, 2, 3)), np.ones((2, 5, 3)), np.ones((2, 5, 2)), scale=float("nan")),
     "scale must be positive, got nan"),
    (lambda: grouped_query_attention(np.ones((4, 2, 3), bool), np.ones((2, 5, 3)), np.ones((2, 5, 2))),
     "Q must be a real floating-point array, got dtype bool"),
    (lambda: grouped_query_attention_backward(np.ones((4, 2, 3)), np.ones((2, 5, 3)), np.ones((2, 5, 2)), np.ones((2, 2, 2))),
     "dO has shape (2, 2, 2) but the output O has shape (4, 2, 2)"),
    (lambda: grouped_query_parameter_count(768, 12, 5), "n_heads = 12 is not a multiple of n_kv_heads = 5"),
    (lambda: grouped_query_parameter_count(100, 12, 4), "d_model = 100 does not split into 12 heads; give d_head"),
], ids=["not a multiple", "heads of V", "d_k", "keys and values", "rank", "batch", "mask", "nan scale", "dtype", "dO",
        "count multiple", "count split"])
def test_bad_input_gets_a_clear_error(call, message):
    with pytest.raises(InputError) as caught:
        call()
    assert message in str(caught.value)
    assert isinstance(caught.value, SymformerError) and isinstance(caught.value, ValueError)


# --- the derivations ----------------------------------------------------------------------------------


def test_the_group_sums_and_the_query_gradient_are_proved_for_all_sizes():
    report = catalog_report("grouped-query-kv-gradient")
    assert report.ok, report.describe_failures()
    levels = {c.label: c.level for c in report.checks}
    general = "proved for all g, N, M, d_k, d_v"
    assert levels["step 1"] == general
    assert levels["claim 'the shared keys collect the key gradient of every query head in their group'"] == general
    assert levels["claim \"each query head's own gradient is ordinary attention's\""] == "proved for all g, N, M, d_k, d_v"


def test_the_end_to_end_gradient_matches_the_reference():
    report = catalog_report("grouped-query-attention-backward")
    assert report.ok, report.describe_failures()
    result = report.checks[-1]
    assert result.kind == "result" and [m.status for m in result.methods] == ["holds", "holds"]


@pytest.mark.parametrize("slug", ["grouped-query-counts", "grouped-query-llama-example"])
def test_the_counts_are_proved(slug):
    report = catalog_report(slug)
    assert report.ok, report.describe_failures()
    assert all(c.level.startswith("proved") for c in report.checks), [c.level for c in report.checks]


def test_forgetting_the_group_sum_is_rejected():
    derivation = catalog()["grouped-query-kv-gradient"]
    total = derivation.steps[0].expr  # sum over i and h of P_{h,ia} dO_{h,ib}
    first_head_only = sp.Sum(total.function, total.limits[0]).xreplace({sp.Symbol("h", integer=True): 1})  # P_1^T dO_1
    wrong = dataclasses.replace(derivation, slug="grouped-query-first-head-only", claims=(),
                                steps=[Step(first_head_only, "a plausible but wrong step")])
    report = verify(wrong)
    assert not report.ok and report.failures()[0].label == "step 1"
    assert report.failures()[0].counterexample.sizes[sp.Symbol("g", integer=True, positive=True)] == 2
