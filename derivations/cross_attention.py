"""Cross-attention: the queries come from one sequence, the keys and values from another.

In an encoder-decoder (Vaswani et al. 2017, section 3.2.3) the decoder's N positions ask, and the
encoder's M positions answer: Q = X W_q from the decoder states X (N x d), K = Z W_k and V = Z W_v
from the encoder output Z (M x d). Nothing forces N = M, and no causal mask applies: every query may
see the whole memory. The memory Z is used twice, as keys and as values, so its gradient has two
terms; the stage-by-stage gradients of attention (derivations attention-backward-*) do the rest.
"""

import numpy as np
import sympy as sp
from sympy import Derivative, IndexedBase, Lambda, MatrixSymbol, OneMatrix, Sum, Trace
from sympy.matrices.expressions.hadamard import HadamardProduct

from symformer import Claim, Derivation, Gradient, Property, Size, Step, Witness
from symformer.export import WorkedExample
from symformer.blocks import RowSoftmax
from symformer.reference.attention import attention, attention_backward, multi_head_attention_backward

ORDER = 88
TOPIC = "Cross-attention"
VASWANI = "vaswani2017attention, section 3.2.3"

# Index notation, for every size: the memory's gradient from the keys' and the values' gradients.
M, d, d_k, d_v, N = sp.symbols("M d d_k d_v N", integer=True, positive=True)
a, b, c, e, r, t, f = sp.symbols("a b c e r t f", integer=True)  # f: the dummy of the projections
Z = IndexedBase("Z", shape=(M, d), real=True)
X = IndexedBase("X", shape=(N, d), real=True)
# indexed, a subscripted name would print W_{q}_{bc}: the projections' names carry their letter up
W_q, W_k = IndexedBase("W^q", shape=(d, d_k), real=True), IndexedBase("W^k", shape=(d, d_k), real=True)
W_v = IndexedBase("W^v", shape=(d, d_v), real=True)
dQ, dK = IndexedBase("dQ", shape=(N, d_k), real=True), IndexedBase("dK", shape=(M, d_k), real=True)
dV = IndexedBase("dV", shape=(M, d_v), real=True)
K, V, Q = IndexedBase("K", shape=(M, d_k)), IndexedBase("V", shape=(M, d_v)), IndexedBase("Q", shape=(N, d_k))
PROJECTIONS = {
    K: Lambda((r, t), Sum(Z[r, f] * W_k[f, t], (f, 1, d))),
    V: Lambda((r, t), Sum(Z[r, f] * W_v[f, t], (f, 1, d))),
    Q: Lambda((r, t), Sum(X[r, f] * W_q[f, t], (f, 1, d))),
}
MEMORY_LOSS = Sum(Sum(dK[r, c] * K[r, c], (c, 1, d_k)), (r, 1, M)) + Sum(Sum(dV[r, e] * V[r, e], (e, 1, d_v)), (r, 1, M))

cross_attention_memory_gradient = Derivation(
    slug="cross-attention-memory-gradient",
    title=r"The memory's gradient in cross-attention: $dZ = dK\, W_k^{\top} + dV\, W_v^{\top}$",
    topic=TOPIC,
    intro=(r"The keys $K = Z W_k$ and values $V = Z W_v$ are both projections of the memory $Z$ ($M \times d$). "
           r"The attention backward pass delivers $dK$ and $dV$ (derivation attention-backward-kv-general); "
           r"$L = \sum dK \odot K + \sum dV \odot V$ has exactly those gradients, differentiated by one entry $Z_{ab}$:"),
    lhs=Derivative(MEMORY_LOSS, Z[a, b]),
    definitions=PROJECTIONS,
    sizes={M: Size(prove=(1, 3), numeric=12), d: Size(prove=(1, 2), numeric=8), d_k: Size(prove=(1, 2), numeric=4),
           d_v: Size(prove=(1, 3), numeric=6), N: Size(prove=(2,), numeric=5)},
    indices={a: M, b: d},
    steps=[
        Step(Sum(dK[a, c] * W_k[b, c], (c, 1, d_k)) + Sum(dV[a, e] * W_v[b, e], (e, 1, d_v)),
             r"memory row $a$ is key $a$ and value $a$: $\partial K_{rc} / \partial Z_{ab} = \delta_{ra} W^k_{bc}$, likewise for $V$, "
             r"and the two paths add", cite=VASWANI),
    ],
    claims=[
        Claim("the decoder states get gradient only through the queries",
              Derivative(Sum(Sum(dQ[r, c] * Q[r, c], (c, 1, d_k)), (r, 1, N)), X[a, b]), Sum(dQ[a, c] * W_q[b, c], (c, 1, d_k)),
              indices={a: N, b: d}, why=r"$X$ enters only $Q = X W_q$"),
    ],
    cite=(VASWANI,),
)


# Matrix form, end to end, with N != M among the proof sizes.
Nm, Mm, dm, dkm, dvm = sp.symbols("N M d d_k d_v", integer=True, positive=True)
tau = sp.Symbol("tau", positive=True)
Xm, Zm = MatrixSymbol("X", Nm, dm), MatrixSymbol("Z", Mm, dm)
Wq, Wk, Wv = MatrixSymbol("W_q", dm, dkm), MatrixSymbol("W_k", dm, dkm), MatrixSymbol("W_v", dm, dvm)
Qm, Km, Vm = MatrixSymbol("Q", Nm, dkm), MatrixSymbol("K", Mm, dkm), MatrixSymbol("V", Mm, dvm)
S, P, O = MatrixSymbol("S", Nm, Mm), MatrixSymbol("P", Nm, Mm), MatrixSymbol("O", Nm, dvm)
dO = MatrixSymbol("dO", Nm, dvm)
dP, dS, D = MatrixSymbol("dP", Nm, Mm), MatrixSymbol("dS", Nm, Mm), MatrixSymbol("D", Nm, 1)
dKm, dVm = MatrixSymbol("dK", Mm, dkm), MatrixSymbol("dV", Mm, dvm)
FORWARD = {Qm: Xm * Wq, Km: Zm * Wk, Vm: Zm * Wv, S: tau * Qm * Km.T, P: RowSoftmax(S), O: P * Vm}
BACKWARD = {dVm: P.T * dO, dP: dO * Vm.T, D: HadamardProduct(dO, O) * OneMatrix(dvm, 1),
            dS: HadamardProduct(P, dP - D * OneMatrix(1, Mm)), dKm: tau * dS.T * Qm}
SMALL = {Nm: Size(prove=(1, 2), numeric=12), Mm: Size(prove=(1, 2), numeric=20), dm: Size(prove=(1,), numeric=8),
         dkm: Size(prove=(1,), numeric=4), dvm: Size(prove=(1,), numeric=6)}


def _cross_loss(X, Z, W_q, W_k, W_v, dO, tau):
    return float(np.sum(dO * attention(X @ W_q, Z @ W_k, Z @ W_v, scale=tau)))


def _memory_gradient(X, Z, W_q, W_k, W_v, dO, tau):
    _, dK_, dV_ = attention_backward(X @ W_q, Z @ W_k, Z @ W_v, dO, scale=tau)
    return dK_ @ W_k.T + dV_ @ W_v.T


def _multi_head_numeric(rng, sizes):
    """One head of the multi-head reference with X_q != X_kv is cross-attention: its dX_kv is dK W_k^T + dV W_v^T."""
    n, m, width = 5, 9, 8
    X_, Z_ = rng.standard_normal((n, width)), rng.standard_normal((m, width))
    Wq_, Wk_, Wv_, Wo_ = (rng.standard_normal((width, width)) for _ in range(4))
    dY = rng.standard_normal((n, width))
    grads = multi_head_attention_backward(X_, Z_, Wq_, Wk_, Wv_, Wo_, 1, dY)
    ours = _memory_gradient(X_, Z_, Wq_, Wk_, Wv_, dY @ Wo_.T, 1 / np.sqrt(width))
    error = float(np.abs(grads.dX_kv - ours).max())
    return Witness(error < 1e-10 and grads.dX_kv.shape == (m, width), f"N = {n} queries, M = {m} memory rows: "
                                                                       f"largest difference {error:.2g}", error)


cross_attention_backward = Derivation(
    slug="cross-attention-backward",
    title=r"Cross-attention backward, end to end, with $N \ne M$",
    topic=TOPIC,
    intro=(r"$S = \tau (X W_q)(Z W_k)^{\top}$ is $N \times M$: a row per query, a column per memory position. "
           r"$P = \operatorname{softmax}(S)$ row by row and $O = P\, Z W_v$ is $N \times d_v$, whatever $M$ is. "
           r"Differentiated at once, and checked with $N \ne M$."),
    lhs=Derivative(Trace(dO.T * O), Zm),
    definitions={**FORWARD, **BACKWARD},
    sizes=SMALL,
    steps=[
        Step(dKm * Wk.T + dVm * Wv.T,
             r"the chain rule through the attention stages (derivations attention-backward-v, attention-backward-scores, "
             r"attention-backward-qk), then through both projections of $Z$ (derivation cross-attention-memory-gradient)"),
    ],
    claims=[
        Claim("each query's weights sum to one over the M memory positions", RowSoftmax(S) * OneMatrix(Mm, 1), OneMatrix(Nm, 1),
              why="each row of $P$ is a softmax over the $M$ columns"),
        Claim("the decoder states' gradient, end to end from the output", Derivative(Trace(dO.T * O), Xm), tau * dS * Km * Wq.T,
              why=r"$X$ enters only the queries: $dQ = \tau\, dS\, K$ (derivation attention-backward-qk), then $dX = dQ\, W_q^{\top}$"),
        Property("the multi-head reference with one head and different query and memory sequences gives the same memory gradient",
                 exact=lambda sizes: None, numeric=_multi_head_numeric,
                 why=r"with $h = 1$, $dX_{kv} = dK\, W_k^{\top} + dV\, W_v^{\top}$ is this derivation's result"),
    ],
    result=Gradient(forward=_cross_loss, reference=_memory_gradient, wrt="Z"),
    cite=(VASWANI,),
)


EXAMPLE = WorkedExample(
    cross_attention_backward,
    inputs={"X": [[1, 0], [0, 2]], "Z": [[1, 1], [0, 1], [2, 0]], "W_q": [[1, 0], [0, 1]], "W_k": [[1, 0], [0, 1]],
            "W_v": [[1, 1], [0, 1]], "dO": [[1, 0], [0, 1]], "tau": "1/2"},
    shows=[(r"P = \operatorname{softmax}(\tau X W_q (Z W_k)^{\top})", P,
            lambda X, Z, W_q, W_k, W_v, tau: attention(X @ W_q, Z @ W_k, Z @ W_v, scale=tau, return_weights=True)[1]),
           (r"O = P\, Z W_v", O, lambda X, Z, W_q, W_k, W_v, tau: attention(X @ W_q, Z @ W_k, Z @ W_v, scale=tau)),
           (r"dZ = dK\, W_k^{\top} + dV\, W_v^{\top}", None, _memory_gradient)],
    title="two queries attend to three memory rows",
    text=r"$N = 2$ decoder states, $M = 3$ encoder states, $d = d_k = d_v = 2$, $W_q = W_k = I$ and $\tau = 1/2$: "
         r"$P$ is $2 \times 3$, $O$ is $2 \times 2$ and $dZ$ has the shape of $Z$.",
)
