"""Sinusoidal encodings and their rotation property; RoPE with 2 x 2 rotations and complex exponentials."""

import sympy as sp
from sympy import I, IndexedBase, Sum, cos, exp, pi, sin, sqrt

from symformer import Size

from adversarial._common import chain, correct, l, wrong

p, q, s_, k_ = sp.symbols("p q s k", real=True)
om = sp.Symbol("omega", positive=True)
h = sp.Symbol("h", integer=True, positive=True)  # pairs, d = 2h
w = IndexedBase("omega", shape=(h,), positive=True)
H = {h: Size(prove=range(1, 4), numeric=8)}
d = sp.Symbol("d", integer=True, positive=True)
NONE: dict = {}
m_pos, n_pos = sp.symbols("m n", real=True)
theta = sp.Symbol("theta", positive=True)
mi = sp.Symbol("m", integer=True, positive=True)
phi = sp.Symbol("phi", real=True)
q1, q2, k1, k2 = sp.symbols("q_1 q_2 k_1 k_2", real=True)
qv, kv = sp.ImmutableMatrix([q1, q2]), sp.ImmutableMatrix([k1, k2])


def R(t):
    return sp.ImmutableMatrix([[cos(theta * t), -sin(theta * t)], [sin(theta * t), cos(theta * t)]])


def dot(x, y):
    return Sum(sin(w[l] * x) * sin(w[l] * y) + cos(w[l] * x) * cos(w[l] * y), (l, 1, h))


SCORE = sp.MatMul(sp.MatMul(R(m_pos), qv).T, sp.MatMul(R(n_pos), kv))

WRONG = [
    wrong(chain("sin-of-sum-sign", sin(om * (p + k_)), (sin(om * p) * cos(om * k_) - cos(om * p) * sin(om * k_), "addition formula"),
                sizes=NONE), mistake="sign in sin(a + b)"),
    wrong(chain("cos-of-sum-sign", cos(om * (p + k_)), (cos(om * p) * cos(om * k_) + sin(om * p) * sin(om * k_), "addition formula"),
                sizes=NONE), mistake="sign in cos(a + b)"),
    wrong(chain("encoding-norm-is-d", dot(p, p), (2 * h, "each of the d coordinates contributes 1"), sizes=H),
          mistake="each pair contributes sin^2 + cos^2 = 1: the norm is d/2"),
    wrong(chain("dot-product-of-sum", dot(p, q), (Sum(cos(w[l] * (p + q)), (l, 1, h)), "cos a cos b + sin a sin b"), sizes=H),
          mistake="cos(a - b), not cos(a + b)"),
    wrong(chain("longest-wavelength", 2 * pi / 10000 ** (-2 * (d / 2 - 1) / d), (2 * pi * 10000, "the last pair i = d/2 - 1"),
                sizes={d: Size(prove=range(2, 7, 2), numeric=64)}),
          mistake="the longest wavelength is 2 pi 10000^((d-2)/d)"),
    wrong(chain("rope-offset-direction", SCORE, (sp.MatMul(qv.T, R(m_pos - n_pos), kv), "R(m)^T R(n) = R(m - n)"), sizes=NONE),
          mistake="the score depends on n - m: R(m)^T R(n) = R(n - m)"),
    wrong(chain("rope-square-root-of-phase", sqrt(exp(2 * I * mi * theta)), (exp(I * mi * theta), "sqrt(e^{2x}) = e^x"),
                sizes=NONE), mistake="sqrt(e^{2x}) = e^x only for real x"),
    wrong(chain("rotation-squared-is-identity", sp.MatMul(R(m_pos), R(m_pos)), (sp.eye(2), "a rotation is orthogonal"),
                sizes=NONE), mistake="R^T R = I, not R R = I"),
    wrong(chain("phases-multiply-sign", exp(I * theta) * exp(-I * phi), (exp(I * (theta + phi)), "exponents add"), sizes=NONE),
          mistake="sign of the second phase"),
]

CORRECT = [
    correct(chain("rope-relative-score", SCORE, (sp.MatMul(qv.T, R(m_pos).T, R(n_pos), kv), "(R q)^T = q^T R^T"),
                  (sp.MatMul(qv.T, R(n_pos - m_pos), kv), "R(m)^T R(n) = R(n - m)"), sizes=NONE)),
    correct(chain("encoding-norm", dot(p, p), (h, "sin^2 + cos^2 = 1 in each pair"), sizes=H)),
    correct(chain("phases-multiply", exp(I * theta) * exp(-I * phi), (cos(theta - phi) + I * sin(theta - phi), "Euler"),
                  sizes=NONE)),
    correct(chain("dot-product-shift", dot(p + s_, q + s_), (Sum(cos(w[l] * (p - q)), (l, 1, h)), "cos a cos b + sin a sin b"),
                  sizes=H)),
]
