"""Multi-head attention: heads as column blocks, the output projection as a sum, counts, backward, PyTorch."""

import numpy as np
import pytest

from symformer.reference import (
    attention,
    causal_mask,
    central_difference,
    multi_head_attention,
    multi_head_attention_backward,
    multi_head_parameter_count,
)

from _reports import catalog_report

N_, M_, D_MODEL, HEADS = 4, 6, 8, 2


def _weights(rng, d_k=4, d_v=3, d_out=D_MODEL):
    return (rng.standard_normal((D_MODEL, HEADS * d_k)), rng.standard_normal((D_MODEL, HEADS * d_k)),
            rng.standard_normal((D_MODEL, HEADS * d_v)), rng.standard_normal((HEADS * d_v, d_out)))


def test_concat_times_wo_is_the_sum_of_heads(rng):
    # Concat(head_1, head_2) W^O = head_1 W^O_1 + head_2 W^O_2, head_i on the i-th column block
    Xq, Xkv = rng.standard_normal((N_, D_MODEL)), rng.standard_normal((M_, D_MODEL))
    Wq, Wk, Wv, Wo = _weights(rng)
    total = 0
    for i in range(HEADS):
        q, k, v = slice(4 * i, 4 * i + 4), slice(4 * i, 4 * i + 4), slice(3 * i, 3 * i + 3)
        head = attention(Xq @ Wq[:, q], Xkv @ Wk[:, k], Xkv @ Wv[:, v])
        total = total + head @ Wo[v]
    np.testing.assert_allclose(multi_head_attention(Xq, Xkv, Wq, Wk, Wv, Wo, HEADS), total, rtol=1e-12, atol=1e-12)


def test_one_head_is_single_head_attention(rng):
    X = rng.standard_normal((N_, D_MODEL))
    Wq, Wk, Wv, Wo = (rng.standard_normal((D_MODEL, D_MODEL)) for _ in range(4))
    np.testing.assert_allclose(multi_head_attention(X, X, Wq, Wk, Wv, Wo, 1), attention(X @ Wq, X @ Wk, X @ Wv) @ Wo,
                               rtol=1e-12, atol=1e-12)


def test_parameter_counts():
    assert multi_head_parameter_count(768, 12, bias=False) == 2_359_296 == 4 * 768**2
    assert multi_head_parameter_count(768, 12) - multi_head_parameter_count(768, 12, bias=False) == 4 * 768
    assert multi_head_parameter_count(10, 2, d_k=3, d_v=4, bias=False) == 2 * 10 * (6 + 4) + 2 * 4 * 10
    with pytest.raises(ValueError, match="d_model = 10 does not split into 3 heads"):
        multi_head_parameter_count(10, 3)


def test_backward_matches_central_differences(rng):
    Xq, Xkv = rng.standard_normal((N_, D_MODEL)), rng.standard_normal((M_, D_MODEL))
    weights = list(_weights(rng))
    dY = rng.standard_normal((N_, D_MODEL))
    mask = causal_mask(N_, M_, "bottom-right")
    grads = multi_head_attention_backward(Xq, Xkv, *weights, HEADS, dY, mask=mask)
    inputs = [Xq, Xkv, *weights]
    for position, gradient in enumerate(grads):
        def loss(value, position=position):
            args = list(inputs)
            args[position] = value
            return np.sum(dY * multi_head_attention(*args, HEADS, mask=mask))
        np.testing.assert_allclose(gradient, central_difference(loss, inputs[position]), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("change, message", [
    (lambda w: (w[0][:, :7], w[1], w[2], w[3]), r"W_q has shape \(8, 7\): its 7 columns do not split into 2 heads"),
    (lambda w: (w[0], w[1][:, :4], w[2], w[3]), r"W_k has shape \(8, 4\) and W_q has shape \(8, 8\)"),
    (lambda w: (w[0], w[1], w[2], w[3][:4]), r"W_o has shape \(4, 8\) and W_v has shape \(8, 6\)"),
    (lambda w: (w[0][:5], w[1], w[2], w[3]), r"W_q has shape \(5, 8\) but X_q has shape \(4, 8\)"),
], ids=["heads", "d_k", "w_o", "d_model"])
def test_bad_weights_name_the_argument_and_shapes(rng, change, message):
    X = rng.standard_normal((N_, D_MODEL))
    with pytest.raises(ValueError, match=message):
        multi_head_attention(X, X, *change(_weights(rng)), HEADS)


@pytest.mark.torch
def test_matches_torch_multihead_attention_with_its_mask_polarity(rng):
    torch = pytest.importorskip("torch", reason="PyTorch is the peer check; install torch to run it")
    d_head = D_MODEL // HEADS
    Xq, Xkv = rng.standard_normal((2, N_, D_MODEL)), rng.standard_normal((2, M_, D_MODEL))
    Wq, Wk, Wv, Wo = _weights(rng, d_k=d_head, d_v=d_head)
    allowed = causal_mask(N_, M_, "bottom-right")
    layer = torch.nn.MultiheadAttention(D_MODEL, HEADS, bias=False, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        layer.in_proj_weight.copy_(torch.tensor(np.concatenate([Wq.T, Wk.T, Wv.T])))
        layer.out_proj.weight.copy_(torch.tensor(Wo.T))
    q, kv = torch.tensor(Xq, requires_grad=True), torch.tensor(Xkv, requires_grad=True)
    # nn.MultiheadAttention's boolean mask means True = masked: the opposite of ours and of SDPA's
    out, _ = layer(q, kv, kv, attn_mask=torch.tensor(~allowed), need_weights=False)
    dY = rng.standard_normal(out.shape)
    out.backward(torch.tensor(dY))
    np.testing.assert_allclose(multi_head_attention(Xq, Xkv, Wq, Wk, Wv, Wo, HEADS, mask=allowed), out.detach().numpy(),
                               rtol=1e-11, atol=1e-12)
    grads = multi_head_attention_backward(Xq, Xkv, Wq, Wk, Wv, Wo, HEADS, dY, mask=allowed)
    np.testing.assert_allclose(grads.dX_q, q.grad.numpy(), rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(grads.dX_kv, kv.grad.numpy(), rtol=1e-10, atol=1e-11)
    packed = np.concatenate([grads.dW_q.T, grads.dW_k.T, grads.dW_v.T])
    np.testing.assert_allclose(packed, layer.in_proj_weight.grad.numpy(), rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(grads.dW_o.T, layer.out_proj.weight.grad.numpy(), rtol=1e-10, atol=1e-11)


@pytest.mark.torch
def test_parameter_count_matches_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is the peer check; install torch to run it")
    layer = torch.nn.MultiheadAttention(768, 12)
    assert sum(p.numel() for p in layer.parameters()) == multi_head_parameter_count(768, 12)


@pytest.mark.parametrize("slug", ["multi-head-concat-as-sum", "multi-head-weight-count"])
def test_multi_head_derivations_verify(slug):
    report = catalog_report(slug)
    assert report.ok, report.describe_failures()
    assert all(c.level.startswith("proved") for c in report.checks), [c.level for c in report.checks]
