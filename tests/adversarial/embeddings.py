"""Vectors, dot products and embeddings: one-hot lookups, tied embeddings, Cauchy-Schwarz, cosines, projections."""

import sympy as sp
from sympy import Derivative, IndexedBase, KroneckerDelta as delta, Sum, sqrt

from symformer import Size

from adversarial._common import c, chain, correct, i, j, k, s, t, u, wrong

V, D, T = sp.symbols("V D T", integer=True, positive=True)
d = sp.Symbol("d", integer=True, positive=True)
v_ = sp.Symbol("v", integer=True)
E = IndexedBase("E", shape=(V, D), real=True)
X = IndexedBase("X", shape=(T, V), real=True)
G = IndexedBase("G", shape=(T, D), real=True)
Rr = IndexedBase("R", shape=(T, V), real=True)
hh = IndexedBase("h", shape=(T, D), real=True)
x = IndexedBase("x", shape=(d,), real=True)
y = IndexedBase("y", shape=(d,), real=True)
al, be = sp.symbols("alpha beta", real=True)
ap, bp = sp.symbols("a b", positive=True)
VDT = {V: Size(prove=range(1, 4), numeric=6), D: Size(prove=(1, 2), numeric=3), T: Size(prove=range(1, 4), numeric=4)}
DS = {d: Size(prove=range(1, 5), numeric=16)}
INPUT_LOSS = Sum(Sum(G[s, c] * Sum(X[s, u] * E[u, c], (u, 1, V)), (c, 1, D)), (s, 1, T))
OUTPUT_LOSS = Sum(Sum(Rr[s, u] * Sum(hh[s, c] * E[u, c], (c, 1, D)), (u, 1, V)), (s, 1, T))
XY, XX, YY = Sum(x[k] * y[k], (k, 1, d)), Sum(x[k] ** 2, (k, 1, d)), Sum(y[k] ** 2, (k, 1, d))
LAGRANGE = Sum(Sum((x[i] * y[j] - x[j] * y[i]) ** 2, (j, 1, d)), (i, 1, d)) / 2


def cosine(p, q):
    return Sum(p * x[k] * q * y[k], (k, 1, d)) / (sqrt(Sum((p * x[k]) ** 2, (k, 1, d))) * sqrt(Sum((q * y[k]) ** 2, (k, 1, d))))


WRONG = [
    wrong(chain("lookup-forgets-one-hot", Sum(E[u, j] * delta(u, t), (u, 1, V)), (Sum(E[u, j], (u, 1, V)), "x picks row t"),
                sizes={V: VDT[V], D: VDT[D]}, indices={t: V, j: D}),
          mistake="the one-hot factor dropped: every row summed"),
    wrong(chain("tied-embedding-one-use", Derivative(INPUT_LOSS + OUTPUT_LOSS, E[v_, j]), (Sum(X[s, v_] * G[s, j], (s, 1, T)),
                "dE = X^T G"), sizes=VDT, indices={v_: V, j: D}),
          mistake="a tied embedding gets the output layer's gradient too"),
    wrong(chain("lagrange-identity-sign", XX * YY - XY**2, (-LAGRANGE, "Lagrange's identity"), sizes=DS),
          mistake="sign: the difference is a sum of squares, so >= 0"),
    wrong(chain("cosine-any-scaling", cosine(al, be), (cosine(1, 1), "scaling cancels"), sizes=DS),
          mistake="true for a b > 0 only: a negative factor flips the cosine"),
    wrong(chain("projection-by-the-norm", Sum((x[i] - XY / sqrt(YY) * y[i]) * y[i], (i, 1, d)), (0, "the residual is orthogonal"),
                sizes=DS),
          mistake="project with (x.y)/|y|^2, not (x.y)/|y|"),
]

CORRECT = [
    correct(chain("lagrange-identity", XX * YY - XY**2,
                  (Sum(Sum(x[i] ** 2 * y[j] ** 2 - x[i] * y[i] * x[j] * y[j], (j, 1, d)), (i, 1, d)), "expand the products"),
                  (LAGRANGE, "symmetrise"), sizes=DS)),
    correct(chain("cosine-positive-scaling", cosine(ap, bp), (cosine(1, 1), "a and b cancel between the dot and the norms"),
                  sizes=DS)),
]
