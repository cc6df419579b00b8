"""derive writes derivations: each target in at most 10 rows, the last one closed, in the course's
notation, verified by the engine, equal to torch autograd, and equal to the course's own hand derivation."""

import json

import numpy as np
import pytest
import sympy as sp
from sympy import Derivative, IndexedBase, MatrixSymbol, Sum, Trace, exp, log, sqrt

from symformer import Derivation, DerivationError, Size, Step, catalog, derive, verify
from symformer.cli.main import main
from symformer.engine.evaluate import evaluate
from symformer.notation import to_latex

COURSE = catalog()
x = sp.Symbol("x", real=True)
sigma = sp.Symbol("sigma", positive=True)
Phi = sp.Symbol("Phi", positive=True)
SIGMOID = {sigma: 1 / (1 + exp(-x))}
GELU_ERF = {Phi: (1 + sp.erf(x / sqrt(2))) / 2}
TANH_C = sp.sqrt(2 / sp.pi)
GELU_TANH = x / 2 * (1 + sp.tanh(TANH_C * (x + sp.Rational(44715, 10**6) * x**3)))


def _course(slug):
    return COURSE[slug]


def _from_course(slug, expr=None, wrt=None):
    """The course's own left-hand side (or one of its claims), derived by the machine."""
    d = _course(slug)
    return derive(expr if expr is not None else d.lhs.expr, wrt if wrt is not None else d.lhs.variables[0],
                  sizes=d.sizes, definitions=d.definitions)


def _rms():
    H = sp.Symbol("H", integer=True, positive=True)
    k = sp.Symbol("k", integer=True)
    i, j = sp.symbols("i j", integer=True)
    xs = IndexedBase("x", shape=(H,), real=True)
    r = sp.Symbol("r", positive=True)
    eps = sp.Symbol("epsilon", positive=True)
    return derive(xs[i] / r, xs[j], sizes={H: Size(prove=range(1, 5), numeric=12)},
                  definitions={r: sqrt(Sum(xs[k] ** 2, (k, 1, H)) / H + eps)})


def _lse():
    d = _course("softmax-jacobian")
    (z_j,) = [v for v in d.lhs.variables]
    k = sp.Symbol("k", integer=True)
    n = next(iter(d.sizes))
    return derive(log(Sum(exp(z_j.base[k]), (k, 1, n))), z_j, sizes=d.sizes, definitions=d.definitions)


def _trace():
    N = sp.Symbol("N", integer=True, positive=True)
    X, A = MatrixSymbol("X", N, N), MatrixSymbol("A", N, N)
    return derive(Trace(X.T * A * X), X, sizes={N: Size(prove=range(1, 4), numeric=6)})


def _kv(which):
    d = _course("attention-backward-kv-general")
    if which == "K":
        return _from_course("attention-backward-kv-general")
    claim = d.claims[0]
    return derive(claim.lhs.expr, claim.lhs.variables[0], sizes=d.sizes, definitions=d.definitions)


TARGETS = {
    "log-sum-exp": _lse,
    "softmax-jacobian": lambda: _from_course("softmax-jacobian"),
    "cross-entropy": lambda: _from_course("cross-entropy-gradient"),
    "sigmoid": lambda: derive(sigma, x, definitions=SIGMOID),
    "silu": lambda: derive(x * sigma, x, definitions=SIGMOID),
    "gelu-erf": lambda: derive(x * Phi, x, definitions=GELU_ERF),
    "gelu-tanh": lambda: derive(GELU_TANH, x),
    "rmsnorm": _rms,
    "layernorm": lambda: _from_course("layernorm-jacobian"),
    "trace-xtax": _trace,
    "attention-dq": lambda: _from_course("attention-backward-q-general"),
    "attention-dq-matrix": lambda: _from_course("attention-backward-qk"),
    "attention-dk": lambda: _kv("K"),
    "attention-dv": lambda: _kv("V"),
}


@pytest.fixture(scope="module")
def derived():
    return {name: make() for name, make in TARGETS.items()}


@pytest.fixture(scope="module")
def reports(derived):
    return {name: verify(d) for name, d in derived.items()}


@pytest.mark.parametrize("name", TARGETS)
def test_each_target_closes_in_at_most_ten_verified_rows(name, derived, reports):
    d = derived[name]
    assert 1 <= len(d.steps) <= 10
    assert not d.steps[-1].expr.has(Derivative)
    assert reports[name].ok, [c.label for c in reports[name].checks if c.failure is not None]
    for step in d.steps:
        assert step.why.strip() and "\\" not in step.why.replace("$", "").split()[0]  # words first, then math


@pytest.mark.parametrize("name", ["log-sum-exp", "softmax-jacobian", "cross-entropy", "sigmoid", "silu", "gelu-erf",
                                  "rmsnorm", "layernorm", "attention-dq", "attention-dk", "attention-dv"])
def test_every_intermediate_row_keeps_a_derivative_until_the_rules_are_done(name, derived):
    # the rows that apply a rule keep the unevaluated derivatives they have not reached yet
    rows = derived[name].steps
    first_closed = next(n for n, s in enumerate(rows) if not s.expr.has(Derivative))
    assert all(s.expr.has(Derivative) for s in rows[:first_closed])
    assert all(not s.expr.has(Derivative) for s in rows[first_closed:])


# The course's notation, exactly -------------------------------------------------------------


@pytest.mark.parametrize("name, latex", [
    ("log-sum-exp", "p_{j}"),
    ("softmax-jacobian", r"p_{i} \left(\delta_{ij} - p_{j}\right)"),
    ("sigmoid", r"\sigma \left(1 - \sigma\right)"),
    ("trace-xtax", r"\left(A + A^{\top}\right) X"),
])
def test_the_last_row_is_in_the_course_notation(name, latex, derived):
    assert to_latex(derived[name].steps[-1].expr) == latex


def test_the_softmax_jacobian_writes_the_definition_then_the_quotient_rule(derived):
    whys = [s.why for s in derived["softmax-jacobian"].steps]
    assert whys[0].startswith("write out the definition of $p_{i}$")
    assert whys[1].startswith("quotient rule")
    assert whys[-1] == r"recognise the definition $p_{a} = \frac{e^{z_{a}}}{\sum_{k=1}^{n} e^{z_{k}}}$"


def test_the_matrix_form_of_dq_follows_the_course_row_by_row(derived):
    ours, course = derived["attention-dq-matrix"], _course("attention-backward-qk")
    # the course writes tr((dS K)^T Q) in its why; SymPy stores it as tr(K^T dS^T Q); ours keeps the transpose whole
    assert ours.steps[-2].expr.doit() == course.steps[0].expr.doit() and ours.steps[-1].expr == course.steps[-1].expr
    assert to_latex(ours.steps[-2].expr) == (r"\frac{\partial}{\partial Q} \left(\tau \operatorname{tr}\left("
                                             r"\left(dS K\right)^{\top} Q \right)\right)")
    assert [s.why.split(":")[0] for s in ours.steps] == [r"write out the definition $S = \tau Q K^{\top}$",
                                                          "the trace is cyclic", "the gradient of a trace"]


def test_a_display_name_inside_the_expression_is_derived_as_a_verified_claim(derived, reports):
    d = derived["layernorm"]
    assert [c.statement for c in d.claims] == ["the derivative of mu by x, from its definition",
                                               "the derivative of sigma by x, from its definition"]
    assert [c.latex for c in d.claims] == [r"\frac{\partial \mu}{\partial x_{j}} = \frac{1}{H}",
                                           r"\frac{\partial \sigma}{\partial x_{j}} = \frac{\hat{x}_{j}}{H}"]
    assert all(c.ok for c in reports["layernorm"].checks if c.kind == "claim")


# Equal to the course's hand derivation --------------------------------------------------------


def _equal_in_engine(derived_final, course_final, source: Derivation, indices=None):
    check = Derivation(slug="derived-equals-course", title="t", topic="t", lhs=derived_final,
                       steps=[Step(course_final, "the course's form")], sizes=source.sizes,
                       indices=indices or source.indices, definitions=source.definitions)
    report = verify(check)
    return report.ok and report.checks[0].methods[0].status == "proved"


@pytest.mark.parametrize("name, slug", [
    ("softmax-jacobian", "softmax-jacobian"),
    ("cross-entropy", "cross-entropy-gradient"),
    ("layernorm", "layernorm-jacobian"),
    ("attention-dq", "attention-backward-q-general"),
    ("attention-dq-matrix", "attention-backward-qk"),
    ("attention-dk", "attention-backward-kv-general"),
])
def test_the_result_is_proved_equal_to_the_course_derivation(name, slug, derived):
    course = _course(slug)
    assert _equal_in_engine(derived[name].steps[-1].expr, course.steps[-1].expr, derived[name])


def test_dv_is_proved_equal_to_the_course_claim(derived):
    claim = _course("attention-backward-kv-general").claims[0]
    assert _equal_in_engine(derived["attention-dv"].steps[-1].expr, claim.rhs, derived["attention-dv"])


def test_the_log_sum_exp_gradient_is_the_softmax(derived):
    p_j = derived["log-sum-exp"].steps[-1].expr
    assert isinstance(p_j, sp.Indexed) and str(p_j.base) == "p"


# Against torch autograd, float64 ----------------------------------------------------------------


def _final_at(d, values, order):
    final = d.expand(d.steps[-1].expr)
    sizes = {s: v for s, v in values.items() if s in d.sizes}
    ranges = {i: (1, int(sp.sympify(d.indices[i]).subs(sizes))) for i in order}
    return evaluate(final, values, ranges)


def _base(d, name):
    found = {str(a.base): a.base for e in (d.expand(d.lhs), d.expand(d.steps[-1].expr)) for a in e.atoms(sp.Indexed)}
    return found[name]


def _symbol(d, name):
    return next(s for e in (d.expand(d.lhs),) for s in e.free_symbols if str(s) == name)


@pytest.mark.torch
@pytest.mark.parametrize("name, torch_function", [
    ("sigmoid", lambda t, v: t.sigmoid(v)),
    ("silu", lambda t, v: t.nn.functional.silu(v)),
    ("gelu-erf", lambda t, v: t.nn.functional.gelu(v)),
    ("gelu-tanh", lambda t, v: t.nn.functional.gelu(v, approximate="tanh")),
])
def test_activations_agree_with_torch_autograd(name, torch_function, derived, rng):
    torch = pytest.importorskip("torch", reason="PyTorch is the peer check; install torch to run it")
    d = derived[name]
    points = rng.uniform(-4, 4, 64)
    ours = np.array([float(evaluate(d.expand(d.steps[-1].expr), {x: v})) for v in points])
    tensor = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    torch_function(torch, tensor).sum().backward()
    np.testing.assert_allclose(ours, tensor.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.torch
def test_vector_targets_agree_with_torch_autograd(derived, rng):
    torch = pytest.importorskip("torch", reason="PyTorch is the peer check; install torch to run it")
    jacobian = torch.autograd.functional.jacobian
    size, eps = 7, 0.05
    z, y = rng.standard_normal(size) * 2, rng.uniform(0, 1, size)
    t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731

    d = derived["softmax-jacobian"]
    i, j = d.free_indices(d.lhs)
    values = {_base(d, "z"): z, next(iter(d.sizes)): size}
    np.testing.assert_allclose(_final_at(d, values, (i, j)), jacobian(lambda v: torch.softmax(v, 0), t(z)).numpy(), atol=1e-14)

    d = derived["log-sum-exp"]
    values = {_base(d, "z"): z, next(iter(d.sizes)): size}
    np.testing.assert_allclose(_final_at(d, values, d.free_indices(d.lhs)),
                               jacobian(lambda v: torch.logsumexp(v, 0), t(z)).numpy(), atol=1e-14)

    d = derived["cross-entropy"]
    values = {_base(d, "z"): z, _base(d, "y"): y, next(iter(d.sizes)): size}
    loss = lambda v: -(t(y) * torch.log_softmax(v, 0)).sum()  # noqa: E731
    np.testing.assert_allclose(_final_at(d, values, d.free_indices(d.lhs)), jacobian(loss, t(z)).numpy(), atol=1e-13)

    d = derived["layernorm"]
    H, features = next(iter(d.sizes)), rng.standard_normal(size)
    values = {_base(d, "x"): features, H: size, _symbol(d, "epsilon"): eps}
    theirs = jacobian(lambda v: torch.nn.functional.layer_norm(v, (size,), eps=eps), t(features)).numpy()
    np.testing.assert_allclose(_final_at(d, values, d.free_indices(d.lhs)), theirs, atol=1e-12)

    d = derived["rmsnorm"]
    H = next(iter(d.sizes))
    values = {_base(d, "x"): features, H: size, _symbol(d, "epsilon"): eps}
    theirs = jacobian(lambda v: torch.nn.functional.rms_norm(v, (size,), eps=eps), t(features)).numpy()
    np.testing.assert_allclose(_final_at(d, values, d.free_indices(d.lhs)), theirs, atol=1e-12)


@pytest.mark.torch
def test_matrix_and_attention_targets_agree_with_torch_autograd(derived, rng):
    torch = pytest.importorskip("torch", reason="PyTorch is the peer check; install torch to run it")
    t = lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True)  # noqa: E731

    d = derived["trace-xtax"]
    X, A = sorted(d.lhs.atoms(MatrixSymbol), key=str)[::-1]
    Xv, Av = rng.standard_normal((5, 5)), rng.standard_normal((5, 5))
    Xt = t(Xv)
    torch.trace(Xt.T @ torch.tensor(Av) @ Xt).backward()
    ours = evaluate(d.steps[-1].expr, {X: Xv, A: Av, next(iter(d.sizes)): 5})
    np.testing.assert_allclose(ours, Xt.grad.numpy(), atol=1e-12)

    sizes = {"N": 4, "M": 5, "d_k": 3, "d_v": 2}
    tau = 0.7
    arrays = {"Q": rng.standard_normal((4, 3)), "K": rng.standard_normal((5, 3)), "V": rng.standard_normal((5, 2)),
              "dO": rng.standard_normal((4, 2)), "dP": rng.standard_normal((4, 5))}
    tensors = {k: t(v) for k, v in arrays.items()}
    weights = torch.softmax(tau * tensors["Q"] @ tensors["K"].T, dim=1)
    (tensors["dO"] * (weights @ tensors["V"])).sum().backward(retain_graph=True)
    grads = {"K": tensors["K"].grad.numpy().copy(), "V": tensors["V"].grad.numpy().copy()}
    tensors["Q"].grad = None
    (tensors["dP"] * weights).sum().backward()
    grads["Q"] = tensors["Q"].grad.numpy()
    for name, wrt in (("attention-dq", "Q"), ("attention-dk", "K"), ("attention-dv", "V")):
        d = derived[name]
        expanded = [d.expand(d.lhs), d.expand(d.steps[-1].expr)]
        bases = {str(b.base): b.base for e in expanded for b in e.atoms(sp.Indexed)}
        values = {bases[k]: v for k, v in arrays.items() if k in bases}
        values.update({s: sizes[str(s)] for s in d.sizes})
        values[next(s for s in expanded[0].free_symbols if str(s) == "tau")] = tau
        np.testing.assert_allclose(_final_at(d, values, d.free_indices(d.lhs)), grads[wrt], atol=1e-12, err_msg=name)


# Expressions the course does not contain ---------------------------------------------------------

z_, y_ = sp.Symbol("z", real=True), sp.Symbol("y", real=True)
FURTHER = {
    "tanh": (sp.tanh(x), lambda t, v: t.tanh(v)),
    "softplus": (log(1 + exp(x)), lambda t, v: t.nn.functional.softplus(v)),
    "mish": (x * sp.tanh(log(1 + exp(x))), lambda t, v: t.nn.functional.mish(v)),
    "binary-cross-entropy": (-(y_ * log(1 / (1 + exp(-x))) + (1 - y_) * log(1 - 1 / (1 + exp(-x)))),
                             lambda t, v: t.nn.functional.binary_cross_entropy_with_logits(v, t.full_like(v, 0.3),
                                                                                           reduction="none")),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", FURTHER)
def test_further_activations_and_losses_agree_with_torch(name, rng):
    torch = pytest.importorskip("torch", reason="PyTorch is the peer check; install torch to run it")
    expression, torch_function = FURTHER[name]
    expression = expression.subs(y_, sp.Rational(3, 10))
    d = derive(expression, x)
    assert len(d.steps) <= 10 and not d.steps[-1].expr.has(Derivative) and verify(d).ok
    points = rng.uniform(-4, 4, 32)
    ours = np.array([float(evaluate(d.steps[-1].expr, {x: v})) for v in points])
    tensor = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    torch_function(torch, tensor).sum().backward()
    np.testing.assert_allclose(ours, tensor.grad.numpy(), rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("make, final", [
    (lambda X, A, B: Trace(A * X * B), r"A^{\top} B^{\top}"),
    (lambda X, A, B: Trace(X.T * X), "2 X"),
    (lambda X, A, B: Trace(X * A * X.T), r"X \left(A + A^{\top}\right)"),
    (lambda X, A, B: 2 * Trace(X * B), r"2 B^{\top}"),
], ids=["tr(AXB)", "tr(X^T X)", "tr(X A X^T)", "2 tr(X B)"])
def test_matrix_traces_close_and_verify(make, final):
    N = sp.Symbol("N", integer=True, positive=True)
    X, A, B = MatrixSymbol("X", N, N), MatrixSymbol("A", N, N), MatrixSymbol("B", N, N)
    d = derive(make(X, A, B), X, sizes={N: Size(prove=range(1, 4), numeric=6)})
    assert to_latex(d.steps[-1].expr) == final and verify(d).ok


def test_norms_and_losses_written_out_without_display_names_still_close():
    # LayerNorm, RMSNorm and KL divergence typed in full: more rows, each verified, none left open
    n, eps = sp.Symbol("n", integer=True, positive=True), sp.Symbol("epsilon", positive=True)
    j, k, l = sp.symbols("j k l", integer=True)
    z, y = IndexedBase("z", shape=(n,), real=True), IndexedBase("y", shape=(n,), positive=True)
    mean = Sum(z[l], (l, 1, n)) / n
    softmax_k = exp(z[k]) / Sum(exp(z[l]), (l, 1, n))
    for expression in ((z[j] - mean) / sqrt(Sum((z[k] - mean) ** 2, (k, 1, n)) / n + eps),
                       z[j] / sqrt(Sum(z[k] ** 2, (k, 1, n)) / n + eps),
                       Sum(y[k] * log(y[k] / softmax_k), (k, 1, n))):
        d = derive(expression, z[j])
        assert len(d.steps) <= 10 and not d.steps[-1].expr.has(Derivative) and verify(d).ok


def test_mean_squared_error_gradient():
    n = sp.Symbol("n", integer=True, positive=True)
    j, k = sp.symbols("j k", integer=True)
    z, y = IndexedBase("z", shape=(n,), real=True), IndexedBase("y", shape=(n,), real=True)
    d = derive(Sum((y[k] - z[k]) ** 2, (k, 1, n)) / n, z[j])
    assert sp.simplify(d.steps[-1].expr - 2 * (z[j] - y[j]) / n) == 0 and verify(d).ok


# Bad input -------------------------------------------------------------------------------------


def test_differentiating_by_an_expression_is_refused():
    with pytest.raises(DerivationError, match=r"derive: differentiate with respect to a Symbol, an entry such as z\[j\]"):
        derive(x**2, x + 1)


def test_an_expression_without_the_variable_is_refused():
    y = sp.Symbol("y", real=True)
    with pytest.raises(DerivationError, match="derive: y\\*\\*2 does not depend on x; its derivative is 0"):
        derive(y**2, x)


def test_a_function_without_a_rule_is_named():
    with pytest.raises(DerivationError, match=r"no rule differentiates gamma\(x\) with respect to x"):
        derive(sp.gamma(x), x)


def test_an_indexed_base_without_a_shape_is_refused():
    k = sp.Symbol("k", integer=True)
    with pytest.raises(DerivationError, match=r"every IndexedBase needs a shape"):
        derive(IndexedBase("z")[k] ** 2, IndexedBase("z")[k])


# The command line -----------------------------------------------------------------------------

LSE = ["derive", "log(Sum(exp(z[k]), (k, 1, n)))", "--wrt", "z[j]", "--declare", "n size 1..5 numeric 16; j, k index n; z vector n real"]
SOFTMAX = ["derive", "p[i]", "--wrt", "z[j]", "--declare", "n size 1..5; i, j, k index n; z vector n real; p vector n",
           "--define", "p[i] = exp(z[i]) / Sum(exp(z[k]), (k, 1, n))"]


@pytest.fixture(autouse=True)
def _fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "cache"))


def test_cli_derives_and_verifies(capsys):
    assert main(LSE) == 0
    out = capsys.readouterr().out
    assert "= exp(z_j)/Σ_{k=1..n} (exp(z_k))" in out and out.rstrip().endswith("verified" + out.rstrip().split("verified")[-1])
    assert "4 steps, verified" in out


def test_cli_json_lists_every_row_with_its_rule(capsys):
    assert main([*SOFTMAX, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True
    assert document["steps"][-1]["latex"] == r"p_{i} \left(\delta_{ij} - p_{j}\right)"
    assert document["steps"][1]["why"].startswith("quotient rule")


@pytest.mark.parametrize("format, marker", [("latex", r"\frac{\partial p_{i}}{\partial z_{j}}"), ("md", "## The derivative of"),
                                            ("beamer", r"\begin{frame}")])
def test_cli_exports_every_format(format, marker, capsys):
    assert main([*SOFTMAX, "--format", format]) == 0
    assert marker in capsys.readouterr().out


def test_cli_exit_one_when_a_step_fails(monkeypatch, capsys):
    import symformer.engine.derive as engine

    n = sp.Symbol("n", integer=True, positive=True)

    def wrong(expression, wrt, **kwargs):
        return Derivation(slug="wrong", title="wrong", topic="t", lhs=Derivative(expression, wrt),
                          steps=[Step(3 * exp(wrt.base[wrt.indices[0]]), "a wrong rule")], sizes={n: Size((1, 2), 4)},
                          indices={wrt.indices[0]: n})

    monkeypatch.setattr(engine, "derive", wrong)
    assert main(LSE) == 1
    assert "failed verification" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["derive", "x**2", "--wrt", "x"], "the expression: x is not declared; add it to --declare"),
    (["derive", "x**", "--wrt", "x", "--declare", "x scalar real"], "the expression: cannot read 'x**' as SymPy syntax"),
    (["derive", "x", "--wrt", "x", "--declare", "x blob real"], "--declare: cannot read 'x blob real'"),
    (["derive", "z[i]", "--wrt", "z[i]", "--declare", "z vector m"], "'m' is not a declared size"),
    (["derive", "x**2", "--wrt", "x", "--declare", "n size 3..1; x scalar real"], "the range 3..1 is empty"),
    (["derive", "x**2", "--wrt", "x + 1", "--declare", "x scalar real"], "derive: differentiate with respect to a Symbol"),
    (["derive", "gamma(x)", "--wrt", "x", "--declare", "x scalar real"], "no rule differentiates gamma(x)"),
    (["derive", "s", "--wrt", "x", "--declare", "x scalar real", "--define", "s 1/x"], "--define: write NAME = EXPRESSION"),
], ids=["undeclared", "syntax", "kind", "size", "range", "wrt", "no-rule", "define"])
def test_cli_bad_input_exits_two_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def _reader_installed() -> bool:
    from symformer.cli.derive import latex_available

    return latex_available()


@pytest.mark.skipif(_reader_installed(), reason="the LaTeX reader is installed here")
def test_cli_latex_without_the_reader_is_a_usage_error(capsys):
    argv = ["derive", "x", "--wrt", "x", "--declare", "x scalar real", "--syntax", "latex"]
    assert main(argv) == 2
    assert "--syntax latex: LaTeX input needs the reader (symformer.notation.reader)" in capsys.readouterr().err


@pytest.mark.skipif(not _reader_installed(), reason="LaTeX input needs the reader (symformer.notation.reader)")
def test_cli_reads_latex_through_the_reader(capsys):
    argv = ["derive", "p_i", "--syntax", "latex", "--wrt", "z_j", "--format", "json",
            "--declare", "n size 1..5; i, j, k index n; z vector n real; p vector n",
            "--define", r"p[i] = \frac{e^{z_i}}{\sum_k e^{z_k}}"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["steps"][-1]["latex"] == r"p_{i} \left(\delta_{ij} - p_{j}\right)"
    assert main(["derive", r"\log \sum_k e^{z_k", "--syntax", "latex", "--wrt", "z_j",
                 "--declare", "n size 1..5; j, k index n; z vector n real"]) == 2
    assert "the expression: cannot read '\\log \\sum_k e^{z_k' as LaTeX: line 1" in capsys.readouterr().err
