"""Rotary position embedding (RoPE; Su et al. 2021, RoFormer, eq. 14-16): rotate queries and keys, and
the attention score depends only on the offset n - m.

One pair first, with 2 x 2 matrices and symbolic m, n, theta and vectors; then every number of pairs
h = d/2 in index notation; then the two layouts found in real models (interleaved pairs and
rotate-half pairs) and the permutation between them.
"""

import numpy as np
import sympy as sp
from sympy import IndexedBase, Sum, cos, sin

from symformer import Claim, Derivation, Figure, Property, Size, Step, Witness, all_hold, identity_for_all
from symformer.figures import rope_score_by_offset
from symformer.reference import rope, rope_matrix, rope_permutation

ORDER = 61
TOPIC = "Positional encodings"
ROFORMER = "su2021roformer, eq. 14-16"

m, n, s, a, b = sp.symbols("m n s a b", real=True)
theta = sp.Symbol("theta", positive=True)
q1, q2, k1, k2 = sp.symbols("q_1 q_2 k_1 k_2", real=True)
q = sp.ImmutableMatrix([q1, q2])
k = sp.ImmutableMatrix([k1, k2])


def R(t):
    """RoPE's rotation of one pair by the angle t theta (counterclockwise)."""
    return sp.ImmutableMatrix([[cos(theta * t), -sin(theta * t)], [sin(theta * t), cos(theta * t)]])


relative_score_derivation = Derivation(
    slug="rope-relative-score",
    title="RoPE: the score of a rotated query and key depends only on $n - m$",
    topic=TOPIC,
    intro=(
        "RoPE multiplies the query at position $m$ by $R(m)$ and the key at position $n$ by $R(n)$, rotations by "
        "$m\\theta$ and $n\\theta$ in each pair of coordinates; the values are not rotated. One pair, with $m$, $n$, "
        "$\\theta$, $q$ and $k$ all symbolic:"
    ),
    lhs=sp.MatMul(sp.MatMul(R(m), q).T, sp.MatMul(R(n), k)),
    lhs_latex="\\langle R(m) q, R(n) k \\rangle = (R(m) q)^{\\top} R(n) k",
    notation={"R": R, "q": q, "k": k},
    steps=[
        Step(sp.MatMul(q.T, R(m).T, R(n), k), "$(R q)^{\\top} = q^{\\top} R^{\\top}$",
             latex="q^{\\top} R(m)^{\\top} R(n)\\, k"),
        Step(sp.MatMul(q.T, R(n - m), k), "$R(m)^{\\top} R(n) = R(n - m)$ (the claim below)",
             latex="q^{\\top} R(n - m)\\, k = \\langle q, R(n - m) k \\rangle", cite=ROFORMER),
    ],
    claims=[
        Claim(r"$R(m)^{\top} R(n) = R(n - m)$", sp.MatMul(R(m).T, R(n)), R(n - m),
              why="undo the rotation by $m\\theta$, then rotate by $n\\theta$"),
        Claim(r"$R(m)$ is orthogonal: $R(m)^{\top} R(m) = I$", sp.MatMul(R(m).T, R(m)), sp.eye(2), why="$\\cos^2 + \\sin^2 = 1$"),
        Claim(r"rotations compose: $R(a) R(b) = R(a + b)$", sp.MatMul(R(a), R(b)), R(a + b), why="angles add"),
        Claim(r"shifting both positions by $s$ leaves the score unchanged",
              sp.MatMul(sp.MatMul(R(m + s), q).T, sp.MatMul(R(n + s), k)),
              sp.MatMul(sp.MatMul(R(m), q).T, sp.MatMul(R(n), k)), why="$(n + s) - (m + s) = n - m$",
              latex=r"(R(m + s)\, q)^{\top} R(n + s)\, k = (R(m)\, q)^{\top} R(n)\, k"),
    ],
    cite=(ROFORMER,),
)


# --- every d ----------------------------------------------------------------------------------------

h = sp.Symbol("h", integer=True, positive=True)  # number of pairs, d = 2h
j = sp.Symbol("j", integer=True)
th = IndexedBase("theta", shape=(h,), positive=True)
Q = IndexedBase("q", shape=(h, 2), real=True)  # Q[j, 1], Q[j, 2]: pair j of the query
K = IndexedBase("k", shape=(h, 2), real=True)


def _rotated(x, t, row):
    """Coordinate ``row`` (1 or 2) of pair j of R(t) x."""
    c, s_ = cos(t * th[j]), sin(t * th[j])
    return x[j, 1] * c - x[j, 2] * s_ if row == 1 else x[j, 1] * s_ + x[j, 2] * c


def _score(mq, nk):
    return Sum(_rotated(Q, mq, 1) * _rotated(K, nk, 1) + _rotated(Q, mq, 2) * _rotated(K, nk, 2), (j, 1, h))


RELATIVE = Sum(Q[j, 1] * _rotated(K, n - m, 1) + Q[j, 2] * _rotated(K, n - m, 2), (j, 1, h))


def _rotation_entry(t, row_pair, column_pair, row, column):
    """R(t)'s entry at row (pair, 0 | 1) and column (pair, 0 | 1): a 2 x 2 rotation when the pairs agree."""
    c, s_ = cos(t * th[column_pair]), sin(t * th[column_pair])
    return sp.KroneckerDelta(row_pair, column_pair) * [[c, -s_], [s_, c]][row][column]


def _reference_scores_general(sizes):
    # (R(m)^T R(n))_((j, a), (l, b)) = sum over pairs p and their rows r of R(m)_((p, r), (j, a)) R(n)_((p, r), (l, b)),
    # which is R(n - m)_((j, a), (l, b)), for every h
    p_, l_ = sp.symbols("p l", integer=True)
    pieces = []
    for a_, b_ in ((0, 0), (0, 1), (1, 0), (1, 1)):
        product = Sum(sum(_rotation_entry(m, p_, j, r, a_) * _rotation_entry(n, p_, l_, r, b_) for r in (0, 1)), (p_, 1, h))
        pieces.append(identity_for_all(product, _rotation_entry(n - m, j, l_, a_, b_), {j: h, l_: h},
                                       what=f"R(m)^T R(n) = R(n - m), block entry {a_ + 1}{b_ + 1}"))
    return all_hold(*pieces, summary="R(m)^T R(n) = R(n - m) entry by entry (index prover), so the score is "
                                     "<q, R(n - m) k>; the reference's agreement is the float64 witness's")


def _layouts_exact(sizes):
    """R_half(m) = P R_inter(m) P^T at d = 2h, entry by entry, with symbolic m and theta_1..theta_h."""
    pairs = sizes[h]
    width = 2 * pairs
    thetas = sp.symbols(f"theta1:{pairs + 1}", positive=True)
    inter, half = sp.zeros(width), sp.zeros(width)
    for i, t in enumerate(thetas):
        c, s_ = cos(m * t), sin(m * t)
        for matrix, (x, y) in ((inter, (2 * i, 2 * i + 1)), (half, (i, i + pairs))):
            matrix[x, x], matrix[x, y], matrix[y, x], matrix[y, y] = c, -s_, s_, c
    order = [*range(0, width, 2), *range(1, width, 2)]
    permutation = sp.Matrix(width, width, lambda r, c: 1 if c == order[r] else 0)
    if permutation * inter * permutation.T != half:
        return Witness(False, f"at d = {width}: P R_inter P^T differs from R_half")
    if pairs >= 2 and inter == half:
        return Witness(False, f"at d = {width} the two layouts coincide without the permutation")
    return Witness(True, f"d = {width}: P R_inter(m) P^T = R_half(m), and R_inter(m) != R_half(m)" if pairs >= 2 else
                   "d = 2: one pair, both layouts are the same rotation")


def _layouts_numeric(rng, sizes):
    width = 2 * sizes[h]
    perm = rope_permutation(width)
    x = rng.standard_normal((5, width))
    positions = rng.integers(-2000, 2000, size=5)
    interleaved = rope(x, positions, layout="interleaved")
    half = rope(x[:, perm], positions, layout="rotate-half")
    error = float(np.abs(half - interleaved[:, perm]).max())
    matrix_error = float(np.abs(np.eye(width)[perm] @ rope_matrix(positions[0], width) @ np.eye(width)[perm].T
                                - rope_matrix(positions[0], width, layout="rotate-half")).max())
    worst = max(error, matrix_error)
    if width >= 4 and np.allclose(rope(x, positions, layout="rotate-half"), interleaved):
        return Witness(False, "the two layouts agree without the permutation, so the check cannot tell them apart")
    return Witness(bool(worst < 1e-12), f"largest deviation {worst:.3g}", float(worst))


def _reference_scores_numeric(rng, sizes):
    """The reference rope: <rope(q, m), rope(k, n)> equals <q, R(n - m) k> and is unchanged by a common shift."""
    width = 2 * sizes[h]
    worst = 0.0
    for layout in ("interleaved", "rotate-half"):
        query, key = rng.standard_normal(width), rng.standard_normal(width)
        m_, n_, shift = (int(v) for v in rng.integers(-5000, 5000, size=3))
        score = rope(query, m_, layout=layout) @ rope(key, n_, layout=layout)
        relative = query @ rope(key, n_ - m_, layout=layout)
        shifted = rope(query, m_ + shift, layout=layout) @ rope(key, n_ + shift, layout=layout)
        scale = np.linalg.norm(query) * np.linalg.norm(key)
        worst = max(worst, abs(score - relative) / scale, abs(score - shifted) / scale)
    return Witness(bool(worst < 1e-12), f"largest relative deviation {worst:.3g}", float(worst))


def _reference_scores_exact(sizes):
    """At d = 2h with symbolic q, k, m, n, theta_i: the entries of R(m)^T R(n) - R(n - m) vanish."""
    pairs = sizes[h]
    thetas = sp.symbols(f"theta1:{pairs + 1}", positive=True)

    def rotation(t):
        return sp.diag(*[sp.Matrix([[cos(t * o), -sin(t * o)], [sin(t * o), cos(t * o)]]) for o in thetas])

    difference = rotation(m).T * rotation(n) - rotation(n - m)
    reduced = difference.applyfunc(lambda e: sp.expand(sp.expand_trig(sp.expand(e))))
    if reduced != sp.zeros(2 * pairs):
        return Witness(False, f"at d = {2 * pairs}: R(m)^T R(n) - R(n - m) = {reduced}")
    return Witness(True, f"d = {2 * pairs}: R(m)^T R(n) = R(n - m)")


every_d_derivation = Derivation(
    slug="rope-relative-score-every-d",
    title="RoPE in every dimension, and its two layouts",
    topic=TOPIC,
    intro=(
        "With $d = 2h$ the rotation $R(m)$ is block-diagonal: pair $j$ turns by $m\\theta_j$, "
        "$\\theta_j = 10000^{-2(j-1)/d}$, the frequencies of the sinusoidal encoding. Write $q_{j1}, q_{j2}$ for "
        "the two coordinates of pair $j$. The score is a sum over pairs of the one-pair score "
        "(derivation rope-relative-score). $d$ must be even."
    ),
    lhs=_score(m, n),
    lhs_latex="\\langle R(m) q, R(n) k \\rangle",
    notation={r"\langle R(m) q, R(n) k \rangle": _score(m, n), r"\langle R(m + s) q, R(n + s) k \rangle": _score(m + s, n + s),
              r"(R(n - m) k)_{j1}": _rotated(K, n - m, 1), r"(R(n - m) k)_{j2}": _rotated(K, n - m, 2),
              r"\langle q, R(n - m) k \rangle": RELATIVE, "i": sp.Symbol("i", integer=True), "d": 2 * h},
    sizes={h: Size(prove=range(1, 4), numeric=64)},
    domains={th: "positive"},
    steps=[
        Step(RELATIVE, "in each pair, $R(m)^{\\top} R(n) = R(n - m)$",
             latex="\\sum_{j=1}^{h} \\left(q_{j1} (R(n - m) k)_{j1} + q_{j2} (R(n - m) k)_{j2}\\right) "
                   "= \\langle q, R(n - m) k \\rangle", cite=ROFORMER),
    ],
    claims=[
        Claim(r"the score depends only on $n - m$: shifting both positions by $s$ changes nothing", _score(m + s, n + s),
              _score(m, n), why="$(n + s) - (m + s) = n - m$",
              latex=r"\langle R(m + s)\, q, R(n + s)\, k \rangle = \langle R(m)\, q, R(n)\, k \rangle"),
        Property(r"the NumPy reference rope scores equal $\langle q, R(n - m) k \rangle$ and are shift invariant, both layouts",
                 exact=_reference_scores_exact, numeric=_reference_scores_numeric, general=_reference_scores_general,
                 why="the block-diagonal $R(m)^{\\top} R(n) = R(n - m)$"),
        Property(r"layouts: interleaved pairs (coordinates $2i$ and $2i + 1$) and rotate-half pairs ($i$ and $i + d/2$) "
                 r"differ; with $P$ the permutation that lists the even coordinates first, then the odd ones, the "
                 r"rotate-half rotation is $P$ times the interleaved one times $P^{\top}$",
                 exact=_layouts_exact, numeric=_layouts_numeric,
                 why="P sends coordinate $2i$ to $i$ and $2i+1$ to $i + d/2$, so it sends each interleaved pair "
                     "onto the matching rotate-half pair"),
    ],
    outro=(
        "Only the query and the key are rotated. The value is not: the output $\\sum_n P_{mn} v_n$ then depends on "
        "positions only through the scores, which depend only on $n - m$, so shifting a whole sequence leaves every "
        "output unchanged. A model trained with one layout (GPT-J and the paper interleave; GPT-NeoX and Llama "
        "rotate halves) gives different numbers under the other unless the rows of $W^Q$ and $W^K$ are permuted by $P$. "
        "Unlike the sinusoidal dot product, the score is not even in $n - m$: RoPE can tell before from after."
    ),
    cite=(ROFORMER,),
    figures=[Figure("rope-score-by-offset", rope_score_by_offset,
                    "$\\langle R(m) q, R(n) k \\rangle$ for fixed random $q$, $k$ in $d = 128$, against $n - m$, with $m = 0$ and "
                    "$m = 400$: the curves coincide, and are not symmetric.")],
)
