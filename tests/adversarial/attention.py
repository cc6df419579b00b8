"""Scaled dot-product attention with MatrixSymbols: scores, transposes, scale, the output."""

import sympy as sp
from sympy import MatrixSymbol, Trace

from symformer import Size

from adversarial._common import chain, correct, wrong

N, M, d_k, d_v = sp.symbols("N M d_k d_v", integer=True, positive=True)
tau = sp.Symbol("tau", positive=True)
Q, K = MatrixSymbol("Q", N, d_k), MatrixSymbol("K", M, d_k)
Ks = MatrixSymbol("K", N, d_k)  # as many keys as queries, where a square mistake needs it
V = MatrixSymbol("V", M, d_v)
P = MatrixSymbol("P", N, M)
Ps = MatrixSymbol("P", N, N)
A, B, C, D = MatrixSymbol("A", N, M), MatrixSymbol("B", M, N), MatrixSymbol("C", N, N), MatrixSymbol("D", N, N)
E = MatrixSymbol("E", N, N)
V1, V2 = MatrixSymbol("V_1", N, d_v), MatrixSymbol("V_2", N, d_v)
SQUARE = {N: Size(prove=range(1, 4), numeric=10), d_k: Size(prove=range(1, 3), numeric=6)}
RECTANGULAR = {N: Size(prove=range(1, 4), numeric=10), M: Size(prove=range(1, 4), numeric=7),
               d_k: Size(prove=range(1, 3), numeric=6), d_v: Size(prove=range(1, 3), numeric=5)}

WRONG = [
    wrong(chain("transpose-of-product-order-kept", (C * D).T, (C.T * D.T, "transpose each factor"),
                sizes={N: Size(prove=range(1, 4), numeric=8)}), mistake="(A B)^T = A^T B^T"),
    wrong(chain("scores-keys-first", tau * Q * Ks.T, (tau * Ks * Q.T, "the dot products of keys and queries"), sizes=SQUARE),
          mistake="K Q^T is the transpose of the scores"),
    wrong(chain("scores-doubled-scale", tau * Q * K.T, (tau**2 * Q * K.T, "scale the scores"), sizes=RECTANGULAR),
          mistake="the scale applied twice"),
    wrong(chain("output-transposed-weights", Ps * MatrixSymbol("V", N, d_v),
                (Ps.T * MatrixSymbol("V", N, d_v), "each output row is a weighted average of the values"),
                sizes={N: Size(prove=range(1, 4), numeric=9), d_v: Size(prove=range(1, 3), numeric=4)}),
          mistake="P^T V instead of P V"),
    wrong(chain("trace-not-cyclic", Trace(C * D * E), (Trace(D * C * E), "the trace is cyclic"),
                sizes={N: Size(prove=range(1, 4), numeric=8)}),
          mistake="swapping two factors is not a cyclic shift"),
    wrong(chain("output-of-summed-values", Ps * (V1 + V2), (Ps * V1 + Ps * V2, "the product distributes"),
                (Ps * V1 + V2, "the second head's values pass through"),
                sizes={N: Size(prove=range(1, 4), numeric=9), d_v: Size(prove=range(1, 3), numeric=4)}),
          "step 2", mistake="a factor dropped in the last step of a chain"),
]

CORRECT = [
    correct(chain("transpose-of-scores", (tau * Q * K.T).T, (tau * K * Q.T, "(A B)^T = B^T A^T"), sizes=RECTANGULAR)),
    correct(chain("trace-cyclic-rectangular", Trace(A * B), (Trace(B * A), "tr(A B) = tr(B A) for N x M times M x N"),
                  sizes={N: Size(prove=range(1, 4), numeric=8), M: Size(prove=range(1, 4), numeric=5)})),
]
