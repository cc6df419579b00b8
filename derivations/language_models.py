"""Masked and causal language models: BERT's corruption and loss, and the causal factorisation.

Index notation, 1-based: z is the T x n matrix of logits (T positions, n classes), m_t = 1 at the
positions chosen for prediction and 0 elsewhere, C = sum_t m_t their count.
"""

import numpy as np
import sympy as sp
from sympy import Derivative, IndexedBase, KroneckerDelta, Lambda, Product, Sum, exp, log

from symformer import (
    Claim, Derivation, Domain, Figure, Gradient, Property, Size, Step, Witness, all_hold, identity_for_all, next_row_enters,
    rows_after_do_not_enter,
)
from symformer.blocks import CausalMask, RowSoftmax
from symformer.figures import attention_patterns_figure
from symformer.export import WorkedExample
from symformer.reference import cross_entropy, cross_entropy_grad, mlm_loss, mlm_loss_grad, mlm_mask, softmax

ORDER = 70
TOPIC = "Masked and causal language models"
BERT = "devlin2019bert, section 3.1"

# --- which tokens BERT corrupts -------------------------------------------------------------------

rho, alpha, beta = sp.symbols("rho alpha beta", positive=True)  # choose, [MASK] share, random share
BERT_RATES = {rho: sp.Rational(15, 100), alpha: sp.Rational(80, 100), beta: sp.Rational(10, 100)}
VOCAB, MASK_ID, CLS_ID, SEP_ID = 30522, 103, 101, 102  # BERT-base uncased


def _fixed_count(length, rate=0.15, cap=20):
    """google-research/bert's count, min(cap, max(1, round(length * rate))), with Python's round."""
    return min(cap, max(1, int(round(length * rate))))


def _fractions_exact(sizes):
    """The fixed-count convention is deterministic in its count: check mlm_mask chooses exactly that many."""
    rng = np.random.default_rng(0)
    for length in range(3, 160):
        ids = np.concatenate([[CLS_ID], rng.integers(1000, 2000, length - 2), [SEP_ID]])
        _, labels = mlm_mask(ids, rng, vocab_size=VOCAB, mask_id=MASK_ID, special_ids=(CLS_ID, SEP_ID, MASK_ID),
                             convention="fixed-count")
        chosen = int((labels != -100).sum())
        if chosen != min(_fixed_count(length), length - 2):
            return Witness(False, f"length {length}: {chosen} chosen, the original code chooses {_fixed_count(length)}")
    tree = [rate.subs(BERT_RATES) for rate in (rho * alpha, rho * beta, rho * (1 - alpha - beta))]
    return Witness(sum(tree) == BERT_RATES[rho], f"fixed counts match for lengths 3..159; per-token rates {tree}")


def _fractions_simulated(rng, sizes):
    """Both conventions on 2000 sequences; every fraction within 5 standard errors of its expectation.

    A random token equals the original (or is [MASK]) with probability 1/V, so the expectations
    carry that small correction.
    """
    rows, length = 2000, 130
    body = rng.integers(1000, VOCAB, (rows, length - 2))
    ids = np.concatenate([np.full((rows, 1), CLS_ID), body, np.full((rows, 1), SEP_ID)], axis=1)
    s, a, b = (float(v) for v in BERT_RATES.values())
    worst, notes = 0.0, []
    for convention in ("bernoulli", "fixed-count"):
        inputs, labels = mlm_mask(ids, rng, vocab_size=VOCAB, mask_id=MASK_ID, special_ids=(CLS_ID, SEP_ID, MASK_ID),
                                  convention=convention)
        chosen = labels != -100
        if chosen[:, [0, -1]].any():
            return Witness(False, f"{convention}: a special token was chosen")
        select = s if convention == "bernoulli" else _fixed_count(length) / (length - 2)
        observed = {"[MASK]": chosen & (inputs == MASK_ID), "random": chosen & (inputs != ids) & (inputs != MASK_ID),
                    "unchanged": chosen & (inputs == ids)}
        expected = {"[MASK]": select * (a + b / VOCAB), "random": select * b * (1 - 2 / VOCAB),
                    "unchanged": select * (1 - a - b + b / VOCAB)}
        tokens = rows * (length - 2)
        for name, mask in observed.items():
            p = expected[name]
            deviation = abs(mask.sum() / tokens - p) / np.sqrt(p * (1 - p) / tokens)
            worst = max(worst, float(deviation))
            notes.append(f"{convention} {name} {mask.sum() / tokens:.4f} (expected {p:.4f})")
    return Witness(worst < 5.0, "; ".join(notes) + f"; worst {worst:.2f} standard errors", worst)


mlm_fractions_derivation = Derivation(
    slug="mlm-masking-fractions",
    title="What fraction of BERT's input is [MASK], random or unchanged",
    topic=TOPIC,
    intro=(
        "BERT chooses $\\rho = 15\\%$ of the token positions for prediction; of those, $\\alpha = 80\\%$ become "
        "[MASK], $\\beta = 10\\%$ a random token, and the rest stay unchanged. The model cannot tell which "
        "unmasked tokens were chosen, so it must keep a good representation of every token."
    ),
    lhs=rho * alpha,
    lhs_latex="P(\\text{input is [MASK]})",
    notation={r"P(\text{input is [MASK]})": rho * alpha},
    definitions=BERT_RATES,
    steps=[Step(sp.Rational(3, 25), "$0.15 \\times 0.8 = 0.12$: 12% of all positions", cite=BERT)],
    claims=[
        Claim(r"a random token: $\rho \beta = 1.5\%$", rho * beta, sp.Rational(3, 200), why="$0.15 \\times 0.1$"),
        Claim(r"chosen but unchanged: $\rho (1 - \alpha - \beta) = 1.5\%$", rho * (1 - alpha - beta), sp.Rational(3, 200), why="$0.15 \\times 0.1$"),
        Claim(r"the three cases make up the 15% chosen: $\rho \alpha + \rho \beta + \rho (1 - \alpha - \beta) = \rho$", rho * alpha + rho * beta + rho * (1 - alpha - beta), rho,
              why="the shares $\\alpha$, $\\beta$, $1 - \\alpha - \\beta$ sum to one"),
        Property(
            "the reference mlm_mask realises these fractions, with Hugging Face's Bernoulli choice and with the original fixed count",
            exact=_fractions_exact,
            numeric=_fractions_simulated,
            why="the fixed count is deterministic; the rates are checked on 256,000 simulated tokens",
        ),
    ],
    outro=(
        "The original code chooses exactly $\\min(20, \\max(1, \\operatorname{round}(0.15 L)))$ positions of a sequence "
        "of $L$ tokens, never [CLS] or [SEP]; Hugging Face's collator flips a coin per token instead, so a sequence "
        "may get no chosen position at all. Both may draw a random token equal to the original."
    ),
    cite=(BERT,),
)


# --- the loss over the chosen positions ------------------------------------------------------------

T, n = sp.symbols("T n", integer=True, positive=True)
s, t, j, k, l, a_, b_ = sp.symbols("s t j k l a b", integer=True)
z = IndexedBase("z", shape=(T, n), real=True)
w = IndexedBase("w", shape=(T, n), positive=True)
m = IndexedBase("m", shape=(T,), real=True)
p = IndexedBase("p", shape=(T, n))
y = IndexedBase("y", shape=(T, n))
C = sp.Symbol("C", positive=True)
delta = KroneckerDelta


def _chosen(rng, shape):
    values = rng.integers(0, 2, shape).astype(float)
    if values.size and not values.any():
        values.flat[rng.integers(values.size)] = 1.0  # at least one chosen position: C > 0
    return values


CHOSEN = Domain("chosen positions", _chosen, lambda rng, shape: np.vectorize(sp.Integer, otypes=[object])(_chosen(rng, shape).astype(int)))
ROW_SOFTMAX = Lambda((a_, b_), exp(z[a_, b_]) / Sum(exp(z[a_, l]), (l, 1, n)))
ROW_TARGETS = Lambda((a_, b_), w[a_, b_] / Sum(w[a_, l], (l, 1, n)))  # each row a distribution, for every w > 0
MLM_LOSS = Sum(m[t] * Sum(-y[t, k] * log(p[t, k]), (k, 1, n)), (t, 1, T)) / C


def _masked_mean(z, w, m):
    targets = w / w.sum(axis=-1, keepdims=True)
    return float(np.sum(m * cross_entropy(z, targets)) / m.sum())


def _empty_exact(sizes):
    """Sum_t m_t l_t / max(C, 1), exactly, for m = 0 (no NaN) and for m with chosen positions (the mean)."""
    length = sizes[T]
    losses = sp.symbols(f"l1:{length + 1}", positive=True)
    for chosen in ([0] * length, [1 if q % 2 == 0 else 0 for q in range(length)]):
        count = sum(chosen)
        guarded = sum(c * v for c, v in zip(chosen, losses)) / sp.Max(count, 1)
        expected = sp.Integer(0) if count == 0 else sum(c * v for c, v in zip(chosen, losses)) / count
        if not (guarded.is_finite and sp.simplify(guarded - expected) == 0):
            return Witness(False, f"m = {chosen}: the guarded loss is {guarded}, expected {expected}")
    return Witness(True, "m = 0 gives 0; otherwise the mean over the chosen positions")


def _empty_numeric(rng, sizes):
    length, classes = sizes[T], 5
    logits = rng.standard_normal((length, classes))
    none = np.full(length, -100)
    loss, grad = mlm_loss(logits, none), mlm_loss_grad(logits, none)
    if not (loss == 0.0 and np.all(grad == 0.0)):
        return Witness(False, f"with no chosen position the loss is {loss} and the gradient is not 0")
    labels = rng.integers(0, classes, length)
    labels[1::2] = -100
    chosen = labels != -100
    mean = float(np.mean(cross_entropy(logits[chosen], np.eye(classes)[labels[chosen]])))
    error = abs(mlm_loss(logits, labels) - mean)
    return Witness(error < 1e-12, f"no chosen position: loss 0, gradient 0; otherwise the mean, error {error:.3g}", error)


def _empty_general(sizes):
    # The guarded loss divides by max(C, 1): with m = 0 it is 0 for every T and n, and so is its gradient;
    # with C >= 1 chosen positions max(C, 1) = C, the plain mean.
    guarded = MLM_LOSS.subs(C, sp.Max(Sum(m[t], (t, 1, T)), 1))
    none = {p: ROW_SOFTMAX, y: ROW_TARGETS, m: Lambda(a_, sp.Integer(0))}
    count = sp.Symbol("C", integer=True, positive=True)
    return all_hold(
        identity_for_all(guarded, 0, definitions=none, what="with m = 0 the guarded loss is 0"),
        identity_for_all(Derivative(guarded, z[s, j]), 0, {s: T, j: n}, definitions=none, what="and so is its gradient"),
        Witness(sp.Max(count, 1) == count, "max(C, 1) = C for every count C >= 1 (SymPy)"),
        summary="with m = 0 the loss divided by max(C, 1) and its gradient are 0 (index prover); for C >= 1, "
                "max(C, 1) = C (SymPy): the mean over the chosen positions",
    )


mlm_loss_derivation = Derivation(
    slug="mlm-loss-gradient",
    title="The masked-LM loss and its gradient: $p - y$ at the chosen positions, $0$ elsewhere",
    topic=TOPIC,
    intro=(
        "The loss is the cross-entropy averaged over the $C = \\sum_t m_t$ chosen positions only; the other "
        "positions are not predicted (their labels are -100 in Hugging Face's convention). Targets are written "
        "$y_{tk} = w_{tk} / \\sum_l w_{tl}$ so that each row sums to one for every $w$; one-hot labels are the limit."
    ),
    lhs=Derivative(MLM_LOSS, z[s, j]),
    definitions={p: ROW_SOFTMAX, y: ROW_TARGETS, C: Sum(m[t], (t, 1, T))},
    domains={m: CHOSEN},
    sizes={T: Size(prove=(1, 2, 3), numeric=6), n: Size(prove=(1, 2, 3), numeric=5)},
    indices={s: T, j: n},
    steps=[
        Step(Sum(m[t] * Sum(-y[t, k] * Derivative(log(p[t, k]), z[s, j]), (k, 1, n)), (t, 1, T)) / C,
             "linearity; the count $C$ does not depend on the logits"),
        Step(Sum(m[t] * Sum(-y[t, k] * delta(t, s) * (delta(k, j) - p[t, j]), (k, 1, n)), (t, 1, T)) / C,
             "the log-softmax Jacobian of row $t$, which depends on row $s$ of the logits only when $t = s$"),
        Step(m[s] * (Sum(y[s, k], (k, 1, n)) * p[s, j] - y[s, j]) / C, "the deltas keep $t = s$ and $k = j$"),
        Step(m[s] * (p[s, j] - y[s, j]) / C,
             "each row of targets sums to one: $(p - y)/C$ at a chosen position, 0 at every other", cite=BERT),
    ],
    claims=[
        Property(
            r"with no chosen position the loss is defined as 0 (gradient 0), not $0/0$, which is NaN: divide by $\max(C, 1)$",
            exact=_empty_exact,
            numeric=_empty_numeric,
            general=_empty_general,
            why="$\\max(C, 1) = C$ whenever a position is chosen, and the numerator is 0 when none is",
        ),
    ],
    result=Gradient(
        forward=_masked_mean,
        reference=lambda z, w, m: m[:, None] * cross_entropy_grad(z, w / w.sum(axis=-1, keepdims=True)) / m.sum(),
        wrt="z", indices=(s, j),
    ),
)


# --- the causal factorisation --------------------------------------------------------------------

q = IndexedBase("q", shape=(T,), positive=True)  # q_t = p(x_t | x_1, ..., x_{t-1})


def _attend_exact(e, causal):
    """One attention head over scalar token embeddings e, with the additive -oo mask when causal."""
    length = len(e)
    outputs = []
    for r in range(length):
        scores = [e[r] * e[c] + (-sp.oo if causal and c > r else 0) for c in range(length)]
        weights = [exp(v) for v in scores]  # exp(-oo) = 0: a masked key contributes nothing
        outputs.append(sum(wt * e[c] for c, wt in enumerate(weights)) / sum(weights))
    return outputs


def _causal_exact(sizes):
    length = sizes[T]
    if length > 4:
        return None  # the symbolic attention grows quickly; 1..4 positions show the pattern
    e = sp.symbols(f"e1:{length + 1}", real=True)
    point = {v: sp.Rational(c + 2, 3) for c, v in enumerate(e)}
    causal, full = _attend_exact(e, True), _attend_exact(e, False)
    for r in range(length):
        if any(sp.diff(causal[r], e[c]) != 0 for c in range(r + 1, length)):
            return Witness(False, f"the causal output at position {r + 1} depends on a later token")
        if r + 1 < length and sp.diff(full[r], e[r + 1]).subs(point) == 0:
            return Witness(False, f"the bidirectional output at position {r + 1} does not depend on token {r + 2}")
    return Witness(True, "causal: d o_t / d e_u = 0 exactly for u > t; bidirectional: d o_t / d e_{t+1} != 0")


def _attend_numeric(x, causal):
    length = x.shape[0]
    scores = x @ x.T / np.sqrt(x.shape[1])
    if causal:
        allowed = np.tri(length, dtype=bool)  # key j <= query i
        scores = np.where(allowed, scores, -np.inf)
    return softmax(scores) @ x


def _causal_general(sizes):
    """For every T and width: causal self-attention's row t has zero derivative by every later token; without
    the mask row t depends on token t + 1 (at the zero input its derivative is 1/T)."""
    D = sp.Symbol("D", integer=True, positive=True)
    X = sp.MatrixSymbol("X", T, D)
    scores = X * X.T / sp.sqrt(D)
    return all_hold(
        rows_after_do_not_enter(RowSoftmax(scores + CausalMask(T, T)) * X, [X],
                                what="causal: row t of softmax(X X^T / sqrt(D) + B) X has zero derivative by rows u > t"),
        next_row_enters(RowSoftmax(scores) * X, X, what="bidirectional: row t of softmax(X X^T / sqrt(D)) X depends on row t + 1"))


def _causal_numeric(rng, sizes):
    length = sizes[T]
    x = rng.standard_normal((length, 4))
    for r in range(length - 1):
        later = x.copy()
        later[r + 1:] += rng.standard_normal((length - r - 1, 4))
        if not np.array_equal(_attend_numeric(x, True)[: r + 1], _attend_numeric(later, True)[: r + 1]):
            return Witness(False, f"changing tokens after {r + 1} changed a causal output at or before {r + 1}")
        if np.allclose(_attend_numeric(x, False)[r], _attend_numeric(later, False)[r]):
            return Witness(False, f"changing tokens after {r + 1} left the bidirectional output {r + 1} unchanged")
    return Witness(True, "causal outputs unchanged bit for bit by later tokens; bidirectional outputs change")


causal_derivation = Derivation(
    slug="causal-factorisation",
    title="The causal factorisation of a sequence's probability",
    topic=TOPIC,
    intro=(
        "By the chain rule of probability, $p(x_1, \\dots, x_T) = \\prod_t p(x_t \\mid x_{<t})$. A causal "
        "language model computes each factor $q_t = p(x_t \\mid x_{<t})$ from the output at position $t - 1$, "
        "so that output must not depend on $x_t, x_{t+1}, \\dots$: the causal mask guarantees it."
    ),
    lhs=log(Product(q[t], (t, 1, T))),
    lhs_latex="\\log p(x_1, \\dots, x_T)",
    notation={r"p(x_1, \dots, x_T)": Product(q[t], (t, 1, T))},
    domains={q: "unit interval"},
    sizes={T: Size(prove=range(1, 7), numeric=16)},
    steps=[Step(Sum(log(q[t]), (t, 1, T)), "the log of a product is the sum of the logs: "
                                            "$\\log p(x) = \\sum_t \\log p(x_t \\mid x_{<t})$, one cross-entropy term per position")],
    claims=[
        Property(
            r"with the causal mask the output at $t$ depends only on $x_1$ to $x_t$; bidirectional attention lets it "
            r"see $x_{t+1}$, the very token it would predict",
            exact=_causal_exact,
            numeric=_causal_numeric,
            general=_causal_general,
            why="a masked score is $-\\infty$, its weight $e^{-\\infty} = 0$, so the later token drops out of the sums",
        ),
    ],
    outro=(
        "Bidirectional conditioning would let each word see itself (or, with shifted targets, the word it predicts) "
        "in a multi-layer model, and training would learn to copy. BERT keeps bidirectional attention and hides the "
        "predicted tokens instead: that is the masked language model."
    ),
    cite=(BERT, "vaswani2017attention, section 3.2.3"),
    figures=[Figure("attention-patterns", attention_patterns_figure,
                    "Which keys each query may attend to: an encoder sees every token, a decoder only the tokens up to "
                    "itself, and padded keys are seen by no query.")],
)


EXAMPLE = WorkedExample(
    mlm_loss_derivation,
    inputs={"z": [[2, 0, 1], [0, 1, 1]], "w": [[1, 1, 2], [1, 1, 1]], "m": [1, 0]},
    shows=[(r"y", y[s, j], lambda w: w / w.sum(axis=-1, keepdims=True)),
           (r"\frac{\partial L}{\partial z} = \frac{m_s (p_{sj} - y_{sj})}{C}", None, mlm_loss_derivation.result.reference)],
    title="two positions, one of them chosen",
    text=r"Only position 1 is chosen ($m = (1, 0)$, $C = 1$): its row is $p - y$, the other row is 0.",
)
