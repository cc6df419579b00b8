"""Attention masks: additive -inf before the softmax; causal (two alignments), padding, both.

A mask B is added to the scores: B_ij = 0 where query i may attend to key j, -inf elsewhere, so
P_ij = exp(-inf) / (...) = 0 exactly. Causal alignment when N != M: top-left (PyTorch's
``is_causal``, key j visible to query i when j <= i) or bottom-right (FlashAttention >= 2.1,
j <= i + M - N, so the last query sees every key). A query that may attend to nothing gets
P = 0, O = 0 and zero gradients, as PyTorch >= 2.5's safe softmax gives (the textbook formula
gives 0/0 = NaN there). Boolean masks follow PyTorch's scaled_dot_product_attention: True means
"may attend" (nn.MultiheadAttention uses the opposite polarity).
"""

import numpy as np
import sympy as sp
from sympy import Derivative, MatrixSymbol, Trace, ZeroMatrix
from sympy.matrices.expressions.hadamard import HadamardProduct

from symformer import Claim, Derivation, Property, Size, Step, Witness, matrix_identity_for_all, rows_after_do_not_enter
from symformer.blocks import CausalMask, MaskedEntries, PaddingMask, RowSoftmax
from symformer.reference import additive_mask, attention, causal_mask, padding_mask
from symformer.export import WorkedExample
from symformer.reference import safe_row_softmax

ORDER = 46
TOPIC = "Attention masks"
VASWANI = "vaswani2017attention, section 3.2.3"
SAFE = "pytorch2024sdpa, math path, _safe_softmax"
FLASH2 = "dao2023flashattention21"

N, M = sp.symbols("N M", integer=True, positive=True)
S, dP = MatrixSymbol("S", N, M), MatrixSymbol("dP", N, M)
B_TOP, B_BOTTOM = CausalMask(N, M, "top-left"), CausalMask(N, M, "bottom-right")
SIZES = {N: Size(prove=range(1, 4), numeric=128), M: Size(prove=range(1, 4), numeric=128)}


def _symbols(name, rows, cols):
    return sp.ImmutableMatrix(rows, cols, lambda r, c: sp.Symbol(f"{name}_{r}{c}", real=True))


def _masked_backward(mask):
    """The explicit gradient of tr(dP^T softmax(S + B)) by S, and the unmasked formula P (dP - D 1^T)."""
    weights = RowSoftmax(S + mask)
    formula = HadamardProduct(weights, dP - HadamardProduct(weights, dP) * sp.OneMatrix(M, 1) * sp.OneMatrix(1, M))
    return Derivative(Trace(dP.T * weights), S), formula


def _prefix_exact(sizes):
    """Causal output row t, written out, contains no entry of Q, K or V from a later token."""
    n = sizes[N]
    if sizes[M] != n:
        return None
    q, k, v = _symbols("q", n, 2), _symbols("k", n, 2), _symbols("v", n, 1)
    out = RowSoftmax(q * k.T + CausalMask(n, n).as_explicit()).as_explicit() * v
    for t in range(n):
        later = {x for u in range(t + 1, n) for x in (*q.row(u), *k.row(u), *v.row(u))}
        if out.row(t).free_symbols & later:
            return Witness(False, f"output {t} depends on a later token")
    return Witness(True, "each output row t is a function of tokens 0..t only")


def _prefix_general(sizes):
    """For every N: row t of softmax(tau Q K^T + B_causal) V has zero derivative by every row u > t of Q, K, V."""
    d, d_v = sp.symbols("d d_v", integer=True, positive=True)
    tau = sp.Symbol("tau", positive=True)
    q, k, v = MatrixSymbol("Q", N, d), MatrixSymbol("K", N, d), MatrixSymbol("V", N, d_v)
    out = RowSoftmax(tau * q * k.T + CausalMask(N, N)) * v
    return rows_after_do_not_enter(out, [q, k, v], what="row t of O = softmax(tau Q K^T + B) V, for every d and d_v, "
                                                        "has zero derivative by rows u > t of Q, K and V")


def _prefix_numeric(rng, sizes):
    n = sizes[N]
    X = rng.standard_normal((3, n, 8))
    out = attention(X[0], X[1], X[2], mask=causal_mask(n))
    t = n // 2
    changed = X.copy()
    changed[:, t + 1:] = rng.standard_normal(changed[:, t + 1:].shape) * 10
    out2 = attention(changed[0], changed[1], changed[2], mask=causal_mask(n))
    error = float(np.abs(out[: t + 1] - out2[: t + 1]).max())
    return Witness(error == 0.0, f"outputs 0..{t} change by {error} when tokens after {t} change", error)


def _combination_exact(sizes):
    n, m = sizes[N], sizes[M]
    for length in range(m + 1):
        combined = MaskedEntries(CausalMask(n, m) + PaddingMask(n, m, length)).as_explicit()
        expected = sp.Matrix(n, m, lambda r, c: 0 if (c <= r and c < length) else 1)
        if combined != expected:
            return Witness(False, f"causal + padding({length}) masks {combined.tolist()}")
    return Witness(True, "B_causal + B_pad is -inf exactly where either is: the conjunction of the boolean masks")


def _combination_general(sizes):
    """For every length L >= 0: an entry is masked by B_causal + B_pad(L) exactly when either mask masks it."""
    length = sp.Symbol("L", integer=True, nonnegative=True)
    causal, padding = MaskedEntries(B_TOP), MaskedEntries(PaddingMask(N, M, length))
    return matrix_identity_for_all(MaskedEntries(B_TOP + PaddingMask(N, M, length)),
                                   causal + padding - HadamardProduct(causal, padding),
                                   what="1[B_causal + B_pad(L) = -inf] = c + p - c p for the 0/1 masks c, p, every L >= 0")


def _combination_numeric(rng, sizes):
    n, m = sizes[N], sizes[M]
    lengths = rng.integers(0, m + 1, size=3)
    both = causal_mask(n, m) & padding_mask(lengths, m)
    summed = additive_mask(causal_mask(n, m)) + additive_mask(padding_mask(lengths, m))
    return Witness(bool(np.array_equal(additive_mask(both), summed)), "additive(c & p) = additive(c) + additive(p)")


masked_attention = Derivation(
    slug="masked-attention",
    notation={"dS": HadamardProduct(RowSoftmax(S + B_TOP), dP - HadamardProduct(RowSoftmax(S + B_TOP), dP) * sp.OneMatrix(M, 1) * sp.OneMatrix(1, M))},
    title="Masked attention: $-\\infty$ before the softmax gives exact zeros",
    topic=TOPIC,
    intro=("Adding $B_{ij} = -\\infty$ to a score removes key $j$ from query $i$: $e^{-\\infty} = 0$. "
           "The causal mask hides the future; with $N \\ne M$ it comes in two alignments."),
    lhs=HadamardProduct(RowSoftmax(S + B_TOP), MaskedEntries(B_TOP)),
    sizes=SIZES,
    steps=[Step(ZeroMatrix(N, M), "$e^{S_{ij} - \\infty} = 0$ in the numerator, the denominator keeps the visible keys",
                cite=VASWANI)],
    claims=[
        Claim(r"bottom-right alignment: masked entries get weight 0 too",
              HadamardProduct(RowSoftmax(S + B_BOTTOM), MaskedEntries(B_BOTTOM)), ZeroMatrix(N, M), cite=FLASH2,
              why="the same argument; with $N > M$ the first $N - M$ queries see no key and get $P = 0$ (safe softmax)"),
        Claim(r"the two alignments agree when $N = M$", MaskedEntries(CausalMask(N, N, "top-left")),
              MaskedEntries(CausalMask(N, N, "bottom-right")), why="the offset $M - N$ is 0"),
        Claim(r"masked entries receive zero gradient: $dS \odot \mathbf{1}\left[B_{\mathrm{causal}} = -\infty\right] = 0$",
              HadamardProduct(HadamardProduct(RowSoftmax(S + B_TOP), dP - HadamardProduct(RowSoftmax(S + B_TOP), dP)
                                              * sp.OneMatrix(M, 1) * sp.OneMatrix(1, M)), MaskedEntries(B_TOP)),
              ZeroMatrix(N, M),
              why="$dS = P \\odot (dP - D \\mathbf{1}^{\\top})$ (derivation attention-backward-scores) has the factor $P_{ij} = 0$"),
        Claim("the explicit gradient through the masked softmax has the unmasked form, so it is exactly zero at "
              "masked scores", *_masked_backward(B_TOP),
              why="a masked score enters only through $e^{S_{ij} - \\infty} = 0$; so padded keys and values get no gradient"),
        Claim("the same with the bottom-right alignment, fully masked rows included", *_masked_backward(B_BOTTOM), cite=FLASH2,
              why="a row that sees no key has the constant weights 0, and its gradient is 0 on both sides"),
        Property(r"causal prefix invariance: output $t$ does not depend on tokens after $t$", exact=_prefix_exact,
                 numeric=_prefix_numeric, general=_prefix_general, why="row $t$ of $P$ is 0 beyond column $t$, so later keys and values never enter it"),
        Claim("a fully masked row returns zeros", RowSoftmax(S + PaddingMask(N, M, 0)), ZeroMatrix(N, M), cite=SAFE,
              why="the safe softmax returns 0 for a row of only $-\\infty$; the textbook formula gives 0/0"),
        Claim("a fully masked row passes back zero gradients", Derivative(Trace(dP.T * RowSoftmax(S + PaddingMask(N, M, 0))), S),
              ZeroMatrix(N, M), cite=SAFE, why="the weights are the constant 0, whatever the scores"),
        Property(r"causal and padding masks combine by addition (as booleans, by and)", exact=_combination_exact,
                 numeric=_combination_numeric, general=_combination_general, why="$-\\infty + 0 = -\\infty + (-\\infty) = -\\infty$"),
    ],
    cite=(VASWANI, SAFE),
)


EXAMPLE = WorkedExample(
    masked_attention,
    inputs={"S": [[1, 2, 0], [0, 1, 2], [2, 0, 1]]},
    shows=[(r"B = B_{\mathrm{causal}}", B_TOP, lambda S: additive_mask(causal_mask(3))),
           (r"P = \operatorname{softmax}(S + B)", RowSoftmax(S + B_TOP),
            lambda S: safe_row_softmax(S + additive_mask(causal_mask(3))))],
    title="a causal mask on three tokens",
    text=r"Above the diagonal $e^{-\infty} = 0$ exactly; each row of $P$ still sums to one over the keys it may see.",
)
