"""Vectors and dot products: projection, the Cauchy-Schwarz bound, cosine similarity and its gradient.

Index notation, 1-based, for vectors of a general dimension d.
"""

import numpy as np
import sympy as sp
from sympy import Derivative, IndexedBase, Sum, sqrt

from symformer import Claim, Derivation, Gradient, Property, Size, Step, Witness, all_hold, identity_for_all, nonnegative_terms
from symformer.export import WorkedExample
from symformer.reference import cosine_similarity, cosine_similarity_grad

ORDER = 10
TOPIC = "Vectors and dot products"

d = sp.Symbol("d", integer=True, positive=True)
i, j, k = sp.symbols("i j k", integer=True)
u = IndexedBase("u", shape=(d,), real=True)
v = IndexedBase("v", shape=(d,), real=True)
a, b = sp.symbols("a b", positive=True)

SIZES = {d: Size(prove=range(1, 6), numeric=32)}
UV = Sum(u[k] * v[k], (k, 1, d))
UU = Sum(u[k] ** 2, (k, 1, d))
VV = Sum(v[k] ** 2, (k, 1, d))
COSINE = UV / (sqrt(UU) * sqrt(VV))


projection_derivation = Derivation(
    slug="dot-product-projection",
    title="The dot product as a projection",
    topic=TOPIC,
    intro=(
        "The projection of $u$ onto the line of $v$ is $\\frac{u \\cdot v}{v \\cdot v} v$: its signed length is "
        "$u \\cdot v / |v| = |u| \\cos\\theta$. What is left over, $u$ minus its projection, is orthogonal to $v$."
    ),
    lhs=Sum((u[i] - UV / VV * v[i]) * v[i], (i, 1, d)),
    sizes=SIZES,
    steps=[
        Step(Sum(u[i] * v[i], (i, 1, d)) - UV / VV * Sum(v[i] ** 2, (i, 1, d)),
             "distribute; the coefficient $u \\cdot v / v \\cdot v$ does not depend on $i$"),
        Step(sp.Integer(0), "the two sums are $u \\cdot v$ and $v \\cdot v$: the residual is orthogonal to $v$"),
    ],
    claims=[
        Claim(r"the squared length of the projection is $(u \cdot v)^2 / \|v\|^2$",
              Sum((UV / VV * v[i]) ** 2, (i, 1, d)), UV**2 / VV, why="$|c v|^2 = c^2 |v|^2$ with $c = u \\cdot v / v \\cdot v$"),
        Claim(r"Pythagoras: $\|u\|^2$ is the squared length of the projection plus that of the residual",
              UU, Sum((UV / VV * v[i]) ** 2, (i, 1, d)) + Sum((u[i] - UV / VV * v[i]) ** 2, (i, 1, d)),
              why="the cross term is twice the projection times the residual, which is 0"),
    ],
)


def _vectors_exact(size, seed):
    rng = np.random.default_rng(seed)
    first = [sp.Integer(int(t)) for t in rng.integers(-9, 10, size)]
    second = [sp.Integer(int(t)) for t in rng.integers(-9, 10, size)]
    if size >= 2 and first[0] * second[1] == first[1] * second[0]:  # make them not parallel
        second[1] += 1 if first[0] != 0 else 0
        first[0] += 1 if first[0] == 0 else 0
    return first, second


def _gap_exact(first, second):
    dot = sum(p * q for p, q in zip(first, second))
    return sum(p * p for p in first) * sum(q * q for q in second) - dot**2


def _cauchy_schwarz_exact(sizes):
    size = sizes[d]
    first, second = _vectors_exact(size, size)
    gap = _gap_exact(first, second)
    parallel_gap = _gap_exact(first, [sp.Rational(-5, 2) * p for p in first])
    # In one dimension every pair is parallel, so the bound is always tight there.
    strict = gap > 0 if size >= 2 else gap == 0
    holds = bool(strict and parallel_gap == 0)
    return Witness(holds, f"|u|^2 |v|^2 - (u.v)^2 = {gap} at u = {first}, v = {second}; {parallel_gap} for v = -5/2 u")


def _cauchy_schwarz_numeric(rng, sizes):
    size = sizes[d]
    first, second = rng.standard_normal(size), rng.standard_normal(size)
    cos = float(cosine_similarity(first, second))
    tight = float(cosine_similarity(first, -2.5 * first))
    holds = (abs(cos) < 1 if size >= 2 else abs(cos) == 1) and abs(tight + 1) < 1e-12
    return Witness(holds, f"cos = {cos:.6g} for random u, v; {tight:.17g} for v = -2.5 u", abs(tight + 1))


LAGRANGE = Sum(Sum((u[i] * v[j] - u[j] * v[i]) ** 2, (j, 1, d)), (i, 1, d)) / 2


def _cauchy_schwarz_general(sizes):
    # The gap is half a sum of squares: never negative, so (u.v)^2 <= |u|^2 |v|^2; and 0 exactly when
    # every u_i v_j - u_j v_i is 0, which says that u and v are parallel.
    return all_hold(
        identity_for_all(UU * VV - UV**2, LAGRANGE, what="Lagrange's identity |u|^2 |v|^2 - (u.v)^2 = "
                                                          "1/2 sum_i sum_j (u_i v_j - u_j v_i)^2"),
        nonnegative_terms(LAGRANGE, what="each of its terms is >= 0"),
        summary="Lagrange's identity (index prover): the gap is 1/2 sum_i sum_j (u_i v_j - u_j v_i)^2, each term >= 0 "
                "(term by term), and 0 exactly when every u_i v_j = u_j v_i",
    )


cauchy_schwarz_derivation = Derivation(
    slug="cauchy-schwarz",
    title="The Cauchy-Schwarz bound $|u \\cdot v| \\le |u|\\, |v|$",
    topic=TOPIC,
    intro=(
        "The gap $|u|^2 |v|^2 - (u \\cdot v)^2$ is a sum of squares (Lagrange's identity), so it is never "
        "negative, and it is zero exactly when every $u_i v_j - u_j v_i$ is zero: when $u$ and $v$ are parallel."
    ),
    lhs=UU * VV - UV**2,
    sizes=SIZES,
    indices={},
    steps=[
        Step(Sum(Sum(u[i] ** 2 * v[j] ** 2 - u[i] * v[i] * u[j] * v[j], (j, 1, d)), (i, 1, d)),
             "multiply out: a product of two sums is a double sum"),
        Step(Sum(Sum((u[i] * v[j] - u[j] * v[i]) ** 2, (j, 1, d)), (i, 1, d)) / 2,
             "expand the square: $u_i^2 v_j^2$ and $u_j^2 v_i^2$ give the same double sum, as do the two cross terms; "
             "the terms of $(i, j)$ and $(j, i)$ are equal, so this is Lagrange's sum over the pairs $i < j$"),
    ],
    claims=[
        Property(
            r"$|u \cdot v| \le \|u\|\, \|v\|$, with equality exactly when $u$ and $v$ are parallel",
            exact=_cauchy_schwarz_exact,
            numeric=_cauchy_schwarz_numeric,
            general=_cauchy_schwarz_general,
            why="the gap is a sum of squares; it is 0 only when $u_i v_j = u_j v_i$ for every pair",
        ),
    ],
)


cosine_derivation = Derivation(
    slug="cosine-similarity-gradient",
    notation={r"\cos(a u, b v)": Sum(a * u[k] * b * v[k], (k, 1, d)) / (sqrt(Sum((a * u[k]) ** 2, (k, 1, d))) * sqrt(Sum((b * v[k]) ** 2, (k, 1, d)))),
              r"\cos(u, v)": COSINE},
    title="Cosine similarity and its gradient",
    topic=TOPIC,
    intro=(
        "$\\cos(u, v) = \\frac{u \\cdot v}{|u|\\,|v|}$ lies in $[-1, 1]$ by Cauchy-Schwarz and does not change when "
        "either vector is scaled by a positive number. That is why embedding similarity is measured by the cosine: "
        "it compares directions, whatever the lengths of the vectors."
    ),
    lhs=Derivative(COSINE, u[j]),
    sizes=SIZES,
    indices={j: d},
    steps=[
        Step(v[j] / (sqrt(UU) * sqrt(VV)) - UV * u[j] / (UU ** sp.Rational(3, 2) * sqrt(VV)),
             "product rule, with $\\partial |u| / \\partial u_j = u_j / |u|$"),
        Step(v[j] / (sqrt(UU) * sqrt(VV)) - COSINE * u[j] / UU,
             "recognise the cosine: $\\nabla_u \\cos = \\frac{v}{|u||v|} - \\cos(u, v) \\frac{u}{|u|^2}$"),
    ],
    claims=[
        Claim(r"scaling invariance: $\cos(a u, b v) = \cos(u, v)$ for positive $a$ and $b$",
              Sum(a * u[k] * b * v[k], (k, 1, d)) / (sqrt(Sum((a * u[k]) ** 2, (k, 1, d))) * sqrt(Sum((b * v[k]) ** 2, (k, 1, d)))),
              COSINE, why="$a b$ leaves the numerator and $\\sqrt{a^2} \\sqrt{b^2} = a b$ the denominator"),
        Claim(r"the gradient is orthogonal to $u$: lengthening $u$ does not change the cosine",
              Sum((v[j] / (sqrt(UU) * sqrt(VV)) - COSINE * u[j] / UU) * u[j], (j, 1, d)), 0,
              why="$u \\cdot v / (|u||v|) - \\cos(u, v) |u|^2 / |u|^2 = 0$"),
    ],
    result=Gradient(forward=lambda u, v: cosine_similarity(u, v), reference=lambda u, v: cosine_similarity_grad(u, v),
                    wrt="u", indices=(j,)),
)


EXAMPLE = WorkedExample(
    cosine_derivation,
    inputs={"u": [1, 2, 2], "v": [2, 0, 1]},
    shows=[(r"\cos(u, v)", COSINE, lambda u, v: cosine_similarity(u, v)),
           (r"\nabla_u \cos(u, v)", None, lambda u, v: cosine_similarity_grad(u, v))],
    title="the cosine of two vectors and its gradient",
    text=r"$|u| = 3$ and $|v| = \sqrt{5}$; the gradient is orthogonal to $u$.",
)
