r"""Course notes: a LaTeX article with a section per topic and a subsection per derivation.

Each derivation is an ``align*`` with each step's justification, citation and proof level in a
small line beneath its row; then its claims with their levels, the check of the final result, its
figures, its sources and, where the course gives one, a worked example with numbers. A topic ends
with a summary of its results; the references (biblatex, or typeset here without biber) close the
document. Cross-references are ``\ref`` to section numbers. Only packages of texlive-latex-base and
-recommended are used, plus biblatex where it is installed.
"""

from __future__ import annotations

from symformer.export.bibliography import Bibliography
from symformer.export.course import DEFAULT_TITLE, Entry, Lecture, claim_formula, is_claim, prerequisite_items
from symformer.export.examples import array_latex, exact_latex, number_latex, shapes_table, worked_example
from symformer.export.registry import Exporter, register
from symformer.notation.chain import WHY_MACRO, aligned_rows, chain_layout, display, justification
from symformer.notation.escape import escape_plain, escape_text
from symformer.notation.layout import NOTES_POINT, NOTES_WIDTH, width
from symformer.notation.printer import DEFAULT_STYLE, Style, step_latex, to_latex
from symformer.notation.text import plain_text

PREAMBLE = r"""\documentclass[11pt]{{article}}
\usepackage[T1]{{fontenc}}
\usepackage[utf8]{{inputenc}}
\IfFileExists{{lmodern.sty}}{{\usepackage{{lmodern}}}}{{}}
\usepackage{{textcomp}}
\usepackage{{amsmath,amssymb,mathtools}}
\usepackage{{graphicx}}
\usepackage{{booktabs}}
\usepackage{{xcolor}}
\usepackage[margin=2.2cm]{{geometry}}
\usepackage[hidelinks]{{hyperref}}
{bibliography}\allowdisplaybreaks
\setlength{{\emergencystretch}}{{2em}}
\newcommand{{\unverified}}[1]{{\par\noindent\fcolorbox{{red}}{{red!8}}{{\parbox{{\dimexpr\linewidth-2\fboxsep-2\fboxrule}}{{%
  \textcolor{{red}}{{\textbf{{NOT VERIFIED.}} #1}}}}}}\par\medskip}}
{why}
"""

#: The width (in points at 10 pt) a display may take in the notes.
MATH_WIDTH = NOTES_WIDTH / NOTES_POINT


def _marker(slug: str, what: str) -> str:
    return f"% symformer: derivation {slug}, {what}"


def _claim_display(formula: str) -> str:
    return display(formula, MATH_WIDTH - 40.0)[0]


def to_notes(entry: Entry, style: Style = DEFAULT_STYLE, heading: str = "subsection", lecture: Lecture | None = None) -> str:
    r"""One derivation as a notes section (no preamble): title, prose, the chain, claims, figures.

    >>> import sympy as sp
    >>> from symformer import Derivation, Step
    >>> x = sp.Symbol("x")
    >>> chain = Derivation("square", "A square", "Demo", lhs=x * x, steps=[Step(x**2, "powers")])
    >>> print(to_notes(Entry(chain)).splitlines()[1])
    \subsection{A square}\label{d:square}
    """
    lecture = lecture or Lecture([entry], style=style)
    d = entry.derivation
    lines = []
    table = shapes_table(d)
    if table is not None:
        rows = "\n".join(f"${symbol}$ & ${shape}$ & {what} \\\\" for symbol, shape, what in table.rows(style))
        lines += [_marker(d.slug, "shapes"), rf"\subsection*{{{escape_text(table.title)}}}",
                  r"\begin{center}\small", r"\begin{tabular}{@{}lll@{}}", r"\toprule", r"matrix & shape & what it is \\",
                  r"\midrule", rows, r"\bottomrule", r"\end{tabular}", r"\end{center}", ""]
    lines += [_marker(d.slug, "steps"), rf"\{heading}{{{_heading(d.title)}}}\label{{d:{d.slug}}}"]
    if entry.report is not None and not entry.verified:
        lines.append(rf"\unverified{{{escape_plain(entry.problem())}}}")
    if d.intro:
        lines += [lecture.prose(d.intro), ""]
    levels = entry.step_levels()
    layout = chain_layout(d, style, MATH_WIDTH)

    def after(number):
        step = d.steps[number]
        return rf"\shortintertext{{{justification(lecture.prose(step.why), lecture.cite(step.cite) or None, lecture.level(levels[number]))}}}"

    lines += [r"\begin{align*}", aligned_rows(layout, after=after), r"\end{align*}"]
    if d.claims:
        lines += [_marker(d.slug, "claims"), r"\paragraph{What follows.}", r"\begin{itemize}"]
        for claim, level in zip(d.claims, entry.claim_levels()):
            item = rf"\item {lecture.prose(claim.statement)}"
            formula = claim_formula(claim, style)
            if formula:
                item += ("\n" + _claim_display(formula)) if is_claim(claim) or width(formula) > 160 else rf": ${formula}$"
            why = ("Why: " + lecture.prose(claim.why)) if claim.why else ""
            cite = lecture.cite(claim.cite) if getattr(claim, "cite", None) else ""
            if why or cite or level:
                item += "\n" + justification(why, cite or None, lecture.level(level))
            lines.append(item)
        lines.append(r"\end{itemize}")
    result = entry.result_level()
    if result:
        lines += ["", rf"\noindent{{\small\textit{{The final formula against an independent NumPy implementation and "
                      rf"finite differences: {lecture.level(result)}.}}\par}}"]
    for stem, caption in entry.figures:
        lines += ["", _marker(d.slug, f"figure {stem}"), r"\begin{figure}[htbp]", r"\centering",
                  rf"\includegraphics[width=0.85\linewidth,height=0.4\textheight,keepaspectratio]{{{stem}.pdf}}",
                  rf"\caption{{{lecture.prose(caption)}}}", r"\end{figure}"]
    if d.outro:
        lines += ["", lecture.prose(d.outro)]
    sources = lecture.sources(d)
    if sources:
        lines += ["", rf"\noindent\textit{{Sources:}} {sources}."]
    example = _example(entry, lecture)
    if example:
        lines += ["", example]
    return "\n".join(lines) + "\n"


def _example(entry: Entry, lecture: Lecture) -> str:
    example = worked_example(entry.derivation)
    if example is None:
        return ""
    quantities = example.evaluate()
    d = entry.derivation
    inputs = ", ".join(f"${_symbol(name)} = {array_latex(value, exact_latex)}$" for name, value in example.exact_inputs().items())
    rows = " \\\\\n".join(f"{q.name} &= {array_latex(q.exact)}" for q in quantities)
    worst = max((q.error for q in quantities), default=0.0)
    title = "Worked example" + (f": {escape_text(example.title)}" if example.title else "")
    text = [_marker(d.slug, "worked example"), rf"\subsubsection*{{{title}}}"]
    if inputs:
        text.append(rf"Inputs: {inputs}.")
    text += [r"\begin{align*}", rows, r"\end{align*}",
             (lecture.prose(example.text) + " " if example.text else "")
             + rf"These are the result of Section~\ref{{d:{d.slug}}} at these inputs, evaluated exactly and shown to 4 "
               rf"digits; the NumPy reference gives the same numbers (largest difference ${number_latex(worst, 2)}$)."]
    return "\n".join(text)


def _symbol(name: str) -> str:
    import sympy as sp

    return to_latex(sp.Symbol(name))


def _heading(title: str) -> str:
    """A section title; mathematics in it gets an ASCII twin for the PDF outline, which cannot hold math."""
    if "$" not in title:
        return escape_text(title)
    return rf"\texorpdfstring{{{escape_text(title)}}}{{{escape_plain(plain_text(title, ascii=True))}}}"


def _summary(topic: str, members: list, lecture: Lecture, style: Style) -> str:
    items = []
    for entry in members:
        d = entry.derivation
        item = rf"\item[{lecture.numbers.get(d.slug, '')}] {_heading(d.title)}"
        formula = f"{d.lhs_latex or to_latex(d.lhs, style)} = {step_latex(d.steps[-1], style)}"
        if "$" not in d.title and width(formula) <= 0.6 * MATH_WIDTH and "=" not in step_latex(d.steps[-1], style):
            item += rf": ${formula}$"
        levels = entry.chain_levels()
        if levels:
            item += rf"; every step {' or '.join(lecture.level(l) for l in levels)}"
        if d.claims:
            item += rf"; {len(d.claims)} further result{'s' if len(d.claims) != 1 else ''}"
        items.append(item + ".")
    return "\n".join([f"% symformer: summary of {topic}", r"\subsection*{Summary}", r"\begin{itemize}\setlength{\itemsep}{1pt}",
                      *items, r"\end{itemize}"])


def _prerequisites(lecture: Lecture, style: Style) -> str:
    if not lecture.prerequisites:
        return ""
    items = prerequisite_items(lecture, style, MATH_WIDTH - 60.0)
    return "\n".join(["% symformer: prerequisites", r"\section*{Before this lecture}",
                      "These notes use the following results of the course, derived and verified in their own sections:",
                      r"\begin{itemize}", *items, r"\end{itemize}"])


def notes_document(entries: list, title: str = DEFAULT_TITLE, style: Style = DEFAULT_STYLE,
                   lecture: Lecture | None = None) -> str:
    """The lecture as one article: a section per topic in course order, then the references."""
    lecture = lecture or Lecture(list(entries), style=style, title=title)
    front = [rf"\title{{{escape_text(lecture.title)}}}"]
    authors = [escape_text(x) for x in (lecture.author, lecture.institute) if x]
    front.append(r"\author{" + r" \\ ".join(authors) + "}")
    front.append(rf"\date{{{escape_text(lecture.date)}}}" if lecture.date else r"\date{\today}")
    body = [r"\begin{document}", r"\maketitle", r"\tableofcontents", ""]
    prerequisites = _prerequisites(lecture, style)
    if prerequisites:
        body += [prerequisites, ""]
    for topic, members in lecture.topics():
        body.append(rf"\section{{{escape_text(topic)}}}")
        body += [to_notes(e, style, lecture=lecture) for e in members]
        body += [_summary(topic, members, lecture, style), ""]
    body.append(lecture.bibliography.printed())
    body.append(r"\end{document}")
    preamble = PREAMBLE.format(bibliography=lecture.bibliography.preamble(), why=WHY_MACRO)
    return "\n".join([preamble, *front, *body]) + "\n"


def single_notes_document(entry: Entry, style: Style = DEFAULT_STYLE) -> str:
    """One derivation as a complete article (``symformer export NAME --format tex``), self-contained."""
    lecture = Lecture([entry], style=style, title=entry.derivation.title, bibliography=Bibliography("plain"))
    body = to_notes(entry, style, heading="section*", lecture=lecture)
    parts = [PREAMBLE.format(bibliography="", why=WHY_MACRO), r"\begin{document}", body,
             lecture.bibliography.printed(), r"\end{document}"]
    return "\n".join(parts) + "\n"


register(Exporter("tex", ".tex", "an article", single_notes_document))
