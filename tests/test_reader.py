"""The LaTeX reader: a table of formulas and the SymPy they must read as, and a table of bad input
with the error each must get (naming line, column and what was expected)."""

import pytest
import sympy as sp

from symformer.errors import LatexError, LatexShapeError
from symformer.notation.reader import Notation, name_key, read_chain, read_latex
from symformer.notation.reader.context import from_expressions

n = sp.Symbol("n", integer=True, positive=True)
N, M, d = sp.symbols("N M d", integer=True, positive=True)
i, j, k = sp.symbols("i j k", integer=True)
x, y, T, omega = sp.Symbol("x", real=True), sp.Symbol("y", real=True), sp.Symbol("T", positive=True), sp.Symbol("omega")
z = sp.IndexedBase("z", shape=(n,), real=True)
p = sp.IndexedBase("p", shape=(n,), real=True)
Q = sp.IndexedBase("Q", shape=(n, n), real=True)
S = sp.MatrixSymbol("S", N, M)
P = sp.MatrixSymbol("P", N, M)
dP = sp.MatrixSymbol("dP", N, M)
K = sp.MatrixSymbol("K", M, d)
WO = sp.MatrixSymbol("W^O_1", d, d)
mu_k = sp.Symbol("mu_k")
f = sp.Function("f")


@pytest.fixture(scope="module")
def notation():
    notation = Notation()
    for latex, value in [("n", n), ("N", N), ("M", M), ("d", d), ("x", x), ("y", y), ("T", T), ("\\omega", omega),
                         ("S", S), ("P", P), ("dP", dP), ("K", K), ("W^{O}_{1}", WO), ("\\mu_k", mu_k)]:
        notation.add_symbol(latex, value)
    for latex, base in [("z", z), ("p", p), ("Q", Q)]:
        notation.add_base(latex, base)
    for index in (i, j, k):
        notation.add_index(index, n)
    notation.add_function("f", f)
    return notation


ONES_M = sp.OneMatrix(M, 1)

READS = [
    # numbers, fractions, powers, roots
    ("3", sp.Integer(3)),
    ("0.25", sp.Rational(1, 4)),
    (r"\frac{x}{2}", x / 2),
    (r"\dfrac{1}{x + y}", 1 / (x + y)),
    ("x^2 + 2 x y + y^2", x**2 + 2 * x * y + y**2),
    ("x^{-1}", 1 / x),
    (r"\sqrt{x}", sp.sqrt(x)),
    (r"\sqrt[3]{x}", sp.root(x, 3)),
    ("x / y / 2", x / y / 2),
    (r"x \cdot y \times 2", 2 * x * y),
    # exp, log, trig, erf
    ("e^{x}", sp.exp(x)),
    (r"\exp(x + 1)", sp.exp(x + 1)),
    (r"\exp\left(x\right)", sp.exp(x)),
    (r"\log x", sp.log(x)),
    (r"\ln(x y)", sp.log(x * y)),
    (r"\log_2 x", sp.log(x, 2)),
    (r"\sin \omega (x + y)", sp.sin(omega * (x + y))),
    (r"\cos(\omega x) \sin(\omega y)", sp.cos(omega * x) * sp.sin(omega * y)),
    (r"\sin^{2}{\left(x \right)}", sp.sin(x) ** 2),
    (r"\tanh x", sp.tanh(x)),
    (r"\operatorname{erf}\left(\frac{x}{\sqrt{2}}\right)", sp.erf(x / sp.sqrt(2))),
    (r"\pi", sp.pi),
    (r"f(x)", f(x)),
    # sums and products with limits, deltas, entries
    (r"\sum_{k=1}^{n} z_{k}", sp.Sum(z[k], (k, 1, n))),
    (r"\sum_k z_k", sp.Sum(z[k], (k, 1, n))),
    (r"\sum\limits_{k=1}^n e^{z_k}", sp.Sum(sp.exp(z[k]), (k, 1, n))),
    (r"\prod_{k=1}^{n} z_k", sp.Product(z[k], (k, 1, n))),
    (r"\sum_{k=1}^{n} - z_{k} \log p_{k}", sp.Sum(-z[k] * sp.log(p[k]), (k, 1, n))),
    (r"\sum_{i,j} Q_{ij}", sp.Sum(Q[i, j], (i, 1, n), (j, 1, n))),
    (r"\delta_{ij}", sp.KroneckerDelta(i, j)),
    (r"p_i (\delta_{ij} - p_j)", p[i] * (sp.KroneckerDelta(i, j) - p[j])),
    (r"Q_{ij} + Q_{i,j} + Q_{12}", 2 * Q[i, j] + Q[1, 2]),
    (r"z_{2k-1}", z[2 * k - 1]),
    (r"\mu_k^2", mu_k**2),
    (r"\mu_{k}^{2}", mu_k**2),
    # derivatives
    (r"\frac{\partial p_{i}}{\partial z_{j}}", sp.Derivative(p[i], z[j])),
    (r"\frac{\partial}{\partial z_j} \left(e^{z_i}\right)", sp.Derivative(sp.exp(z[i]), z[j])),
    (r"\frac{\partial}{\partial z_j} \sum_k e^{z_k}", sp.Derivative(sp.Sum(sp.exp(z[k]), (k, 1, n)), z[j])),
    (r"\frac{\partial^2 f(x)}{\partial x^2}", sp.Derivative(f(x), x, x)),
    (r"\frac{\mathrm{d}}{\mathrm{d}x} x^3", sp.Derivative(x**3, x)),
    # matrices
    (r"P^{\top}", sp.Transpose(P)),
    (r"P^T S", sp.MatMul(P.T, S)),
    (r"P K", sp.MatMul(P, K)),
    (r"P \odot dP", sp.HadamardProduct(P, dP)),
    (r"P \circ dP", sp.HadamardProduct(P, dP)),
    (r"S^{\circ 2}", sp.HadamardPower(S, 2)),
    (r"P \mathbf{1}", sp.MatMul(P, ONES_M)),
    (r"P \odot \left(dP - ((P \odot dP) \mathbf{1}) \mathbf{1}^{\top}\right)",
     sp.HadamardProduct(P, dP - sp.MatMul(sp.MatMul(sp.HadamardProduct(P, dP), ONES_M), sp.OneMatrix(1, M)))),
    (r"\operatorname{tr}\left(P^\top S\right)", sp.Trace(sp.MatMul(P.T, S))),
    (r"{W^{O}_{1}}^{\top}", sp.Transpose(WO)),
    (r"\begin{pmatrix} x & y \\ 0 & 1 \end{pmatrix}", sp.ImmutableMatrix([[x, y], [0, 1]])),
    (r"\left[\begin{matrix}1 & 0\\0 & 1\end{matrix}\right]", sp.ImmutableMatrix([[1, 0], [0, 1]])),
    (r"\left|{\begin{matrix}x & y\\y & x\end{matrix}}\right|", sp.Determinant(sp.ImmutableMatrix([[x, y], [y, x]]))),
    (r"|x - y|", sp.Abs(x - y)),
    (r"|x| + |y|", sp.Abs(x) + sp.Abs(y)),
    (r"\lvert x \rvert", sp.Abs(x)),
    (r"\binom{4}{2} + 3!", sp.Integer(12)),
]


@pytest.mark.parametrize("latex, expected", READS, ids=[r[0] for r in READS])
def test_a_formula_reads_as_its_sympy(latex, expected, notation):
    assert read_latex(latex, notation) == expected


def test_notes_decorations_read_as_their_formula(notation):
    assert read_latex(r"\underbrace{x + y}_{\text{the sum}} + \boxed{x}", notation) == 2 * x + y
    assert read_latex(r"\mathrm{exp}(x) + \mathrm{tr}(P^\top S)", notation) == sp.exp(x) + sp.Trace(sp.MatMul(P.T, S))


def test_a_prime_on_a_declared_function_is_its_derivative():
    t = sp.Symbol("t", real=True)
    notation = Notation()
    notation.add_symbol("x", x)
    notation.add_function(r"\sigma", sp.Lambda(t, 1 / (1 + sp.exp(-t))))
    value = read_latex(r"\sigma'(x)", notation)
    assert sp.simplify(value - sp.exp(-x) / (1 + sp.exp(-x)) ** 2) == 0
    with pytest.raises(LatexError, match="primes .* are read only on functions"):
        read_latex("x'", notation)


def test_notation_from_attention_notes(notation):
    # q^T k of indexed vectors is their inner product; \text{exp} and \mathrm{e} are what they say
    dot = read_latex(r"z^\top p / \sqrt{n}", notation)
    (index,) = dot.args[0].variables if isinstance(dot.args[0], sp.Sum) else dot.args[1].variables
    assert dot == sp.Sum(z[index] * p[index], (index, 1, n)) / sp.sqrt(n)
    assert read_latex(r"\text{exp}(x) + \mathrm{e}^{y}", notation) == sp.exp(x) + sp.exp(y)
    assert read_latex(r"\|z\|_2^2", notation).function.args[0] == z[read_latex(r"\|z\|_2^2", notation).variables[0]]
    assert read_latex(r"I_n", notation) == sp.Identity(n)


def test_diag_of_an_indexed_vector_has_entries(notation):
    assert read_latex(r"\operatorname{diag}(p)_{ij}", notation) == p[i] * sp.KroneckerDelta(i, j)


def test_inner_products_and_norms_of_indexed_vectors(notation):
    dot = read_latex(r"z \cdot p", notation)
    (index,) = dot.variables
    assert dot == sp.Sum(z[index] * p[index], (index, 1, n))
    norm = read_latex(r"\| z \|", notation)
    (index,) = norm.args[0].variables
    assert norm == sp.sqrt(sp.Sum(z[index] ** 2, (index, 1, n)))
    inner = read_latex(r"\langle z, p \rangle", notation)
    (index,) = inner.variables
    assert inner == sp.Sum(z[index] * p[index], (index, 1, n))


def test_identity_and_ones_take_their_size_from_neighbours(notation):
    (left, right) = read_chain(r"P \mathbf{1} = \mathbf{1}", notation, expected_shape=(N, 1))
    assert left == sp.MatMul(P, ONES_M) and right == sp.OneMatrix(N, 1)
    square = sp.MatrixSymbol("A", N, N)
    notation.add_symbol("A", square)
    assert read_latex("A - I", notation) == square - sp.Identity(N)


def test_a_chain_is_its_parts(notation):
    assert read_chain("(x + y)^2 = x^2 + 2xy + y^2 = (y + x)^2", notation) == [(x + y) ** 2, x**2 + 2 * x * y + y**2,
                                                                                (x + y) ** 2]


def test_names_are_one_key_however_braced():
    assert name_key(r"\omega_i") == name_key(r"\omega_{i}") == r"\omega_{i}"
    assert name_key("W^O_1") == name_key("W_{1}^{O}")
    assert name_key(r"d_{model}") == "d_{m o d e l}"


def test_a_declared_phrase_stands_for_its_formula(notation):
    notation.add_phrase(r"\operatorname{Var}[x + y]", 2 * x)
    assert read_latex(r"\operatorname{Var}\left[x + y\right] + 1", notation) == 2 * x + 1


def test_printed_names_read_back_as_the_objects_printed():
    dO = sp.MatrixSymbol("dO", N, M)
    expr = sp.MatMul(dO.T, P)
    from symformer.notation.printer import to_latex

    assert read_latex(to_latex(expr), from_expressions([expr])) == expr


BAD = [
    (r"\frac{x}{y", "line 1, column 11: the formula ends early; expected '}' to close the '{' of line 1, column 9"),
    (r"\left( x + y", "line 1, column 13: the formula ends early; expected ')' to close the '(' of line 1, column 1"),
    (r"x + ) y", "line 1, column 5: found ')' but expected"),
    (r"x + \foo", r"line 1, column 5: \foo is not part of the notation symformer reads"),
    (r"x \pm y", r"line 1, column 3: \pm is not part of the notation symformer reads; split the formula"),
    (r"x # y", "line 1, column 3: the character '#' is not part of a formula"),
    ("q + x", "line 1, column 1: unknown symbol q; declare it"),
    (r"z_{ij}", "z has 1 index, found 2"),
    (r"x_{i}", "x is not indexed"),
    (r"n_i", "n is an index or a size and takes no subscript"),
    (r"x \le y", "only '=' chains are checked, not '\\le'"),
    (r"\text{so} x", r"prose \text{so} inside a formula"),
    (r"\dots + x", r"\dots has no value"),
    (r"x^23", "write x^{23} with braces"),
    (r"x'", "primes (x') are read only on functions"),
    (r"\sum z_k", r"\sum needs its index below it"),
    (r"\sum_{k \neq 1} z_k", r"\sum over k \neq 1 is not read; write the sum over all values"),
    (r"z^\top", r"z^\top of an indexed vector must be followed by a vector"),
    (r"\mathbb{E}[x]", r"\mathbb{E}[...] has no meaning of its own here; declare what it stands for"),
    (r"\operatorname{foo}(x)", r"unknown function \operatorname{foo}; declare it"),
    (r"z^{2}", "z is written in index notation"),
    (r"\begin{cases} x \end{cases}", "the environment cases is not read inside a formula"),
]


@pytest.mark.parametrize("latex, message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_gets_an_error_naming_where_and_what(latex, message, notation):
    with pytest.raises(LatexError) as caught:
        read_latex(latex, notation)
    assert message in str(caught.value)


def test_errors_carry_line_and_column(notation):
    with pytest.raises(LatexError) as caught:
        read_chain("x + y\n  = (x", notation)
    assert (caught.value.line, caught.value.column) == (2, 7)


@pytest.mark.parametrize("latex, message", [
    (r"P S", "the product of shapes N x M and N x M is not defined; check the transposes"),
    (r"P + K", "matrices of shapes N x M and M x d are added"),
    (r"P \odot K", r"\odot of shapes N x M and M x d"),
    (r"P + x", "a matrix and a scalar are added"),
])
def test_shapes_that_do_not_fit_are_a_shape_error(latex, message, notation):
    with pytest.raises(LatexShapeError) as caught:
        read_latex(latex, notation)
    assert message in str(caught.value)


def test_a_sum_with_both_limits_binds_its_own_index():
    notation = Notation()
    notation.add_symbol("n", n)
    total = read_latex(r"\sum_{m=1}^{n} m^2", notation)
    (m,) = total.variables
    assert total == sp.Sum(m**2, (m, 1, n)) and m.is_integer
    with pytest.raises(LatexError, match="unknown symbol m"):
        read_latex("m + 1", notation)  # the index is bound only inside its sum


def test_a_scalar_times_a_matrix_gradient_keeps_the_gradients_shape(notation):
    # tau d/dS tr(P^T S) is d/dS (tau tr(P^T S)), of the shape of S
    trace = sp.Trace(sp.MatMul(P.T, S))
    assert read_latex(r"T \frac{\partial}{\partial S} \operatorname{tr}(P^\top S)", notation) == sp.Derivative(T * trace, S)
    assert read_latex(r"- \frac{\partial}{\partial S} \operatorname{tr}(P^\top S) + \frac{\partial}{\partial S} "
                      r"\operatorname{tr}(dP^\top S)", notation) == \
        sp.Derivative(-trace + sp.Trace(sp.MatMul(dP.T, S)), S)


def test_scalar_functions_of_matrices_are_refused_unless_entrywise(notation):
    with pytest.raises(LatexError, match="e to a matrix is not read"):
        read_latex("e^{S}", notation)
    with pytest.raises(LatexError, match="exp of a matrix is not read"):
        read_latex(r"\exp(S)", notation)
    entrywise = read_latex(r"\exp_{\circ}\left(S\right)", notation)
    assert isinstance(entrywise, sp.matrices.expressions.applyfunc.ElementwiseApplyFunction) and entrywise.expr == S
