"""The backward pass of attention: dV, dP, dS, dQ, dK, FlashAttention's D; index notation and matrices."""

import sympy as sp
from sympy import Derivative, IndexedBase, Lambda, MatrixSymbol, Sum, Trace, exp

from symformer import Size

from adversarial._common import a, b, c, chain, correct, e, i, j, k, r, s, wrong

N, M, d_k, d_v = sp.symbols("N M d_k d_v", integer=True, positive=True)
tau = sp.Symbol("tau", positive=True)
Q, K = IndexedBase("Q", shape=(N, d_k), real=True), IndexedBase("K", shape=(M, d_k), real=True)
V, dO = IndexedBase("V", shape=(M, d_v), real=True), IndexedBase("dO", shape=(N, d_v), real=True)
dP = IndexedBase("dP", shape=(N, M), real=True)
S = IndexedBase("S", shape=(N, M), real=True)
P, O = IndexedBase("P", shape=(N, M)), IndexedBase("O", shape=(N, d_v))
Pn, Vn = IndexedBase("P", shape=(N, N), real=True), IndexedBase("V", shape=(N, d_v), real=True)  # self-attention
SCORE = Lambda((r, s), tau * Sum(Q[r, c] * K[s, c], (c, 1, d_k)))
FROM_SCORES = {P: Lambda((r, s), exp(S[r, s]) / Sum(exp(S[r, k]), (k, 1, M)))}
FROM_QK = {P: Lambda((r, s), exp(SCORE(r, s)) / Sum(exp(SCORE(r, k)), (k, 1, M)))}
SIZES = {N: Size(prove=(1, 2), numeric=6), M: Size(prove=(1, 3), numeric=5), d_k: Size(prove=(1, 2), numeric=4),
         d_v: Size(prove=(1, 2), numeric=3)}
NM = {N: SIZES[N], M: SIZES[M]}
LOSS_P = Sum(Sum(dP[i, j] * P[i, j], (j, 1, M)), (i, 1, N))
D_ROW = Sum(P[a, k] * dP[a, k], (k, 1, M))

# dS_ab = d/dS_ab sum_ij dP_ij P_ij = P_ab (dP_ab - sum_k P_ak dP_ak)
DS = P[a, b] * (dP[a, b] - D_ROW)

Mq, Mk, Mv = MatrixSymbol("Q", N, d_k), MatrixSymbol("K", M, d_k), MatrixSymbol("V", M, d_v)
Mp, MdO, MdS = MatrixSymbol("P", N, M), MatrixSymbol("dO", N, d_v), MatrixSymbol("dS", N, M)
Mps, MdPs = MatrixSymbol("P", N, N), MatrixSymbol("dP", N, N)
MSIZES = {N: Size(prove=range(1, 4), numeric=8), M: Size(prove=range(1, 4), numeric=6),
          d_k: Size(prove=range(1, 3), numeric=4), d_v: Size(prove=range(1, 3), numeric=3)}


def scores_gradient(slug, last, **extra):
    return chain(slug, Derivative(LOSS_P, S[a, b]), (last, "the softmax Jacobian of row a"),
                 definitions=FROM_SCORES, sizes=NM, indices={a: N, b: M}, **extra)


WRONG = [
    wrong(scores_gradient("ds-column-sum", P[a, b] * (dP[a, b] - Sum(P[k, b] * dP[k, b], (k, 1, N)))),
          mistake="D summed over the column instead of the row (index swap)"),
    wrong(scores_gradient("ds-p-dropped-on-d", P[a, b] * dP[a, b] - D_ROW), mistake="P_ab dropped from the D term"),
    wrong(scores_gradient("ds-sign", P[a, b] * (D_ROW - dP[a, b])), mistake="sign"),
    wrong(chain("dq-missing-scale", Derivative(LOSS_P, Q[a, b]),
                (Sum(P[a, j] * (dP[a, j] - Sum(P[a, k] * dP[a, k], (k, 1, M))) * K[j, b], (j, 1, M)), "chain rule"),
                definitions=FROM_QK, sizes={N: SIZES[N], M: SIZES[M], d_k: SIZES[d_k]}, indices={a: N, b: d_k}),
          mistake="the scale tau forgotten in dQ"),
    wrong(chain("dv-index-swap", Derivative(Sum(Sum(dO[i, e] * Sum(Pn[i, k] * Vn[k, e], (k, 1, N)), (e, 1, d_v)), (i, 1, N)),
                                            Vn[a, b]),
                (Sum(Pn[a, i] * dO[i, b], (i, 1, N)), "O = P V is linear in V"),
                sizes={N: Size(prove=(1, 2, 3), numeric=5), d_v: SIZES[d_v]}, indices={a: N, b: d_v}),
          mistake="self-attention's P_ai instead of P_ia: the entries of P^T where P's are meant"),
    wrong(chain("dv-matrix-no-transpose", Derivative(Trace(MdO.T * Mps * MatrixSymbol("V", N, d_v)), MatrixSymbol("V", N, d_v)),
                (Mps * MdO, "d tr(dO^T P V) / dV = P dO"),
                sizes={N: MSIZES[N], d_v: MSIZES[d_v]}),
          mistake="dV = P dO instead of P^T dO"),
    wrong(chain("dk-matrix-untransposed", Derivative(Trace(MatrixSymbol("dS", N, N).T * (tau * Mq * MatrixSymbol("K", N, d_k).T)),
                                                     MatrixSymbol("K", N, d_k)),
                (tau * MatrixSymbol("dS", N, N) * Mq, "d tr(dS^T tau Q K^T) / dK = tau dS Q"),
                sizes={N: MSIZES[N], d_k: MSIZES[d_k]}),
          mistake="dK = tau dS Q instead of tau dS^T Q"),
    wrong(chain("flash-d-from-values", Sum(P[a, k] * Sum(dO[a, e] * V[k, e], (e, 1, d_v)), (k, 1, M)),
                (Sum(dO[a, e] * Sum(V[k, e], (k, 1, M)), (e, 1, d_v)), "D_i = rowsum(dO o V)"),
                definitions=FROM_SCORES, sizes={N: SIZES[N], M: SIZES[M], d_v: SIZES[d_v]}, indices={a: N}),
          mistake="D = rowsum(dO o V) instead of rowsum(dO o O)"),
]

CORRECT = [
    correct(scores_gradient("ds-expanded", P[a, b] * dP[a, b] - P[a, b] * D_ROW)),
    correct(chain("flash-d-is-rowsum-do-o", Sum(P[a, k] * Sum(dO[a, e] * V[k, e], (e, 1, d_v)), (k, 1, M)),
                  (Sum(dO[a, e] * O[a, e], (e, 1, d_v)), "exchange the sums: D_i = rowsum(dO o O)"),
                  definitions={**FROM_SCORES, O: Lambda((r, s), Sum(P[r, k] * V[k, s], (k, 1, M)))},
                  sizes={N: SIZES[N], M: SIZES[M], d_v: SIZES[d_v]}, indices={a: N})),
    correct(chain("dv-matrix", Derivative(Trace(MdO.T * Mp * Mv), Mv), (Mp.T * MdO, "d tr(A^T V) / dV = A with A = P^T dO"),
                  sizes={N: MSIZES[N], M: MSIZES[M], d_v: MSIZES[d_v]})),
]
