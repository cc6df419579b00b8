"""Softmax, log-softmax, temperature and cross-entropy: the derivatives every later topic uses.

Index notation, 1-based, for a general number of classes n: every identity here is proved for all
n where the index-notation prover closes, else for each n in the proof range.
"""

import numpy as np
import sympy as sp
from sympy import Derivative, IndexedBase, KroneckerDelta, Lambda, Sum, exp, log

from symformer import (
    Claim, Derivation, Gradient, Jacobian, Property, Size, Step, Witness, all_hold, identity_for_all, nonnegative_terms,
    positive_terms,
)
from symformer.export import WorkedExample
from symformer.reference import (
    cross_entropy,
    cross_entropy_grad,
    log_softmax,
    log_softmax_jacobian,
    softmax,
    softmax_jacobian,
)

ORDER = 30
TOPIC = "Softmax and cross-entropy"
FLASH = "dao2022flashattention, appendix B.2"

n = sp.Symbol("n", integer=True, positive=True)
i, j, k, a = sp.symbols("i j k a", integer=True)
z = IndexedBase("z", shape=(n,), real=True)
x = IndexedBase("x", shape=(n,), real=True)
w = IndexedBase("w", shape=(n,), positive=True)
p = IndexedBase("p", shape=(n,))
q = IndexedBase("q", shape=(n,))
y = IndexedBase("y", shape=(n,), real=True)
T = sp.Symbol("T", positive=True)
m = sp.Symbol("m", real=True)
c = sp.Symbol("c", real=True)

SIZES = {n: Size(prove=range(1, 7), numeric=64)}
SUM_EXP = Sum(exp(z[k]), (k, 1, n))
SOFTMAX = {p: Lambda(a, exp(z[a]) / SUM_EXP)}
delta = KroneckerDelta


def _positive_softmax_exact(rng_seed, size):
    """A probability vector of Rationals with every entry positive (what softmax of finite logits gives)."""
    weights = np.random.default_rng(rng_seed).integers(1, 9, size=size)
    return [sp.Rational(int(v), int(weights.sum())) for v in weights]


def _jacobian_exact(probabilities):
    size = len(probabilities)
    return sp.Matrix(size, size, lambda r, s: probabilities[r] * ((1 if r == s else 0) - probabilities[s]))


def _psd_exact(sizes):
    probabilities = _positive_softmax_exact(sizes[n], sizes[n])
    jacobian = _jacobian_exact(probabilities)
    holds = jacobian.is_positive_semidefinite
    return Witness(bool(holds), f"J at p = {probabilities} is {'' if holds else 'not '}positive semidefinite")


def _psd_numeric(rng, sizes):
    jacobian = softmax_jacobian(rng.standard_normal(sizes[n]) * 3)
    smallest = float(np.linalg.eigvalsh(jacobian).min())
    return Witness(smallest >= -1e-12, f"smallest eigenvalue {smallest:.3g}", abs(min(smallest, 0.0)))


def _rank_exact(sizes):
    size = sizes[n]
    probabilities = _positive_softmax_exact(size + 7, size)
    rank = _jacobian_exact(probabilities).rank()
    if rank != size - 1:
        return Witness(False, f"rank {rank} at p = {probabilities}, expected {size - 1}")
    if size >= 3:  # with exact zeros in p the rank is (number of positive entries) - 1
        zeroed = [sp.Integer(0)] + probabilities[1:]
        zeroed = [v / sum(zeroed) for v in zeroed]
        if _jacobian_exact(zeroed).rank() != size - 2:
            return Witness(False, f"with one p_i = 0 the rank is not {size - 2}")
    return Witness(True, f"rank {rank}")


def _rank_numeric(rng, sizes):
    size = sizes[n]
    logits = rng.standard_normal(size)
    rank = int(np.linalg.matrix_rank(softmax_jacobian(logits), tol=1e-10))
    if rank != size - 1:
        return Witness(False, f"numerical rank {rank}, expected {size - 1}")
    if size >= 3:
        logits[: size // 2] = -np.inf  # masked classes: exact zeros in p
        positive = size - size // 2
        masked_rank = int(np.linalg.matrix_rank(softmax_jacobian(logits), tol=1e-10))
        if masked_rank != positive - 1:
            return Witness(False, f"with {size // 2} masked classes the rank is {masked_rank}, expected {positive - 1}")
    return Witness(True, f"rank {rank}")


# The general arguments, for every n: each piece is decided by the machine (the index prover, or
# SymPy's assumptions term by term); the words in between are the linear algebra that joins them.
MEAN_X = Sum(p[k] * x[k], (k, 1, n))
QUADRATIC_FORM = Sum(Sum(x[i] * p[i] * (delta(i, j) - p[j]) * x[j], (j, 1, n)), (i, 1, n))
WEIGHTED_SQUARES = Sum(p[i] * (x[i] - MEAN_X) ** 2, (i, 1, n))


def _psd_general(sizes):
    return all_hold(
        identity_for_all(QUADRATIC_FORM, WEIGHTED_SQUARES, definitions=SOFTMAX,
                         what="x^T J x = sum_i p_i (x_i - m)^2 with m = sum_k p_k x_k"),
        nonnegative_terms(WEIGHTED_SQUARES, definitions=SOFTMAX, what="each term is >= 0"),
    )


# Weights that may be exactly 0 (a logit of -inf): p_i = u_i / sum_k u_k with every u_i >= 0.
u = IndexedBase("u", shape=(n,), nonnegative=True)
MASKED_SOFTMAX = {p: Lambda(a, u[a] / Sum(u[k], (k, 1, n)))}


def _rank_general(sizes):
    # (J x)_i = p_i (x_i - m) with m = sum_k p_k x_k: J x = 0 exactly when x_i = m wherever p_i != 0, and
    # then m = c for x constant c there; so the kernel is the vectors constant on the positive entries:
    # dimension 1 + (number of zero entries), rank (number of positive entries) - 1, which is n - 1 when
    # every p_i > 0, as for every finite logit vector.
    row = Sum(p[i] * (delta(i, j) - p[j]) * x[j], (j, 1, n))
    return all_hold(
        identity_for_all(row, p[i] * (x[i] - MEAN_X), {i: n}, definitions=MASKED_SOFTMAX,
                         what="(J x)_i = p_i (x_i - m)"),
        identity_for_all(Sum(p[j] * (x[j] - c), (j, 1, n)), MEAN_X - c, definitions=MASKED_SOFTMAX,
                         what="sum_j p_j (x_j - c) = m - c for weights p_i >= 0 summing to one, so J x = 0 exactly "
                              "when x is constant where p_i > 0"),
        positive_terms(p[i], {i: n}, definitions=SOFTMAX, what="p_i > 0 for finite logits"),
    )


softmax_jacobian_derivation = Derivation(
    slug="softmax-jacobian",
    notation={"J": sp.Lambda((i, j), p[i] * (delta(i, j) - p[j]))},
    title="The softmax Jacobian",
    topic=TOPIC,
    intro=(
        "Softmax turns logits $z \\in \\mathbb{R}^n$ into probabilities "
        "$p_i = e^{z_i} / \\sum_k e^{z_k}$. Its Jacobian is the matrix every attention gradient "
        "passes through."
    ),
    lhs=Derivative(p[i], z[j]),
    definitions=SOFTMAX,
    sizes=SIZES,
    indices={i: n, j: n},
    steps=[
        Step(Derivative(exp(z[i]) / SUM_EXP, z[j]), "definition of softmax"),
        Step(
            (Derivative(exp(z[i]), z[j]) * SUM_EXP - exp(z[i]) * Derivative(SUM_EXP, z[j])) / SUM_EXP**2,
            "quotient rule",
        ),
        Step(
            (delta(i, j) * exp(z[i]) * SUM_EXP - exp(z[i]) * exp(z[j])) / SUM_EXP**2,
            "$\\partial e^{z_i} / \\partial z_j = \\delta_{ij} e^{z_i}$, and only the term $k = j$ of the sum depends on $z_j$",
        ),
        Step(exp(z[i]) / SUM_EXP * (delta(i, j) - exp(z[j]) / SUM_EXP), "split the fraction"),
        Step(p[i] * (delta(i, j) - p[j]), "recognise $p_i$ and $p_j$; in matrix form $J = \\operatorname{diag}(p) - p p^{\\top}$",
             cite=FLASH),
    ],
    claims=[
        Claim(r"$J$ is symmetric", p[i] * (delta(i, j) - p[j]), p[j] * (delta(j, i) - p[i]),
              why="$p_i \\delta_{ij} = p_j \\delta_{ij}$ and $p_i p_j = p_j p_i$"),
        Claim(r"each row sums to zero: $\sum_j J_{ij} = 0$", Sum(p[i] * (delta(i, j) - p[j]), (j, 1, n)), 0,
              why="$\\sum_j p_j = 1$"),
        Claim(
            r"the quadratic form is a variance: $\sum_i \sum_j x_i J_{ij} x_j = \sum_i p_i \left(x_i - \sum_k p_k x_k\right)^2$",
            Sum(Sum(x[i] * p[i] * (delta(i, j) - p[j]) * x[j], (j, 1, n)), (i, 1, n)),
            Sum(p[i] * (x[i] - Sum(p[k] * x[k], (k, 1, n))) ** 2, (i, 1, n)),
            why="expand the square and use $\\sum_i p_i = 1$; a weighted variance is never negative",
        ),
        Property(
            r"$J$ is positive semidefinite",
            exact=_psd_exact,
            numeric=_psd_numeric,
            general=_psd_general,
            why="the quadratic form above is a sum of non-negative terms",
        ),
        Property(
            r"the rank of $J$ is $n - 1$ when every $p_i > 0$; with exact zeros, the number of positive $p_i$ less one",
            exact=_rank_exact,
            numeric=_rank_numeric,
            general=_rank_general,
            why="the kernel is spanned by $\\mathbf{1}$, which is the shift invariance below",
        ),
        Claim(
            r"shift invariance: adding $c$ to every logit changes nothing, $\frac{e^{z_i + c}}{\sum_k e^{z_k + c}} = p_i$",
            exp(z[i] + c) / Sum(exp(z[k] + c), (k, 1, n)),
            p[i],
            why="$e^{c}$ cancels between numerator and denominator",
        ),
    ],
    result=Jacobian(forward=lambda z: softmax(z), reference=lambda z: softmax_jacobian(z), wrt="z", indices=(i, j)),
    cite=(FLASH,),
)


log_softmax_jacobian_derivation = Derivation(
    slug="log-softmax-jacobian",
    title="The log-softmax Jacobian",
    topic=TOPIC,
    intro="Language models compute $\\log p$ directly: it is stabler, and its Jacobian is simpler.",
    lhs=Derivative(log(p[i]), z[j]),
    definitions=SOFTMAX,
    sizes=SIZES,
    indices={i: n, j: n},
    steps=[
        Step(Derivative(z[i] - log(SUM_EXP), z[j]), "$\\log (e^{z_i} / S) = z_i - \\log S$"),
        Step(delta(i, j) - exp(z[j]) / SUM_EXP, "chain rule: $\\partial \\log S / \\partial z_j = e^{z_j} / S$"),
        Step(delta(i, j) - p[j], "recognise $p_j$; in matrix form $I - \\mathbf{1} p^{\\top}$, which is not symmetric"),
    ],
    claims=[
        Claim(r"the softmax Jacobian is this one with row $i$ scaled by $p_i$: $\frac{\partial p_i}{\partial z_j} = p_i (\delta_{ij} - p_j)$", Derivative(p[i], z[j]), p[i] * (delta(i, j) - p[j]),
              why="$\\partial p_i = p_i \\, \\partial \\log p_i$"),
        Claim(
            r"subtracting any $m$ from every logit gives the same log-softmax, $z_i - m - \log \sum_k e^{z_k - m} = \log p_i$ (the stable form takes the largest logit for $m$)",
            (z[i] - m) - log(Sum(exp(z[k] - m), (k, 1, n))),
            log(p[i]),
            why="$\\log \\sum_k e^{z_k - m} = \\log \\sum_k e^{z_k} - m$",
        ),
    ],
    result=Jacobian(forward=lambda z: log_softmax(z), reference=lambda z: log_softmax_jacobian(z), wrt="z", indices=(i, j)),
)


SUM_EXP_T = Sum(exp(z[k] / T), (k, 1, n))

softmax_temperature_derivation = Derivation(
    slug="softmax-temperature",
    title="Softmax with a temperature",
    topic=TOPIC,
    intro="Dividing the logits by a temperature $T > 0$ sharpens ($T < 1$) or flattens ($T > 1$) the distribution.",
    lhs=Derivative(q[i], z[j]),
    definitions={**SOFTMAX, q: Lambda(a, exp(z[a] / T) / SUM_EXP_T)},
    sizes=SIZES,
    indices={i: n, j: n},
    steps=[
        Step(Derivative(exp(z[i] / T) / SUM_EXP_T, z[j]), "definition: $q = \\operatorname{softmax}(z / T)$"),
        Step(exp(z[i] / T) / SUM_EXP_T * (delta(i, j) - exp(z[j] / T) / SUM_EXP_T) / T,
             "the softmax Jacobian at $z / T$, times the inner derivative $1 / T$ (chain rule)"),
        Step(q[i] * (delta(i, j) - q[j]) / T, "recognise $q_i$ and $q_j$: $J_T = (\\operatorname{diag}(q) - q q^{\\top}) / T$"),
    ],
    claims=[
        Claim(
            r"at $T = 1$ it is the softmax Jacobian",
            (exp(z[i] / T) / SUM_EXP_T * (delta(i, j) - exp(z[j] / T) / SUM_EXP_T) / T).subs(T, 1),
            p[i] * (delta(i, j) - p[j]),
            why="$z / 1 = z$",
        ),
    ],
    result=Jacobian(forward=lambda z, T: softmax(z / T), reference=lambda z, T: softmax_jacobian(z, T), wrt="z", indices=(i, j)),
)


LOSS = -Sum(y[k] * log(p[k]), (k, 1, n))

cross_entropy_derivation = Derivation(
    slug="cross-entropy-gradient",
    title="The cross-entropy gradient",
    topic=TOPIC,
    intro=(
        "The loss $L = -\\sum_k y_k \\log p_k$ with targets $y$. For any targets the gradient is "
        "$(\\sum_k y_k)\\, p - y$; it is $p - y$ only when the targets sum to one."
    ),
    lhs=Derivative(LOSS, z[j]),
    definitions=SOFTMAX,
    sizes=SIZES,
    indices={j: n},
    steps=[
        Step(-Sum(y[k] * Derivative(log(p[k]), z[j]), (k, 1, n)), "linearity of the derivative"),
        Step(-Sum(y[k] * (delta(k, j) - p[j]), (k, 1, n)), "the log-softmax Jacobian (derivation log-softmax-jacobian)"),
        Step(-y[j] + p[j] * Sum(y[k], (k, 1, n)), "the delta picks $k = j$; $p_j$ does not depend on $k$"),
        Step(Sum(y[k], (k, 1, n)) * p[j] - y[j], "reorder: $\\nabla_z L = (\\sum_k y_k)\\, p - y$"),
    ],
    result=Gradient(forward=lambda z, y: cross_entropy(z, y), reference=lambda z, y: cross_entropy_grad(z, y), wrt="z", indices=(j,)),
)


PROBABILITY = Lambda(a, w[a] / Sum(w[k], (k, 1, n)))

cross_entropy_probability_derivation = Derivation(
    slug="cross-entropy-gradient-probability-targets",
    title="The cross-entropy gradient for probability targets: $p - y$",
    topic=TOPIC,
    intro=(
        "Targets that are a probability distribution, written $y_k = w_k / \\sum_l w_l$ with positive "
        "weights $w$ so that they sum to one for every $w$; a one-hot target is the limit of such weights."
    ),
    lhs=Derivative(LOSS, z[j]),
    definitions={**SOFTMAX, y: PROBABILITY},
    domains={w: "positive"},
    sizes=SIZES,
    indices={j: n},
    steps=[
        Step(Sum(y[k], (k, 1, n)) * p[j] - y[j], "the general cross-entropy gradient (derivation cross-entropy-gradient)"),
        Step(p[j] - y[j], "the targets sum to one"),
    ],
    claims=[Claim(r"the targets sum to one: $\sum_k y_k = 1$", Sum(y[k], (k, 1, n)), 1, why="$\\sum_k w_k / \\sum_l w_l = 1$")],
    result=Gradient(forward=lambda z, w: cross_entropy(z, w / w.sum()), reference=lambda z, w: softmax(z) - w / w.sum(),
                    wrt="z", indices=(j,)),
)


softmax_max_subtraction_derivation = Derivation(
    slug="softmax-max-subtraction",
    title="Subtracting the maximum does not change softmax",
    topic=TOPIC,
    intro=(
        "Implementations compute $e^{z_i - m} / \\sum_k e^{z_k - m}$ with $m = \\max_k z_k$, so that every "
        "exponent is at most 0 and logits of $10^4$ do not overflow. It is the same function for any $m$."
    ),
    lhs=exp(z[i] - m) / Sum(exp(z[k] - m), (k, 1, n)),
    definitions=SOFTMAX,
    sizes=SIZES,
    indices={i: n},
    steps=[
        Step(exp(z[i]) * exp(-m) / (exp(-m) * SUM_EXP), "$e^{a - m} = e^{a} e^{-m}$, and $e^{-m}$ leaves the sum"),
        Step(exp(z[i]) / SUM_EXP, "cancel $e^{-m} > 0$"),
        Step(p[i], "definition of softmax"),
    ],
    outro="With $m = \\max_k z_k$ the largest term of the sum is $e^0 = 1$, so the sum lies in $[1, n]$: no overflow, no division by zero.",
)


EXAMPLE = WorkedExample(
    softmax_jacobian_derivation,
    inputs={"z": [1, 2, 3]},
    shows=[(r"p = \operatorname{softmax}(z)", p[i], lambda z: softmax(z)),
           (r"J = \operatorname{diag}(p) - p p^{\top}", None, lambda z: softmax_jacobian(z))],
    title="the softmax of $(1, 2, 3)$ and its Jacobian",
    text="Each row of $J$ sums to zero, and $J$ is symmetric, as the claims say.",
)
