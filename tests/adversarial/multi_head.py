"""Multi-head attention: weight and bias counts, the per-head scale, heads as column blocks, the KV cache."""

import sympy as sp
from sympy import IndexedBase, Sum

from symformer import Size

from adversarial._common import chain, correct, e, i, r, s, wrong

h, w = sp.symbols("h w", integer=True, positive=True)  # heads, and each head's width d_k = d_v = w
g, h_kv, T = sp.symbols("g h_kv T", integer=True, positive=True)  # GQA group size, K/V heads, tokens
c = sp.Symbol("c", integer=True)
N = sp.Symbol("N", integer=True, positive=True)
d = h * w  # d_model
HW = {h: Size(prove=range(1, 4), numeric=4), w: Size(prove=range(1, 4), numeric=3)}
C = IndexedBase("C", shape=(N, h * w), real=True)  # Concat(heads): head i is columns (i-1) w + 1 .. i w
W = IndexedBase("W", shape=(h * w, N), real=True)  # W^O, its row blocks W^O_i
BLOCKS = {N: Size(prove=(1, 2), numeric=3), h: Size(prove=(1, 2, 3), numeric=3), w: Size(prove=(1, 2), numeric=2)}
PROJECTED = Sum(C[r, c] * W[c, s], (c, 1, h * w))
GQA = {g: Size(prove=range(1, 4), numeric=4), h_kv: Size(prove=range(1, 3), numeric=2), w: Size(prove=range(1, 3), numeric=8),
       T: Size(prove=range(1, 3), numeric=16)}

WRONG = [
    wrong(chain("weights-without-output-projection", h * d * (2 * w + w), (4 * d**2, "4 d_model^2, as the paper says"), sizes=HW),
          mistake="W^O's h d_v d_model weights left out"),
    wrong(chain("biases-without-output-bias", h * (2 * w + w), (4 * d, "one bias per projected feature"), sizes=HW),
          mistake="the output projection's d_model biases left out"),
    wrong(chain("per-head-scale", 1 / sp.sqrt(d / h), (h / sp.sqrt(d), "1/sqrt(d_k) with d_k = d_model / h"), sizes=HW),
          mistake="sqrt(d/h) taken as sqrt(d)/h"),
    wrong(chain("heads-reversed-within-block", PROJECTED,
                (Sum(Sum(C[r, (i - 1) * w + e] * W[i * w - e + 1, s], (e, 1, w)), (i, 1, h)), "one block of W^O per head"),
                sizes=BLOCKS, indices={r: N, s: N}),
          mistake="the rows of W^O_i taken in reverse order"),
    wrong(chain("gqa-cache-counts-query-heads", Sum(2 * h_kv * w, (c, 1, T)), (2 * g * h_kv * w * T, "K and V per head"),
                sizes=GQA),
          mistake="the cache holds the h_kv shared heads, not the h_q = g h_kv query heads"),
]

CORRECT = [
    correct(chain("multi-head-weight-count", h * d * (2 * w + w) + h * w * d, (4 * d**2, "d_k = d_v = d_model / h"), sizes=HW)),
    correct(chain("concat-as-sum-of-heads", PROJECTED,
                  (Sum(Sum(C[r, (i - 1) * w + e] * W[(i - 1) * w + e, s], (e, 1, w)), (i, 1, h)),
                   "split the columns of the concatenation into the h heads"),
                  sizes=BLOCKS, indices={r: N, s: N})),
]
