"""ALiBi: linear biases instead of positional embeddings (Press, Smith and Lewis 2022).

Head k adds -m_k (i - j) to the score of query i and key j (j <= i, causal): the further back a
key, the lower its score, at a rate m_k that differs by head. The bias depends on i - j only, so
it is relative by construction, and it needs no learned parameter. BLOOM's code adds m_k j
instead; the two differ by -m_k i, a constant along each row, which the softmax removes.
"""

import numpy as np
import sympy as sp
from sympy import IndexedBase, Sum, exp

from symformer import Claim, Derivation, Figure, Property, Size, Step, Witness, all_hold, identity_for_all
from symformer.export import WorkedExample
from symformer.figures.modern import alibi_figure
from symformer.reference.alibi import alibi_bias, alibi_slopes
from symformer.reference.attention import additive_mask, attention, causal_mask
from symformer.reference.softmax import softmax

ORDER = 92
TOPIC = "ALiBi"
PRESS = "press2022train, section 3"
SHIFT = "derivation softmax-jacobian, claim 'shift invariance: softmax(z + c 1) = softmax(z)'"

n = sp.Symbol("n", integer=True, positive=True)
i, j, k = sp.symbols("i j k", integer=True)
z = IndexedBase("z", shape=(n,), real=True)  # the content scores of query i, one per key
m = sp.Symbol("m", positive=True)  # the head's slope


def _bloom_numeric(rng, sizes):
    """Attention with -m (i - j) and with m j (BLOOM's) agree, for every head, through the NumPy references."""
    size = max(sizes[n], 1)
    heads = 6
    Q, K, V = rng.standard_normal((heads, size, 4)), rng.standard_normal((heads, size, 4)), rng.standard_normal((heads, size, 3))
    causal = additive_mask(causal_mask(size))
    paper = attention(Q, K, V, mask=causal + alibi_bias(heads, size, size))
    bloom = attention(Q, K, V, mask=causal + alibi_slopes(heads)[:, None, None] * np.arange(size)[None, None, :])
    error = float(np.abs(paper - bloom).max())
    return Witness(error < 1e-12, f"{heads} heads, {size} positions: largest difference {error:.2g}", error)


def _bloom_exact(sizes):
    """The same at every size, in exact arithmetic: the biases differ by one constant per row."""
    size = sizes[n]
    slopes = [sp.Rational(1, 2), sp.Rational(1, 4)]
    for slope in slopes:
        paper = sp.Matrix(size, size, lambda r, c: -slope * (r - c))
        bloom = sp.Matrix(size, size, lambda r, c: slope * c)
        difference = paper - bloom
        if any(len(set(difference.row(r))) != 1 for r in range(size)):
            return Witness(False, f"slope {slope}: the biases differ by more than a constant in some row")
    return Witness(True, "-m (i - j) - m j = -m i in every row, for slopes 1/2 and 1/4")


def _bloom_general(sizes):
    # for a symbolic slope m (any head's) and every n: the two biases differ by -m i, free of the key j,
    # and the weights with either bias are equal
    difference = sp.expand(-m * (i - j) - m * j)
    paper = exp(z[j] - m * (i - j)) / Sum(exp(z[k] - m * (i - k)), (k, 1, n))
    bloom = exp(z[j] + m * j) / Sum(exp(z[k] + m * k), (k, 1, n))
    return all_hold(
        Witness(difference == -m * i and j not in difference.free_symbols, f"-m (i - j) - m j = {difference} (SymPy)"),
        identity_for_all(paper, bloom, {i: n, j: n}, what="the weights with -m (i - j) and with m j are equal"),
        summary="-m (i - j) - m j = -m i for every key j (SymPy), and the weights with either bias are equal "
                "for every slope m (index prover)",
    )


alibi_row_constant = Derivation(
    slug="alibi-row-constant",
    title=r"ALiBi's $-m (i - j)$ and BLOOM's $m j$ give the same attention",
    topic=TOPIC,
    intro=(r"Query $i$ has content scores $z_k$ for the keys $k = 1..n$ and ALiBi biases $-m (i - k)$; with the causal "
           r"mask the keys after $i$ have $z_k = -\infty$ and add 0 to every sum below. The weight of key $j$:"),
    lhs=exp(z[j] - m * (i - j)) / Sum(exp(z[k] - m * (i - k)), (k, 1, n)),
    sizes={n: Size(prove=range(1, 6), numeric=16)},
    indices={i: n, j: n},
    steps=[
        Step(exp(z[j] + m * j) * exp(-m * i) / (exp(-m * i) * Sum(exp(z[k] + m * k), (k, 1, n))),
             r"$-m (i - j) = m j - m i$, and $e^{-m i}$ is the same for every key of row $i$: it leaves the sum"),
        Step(exp(z[j] + m * j) / Sum(exp(z[k] + m * k), (k, 1, n)),
             r"cancel $e^{-m i}$: a constant added to a whole row of scores changes no weight (shift invariance)", cite=SHIFT),
    ],
    claims=[
        Property("attention with the paper's biases equals attention with BLOOM's m_k j, head by head",
                 exact=_bloom_exact, numeric=_bloom_numeric, general=_bloom_general,
                 why="the difference $-m_k i$ is constant along each row"),
    ],
    cite=(PRESS,),
)


h = sp.Symbol("h", integer=True, positive=True)  # heads
slope = lambda index: 2 ** (-8 * index / h)  # noqa: E731  (m_k for h a power of two)


RULE_HEADS = [*range(1, 33), 40, 48, 64, 96, 100]


def _rule_exact(sizes):
    """alibi_slopes(h) against the rule written with exact powers of two, for h = 1..32 and five larger counts."""
    for heads in RULE_HEADS:
        closest = 2 ** int(np.floor(np.log2(heads)))
        exact = [sp.Integer(2) ** sp.Rational(-8 * q, closest) for q in range(1, closest + 1)]
        exact += [sp.Integer(2) ** sp.Rational(-4 * (2 * q - 1), closest) for q in range(1, heads - closest + 1)]
        values = alibi_slopes(heads)
        if any(abs(float(e) - v) > 1e-15 * float(e) for e, v in zip(exact, values)) or len(values) != heads:
            return Witness(False, f"h = {heads}: {values.tolist()} is not the rule's {[float(e) for e in exact]}")
        if len(set(exact)) != heads or not all(0 < e < 1 for e in exact):
            return Witness(False, f"h = {heads}: the slopes are not distinct values in (0, 1)")
    return Witness(True, "h = 1..32, 40, 48, 64, 96, 100: the c = 2^floor(log2 h) slopes of c heads, then the "
                         "odd-numbered slopes of 2c heads; distinct and in (0, 1)")


def _bloom_slopes_numeric(rng, sizes):
    """BLOOM's build_alibi_tensor formula, a second implementation: base^(1..c), then extra_base^(1, 3, 5, ...)."""
    worst = 0.0
    for heads in range(1, 129):
        closest = 2 ** int(np.floor(np.log2(heads)))
        base = 2.0 ** (-(2.0 ** -(np.log2(closest) - 3)))
        values = list(base ** np.arange(1, closest + 1))
        if closest != heads:
            extra = 2.0 ** (-(2.0 ** -(np.log2(2 * closest) - 3)))
            values += list(extra ** np.arange(1, 1 + 2 * min(closest, heads - closest), 2))
        worst = max(worst, float(np.max(np.abs(np.array(values) - alibi_slopes(heads)) / np.array(values))))
    return Witness(worst < 1e-13, f"h = 1..128: largest relative difference from BLOOM's formula {worst:.2g}", worst)


def _relative_exact(sizes):
    """Every diagonal of the bias is constant (a Toeplitz matrix), at N = M = 6 and N = 3, M = 6.

    With 4 heads the slopes are powers of two, so every bias is exact in floating point.
    """
    for queries, keys in ((6, 6), (3, 6)):
        bias = alibi_bias(4, queries, keys)
        for head in range(4):
            for offset in range(-queries + 1, keys):
                diagonal = np.diagonal(bias[head], offset)
                if not (diagonal == diagonal[0]).all():
                    return Witness(False, f"N = {queries}, M = {keys}, head {head}: diagonal {offset} is not constant")
    return Witness(True, "every diagonal of alibi_bias is constant: the bias is a function of i - j")


def _relative_numeric(rng, sizes):
    """Scores with ALiBi do not change when every position moves by the same amount (a cache that starts later)."""
    heads, length, offset = 4, 8, 5
    early = alibi_bias(heads, length, length)
    late = alibi_bias(heads, length, length + offset)[:, :, offset:]  # the same queries and keys, 5 positions later
    error = float(np.abs(early - late).max())
    return Witness(error == 0.0, f"biases of 8 positions at offset 0 and at offset 5 differ by {error}", error)


alibi_slopes_derivation = Derivation(
    slug="alibi-slopes",
    title=r"ALiBi's slopes: a geometric sequence $m_k = 2^{-8k/h}$",
    topic=TOPIC,
    intro=(r"For $h$ heads, a power of two, head $k$ has slope $m_k = 2^{-8k/h}$: for 8 heads "
           r"$\frac{1}{2}, \frac{1}{4}, \ldots, \frac{1}{256}$. Heads with small slopes look far back, heads with large "
           r"slopes attend mostly to recent tokens."),
    lhs=slope(k + 1) / slope(k),
    lhs_latex=r"m_{k+1} / m_k",
    notation={"m": sp.Lambda(k, slope(k))},  # m_k in the display is head k's slope
    sizes={h: Size(prove=range(1, 9), numeric=16)},
    indices={k: h},
    steps=[Step(2 ** (-sp.Integer(8) / h), r"$2^{-8(k+1)/h} / 2^{-8k/h}$: the ratio does not depend on $k$", cite=PRESS)],
    claims=[Claim(r"the last slope is $1/256$ for every power of two $h$", slope(h), sp.Rational(1, 256), why="$2^{-8h/h} = 2^{-8}$")],
    cite=(PRESS,),
    figures=[Figure("biases", alibi_figure,
                    "ALiBi's causal biases for heads 1, 4 and 8 of 8: the same linear penalty on distance, at slopes 1/2 to 1/256")],
)


SIX_HEADS = sp.ImmutableMatrix([[sp.Rational(1, 4), sp.Rational(1, 16), sp.Rational(1, 64), sp.Rational(1, 256),
                                 sp.Rational(1, 2), sp.Rational(1, 8)]])

alibi_slope_rule = Derivation(
    slug="alibi-slope-rule",
    title="ALiBi's slopes when the number of heads is not a power of two",
    topic=TOPIC,
    intro=(r"The paper's code takes $c = 2^{\lfloor \log_2 h \rfloor}$, the slopes of $c$ heads, then every other slope "
           r"of $2c$ heads (the first, third, ...) until there are $h$. For $h = 6$: the slopes of 4 heads, "
           r"$2^{-2k}$, then slopes 1 and 3 of 8 heads, $2^{-1}$ and $2^{-3}$."),
    lhs=sp.ImmutableMatrix([[2 ** sp.Rational(-8 * q, 4) for q in range(1, 5)] + [2 ** sp.Rational(-8 * q, 8) for q in (1, 3)]]),
    steps=[Step(SIX_HEADS, r"the six slopes of a six-head model, largest last but one", cite=PRESS)],
    claims=[
        Property("the reference follows the rule for 1 to 32 heads and for 40 to 100 heads, with distinct slopes between 0 and 1",
                 exact=_rule_exact, numeric=_bloom_slopes_numeric, cite=PRESS,
                 why="the paper's reference code; BLOOM's formula, a second implementation, gives the same numbers"),
        Property("the bias depends on i - j only: ALiBi is relative by construction", exact=_relative_exact,
                 numeric=_relative_numeric, why=r"$-m (i - j)$ is unchanged when $i$ and $j$ move together"),
    ],
    cite=(PRESS,),
)


def _last_row_bias():
    """Head 1 of 8 (slope 1/2), the bias row of query 4 over keys 1..4."""
    return alibi_bias(8, 4, 4)[0, 3]


EXAMPLE = WorkedExample(
    alibi_row_constant,
    inputs={"z": [1, 0, 2, 1], "m": "1/2"},
    shows=[(r"-m\,(4 - j)", -m * (n - j), lambda: _last_row_bias()),
           (r"\operatorname{softmax}_j\bigl(z_j - m\,(4 - j)\bigr)", None, lambda z: softmax(z + _last_row_bias()))],
    title="the last query of four, slope $1/2$",
    text=r"Query $i = 4$ sees keys $j = 1..4$; $m = 1/2$ is the slope of head 1 of 8. The weights are computed from "
         r"BLOOM's $z_j + m j$ (the last step) and by the reference from the paper's bias row: the same numbers.",
)
