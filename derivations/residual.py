"""The pre-norm residual block (GPT-2, Llama): h = x + Attn(Norm(x)), y = h + FFN(Norm(h)).

The backward pass through y = x + f(x) is dx = dy + J_f^T dy: the identity path passes dy to x
unchanged, whatever the sublayer does, and the sublayer only adds its own term. The first
derivation writes this out in index notation for a sublayer W RMSNorm(x) (proved for every width);
the second composes the two sublayers of a block with their Jacobians as matrices; the property
at the end shows what the identity path buys in a deep stack.
"""

import numpy as np
import sympy as sp
from sympy import Derivative, Identity, IndexedBase, KroneckerDelta, Lambda, MatrixSymbol, Sum, sqrt

from symformer import Derivation, Domain, Gradient, Property, Size, Step, Witness
from symformer.export import WorkedExample
from symformer.reference.activations import swiglu, swiglu_backward
from symformer.reference.attention import causal_mask, multi_head_attention, multi_head_attention_backward
from symformer.reference.finite_differences import directional_difference
from symformer.reference.norms import rms_norm, rms_norm_backward, rms_norm_jacobian

ORDER = 86
TOPIC = "The pre-norm residual block"
HE = "he2016identity, section 3"
GPT2 = "radford2019language, section 2.3"

n = sp.Symbol("n", integer=True, positive=True)
i, j, k, a, s = sp.symbols("i j k a s", integer=True)
x = IndexedBase("x", shape=(n,), real=True)
w = IndexedBase("w", shape=(n,), real=True)
W = IndexedBase("W", shape=(n, n), real=True)
dy = IndexedBase("dy", shape=(n,), real=True)
F = IndexedBase("F", shape=(n,))
g = IndexedBase("g", shape=(n,))
eps = sp.Symbol("epsilon", positive=True)
r = sp.Symbol("r", positive=True)
delta = KroneckerDelta

SMALL_POSITIVE = Domain(
    "small positive",
    lambda rng, shape: rng.uniform(0.01, 0.1, shape),
    lambda rng, shape: np.vectorize(lambda v: sp.Rational(int(v), 1000), otypes=[object])(rng.integers(10, 100, shape)),
)
SUBLAYER = {
    F: Lambda(a, Sum(W[a, k] * w[k] * x[k], (k, 1, n)) / r),  # F(x) = W RMSNorm(x)
    r: sqrt(Sum(x[s] ** 2, (s, 1, n)) / n + eps),
    g: Lambda(a, w[a] * Sum(W[i, a] * dy[i], (i, 1, n))),  # what reaches RMSNorm's output: w o (W^T dy)
}
RMS_JACOBIAN = (delta(k, j) - x[k] * x[j] / (n * r**2)) / r


def _block_loss(x, w, W, dy, epsilon):
    return float(np.sum(dy * (x + W @ rms_norm(x, w, eps=epsilon))))


prenorm_residual_backward = Derivation(
    slug="prenorm-residual-backward",
    title=r"Backward through $y = x + f(\operatorname{Norm}(x))$: $dx = dy + J^{\top} dy$",
    topic=TOPIC,
    intro=(r"A pre-norm sublayer normalises its input, transforms it, and adds the result back: "
           r"$y = x + F(x)$ with $F(x) = W \operatorname{RMSNorm}(x)$, the simplest sublayer that has a norm "
           r"($W$ stands for the attention or feed-forward map). With $dy = \partial L / \partial y$ and "
           r"$L = \sum_i dy_i\, y_i$:"),
    lhs=Derivative(Sum(dy[i] * (x[i] + F[i]), (i, 1, n)), x[j]),
    definitions=SUBLAYER,
    domains={eps: SMALL_POSITIVE},
    sizes={n: Size(prove=(1, 2), numeric=16)},  # every step, the exchange of the sums too, is proved for all n
    indices={j: n},
    steps=[
        Step(dy[j] + Sum(dy[i] * Derivative(F[i], x[j]), (i, 1, n)),
             r"linearity: $\partial x_i / \partial x_j = \delta_{ij}$, so the identity path contributes $dy_j$ unchanged",
             cite=HE),
        Step(dy[j] + Sum(dy[i] * Sum(W[i, k] * w[k] * RMS_JACOBIAN, (k, 1, n)), (i, 1, n)),
             r"chain rule through $W$ and the weighted RMSNorm Jacobian (derivation rmsnorm-weighted-jacobian): "
             r"$dx = dy + J^{\top} dy$ with $J = W \operatorname{diag}(w) J_{\text{RMS}}$"),
        Step(dy[j] + Sum(Sum(W[i, k] * dy[i], (i, 1, n)) * w[k] * RMS_JACOBIAN, (k, 1, n)),
             r"exchange the two finite sums: first collect $(W^{\top} dy)_k = \sum_i W_{ik}\, dy_i$"),
        Step(dy[j] + Sum(g[k] * RMS_JACOBIAN, (k, 1, n)), r"name $g = w \odot W^{\top} dy$, what reaches the normalised vector"),
        Step(dy[j] + (g[j] - x[j] * Sum(g[s] * x[s], (s, 1, n)) / (n * r**2)) / r,
             r"the RMSNorm backward pass (derivation rmsnorm-backward): $dx = dy + (g - \hat x \operatorname{mean}(g \odot \hat x)) / r$"),
    ],
    outro=(r"With a dead sublayer ($W = 0$, or every gate closed) the gradient is $dy$ exactly; without the identity path "
           r"it would be 0."),
    result=Gradient(forward=_block_loss,
                    reference=lambda x, w, W, dy, epsilon: dy + rms_norm_backward(x, dy @ W, w, eps=epsilon)[0],
                    wrt="x", indices=(j,)),
    cite=(HE, GPT2),
)


# The whole block: h = x + A(x), y = h + B(h), with A, B the sublayers including their norms.
J_a, J_f = MatrixSymbol("J_attn", n, n), MatrixSymbol("J_ffn", n, n)
g_y = MatrixSymbol("dy", n, 1)
I = Identity(n)


def _sublayers(rng, tokens=6, width=8, heads=2, hidden=12):
    scale = 1 / np.sqrt(width)
    return {
        "w1": 1 + 0.1 * rng.standard_normal(width), "w2": 1 + 0.1 * rng.standard_normal(width),
        **{name: scale * rng.standard_normal((width, width)) for name in ("Wq", "Wk", "Wv", "Wo")},
        "Wg": scale * rng.standard_normal((width, hidden)), "Wu": scale * rng.standard_normal((width, hidden)),
        "Wd": rng.standard_normal((hidden, width)) / np.sqrt(hidden), "heads": heads, "mask": causal_mask(tokens),
    }


def _block(x, p):
    """h = x + Attn(RMSNorm(x)); y = h + SwiGLU(RMSNorm(h)) W_down (causal self-attention, eps = 1e-6)."""
    h = x + multi_head_attention(rms_norm(x, p["w1"]), rms_norm(x, p["w1"]), p["Wq"], p["Wk"], p["Wv"], p["Wo"], p["heads"], p["mask"])
    return h + swiglu(rms_norm(h, p["w2"]), p["Wg"], p["Wu"]) @ p["Wd"]


def _block_backward(x, dy, p):
    """dh = dy + J_ffn^T dy, then dx = dh + J_attn^T dh, each sublayer's term from the references."""
    z1 = rms_norm(x, p["w1"])
    h = x + multi_head_attention(z1, z1, p["Wq"], p["Wk"], p["Wv"], p["Wo"], p["heads"], p["mask"])
    dz2 = swiglu_backward(rms_norm(h, p["w2"]), p["Wg"], p["Wu"], dy @ p["Wd"].T)[0]
    dh = dy + rms_norm_backward(h, dz2, p["w2"])[0]
    grads = multi_head_attention_backward(z1, z1, p["Wq"], p["Wk"], p["Wv"], p["Wo"], p["heads"], dh, p["mask"])
    return dh + rms_norm_backward(x, grads.dX_q + grads.dX_kv, p["w1"])[0]


def _real_block_numeric(rng, sizes):
    p = _sublayers(rng)
    x, dy = rng.standard_normal((6, 8)), rng.standard_normal((6, 8))
    dx = _block_backward(x, dy, p)
    worst = 0.0
    for _ in range(4):
        v = rng.standard_normal(x.shape)
        numeric = float(directional_difference(lambda t: np.sum(dy * _block(t, p)), x, v))
        worst = max(worst, abs(numeric - float(np.sum(dx * v))) / max(1.0, abs(numeric)))
    return Witness(worst < 1e-7, f"dy + J_ffn^T dy, then + J_attn^T dh, against central differences of a causal "
                                 f"two-head block with SwiGLU (6 tokens, width 8): relative error {worst:.2g}", worst)


prenorm_block_backward = Derivation(
    slug="prenorm-block-backward",
    title=r"Backward through a whole pre-norm block: $dx = dy + J_{\text{ffn}}^{\top} dy + J_{\text{attn}}^{\top} dy + J_{\text{attn}}^{\top} J_{\text{ffn}}^{\top} dy$",
    topic=TOPIC,
    intro=(r"A block is two residual sublayers: $h = x + \operatorname{Attn}(\operatorname{Norm}(x))$, then "
           r"$y = h + \operatorname{FFN}(\operatorname{Norm}(h))$. With $J_{\text{attn}}$ and $J_{\text{ffn}}$ the Jacobians of "
           r"the two sublayers (norms included), $\partial y / \partial x = (I + J_{\text{ffn}})(I + J_{\text{attn}})$, and the "
           r"backward pass applies its transpose to $dy$."),
    lhs=((I + J_f) * (I + J_a)).T * g_y,
    sizes={n: Size(prove=range(1, 5), numeric=32)},
    steps=[
        Step((I + J_a).T * ((I + J_f).T * g_y), r"the transpose of a product reverses it; backpropagation meets the FFN first"),
        Step((I + J_a).T * (g_y + J_f.T * g_y), r"the FFN sublayer: $dh = dy + J_{\text{ffn}}^{\top} dy$ (derivation prenorm-residual-backward)"),
        Step(g_y + J_f.T * g_y + J_a.T * g_y + J_a.T * J_f.T * g_y,
             r"the attention sublayer: $dx = dh + J_{\text{attn}}^{\top} dh$. $dy$ itself reaches $x$ through the two identity "
             r"paths; each sublayer adds a term, and one term passes through both", cite=HE),
    ],
    claims=[
        Property("the composition is what the references compute for a real block (causal attention, SwiGLU, RMSNorm)",
                 exact=lambda sizes: None, numeric=_real_block_numeric,
                 why=r"each reference backward pass supplies one $J^{\top} v$ product; central differences of the whole block agree"),
    ],
    cite=(HE, GPT2),
)


def _depth_exact(sizes):
    """Instance check with rational sublayer Jacobians of Frobenius norm <= 1/4, through 6 blocks, exactly."""
    size, depth, bound = sizes[n], 6, sp.Rational(1, 4)
    rng = np.random.default_rng(size)
    jacobians = []
    for _ in range(depth):
        raw = sp.Matrix(size, size, lambda p, q: sp.Integer(int(rng.integers(-9, 10))))
        square = sum(e**2 for e in raw) or sp.Integer(1)
        root_above = sp.Integer(int(sp.sqrt(square).evalf(30)) + 1)  # an integer >= ||raw||_F
        jacobians.append(raw * bound / root_above)
    v = sp.Matrix(size, 1, lambda p, q: sp.Integer(int(rng.integers(1, 10))))
    through, plain = v, v
    for J in reversed(jacobians):
        through = (sp.eye(size) + J).T * through
        plain = J.T * plain
    norm_v, norm_through, norm_plain = (sum(e**2 for e in u) for u in (v, through, plain))
    holds = ((1 - bound) ** (2 * depth) * norm_v <= norm_through <= (1 + bound) ** (2 * depth) * norm_v
             and norm_plain <= bound ** (2 * depth) * norm_v)
    return Witness(bool(holds), f"|dx|^2 / |dy|^2 = {float(norm_through / norm_v):.4g} with identity paths, "
                                f"{float(norm_plain / norm_v):.3g} without")


def _depth_numeric(rng, sizes):
    """Real pre-norm blocks y = x + W RMSNorm(x), small W as at initialisation, 12 deep."""
    width, depth, tokens = max(sizes[n], 2), 12, 4
    weights = [0.05 * rng.standard_normal((width, width)) / np.sqrt(width) for _ in range(depth)]
    xs = [rng.standard_normal((tokens, width))]
    for Wl in weights:
        xs.append(xs[-1] + rms_norm(xs[-1]) @ Wl.T)
    # the largest sublayer Jacobian norm over every block and token
    bound = max(float(np.linalg.norm(Wl @ rms_norm_jacobian(row), 2)) for Wl, x_l in zip(weights, xs) for row in x_l)
    dy = rng.standard_normal((tokens, width))
    through, plain = dy, dy
    for Wl, x_l in zip(reversed(weights), reversed(xs[:-1])):
        through = through + rms_norm_backward(x_l, through @ Wl)[0]
        plain = rms_norm_backward(x_l, plain @ Wl)[0]
    ratio, plain_ratio = float(np.linalg.norm(through) / np.linalg.norm(dy)), float(np.linalg.norm(plain) / np.linalg.norm(dy))
    # per token: (1 - e)^L |dy_t| <= |dx_t| <= (1 + e)^L |dy_t|; summed over tokens the same bounds hold
    holds = (1 - bound) ** depth <= ratio <= (1 + bound) ** depth and plain_ratio <= bound**depth
    return Witness(holds, f"sublayer Jacobians of norm <= {bound:.3f}: |dx|/|dy| = {ratio:.4f} through 12 residual blocks, "
                          f"{plain_ratio:.2g} without the identity paths")


residual_keeps_gradients = Derivation(
    slug="prenorm-residual-depth",
    title="Why the identity path keeps gradients alive in a deep stack",
    topic=TOPIC,
    intro=(r"Through $L$ blocks the backward pass multiplies $dy$ by $\prod_l (I + J_l)^{\top}$. If every sublayer "
           r"Jacobian has norm at most $\epsilon < 1$, each factor stretches a vector by a factor in "
           r"$[1 - \epsilon, 1 + \epsilon]$; without the identity paths the product $\prod_l J_l^{\top}$ shrinks it by "
           r"$\epsilon$ per layer. GPT-2 initialises the output projections small ($1/\sqrt{2L}$) so that the blocks start "
           r"close to the identity."),
    lhs=(I + J_a).T * g_y,
    sizes={n: Size(prove=range(1, 5), numeric=32)},
    steps=[Step(g_y + J_a.T * g_y, r"one factor: the gradient is $dy$ plus what the sublayer adds")],
    claims=[
        Property("through L residual blocks whose sublayer Jacobians have norm at most e, the gradient's norm stays between (1 - e) and (1 + e) to the power L times its norm at the top; "
                 "without the identity paths it shrinks like e to the power L",
                 exact=_depth_exact, numeric=_depth_numeric, cite=GPT2,
                 why=r"$\|(I + J)^{\top} v\| \ge \|v\| - \|J^{\top} v\| \ge (1 - \epsilon) \|v\|$ and "
                     r"$\|(I + J)^{\top} v\| \le (1 + \epsilon)\|v\|$; $\|J^{\top} v\| \le \epsilon \|v\|$"),
    ],
    cite=(HE, GPT2),
)


EXAMPLE = WorkedExample(
    prenorm_residual_backward,
    inputs={"x": [1, -1], "w": [2, 1], "W": [[1, 1], [0, 1]], "dy": [1, 0], "epsilon": "1/100"},
    shows=[(r"y = x + W (w \odot \hat x)", x[j] + F[j], lambda x, w, W, epsilon: x + W @ rms_norm(x, w, eps=epsilon)),
           (r"dx - dy", prenorm_residual_backward.steps[-1].expr - dy[j],
            lambda x, w, W, dy, epsilon: rms_norm_backward(x, dy @ W, w, eps=epsilon)[0]),
           (r"dx", None, lambda x, w, W, dy, epsilon: dy + rms_norm_backward(x, dy @ W, w, eps=epsilon)[0])],
    title="a pre-norm block on two features",
    text=r"$r = \sqrt{1 + 1/100}$. The residual path hands $dy = (1, 0)$ to $x$ unchanged; the sublayer adds "
         r"$dx - dy$, RMSNorm's backward pass applied to $w \odot W^{\top} dy$.",
)
