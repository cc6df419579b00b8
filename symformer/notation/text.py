"""Plain-text rendering of a derivation, for the terminal (``symformer show``)."""

from __future__ import annotations

import re
import textwrap

import sympy as sp
from sympy.printing.str import StrPrinter


class _TermPrinter(StrPrinter):
    """SymPy's str printer with the course's notation: p_i, delta_ij, d p_i / d z_j."""

    printmethod = "_symformer_text"  # not "_sympystr", which Indexed defines and would win

    def _print_Indexed(self, expr):
        indices = ",".join(self._print(i) for i in expr.indices)
        return f"{self._print(expr.base.label)}_{indices}" if len(indices) == 1 else f"{self._print(expr.base.label)}_({indices})"

    def _print_KroneckerDelta(self, expr):
        return "δ(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Derivative(self, expr):
        variables = " ".join(f"∂{self._print(v)}" + (f"^{c}" if c > 1 else "") for v, c in expr.variable_count)
        return f"∂[{self._print(expr.expr)}]/{variables}"

    def _print_Sum(self, expr):
        limits = ", ".join(f"{self._print(s)}={self._print(a)}..{self._print(b)}" for s, a, b in expr.limits)
        return f"Σ_{{{limits}}} ({self._print(expr.function)})"

    def _print_Transpose(self, expr):
        return f"{self.parenthesize(expr.arg, 1000)}ᵀ"


def expression_to_text(expr) -> str:
    return _TermPrinter().doprint(sp.sympify(expr))


def derivation_to_text(derivation) -> str:
    """The derivation as lines of text: the chain with each justification, then the claims."""
    title = plain_text(derivation.title)
    lines = [title, "=" * len(title), f"topic: {derivation.topic}", ""]
    if derivation.intro:
        lines += textwrap.wrap(plain_text(derivation.intro), 88) + [""]
    lines.append(f"  {expression_to_text(derivation.lhs)}")
    for number, step in enumerate(derivation.steps, start=1):
        lines.append(f"    = {expression_to_text(step.expr)}")
        lines.append(f"      ({number}) {plain_text(step.why)}" + (f" [{step.cite}]" if step.cite else ""))
    if derivation.claims:
        lines += ["", "Claims:"]
        for claim in derivation.claims:
            lines.append(f"  - {claim.statement}" + (f": {plain_text(claim.why)}" if claim.why else ""))
    if derivation.outro:
        lines += [""] + textwrap.wrap(plain_text(derivation.outro), 88)
    return "\n".join(lines)


# LaTeX control words in prose, as a terminal (unicode) and a PDF outline (ASCII) show them
_TEX_WORDS = {
    "partial": ("∂", "d"), "delta": ("δ", "delta"), "sum": ("Σ", "sum"), "top": ("T", "T"), "odot": ("∘", "o"),
    "tau": ("τ", "tau"), "gamma": ("γ", "gamma"), "sigma": ("σ", "sigma"), "infty": ("∞", "inf"),
    "in": ("∈", "in"), "le": ("≤", "<="), "ge": ("≥", ">="), "cdot": ("·", "."), "log": ("log", "log"),
    "exp": ("exp", "exp"), "sqrt": ("sqrt", "sqrt"), "max": ("max", "max"), "frac": ("frac", "frac"),
}
_CONTROL = re.compile(r"\\([A-Za-z]+)|\\(.)")


def plain_text(text: str, ascii: bool = False) -> str:
    """Prose with inline $...$ LaTeX made readable in a terminal, or in ASCII for a PDF outline.

    >>> plain_text(r"$dS = P \\odot (dP - D \\mathbf{1}^{\\top})$")
    'dS = P ∘ (dP - D 1^T)'
    """
    def word(match):
        if match.group(1) is None:
            return " " if match.group(2) in ",; " else match.group(2)
        return _TEX_WORDS.get(match.group(1), ("", ""))[1 if ascii else 0]

    return _CONTROL.sub(word, text).replace("$", "").replace("{", "").replace("}", "")
