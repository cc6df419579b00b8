"""Multi-head attention: Concat(head_1, ..., head_h) W^O = sum_i head_i W^O_i, its weights, its backward.

head_i = Attention(X_q W_i^Q, X_kv W_i^K, X_kv W_i^V); W^O is (h d_v) x d_model, and its i-th
block of d_v rows W^O_i is what head i's output meets. Heads are contiguous column blocks of the
projected matrices (reshape to (h, d_k)), which is PyTorch's and the paper's layout.
"""

import numpy as np
import sympy as sp
from sympy import BlockMatrix, Derivative, MatrixSymbol, Trace

from symformer import Claim, Derivation, Property, Size, Step, Witness, all_hold, identity_for_all, matrix_identity_for_all
from symformer.blocks import RowSoftmax
from symformer.export import WorkedExample
from symformer.reference import (
    attention,
    multi_head_attention,
    multi_head_attention_backward,
    multi_head_parameter_count,
)

ORDER = 48
TOPIC = "Multi-head attention"
VASWANI = "vaswani2017attention, section 3.2.2"

N, d_v, d_model = sp.symbols("N d_v d_model", integer=True, positive=True)
H = [MatrixSymbol(f"H_{i}", N, d_v) for i in (1, 2, 3)]
W = [MatrixSymbol(f"W^O_{i}", d_v, d_model) for i in (1, 2, 3)]
G = MatrixSymbol("dY", N, d_model)
SIZES = {N: Size(prove=range(1, 4), numeric=64), d_v: Size(prove=range(1, 3), numeric=16),
         d_model: Size(prove=range(1, 3), numeric=48)}
CONCAT = BlockMatrix([H])
W_O = BlockMatrix([[w] for w in W])
SUM = H[0] * W[0] + H[1] * W[1] + H[2] * W[2]


concat_as_sum = Derivation(
    slug="multi-head-concat-as-sum",
    notation={"dH_1": Derivative(Trace(G.T * SUM), H[0]), "dW^{O}_{2}": Derivative(Trace(G.T * SUM), W[1])},
    title="$\\operatorname{Concat}(\\text{heads})\\, W^O$ is a sum over the heads",
    topic=TOPIC,
    intro=("Three heads, each $N \\times d_v$. Split $W^O$ into row blocks $W^O_i$ of $d_v$ rows: the output "
           "projection of the concatenation is the sum of each head's own projection."),
    lhs=CONCAT * W_O,
    sizes=SIZES,
    steps=[Step(SUM, "block matrix product: a row of blocks times a column of blocks", cite=VASWANI)],
    claims=[
        Claim(r"the backward pass of the first head: $dH_1 = dY\, {W^{O}_{1}}^{\top}$", Derivative(Trace(G.T * SUM), H[0]), G * W[0].T,
              why="$\\operatorname{tr}(dY^{\\top} H_1 W^O_1) = \\operatorname{tr}((dY W^{O\\top}_1)^{\\top} H_1)$"),
        Claim(r"the second head's output weights: $dW^{O}_{2} = H_2^{\top} dY$", Derivative(Trace(G.T * SUM), W[1]), H[1].T * G,
              why="$\\operatorname{tr}(dY^{\\top} H_2 W^O_2) = \\operatorname{tr}((H_2^{\\top} dY)^{\\top} W^O_2)$"),
        Property(r"with one head, multi-head attention reduces to single-head attention of the projected inputs, times $W^O$", exact=lambda sizes: _one_head_exact(sizes),
                 numeric=lambda rng, sizes: _one_head_numeric(rng, sizes), general=lambda sizes: _one_head_general(sizes),
                 why="one column block is the whole matrix, and its scale is $1/\\sqrt{d_k}$ with $d_k = d_{\\text{model}}$"),
    ],
    cite=(VASWANI,),
)


h, d = sp.symbols("h d", integer=True, positive=True)  # heads, model width


def _count_numeric(rng, sizes):
    counts = {(768, 12): 2_359_296, (512, 8): 1_048_576}
    for (width, heads), expected in counts.items():
        if multi_head_parameter_count(width, heads, bias=False) != expected:
            return Witness(False, f"d_model = {width}, h = {heads}: not {expected}")
    biased = multi_head_parameter_count(768, 12) - multi_head_parameter_count(768, 12, bias=False)
    return Witness(biased == 4 * 768, "BERT-base: 2,359,296 weights and 3,072 biases")


def _count_general(sizes):
    """The count at every h and d, then at BERT-base's h = 12, d = 64, by exact integer arithmetic."""
    weights = h * (h * d) * (2 * d + d) + h * d * (h * d)  # h d_model (2 d_k + d_v) + h d_v d_model
    bert = weights.subs({h: 12, d: 64})
    return all_hold(identity_for_all(weights, 4 * (h * d) ** 2, what="h d_model (2 d_k + d_v) + h d_v d_model = 4 d_model^2 "
                                                                     "for d_model = h d, d_k = d_v = d"),
                    Witness(bert == 2_359_296, f"at h = 12, d = 64: {bert} weights"))


def _count_exact(sizes):
    width, heads = sizes[d] * sizes[h], sizes[h]  # d_model a multiple of h
    weights = multi_head_parameter_count(width, heads, bias=False)
    return Witness(weights == 4 * width**2, f"d_model = {width}, h = {heads}: {weights} weights")


weight_count = Derivation(
    slug="multi-head-weight-count",
    title="Multi-head attention has $4 d_{\\text{model}}^2$ weights",
    topic=TOPIC,
    intro=("$h$ heads with $d_k = d_v = d_{\\text{model}} / h$: the projections hold $h\\, d_{\\text{model}} (2 d_k + d_v)$ "
           "weights and $W^O$ holds $h\\, d_v\\, d_{\\text{model}}$; the biases add $h (2 d_k + d_v) + d_{\\text{model}}$."),
    lhs=h * (h * d) * (2 * d + d) + h * d * (h * d),
    lhs_latex="h\\, d_{\\text{model}} (2 d_k + d_v) + h\\, d_v\\, d_{\\text{model}}",
    notation={"d_{\\text{model}}": h * d, "d_k": d, "d_v": d},
    sizes={h: Size(prove=range(1, 5), numeric=12), d: Size(prove=range(1, 5), numeric=64)},
    steps=[Step(4 * (h * d) ** 2, "with $d_{\\text{model}} = h d$ and $d_k = d_v = d$: $3 h^2 d^2 + h^2 d^2 = 4 d_{\\text{model}}^2$",
                latex="4\\, d_{\\text{model}}^2", cite=VASWANI)],
    claims=[
        Claim(r"the biases number $4\, d_{\text{model}}$", h * (2 * d + d) + h * d, 4 * (h * d), why="$3 h d + h d = 4 d_{\\text{model}}$"),
        Property(r"BERT-base ($d_{\text{model}} = 768$, $h = 12$) has 2,359,296 attention weights", exact=_count_exact,
                 numeric=_count_numeric, general=_count_general, why="$4 \\cdot 768^2$"),
    ],
)


def _one_head_exact(sizes):
    """With one head, multi-head attention is attention of the projections, followed by W^O (exactly)."""
    n, width = sizes[N], sizes[d_model]
    X = sp.ImmutableMatrix(n, width, lambda r, c: sp.Symbol(f"x_{r}{c}", real=True))
    Wq, Wk, Wv = (sp.ImmutableMatrix(width, 2, lambda r, c, p=p: sp.Symbol(f"{p}_{r}{c}", real=True)) for p in "qkv")
    Wo = sp.ImmutableMatrix(2, width, lambda r, c: sp.Symbol(f"o_{r}{c}", real=True))
    single = RowSoftmax((X * Wq) * (X * Wk).T / sp.sqrt(2)).as_explicit() * (X * Wv) * Wo
    # the heads' code path: split the projections into h = 1 column blocks, attend, concatenate
    blocks = [(X * Wq)[:, 0:2], (X * Wk)[:, 0:2], (X * Wv)[:, 0:2]]
    head = RowSoftmax(blocks[0] * blocks[1].T / sp.sqrt(2)).as_explicit() * blocks[2]
    multi = sp.Matrix.hstack(head) * Wo
    holds = (single - multi).is_zero_matrix
    return Witness(bool(holds), "h = 1: Concat(head_1) W^O = Attention(X W^Q, X W^K, X W^V) W^O")


def _one_head_general(sizes):
    """For every N and d_model: with h = 1 the concatenation is the one head, d_k = d_model, so
    Concat(head_1) W^O = softmax(X W^Q (X W^K)^T / sqrt(d_model)) X W^V W^O."""
    X = MatrixSymbol("X", N, d_model)
    Wq, Wk, Wv, Wo = (MatrixSymbol(name, d_model, d_model) for name in ("W^Q", "W^K", "W^V", "W^O"))
    head = RowSoftmax((X * Wq) * (X * Wk).T / sp.sqrt(d_model)) * (X * Wv)
    return matrix_identity_for_all(BlockMatrix([[head]]) * Wo, RowSoftmax(X * Wq * Wk.T * X.T / sp.sqrt(d_model)) * X * Wv * Wo,
                                   what="Concat(head_1) W^O = Attention(X W^Q, X W^K, X W^V) W^O with h = 1")


def _one_head_numeric(rng, sizes):
    n, width = sizes[N], sizes[d_model]
    X = rng.standard_normal((n, width))
    Wq, Wk, Wv, Wo = (rng.standard_normal((width, width)) for _ in range(4))
    multi = multi_head_attention(X, X, Wq, Wk, Wv, Wo, n_heads=1)
    single = attention(X @ Wq, X @ Wk, X @ Wv) @ Wo
    error = float(np.abs(multi - single).max())
    grads = multi_head_attention_backward(X, X, Wq, Wk, Wv, Wo, 1, np.ones((n, width)))
    return Witness(error < 1e-12 and np.isfinite(grads.dW_o).all(), f"largest difference {error:.2g}", error)


EXAMPLE = WorkedExample(
    weight_count,
    inputs={},
    sizes={"h": 12, "d": 64},
    shows=[(r"4 d_{\text{model}}^2", None, lambda h, d: multi_head_parameter_count(h * d, h, bias=False))],
    title=r"BERT-base, $d_{\text{model}} = 768$ in $h = 12$ heads",
    text=r"With $d = d_k = d_v = 64$; the NumPy reference counts the entries of $W^Q_i$, $W^K_i$, $W^V_i$ and $W^O$.",
)
