"""Tokenization counts: pairs and pieces of a word, substrings, the WordPiece score, BERT's masking fractions."""

import sympy as sp
from sympy import Rational, Sum, log

from symformer import Size

from adversarial._common import chain, correct, i, j, k, wrong

L = sp.Symbol("L", integer=True, positive=True)  # characters of a word
WORD = {L: Size(prove=range(1, 6), numeric=20)}
kk, ca, cb, NN = sp.symbols("k c_a c_b N", positive=True)
NONE: dict = {}

WRONG = [
    wrong(chain("adjacent-pairs", Sum(1, (k, 1, L - 1)), (L, "one pair per character"), sizes=WORD),
          mistake="a word of L characters has L - 1 adjacent pairs"),
    wrong(chain("substrings", Sum(Sum(1, (j, i, L)), (i, 1, L)), (L * (L - 1) / 2, "choose two ends"), sizes=WORD),
          mistake="off by one: the single characters are substrings too"),
    wrong(chain("continuation-pieces", Sum(1, (k, 2, L)), (L, "every piece carries ##"), sizes=WORD),
          mistake="the first piece carries no ##"),
    wrong(chain("score-logarithm", log(kk / (ca * cb)), (log(kk) - log(ca) + log(cb), "the log of a quotient"), sizes=NONE),
          mistake="sign of log c_b"),
    wrong(chain("random-token-fraction", Rational(15, 100) * Rational(10, 100), (Rational(3, 2000), "10% of the 15%"),
                sizes=NONE), mistake="0.15 x 0.10 = 0.015, not 0.0015"),
]

CORRECT = [
    correct(chain("substring-count", Sum(Sum(1, (j, i, L)), (i, 1, L)), (L * (L + 1) / 2, "pairs of ends, with repeats"),
                  sizes=WORD)),
    correct(chain("score-is-pmi", log(kk / NN) - log(ca / NN) - log(cb / NN), (log(kk / (ca * cb)) + log(NN), "log of products"),
                  sizes=NONE)),
]
