"""LayerNorm over H features: the normalisation, its Jacobian, the gain and bias gradients."""

import sympy as sp
from sympy import Derivative, IndexedBase, KroneckerDelta as delta, Lambda, Sum, sqrt

from symformer import Claim, Size

from adversarial._common import a, chain, correct, i, j, k, l, r, wrong

H = sp.Symbol("H", integer=True, positive=True)
x = IndexedBase("x", shape=(H,), real=True)
g = IndexedBase("gamma", shape=(H,), real=True)
bb = IndexedBase("beta", shape=(H,), real=True)
dy = IndexedBase("dy", shape=(H,), real=True)
xh = IndexedBase("xhat", shape=(H,))
eps = sp.Symbol("epsilon", positive=True)
mu, sigma = sp.Symbol("mu", real=True), sp.Symbol("sigma", positive=True)
NORMALISE = {xh: Lambda(a, (x[a] - mu) / sigma), mu: Sum(x[l], (l, 1, H)) / H,
             sigma: sqrt(Sum((x[k] - mu) ** 2, (k, 1, H)) / H + eps)}
SIZES = {H: Size(prove=range(1, 5), numeric=12)}
JACOBIAN = (delta(i, j) - 1 / H - xh[i] * xh[j] / H) / sigma
OUTPUT = Sum(dy[k] * (g[k] * xh[k] + bb[k]), (k, 1, H))


def layernorm(slug, lhs, *steps, **extra):
    return chain(slug, lhs, *steps, definitions=NORMALISE, sizes=SIZES, **extra)


WRONG = [
    wrong(layernorm("layernorm-jacobian-outer-unscaled", Derivative(xh[i], x[j]),
                    ((delta(i, j) - 1 / H - xh[i] * xh[j]) / sigma, "quotient rule"), indices={i: H, j: H}),
          mistake="the x_hat x_hat^T term is missing its 1/H"),
    wrong(layernorm("layernorm-jacobian-kills-xhat", Derivative(xh[i], x[j]), (JACOBIAN, "quotient rule"), indices={i: H, j: H},
                    claims=[Claim("J x_hat = 0", Sum((JACOBIAN * xh[j]).xreplace({j: r}), (r, 1, H)).xreplace({r: j}), 0)]),
          "claim 'J x_hat = 0'", mistake="J x_hat = eps x_hat / sigma^3 is 0 only when eps = 0"),
    wrong(layernorm("layernorm-unbiased-variance", sigma ** 2 - eps, (Sum((x[k] - mu) ** 2, (k, 1, H)) / (H - 1), "the variance")),
          mistake="PyTorch's LayerNorm uses the biased variance (divide by H)"),
    wrong(layernorm("layernorm-gain-gradient", Derivative(OUTPUT, g[j]), (dy[j], "y_j depends on gamma_j"), indices={j: H}),
          mistake="d gamma_j = dy_j x_hat_j: the x_hat factor forgotten"),
    wrong(layernorm("layernorm-squares-sum-to-h", Sum(xh[k] ** 2, (k, 1, H)), (H, "x_hat has unit variance")),
          mistake="with eps > 0 the squares sum to H var / (var + eps) < H"),
]

CORRECT = [
    correct(layernorm("layernorm-centred", Sum(xh[k], (k, 1, H)),
                      ((Sum(x[k], (k, 1, H)) - H * mu) / sigma, "x_hat = (x - mu) / sigma"), (0, "H mu = sum x"))),
    correct(layernorm("layernorm-bias-gradient", Derivative(OUTPUT, bb[j]), (dy[j], "dy_k / d beta_j = delta_kj"),
                      indices={j: H})),
]
