"""The key/value cache: decoding one token at a time gives exactly the rows of causal attention.

A decoder generating token t computes q_t, k_t and v_t for that token only; the keys and values of
tokens 1..t-1 are kept from earlier steps (the cache). Row t of causal attention over the whole
sequence of T = t + u tokens sees keys 1..t only, so it equals attention of q_t over the cache:
the u later tokens add e^{-inf} = 0 to every sum. Index notation, 1-based; the cache length t and
the number u of later tokens are sizes, so the query's position is a size too.
"""

import numpy as np
import sympy as sp
from sympy import IndexedBase, Lambda, Piecewise, Sum, exp, oo

from symformer import Derivation, Property, Size, Step, Witness
from symformer.export import WorkedExample
from symformer.reference.attention import causal_mask
from symformer.reference.grouped_attention import grouped_query_attention
from symformer.reference.kv_cache import decode_with_kv_cache, kv_cache_size

ORDER = 93
TOPIC = "The KV cache"
VASWANI = "vaswani2017attention, section 3.2.3 (the decoder's causal mask)"
POPE = "pope2023efficiently, section 2"

t = sp.Symbol("t", integer=True, positive=True)  # the position being decoded: there is a token 1..t
u, d_k, d_v = sp.symbols("u d_k d_v", integer=True, nonnegative=True)
j, k, c, l, a = sp.symbols("j k c l a", integer=True)  # l: a column of V (e would read as Euler's number)
tau = sp.Symbol("tau", positive=True)
Q = IndexedBase("Q", shape=(t + u, d_k), real=True)
K = IndexedBase("K", shape=(t + u, d_k), real=True)
V = IndexedBase("V", shape=(t + u, d_v), real=True)
S, B = IndexedBase("S", shape=(t + u,)), IndexedBase("B", shape=(t + u,))
DEFINITIONS = {
    S: Lambda(a, tau * Sum(Q[t, c] * K[a, c], (c, 1, d_k))),  # query t's scores against every key
    B: Lambda(a, Piecewise((0, a <= t), (-oo, True))),  # the causal mask of row t
}
FULL_ROW = Sum(exp(S[j] + B[j]) * V[j, l], (j, 1, t + u)) / Sum(exp(S[k] + B[k]), (k, 1, t + u))
CACHED = Sum(exp(S[j]) * V[j, l], (j, 1, t)) / Sum(exp(S[k]), (k, 1, t))


def _decode_numeric(rng, sizes):
    """decode_with_kv_cache against masked attention of the whole sequence, with grouped heads and a prompt."""
    heads, kv_heads, prompt = 4, 2, 3
    steps = max(int(sizes[t]), 1)
    Q_ = rng.standard_normal((2, heads, steps, 5))
    K_ = rng.standard_normal((2, kv_heads, prompt + steps, 5))
    V_ = rng.standard_normal((2, kv_heads, prompt + steps, 3))
    decoded = decode_with_kv_cache(Q_, K_, V_)
    full = grouped_query_attention(Q_, K_, V_, mask=causal_mask(steps, prompt + steps, "bottom-right"))
    error = float(np.abs(decoded - full).max())
    return Witness(error < 1e-14, f"{steps} decoding steps after a {prompt}-token prompt, 4 query and 2 key/value heads: "
                                  f"largest difference {error:.2g}", error)


kv_cache_decoding = Derivation(
    slug="kv-cache-decoding",
    title="Decoding with a key/value cache reproduces causal attention exactly",
    topic=TOPIC,
    intro=(r"A sequence of $T = t + u$ tokens; query $t$ has scores $S_j = \tau\, q_t \cdot k_j$ and the causal mask "
           r"$B_j = 0$ for $j \le t$, $-\infty$ after. Row $t$ of masked attention over the whole sequence:"),
    lhs=FULL_ROW,
    definitions=DEFINITIONS,
    sizes={t: Size(prove=(1, 2, 3), numeric=12), u: Size(prove=(0, 2), numeric=5),
           d_k: Size(prove=(1,), numeric=8), d_v: Size(prove=(1,), numeric=4)},
    indices={l: d_v},
    steps=[
        Step((Sum(exp(S[j]) * V[j, l], (j, 1, t)) + Sum(0 * V[j, l], (j, t + 1, t + u)))
             / (Sum(exp(S[k]), (k, 1, t)) + Sum(0 * S[k], (k, t + 1, t + u))),
             r"split each sum at the cache boundary: $B_j = 0$ up to $t$, and $e^{S_j - \infty} = 0$ after it", cite=VASWANI),
        Step(CACHED, r"drop the zeros: only $k_1..k_t$ and $v_1..v_t$ remain, exactly what the cache holds after step $t$ "
                     r"appended $k_t$ and $v_t$; no mask is needed", cite=POPE),
    ],
    claims=[
        Property("decode_with_kv_cache equals causal attention over the whole sequence (grouped heads, after a prompt)",
                 exact=lambda sizes: None, numeric=_decode_numeric,
                 why=r"the prompt fills the cache first, so query $t$ sits at position $M - N + t$: the bottom-right alignment"),
    ],
    cite=(VASWANI, POPE),
)


L, h_kv, d_head, T = sp.symbols("L h_kv d_head T", integer=True, positive=True)


def _formula_exact(sizes):
    """kv_cache_size against 2 L h_kv d_head T, in integers, at each size."""
    values = [int(sizes[symbol]) for symbol in (L, h_kv, d_head, T)]
    count = kv_cache_size(*values)
    expected = 2 * values[0] * values[1] * values[2] * values[3]
    return Witness(count == expected, f"kv_cache_size{tuple(values)} = {count}, the formula {expected}")


def _gpt2_numeric(rng, sizes):
    per_token, context = kv_cache_size(12, 12, 64), kv_cache_size(12, 12, 64, tokens=1024)
    holds = per_token == 18_432 and context * 2 == 36 * 2**20
    return Witness(holds, f"GPT-2 small (12 layers, 12 heads of 64): {per_token:,} numbers per token, "
                          f"{context * 2 / 2**20:g} MiB for 1024 tokens in fp16")


kv_cache_size_derivation = Derivation(
    slug="kv-cache-size",
    title=r"The cache holds $2 L\, h_{kv} d_{\text{head}}$ numbers per token",
    topic=TOPIC,
    intro=(r"Each of the $L$ layers keeps, for each of $T$ tokens, one key and one value of $d_{\text{head}}$ numbers per "
           r"key/value head; there are $h_{kv}$ of them ($h_{kv} = h$ in multi-head attention, fewer with grouped-query "
           r"attention). The cache grows linearly with the context."),
    lhs=T * L * (h_kv * d_head + h_kv * d_head),
    lhs_latex=r"T L\, (h_{kv} d_{\text{head}} + h_{kv} d_{\text{head}})",
    sizes={L: Size(prove=(1, 2), numeric=12), h_kv: Size(prove=(1, 2), numeric=12),
           d_head: Size(prove=(1, 2), numeric=64), T: Size(prove=(1, 2), numeric=1024)},
    steps=[Step(2 * L * h_kv * d_head * T, r"keys and values are the same size: $2 L\, h_{kv} d_{\text{head}}$ per token", cite=POPE)],
    claims=[
        Property("kv_cache_size counts 2 L h_kv d_head T; GPT-2 small caches 18,432 numbers per token, 36 MiB for 1024 tokens in fp16",
                 exact=_formula_exact, numeric=_gpt2_numeric, why=r"$2 \cdot 12 \cdot 12 \cdot 64$, two bytes a number"),
    ],
    cite=(POPE,),
)


EXAMPLE = WorkedExample(
    kv_cache_size_derivation,
    inputs={},
    sizes={"L": 16, "h_kv": 8, "d_head": 64, "T": 8192},
    shows=[(r"2 L\, h_{kv} d_{\text{head}}", 2 * L * h_kv * d_head, lambda L, h_kv, d_head: kv_cache_size(L, h_kv, d_head)),
           (r"2 L\, h_{kv} d_{\text{head}}\, T", None, lambda L, h_kv, d_head, T: kv_cache_size(L, h_kv, d_head, tokens=T)),
           (r"\text{bytes in fp16}", 2 * (2 * L * h_kv * d_head * T),
            lambda L, h_kv, d_head, T: 2 * kv_cache_size(L, h_kv, d_head, tokens=T))],
    title="a small model with grouped-query attention",
    text=r"$L = 16$ layers, $h_{kv} = 8$ key/value heads of $d_{\text{head}} = 64$, a context of $T = 8192$ tokens: "
         r"$16\,384$ numbers a token, 256 MiB for the whole context at two bytes a number.",
)
