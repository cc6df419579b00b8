"""Label smoothing: cross-entropy against (1 - e) y + e/n instead of y (Szegedy et al. 2016).

PyTorch's F.cross_entropy(..., label_smoothing=e) uses exactly these targets, for class indices
and for probability targets alike. The gradient keeps the form p - targets; what changes is where
it vanishes: at finite logits, z = log q, where plain cross-entropy with a one-hot target would
push the other logits towards -inf forever.
"""

import sympy as sp
from sympy import Derivative, IndexedBase, Lambda, Sum, exp, log

from symformer import Claim, Derivation, Gradient, Size, Step
from symformer.export import WorkedExample
from symformer.reference.softmax import cross_entropy, cross_entropy_grad, softmax

ORDER = 95
TOPIC = "Label smoothing"
SZEGEDY = "szegedy2016rethinking, section 7"
CE = "derivation cross-entropy-gradient"

n = sp.Symbol("n", integer=True, positive=True)
j, k, l, a = sp.symbols("j k l a", integer=True)
z = IndexedBase("z", shape=(n,), real=True)
w = IndexedBase("w", shape=(n,), positive=True)
p, q, y = IndexedBase("p", shape=(n,)), IndexedBase("q", shape=(n,)), IndexedBase("y", shape=(n,))
eps = sp.Symbol("epsilon", positive=True)

DEFINITIONS = {
    p: Lambda(a, exp(z[a]) / Sum(exp(z[k]), (k, 1, n))),
    y: Lambda(a, w[a] / Sum(w[l], (l, 1, n))),  # any probability target; one-hot is the limit of such weights
    q: Lambda(a, (1 - eps) * y[a] + eps / n),
}
LOSS = -Sum(q[k] * log(p[k]), (k, 1, n))

label_smoothing_gradient = Derivation(
    slug="label-smoothing-gradient",
    title=r"The label-smoothed cross-entropy gradient: $p - (1 - \epsilon)\, y - \epsilon / n$",
    topic=TOPIC,
    intro=(r"With $n$ classes, targets $y$ that sum to one and a smoothing $\epsilon \in [0, 1]$, the loss is the "
           r"cross-entropy against $q = (1 - \epsilon)\, y + \epsilon / n$: some probability moves from the labelled class "
           r"to all classes evenly. $y_k = w_k / \sum_l w_l$ with positive weights $w$ stands for any probability target."),
    lhs=Derivative(LOSS, z[j]),
    definitions=DEFINITIONS,
    domains={eps: "unit interval"},
    sizes={n: Size(prove=range(1, 6), numeric=32)},
    indices={j: n},
    steps=[
        Step(Sum(q[k], (k, 1, n)) * p[j] - q[j], r"the cross-entropy gradient for any targets, here $q$", cite=CE),
        Step(p[j] - q[j], r"the smoothed targets sum to one (claim below)"),
        Step(p[j] - (1 - eps) * y[j] - eps / n, "in full: the gradient of PyTorch's cross_entropy with label_smoothing", cite=SZEGEDY),
    ],
    claims=[
        Claim("the smoothed targets sum to one", Sum(q[k], (k, 1, n)), 1,
              why=r"$(1 - \epsilon) \sum_k y_k + n \cdot \epsilon / n = 1 - \epsilon + \epsilon$"),
        Claim("the loss is (1 - e) CE(y) + e times the mean of -log p: PyTorch's form",
              LOSS, (1 - eps) * -Sum(y[k] * log(p[k]), (k, 1, n)) + eps * -Sum(log(p[k]), (k, 1, n)) / n,
              why="the cross-entropy is linear in its targets"),
        Claim(r"the gradient vanishes at finite logits $z_k = \log q_k$: smoothing stops the logits from running away",
              exp(log(q[j])) / Sum(exp(log(q[k])), (k, 1, n)) - q[j], 0,
              why=(r"softmax$(\log q) = q / \sum_k q_k = q$; every $q_k \ge \epsilon / n > 0$, whereas with $\epsilon = 0$ a one-hot "
                   r"$y$ is reached only as the other logits go to $-\infty$")),
    ],
    result=Gradient(forward=lambda z, w, epsilon: float(cross_entropy(z, w / w.sum(), label_smoothing=epsilon)),
                    reference=lambda z, w, epsilon: cross_entropy_grad(z, w / w.sum(), label_smoothing=epsilon),
                    wrt="z", indices=(j,)),
    cite=(SZEGEDY,),
)


EXAMPLE = WorkedExample(
    label_smoothing_gradient,
    inputs={"z": [1, 2, 0], "w": [0, 1, 0], "epsilon": "1/10"},
    shows=[(r"q = (1 - \epsilon)\, y + \epsilon / 3", q[j],
            lambda z, w, epsilon: softmax(z) - cross_entropy_grad(z, w, label_smoothing=epsilon)),
           (r"p = \operatorname{softmax}(z)", p[j], lambda z: softmax(z)),
           (r"-\textstyle\sum_k q_k \log p_k", LOSS, lambda z, w, epsilon: cross_entropy(z, w, label_smoothing=epsilon)),
           (r"\partial L / \partial z = p - q", None, lambda z, w, epsilon: cross_entropy_grad(z, w, label_smoothing=epsilon))],
    title="three classes, the second correct, $\\epsilon = 1/10$",
    text=r"With $w = (0, 1, 0)$ the target $y = w / \sum_k w_k$ is one-hot, and smoothing makes it "
         r"$q = (\frac{1}{30}, \frac{14}{15}, \frac{1}{30})$. PyTorch's cross_entropy with label_smoothing = 0.1 gives "
         r"the loss and the gradient, and $p$ minus that gradient gives $q$.",)
