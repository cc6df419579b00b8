"""LayerNorm: the Jacobian of the normalisation, with gamma, and the backward pass.

Index notation, 1-based, over H features, with eps explicit everywhere: sigma = sqrt(var + eps)
with the biased variance, as PyTorch computes it (Ba et al. 2016 have no eps).
"""

import numpy as np
import sympy as sp
from sympy import Derivative, IndexedBase, KroneckerDelta, Lambda, Sum, sqrt

from symformer import (
    Claim, Derivation, Domain, Gradient, Jacobian, Property, Size, Step, Witness, all_hold, identity_for_all, positive_terms,
)
from symformer.reference import layer_norm, layer_norm_backward, layer_norm_jacobian
from symformer.export import WorkedExample

ORDER = 80
TOPIC = "LayerNorm"
BA = "ba2016layer, section 3"

H = sp.Symbol("H", integer=True, positive=True)
i, j, k, l, a, r = sp.symbols("i j k l a r", integer=True)  # r: a summation dummy that is no free index
x = IndexedBase("x", shape=(H,), real=True)
g = IndexedBase("gamma", shape=(H,), real=True)
b = IndexedBase("beta", shape=(H,), real=True)
dy = IndexedBase("dy", shape=(H,), real=True)
xh = IndexedBase("xhat", shape=(H,))
eps = sp.Symbol("epsilon", positive=True)
mu, sigma = sp.Symbol("mu", real=True), sp.Symbol("sigma", positive=True)
c = sp.Symbol("c", real=True)
delta = KroneckerDelta

SIZES = {H: Size(prove=range(1, 6), numeric=16)}
# eps is small in practice; drawn from [0.01, 0.1] its terms (J x_hat = eps x_hat / sigma^3) stay far above
# float64 rounding, so a derivation that dropped eps would fail its numeric checks.
SMALL_POSITIVE = Domain(
    "small positive",
    lambda rng, shape: rng.uniform(0.01, 0.1, shape),
    lambda rng, shape: np.vectorize(lambda v: sp.Rational(int(v), 1000), otypes=[object])(rng.integers(10, 100, shape)),
)
NORMALISE = {
    xh: Lambda(a, (x[a] - mu) / sigma),
    mu: Sum(x[l], (l, 1, H)) / H,
    sigma: sqrt(Sum((x[k] - mu) ** 2, (k, 1, H)) / H + eps),
}
JACOBIAN = (delta(i, j) - 1 / H - xh[i] * xh[j] / H) / sigma
# The same Jacobian at x_k = c for every k, written out: mu, sigma and x_hat of a constant row.
_MU_C = Sum(c, (l, 1, H)) / H
_SIGMA_C = sqrt(Sum((c - _MU_C) ** 2, (k, 1, H)) / H + eps)
CONSTANT_ROW_JACOBIAN = (delta(i, j) - 1 / H - ((c - _MU_C) / _SIGMA_C) ** 2 / H) / _SIGMA_C


def _centred_exact(size, seed):
    """Rational x - mu for a non-constant row, and var = mean((x - mu)^2)."""
    values = [sp.Integer(int(v)) for v in np.random.default_rng(seed).integers(-9, 10, size)]
    if len(set(values)) == 1:
        values[0] += 1
    mean = sum(values) / size
    centred = [v - mean for v in values]
    return centred, sum(v**2 for v in centred) / size


def _rank_exact(sizes):
    """sigma J = I - 1 1^T / H - (x - mu)(x - mu)^T / (H (var + eps)) is rational: its rank is exact."""
    size = sizes[H]
    if size < 2:
        return None  # one feature: x_hat = 0 and J = 0, nothing to say about H - 1 or H - 2
    centred, var = _centred_exact(size, size)
    ranks = {}
    for epsilon in (sp.Rational(1, 100), sp.Integer(0)):
        scaled = sp.Matrix(size, size, lambda r, s: (1 if r == s else 0) - sp.Rational(1, size)
                           - centred[r] * centred[s] / (size * (var + epsilon)))
        ranks[epsilon] = scaled.rank()
    holds = ranks[sp.Rational(1, 100)] == size - 1 and ranks[0] == size - 2
    return Witness(holds, f"rank {ranks[sp.Rational(1, 100)]} with eps = 1/100, {ranks[0]} with eps = 0 at x - mu = {centred}")


def _rank_numeric(rng, sizes):
    size = sizes[H]
    if size < 2:
        return None
    row = rng.standard_normal(size)
    with_eps = int(np.linalg.matrix_rank(layer_norm_jacobian(row, eps=1e-2), tol=1e-9))
    without = int(np.linalg.matrix_rank(layer_norm_jacobian(row, eps=0.0), tol=1e-9))
    holds = with_eps == size - 1 and without == size - 2
    return Witness(holds, f"numerical rank {with_eps} with eps = 1e-2, {without} with eps = 0")


def _rank_general(sizes):
    # With eps >= 0 (eps = 0 included): sigma J y = y - 1 (1.y)/H - xhat (xhat.y)/H puts the kernel inside
    # span{1, xhat}; J 1 = 0; J xhat = eps xhat / sigma^3, not 0 for eps > 0 (x not constant, so xhat != 0)
    # and 0 for eps = 0. 1 and xhat are orthogonal, so independent: the kernel is span{1} (rank H - 1) or
    # span{1, xhat} (rank H - 2).
    y = IndexedBase("y", shape=(H,), real=True)
    eps_0 = sp.Symbol("epsilon", nonnegative=True)
    at_least_0 = {**NORMALISE, sigma: sqrt(Sum((x[k] - mu) ** 2, (k, 1, H)) / H + eps_0)}
    applied = Sum((sigma * JACOBIAN * y[j]).xreplace({j: r}), (r, 1, H))
    projected = y[i] - Sum(y[k], (k, 1, H)) / H - xh[i] * Sum(xh[k] * y[k], (k, 1, H)) / H
    return all_hold(
        identity_for_all(applied, projected, {i: H}, definitions=at_least_0, what="sigma J y = y - 1 (1.y)/H - xhat (xhat.y)/H"),
        identity_for_all(Sum(JACOBIAN.xreplace({j: r}), (r, 1, H)), 0, {i: H}, definitions=at_least_0, what="J 1 = 0"),
        identity_for_all(Sum((JACOBIAN * xh[j]).xreplace({j: r}), (r, 1, H)), eps_0 * xh[i] / sigma**3, {i: H},
                         definitions=at_least_0, what="J xhat = eps xhat / sigma^3 for eps >= 0"),
        positive_terms(eps / sigma**3, definitions=NORMALISE, what="eps / sigma^3 > 0 for eps > 0"),
        identity_for_all(Sum(xh[k], (k, 1, H)), 0, definitions=NORMALISE, what="1.xhat = 0"),
        summary="for eps >= 0, sigma J y = y - 1 (1.y)/H - xhat (xhat.y)/H, J 1 = 0, J xhat = eps xhat / sigma^3, "
                "and 1.xhat = 0 (index prover), eps / sigma^3 > 0 for eps > 0 (term by term): the kernel is span of 1, "
                "and of 1 and xhat at eps = 0",
    )


layernorm_jacobian_derivation = Derivation(
    slug="layernorm-jacobian",
    notation={"J": Lambda((i, j), JACOBIAN)},
    title="The LayerNorm Jacobian",
    topic=TOPIC,
    intro=(
        "LayerNorm centres and rescales each vector of $H$ features: $\\mu = \\frac{1}{H}\\sum_l x_l$, "
        "$\\sigma = \\sqrt{\\frac{1}{H}\\sum_k (x_k - \\mu)^2 + \\epsilon}$ and $\\hat x_i = (x_i - \\mu) / \\sigma$. "
        "The $\\epsilon$ inside the root is PyTorch's convention; it stays explicit, because the rank of the "
        "Jacobian depends on whether it is zero."
    ),
    lhs=Derivative(xh[i], x[j]),
    definitions=NORMALISE,
    domains={eps: SMALL_POSITIVE},
    sizes=SIZES,
    indices={i: H, j: H},
    steps=[
        Step((Derivative(x[i] - mu, x[j]) * sigma - (x[i] - mu) * Derivative(sigma, x[j])) / sigma**2, "quotient rule"),
        Step(((delta(i, j) - 1 / H) * sigma - (x[i] - mu) * (x[j] - mu) / (H * sigma)) / sigma**2,
             "$\\partial \\mu / \\partial x_j = 1/H$, and $\\partial \\sigma / \\partial x_j = (x_j - \\mu) / (H \\sigma)$ (claim below)"),
        Step(JACOBIAN, "recognise $\\hat x_i$ and $\\hat x_j$; in matrix form "
                       "$J = \\frac{1}{\\sigma}(I - \\mathbf{1}\\mathbf{1}^{\\top}/H - \\hat x \\hat x^{\\top}/H)$", cite=BA),
    ],
    claims=[
        Claim(r"$\frac{\partial \sigma}{\partial x_j} = \frac{x_j - \mu}{H \sigma}$", Derivative(sigma, x[j]), (x[j] - mu) / (H * sigma),
              why="chain rule through the root; the $\\partial\\mu/\\partial x_j$ terms vanish because $\\sum_k (x_k - \\mu) = 0$"),
        Claim(r"$J$ is symmetric", JACOBIAN, JACOBIAN.xreplace({i: j, j: i}), why="every term is symmetric in $i$ and $j$"),
        Claim(r"$\sum_j J_{ij} = 0$: adding a constant to every feature changes nothing", Sum(JACOBIAN.xreplace({j: r}), (r, 1, H)), 0,
              why="$\\sum_j \\hat x_j = 0$"),
        Claim(r"$\sum_j J_{ij} \hat{x}_j = \epsilon \hat{x}_i / \sigma^3$, which is 0 only when $\epsilon = 0$", Sum((JACOBIAN * xh[j]).xreplace({j: r}), (r, 1, H)),
              eps * xh[i] / sigma**3, why="$\\sum_j \\hat x_j^2 = H\\,\\mathrm{var} / (\\mathrm{var} + \\epsilon) = H (1 - \\epsilon/\\sigma^2)$"),
        Property(
            r"the rank of $J$ is $H - 1$ with $\epsilon > 0$ and $H - 2$ with $\epsilon = 0$ ($x$ not constant, $H \ge 2$)",
            exact=_rank_exact,
            numeric=_rank_numeric,
            general=_rank_general,
            why=r"the kernel is $\operatorname{span}\{\mathbf{1}\}$ when $\epsilon > 0$; with $\epsilon = 0$ rescaling $x$ changes "
                r"nothing either, and $\hat x$ joins the kernel",
        ),
        Claim(
            r"a constant row $x_k = c$ gives $\hat{x}_k = 0$ and the Jacobian $(\delta_{ij} - 1/H) / \sqrt{\epsilon}$: undefined at $\epsilon = 0$",
            CONSTANT_ROW_JACOBIAN,
            (delta(i, j) - 1 / H) / sqrt(eps),
            why="$\\mu = c$ and the variance is 0, so $\\sigma = \\sqrt{\\epsilon}$",
            latex=r"\frac{1}{\sqrt{\epsilon + \frac{1}{H} \sum_{k=1}^{H} \left(c - \frac{1}{H} \sum_{l=1}^{H} c\right)^{2}}}"
                  r" \left(\delta_{ij} - \frac{1}{H}\right) = \frac{1}{\sqrt{\epsilon}} \left(\delta_{ij} - \frac{1}{H}\right)",
        ),
    ],
    result=Jacobian(forward=lambda x, epsilon: layer_norm(x, eps=epsilon),
                    reference=lambda x, epsilon: layer_norm_jacobian(x, eps=epsilon), wrt="x", indices=(i, j)),
    cite=(BA,),
)


layernorm_affine_jacobian_derivation = Derivation(
    slug="layernorm-affine-jacobian",
    title="LayerNorm with its gain and bias: $\\partial y / \\partial x = \\operatorname{diag}(\\gamma)\\, J$",
    topic=TOPIC,
    intro="The learned gain and bias act elementwise after the normalisation: $y_i = \\gamma_i \\hat x_i + \\beta_i$.",
    lhs=Derivative(g[i] * xh[i] + b[i], x[j]),
    definitions=NORMALISE,
    domains={eps: SMALL_POSITIVE},
    sizes=SIZES,
    indices={i: H, j: H},
    steps=[
        Step(g[i] * Derivative(xh[i], x[j]), "$\\gamma$ and $\\beta$ do not depend on $x$"),
        Step(g[i] * JACOBIAN, "the LayerNorm Jacobian (derivation layernorm-jacobian): "
                              "$\\partial y / \\partial x = \\operatorname{diag}(\\gamma)\\, J$"),
    ],
    result=Jacobian(forward=lambda x, gamma, beta, epsilon: layer_norm(x, gamma, beta, eps=epsilon),
                    reference=lambda x, gamma, epsilon: layer_norm_jacobian(x, gamma, eps=epsilon), wrt="x", indices=(i, j)),
)


G = Lambda(a, g[a] * dy[a])  # the upstream gradient seen by x_hat
gh = IndexedBase("g", shape=(H,))

layernorm_backward_derivation = Derivation(
    slug="layernorm-backward",
    title="The LayerNorm backward pass",
    topic=TOPIC,
    intro=(
        "Given $dy = \\partial L / \\partial y$, the gradient with respect to $x$ is $J^{\\top}$ applied to "
        "$g = \\gamma \\odot dy$, the gradient that reaches $\\hat x$; no $H \\times H$ matrix is formed."
    ),
    lhs=Sum(dy[i] * g[i] * JACOBIAN, (i, 1, H)),
    definitions={**NORMALISE, gh: G},
    domains={eps: SMALL_POSITIVE},
    sizes=SIZES,
    indices={j: H},
    steps=[
        Step(Sum(gh[i] * JACOBIAN, (i, 1, H)), "write $g_i = \\gamma_i\\, dy_i$"),
        Step((gh[j] - Sum(gh[i], (i, 1, H)) / H - xh[j] * Sum(gh[i] * xh[i], (i, 1, H)) / H) / sigma,
             "the delta picks $i = j$: $dx = (g - \\operatorname{mean}(g) - \\hat x \\operatorname{mean}(g \\odot \\hat x)) / \\sigma$"),
    ],
    claims=[
        Claim(r"$d\gamma_j$: the gradient of the gain is $dy_j \hat{x}_j$", Derivative(Sum(dy[k] * (g[k] * xh[k] + b[k]), (k, 1, H)), g[j]),
              dy[j] * xh[j], indices={j: H}, why="$y_k$ depends on $\\gamma_j$ only for $k = j$"),
        Claim(r"$d\beta_j$: the gradient of the bias is $dy_j$", Derivative(Sum(dy[k] * (g[k] * xh[k] + b[k]), (k, 1, H)), b[j]),
              dy[j], indices={j: H}, why="$\\partial y_k / \\partial \\beta_j = \\delta_{kj}$"),
        Claim(r"$dx$ sums to zero, whatever $dy$", Sum((gh[j] - Sum(gh[i], (i, 1, H)) / H
                                                   - xh[j] * Sum(gh[i] * xh[i], (i, 1, H)) / H) / sigma, (j, 1, H)), 0,
              why="$J \\mathbf{1} = 0$ and $J$ is symmetric, so $\\mathbf{1}^{\\top} J^{\\top} g = 0$"),
    ],
    result=Gradient(forward=lambda x, gamma, dy, epsilon: float(np.sum(dy * layer_norm(x, gamma, eps=epsilon))),
                    reference=lambda x, gamma, dy, epsilon: layer_norm_backward(x, dy, gamma, eps=epsilon)[0], wrt="x", indices=(j,)),
)


EXAMPLE = WorkedExample(
    layernorm_jacobian_derivation,
    inputs={"x": [1, 2, 6], "epsilon": "1/100"},
    shows=[(r"\hat x", xh[i], lambda x, epsilon: layer_norm(x, eps=epsilon)),
           (r"J = \frac{1}{\sigma}\Bigl(I - \frac{\mathbf{1}\mathbf{1}^{\top}}{H} - \frac{\hat x \hat x^{\top}}{H}\Bigr)", None,
            lambda x, epsilon: layer_norm_jacobian(x, eps=epsilon))],
    title="three features",
    text=r"$\mu = 3$ and $\sigma = \sqrt{14/3 + 1/100}$; the rows of $J$ sum to zero.",
)
