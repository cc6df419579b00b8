"""The backward pass of scaled dot-product attention, stage by stage: dV, dP, dS, then dQ and dK.

Forward: S = tau Q K^T, P = softmax(S) row by row, O = P V. Backpropagation is the chain rule
taken one stage at a time, each stage receiving the gradient of the next: O = P V gives dV and
dP; the row-softmax turns dP into dS (the softmax Jacobian, derivation softmax-jacobian); the
scores turn dS into dQ and dK. Each stage is a matrix identity, proved through its general entry
and checked in float64 with N != M and d_k != d_v; tau is a free positive symbol, so a forgotten or
doubled tau shows.

The loss is L = tr(G^T Y) for a stage output Y and its incoming gradient G: its gradient with
respect to Y is G, so dL/dX is exactly what a framework computes for the stage input X.

At the end of the file the same gradients are written in index notation, as they are derived by
hand, entry by entry. (FlashAttention's D is, in index notation, an exchange of two finite sums.)
"""

import numpy as np
import sympy as sp
from sympy import Derivative, IndexedBase, Lambda, MatrixSymbol, OneMatrix, Sum, Trace, ZeroMatrix, exp
from sympy.matrices.expressions.hadamard import HadamardProduct

from symformer import Claim, Derivation, Gradient, Size, Step
from symformer.blocks import RowSoftmax
from symformer.reference import attention_backward, safe_row_softmax, softmax_jacobian
from symformer.export import ShapesTable, WorkedExample
from symformer.reference import attention as attention_forward_reference

ORDER = 44
TOPIC = "Queries, keys, values and attention"
FLASH = "dao2022flashattention, appendix B.2, eq. 4 and algorithm 4 line 19"
SOFTMAX = "derivation softmax-jacobian"

N, M, d_k, d_v = sp.symbols("N M d_k d_v", integer=True, positive=True)
tau = sp.Symbol("tau", positive=True)
Q, K, V = MatrixSymbol("Q", N, d_k), MatrixSymbol("K", M, d_k), MatrixSymbol("V", M, d_v)
S, P, O = MatrixSymbol("S", N, M), MatrixSymbol("P", N, M), MatrixSymbol("O", N, d_v)
dO, dP, dS, D = MatrixSymbol("dO", N, d_v), MatrixSymbol("dP", N, M), MatrixSymbol("dS", N, M), MatrixSymbol("D", N, 1)

SIZE_NM = {N: Size(prove=range(1, 4), numeric=128), M: Size(prove=range(1, 4), numeric=128)}
SIZE_D = Size(prove=range(1, 3), numeric=64)
FORWARD = {P: RowSoftmax(S), O: P * V}
BACKWARD = {dP: dO * V.T, D: HadamardProduct(dO, O) * OneMatrix(d_v, 1), dS: HadamardProduct(P, dP - D * OneMatrix(1, M))}
ROW_DOT = HadamardProduct(P, dP) * OneMatrix(M, 1)  # D_i = sum_j P_ij dP_ij, before FlashAttention's rewrite


def _value_loss(S, V, dO):
    return float((dO * (safe_row_softmax(S) @ V)).sum())


attention_grad_v = Derivation(
    slug="attention-backward-v",
    notation={"dP": Derivative(Trace(dO.T * MatrixSymbol("W", N, M) * V), MatrixSymbol("W", N, M))},
    title="Attention backward: the gradients of the values and of the weights, and FlashAttention's D",
    topic=TOPIC,
    intro=("With $P = \\operatorname{softmax}(S)$ row by row and $O = P V$, a loss $L$ sends back "
           "$dO = \\partial L / \\partial O$. Writing $L = \\operatorname{tr}(dO^{\\top} O)$ gives exactly that gradient."),
    lhs=Derivative(Trace(dO.T * O), V),
    definitions=FORWARD,
    sizes={**SIZE_NM, d_v: SIZE_D},
    steps=[
        Step(Derivative(Trace((P.T * dO).T * V), V),
             "$O = P V$ and the trace is cyclic: $\\operatorname{tr}(dO^{\\top} P V) = \\operatorname{tr}((P^{\\top} dO)^{\\top} V)$"),
        Step(P.T * dO, "$\\partial \\operatorname{tr}(A^{\\top} V) / \\partial V = A$, and $P$ does not depend on $V$: $dV = P^{\\top} dO$"),
    ],
    claims=[
        Claim(r"$dP = dO\, V^{\top}$: the gradient reaching the attention weights", Derivative(Trace(dO.T * MatrixSymbol("W", N, M) * V),
                                                                            MatrixSymbol("W", N, M)), dO * V.T,
              why="$\\operatorname{tr}(dO^{\\top} W V) = \\operatorname{tr}((dO V^{\\top})^{\\top} W)$ for any weights $W$"),
        Claim(r"FlashAttention's $D$: $\left(W \odot dO\, V^{\top}\right) \mathbf{1} = \left(dO \odot W V\right) \mathbf{1}$ "
              r"for any weights $W$, so also for $W = P$",
              HadamardProduct(MatrixSymbol("W", N, M), dO * V.T) * OneMatrix(M, 1),
              HadamardProduct(dO, MatrixSymbol("W", N, M) * V) * OneMatrix(d_v, 1),
              why="$\\sum_j W_{ij} \\sum_c dO_{ic} V_{jc} = \\sum_c dO_{ic} \\sum_j W_{ij} V_{jc}$; it needs $O$ to be the output the loss saw",
              cite=FLASH),
    ],
    result=Gradient(forward=_value_loss, reference=lambda S, dO: safe_row_softmax(S).T @ dO, wrt="V"),
)


attention_grad_s = Derivation(
    slug="attention-backward-scores",
    title="Attention backward: through the row-softmax, $dS = P \\odot (dP - D \\mathbf{1}^{\\top})$",
    topic=TOPIC,
    intro=("The scores $S$ reach the loss only through $P = \\operatorname{softmax}(S)$, one row at a time, and the "
           "stage after sends back $dP$. Row $i$ of $P$ is the softmax of row $i$ of $S$, so the softmax Jacobian "
           "acts on each row of $dP$."),
    lhs=Derivative(Trace(dP.T * P), S),
    definitions={P: RowSoftmax(S), D: ROW_DOT},
    sizes=SIZE_NM,
    steps=[
        Step(HadamardProduct(P, dP - ROW_DOT * OneMatrix(1, M)),
             "each row: $J^{\\top} dp = (\\operatorname{diag}(p) - p p^{\\top})\\, dp = p \\odot (dp - (p \\cdot dp) \\mathbf{1})$, "
             "with $J$ the softmax Jacobian (symmetric)",
             cite=SOFTMAX, latex="P \\odot \\left(dP - ((P \\odot dP) \\mathbf{1}) \\mathbf{1}^{\\top}\\right)"),
        Step(HadamardProduct(P, dP - D * OneMatrix(1, M)),
             "name the row sums $D = (P \\odot dP) \\mathbf{1}$; FlashAttention computes them as $(dO \\odot O) \\mathbf{1}$ "
             "(claim of derivation attention-backward-v)", cite=FLASH),
    ],
    claims=[
        Claim(r"each row of $dS$ sums to zero", HadamardProduct(P, dP - D * OneMatrix(1, M)) * OneMatrix(M, 1), ZeroMatrix(N, 1),
              why="the softmax Jacobian annihilates $\\mathbf{1}$: adding a constant to a row of scores changes nothing"),
    ],
    result=Gradient(forward=lambda S, dP: float((dP * safe_row_softmax(S)).sum()),
                    reference=lambda S, dP: np.einsum("nij,ni->nj", softmax_jacobian(S), dP), wrt="S"),
)


def _score_loss(Q, K, dS, tau):
    return float((dS * (tau * Q @ K.T)).sum())


attention_grad_qk = Derivation(
    slug="attention-backward-qk",
    notation={"dK": Derivative(Trace(dS.T * S), K)},
    title="Attention backward: the gradients of the queries and keys",
    topic=TOPIC,
    intro=("The scores are $S = \\tau Q K^{\\top}$ with $\\tau = 1/\\sqrt{d_k}$; the stage before sends back $dS$. "
           "The scale appears once in each gradient, never twice."),
    lhs=Derivative(Trace(dS.T * S), Q),
    definitions={S: tau * Q * K.T},
    sizes={**SIZE_NM, d_k: SIZE_D},
    steps=[
        Step(Derivative(tau * Trace((dS * K).T * Q), Q),
             "$\\operatorname{tr}(dS^{\\top} \\tau Q K^{\\top}) = \\tau \\operatorname{tr}((dS K)^{\\top} Q)$ (the trace is cyclic)"),
        Step(tau * dS * K, "$\\partial \\operatorname{tr}(A^{\\top} Q) / \\partial Q = A$: $dQ = \\tau\\, dS\\, K$"),
    ],
    claims=[
        Claim(r"$dK = \tau\, dS^{\top} Q$", Derivative(Trace(dS.T * S), K), tau * dS.T * Q,
              why="$\\operatorname{tr}(dS^{\\top} \\tau Q K^{\\top}) = \\tau \\operatorname{tr}((dS^{\\top} Q)^{\\top} K)$"),
    ],
    result=Gradient(forward=_score_loss, reference=lambda Q, K, dS, tau: tau * dS @ K, wrt="Q"),
)


def _attention_loss(Q, K, V, dO, tau):
    from symformer.reference import attention

    return float((dO * attention(Q, K, V, scale=tau)).sum())


attention_grad = Derivation(
    slug="attention-backward",
    title="Attention backward, end to end: $dQ = \\tau\\, dS\\, K$",
    topic=TOPIC,
    intro=("The stages composed: $dV = P^{\\top} dO$, $dP = dO V^{\\top}$, $D = (dO \\odot O) \\mathbf{1}$, "
           "$dS = P \\odot (dP - D \\mathbf{1}^{\\top})$, $dQ = \\tau\\, dS\\, K$, $dK = \\tau\\, dS^{\\top} Q$. "
           "Each stage has its own derivation; here the whole chain is also differentiated at once."),
    lhs=Derivative(Trace(dO.T * O), Q),
    definitions={S: tau * Q * K.T, **FORWARD, **BACKWARD},
    sizes={N: Size(prove=(1, 2), numeric=128), M: Size(prove=(1, 2), numeric=128),
           d_k: Size(prove=(1,), numeric=64), d_v: Size(prove=(1,), numeric=64)},
    steps=[
        Step(tau * dS * K, "the chain rule through the stages: derivations attention-backward-v, "
                           "attention-backward-scores and attention-backward-qk", cite=SOFTMAX),
    ],
    result=Gradient(forward=_attention_loss, reference=lambda Q, K, V, dO, tau: attention_backward(Q, K, V, dO, scale=tau)[0],
                    wrt="Q"),
    cite=(FLASH,),
)


# The same gradients for general sizes, in index notation (1-based): proved for every N, M, d_k, d_v
# by the index-notation prover.
i, j, k, c, e, a, b, r, s = sp.symbols("i j k c e a b r s", integer=True)
Qi, Ki = IndexedBase("Q", shape=(N, d_k), real=True), IndexedBase("K", shape=(M, d_k), real=True)
Vi, dOi = IndexedBase("V", shape=(M, d_v), real=True), IndexedBase("dO", shape=(N, d_v), real=True)
dPi = IndexedBase("dP", shape=(N, M), real=True)
Pi, Oi, Di, dSi = (IndexedBase(name, shape=shape) for name, shape in
                   (("P", (N, M)), ("O", (N, d_v)), ("D", (N,)), ("dS", (N, M))))
SCORE = Lambda((r, s), tau * Sum(Qi[r, c] * Ki[s, c], (c, 1, d_k)))
INDEX_SOFTMAX = {Pi: Lambda((r, s), exp(SCORE(r, s)) / Sum(exp(SCORE(r, k)), (k, 1, M)))}
GENERAL_SIZES = {N: Size(prove=(1, 2), numeric=16), M: Size(prove=(1, 3), numeric=12),
                 d_k: Size(prove=(1, 2), numeric=8), d_v: Size(prove=(1, 3), numeric=4)}

attention_grad_q_general = Derivation(
    slug="attention-backward-q-general",
    title="$dQ = \\tau\\, dS\\, K$ for every $N$, $M$ and $d_k$ (index notation)",
    topic=TOPIC,
    intro=("$S_{ij} = \\tau \\sum_c Q_{ic} K_{jc}$, $P_{ij} = e^{S_{ij}} / \\sum_k e^{S_{ik}}$, and the stage after "
           "sends back $dP$. Differentiating $L = \\sum_{i,j} dP_{ij} P_{ij}$ by one entry $Q_{ab}$."),
    lhs=Derivative(Sum(Sum(dPi[i, j] * Pi[i, j], (j, 1, M)), (i, 1, N)), Qi[a, b]),
    definitions=INDEX_SOFTMAX,
    sizes={N: GENERAL_SIZES[N], M: GENERAL_SIZES[M], d_k: GENERAL_SIZES[d_k]},
    indices={a: N, b: d_k},
    steps=[
        Step(tau * Sum(Pi[a, j] * (dPi[a, j] - Sum(Pi[a, k] * dPi[a, k], (k, 1, M))) * Ki[j, b], (j, 1, M)),
             "only row $a$ of $S$ depends on $Q_{ab}$, with $\\partial S_{aj} / \\partial Q_{ab} = \\tau K_{jb}$; row $a$ of $P$ "
             "passes $dP$ through the softmax Jacobian $P_{aj} (\\delta_{jk} - P_{ak})$",
             cite=SOFTMAX),
    ],
)

attention_grad_kv_general = Derivation(
    slug="attention-backward-kv-general",
    notation={"dV": Lambda((a, b), Derivative(Sum(Sum(dOi[i, e] * Oi[i, e], (e, 1, d_v)), (i, 1, N)), Vi[a, b]))},
    title="$dK = \\tau\\, dS^{\\top} Q$ and $dV = P^{\\top} dO$ for every $N$, $M$, $d_k$, $d_v$ (index notation)",
    topic=TOPIC,
    intro=("The loss $L = \\sum_{i,e} dO_{ie} O_{ie}$ with $O_{ie} = \\sum_j P_{ij} V_{je}$, differentiated end to end; "
           "$dS_{ij} = P_{ij} (dP_{ij} - D_i)$ with $dP_{ij} = \\sum_e dO_{ie} V_{je}$ and FlashAttention's "
           "$D_i = \\sum_e dO_{ie} O_{ie}$."),
    lhs=Derivative(Sum(Sum(dOi[i, e] * Oi[i, e], (e, 1, d_v)), (i, 1, N)), Ki[a, b]),
    definitions={
        **INDEX_SOFTMAX,
        Oi: Lambda((r, s), Sum(Pi[r, k] * Vi[k, s], (k, 1, M))),
        Di: Lambda(r, Sum(dOi[r, e] * Oi[r, e], (e, 1, d_v))),
        dSi: Lambda((r, s), Pi[r, s] * (Sum(dOi[r, e] * Vi[s, e], (e, 1, d_v)) - Di[r])),
    },
    sizes=GENERAL_SIZES,
    indices={a: M, b: d_k},
    steps=[Step(tau * Sum(dSi[i, a] * Qi[i, b], (i, 1, N)),
                "key $a$ enters every row $i$ through $S_{ia} = \\tau \\sum_c Q_{ic} K_{ac}$; the softmax Jacobian of each row, "
                "then FlashAttention's $D$", cite=FLASH)],
    claims=[
        Claim(r"the values' gradient, $P$ transposed times $dO$: $dV_{ab} = \sum_i P_{ia} dO_{ib}$", Derivative(Sum(Sum(dOi[i, e] * Oi[i, e], (e, 1, d_v)), (i, 1, N)), Vi[a, b]),
              Sum(Pi[i, a] * dOi[i, b], (i, 1, N)), indices={a: M, b: d_v}, why="$O$ is linear in $V$"),
    ],
    cite=(FLASH,),
)


def _scores_gradient(Q, K, V, dO, tau):
    """dS from the NumPy forward pass: P (dO V^T - rowsum(dO o O))."""
    out, weights = attention_forward_reference(Q, K, V, scale=tau, return_weights=True)
    return weights * (dO @ V.T - np.sum(dO * out, axis=1, keepdims=True))


SHAPES = ShapesTable([attention_grad_v, attention_grad_s, attention_grad_qk, attention_grad],
                     title="The shapes of attention and of its gradients")

EXAMPLE = WorkedExample(
    attention_grad,
    inputs={"Q": [[1, 0], [0, 1]], "K": [[1, 1], [0, 1], [1, 0]], "V": [[1, 2], [0, 1], [2, 0]],
            "dO": [[1, 0], [0, 1]], "tau": "1/2"},
    sizes={"d_k": 2, "d_v": 2},
    shows=[(r"P = \operatorname{softmax}(\tau Q K^{\top})", P,
            lambda Q, K, V, tau: attention_forward_reference(Q, K, V, scale=tau, return_weights=True)[1]),
           (r"dV = P^{\top} dO", P.T * dO, lambda Q, K, V, dO, tau: attention_backward(Q, K, V, dO, scale=tau)[2]),
           (r"dS = P \odot (dP - D \mathbf{1}^{\top})", dS, _scores_gradient),
           (r"dQ = \tau\, dS\, K", None, lambda Q, K, V, dO, tau: attention_backward(Q, K, V, dO, scale=tau)[0]),
           (r"dK = \tau\, dS^{\top} Q", tau * dS.T * Q, lambda Q, K, V, dO, tau: attention_backward(Q, K, V, dO, scale=tau)[1])],
    title="two queries, three keys",
    text=r"$N = 2$ queries, $M = 3$ keys and values, $d_k = d_v = 2$, $\tau = 1/2$.",
)
