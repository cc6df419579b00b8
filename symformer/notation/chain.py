"""A derivation's chain of steps as one ``align*`` or ``aligned`` display, justifications between rows.

Works on anything with ``lhs``, ``lhs_latex`` and ``steps`` (each with ``expr``, ``why``, ``cite``
and ``latex``), so the notation layer needs nothing from the engine.
"""

from __future__ import annotations

from symformer.notation.escape import escape_text, prose_in_math
from symformer.notation.layout import NOTES_ROW, first_row_alone
from symformer.notation.printer import DEFAULT_STYLE, Style, step_latex, to_latex


def derivation_to_latex(derivation, style: Style = DEFAULT_STYLE, environment: str = "align*",
                        levels=None) -> str:
    r"""The chain of steps as an ``align*`` (or ``aligned``), justifications between the rows.

    In ``align*`` each justification is an ``\intertext`` (with the step's proof level at the right
    when ``levels`` gives one per step); ``aligned`` (for notebooks and MathJax, where \intertext is
    unavailable) puts it as a ``\text`` note at the end of the row instead.

    >>> import sympy as sp
    >>> from symformer import Derivation, Step
    >>> x = sp.Symbol("x")
    >>> chain = Derivation("demo", "Demo", "Demo", lhs=(x + 1) ** 2, steps=[Step(x**2 + 2*x + 1, "expand, 100%")])
    >>> print(derivation_to_latex(chain))
    \begin{align*}
    \intertext{expand, 100\%}
    \left(x + 1\right)^{2} &= x^{2} + 2 x + 1
    \end{align*}
    """
    if environment not in ("align*", "aligned"):
        raise ValueError(f"environment must be 'align*' or 'aligned', not {environment!r}")
    lhs = derivation.lhs_latex or to_latex(derivation.lhs, style)
    if first_row_alone(lhs, step_latex(derivation.steps[0], style), NOTES_ROW):
        lhs = rf"&{lhs} \\" + "\n"  # too long beside its first step: it gets a row, the steps follow below
    rows = []
    for number, step in enumerate(derivation.steps):
        left = lhs if number == 0 else ""
        if environment == "align*":
            why = escape_text(step.why) + (f" [{escape_text(step.cite)}]" if step.cite else "")
            if levels:
                why += rf" \hfill {{\footnotesize\textit{{{escape_text(levels[number])}}}}}"
            rows.append(rf"\intertext{{{why}}}" + "\n" + rf"{left} &= {step_latex(step, style)}")
        else:
            why = step.why + (f" [{step.cite}]" if step.cite else "")
            rows.append(rf"{left} &= {step_latex(step, style)} && {prose_in_math(why)}")
    body = " \\\\\n".join(rows)
    return rf"\begin{{{environment}}}" + "\n" + body + "\n" + rf"\end{{{environment}}}"
