"""RMSNorm: LayerNorm without the mean. Its Jacobian, what J x and J 1 say, and the backward pass.

Index notation, 1-based, over n features, with eps explicit: r = sqrt(mean(x^2) + eps), as
PyTorch's F.rms_norm computes it (Zhang and Sennrich 2019; Llama). Nothing is subtracted, so a
constant added to every feature is not removed (J 1 != 0, unlike LayerNorm's J 1 = 0); what
RMSNorm removes is the scale of x (J x = eps x / r^3, exactly 0 when eps = 0).
"""

import numpy as np
import sympy as sp
from sympy import Derivative, IndexedBase, KroneckerDelta, Lambda, Sum, sqrt

from symformer import (
    Claim, Derivation, Domain, Gradient, Jacobian, Property, Size, Step, Witness, all_hold, identity_for_all, positive_terms,
)
from symformer.export import WorkedExample
from symformer.reference.layernorm import layer_norm_jacobian
from symformer.reference.norms import rms_norm, rms_norm_backward, rms_norm_jacobian

ORDER = 82
TOPIC = "RMSNorm"
ZHANG = "zhang2019root, section 4"

n = sp.Symbol("n", integer=True, positive=True)
i, j, k, a, s = sp.symbols("i j k a s", integer=True)  # s: a summation dummy that is no free index
x = IndexedBase("x", shape=(n,), real=True)
w = IndexedBase("w", shape=(n,), real=True)
dy = IndexedBase("dy", shape=(n,), real=True)
g = IndexedBase("g", shape=(n,))
xh = IndexedBase("xhat", shape=(n,))
eps = sp.Symbol("epsilon", positive=True)
r = sp.Symbol("r", positive=True)
delta = KroneckerDelta

SIZES = {n: Size(prove=range(1, 6), numeric=16)}
# eps drawn from [0.01, 0.1]: its terms (J x = eps x / r^3) stay far above float64 rounding, so a
# derivation that dropped eps fails its numeric checks.
SMALL_POSITIVE = Domain(
    "small positive",
    lambda rng, shape: rng.uniform(0.01, 0.1, shape),
    lambda rng, shape: np.vectorize(lambda v: sp.Rational(int(v), 1000), otypes=[object])(rng.integers(10, 100, shape)),
)
NORMALISE = {xh: Lambda(a, x[a] / r), r: sqrt(Sum(x[k] ** 2, (k, 1, n)) / n + eps)}
JACOBIAN = (delta(i, j) - x[i] * x[j] / (n * r**2)) / r


def _integers(size, seed):
    values = [sp.Integer(int(v)) for v in np.random.default_rng(seed).integers(-9, 10, size)]
    if not any(values):
        values[0] = sp.Integer(1)
    return values


def _rank_exact(sizes):
    """r J = I - x x^T / (n r^2) is rational for rational x and eps: its rank is exact."""
    size = sizes[n]
    values = _integers(size, size)
    mean_square = sum(v**2 for v in values) / size
    ranks = {}
    for epsilon in (sp.Rational(1, 100), sp.Integer(0)):
        scaled = sp.Matrix(size, size, lambda p, q: (1 if p == q else 0) - values[p] * values[q] / (size * (mean_square + epsilon)))
        ranks[epsilon] = scaled.rank()
    holds = ranks[sp.Rational(1, 100)] == size and ranks[0] == size - 1
    return Witness(holds, f"rank {ranks[sp.Rational(1, 100)]} with eps = 1/100, {ranks[0]} with eps = 0 at x = {values}")


def _rank_numeric(rng, sizes):
    size = sizes[n]
    row = rng.standard_normal(size)
    with_eps = int(np.linalg.matrix_rank(rms_norm_jacobian(row, eps=1e-2), tol=1e-9))
    without = int(np.linalg.matrix_rank(rms_norm_jacobian(row, eps=0.0), tol=1e-9))
    holds = with_eps == size and without == size - 1
    return Witness(holds, f"numerical rank {with_eps} with eps = 1e-2, {without} with eps = 0")


def _shift_exact(sizes):
    """J 1 = 0 for LayerNorm, not for RMSNorm: at x = (1, 0, ..., 0) and eps = 1/100, exactly."""
    size = sizes[n]
    square = sp.Rational(1, size) + sp.Rational(1, 100)  # r^2 at x = e_1
    scaled = 1 - sp.Rational(1, size) / square  # r (J 1)_1 = 1 - x_1 mean(x) / r^2, rational
    return Witness(scaled != 0, f"r (J 1)_1 = {scaled} at x = e_1, eps = 1/100")


def _shift_numeric(rng, sizes):
    size = sizes[n]
    if size < 2:
        return None  # LayerNorm of one feature is constant: there is nothing to contrast
    row = rng.standard_normal(size) + 1.0
    rms_shift = float(np.abs(rms_norm_jacobian(row, eps=1e-5) @ np.ones(size)).max())
    ln_shift = float(np.abs(layer_norm_jacobian(row, eps=1e-5) @ np.ones(size)).max())
    holds = rms_shift > 1e-3 and ln_shift < 1e-12
    return Witness(holds, f"max |J 1|: RMSNorm {rms_shift:.3g}, LayerNorm {ln_shift:.2g}")


def _shift_general(sizes):
    # at x = 1 (every feature 1): r^2 = 1 + eps, and every entry of J 1 is eps / (1 + eps)^(3/2) > 0
    ones = {**NORMALISE, x: Lambda(a, sp.Integer(1))}
    entry = eps / (1 + eps) ** sp.Rational(3, 2)
    return all_hold(
        identity_for_all(Sum(JACOBIAN.xreplace({j: s}), (s, 1, n)), entry, {i: n}, definitions=ones,
                         what="at x = 1, (J 1)_i = eps / (1 + eps)^(3/2)"),
        positive_terms(entry, what="eps / (1 + eps)^(3/2) > 0"),
        summary="at x = 1, every entry of J 1 is eps / (1 + eps)^(3/2) (index prover), which is > 0 (term by term)",
    )


def _rank_general(sizes):
    # r J y = y - x (x.y) / (n r^2) puts the kernel inside span{x}; J x = eps x / r^3 is not 0 for eps > 0
    # (x != 0), so the kernel is {0}, and is 0 for eps = 0, so the kernel is span{x}.
    y = IndexedBase("y", shape=(n,), real=True)
    without_eps = {**NORMALISE, r: sqrt(Sum(x[k] ** 2, (k, 1, n)) / n)}
    applied = Sum((r * JACOBIAN * y[j]).xreplace({j: s}), (s, 1, n))
    projected = y[i] - x[i] * Sum(x[k] * y[k], (k, 1, n)) / (n * r**2)
    on_x = Sum((JACOBIAN * x[j]).xreplace({j: s}), (s, 1, n))
    return all_hold(
        identity_for_all(applied, projected, {i: n}, definitions=NORMALISE, what="r J y = y - x (x.y) / (n r^2) at eps > 0"),
        identity_for_all(applied, projected, {i: n}, definitions=without_eps, what="r J y = y - x (x.y) / (n r^2) at eps = 0"),
        identity_for_all(on_x, eps * x[i] / r**3, {i: n}, definitions=NORMALISE, what="J x = eps x / r^3"),
        positive_terms(eps / r**3, definitions=NORMALISE, what="eps / r^3 > 0"),
        identity_for_all(on_x, 0, {i: n}, definitions=without_eps, what="J x = 0 at eps = 0"),
        summary="r J y = y - x (x.y) / (n r^2), J x = eps x / r^3 with eps / r^3 > 0, and J x = 0 at eps = 0 "
                "(index prover, term by term): the kernel is 0, and span of x at eps = 0",
    )


rmsnorm_jacobian_derivation = Derivation(
    slug="rmsnorm-jacobian",
    title="The RMSNorm Jacobian",
    topic=TOPIC,
    intro=(
        r"RMSNorm rescales each vector of $n$ features by its root mean square, "
        r"$r = \sqrt{\frac{1}{n}\sum_k x_k^2 + \epsilon}$, and $\hat x_i = x_i / r$. Unlike LayerNorm it does not "
        r"subtract the mean: one reduction instead of two, and Llama and most recent models use it. "
        r"The $\epsilon$ inside the root is PyTorch's convention; it stays explicit, because the rank of the "
        r"Jacobian depends on whether it is zero."
    ),
    lhs=Derivative(xh[i], x[j]),
    definitions=NORMALISE,
    domains={eps: SMALL_POSITIVE},
    sizes=SIZES,
    indices={i: n, j: n},
    steps=[
        Step((delta(i, j) * r - x[i] * Derivative(r, x[j])) / r**2, r"quotient rule, with $\partial x_i / \partial x_j = \delta_{ij}$"),
        Step((delta(i, j) * r - x[i] * x[j] / (n * r)) / r**2, r"$\partial r / \partial x_j = x_j / (n r)$ (claim below)"),
        Step(JACOBIAN, r"divide by $r^2$; in matrix form $J = \frac{1}{r}\left(I - \frac{x x^{\top}}{n r^2}\right)$", cite=ZHANG),
    ],
    claims=[
        Claim(r"$\frac{\partial r}{\partial x_j} = \frac{x_j}{n r}$", Derivative(r, x[j]), x[j] / (n * r),
              why=r"chain rule through the root: $\partial r / \partial x_j = \frac{1}{2r} \cdot \frac{2 x_j}{n}$"),
        Claim(r"$J$ is symmetric", JACOBIAN, JACOBIAN.xreplace({i: j, j: i}), why="every term is symmetric in $i$ and $j$"),
        Claim("the Jacobian applied to x itself is eps x / r cubed: with no eps, rescaling x changes nothing", Sum((JACOBIAN * x[j]).xreplace({j: s}), (s, 1, n)),
              eps * x[i] / r**3, why=r"$\sum_j x_j^2 = n (r^2 - \epsilon)$, so $x_i - x_i (r^2 - \epsilon) / r^2 = \epsilon x_i / r^2$"),
        Claim("the Jacobian applied to the ones vector: adding a constant to every feature does change the output",
              Sum(JACOBIAN.xreplace({j: s}), (s, 1, n)), (1 - x[i] * Sum(x[s], (s, 1, n)) / (n * r**2)) / r,
              why=r"the mean is not subtracted; LayerNorm's $J \mathbf{1} = 0$ (derivation layernorm-jacobian) is the price of its extra reduction"),
        Property("unlike LayerNorm, the Jacobian does not send the ones vector to zero", exact=_shift_exact, numeric=_shift_numeric,
                 general=_shift_general,
                 why=r"at $x = e_1$ the first row sums to $(1 - 1/(n r^2)) / r \ne 0$; LayerNorm's rows sum to 0"),
        Property("the Jacobian has full rank with eps above zero, and loses one dimension (the direction of x) with eps zero", exact=_rank_exact, numeric=_rank_numeric,
                 general=_rank_general,
                 why=r"$I - x x^{\top} / (n r^2)$ has eigenvalue $\epsilon / r^2$ on $x$ and 1 on $x^{\perp}$: with $\epsilon = 0$, "
                     r"the kernel is span$\{x\}$ (one dimension, where LayerNorm loses two)"),
    ],
    result=Jacobian(forward=lambda x, epsilon: rms_norm(x, eps=epsilon),
                    reference=lambda x, epsilon: rms_norm_jacobian(x, eps=epsilon), wrt="x", indices=(i, j)),
    cite=(ZHANG,),
)


rmsnorm_weighted_jacobian_derivation = Derivation(
    slug="rmsnorm-weighted-jacobian",
    title=r"RMSNorm with its weight: $\partial y / \partial x = \operatorname{diag}(w)\, J$",
    topic=TOPIC,
    intro=r"The learned weight acts elementwise after the normalisation, $y_i = w_i \hat x_i$; RMSNorm has no bias.",
    lhs=Derivative(w[i] * xh[i], x[j]),
    definitions=NORMALISE,
    domains={eps: SMALL_POSITIVE},
    sizes=SIZES,
    indices={i: n, j: n},
    steps=[
        Step(w[i] * Derivative(xh[i], x[j]), "$w$ does not depend on $x$"),
        Step(w[i] * JACOBIAN, r"the RMSNorm Jacobian (derivation rmsnorm-jacobian): "
                              r"$\partial y / \partial x = \operatorname{diag}(w)\, J$, no longer symmetric"),
    ],
    result=Jacobian(forward=lambda x, w, epsilon: rms_norm(x, w, eps=epsilon),
                    reference=lambda x, w, epsilon: rms_norm_jacobian(x, w, eps=epsilon), wrt="x", indices=(i, j)),
)


BACKWARD = (g[j] - x[j] * Sum(g[s] * x[s], (s, 1, n)) / (n * r**2)) / r

rmsnorm_backward_derivation = Derivation(
    slug="rmsnorm-backward",
    title="The RMSNorm backward pass",
    topic=TOPIC,
    intro=(
        r"Given $dy = \partial L / \partial y$, the gradient with respect to $x$ is $J^{\top}$ applied to "
        r"$g = w \odot dy$, the gradient that reaches $\hat x$; no $n \times n$ matrix is formed."
    ),
    lhs=Sum(dy[i] * w[i] * JACOBIAN, (i, 1, n)),
    definitions={**NORMALISE, g: Lambda(a, w[a] * dy[a])},
    domains={eps: SMALL_POSITIVE},
    sizes=SIZES,
    indices={j: n},
    steps=[
        Step(Sum(g[i] * JACOBIAN, (i, 1, n)), r"write $g_i = w_i\, dy_i$"),
        Step(BACKWARD, r"the delta picks $i = j$: $dx = \left(g - \hat x \operatorname{mean}(g \odot \hat x)\right) / r$"),
    ],
    claims=[
        Claim(r"$dw_j$: the gradient of the weight is $dy_j \hat{x}_j$", Derivative(Sum(dy[k] * w[k] * xh[k], (k, 1, n)), w[j]),
              dy[j] * xh[j], why="$y_k$ depends on $w_j$ only for $k = j$"),
        Claim("the input gradient's component along x is proportional to eps: with no eps, the gradient is orthogonal to x",
              Sum(x[j] * BACKWARD, (j, 1, n)), eps * Sum(g[s] * x[s], (s, 1, n)) / r**3,
              why=r"$J x = \epsilon x / r^3$ and $J$ is symmetric; LayerNorm's $dx$ is orthogonal to $\mathbf{1}$ instead"),
    ],
    result=Gradient(forward=lambda x, w, dy, epsilon: float(np.sum(dy * rms_norm(x, w, eps=epsilon))),
                    reference=lambda x, w, dy, epsilon: rms_norm_backward(x, dy, w, eps=epsilon)[0], wrt="x", indices=(j,)),
    cite=(ZHANG,),
)


EXAMPLE = WorkedExample(
    rmsnorm_jacobian_derivation,
    inputs={"x": [1, 2, 2], "epsilon": "1/100"},
    shows=[(r"\hat x = x / r", xh[i], lambda x, epsilon: rms_norm(x, eps=epsilon)),
           (r"J = \frac{1}{r}\Bigl(I - \frac{x x^{\top}}{n r^2}\Bigr)", None,
            lambda x, epsilon: rms_norm_jacobian(x, eps=epsilon))],
    title="RMSNorm of $(1, 2, 2)$",
    text=r"The mean square is $\frac{1}{3}(1 + 4 + 4) = 3$, so $r = \sqrt{3 + 1/100}$; the mean, $5/3$, is not subtracted.",
)
