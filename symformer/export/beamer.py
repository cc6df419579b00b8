r"""Beamer slides: a frame per derivation, or per group of steps when the chain is long.

Each row of the ``align*`` is revealed with ``\uncover<k->`` around the row's right-hand cell
(``\pause`` inside amsmath environments breaks, because amsmath typesets its body twice); the
justifications and proof levels go into ``\note{}`` for the presenter. The handout variant is the
same source with ``\documentclass[handout]{beamer}``: one page per frame.
"""

from __future__ import annotations

from symformer.notation.escape import escape_plain, escape_text
from symformer.notation.layout import first_row_alone, SLIDE_ROW
from symformer.notation.printer import DEFAULT_STYLE, step_latex, Style, to_latex
from symformer.export.course import Entry, claim_formula
from symformer.export.registry import Exporter, register

#: Rows per frame: more do not fit a 4:3 slide at \small.
STEPS_PER_FRAME = 4

PREAMBLE = r"""\documentclass[{options}]{{beamer}}
\usepackage[T1]{{fontenc}}
\usepackage[utf8]{{inputenc}}
\IfFileExists{{lmodern.sty}}{{\usepackage{{lmodern}}}}{{}}
\usepackage{{textcomp}}
\usepackage{{amsmath,amssymb}}
\usepackage{{booktabs}}
\setbeamertemplate{{navigation symbols}}{{}}
\newcommand{{\unverified}}[1]{{{{\footnotesize\colorbox{{red!15}}{{\textcolor{{red}}{{\textbf{{NOT VERIFIED:}} #1}}}}}}\par}}
"""


def to_beamer(entry: Entry, style: Style = DEFAULT_STYLE) -> str:
    r"""The frames of one derivation (no preamble).

    >>> import sympy as sp
    >>> from symformer import Derivation, Step
    >>> x = sp.Symbol("x")
    >>> chain = Derivation("square", "A square", "Demo", lhs=x * x, steps=[Step(x**2, "powers")])
    >>> print(to_beamer(Entry(chain)).splitlines()[3])
    x^{2} &\uncover<1->{{}= x^{2}}
    """
    d = entry.derivation
    warning = rf"\unverified{{{escape_plain(entry.problem())}}}" if entry.report is not None and not entry.verified else ""
    levels = entry.step_levels()
    groups = step_groups(len(d.steps))
    frames = []
    for part, group in enumerate(groups, start=1):
        title = escape_text(d.title) + (f" ({part}/{len(groups)})" if len(groups) > 1 else "")
        first = group[0]
        left = (d.lhs_latex or to_latex(d.lhs, style)) if first == 0 else step_latex(d.steps[first - 1], style)
        rows = []
        if first_row_alone(left, step_latex(d.steps[first], style), SLIDE_ROW):
            rows.append(f"&{left}")  # too long beside its first step: it gets a row of its own
            left = ""
        for overlay, number in enumerate(group, start=1):
            cell = rf"\uncover<{overlay}->{{{{}}= {step_latex(d.steps[number], style)}}}"
            rows.append((left if overlay == 1 else "") + " &" + cell)
        notes = "\n".join(
            rf"\item[{number + 1}.] {escape_text(d.steps[number].why)}"
            + (rf" \emph{{({escape_text(levels[number])})}}" if levels[number] else "")
            for number in group
        )
        body = [rf"\begin{{frame}}{{{title}}}", r"\small", warning]
        if part == 1 and d.intro:
            body.append(escape_text(d.intro) + r"\par")
        body += [r"\begin{align*}", " \\\\\n".join(rows), r"\end{align*}",
                 r"\note{\begin{itemize}" + "\n" + notes + "\n" + r"\end{itemize}}", r"\end{frame}"]
        frames.append("\n".join(line for line in body if line))
    if d.claims:
        items = []
        for claim, level in zip(d.claims, entry.claim_levels()):
            item = rf"\item {escape_text(claim.statement)}"
            formula = claim_formula(claim, style)
            if formula:
                item += rf"\\ ${formula}$"
            if level:
                item += rf" {{\scriptsize\textit{{({escape_text(level)})}}}}"
            items.append(item)
        frames.append("\n".join([rf"\begin{{frame}}{{{escape_text(d.title)}: what follows}}", r"\small", warning,
                                 r"\begin{itemize}", *items, r"\end{itemize}", r"\end{frame}"]).replace("\n\n", "\n"))
    for stem, caption in entry.figures:
        frames.append("\n".join([rf"\begin{{frame}}{{{escape_text(d.title)}}}", r"\centering",
                                 rf"\includegraphics[height=0.72\textheight]{{{stem}.pdf}}\par",
                                 rf"{{\small {escape_text(caption)}}}", r"\end{frame}"]))
    return "\n\n".join(frames) + "\n"


def step_groups(count: int) -> list:
    """Split ``count`` steps into frames of at most STEPS_PER_FRAME rows, as evenly as possible.

    >>> step_groups(5)
    [[0, 1, 2], [3, 4]]
    """
    frames = -(-count // STEPS_PER_FRAME)
    bounds = [-(-k * count // frames) for k in range(frames + 1)]
    return [list(range(bounds[k], bounds[k + 1])) for k in range(frames)]


def slides_document(entries: list, title: str = "The mathematics of transformers", handout: bool = False,
                    style: Style = DEFAULT_STYLE, frames: list | None = None) -> str:
    """The course as one beamer deck: a title frame, a section per topic, the frames of each derivation.

    ``frames`` may hold each entry's ``to_beamer`` output already made (the handout reuses the slides').
    """
    parts = [PREAMBLE.format(options="handout" if handout else ""), rf"\title{{{escape_text(title)}}}", r"\date{}",
             r"\begin{document}", r"\begin{frame}\titlepage\end{frame}", ""]
    topic = None
    for number, entry in enumerate(entries):
        if entry.derivation.topic != topic:
            topic = entry.derivation.topic
            parts.append(rf"\section{{{escape_text(topic)}}}")
        parts.append(frames[number] if frames is not None else to_beamer(entry, style))
    parts.append(r"\end{document}")
    return "\n".join(parts) + "\n"


register(Exporter("beamer", ".tex", "slides", lambda entry, style: slides_document([entry], entry.derivation.title, style=style)))
