"""Query, key and value projections: Q = X W_Q, K = X W_K, V = X W_V, and their gradients.

X is N x d_model (one token per row); W_Q and W_K are d_model x d_k, W_V is d_model x d_v. In
self-attention the same X feeds all three projections, so its gradient is the sum of three.
"""

import sympy as sp
from sympy import Derivative, MatrixSymbol, Trace

from symformer import Claim, Derivation, Gradient, Size, Step

ORDER = 40
TOPIC = "Queries, keys, values and attention"
VASWANI = "vaswani2017attention, section 3.2.2"

N, d_model, d_k, d_v = sp.symbols("N d_model d_k d_v", integer=True, positive=True)
X = MatrixSymbol("X", N, d_model)
W_Q, W_K, W_V = MatrixSymbol("W_Q", d_model, d_k), MatrixSymbol("W_K", d_model, d_k), MatrixSymbol("W_V", d_model, d_v)
dQ, dK, dV = MatrixSymbol("dQ", N, d_k), MatrixSymbol("dK", N, d_k), MatrixSymbol("dV", N, d_v)
SIZES = {N: Size(prove=range(1, 4), numeric=128), d_model: Size(prove=range(1, 3), numeric=96),
         d_k: Size(prove=range(1, 3), numeric=64), d_v: Size(prove=(1, 3), numeric=32)}

LOSS = Trace(dQ.T * X * W_Q) + Trace(dK.T * X * W_K) + Trace(dV.T * X * W_V)


def _loss(X, W_Q, W_K, W_V, dQ, dK, dV):
    return float((dQ * (X @ W_Q)).sum() + (dK * (X @ W_K)).sum() + (dV * (X @ W_V)).sum())


projection_weight_gradient = Derivation(
    slug="projection-weight-gradient",
    notation={"dW_K": Derivative(LOSS, W_K), "dW_V": Derivative(LOSS, W_V)},
    title="The gradient of a projection\'s weights: $dW_Q = X^{\\top} dQ$",
    topic=TOPIC,
    intro=("Queries, keys and values are linear maps of the tokens: $Q = X W_Q$ ($N \\times d_k$), "
           "$K = X W_K$ ($N \\times d_k$), $V = X W_V$ ($N \\times d_v$). A loss that receives $dQ$ has "
           "$L = \\operatorname{tr}(dQ^{\\top} X W_Q)$ plus terms free of $W_Q$."),
    lhs=Derivative(LOSS, W_Q),
    sizes=SIZES,
    steps=[
        Step(Derivative(Trace((X.T * dQ).T * W_Q), W_Q),
             "only the first trace depends on $W_Q$, and $\\operatorname{tr}(dQ^{\\top} X W_Q) = \\operatorname{tr}((X^{\\top} dQ)^{\\top} W_Q)$"),
        Step(X.T * dQ, "$\\partial \\operatorname{tr}(A^{\\top} W) / \\partial W = A$: $dW_Q = X^{\\top} dQ$, of shape $d_{\\text{model}} \\times d_k$"),
    ],
    claims=[
        Claim(r"$dW_K = X^{\top} dK$", Derivative(LOSS, W_K), X.T * dK, why="the same argument for the keys"),
        Claim(r"$dW_V = X^{\top} dV$", Derivative(LOSS, W_V), X.T * dV, why="the same argument for the values ($d_v$ columns)"),
    ],
    result=Gradient(forward=_loss, reference=lambda X, dQ: X.T @ dQ, wrt="W_Q"),
    cite=(VASWANI,),
)

self_attention_input_gradient = Derivation(
    slug="self-attention-input-gradient",
    title="In self-attention $X$ feeds $Q$, $K$ and $V$: $dX = dQ\\, W_Q^{\\top} + dK\\, W_K^{\\top} + dV\\, W_V^{\\top}$",
    topic=TOPIC,
    intro="One input reaches the loss along three paths; the gradients of the paths add up (multivariate chain rule).",
    lhs=Derivative(LOSS, X),
    sizes=SIZES,
    steps=[
        Step(Derivative(Trace((dQ * W_Q.T).T * X) + Trace((dK * W_K.T).T * X) + Trace((dV * W_V.T).T * X), X),
             "$\\operatorname{tr}(dQ^{\\top} X W_Q) = \\operatorname{tr}(W_Q dQ^{\\top} X) = \\operatorname{tr}((dQ W_Q^{\\top})^{\\top} X)$, and so for K and V"),
        Step(dQ * W_Q.T + dK * W_K.T + dV * W_V.T, "$\\partial \\operatorname{tr}(A^{\\top} X) / \\partial X = A$, term by term"),
    ],
    result=Gradient(forward=_loss, reference=lambda X, W_Q, W_K, W_V, dQ, dK, dV: dQ @ W_Q.T + dK @ W_K.T + dV @ W_V.T,
                    wrt="X"),
    cite=(VASWANI,),
)
