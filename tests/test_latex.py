"""The course's LaTeX: exact strings of the printer, the style switches, golden files of key
derivations, no SymPy internals, and escaping of arbitrary text that pdflatex must compile."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.hadamard import HadamardPower, HadamardProduct

from symformer import DerivationError, discover, Style
from symformer.notation import derivation_to_latex, escape_text, to_latex
from symformer.notation import escape_plain, prose_in_math

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
SOFTMAX = {d.slug: d for d in discover([ROOT / "derivations" / "softmax.py"]).derivations}

n = sp.Symbol("n", integer=True, positive=True)
i, j, k = sp.symbols("i j k", integer=True)
z, p, y = sp.IndexedBase("z", shape=(n,)), sp.IndexedBase("p", shape=(n,)), sp.IndexedBase("y", shape=(n,))
S, V = sp.MatrixSymbol("S", n, n), sp.MatrixSymbol("V", n, n)
v = sp.MatrixSymbol("v", n, 1)
T = sp.Symbol("T", positive=True)

PRINTED = [
    ("kronecker", sp.KroneckerDelta(i, j) - p[j], r"\delta_{ij} - p_{j}"),
    ("product-letters-first", p[i] * (sp.KroneckerDelta(i, j) - p[j]), r"p_{i} \left(\delta_{ij} - p_{j}\right)"),
    ("positive-terms-first", -y[j] + p[j], r"p_{j} - y_{j}"),
    ("short-exp-as-power", sp.exp(z[i]), r"e^{z_{i}}"),
    ("inline-fraction-in-exponent", sp.exp(z[i] / T), r"e^{z_{i} / T}"),
    ("long-exp-as-function", sp.exp(z[i] + z[j] + z[k] + T), r"\exp\left(T + z_{i} + z_{j} + z_{k}\right)"),
    ("log-of-a-letter", sp.log(p[k]), r"\log p_{k}"),
    ("log-of-a-sum", sp.log(sp.Sum(sp.exp(z[k]), (k, 1, n))), r"\log\left(\sum_{k=1}^{n} e^{z_{k}}\right)"),
    ("sum-function-last", y[k] * sp.log(p[k]), r"y_{k} \log p_{k}"),
    ("nested-sums", sp.Sum(z[i] * z[j], (j, 1, n), (i, 1, n)), r"\sum_{i=1}^{n} \sum_{j=1}^{n} z_{i} z_{j}"),
    ("derivative-of-a-letter", sp.Derivative(p[i], z[j]), r"\frac{\partial p_{i}}{\partial z_{j}}"),
    ("transpose", S.T * v, r"S^{\top} v"),
    ("transpose-of-a-superscripted-name", sp.MatrixSymbol("W^O_1", n, n).T, r"{W^{O}_{1}}^{\top}"),
    ("hadamard", HadamardProduct(S, V), r"S \odot V"),
    ("hadamard-power", HadamardPower(S, 2), r"S^{\circ 2}"),
    ("elementwise-exp", S.applyfunc(sp.exp), r"\exp_{\circ}\left(S\right)"),
    ("elementwise-other", S.applyfunc(lambda t: t**2 + 1), r"\left[S_{ab}^{2} + 1\right]_{ab}"),
    ("diag-operator", DiagMatrix(v), r"\operatorname{diag}\left(v\right)"),
    ("softmax-operator", sp.Function("softmax")(S), r"\operatorname{softmax}\left(S\right)"),
    ("scaled-matrix", S / sp.sqrt(n), r"\frac{1}{\sqrt{n}} S"),
    ("half-matrix", sp.Rational(1, 2) * S, r"\frac{1}{2} S"),
    ("negated-matrix", -S * v, r"- S v"),
    ("ones", sp.OneMatrix(n, 1), r"\mathbf{1}"),
]


@pytest.mark.parametrize("expr, expected", [(e, x) for _, e, x in PRINTED], ids=[name for name, _, _ in PRINTED])
def test_printer_gives_the_course_notation(expr, expected):
    assert to_latex(expr) == expected


def test_style_switches_transpose_bold_and_hadamard():
    style = Style(bold_matrices=True, transpose="^{T}", hadamard=r"\circ")
    assert to_latex(S.T * v, style) == r"\mathbf{S}^{T} \mathbf{v}"
    assert to_latex(HadamardProduct(S, V), style) == r"\mathbf{S} \circ \mathbf{V}"
    assert to_latex(sp.exp(z[i]), Style(exp_as_power=False)) == r"\exp\left(z_{i}\right)"


def test_sympy_internals_never_reach_the_page():
    x = sp.MatrixSymbol("x", n, 1)
    array_form = S.applyfunc(sp.exp).diff(S)  # SymPy answers with ArrayTensorProduct / PermuteDims
    with pytest.raises(DerivationError, match="internal form"):
        to_latex(array_form)
    for slug, derivation in SOFTMAX.items():
        text = derivation_to_latex(derivation)
        for internal in ("PermuteDims", "Array", "mapsto", "Dummy", "Lambda", r"\_d"):
            assert internal not in text, (slug, internal)
    assert to_latex((x.T * S * x).diff(x)) == r"S x + S^{\top} x"


@pytest.mark.parametrize("slug", ["softmax-jacobian", "cross-entropy-gradient", "softmax-temperature"])
def test_golden_latex_of_key_derivations(slug):
    # the exact align* a reader sees; regenerate with SYMFORMER_UPDATE_GOLDEN=1 after a deliberate change
    text = derivation_to_latex(SOFTMAX[slug]) + "\n"
    golden = GOLDEN / f"{slug}.tex"
    if os.environ.get("SYMFORMER_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_aligned_for_mathjax_takes_math_out_of_text():
    text = derivation_to_latex(SOFTMAX["log-softmax-jacobian"], environment="aligned")
    assert r"\intertext" not in text and text.startswith(r"\begin{aligned}")
    assert r"&& \text{recognise }p_j\text{; in matrix form }I - \mathbf{1} p^{\top}\text{, which is not symmetric}" in text
    with pytest.raises(ValueError, match="align"):
        derivation_to_latex(SOFTMAX["log-softmax-jacobian"], environment="equation")


@pytest.mark.parametrize("raw, escaped", [
    ("##ing", r"\#\#ing"), ("a_b", r"a\_b"), ("50%", r"50\%"), ("R&D", r"R\&D"), ("$5", r"\$5"),
    ("C:\\dir", r"C:\textbackslash{}dir"), ("~x^2", r"\textasciitilde{}x\textasciicircum{}2"), ("{a}", r"\{a\}"),
    ("café", "café"), ("α–ω", r"$\alpha$--$\omega$"), ("日本", r"\texttt{[U+65E5]}\texttt{[U+672C]}"),
    ("two\n\nparagraphs", "two paragraphs"),
], ids=["wordpiece", "underscore", "percent", "ampersand", "dollar", "backslash", "tilde-caret", "braces",
        "latin-1", "greek", "cjk", "blank-line"])
def test_escape_plain_table(raw, escaped):
    assert escape_plain(raw) == escaped


def test_escape_text_keeps_math_spans():
    assert escape_text("50% of $p_i$ and ##ing") == r"50\% of $p_i$ and \#\#ing"
    assert prose_in_math("a $x_1$ & b") == r"\text{a }x_1\text{ \& b}"


needs_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="needs pdflatex")


def _compiles(body: str, folder: Path) -> subprocess.CompletedProcess:
    document = (r"\documentclass{article}\usepackage[T1]{fontenc}\usepackage[utf8]{inputenc}"
                r"\usepackage{textcomp}\usepackage{amsmath}\begin{document}" + body + r"\end{document}")
    (folder / "t.tex").write_text(document, encoding="utf-8")
    return subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=folder,
                          capture_output=True, text=True, errors="replace", timeout=60)


@pytest.mark.latex
@needs_pdflatex
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.one_of(st.text(), st.sampled_from(["##ing", "_", "%", "&", "$", "#", "\\", "~", "^", "{", "}"])),
                      min_size=1, max_size=40))
def test_escaped_arbitrary_text_compiles(texts, tmp_path_factory):
    # every piece in running text, in an \intertext and in \text inside aligned: all three must compile
    folder = tmp_path_factory.mktemp("escape")
    escaped = [escape_plain(t) for t in texts]
    body = " ".join(f"[{e}]" for e in escaped)
    body += r"\begin{align*}\intertext{" + " ".join(escaped) + r"} x &= y\end{align*}"
    body += r"\[\begin{aligned} x &= y && " + prose_in_math(" ".join(t.replace("$", "") for t in texts)) + r"\end{aligned}\]"
    completed = _compiles(body, folder)
    assert completed.returncode == 0, completed.stdout[-2000:]


def test_a_long_left_side_gets_a_row_of_its_own():
    # sum_{k=1}^{n} x_k^2 + ... is too wide beside its first step on a page: lhs on one row, "= step" below
    from symformer import Derivation, Size, Step
    from symformer.notation import derivation_to_latex

    n = sp.Symbol("n", integer=True, positive=True)
    k = sp.Symbol("k", integer=True)
    x = sp.IndexedBase("x", shape=(n,), real=True)
    long_sum = sum(sp.Sum(x[k] ** p, (k, 1, n)) for p in range(1, 9))
    chain = Derivation(slug="long", title="t", topic="Demo", lhs=long_sum, sizes={n: Size()},
                       steps=[Step(long_sum, "nothing changes")])
    rows = derivation_to_latex(chain).splitlines()[1:-1]
    first_step = next(number for number, row in enumerate(rows) if row.startswith(" &= "))
    assert first_step >= 1 and all(row.startswith("&") and row.endswith("\\\\") for row in rows[:first_step])
    short = Derivation(slug="short", title="t", topic="Demo", lhs=x[k], sizes={n: Size()}, indices={k: n},
                       steps=[Step(x[k], "same")])
    assert derivation_to_latex(short).splitlines()[1] == "x_{k} &= x_{k} \\\\"
