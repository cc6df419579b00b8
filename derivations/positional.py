"""Sinusoidal positional encodings (Vaswani et al. 2017, section 3.5): frequencies, the rotation property,
and the dot product of two encodings.

Conventions. The paper's pair index i is 0-based: PE(p, 2i) = sin(omega_i p), PE(p, 2i + 1) =
cos(omega_i p), omega_i = 10000^(-2i/d), i = 0 .. d/2 - 1. Index notation here is 1-based and counts
pairs: pair j = i + 1 of d = 2h dimensions holds (sin(omega_j p), cos(omega_j p)). The rotation
property is first proved for one pair with symbolic p, k and omega (2 x 2 matrices), then for every
number of pairs h in index notation, because T(k) is block-diagonal.
"""

import numpy as np
import sympy as sp
from sympy import IndexedBase, KroneckerDelta, Sum, cos, pi, sin

from symformer import Claim, Derivation, Figure, Property, Size, Step, Witness, all_hold, identity_for_all
from symformer.figures import dot_product_by_offset, encoding_heatmap, rotation_on_circle
from symformer.reference import rotation_matrix, sinusoidal_encoding, sinusoidal_frequencies
from symformer.export import WorkedExample

ORDER = 60
TOPIC = "Positional encodings"
VASWANI = "vaswani2017attention, section 3.5"

p, q, k, s, a, b = sp.symbols("p q k s a b", real=True)
omega = sp.Symbol("omega", positive=True)
i = sp.Symbol("i", real=True)
d = sp.Symbol("d", positive=True)
omega_i = sp.Symbol("omega_i", positive=True)


# --- frequencies and wavelengths ----------------------------------------------------------------

WAVELENGTH = 2 * pi * 10000 ** (2 * i / d)
LONGEST = 2 * pi * 10000 ** ((d - 2) / d)


def _wavelength_range_exact(sizes):
    """For every even d from 2 to 64: 1 <= 10000^((d-2)/d) < 10000, with exact rational exponents."""
    for width in range(2, 66, 2):
        longest = sp.Integer(10000) ** sp.Rational(width - 2, width)
        if not (longest >= 1 and longest < 10000):
            return Witness(False, f"at d = {width} the longest wavelength is 2 pi * {longest}")
        if sp.Integer(10000) / longest != sp.Integer(10000) ** sp.Rational(2, width):
            return Witness(False, f"at d = {width} the longest wavelength is not 2 pi 10000 / 10000^(2/d)")
    return Witness(True, "2 pi <= wavelength <= 2 pi 10000^((d-2)/d) < 2 pi 10000 for d = 2, 4, ..., 64")


def _wavelength_range_numeric(rng, sizes):
    worst = 0.0
    for width in (2, 4, 16, 128, 512, 1024):
        wavelengths = 2 * np.pi / sinusoidal_frequencies(width)
        expected = 2 * np.pi * 10000 ** ((width - 2) / width)
        worst = max(worst, abs(wavelengths.max() - expected) / expected, abs(wavelengths.min() - 2 * np.pi) / (2 * np.pi))
        if not wavelengths.max() < 2 * np.pi * 10000:
            return Witness(False, f"at d = {width} the reference reaches 2 pi 10000")
        # column 2i of the reference encoding repeats after one wavelength of pair i
        pair = int(rng.integers(0, width // 2))
        start = float(rng.uniform(-50, 50))
        here = sinusoidal_encoding(1, width, start=start)[0, 2 * pair]
        later = sinusoidal_encoding(1, width, start=start + wavelengths[pair])[0, 2 * pair]
        worst = max(worst, abs(here - later))
    return Witness(bool(worst < 1e-9), f"largest deviation {worst:.3g}", float(worst))


frequencies_derivation = Derivation(
    slug="sinusoidal-wavelengths",
    title="Frequencies and wavelengths of the sinusoidal encoding",
    topic=TOPIC,
    intro=(
        "The encoding of position $p$ in $d$ dimensions is $PE(p, 2i) = \\sin(\\omega_i p)$, "
        "$PE(p, 2i+1) = \\cos(\\omega_i p)$ with $\\omega_i = 10000^{-2i/d}$ for $i = 0, \\dots, d/2 - 1$. "
        "Pair $i$ repeats after the wavelength $\\lambda_i = 2\\pi / \\omega_i$. The paper says the wavelengths "
        "form a geometric progression from $2\\pi$ to $10000 \\cdot 2\\pi$; the last pair is $i = d/2 - 1$, "
        "so the longest is a little shorter."
    ),
    lhs=2 * pi / omega_i,
    lhs_latex="\\lambda_i = \\frac{2\\pi}{\\omega_i}",
    notation={r"\lambda_i": 2 * pi / omega_i},
    definitions={omega_i: 10000 ** (-2 * i / d)},
    domains={d: "positive"},
    steps=[
        Step(2 * pi / 10000 ** (-2 * i / d), "the frequency of pair $i$", cite=VASWANI),
        Step(WAVELENGTH, "$1 / 10000^{-x} = 10000^{x}$: the wavelength grows geometrically with $i$"),
    ],
    claims=[
        Claim(r"the shortest wavelength, pair $i = 0$, is $2\pi$", WAVELENGTH.subs(i, 0), 2 * pi),
        Claim(r"the longest wavelength, pair $i = d/2 - 1$, is $2\pi \cdot 10000^{(d-2)/d}$", WAVELENGTH.subs(i, d / 2 - 1), LONGEST,
              why="$2(d/2 - 1)/d = (d - 2)/d$"),
        Claim(r"it falls short of $2\pi \cdot 10000$ by the factor $10000^{2/d}$", 2 * pi * 10000 / LONGEST, 10000 ** (2 / d),
              why="$1 - (d-2)/d = 2/d$; for $d = 512$ the factor is $1.037$, for $d = 4$ it is $100$"),
        Claim(r"consecutive wavelengths have the constant ratio $10000^{2/d}$", WAVELENGTH.subs(i, i + 1) / WAVELENGTH,
              10000 ** (2 / d), why="a geometric progression"),
        Property(r"every wavelength lies between $2\pi$ and $2\pi \cdot 10000^{(d-2)/d}$, below $2\pi \cdot 10000$, "
                 r"and the reference encoding repeats after it", exact=_wavelength_range_exact, numeric=_wavelength_range_numeric,
                 why="$0 \\le 2i/d \\le (d-2)/d < 1$"),
    ],
    cite=(VASWANI,),
    figures=[Figure("encoding-heatmap", encoding_heatmap,
                    "The encoding of positions 0 to 99 in $d = 128$ dimensions: the first pairs oscillate fast, "
                    "the last ones barely move over 100 positions.")],
)


# --- the rotation property, one frequency pair -------------------------------------------------


def T(t):
    """The rotation that advances one (sin, cos) pair by t positions."""
    return sp.ImmutableMatrix([[cos(omega * t), sin(omega * t)], [-sin(omega * t), cos(omega * t)]])


def PE(t):
    """One frequency pair of the encoding of position t: (PE(t, 2i), PE(t, 2i + 1))."""
    return sp.ImmutableMatrix([sin(omega * t), cos(omega * t)])


def _pairs(*positions):
    return sp.ImmutableMatrix.hstack(*(PE(t) for t in positions))


rotation_derivation = Derivation(
    slug="sinusoidal-rotation",
    notation={"T": T, "PE": PE},
    title="The rotation property: $PE(p + k) = T(k)\\, PE(p)$",
    topic=TOPIC,
    intro=(
        "The paper chose sinusoids because 'for any fixed offset $k$, $PE_{pos+k}$ can be represented as a linear "
        "function of $PE_{pos}$'. Here is the proof, for one frequency pair $(\\sin \\omega p, \\cos \\omega p)$ with "
        "$p$, $k$ and $\\omega$ all symbolic."
    ),
    lhs=PE(p + k),
    lhs_latex="\\begin{pmatrix} \\sin \\omega (p + k) \\\\ \\cos \\omega (p + k) \\end{pmatrix}",
    steps=[
        Step(sp.ImmutableMatrix([sin(omega * p) * cos(omega * k) + cos(omega * p) * sin(omega * k),
                                 cos(omega * p) * cos(omega * k) - sin(omega * p) * sin(omega * k)]),
             "the angle-addition formulas for $\\sin(x + y)$ and $\\cos(x + y)$"),
        Step(sp.MatMul(T(k), PE(p)),
             "the same two lines as a matrix times the pair at position $p$: $PE(p + k) = T(k)\\, PE(p)$",
             cite=VASWANI),
    ],
    claims=[
        Claim(r"$T(k)$ is orthogonal: $T(k)^{\top} T(k) = I$", sp.MatMul(T(k).T, T(k)), sp.eye(2),
              why="$\\cos^2 + \\sin^2 = 1$; the map preserves length, $|PE(p)| = |PE(p + k)|$"),
        Claim(r"one $T(k)$ serves every position: $T(k) \begin{pmatrix} PE(p) & PE(q) \end{pmatrix} = \begin{pmatrix} PE(p + k) & PE(q + k) \end{pmatrix}$",
              sp.MatMul(T(k), _pairs(p, q)), _pairs(p + k, q + k),
              why="$p$ does not occur in $T(k)$"),
        Claim(r"two positions determine $T(k)$: $\det \begin{pmatrix} PE(p) & PE(q) \end{pmatrix} = \sin(\omega (p - q))$",
              sp.Determinant(_pairs(p, q)), sin(omega * (p - q)),
              why="where this is not 0, $T(k) = [PE(p+k), PE(q+k)]\\,[PE(p), PE(q)]^{-1}$, so no other matrix "
                  "maps every $PE(p)$ to $PE(p + k)$: $T(k)$ cannot depend on $p$"),
        Claim(r"offsets add: $T(a) T(b) = T(a + b)$", sp.MatMul(T(a), T(b)), T(a + b),
              why="rotations by $\\omega a$ and $\\omega b$ compose to one by $\\omega(a + b)$"),
        Claim(r"going back is the transpose: $T(-k) = T(k)^{\top}$", T(-k), T(k).T,
              why="$\\cos$ is even and $\\sin$ is odd"),
        Claim(r"$T(0) = I$", T(0), sp.eye(2), why="no offset, no rotation"),
    ],
    outro=(
        "In the plane with axes $(\\sin, \\cos)$ the pair is a point on the unit circle at angle $\\omega p$ from the "
        "top, moving clockwise; advancing $k$ positions turns it by $\\omega k$, whatever $p$ is. For $d$ dimensions "
        "$T(k)$ is block-diagonal with one such block per pair (derivation sinusoidal-rotation-every-d)."
    ),
    cite=(VASWANI,),
    figures=[Figure("rotation-on-circle", rotation_on_circle,
                    "One frequency pair of the encoding, $(PE(p, 2), PE(p, 3))$, for $p = 0, \\dots, 11$: the point turns by "
                    "the same angle at every step, so an offset of $k$ is the same rotation from any start.")],
)


# --- the rotation property, every d --------------------------------------------------------------

h = sp.Symbol("h", integer=True, positive=True)  # number of pairs, d = 2h
j, l = sp.symbols("j l", integer=True)
w = IndexedBase("omega", shape=(h,), positive=True)
delta = KroneckerDelta
PAIRS = {h: Size(prove=range(1, 5), numeric=512)}


def _block_rotation_exact(sizes):
    """At d = 2h: assemble T(k) from 2 x 2 blocks with symbolic omega_1..omega_h; check T PE(p) = PE(p+k), T^T T = I."""
    pairs = sizes[h]
    omegas = sp.symbols(f"omega1:{pairs + 1}", positive=True)
    blocks = [sp.Matrix([[cos(o * k), sin(o * k)], [-sin(o * k), cos(o * k)]]) for o in omegas]
    rotation = sp.diag(*blocks)

    def encoding(t):
        return sp.Matrix([f(o * t) for o in omegas for f in (sin, cos)])

    # angle addition by expand_trig, and sin^2 = 1 - cos^2: both exact rewrites
    moved = (rotation * encoding(p) - encoding(p + k)).applyfunc(lambda e: sp.expand(sp.expand_trig(sp.expand(e))))
    unit_circle = {sin(o * k) ** 2: 1 - cos(o * k) ** 2 for o in omegas}
    orthogonal = (rotation.T * rotation - sp.eye(2 * pairs)).applyfunc(lambda e: sp.expand(sp.expand(e).subs(unit_circle)))
    if moved != sp.zeros(2 * pairs, 1) or orthogonal != sp.zeros(2 * pairs, 2 * pairs):
        return Witness(False, f"at d = {2 * pairs}: T PE(p) - PE(p + k) = {list(moved)}")
    return Witness(True, f"d = {2 * pairs}: T(k) PE(p) = PE(p + k) and T^T T = I")


def _block_rotation_numeric(rng, sizes):
    width = 2 * sizes[h]
    worst = 0.0
    for layout in ("interleaved", "split"):
        for _ in range(3):
            start, offset = float(rng.integers(0, 10001)), float(rng.integers(-10000, 10001))
            rotation = rotation_matrix(offset, width, layout=layout)
            moved = rotation @ sinusoidal_encoding(1, width, layout=layout, start=start)[0]
            target = sinusoidal_encoding(1, width, layout=layout, start=start + offset)[0]
            worst = max(worst, np.linalg.norm(moved - target) / np.linalg.norm(target))
        worst = max(worst, np.abs(rotation.T @ rotation - np.eye(width)).max())
    return Witness(bool(worst < 1e-12), f"largest relative deviation {worst:.3g}", float(worst))


def _block(row_pair, column_pair, row, column):
    """T(k)'s entry at row (pair, 0 sin | 1 cos) and column (pair, 0 | 1): a rotation block when the pairs agree."""
    c, s_ = cos(w[column_pair] * k), sin(w[column_pair] * k)
    return delta(row_pair, column_pair) * [[c, s_], [-s_, c]][row][column]


def _block_rotation_general(sizes):
    # In index notation for every h: (T PE(p))_(j, sin) = sin(omega_j (p + k)) and (T PE(p))_(j, cos) = cos(...),
    # and (T^T T)_((j, a), (l, b)) = delta_jl delta_ab, summing over the pairs m and the two rows of each.
    m_ = sp.Symbol("m", integer=True)
    ranges = {j: h, l: h}
    pieces = [
        identity_for_all(Sum(_block(j, l, 0, 0) * sin(w[l] * p) + _block(j, l, 0, 1) * cos(w[l] * p), (l, 1, h)),
                         sin(w[j] * (p + k)), {j: h}, what="T(k) PE(p) = PE(p + k), sine rows"),
        identity_for_all(Sum(_block(j, l, 1, 0) * sin(w[l] * p) + _block(j, l, 1, 1) * cos(w[l] * p), (l, 1, h)),
                         cos(w[j] * (p + k)), {j: h}, what="T(k) PE(p) = PE(p + k), cosine rows"),
    ]
    for a_, b_ in ((0, 0), (0, 1), (1, 0), (1, 1)):
        gram = Sum(sum(_block(m_, j, r, a_) * _block(m_, l, r, b_) for r in (0, 1)), (m_, 1, h))
        pieces.append(identity_for_all(gram, delta(j, l) * int(a_ == b_), ranges, what=f"T^T T = I, block entry {a_ + 1}{b_ + 1}"))
    return all_hold(*pieces, summary="T(k) PE(p) = PE(p + k) and T(k)^T T(k) = I entry by entry (index prover); "
                                     "the reference's agreement is the float64 witness's")


ROTATED_SIN = Sum(delta(j, l) * (cos(w[l] * k) * sin(w[l] * p) + sin(w[l] * k) * cos(w[l] * p)), (l, 1, h))

rotation_every_d_derivation = Derivation(
    slug="sinusoidal-rotation-every-d",
    title="The rotation property in every dimension: $T(k)$ is block-diagonal",
    topic=TOPIC,
    intro=(
        "With $d = 2h$ dimensions the encoding is $h$ pairs, pair $j$ rotating at $\\omega_j$. $T(k)$ is "
        "block-diagonal: row $(j, \\sin)$ of $T(k) PE(p)$ only reads pair $j$ of $PE(p)$, through the entries "
        "$\\delta_{jl}$ below. So the one-pair proof (derivation sinusoidal-rotation) holds for every $d$, "
        "and here it is again for symbolic $h$."
    ),
    lhs=ROTATED_SIN,
    lhs_latex="\\left(T(k)\\, PE(p)\\right)_{2j-1} = \\sum_{l=1}^{h} \\delta_{jl} \\left(\\cos(\\omega_l k) \\sin(\\omega_l p) "
              "+ \\sin(\\omega_l k) \\cos(\\omega_l p)\\right)",
    notation={r"\left(T(k)\, PE(p)\right)_{2j-1}": ROTATED_SIN, r"PE(p + k)_{2j}": cos(w[j] * (p + k)),
              r"\left(T(k)\, PE(p)\right)_{2j}": Sum(delta(j, l) * (-sin(w[l] * k) * sin(w[l] * p) + cos(w[l] * k) * cos(w[l] * p)), (l, 1, h))},
    sizes=PAIRS,
    domains={w: "positive"},
    indices={j: h},
    steps=[
        Step(cos(w[j] * k) * sin(w[j] * p) + sin(w[j] * k) * cos(w[j] * p),
             "block-diagonal: only the block $l = j$ is nonzero"),
        Step(sin(w[j] * (p + k)), "angle addition: this is $PE(p + k)_{2j-1}$", cite=VASWANI),
    ],
    claims=[
        Claim(r"the cosine row: $(T(k)\, PE(p))_{2j} = \cos(\omega_j (p + k)) = PE(p + k)_{2j}$",
              Sum(delta(j, l) * (-sin(w[l] * k) * sin(w[l] * p) + cos(w[l] * k) * cos(w[l] * p)), (l, 1, h)),
              cos(w[j] * (p + k)), why="angle addition for $\\cos$"),
        Property(r"assembled in $2h$ dimensions, the rotation maps each encoding to the one $k$ positions on and is "
                 r"orthogonal; the NumPy reference agrees to $10^{-12}$ relative for positions up to $10^4$, both layouts",
                 exact=_block_rotation_exact, numeric=_block_rotation_numeric, general=_block_rotation_general,
                 why="a block-diagonal matrix of rotations is a rotation"),
    ],
    cite=(VASWANI,),
)


# --- the dot product of two encodings -------------------------------------------------------------


def _dot(x, y):
    return Sum(sin(w[l] * x) * sin(w[l] * y) + cos(w[l] * x) * cos(w[l] * y), (l, 1, h))


COSINES = Sum(cos(w[l] * (p - q)), (l, 1, h))

dot_product_derivation = Derivation(
    slug="sinusoidal-dot-product",
    title="$PE(p) \\cdot PE(q)$ depends only on $p - q$",
    topic=TOPIC,
    intro=(
        "The dot product of two encodings, pair by pair. It is what a dot-product attention score sees of the "
        "positions when the same encoding is added to the query and the key."
    ),
    lhs=_dot(p, q),
    lhs_latex="PE(p) \\cdot PE(q) = \\sum_{l=1}^{h} \\left(\\sin(\\omega_l p) \\sin(\\omega_l q) "
              "+ \\cos(\\omega_l p) \\cos(\\omega_l q)\\right)",
    notation={r"PE(p) \cdot PE(q)": _dot(p, q), r"PE(p + s) \cdot PE(q + s)": _dot(p + s, q + s), r"\|PE(p)\|^2": _dot(p, p)},
    sizes=PAIRS,
    domains={w: "positive"},
    steps=[
        Step(COSINES, "$\\cos(x - y) = \\cos x \\cos y + \\sin x \\sin y$ in every pair"),
    ],
    claims=[
        Claim(r"it depends only on $p - q$: shifting both positions by $s$ changes nothing", _dot(p + s, q + s), _dot(p, q),
              why="$(p + s) - (q + s) = p - q$",
              latex=r"PE(p + s) \cdot PE(q + s) = PE(p) \cdot PE(q)"),
        Claim(r"it is even in $p - q$, so it cannot tell $p$ before $q$ from $p$ after $q$", COSINES,
              Sum(cos(w[l] * (q - p)), (l, 1, h)), why="$\\cos$ is even"),
        Claim(r"$\|PE(p)\|^2 = h$, half the dimension", _dot(p, p), h, why="$\\sin^2 + \\cos^2 = 1$ in each of the $h$ pairs"),
    ],
    outro=(
        "The maximum $h = d/2$ is reached at $p = q$. Because the function is even, a dot product of sinusoidal "
        "encodings alone cannot say whether a key comes before or after the query; RoPE's score can "
        "(derivation rope-relative-score-every-d)."
    ),
    cite=(VASWANI,),
    figures=[Figure("dot-product-by-offset", dot_product_by_offset,
                    "$PE(p) \\cdot PE(q)$ against $p - q$ for $d = 128$, with $q = 0$ and $q = 400$: the two curves coincide "
                    "and are symmetric about 0, with the peak $d/2 = 64$ at $p = q$.")],
)


EXAMPLE = WorkedExample(
    rotation_derivation,
    inputs={"p": 1, "k": 2, "omega": 1},
    shows=[(r"PE(1)", PE(p), lambda p: sinusoidal_encoding(1, 2, start=p)[0]),
           (r"T(2)", T(k), lambda k: rotation_matrix(k, 2)),
           (r"T(2)\, PE(1)", None, lambda p, k: rotation_matrix(k, 2) @ sinusoidal_encoding(1, 2, start=p)[0]),
           (r"PE(3)", PE(p + k), lambda p, k: sinusoidal_encoding(1, 2, start=p + k)[0])],
    title="position 1 moved on by 2",
    text=r"One pair with $\omega = 1$ (the first pair, $i = 0$); the NumPy reference encodes with $d = 2$.",
)
