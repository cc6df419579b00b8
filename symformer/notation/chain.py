r"""A derivation's chain of steps as one display: each step's row, then its justification beneath it.

Works on anything with ``lhs``, ``lhs_latex`` and ``steps`` (each with ``expr``, ``why``, ``cite``
and ``latex``), so the notation layer needs nothing from the engine. Rows too wide for the page
break before a top-level relation or sign (continuation rows indented under the right-hand side);
a piece that still does not fit is scaled down, the last resort. The slides and the notes share
this layout through :func:`chain_layout`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from symformer.notation.escape import escape_text, prose_in_math
from symformer.notation.layout import NOTES_POINT, NOTES_WIDTH, break_lines, row_height, scale_to_fit, width
from symformer.notation.printer import DEFAULT_STYLE, Style, step_latex, to_latex

_RELATION = width("=")
_INDENT = r"\qquad "
_INDENT_WIDTH = width(r"\qquad")


@dataclass
class ChainLayout:
    """Where a chain's rows go: the left-hand side, and each step's right-hand side as lines that fit."""

    lhs: str
    lhs_alone: bool  # True: the left-hand side has rows of its own, the steps follow beneath it
    steps: list = field(default_factory=list)  # per step: list of (line, scale) pairs
    available: float = NOTES_WIDTH / NOTES_POINT
    lhs_lines: list = field(default_factory=list)  # (line, scale) pairs of a left-hand side alone

    def step_height(self, number: int) -> float:
        """The height in points (at 10 pt) the rows of step ``number`` take."""
        return sum(row_height(line) * scale for line, scale in self.steps[number])

    def lhs_height(self) -> float:
        return sum(row_height(line) * scale for line, scale in self.lhs_lines) if self.lhs_alone else 0.0


def chain_layout(derivation, style: Style = DEFAULT_STYLE, available: float = NOTES_WIDTH / NOTES_POINT, first: int = 0,
                 last: int | None = None, left: str | None = None) -> ChainLayout:
    r"""Lay out steps ``first`` to ``last`` (exclusive) of ``derivation`` within ``available`` points.

    ``left`` is the left-hand side shown (default: the derivation's, or the step before ``first``).

    >>> import sympy as sp
    >>> from symformer import Derivation, Step
    >>> x = sp.Symbol("x")
    >>> chain = Derivation("demo", "Demo", "Demo", lhs=x, steps=[Step(x, "same")])
    >>> chain_layout(chain).steps
    [[('x', 1.0)]]
    """
    last = len(derivation.steps) if last is None else last
    if left is None:
        left = (derivation.lhs_latex or to_latex(derivation.lhs, style)) if first == 0 else step_latex(derivation.steps[first - 1], style)
    rights = [step_latex(derivation.steps[k], style) for k in range(first, last)]
    shared = available - width(left) - _RELATION
    alone = bool(rights) and width(rights[0]) > shared and width(left) > 0.22 * available
    budget = (available - _RELATION) if alone else shared
    layout = ChainLayout(left, alone, available=available)
    if alone:
        lines = break_lines(left, available, available - _INDENT_WIDTH)
        layout.lhs_lines = [(line, scale_to_fit(line, available if k == 0 else available - _INDENT_WIDTH))
                            for k, line in enumerate(lines)]
    for right in rights:
        lines = break_lines(right, budget, budget - _INDENT_WIDTH)
        fitted = []
        for number, line in enumerate(lines):
            room = budget if number == 0 else budget - _INDENT_WIDTH
            fitted.append((line, scale_to_fit(line, room)))
        layout.steps.append(fitted)
    return layout


def _cell(line: str, scale: float, first: bool, relation: str = "= ") -> str:
    text = (relation + line) if first else (_INDENT + "{}" + line)
    if scale < 1.0:
        return rf"\scalebox{{{scale:.2f}}}{{$\displaystyle {text}$}}"
    return text


def aligned_rows(layout: ChainLayout, wrap: Callable[[int, str], str] = lambda number, cell: cell,
                 after: Callable[[int], str] = lambda number: "") -> str:
    r"""The body of an ``align*``: each step's rows (their right cells passed through ``wrap``), then ``after(k)``.

    ``after`` gives what follows step ``k`` (a justification as ``\shortintertext``, or nothing).

    >>> print(aligned_rows(ChainLayout("x", False, [[("a + b", 1.0)], [("c", 1.0)]])))
    x &= a + b \\
     &= c
    """
    rows = []
    if layout.lhs_alone:
        rows += [f"&{_cell(line, scale, k == 0, relation='')}" for k, (line, scale) in enumerate(layout.lhs_lines)]
    for number, lines in enumerate(layout.steps):
        for position, (line, scale) in enumerate(lines):
            left = layout.lhs if (number == 0 and position == 0 and not layout.lhs_alone) else ""
            rows.append(f"{left} &{wrap(number, _cell(line, scale, position == 0))}")
        extra = after(number)
        if extra:
            rows[-1] += " \\\\\n" + extra
    return " \\\\\n".join(rows)


def display(formula: str, available: float) -> tuple:
    r"""``formula`` as a display that fits ``available`` points: ``\[...\]``, broken into an
    ``aligned`` at its top-level relations and signs when too wide (a piece still too wide is
    scaled down). Returns the LaTeX and the estimated height in points.

    >>> display("x = y", 300.0)[0]
    '\\[ x = y \\]'
    """
    lines = break_lines(formula, available, available - _INDENT_WIDTH)
    cells = []
    for k, line in enumerate(lines):
        room = available if k == 0 else available - _INDENT_WIDTH
        text = ("&" if k == 0 else r"&\qquad {}") + line
        scale = scale_to_fit(line, room)
        if scale < 1.0:
            text = ("&" if k == 0 else r"&\qquad ") + rf"\scalebox{{{scale:.2f}}}{{$\displaystyle {'' if k == 0 else '{}'}{line}$}}"
        cells.append((text, row_height(line) * scale))
    height = sum(h for _, h in cells) + 8.0
    if len(cells) == 1 and scale_to_fit(formula, available) == 1.0:
        return rf"\[ {formula} \]", height
    return r"\[ \begin{aligned} " + r" \\ ".join(text for text, _ in cells) + r" \end{aligned} \]", height


def justification(why: str, cite: str | None = None, level: str | None = None) -> str:
    r"""A step's reason as a small line of text, its proof level at the right (already LaTeX).

    >>> justification("quotient rule", level="proved for all $n$")
    '\\why{quotient rule}{\\mbox{proved for all $n$}}'
    """
    if level and len(level) < 48:
        level = rf"\mbox{{{level}}}"  # a short level stays on one line, at the right margin
    return rf"\why{{{why}{' ' + cite if cite else ''}}}{{{level or ''}}}"


#: The macro the justifications use; every document that shows chains defines it.
# The justification line: the reason, then the proof level pushed to the right margin, on the same
# line when both fit and else on the next (the TeXbook's \signed).
WHY_MACRO = (r"\providecommand{\why}[2]{\par{\footnotesize\color{black!72}\leftskip=1em\noindent#1\unskip"
             r"\ifx\relax#2\relax\else\nobreak\hfil\penalty50\hskip1em\hbox{}\nobreak\hfill\textit{#2}"
             r"\parfillskip=0pt\fi\par}}")


def derivation_to_latex(derivation, style: Style = DEFAULT_STYLE, environment: str = "align*",
                        levels=None, available: float = NOTES_WIDTH / NOTES_POINT) -> str:
    r"""The chain of steps as an ``align*`` (or ``aligned``), each justification beneath its row.

    In ``align*`` each justification is a ``\shortintertext`` holding ``\why{reason}{level}`` (the
    macro is :data:`WHY_MACRO`; mathtools provides ``\shortintertext``); ``aligned`` (for notebooks
    and MathJax, where neither exists) puts it as a ``\text`` note at the end of the row instead.

    >>> import sympy as sp
    >>> from symformer import Derivation, Step
    >>> x = sp.Symbol("x")
    >>> chain = Derivation("demo", "Demo", "Demo", lhs=(x + 1) ** 2, steps=[Step(x**2 + 2*x + 1, "expand, 100%")])
    >>> print(derivation_to_latex(chain))
    \begin{align*}
    \left(x + 1\right)^{2} &= x^{2} + 2 x + 1 \\
    \shortintertext{\why{expand, 100\%}{}}
    \end{align*}
    """
    if environment not in ("align*", "aligned"):
        raise ValueError(f"environment must be 'align*' or 'aligned', not {environment!r}")
    if environment == "aligned":
        lhs = derivation.lhs_latex or to_latex(derivation.lhs, style)
        rows = []
        for number, step in enumerate(derivation.steps):
            why = step.why + (f" [{step.cite}]" if step.cite else "")
            rows.append(rf"{lhs if number == 0 else ''} &= {step_latex(step, style)} && {prose_in_math(why)}")
        return r"\begin{aligned}" + "\n" + " \\\\\n".join(rows) + "\n" + r"\end{aligned}"
    layout = chain_layout(derivation, style, available)

    def after(number):
        step = derivation.steps[number]
        cite = f"[{escape_text(step.cite)}]" if step.cite else None
        return rf"\shortintertext{{{justification(escape_text(step.why), cite, levels[number] if levels else None)}}}"

    return "\\begin{align*}\n" + aligned_rows(layout, after=after) + "\n\\end{align*}"
