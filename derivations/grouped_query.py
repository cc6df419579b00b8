"""Grouped-query attention: g query heads share one key/value head (Ainslie et al. 2023).

With h_q query heads and h_kv key/value heads, each group of g = h_q / h_kv query heads attends
with the same K and V: query head i uses key/value head floor(i / g) (0-based), as PyTorch's
scaled_dot_product_attention(enable_gqa=True) repeats K and V along the head axis. h_kv = h_q is
multi-head attention, h_kv = 1 multi-query attention (Shazeer 2019). The gradients below are
written for one group, in index notation with the group's head index h = 1..g, for every size;
the counts compare the weights and the key/value cache with multi-head attention.
"""

import numpy as np
import sympy as sp
from sympy import Derivative, IndexedBase, Lambda, Sum, exp

from symformer import Claim, Derivation, Gradient, Property, Size, Step, Witness
from symformer.export import WorkedExample
from symformer.reference.attention import attention_backward
from symformer.reference.finite_differences import central_difference
from symformer.reference.grouped_attention import (
    grouped_query_attention,
    grouped_query_attention_backward,
    grouped_query_parameter_count,
)
from symformer.reference.kv_cache import kv_cache_size

ORDER = 90
TOPIC = "Grouped-query attention"
AINSLIE = "ainslie2023gqa, section 2.2"
SHAZEER = "shazeer2019fast"

g, N, M, d_k, d_v = sp.symbols("g N M d_k d_v", integer=True, positive=True)
h, i, j, k, c, e, a, b, r, s, u = sp.symbols("h i j k c e a b r s u", integer=True)
tau = sp.Symbol("tau", positive=True)
Q = IndexedBase("Q", shape=(g, N, d_k), real=True)
K, V = IndexedBase("K", shape=(M, d_k), real=True), IndexedBase("V", shape=(M, d_v), real=True)
dO = IndexedBase("dO", shape=(g, N, d_v), real=True)
dS = IndexedBase("dS", shape=(g, N, M), real=True)  # what each head's softmax sends back to its scores
W = IndexedBase("P", shape=(g, N, M), real=True)  # each head's attention weights, taken as given
P, O, S = IndexedBase("P", shape=(g, N, M)), IndexedBase("O", shape=(g, N, d_v)), IndexedBase("S", shape=(g, N, M))

SCORES = {S: Lambda((u, r, s), tau * Sum(Q[u, r, c] * K[s, c], (c, 1, d_k)))}
STAGE_SIZES = {g: Size(prove=(2,), numeric=4), N: Size(prove=(1, 2), numeric=6), M: Size(prove=(1, 2), numeric=8),
               d_k: Size(prove=(1,), numeric=4), d_v: Size(prove=(1,), numeric=3)}


def _one_kv_head(array):
    return np.asarray(array)[None]  # the group's shared key/value head: (1, M, d)


def _shared_head_numeric(rng, sizes):
    """dK and dV of shared heads against central differences of the grouped forward pass, h_q = 4, h_kv = 2."""
    Q_, K_, V_ = rng.standard_normal((4, 5, 3)), rng.standard_normal((2, 7, 3)), rng.standard_normal((2, 7, 2))
    dO_ = rng.standard_normal((4, 5, 2))
    _, dK, dV = grouped_query_attention_backward(Q_, K_, V_, dO_, scale=0.7)
    numeric_K = central_difference(lambda K2: np.sum(dO_ * grouped_query_attention(Q_, K2, V_, scale=0.7)), K_)
    numeric_V = central_difference(lambda V2: np.sum(dO_ * grouped_query_attention(Q_, K_, V2, scale=0.7)), V_)
    error = float(max(np.abs(dK - numeric_K).max(), np.abs(dV - numeric_V).max()))
    return Witness(error < 1e-7, f"dK and dV of 2 shared heads against central differences: largest difference {error:.2g}", error)


grouped_query_gradient = Derivation(
    slug="grouped-query-kv-gradient",
    title=r"Grouped-query attention: a shared head's gradient is the sum over its group",
    topic=TOPIC,
    intro=(r"One group: query heads $h = 1..g$ share the keys $K$ ($M \times d_k$) and values $V$ ($M \times d_v$). "
           r"Head $h$ has its own weights $P_h = \operatorname{softmax}(\tau Q_h K^{\top})$ ($N \times M$), output "
           r"$O_h = P_h V$, and receives $dO_h$; the loss $L = \sum_h \sum dO_h \odot O_h$ has exactly those gradients. "
           r"$P_h$ does not depend on $V$, so here it is taken as given. Differentiated by one entry $V_{ab}$:"),
    lhs=Derivative(Sum(Sum(Sum(dO[h, i, e] * Sum(W[h, i, j] * V[j, e], (j, 1, M)), (e, 1, d_v)), (i, 1, N)), (h, 1, g)), V[a, b]),
    sizes=STAGE_SIZES,
    indices={a: M, b: d_v},
    steps=[
        Step(Sum(Sum(W[h, i, a] * dO[h, i, b], (i, 1, N)), (h, 1, g)),
             r"each head sends back $P_h^{\top} dO_h$ (derivation attention-backward-v), and the shared $V$ collects "
             r"the sum: $dV = \sum_h P_h^{\top} dO_h$", cite=AINSLIE),
    ],
    claims=[
        Claim("the shared keys collect the key gradient of every query head in their group",
              Derivative(Sum(Sum(Sum(dS[h, i, j] * S[h, i, j], (j, 1, M)), (i, 1, N)), (h, 1, g)), K[a, b]),
              tau * Sum(Sum(dS[h, i, a] * Q[h, i, b], (i, 1, N)), (h, 1, g)), indices={a: M, b: d_k},
              why=r"each head's scores $S_h = \tau Q_h K^{\top}$ use the same $K$; with $dS_h$ from the head's softmax "
                  r"(derivation attention-backward-scores) the head contributes $\tau\, dS_h^{\top} Q_h$ "
                  r"(derivation attention-backward-qk), and the contributions add"),
        Claim("each query head's own gradient is ordinary attention's",
              Derivative(Sum(Sum(Sum(dS[h, i, j] * S[h, i, j], (j, 1, M)), (i, 1, N)), (h, 1, g)), Q[u, a, b]),
              tau * Sum(dS[u, a, j] * K[j, b], (j, 1, M)), indices={u: g, a: N, b: d_k},
              why="$Q_h$ enters only the scores of head $h$"),
        Property("the reference's key and value gradients of shared heads match central differences, with 4 query heads sharing 2 key/value heads",
                 exact=lambda sizes: None, numeric=_shared_head_numeric, why="an independent witness of the group sums"),
    ],
    definitions=SCORES,
    cite=(AINSLIE,),
)


GROUP = {
    **SCORES,
    P: Lambda((u, r, s), exp(S[u, r, s]) / Sum(exp(S[u, r, k]), (k, 1, M))),
    O: Lambda((u, r, s), Sum(P[u, r, k] * V[k, s], (k, 1, M))),
}
LOSS = Sum(Sum(Sum(dO[h, i, e] * O[h, i, e], (e, 1, d_v)), (i, 1, N)), (h, 1, g))


def _group_loss(Q, K, V, dO, tau):
    return float(np.sum(dO * grouped_query_attention(Q, _one_kv_head(K), _one_kv_head(V), scale=tau)))


grouped_query_backward = Derivation(
    slug="grouped-query-attention-backward",
    title=r"Grouped-query attention backward, end to end: $dV = \sum_h P_h^{\top} dO_h$",
    topic=TOPIC,
    intro=(r"The same gradient with the softmax written out, $P_{h,ij} = e^{S_{h,ij}} / \sum_k e^{S_{h,ik}}$ and "
           r"$S_{h,ij} = \tau \sum_c Q_{h,ic} K_{jc}$, differentiated at once, and compared with the NumPy reference "
           r"of grouped-query attention at a realistic size."),
    lhs=Derivative(LOSS, V[a, b]),
    definitions=GROUP,
    sizes={g: Size(prove=(2,), numeric=4), N: Size(prove=(1,), numeric=6), M: Size(prove=(2,), numeric=8),
           d_k: Size(prove=(1,), numeric=4), d_v: Size(prove=(1,), numeric=3)},
    indices={a: M, b: d_v},
    steps=[Step(Sum(Sum(P[h, i, a] * dO[h, i, b], (i, 1, N)), (h, 1, g)),
                r"$P_h$ does not depend on $V$ (derivation grouped-query-kv-gradient)", cite=AINSLIE)],
    result=Gradient(forward=_group_loss,
                    reference=lambda Q, K, V, dO, tau: grouped_query_attention_backward(
                        Q, _one_kv_head(K), _one_kv_head(V), dO, scale=tau)[2][0],
                    wrt="V", indices=(a, b)),
    cite=(AINSLIE,),
)


d, h_q, h_kv, d_h = sp.symbols("d_model h_q h_kv d_head", integer=True, positive=True)
GQA_WEIGHTS = d * h_q * d_h + 2 * d * h_kv * d_h + h_q * d_h * d  # W_q, then W_k and W_v, then W_o


grouped_query_counts = Derivation(
    slug="grouped-query-counts",
    title=r"What grouped-query attention saves in weights and in the cache",
    topic=TOPIC,
    intro=(r"$W_q$ and $W_o$ keep one block of $d_{\text{head}}$ columns (rows) per query head; $W_k$ and $W_v$ only one per "
           r"key/value head. The key/value cache of a decoder stores, per token and layer, a key and a value for each "
           r"key/value head (derivation kv-cache-size)."),
    lhs=GQA_WEIGHTS,
    lhs_latex=r"d_{\text{model}} h_q d_{\text{head}} + 2\, d_{\text{model}} h_{kv} d_{\text{head}} + h_q d_{\text{head}}\, d_{\text{model}}",
    sizes={d: Size(prove=range(1, 4), numeric=64), h_q: Size(prove=range(1, 4), numeric=8),
           h_kv: Size(prove=range(1, 4), numeric=2), d_h: Size(prove=range(1, 4), numeric=8)},
    steps=[Step(2 * d * d_h * (h_q + h_kv), r"collect the terms", cite=AINSLIE)],
    claims=[
        Claim(r"multi-head attention ($h_{kv} = h_q$) minus grouped-query: $2 d_{\text{model}} d_{\text{head}} (h_q - h_{kv})$ weights fewer",
              (2 * d * d_h * (h_q + h_kv)).subs(h_kv, h_q) - 2 * d * d_h * (h_q + h_kv), 2 * d * d_h * (h_q - h_kv),
              why="only $W_k$ and $W_v$ shrink"),
        Claim("with as many key/value heads as query heads, and heads that fill the model width, it is multi-head attention's four squared model widths",
              (2 * d * d_h * (h_q + h_kv)).subs({h_kv: h_q, d: h_q * d_h}), 4 * (h_q * d_h) ** 2,
              why="derivation multi-head-weight-count"),
        Claim(r"the cache per token shrinks by $h_{kv} / h_q$", (2 * h_kv * d_h) / (2 * h_q * d_h), h_kv / h_q,
              why="keys and values are cached per key/value head; multi-query attention ($h_{kv} = 1$) keeps $1/h_q$ of it",
              cite=SHAZEER),
    ],
    cite=(AINSLIE, SHAZEER),
)


L = sp.Symbol("L", integer=True, positive=True)
LLAMA_2_70B = {d: 8192, h_q: 64, h_kv: 8, d_h: 128, L: 80}


def _llama_references(sizes):
    """The NumPy counts against the formulas, in integers."""
    weights, mha = grouped_query_parameter_count(8192, 64, 8), grouped_query_parameter_count(8192, 64, 64)
    cache, cache_mha = kv_cache_size(80, 8, 128), kv_cache_size(80, 64, 128)
    holds = (weights, mha, cache, cache_mha) == (150_994_944, 268_435_456, 163_840, 1_310_720)
    return Witness(holds, f"{weights:,} and {mha:,} weights; {cache:,} and {cache_mha:,} cached numbers per token")


def _llama_context(rng, sizes):
    tokens = 4096
    gib = kv_cache_size(80, 8, 128, tokens) * 2 / 2**30  # fp16: two bytes a number
    gib_mha = kv_cache_size(80, 64, 128, tokens) * 2 / 2**30
    return Witness(gib == 1.25 and gib_mha == 10.0, f"a 4096-token context caches {gib:g} GiB in fp16, {gib_mha:g} GiB with multi-head attention")


grouped_query_llama = Derivation(
    slug="grouped-query-llama-example",
    title="Grouped-query attention in Llama 2 70B",
    topic=TOPIC,
    intro=(r"Llama 2 70B has $d_{\text{model}} = 8192$, $h_q = 64$ query heads of $d_{\text{head}} = 128$, $h_{kv} = 8$ key/value heads "
           r"(groups of 8) and $L = 80$ layers."),
    lhs=2 * d * d_h * (h_q + h_kv),
    lhs_latex=r"2\, d_{\text{model}} d_{\text{head}} (h_q + h_{kv})",
    definitions=LLAMA_2_70B,
    steps=[Step(sp.Integer(150_994_944), r"$2 \cdot 8192 \cdot 128 \cdot 72$ attention weights per layer (derivation grouped-query-counts)",
                cite="touvron2023llama, section 2.2")],
    claims=[
        Claim(r"multi-head attention would need 268,435,456 weights ($4 d_{\text{model}}^2$)", 4 * d**2, sp.Integer(268_435_456),
              why=r"$4 \cdot 8192^2$: grouped-query attention saves 44%"),
        Claim("the cache holds 163,840 numbers per token (320 KiB in fp16), not 1,310,720", 2 * L * h_kv * d_h, sp.Integer(163_840),
              why=r"$2 \cdot 80 \cdot 8 \cdot 128$; with 64 key/value heads it would be 8 times as much"),
        Property("kv_cache_size and grouped_query_parameter_count give these numbers; 4096 tokens cache 1.25 GiB, not 10 GiB",
                 exact=_llama_references, numeric=_llama_context, why="two bytes a number in fp16"),
    ],
    cite=(AINSLIE,),
)


def _head_dV(head):
    """What query head ``head`` alone sends back to the shared V: plain attention's dV for that head."""
    return lambda Q, K, V, dO, tau: attention_backward(Q[head], K, V, dO[head], scale=tau)[2]


EXAMPLE = WorkedExample(
    grouped_query_backward,
    inputs={"Q": [[[1, 0]], [[0, 2]]], "K": [[1, 0], [0, 1], [1, 1]], "V": [[1, 0], [0, 1], [2, 2]],
            "dO": [[[1, 0]], [[0, 1]]], "tau": "1/2"},
    shows=[(r"P_1^{\top} dO_1", Sum(P[1, i, a] * dO[1, i, b], (i, 1, N)), _head_dV(0)),
           (r"P_2^{\top} dO_2", Sum(P[2, i, a] * dO[2, i, b], (i, 1, N)), _head_dV(1)),
           (r"dV = \textstyle\sum_h P_h^{\top} dO_h", None,
            lambda Q, K, V, dO, tau: grouped_query_attention_backward(Q, _one_kv_head(K), _one_kv_head(V), dO, scale=tau)[2][0])],
    title="two query heads share one key/value head",
    text=r"$g = 2$ query heads of one query each, $M = 3$ keys and values, $d_k = d_v = 2$, $\tau = 1/2$. Each head "
         r"alone would send back its own $P_h^{\top} dO_h$; the shared $V$ receives their sum.",
)
