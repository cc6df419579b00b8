"""The pre-norm residual block and cross-attention: a whole block's backward pass composed from the references
against torch autograd, the derivations, and rejected wrong steps."""

import dataclasses

import numpy as np
import pytest
import sympy as sp

from symformer import Step, catalog, verify
from symformer.reference.activations import swiglu, swiglu_backward
from symformer.reference.attention import causal_mask, multi_head_attention, multi_head_attention_backward
from symformer.reference.norms import rms_norm, rms_norm_backward

from _reports import catalog_report

TOKENS, WIDTH, HEADS, HIDDEN = 5, 8, 2, 12


def _weights(rng):
    scale = 1 / np.sqrt(WIDTH)
    return {"w1": 1 + 0.1 * rng.standard_normal(WIDTH), "w2": 1 + 0.1 * rng.standard_normal(WIDTH),
            **{k: scale * rng.standard_normal((WIDTH, WIDTH)) for k in ("Wq", "Wk", "Wv", "Wo")},
            "Wg": scale * rng.standard_normal((WIDTH, HIDDEN)), "Wu": scale * rng.standard_normal((WIDTH, HIDDEN)),
            "Wd": rng.standard_normal((HIDDEN, WIDTH)) / np.sqrt(HIDDEN)}


def _backward(x, dy, p, mask):
    """dh = dy + J_ffn^T dy, then dx = dh + J_attn^T dh: each J^T v from a reference backward pass."""
    z1 = rms_norm(x, p["w1"], eps=1e-6)
    h = x + multi_head_attention(z1, z1, p["Wq"], p["Wk"], p["Wv"], p["Wo"], HEADS, mask)
    dz2 = swiglu_backward(rms_norm(h, p["w2"], eps=1e-6), p["Wg"], p["Wu"], dy @ p["Wd"].T)[0]
    dh = dy + rms_norm_backward(h, dz2, p["w2"], eps=1e-6)[0]
    grads = multi_head_attention_backward(z1, z1, p["Wq"], p["Wk"], p["Wv"], p["Wo"], HEADS, dh, mask)
    return dh + rms_norm_backward(x, grads.dX_q + grads.dX_kv, p["w1"], eps=1e-6)[0]


@pytest.mark.torch
def test_a_whole_pre_norm_block_backward_matches_torch_autograd(rng):
    torch = pytest.importorskip("torch", reason="torch autograd is the peer check of the composed backward pass")
    F = torch.nn.functional
    p = _weights(rng)
    x, dy = rng.standard_normal((TOKENS, WIDTH)), rng.standard_normal((TOKENS, WIDTH))
    t = {k: torch.tensor(v) for k, v in p.items()}
    tx = torch.tensor(x, requires_grad=True)

    def attention_sublayer(z):
        q, k, v = (z @ t[name] for name in ("Wq", "Wk", "Wv"))
        split = lambda m: m.reshape(TOKENS, HEADS, WIDTH // HEADS).transpose(0, 1)  # noqa: E731
        heads = F.scaled_dot_product_attention(split(q), split(k), split(v), is_causal=True)
        return heads.transpose(0, 1).reshape(TOKENS, WIDTH) @ t["Wo"]

    h = tx + attention_sublayer(F.rms_norm(tx, (WIDTH,), t["w1"], eps=1e-6))
    z2 = F.rms_norm(h, (WIDTH,), t["w2"], eps=1e-6)
    y = h + (F.silu(z2 @ t["Wg"]) * (z2 @ t["Wu"])) @ t["Wd"]
    y.backward(torch.tensor(dy))
    # y itself, then dx = dy + J_ffn^T dy + J_attn^T (dy + J_ffn^T dy)
    z1 = rms_norm(x, p["w1"], eps=1e-6)
    ours_h = x + multi_head_attention(z1, z1, p["Wq"], p["Wk"], p["Wv"], p["Wo"], HEADS, causal_mask(TOKENS))
    ours_y = ours_h + swiglu(rms_norm(ours_h, p["w2"], eps=1e-6), p["Wg"], p["Wu"]) @ p["Wd"]
    np.testing.assert_allclose(ours_y, y.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(_backward(x, dy, p, causal_mask(TOKENS)), tx.grad.numpy(), rtol=1e-11, atol=1e-12)


def test_with_dead_sublayers_the_gradient_is_dy_exactly(rng):
    p = {**_weights(rng), "Wo": np.zeros((WIDTH, WIDTH)), "Wd": np.zeros((HIDDEN, WIDTH))}
    x, dy = rng.standard_normal((TOKENS, WIDTH)), rng.standard_normal((TOKENS, WIDTH))
    # J_attn = J_ffn = 0, so dx = dy through the two identity paths
    np.testing.assert_array_equal(_backward(x, dy, p, causal_mask(TOKENS)), dy)


# --- the derivations ----------------------------------------------------------------------------------


def test_one_sublayer_is_proved_for_every_width_the_exchange_of_sums_too():
    report = catalog_report("prenorm-residual-backward")
    assert report.ok, report.describe_failures()
    levels = [c.level for c in report.checks]
    assert levels[:5] == ["proved for all n"] * 5
    assert [m.status for m in report.checks[5].methods] == ["holds", "holds"]


@pytest.mark.parametrize("slug", ["prenorm-block-backward", "prenorm-residual-depth"])
def test_the_block_and_depth_derivations_verify(slug):
    report = catalog_report(slug)
    assert report.ok, report.describe_failures()
    steps = [c for c in report.checks if c.kind == "step"]
    assert all(c.level == "proved for all n" for c in steps), [c.level for c in steps]


def test_the_depth_witnesses_report_both_stacks():
    prop = catalog()["prenorm-residual-depth"].claims[0]
    n = sp.Symbol("n", integer=True, positive=True)
    exact = prop.exact({n: 3})
    assert exact.holds and "with identity paths" in exact.detail and "without" in exact.detail
    numeric = prop.numeric(np.random.default_rng(1), {n: 32})
    assert numeric.holds and "through 12 residual blocks" in numeric.detail


def test_dropping_the_cross_term_of_a_block_is_rejected():
    derivation = catalog()["prenorm-block-backward"]
    last = derivation.steps[-1].expr
    without_cross = sp.MatAdd(*[term for term in last.args if not (isinstance(term, sp.MatMul) and len(term.args) == 3)])
    assert without_cross != last
    wrong = dataclasses.replace(derivation, slug="prenorm-block-without-cross-term", claims=(),
                                steps=[*derivation.steps[:-1], Step(without_cross, "a plausible but wrong step")])
    report = verify(wrong)
    assert not report.ok and [c.label for c in report.failures()] == ["step 3"]


def test_cross_attention_is_proved_for_every_size_and_end_to_end_with_n_not_m():
    memory = catalog_report("cross-attention-memory-gradient")
    assert memory.ok, memory.describe_failures()
    assert {c.level for c in memory.checks} == {"proved for all M, d, d_k, d_v, N"}
    full = catalog_report("cross-attention-backward")
    assert full.ok, full.describe_failures()
    # the matrix step's general entries, with its sums exchanged, prove for every size
    assert full.checks[0].level == "proved for all N, M, d, d_k, d_v"
    assert [m.status for m in full.checks[-1].methods] == ["holds", "holds"]


def test_a_memory_gradient_without_the_value_path_is_rejected():
    derivation = catalog()["cross-attention-memory-gradient"]
    step = derivation.steps[0].expr  # sum_c dK_ac W^k_bc + sum_e dV_ae W^v_be
    keys_only = next(term for term in step.args if "dK" in {str(base) for base in term.atoms(sp.IndexedBase)})
    wrong = dataclasses.replace(derivation, slug="cross-attention-keys-only", claims=(),
                                steps=[Step(keys_only, "a plausible but wrong step")])
    report = verify(wrong)
    assert not report.ok and report.failures()[0].label == "step 1"
