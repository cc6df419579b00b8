"""LaTeX for derivations: one notation for the whole course, set in one :class:`Style`.

The printer is SymPy's, taught the course's notation: subscripted indices (z_i, not z[i]),
\\delta_{ij}, partial derivatives written as fractions of the symbols on the slide, the transpose
and the Hadamard product as the style says, and no SymPy internals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions.hadamard import HadamardProduct
from sympy.printing.latex import LatexPrinter


@dataclass(frozen=True)
class Style:
    """The notation of the course."""

    bold_matrices: bool = False
    transpose: str = r"^{\top}"
    hadamard: str = r"\odot"
    exp_as_power: bool = False  # e^{x} instead of \exp(x)


DEFAULT_STYLE = Style()

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_SPECIAL_RE = re.compile("|".join(re.escape(c) for c in _SPECIAL))


def escape_text(text: str) -> str:
    r"""Escape prose for LaTeX text mode; ``$...$`` spans are kept as mathematics.

    >>> escape_text("50% of ##ing & $p_i$")
    '50\\% of \\#\\#ing \\& $p_i$'
    """
    pieces = re.split(r"(\$[^$]+\$)", text)
    return "".join(p if p.startswith("$") and p.endswith("$") and len(p) > 1 else _SPECIAL_RE.sub(lambda m: _SPECIAL[m.group()], p)
                   for p in pieces)


class CoursePrinter(LatexPrinter):
    """SymPy's LaTeX printer in the course's notation."""

    def __init__(self, style: Style = DEFAULT_STYLE):
        super().__init__({"mat_symbol_style": "bold" if style.bold_matrices else "plain", "mul_symbol": None})
        self.style = style

    def _print_Indexed(self, expr):
        base = self._print(expr.base.label)
        indices = "".join(self._print(i) for i in expr.indices)
        if any(len(self._print(i)) > 1 for i in expr.indices):
            indices = ",".join(self._print(i) for i in expr.indices)
        return f"{base}_{{{indices}}}"

    def _print_KroneckerDelta(self, expr, exp=None):
        i, j = (self._print(a) for a in expr.args)
        sep = "," if len(i) > 1 or len(j) > 1 else ""
        text = rf"\delta_{{{i}{sep}{j}}}"
        return f"{text}^{{{exp}}}" if exp else text

    def _print_Derivative(self, expr):
        function = self._print(expr.expr)
        if len(expr.variable_count) == 1 and expr.variable_count[0][1] == 1:
            variable = self._print(expr.variable_count[0][0])
            if isinstance(expr.expr, (sp.Indexed, sp.Symbol, sp.MatrixSymbol)):
                return rf"\frac{{\partial {function}}}{{\partial {variable}}}"
            return rf"\frac{{\partial}}{{\partial {variable}}} \left({function}\right)"
        return super()._print_Derivative(expr)

    def _print_Transpose(self, expr):
        inner = self._print(expr.arg)
        if not isinstance(expr.arg, sp.MatrixSymbol):
            inner = rf"\left({inner}\right)"
        return inner + self.style.transpose

    def _print_HadamardProduct(self, expr):
        return f" {self.style.hadamard} ".join(self.parenthesize(a, 60) for a in expr.args)

    def _print_exp(self, expr, exp=None):
        if self.style.exp_as_power:
            return super()._print_exp(expr, exp)
        text = rf"\exp\left({self._print(expr.args[0])}\right)"
        return f"{text}^{{{exp}}}" if exp else text

    def _print_OneMatrix(self, expr):
        return r"\mathbf{1}"

    def _print_Identity(self, expr):
        return "I"


def to_latex(expr, style: Style = DEFAULT_STYLE) -> str:
    r"""LaTeX of one expression in the course's notation.

    >>> z = sp.IndexedBase("z")
    >>> i, j = sp.symbols("i j", integer=True)
    >>> to_latex(sp.KroneckerDelta(i, j) - z[j])
    '\\delta_{ij} - z_{j}'
    """
    return CoursePrinter(style).doprint(expr)


def step_latex(step_or_expr, style: Style = DEFAULT_STYLE) -> str:
    """The display form of a step: its hand-written LaTeX if it has one, else the printed expression."""
    latex = getattr(step_or_expr, "latex", None)
    return latex if latex else to_latex(getattr(step_or_expr, "expr", step_or_expr), style)


def derivation_to_latex(derivation, style: Style = DEFAULT_STYLE, environment: str = "align*") -> str:
    r"""The chain of steps as an ``align*`` (or ``aligned``), justifications between the rows.

    In ``align*`` each justification is an ``\intertext``; ``aligned`` (for notebooks and MathJax,
    where \intertext is unavailable) puts it as a ``\text`` note on the row instead.
    """
    lhs = derivation.lhs_latex or to_latex(derivation.lhs, style)
    rows = []
    for number, step in enumerate(derivation.steps):
        why = escape_text(step.why) + (f" [{escape_text(step.cite)}]" if step.cite else "")
        left = lhs if number == 0 else ""
        if environment == "align*":
            rows.append(rf"\intertext{{{why}}}" + "\n" + rf"{left} &= {step_latex(step, style)}")
        else:
            rows.append(rf"{left} &= {step_latex(step, style)} && \text{{{why}}}")
    body = " \\\\\n".join(rows)
    return rf"\begin{{{environment}}}" + "\n" + body + "\n" + rf"\end{{{environment}}}"
