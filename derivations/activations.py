"""Activations of the feed-forward block: GELU (exact and tanh forms), SiLU, and SwiGLU's gradients.

GELU (Hendrycks and Gimpel 2016) is x Phi(x) with Phi the standard normal CDF; GPT-2 and BERT's
original code use the tanh approximation, PyTorch's F.gelu(approximate="tanh"). SiLU (swish) is
x sigmoid(x). SwiGLU (Shazeer 2020) gates one projection of the token by the SiLU of another:
h = silu(x W_gate) o (x W_up), Llama's feed-forward block before W_down. The SwiGLU gradients
are written in index notation for one token (tokens of a batch add), for every d_model and d_ff.
"""

import mpmath
import numpy as np
import sympy as sp
from sympy import Derivative, IndexedBase, Lambda, Sum, erf, exp, pi, sqrt, tanh

from symformer import Claim, Derivation, Figure, Gradient, Property, Size, Step, Witness
from symformer.export import WorkedExample
from symformer.figures.modern import activations_figure
from symformer.reference.activations import (
    TANH_CUBIC, gelu, gelu_grad, sigmoid, silu, silu_grad, swiglu, swiglu_backward,
)

ORDER = 84
TOPIC = "Activations: GELU, SiLU and SwiGLU"
HENDRYCKS = "hendrycks2016gaussian, section 2"
SHAZEER = "shazeer2020glu, section 2"

x = sp.Symbol("x", real=True)
Phi, phi = sp.Symbol("Phi", positive=True), sp.Symbol("phi", positive=True)
sigma = sp.Symbol("sigma", positive=True)
u, t = sp.Symbol("u", real=True), sp.Symbol("t", real=True)
CUBIC = sp.Rational(TANH_CUBIC).limit_denominator(10**6)  # 0.044715 exactly
NORMAL = {Phi: (1 + erf(x / sqrt(2))) / 2, phi: exp(-x**2 / 2) / sqrt(2 * pi)}


gelu_derivative = Derivation(
    slug="gelu-derivative",
    title=r"The GELU derivative: $\Phi(x) + x\,\phi(x)$",
    topic=TOPIC,
    intro=(r"GELU weights its input by the probability that a standard normal variable lies below it: "
           r"$\operatorname{GELU}(x) = x\,\Phi(x)$ with $\Phi(x) = \frac{1}{2}\left(1 + \operatorname{erf}(x / \sqrt{2})\right)$ "
           r"and density $\phi(x) = e^{-x^2/2} / \sqrt{2\pi}$. It is smooth where ReLU has a corner, and slightly "
           r"negative for $x < 0$."),
    lhs=Derivative(x * Phi, x),
    definitions=NORMAL,
    steps=[
        Step(Phi + x * Derivative(Phi, x), "product rule"),
        Step(Phi + x * phi, r"$\Phi' = \phi$: $\frac{d}{dx} \operatorname{erf}(x/\sqrt{2}) = \frac{2}{\sqrt{\pi}} e^{-x^2/2} \frac{1}{\sqrt{2}}$",
             cite=HENDRYCKS),
    ],
    claims=[
        Claim("the normal CDF's derivative is the normal density", Derivative(Phi, x), phi,
              why=r"$\operatorname{erf}'(z) = 2 e^{-z^2} / \sqrt{\pi}$, and the chain rule gives the factor $1/\sqrt{2}$"),
        Claim("GELU of x minus GELU of minus x is x: its odd part is the identity",
              x * Phi - (-x) * (1 + erf(-x / sqrt(2))) / 2, x,
              why=r"$\Phi(-x) = 1 - \Phi(x)$, because erf is odd"),
    ],
    result=Gradient(forward=lambda x: gelu(x), reference=lambda x: gelu_grad(x), wrt="x"),
    cite=(HENDRYCKS,),
)


def _identity(statement, lhs, rhs, numpy_lhs, numpy_rhs, latex, why):
    """An identity of hyperbolic functions: SymPy decides it exactly once tanh is written with exp
    (the index prover does not rewrite tanh), float64 checks it on a grid of [-30, 30]."""
    variable = sorted((lhs - rhs).free_symbols, key=str)[0]

    def exact(sizes):
        holds = sp.simplify((lhs - rhs).rewrite(exp)) == 0
        return Witness(bool(holds), f"{lhs} - ({rhs}) simplifies to 0 once tanh is written with exp")

    def numeric(rng, sizes):
        grid = np.concatenate([np.linspace(-30.0, 30.0, 6001), rng.standard_normal(1000) * 5])
        error = float(np.abs(numpy_lhs(grid) - numpy_rhs(grid)).max())
        return Witness(error < 1e-12, f"largest difference {error:.2g} over {grid.size} values of {variable}", error)

    return Property(statement, exact=exact, numeric=numeric, why=why, latex=latex)


BOUND = sp.Rational(5, 10**4)


def _tanh_gap_exact(sizes):
    """|gelu_tanh - gelu| < 5e-4 on the whole real line, by monotone brackets at 20 digits and a tail bound.

    d(x) = (x/2)(tanh u(x) - erf(x/sqrt 2)) is even, so x >= 0 suffices. On [lo, hi] in [0, 7], tanh u
    and erf(x/sqrt 2) are increasing, so their difference lies between tanh u(lo) - erf(hi/sqrt 2) and
    tanh u(hi) - erf(lo/sqrt 2), and |d| <= (hi/2) times the larger magnitude; intervals are halved until
    that is below the bound. For x >= 7 both lie in (0, 1), 1 - tanh u < 2 e^{-2u} <= 2 e^{-2cx} and
    erfc(x/sqrt 2) <= e^{-x^2/2}, so |d| <= x e^{-2cx}, which decreases beyond x = 1/(2c).
    """
    with mpmath.workdps(20):
        c, cubic, root2 = mpmath.sqrt(2 / mpmath.pi), mpmath.mpf(CUBIC.p) / CUBIC.q, mpmath.sqrt(2)
        bound, top = mpmath.mpf(BOUND.p) / BOUND.q, mpmath.mpf(7)
        values = {}

        def pair(point):
            if point not in values:
                values[point] = (mpmath.tanh(c * (point + cubic * point**3)), mpmath.erf(point / root2))
            return values[point]

        intervals = [(top * k / 700, top * (k + 1) / 700) for k in range(700)]
        worst, accepted = mpmath.mpf(0), 0
        while intervals:
            lo, hi = intervals.pop()
            (t_lo, e_lo), (t_hi, e_hi) = pair(lo), pair(hi)
            extreme = hi / 2 * max(abs(t_lo - e_hi), abs(t_hi - e_lo))
            if extreme < bound:
                worst, accepted = max(worst, extreme), accepted + 1
            elif hi - lo < mpmath.mpf(10) ** -9:
                return Witness(False, f"no bracket below {float(bound)} near x = {float(lo):.6f}")
            else:
                intervals += [(lo, (lo + hi) / 2), ((lo + hi) / 2, hi)]
        tail = top * mpmath.exp(-2 * c * top)
        holds = tail < bound and 7 > 1 / (2 * c)
        return Witness(bool(holds), f"{accepted} brackets on [0, 7], the widest reaching {float(worst):.6g}; "
                                    f"|d| <= {float(tail):.3g} for |x| >= 7", float(worst))


def _tanh_gap_numeric(rng, sizes):
    grid = np.linspace(-10.0, 10.0, 200_001)
    gap = np.abs(gelu(grid, approximate="tanh") - gelu(grid))
    where = float(abs(grid[np.argmax(gap)]))
    largest = float(gap.max())
    holds = largest < float(BOUND) and abs(largest - 4.73e-4) < 1e-6 and abs(where - 2.70) < 0.01
    return Witness(holds, f"largest |gap| {largest:.4g} at |x| = {where:.3f} on a grid of step 1e-4", largest)


TANH_FORM = x / 2 * (1 + tanh(u))

gelu_tanh_derivative = Derivation(
    slug="gelu-tanh-derivative",
    title=r"The tanh approximation of GELU and its derivative",
    topic=TOPIC,
    intro=(r"GPT-2 and BERT's original code replace $\Phi(x)$ by $\frac{1}{2}(1 + \tanh u)$ with "
           r"$u = \sqrt{2/\pi}\,(x + 0.044715\, x^3)$, which was cheaper than erf on their hardware; PyTorch offers it as "
           r"F.gelu with approximate='tanh'. The derivative follows by the chain rule; the claim below bounds how far "
           r"the two forms can be apart."),
    lhs=Derivative(TANH_FORM, x),
    lhs_latex=r"\frac{d}{dx} \left[\frac{x}{2} \left(1 + \tanh u\right)\right]",
    definitions={u: sqrt(2 / pi) * (x + CUBIC * x**3)},
    steps=[
        Step((1 + tanh(u)) / 2 + x / 2 * (1 - tanh(u) ** 2) * Derivative(u, x),
             r"product rule, and $\tanh'(u) = 1 - \tanh^2 u$",
             latex=r"\frac{1 + \tanh u}{2} + \frac{x}{2} \left(1 - \tanh^2 u\right) \frac{du}{dx}"),
        Step((1 + tanh(u)) / 2 + x / 2 * (1 - tanh(u) ** 2) * sqrt(2 / pi) * (1 + 3 * CUBIC * x**2),
             r"$u'(x) = \sqrt{2/\pi}\,(1 + 3 \cdot 0.044715\, x^2)$",
             latex=r"\frac{1 + \tanh u}{2} + \frac{x}{2} \left(1 - \tanh^2 u\right) \sqrt{2/\pi}\, \left(1 + 0.134145\, x^2\right)"),
    ],
    claims=[
        _identity("one plus tanh, halved, is the sigmoid at twice the argument: the tanh form of GELU is x times a sigmoid of a cubic",
                  (1 + tanh(t)) / 2, 1 / (1 + exp(-2 * t)), lambda v: (1 + np.tanh(v)) / 2, lambda v: sigmoid(2 * v),
                  latex=r"\frac{1}{2}(1 + \tanh t) = \sigma(2t)", why=r"$\tanh t = (1 - e^{-2t}) / (1 + e^{-2t})$"),
        Property(r"the tanh form stays within $5 \cdot 10^{-4}$ of the exact GELU for every real $x$ (the largest gap, $4.73 \cdot 10^{-4}$, is at $|x| = 2.70$)",
                 exact=_tanh_gap_exact, numeric=_tanh_gap_numeric,
                 why=r"the gap is even in $x$; on $[0, 7]$ monotone brackets bound it, beyond 7 both forms are within "
                     r"$x e^{-2\sqrt{2/\pi}\,x} \le 10^{-4}$ of $x$"),
    ],
    result=Gradient(forward=lambda x: gelu(x, approximate="tanh"), reference=lambda x: gelu_grad(x, approximate="tanh"), wrt="x"),
    cite=(HENDRYCKS,),
    figures=[Figure("activations", activations_figure,
                    "GELU, SiLU and ReLU, and the tanh form minus the exact GELU: at most 4.73e-4, near |x| = 2.70")],
)


SIGMOID = {sigma: 1 / (1 + exp(-x))}

silu_derivative = Derivation(
    slug="silu-derivative",
    title=r"The SiLU derivative: $\sigma(x)\,(1 + x\,(1 - \sigma(x)))$",
    topic=TOPIC,
    intro=(r"SiLU (also called swish) weights its input by the logistic sigmoid, $\operatorname{silu}(x) = x\,\sigma(x)$ "
           r"with $\sigma(x) = 1 / (1 + e^{-x})$: GELU's shape with a cheaper gate."),
    lhs=Derivative(x * sigma, x),
    definitions=SIGMOID,
    steps=[
        Step(sigma + x * Derivative(sigma, x), "product rule"),
        Step(sigma + x * sigma * (1 - sigma), r"$\sigma' = \sigma (1 - \sigma)$ (claim below)"),
        Step(sigma * (1 + x * (1 - sigma)), r"factor out $\sigma$"),
    ],
    claims=[
        Claim("the sigmoid's derivative is the sigmoid times one minus the sigmoid", Derivative(sigma, x), sigma * (1 - sigma),
              why=r"$\frac{d}{dx}(1 + e^{-x})^{-1} = e^{-x} / (1 + e^{-x})^2$ and $1 - \sigma = e^{-x} / (1 + e^{-x})$"),
        _identity("SiLU is half of x times one plus tanh of half of x: the tanh form of GELU at half the argument",
                  x / (1 + exp(-x)), x / 2 * (1 + tanh(x / 2)), silu, lambda v: v / 2 * (1 + np.tanh(v / 2)),
                  latex=r"x\,\sigma(x) = \frac{x}{2}\left(1 + \tanh \frac{x}{2}\right)",
                  why=r"$\sigma(x) = \frac{1}{2}(1 + \tanh(x/2))$"),
    ],
    result=Gradient(forward=lambda x: silu(x), reference=lambda x: silu_grad(x), wrt="x"),
)


# SwiGLU for one token, in index notation: a = x W_gate, b = x W_up, h = silu(a) o b, L = sum_q dy_q h_q.
d_model, d_ff = sp.symbols("d_model d_ff", integer=True, positive=True)
m, q, p, c_, e = sp.symbols("m q p c e", integer=True)
xs = IndexedBase("x", shape=(d_model,), real=True)
# Shazeer's letters: W is the gate's weight (W_gate), V the up projection's (W_up); indexed, W_gate would print W_{gate}_{pc}
W_gate = IndexedBase("W", shape=(d_model, d_ff), real=True)
W_up = IndexedBase("V", shape=(d_model, d_ff), real=True)
dy = IndexedBase("dy", shape=(d_ff,), real=True)
a_in, b_in = IndexedBase("a", shape=(d_ff,), real=True), IndexedBase("b", shape=(d_ff,), real=True)
da, db = IndexedBase("da", shape=(d_ff,), real=True), IndexedBase("db", shape=(d_ff,), real=True)
sg = IndexedBase("sigma", shape=(d_ff,))
GATE_SILU_PRIME = sg[c_] * (1 + a_in[c_] * (1 - sg[c_]))
GATE_LOSS = Sum(dy[q] * a_in[q] * sg[q] * b_in[q], (q, 1, d_ff))

swiglu_gate_backward = Derivation(
    slug="swiglu-gate-backward",
    title=r"SwiGLU backward through the gate: $da = dy \odot b \odot \operatorname{silu}'(a)$",
    topic=TOPIC,
    intro=(r"SwiGLU multiplies two projections of the token elementwise, $h = \operatorname{silu}(a) \odot b$ with "
           r"$a = x W_{gate}$ and $b = x W_{up}$, each of $d_{ff}$ hidden units. The loss sends back "
           r"$dy = \partial L / \partial h$, and $L = \sum_q dy_q h_q$ has exactly that gradient. First the elementwise "
           r"stage: what reaches $a$ and $b$."),
    lhs=Derivative(GATE_LOSS, a_in[c_]),
    definitions={sg: Lambda(e, 1 / (1 + exp(-a_in[e])))},
    sizes={d_ff: Size(prove=range(1, 5), numeric=32)},
    indices={c_: d_ff},
    steps=[
        Step(dy[c_] * b_in[c_] * Derivative(a_in[c_] * sg[c_], a_in[c_]), r"only hidden unit $c$ depends on $a_c$"),
        Step(dy[c_] * b_in[c_] * GATE_SILU_PRIME, r"the SiLU derivative (derivation silu-derivative)", cite=SHAZEER),
    ],
    claims=[
        Claim("the up branch's gradient is the output gradient times the gate's value, entry by entry", Derivative(GATE_LOSS, b_in[c_]), dy[c_] * a_in[c_] * sg[c_],
              why=r"$h$ is linear in $b$"),
    ],
    result=Gradient(forward=lambda a, b, dy: float(np.sum(dy * silu(a) * b)),
                    reference=lambda a, b, dy: dy * b * silu_grad(a), wrt="a", indices=(c_,)),
    cite=(SHAZEER,),
)


SWIGLU = {
    a_in: Lambda(e, Sum(xs[m] * W_gate[m, e], (m, 1, d_model))),
    b_in: Lambda(e, Sum(xs[m] * W_up[m, e], (m, 1, d_model))),
    sg: Lambda(e, 1 / (1 + exp(-a_in[e]))),
}
LINEAR_LOSS = Sum(da[q] * Sum(xs[m] * W_gate[m, q], (m, 1, d_model)) + db[q] * Sum(xs[m] * W_up[m, q], (m, 1, d_model)), (q, 1, d_ff))
SWIGLU_SIZES = {d_model: Size(prove=(1, 2), numeric=8), d_ff: Size(prove=(1, 2), numeric=12)}

swiglu_backward_derivation = Derivation(
    slug="swiglu-backward",
    title=r"SwiGLU backward: the gradients of $W$ (the gate), $V$ (up) and $x$",
    topic=TOPIC,
    intro=(r"For one token $x \in \mathbb{R}^{d_{\text{model}}}$, end to end: $L = \sum_q dy_q\, \operatorname{silu}(a_q)\, b_q$ with "
           r"$a = x W$ and $b = x V$, Shazeer's letters for $W_{gate}$ and $W_{up}$. Over a batch the weight gradients add up "
           r"token by token."),
    lhs=Derivative(GATE_LOSS, W_gate[p, c_]),
    definitions=SWIGLU,
    sizes=SWIGLU_SIZES,
    indices={p: d_model, c_: d_ff},
    steps=[
        Step(dy[c_] * b_in[c_] * Derivative(a_in[c_] * sg[c_], W_gate[p, c_]),
             r"only hidden unit $c$ depends on column $c$ of $W$, and $b$ does not depend on it at all"),
        Step(dy[c_] * b_in[c_] * xs[p] * GATE_SILU_PRIME,
             r"chain rule: $\partial a_c / \partial W_{pc} = x_p$, then $\operatorname{silu}'(a_c)$ "
             r"(derivation swiglu-gate-backward); as matrices $dW = x^{\top} da$", cite=SHAZEER),
    ],
    claims=[
        Claim("the up projection's gradient is the outer product of the input with the up branch's gradient", Derivative(GATE_LOSS, W_up[p, c_]), xs[p] * dy[c_] * a_in[c_] * sg[c_],
              why=r"$h$ is linear in $b$, and $\partial b_c / \partial V_{pc} = x_p$"),
        Claim("the token's gradient is the sum of what flows back through the gate and through the up branch",
              Derivative(LINEAR_LOSS, xs[p]), Sum(da[c_] * W_gate[p, c_] + db[c_] * W_up[p, c_], (c_, 1, d_ff)),
              indices={p: d_model},
              why=r"$x$ enters both $a = x W$ and $b = x V$; with $da$ and $db$ the gradients that reach them, "
                  r"the two paths add"),
    ],
    result=Gradient(forward=lambda x, W, V, dy: float(np.sum(dy * swiglu(x, W, V))),
                    reference=lambda x, W, V, dy: swiglu_backward(x, W, V, dy)[1], wrt="W", indices=(p, c_)),
    cite=(SHAZEER,),
)


EXAMPLE = WorkedExample(
    gelu_derivative,
    inputs={"x": 1},
    shows=[(r"\operatorname{GELU}(1) = 1 \cdot \Phi(1)", x * Phi, lambda x: gelu(x)),
           (r"\operatorname{GELU}'(1) = \Phi(1) + 1 \cdot \phi(1)", None, lambda x: gelu_grad(x))],
    title="GELU and its slope at $x = 1$",
    text=r"$\Phi(1) \approx 0.8413$ and $\phi(1) = e^{-1/2} / \sqrt{2\pi} \approx 0.2420$: the slope exceeds 1, "
         r"where ReLU's is exactly 1.",
)
