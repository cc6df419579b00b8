"""Sums and counts: empty and shifted ranges, identities true only for small sizes or only to 1e-6, overflow."""

import sympy as sp
from sympy import IndexedBase, Rational, Sum

from symformer import Size

from adversarial._common import SMALL, chain, correct, i, j, k, n, wrong

x = IndexedBase("x", shape=(n,), real=True)
a = sp.Symbol("a", positive=True)
THREE = {n: Size(prove=range(1, 4), numeric=12)}

WRONG = [
    wrong(chain("window-from-four", Sum(1, (k, 4, n)), (n - 3, "the keys 4..n")),
          mistake="for n < 4 the range is empty: 0 keys, not n - 3"),
    wrong(chain("ranges-joined-across-empty", Sum(x[k], (k, 1, n - 1)) + Sum(x[k], (k, n, 1)), (x[1], "join the ranges")),
          mistake="joining 1..n-1 and n..1 is Karr's convention; an empty sum is 0"),
    wrong(chain("inner-range-below-start", Sum(Sum(1, (k, 1, i - 2)), (i, 1, n)), ((n - 2) * (n - 1) / 2 - 1, "sum the counts")),
          mistake="an empty inner range counts 0 terms, not -1"),
    wrong(chain("sum-of-squares-fit", Sum(k**2, (k, 1, n)), ((5 * n**2 - 7 * n + 4) / 2, "fit through n = 1, 2, 3"),
                sizes=THREE), mistake="an identity true only for small sizes"),
    wrong(chain("sum-shifted-down", Sum(x[k], (k, 1, n)), (Sum(x[k + 1], (k, 1, n - 1)), "re-index k -> k + 1")),
          mistake="off by one: the re-indexed sum starts at x_2"),
    wrong(chain("entry-is-the-scalar", x[1] + sp.Symbol("x_1", real=True), (2 * x[1], "x_1 twice")),
          mistake="x[1] and a scalar named x_1 are two inputs"),
    wrong(chain("powers-that-overflow", (a + 6) ** (10**7), ((a + 7) ** (10**7), "the same power"), sizes={}),
          mistake="both sides overflow to inf in float64; neither is evidence"),
    wrong(chain("telescoping-to-1e-6", Sum(1 / (k * (k + 1)), (k, 1, n)), (1 - 1 / (n + 1) + Rational(1, 10**6), "telescoping")),
          mistake="an identity true only to 1e-6"),
]

CORRECT = [
    correct(chain("pairs-at-least-two-apart", Sum(Sum(1, (j, i + 2, n)), (i, 1, n)), ((n - 1) * (n - 2) / 2, "pairs j >= i + 2"))),
    correct(chain("pairs-in-order", Sum(Sum(1, (j, i + 1, n)), (i, 1, n)), (n * (n - 1) / 2, "pairs i < j"))),
    correct(chain("window-from-four-clamped", Sum(1, (k, 4, n)), (sp.Max(0, n - 3), "no keys before 4"))),
    correct(chain("telescoping", Sum(1 / (k * (k + 1)), (k, 1, n)), (Sum(1 / k - 1 / (k + 1), (k, 1, n)), "partial fractions"),
                  (1 - 1 / (n + 1), "telescoping"), sizes=SMALL)),
    correct(chain("sum-of-squares", Sum(k**2, (k, 1, n)), (n * (n + 1) * (2 * n + 1) / 6, "Faulhaber"))),
]
