"""Why attention divides by sqrt(d_k) (Vaswani et al. 2017, section 3.2.1 and footnote 4).

The moments are written in index notation for a general d: with E[q_i] = mu_q and independent
components, E[q_i q_j] = sigma_q^2 delta_ij + mu_q^2; with q independent of k, E[q_i q_j k_i k_j]
factors. Only zero mean, unit variance and independence are used: no Gaussian assumption.
"""

from fractions import Fraction

import numpy as np
import sympy as sp
from sympy import IndexedBase, KroneckerDelta, Lambda, Sum

from symformer import Claim, Derivation, Figure, Property, Size, Step, Witness, all_hold, identity_for_all
from symformer.figures import softmax_saturation_figure

ORDER = 43  # right after the scores S = tau Q K^T are introduced
TOPIC = "Queries, keys, values and attention"
VASWANI = "vaswani2017attention, section 3.2.1 and footnote 4"

d = sp.Symbol("d_k", integer=True, positive=True)
i, j, a, b = sp.symbols("i j a b", integer=True)
mq, mk = sp.Symbol("mu_q", real=True), sp.Symbol("mu_k", real=True)
sq, sk = sp.Symbol("sigma_q", positive=True), sp.Symbol("sigma_k", positive=True)
Mq = IndexedBase("M^q", shape=(d, d))  # M^q_ij = E[q_i q_j]
Mk = IndexedBase("M^k", shape=(d, d))
delta = KroneckerDelta

SIZES = {d: Size(prove=range(1, 7), numeric=64)}
SECOND_MOMENTS = {Mq: Lambda((a, b), sq**2 * delta(a, b) + mq**2), Mk: Lambda((a, b), sk**2 * delta(a, b) + mk**2)}
VARIANCE = Sum(Sum(Mq[i, j] * Mk[i, j], (j, 1, d)), (i, 1, d)) - Sum(mq * mk, (i, 1, d)) ** 2
GENERAL = d * (sq**2 * sk**2 + sq**2 * mk**2 + mq**2 * sk**2)
STANDARD = {mq: 0, mk: 0, sq: 1, sk: 1}
# The variance under the paper's assumptions, with the second moments written out so the values reach them.
STANDARD_VARIANCE = VARIANCE.replace(lambda e: isinstance(e, sp.Indexed) and e.base in SECOND_MOMENTS,
                                     lambda e: SECOND_MOMENTS[e.base](*e.indices)).subs(STANDARD)

# Three component distributions with mean 0 and variance 1: the fact does not need a Gaussian.
SKEWED = {Fraction(-2): Fraction(1, 5), Fraction(1, 2): Fraction(4, 5)}  # mean 0, variance 1, skewed


def _draw(rng, name, shape):
    if name == "gaussian":
        return rng.standard_normal(shape)
    if name == "rademacher":
        return rng.choice([-1.0, 1.0], size=shape)
    return np.where(rng.random(shape) < 0.2, -2.0, 0.5)


def _moments_of_dot_exact(size):
    """Exact E[q.k], Var[q.k] and E[q.q] for SKEWED components, by convolving distributions (no moment algebra)."""
    product = {}
    for p, wp in SKEWED.items():
        for r, wr in SKEWED.items():
            product[p * r] = product.get(p * r, 0) + wp * wr
    square = {p * p: wp for p, wp in SKEWED.items()}

    def sum_of(copies, single):
        total = {Fraction(0): Fraction(1)}
        for _ in range(copies):
            step = {}
            for value, weight in total.items():
                for other, w in single.items():
                    step[value + other] = step.get(value + other, 0) + weight * w
            total = step
        return total

    dot = sum_of(size, product)
    mean = sum(value * weight for value, weight in dot.items())
    variance = sum((value - mean) ** 2 * weight for value, weight in dot.items())
    self_dot = sum(value * weight for value, weight in sum_of(size, square).items())
    return mean, variance, self_dot


def _variance_exact(sizes):
    size = sizes[d]
    mean, variance, self_dot = _moments_of_dot_exact(size)
    holds = mean == 0 and variance == size and variance / size == 1 and self_dot == size
    return Witness(holds, f"components -2 (p = 1/5) or 1/2 (p = 4/5): E[q.k] = {mean}, Var[q.k] = {variance}, "
                          f"Var[q.k / sqrt(d_k)] = {variance / size}, E[q.q] = {self_dot}")


def _variance_general(sizes):
    # The skewed law's own mean and variance, in exact fractions, put into the derivation's moments of
    # independent components: Var[q.k] = d_k, Var[q.k / sqrt(d_k)] = 1 and E[q.q] = d_k for every d_k.
    mean = sum(value * weight for value, weight in SKEWED.items())
    variance = sum((value - mean) ** 2 * weight for value, weight in SKEWED.items())
    law = {mq: sp.Rational(mean.numerator, mean.denominator), mk: sp.Rational(mean.numerator, mean.denominator),
           sq: sp.sqrt(sp.Rational(variance.numerator, variance.denominator)),
           sk: sp.sqrt(sp.Rational(variance.numerator, variance.denominator))}
    moments = {**SECOND_MOMENTS, **law}
    return all_hold(
        Witness(mean == 0 and variance == 1, f"the skewed law has mean {mean} and variance {variance} (exact)"),
        identity_for_all(VARIANCE, d, definitions=moments, what="Var[q.k] = d_k"),
        identity_for_all(VARIANCE / d, 1, definitions=moments, what="Var[q.k / sqrt(d_k)] = 1"),
        identity_for_all(Sum(Mq[i, i], (i, 1, d)), d, definitions=moments, what="E[q.q] = d_k"),
        summary="the skewed law has mean 0 and variance 1 (exact); with independent components Var[q.k] = d_k, "
                "Var[q.k / sqrt(d_k)] = 1 and E[q.q] = d_k (index prover)",
    )


def _variance_monte_carlo(rng, sizes):
    """Seeded simulation; each estimate must lie within 5 standard errors, estimated from the same samples."""
    size, samples = sizes[d], 20_000
    worst, notes = 0.0, []
    for name in ("gaussian", "rademacher", "skewed"):
        q, k = _draw(rng, name, (samples, size)), _draw(rng, name, (samples, size))
        dots = np.sum(q * k, axis=1)
        centred = dots - dots.mean()
        variance = float(np.mean(centred**2))
        mean_se = np.sqrt(variance / samples)
        variance_se = np.sqrt(max(float(np.mean(centred**4)) - variance**2, 0.0) / samples)
        self_dots = np.sum(q * q, axis=1)
        self_se = float(self_dots.std()) / np.sqrt(samples) + 1e-12  # Rademacher: q.q = d_k exactly
        deviations = [abs(float(dots.mean())) / mean_se, abs(variance - size) / variance_se,
                      abs(float(self_dots.mean()) - size) / self_se]
        worst = max(worst, *deviations)
        notes.append(f"{name}: mean {dots.mean():.3g}, var {variance:.4g}, E[q.q] {self_dots.mean():.4g}")
    return Witness(worst < 5.0, f"{samples} samples each; " + "; ".join(notes) + f"; worst {worst:.2f} standard errors", worst)


scaling_derivation = Derivation(
    slug="dot-product-variance",
    title="Why attention divides by $\\sqrt{d_k}$",
    topic=TOPIC,
    intro=(
        "Let the components of $q$ and $k$ be independent, with means $\\mu_q, \\mu_k$ and variances "
        "$\\sigma_q^2, \\sigma_k^2$. Independence gives the second moments $M^q_{ij} = E[q_i q_j] = "
        "\\sigma_q^2 \\delta_{ij} + \\mu_q^2$, and likewise $M^k$. Vaswani et al. take $\\mu = 0$ and $\\sigma = 1$."
    ),
    lhs=VARIANCE,
    lhs_latex="\\operatorname{Var}[q \\cdot k]",
    notation={r"\operatorname{Var}[q \cdot k]": VARIANCE, r"\mathbb{E}[q \cdot k]": Sum(mq * mk, (i, 1, d)),
              r"\mathbb{E}[q \cdot q]": Sum(Mq[i, i], (i, 1, d))},
    definitions=SECOND_MOMENTS,
    sizes=SIZES,
    steps=[
        Step(VARIANCE, "$E[(q \\cdot k)^2] - E[q \\cdot k]^2$ with $E[q_i k_i q_j k_j] = E[q_i q_j] E[k_i k_j]$ "
                       "($q$ independent of $k$) and $E[q_i k_i] = \\mu_q \\mu_k$"),
        Step(Sum(Sum((sq**2 * delta(i, j) + mq**2) * (sk**2 * delta(i, j) + mk**2), (j, 1, d)), (i, 1, d)) - d**2 * mq**2 * mk**2,
             "the second moments of independent components; $\\sum_{i=1}^{d_k} \\mu_q \\mu_k = d_k \\mu_q \\mu_k$"),
        Step(GENERAL, "the deltas keep the $d_k$ diagonal terms; the $\\mu_q^2 \\mu_k^2$ terms of all $d_k^2$ pairs cancel "
                      "$E[q \\cdot k]^2$", cite=VASWANI),
    ],
    claims=[
        Claim(r"$\mathbb{E}[q \cdot k] = d_k \mu_q \mu_k$, which is 0 for zero-mean components", Sum(mq * mk, (i, 1, d)), d * mq * mk,
              why="linearity and independence: $E[q_i k_i] = \\mu_q \\mu_k$"),
        Claim(r"with mean 0 and variance 1 the variance of the score is $d_k$", STANDARD_VARIANCE, d,
              why="only $\\sigma_q^2 \\sigma_k^2 = 1$ survives, once per dimension", cite=VASWANI),
        Claim(r"after scaling by $1/\sqrt{d_k}$ the variance is 1", STANDARD_VARIANCE / sp.sqrt(d) ** 2, 1,
              why="$\\operatorname{Var}[c X] = c^2 \\operatorname{Var}[X]$ with $c = 1/\\sqrt{d_k}$"),
        Claim(r"the counter-case of a key equal to the query: $\mathbb{E}[q \cdot q] = d_k (\sigma_q^2 + \mu_q^2)$, which is $d_k$, not 0",
              Sum(Mq[i, i], (i, 1, d)), d * (sq**2 + mq**2),
              why="$E[q_i q_i] = \\sigma_q^2 + \\mu_q^2$: a vector is perfectly aligned with itself"),
        Property(
            r"sampled with mean-0, variance-1 components, Gaussian or not: the score has variance $d_k$, the scaled score variance 1, and a query's squared length has mean $d_k$",
            exact=_variance_exact,
            numeric=_variance_monte_carlo,
            general=_variance_general,
            why="exact distributions of a skewed two-point law; seeded Monte Carlo for Gaussian, Rademacher and skewed",
        ),
    ],
    outro=(
        "Without the scale the logits have standard deviation $\\sqrt{d_k}$, the softmax saturates and its Jacobian "
        "$\\operatorname{diag}(p) - p p^{\\top}$ vanishes: the paper's stated suspicion, which the figure shows."
    ),
    cite=(VASWANI,),
    figures=[Figure("softmax-saturation", softmax_saturation_figure,
                    "The largest attention probability and the norm of the softmax Jacobian against $d_k$, for "
                    "random unit-variance queries and keys, with and without the $1/\\sqrt{d_k}$ scale.")],
)
