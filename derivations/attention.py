"""Scaled dot-product attention, forward: S = tau Q K^T, P = softmax(S) row by row, O = P V.

Q is N x d_k, K is M x d_k, V is M x d_v (N may differ from M, d_k from d_v); tau = 1/sqrt(d_k)
in the paper, a free positive symbol here so that every identity holds for any scale.
"""

import numpy as np
import sympy as sp
from sympy import MatrixSymbol, OneMatrix

from symformer import Claim, Derivation, Property, Size, Step, Witness, all_hold, identity_for_all, positive_terms
from symformer.blocks import PermutationMatrix, RowSoftmax
from symformer.reference import attention

ORDER = 42
TOPIC = "Queries, keys, values and attention"
VASWANI = "vaswani2017attention, eq. 1"

N, M, d_k, d_v = sp.symbols("N M d_k d_v", integer=True, positive=True)
tau = sp.Symbol("tau", positive=True)
Q, K, V = MatrixSymbol("Q", N, d_k), MatrixSymbol("K", M, d_k), MatrixSymbol("V", M, d_v)
S, P, O = MatrixSymbol("S", N, M), MatrixSymbol("P", N, M), MatrixSymbol("O", N, d_v)
SIZES = {N: Size(prove=range(1, 4), numeric=128), M: Size(prove=range(1, 4), numeric=128),
         d_k: Size(prove=range(1, 3), numeric=64), d_v: Size(prove=range(1, 3), numeric=64)}


def _explicit_weights(sizes):
    """P at concrete sizes with symbolic scores: every entry is exp(...) / sum exp(...)."""
    n, m = sizes[N], sizes[M]
    scores = sp.Matrix(n, m, lambda r, c: sp.Symbol(f"s_{r}{c}", real=True))
    return RowSoftmax(sp.ImmutableMatrix(scores)).as_explicit()


def _positive_exact(sizes):
    weights = _explicit_weights(sizes)
    bad = [(r, c) for r in range(weights.rows) for c in range(weights.cols) if weights[r, c].is_positive is not True]
    return Witness(not bad, "every P_ij = exp(s_ij) / sum_k exp(s_ik) is positive" if not bad else f"not provably positive at {bad[:3]}")


def _convex_numeric(rng, sizes):
    n, m, dk, dv = (sizes[s] for s in (N, M, d_k, d_v))
    Qv, Kv, Vv = rng.standard_normal((n, dk)) * 3, rng.standard_normal((m, dk)) * 3, rng.standard_normal((m, dv))
    out, weights = attention(Qv, Kv, Vv, return_weights=True)
    inside = (out >= Vv.min(axis=0) - 1e-12).all() and (out <= Vv.max(axis=0) + 1e-12).all()
    stochastic = float(np.abs(weights.sum(axis=-1) - 1).max())
    holds = bool(inside and (weights >= 0).all() and stochastic < 1e-12 and np.allclose(out, weights @ Vv, rtol=1e-12, atol=1e-12))
    return Witness(holds, f"rows of P are probability vectors (|P 1 - 1| <= {stochastic:.1e}) and O lies in the box of V's rows",
                   stochastic)


def _positive_numeric(rng, sizes):
    n, m, dk = sizes[N], sizes[M], sizes[d_k]
    _, weights = attention(rng.standard_normal((n, dk)), rng.standard_normal((m, dk)), rng.standard_normal((m, 1)),
                           return_weights=True)
    return Witness(bool((weights > 0).all()), f"smallest weight {weights.min():.3g}")


# The weights in index notation, for the general arguments: P_ij = e^{S_ij} / sum_k e^{S_ik}, S_ij = tau q_i . k_j.
_i, _j, _k, _l = sp.symbols("i j k l", integer=True)
_Q, _K = sp.IndexedBase("Q", shape=(N, d_k), real=True), sp.IndexedBase("K", shape=(M, d_k), real=True)


def _score(row, column):
    return tau * sp.Sum(_Q[row, _l] * _K[column, _l], (_l, 1, d_k))


WEIGHT = sp.exp(_score(_i, _j)) / sp.Sum(sp.exp(_score(_i, _k)), (_k, 1, M))
RANGES = {_i: N, _j: M}


def _positive_general(sizes):
    # e^{S_ij} > 0 for a real score, and the denominator is a sum of such terms over k = 1..M, never empty
    return positive_terms(WEIGHT, RANGES, what="P_ij = exp(S_ij) / sum_k exp(S_ik) > 0, a sum over M >= 1 keys")


def _convex_general(sizes):
    return all_hold(
        _positive_general(sizes),
        identity_for_all(sp.Sum(WEIGHT, (_j, 1, M)), 1, {_i: N}, what="sum_j P_ij = 1"),
        summary="P_ij > 0 (term by term) and sum_j P_ij = 1 (index prover), so o_i = sum_j P_ij v_j "
                "is a convex combination",
    )


def _permuted(kind):
    Pi = PermutationMatrix(M, kind)
    return RowSoftmax(tau * Q * (Pi * K).T) * (Pi * V)


attention_forward = Derivation(
    slug="scaled-dot-product-attention",
    title="Scaled dot-product attention: $O = \\operatorname{softmax}(\\tau Q K^{\\top})\\, V$",
    topic=TOPIC,
    intro=("Each query row $q_i$ scores every key, $S_{ij} = \\tau\\, q_i \\cdot k_j$; the softmax of row $i$ turns "
           "the scores into weights $P_{ij}$; the output row $o_i = \\sum_j P_{ij} v_j$ averages the value rows."),
    lhs=O,
    definitions={S: tau * Q * K.T, P: RowSoftmax(S), O: P * V},
    sizes=SIZES,
    steps=[
        Step(P * V, "the output averages the values with the attention weights"),
        Step(RowSoftmax(tau * Q * K.T) * V, "$P = \\operatorname{softmax}(S)$ row by row, $S = \\tau Q K^{\\top}$",
             cite=VASWANI),
    ],
    claims=[
        Claim(r"$P$ is row-stochastic: $P \mathbf{1} = \mathbf{1}$", P * OneMatrix(M, 1), OneMatrix(N, 1),
              why="each row is a softmax: $\\sum_j e^{S_{ij}} / \\sum_k e^{S_{ik}} = 1$"),
        Property("every weight is positive", exact=_positive_exact, numeric=_positive_numeric, general=_positive_general,
                 why="$e^{x} > 0$ for every finite score (a -inf mask gives exact zeros, see the masks)"),
        Property("each output row is a convex combination of the value rows", exact=_positive_exact, numeric=_convex_numeric,
                 general=_convex_general,
                 why="$o_i = \\sum_j P_{ij} v_j$ with $P_{ij} > 0$ and $\\sum_j P_{ij} = 1$: the weights are positive "
                     "(the exact witness) and sum to one (the claim above)"),
        Claim(r"permuting the rows of $K$ and $V$ together leaves $O$ unchanged (a cycle)", _permuted("cycle"), O,
              why="$\\Pi$ permutes the columns of $S$ and of $P$ the same way, and $P \\Pi^{\\top} \\Pi V = P V$"),
        Claim(r"permuting the rows of $K$ and $V$ together leaves $O$ unchanged (a swap)", _permuted("swap"), O,
              why="a cycle and a transposition generate every permutation, so O is invariant under all of them"),
    ],
    cite=(VASWANI,),
)
