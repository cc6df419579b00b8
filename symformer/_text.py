"""Plain-text rendering of a derivation, for the terminal (``symformer show``)."""

from __future__ import annotations

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
    lines = [derivation.title, "=" * len(derivation.title), f"topic: {derivation.topic}", ""]
    if derivation.intro:
        lines += textwrap.wrap(_plain(derivation.intro), 88) + [""]
    lines.append(f"  {expression_to_text(derivation.lhs)}")
    for number, step in enumerate(derivation.steps, start=1):
        lines.append(f"    = {expression_to_text(step.expr)}")
        lines.append(f"      ({number}) {_plain(step.why)}" + (f" [{step.cite}]" if step.cite else ""))
    if derivation.claims:
        lines += ["", "Claims:"]
        for claim in derivation.claims:
            lines.append(f"  - {claim.statement}" + (f": {_plain(claim.why)}" if claim.why else ""))
    if derivation.outro:
        lines += [""] + textwrap.wrap(_plain(derivation.outro), 88)
    return "\n".join(lines)


_TEX_WORDS = {r"\partial": "∂", r"\delta": "δ", r"\sum": "Σ", r"\top": "T", r"\operatorname": "", r"\mathbb": "",
              r"\mathbf": "", r"\odot": "∘", r"\tau": "τ", r"\in": "∈", r"\le": "≤", r"\ge": "≥", r"\cdot": "·",
              r"\log": "log", r"\exp": "exp", r"\sqrt": "sqrt", r"\frac": "frac", r"\max": "max", r"\,": " ",
              r"\left": "", r"\right": "", "\\": ""}


def _plain(text: str) -> str:
    """Prose with inline $...$ LaTeX made readable in a terminal (the exports keep the LaTeX)."""
    for word, replacement in _TEX_WORDS.items():
        text = text.replace(word, replacement)
    return text.replace("$", "").replace("{", "").replace("}", "")
