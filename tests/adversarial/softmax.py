"""Softmax, log-softmax, temperature and cross-entropy."""

import numpy as np
import sympy as sp
from sympy import Derivative, IndexedBase, KroneckerDelta as delta, Lambda, Sum, exp, log

from symformer import Claim, Gradient, Jacobian, Property, Witness
from symformer.reference import cross_entropy, cross_entropy_grad, softmax, softmax_jacobian

from adversarial._common import a, chain, correct, i, j, k, n, wrong

z = IndexedBase("z", shape=(n,), real=True)
y = IndexedBase("y", shape=(n,), positive=True)  # targets that need not sum to one
p = IndexedBase("p", shape=(n,))
q = IndexedBase("q", shape=(n,))
T = sp.Symbol("T", positive=True)
cst = sp.Symbol("c", real=True)
SOFTMAX = {p: Lambda(a, exp(z[a]) / Sum(exp(z[k]), (k, 1, n)))}
TEMPERED = {q: Lambda(a, exp(z[a] / T) / Sum(exp(z[k] / T), (k, 1, n)))}
IJ = {i: n, j: n}
J = p[i] * (delta(i, j) - p[j])


def jacobian(slug, last, definitions=SOFTMAX, lhs=None, **extra):
    return chain(slug, Derivative(p[i], z[j]) if lhs is None else lhs, (last, "quotient rule"),
                 definitions=definitions, indices=IJ, **extra)


def _pd_exact(sizes):
    size = sizes[n]
    probabilities = [sp.Rational(m, sum(range(1, size + 1))) for m in range(1, size + 1)]
    matrix = sp.Matrix(size, size, lambda r, c: probabilities[r] * (int(r == c) - probabilities[c]))
    return Witness(bool(matrix.det() > 0), f"det J = {matrix.det()} at n = {size}")


def _pd_numeric(rng, sizes):
    jac = softmax_jacobian(rng.standard_normal(sizes[n]))
    smallest = float(np.linalg.eigvalsh(jac).min())
    return Witness(smallest > 1e-12, f"smallest eigenvalue {smallest:.3g}")


CE = -Sum(y[k] * log(p[k]), (k, 1, n))

WRONG = [
    wrong(jacobian("softmax-jacobian-flipped-sign", p[i] * (p[j] - delta(i, j))), mistake="sign"),
    wrong(jacobian("softmax-jacobian-plus-outer", p[i] * (delta(i, j) + p[j])), mistake="sign of the outer product"),
    wrong(jacobian("softmax-jacobian-missing-p", delta(i, j) - p[j]), mistake="the log-softmax Jacobian for the softmax one"),
    wrong(jacobian("log-softmax-jacobian-swapped", delta(i, j) - p[i], lhs=Derivative(log(p[i]), z[j])), mistake="index swap"),
    wrong(jacobian("temperature-missing-scale", q[i] * (delta(i, j) - q[j]), TEMPERED, lhs=Derivative(q[i], z[j])),
          mistake="missing 1/T"),
    wrong(jacobian("temperature-times-t", T * q[i] * (delta(i, j) - q[j]), TEMPERED, lhs=Derivative(q[i], z[j])),
          mistake="T instead of 1/T"),
    wrong(jacobian("softmax-rows-sum-to-one", J, claims=[
        Claim("each row of J sums to one", Sum(J, (j, 1, n)), 1)]), "claim 'each row of J sums to one'",
        mistake="a wrong claim (rows sum to 0)"),
    wrong(jacobian("softmax-jacobian-positive-definite", J, claims=[
        Property("J is positive definite", exact=_pd_exact, numeric=_pd_numeric)]),
        "claim 'J is positive definite'", mistake="a wrong property (J is only semidefinite, J 1 = 0)"),
    wrong(chain("softmax-shift-scales", exp(z[i] + cst) / Sum(exp(z[k] + cst), (k, 1, n)),
                (exp(cst) * exp(z[i]) / Sum(exp(z[k]), (k, 1, n)), "pull e^c out"), indices={i: n}),
          mistake="e^c cancels between numerator and denominator"),
    wrong(chain("max-subtraction-numerator-only", exp(z[i]) / Sum(exp(z[k]), (k, 1, n)),
                (exp(z[i] - cst) / Sum(exp(z[k]), (k, 1, n)), "subtract the maximum for stability"), indices={i: n}),
          mistake="the shift subtracted in the numerator only"),
    wrong(chain("cross-entropy-p-minus-y", Derivative(CE, z[j]), (p[j] - y[j], "the famous p - y"),
                definitions=SOFTMAX, indices={j: n}),
          mistake="p - y holds only when the targets sum to one"),
    wrong(chain("cross-entropy-y-minus-p", Derivative(CE, z[j]),
                (Sum(y[k], (k, 1, n)) * p[j] - y[j], "chain rule through log-softmax"),
                (y[j] - Sum(y[k], (k, 1, n)) * p[j], "collect terms"), definitions=SOFTMAX, indices={j: n}),
          "step 2", mistake="sign of the gradient"),
    wrong(chain("cross-entropy-wrong-reference", Derivative(CE, z[j]), (Sum(y[k], (k, 1, n)) * p[j] - y[j], "chain rule"),
                definitions=SOFTMAX, indices={j: n},
                result=Gradient(forward=lambda z, y: cross_entropy(z, y), reference=lambda z, y: softmax(z) - y, wrt="z",
                                indices=(j,))),
          "final result against NumPy and finite differences", mistake="a wrong NumPy reference (p - y for unnormalised y)"),
    wrong(chain("softmax-epsilon-in-denominator", exp(z[i]) / Sum(exp(z[k]), (k, 1, n)),
                (exp(z[i]) / (Sum(exp(z[k]), (k, 1, n)) + sp.Rational(1, 10**6)), "add epsilon for stability"), indices={i: n}),
          mistake="an identity true only to 1e-6"),
]

CORRECT = [
    correct(jacobian("softmax-jacobian-via-log", J, lhs=Derivative(exp(log(p[i])), z[j]))),
    correct(chain("softmax-shift-invariance", exp(z[i] + cst) / Sum(exp(z[k] + cst), (k, 1, n)),
                  (exp(cst) * exp(z[i]) / (exp(cst) * Sum(exp(z[k]), (k, 1, n))), "e^{a + c} = e^a e^c"),
                  (p[i], "e^c cancels"), definitions=SOFTMAX, indices={i: n})),
    correct(chain("cross-entropy-general-targets", Derivative(CE, z[j]),
                  (Sum(y[k], (k, 1, n)) * p[j] - y[j], "(sum y) p - y: p - y only when y sums to one"),
                  definitions=SOFTMAX, indices={j: n},
                  result=Gradient(forward=lambda z, y: cross_entropy(z, y), reference=lambda z, y: cross_entropy_grad(z, y),
                                  wrt="z", indices=(j,)))),
    correct(jacobian("softmax-quadratic-form", J, claims=[
        Claim("x^T J x = sum p x^2 - (sum p x)^2",
              Sum(Sum(z[i] * J * z[j], (j, 1, n)), (i, 1, n)),
              Sum(p[i] * z[i] ** 2, (i, 1, n)) - Sum(p[i] * z[i], (i, 1, n)) ** 2)],
        result=Jacobian(forward=lambda z: softmax(z), reference=lambda z: softmax_jacobian(z), wrt="z", indices=(i, j)))),
]
