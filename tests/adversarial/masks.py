"""Attention masks: additive -inf, causal in both alignments, and the pair counts a mask implies."""

import sympy as sp
from sympy import MatrixSymbol, Sum, ZeroMatrix
from sympy.matrices.expressions.hadamard import HadamardProduct

from symformer import Size
from symformer.blocks import CausalMask, MaskedEntries, RowSoftmax

from adversarial._common import SMALL, chain, correct, i, j, n, wrong

N, M = sp.symbols("N M", integer=True, positive=True)
S = MatrixSymbol("S", N, M)
TOP, BOTTOM = CausalMask(N, M, "top-left"), CausalMask(N, M, "bottom-right")
NM = {N: Size(prove=range(1, 4), numeric=9), M: Size(prove=range(1, 4), numeric=7)}

WRONG = [
    wrong(chain("mask-subtracted", S + TOP, (S - TOP, "the mask removes the future"), sizes=NM),
          mistake="sign: -inf subtracted becomes +inf"),
    wrong(chain("alignments-always-agree", MaskedEntries(TOP), (MaskedEntries(BOTTOM), "both hide the future"), sizes=NM),
          mistake="the alignments agree only when N = M"),
    wrong(chain("zeros-under-the-other-mask", HadamardProduct(RowSoftmax(S + TOP), MaskedEntries(BOTTOM)),
                (ZeroMatrix(N, M), "masked entries have weight 0"), sizes=NM),
          mistake="the weights of one alignment are not 0 where the other masks (N > M)"),
    wrong(chain("causal-visible-pairs", Sum(Sum(1, (j, 1, i)), (i, 1, n)), (n * (n - 1) / 2, "pairs j <= i")),
          mistake="off by one: j <= i has n(n+1)/2 pairs"),
    wrong(chain("causal-masked-pairs", Sum(Sum(1, (j, i + 1, n)), (i, 1, n)), (n * (n + 1) / 2, "pairs j > i")),
          mistake="off by one: j > i has n(n-1)/2 pairs"),
    wrong(chain("window-count-at-the-end", Sum(Sum(1, (j, i, sp.Min(n, i + 2))), (i, 1, n)), (3 * n, "three keys per query"),
                sizes={n: Size(prove=range(1, 6), numeric=12)}),
          mistake="the last queries' windows are cut off at n"),
]

CORRECT = [
    correct(chain("masked-weights-vanish", HadamardProduct(RowSoftmax(S + TOP), MaskedEntries(TOP)),
                  (ZeroMatrix(N, M), "e^{-inf} = 0"), sizes=NM)),
    correct(chain("alignments-agree-when-square", MaskedEntries(CausalMask(N, N, "top-left")),
                  (MaskedEntries(CausalMask(N, N, "bottom-right")), "the offset M - N is 0"), sizes={N: NM[N]})),
    correct(chain("causal-pair-count", Sum(Sum(1, (j, 1, i)), (i, 1, n)), (n * (n + 1) / 2, "pairs j <= i"), sizes=SMALL)),
]
