"""Word embeddings: lookup as a one-hot product, its gradient as a scatter-add, and tied embeddings.

Index notation, 1-based: E is V x D (a row per token); X is the T x V one-hot matrix of a sequence
of T tokens, so the embedded sequence is X E. Token ids in the NumPy references are 0-based.
"""

import numpy as np
import sympy as sp
from sympy import Derivative, IndexedBase, KroneckerDelta, Lambda, Sum

from symformer import Claim, Derivation, Gradient, Property, Size, Step, Witness, identity_for_all
from symformer.export import WorkedExample
from symformer.reference import embedding_backward, tied_embedding_backward, tied_logits

ORDER = 20
TOPIC = "Word embeddings"

V, D, T = sp.symbols("V D T", integer=True, positive=True)
s, t, w, v, c, j, a = sp.symbols("s t w v c j a", integer=True)
E = IndexedBase("E", shape=(V, D), real=True)
x = IndexedBase("x", shape=(V,))
X = IndexedBase("X", shape=(T, V), real=True)
G = IndexedBase("G", shape=(T, D), real=True)  # dL/d(embedded), the upstream gradient
h = IndexedBase("h", shape=(T, D), real=True)  # final hidden states, multiplied by E^T for the logits
R = IndexedBase("R", shape=(T, V), real=True)  # dL/d(logits)
delta = KroneckerDelta

SIZES = {V: Size(prove=(1, 2, 3), numeric=6), D: Size(prove=(1, 2), numeric=3), T: Size(prove=(1, 2, 3), numeric=4)}
EMBEDDED = Sum(X[s, w] * E[w, c], (w, 1, V))  # (X E)_{sc}
# Only dL/d(embedded) = G matters (chain rule), and sum G * (X E) has exactly that derivative.
INPUT_LOSS = Sum(Sum(G[s, c] * EMBEDDED, (c, 1, D)), (s, 1, T))
OUTPUT_LOSS = Sum(Sum(R[s, w] * Sum(h[s, c] * E[w, c], (c, 1, D)), (w, 1, V)), (s, 1, T))


def _token_ids(X_values):
    return np.asarray(X_values).argmax(axis=-1)


lookup_derivation = Derivation(
    slug="embedding-lookup",
    title="Embedding lookup is a product with a one-hot vector",
    topic=TOPIC,
    intro=(
        "Token $t$ of a vocabulary of $V$ is the one-hot vector $x$ with $x_w = \\delta_{wt}$. Multiplying by the "
        "$V \\times D$ embedding matrix picks out row $t$: $E^{\\top} x = E_{t,:}$. Libraries index the row directly; "
        "the product form is what makes the gradient plain linear algebra."
    ),
    lhs=Sum(E[w, j] * x[w], (w, 1, V)),
    definitions={x: Lambda(a, delta(a, t))},
    sizes=SIZES,
    indices={t: V, j: D},
    steps=[
        Step(Sum(E[w, j] * delta(w, t), (w, 1, V)), "$x$ is one-hot at $t$"),
        Step(E[t, j], "the delta keeps only $w = t$: $(E^{\\top} x)_j = E_{tj}$, row $t$ of $E$"),
    ],
    claims=[Claim("a one-hot vector sums to one", Sum(x[w], (w, 1, V)), 1, why="exactly one entry is 1")],
)


def _accumulate_exact(sizes):
    """Differentiate sum_s G_s . E[id_s] by SymPy, E and G symbolic, ids with repeats; no one-hot anywhere."""
    length, vocab, dim = sizes[T], sizes[V], sizes[D]
    ids = [(3 * p) % vocab for p in range(length)]  # repeats as soon as T > V
    table = sp.Matrix(vocab, dim, lambda r, q: sp.Symbol(f"E_{r}_{q}"))
    upstream = sp.Matrix(length, dim, lambda r, q: sp.Symbol(f"G_{r}_{q}"))
    loss = sum(upstream[p, q] * table[ids[p], q] for p in range(length) for q in range(dim))
    for token in range(vocab):
        for q in range(dim):
            expected = sum((upstream[p, q] for p in range(length) if ids[p] == token), sp.Integer(0))
            if sp.expand(sp.diff(loss, table[token, q]) - expected) != 0:
                return Witness(False, f"row {token} of dE is not the sum of G over the positions holding it (ids {ids})")
    return Witness(True, f"ids {ids}: each row of dE is the sum of G over the positions holding its token")


def _accumulate_general(sizes):
    # With token ids instead of one-hot rows: the loss sum_s G_s . E[id_s], differentiated by E_vj, is
    # sum_s [id_s = v] G_sj for every V, D and T, whatever the ids (repeated or absent)
    ids = IndexedBase("id", shape=(T,), integer=True, positive=True)
    loss = Sum(Sum(G[s, c] * E[ids[s], c], (c, 1, D)), (s, 1, T))
    return identity_for_all(Derivative(loss, E[v, j]), Sum(delta(ids[s], v) * G[s, j], (s, 1, T)), {v: V, j: D},
                            what="d/dE_vj of sum_s G_s . E[id_s] = sum_s [id_s = v] G_sj, for any token ids")


def _accumulate_numeric(rng, sizes):
    length, vocab, dim = sizes[T], sizes[V], sizes[D]
    ids = rng.integers(0, max(1, vocab // 2), length)  # half the vocabulary: repeats are certain for long T
    upstream = rng.standard_normal((length, dim))
    loop = np.zeros((vocab, dim))
    for position, token in enumerate(ids):
        loop[token] += upstream[position]
    error = float(np.abs(embedding_backward(ids, upstream, vocab) - loop).max())
    return Witness(error < 1e-12, f"scatter-add against a loop over positions, ids {ids.tolist()}", error)


gradient_derivation = Derivation(
    slug="embedding-gradient",
    title="The gradient of an embedding table is a scatter-add",
    topic=TOPIC,
    intro=(
        "A sequence of $T$ tokens is embedded as $X E$ with $X$ the $T \\times V$ one-hot matrix. Given the "
        "upstream gradient $G = \\partial L / \\partial (X E)$, the chain rule makes $L$ enter only through "
        "$\\sum_{s,c} G_{sc} (X E)_{sc}$."
    ),
    lhs=Derivative(INPUT_LOSS, E[v, j]),
    sizes=SIZES,
    domains={X: "one-hot"},
    indices={v: V, j: D},
    steps=[
        Step(Sum(Sum(Sum(G[s, c] * X[s, w] * delta(w, v) * delta(c, j), (w, 1, V)), (c, 1, D)), (s, 1, T)),
             "$\\partial E_{wc} / \\partial E_{vj} = \\delta_{wv} \\delta_{cj}$"),
        Step(Sum(X[s, v] * G[s, j], (s, 1, T)),
             "the deltas keep $w = v$ and $c = j$: $dE = X^{\\top} G$, row $v$ collects $G_s$ from every position "
             "holding token $v$ (a scatter-add; repeated tokens accumulate, absent tokens get 0)"),
    ],
    claims=[
        Property(r"repeated tokens accumulate: row $v$ of $dE$ is the sum of the rows of $G$ at the positions holding $v$",
                 exact=_accumulate_exact, numeric=_accumulate_numeric, general=_accumulate_general,
                 why="$(X^{\\top} G)_{v} = \\sum_s X_{sv} G_s$ and $X_{sv} = 1$ exactly where token $v$ sits"),
    ],
    result=Gradient(forward=lambda E, X, G: float(np.sum(G * (X @ E))),
                    reference=lambda E, X, G: embedding_backward(_token_ids(X), G, E.shape[0]), wrt="E", indices=(v, j)),
)


tied_derivation = Derivation(
    slug="tied-embedding-gradient",
    title="Tied input and output embeddings: the two gradients add",
    topic=TOPIC,
    intro=(
        "With tied embeddings the output layer reuses $E$: the logits are $z = h E^{\\top}$ (Press and Wolf 2017). "
        "$E$ then reaches the loss along two paths, the input lookup (upstream gradient $G$) and the logits "
        "(upstream gradient $R = \\partial L / \\partial z$)."
    ),
    lhs=Derivative(INPUT_LOSS + OUTPUT_LOSS, E[v, j]),
    sizes=SIZES,
    domains={X: "one-hot"},
    indices={v: V, j: D},
    steps=[
        Step(Derivative(INPUT_LOSS, E[v, j]) + Derivative(OUTPUT_LOSS, E[v, j]), "the derivative of a sum"),
        Step(Sum(X[s, v] * G[s, j], (s, 1, T)) + Sum(R[s, v] * h[s, j], (s, 1, T)),
             "the scatter-add of the input path (derivation embedding-gradient) plus $(R^{\\top} h)_{vj}$ "
             "from $z_{sw} = \\sum_c h_{sc} E_{wc}$"),
    ],
    cite=("press2017using",),
    result=Gradient(
        forward=lambda E, X, G, h, R: float(np.sum(G * (X @ E)) + np.sum(R * tied_logits(E, h))),
        reference=lambda E, X, G, h, R: tied_embedding_backward(_token_ids(X), G, h, R, E.shape[0]),
        wrt="E", indices=(v, j),
    ),
)


EXAMPLE = WorkedExample(
    gradient_derivation,
    inputs={"X": [[1, 0, 0], [0, 0, 1], [1, 0, 0]], "G": [[1, 2], [3, 4], [5, 6]]},
    shows=[(r"dE = X^{\top} G", None, lambda X, G: embedding_backward(_token_ids(X), G, 3))],
    title="tokens 1, 3, 1 of a vocabulary of 3",
    text=r"Token 1 sits at positions 1 and 3, so its row collects $G_1 + G_3$; token 2 is absent and gets 0.",
)
