"""Course notes: a LaTeX article with one section per topic and one subsection per derivation.

Each derivation is an ``align*`` with its justifications between the rows and each step's proof
level at the right; then its claims with their levels, the check of the result, its figures and
its sources. Only packages from texlive-latex-base and -recommended are used.
"""

from __future__ import annotations

from symformer.notation.chain import derivation_to_latex
from symformer.notation.escape import escape_plain, escape_text
from symformer.notation.printer import DEFAULT_STYLE, Style
from symformer.notation.text import plain_text
from symformer.export.course import Entry, citation_key, citations, claim_formula, is_claim
from symformer.export.registry import Exporter, register

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\IfFileExists{lmodern.sty}{\usepackage{lmodern}}{}
\usepackage{textcomp}
\usepackage{amsmath,amssymb}
\usepackage{graphicx}
\usepackage{booktabs}
\usepackage{xcolor}
\usepackage[margin=2.2cm]{geometry}
\usepackage[hidelinks]{hyperref}
\allowdisplaybreaks
\newcommand{\unverified}[1]{\par\noindent\fcolorbox{red}{red!8}{\parbox{\dimexpr\linewidth-2\fboxsep-2\fboxrule}{%
  \textcolor{red}{\textbf{NOT VERIFIED.}} #1}}\par\medskip}
"""


def to_notes(entry: Entry, style: Style = DEFAULT_STYLE, heading: str = "subsection") -> str:
    r"""One derivation as a notes section (no preamble): title, prose, the chain, claims, figures.

    >>> import sympy as sp
    >>> from symformer import Derivation, Step
    >>> x = sp.Symbol("x")
    >>> chain = Derivation("square", "A square", "Demo", lhs=x * x, steps=[Step(x**2, "powers")])
    >>> print(to_notes(Entry(chain)).splitlines()[0])
    \subsection{A square}\label{d:square}
    """
    d = entry.derivation
    lines = [rf"\{heading}{{{_heading(d.title)}}}\label{{d:{d.slug}}}"]
    if entry.report is not None and not entry.verified:
        lines.append(rf"\unverified{{{escape_plain(entry.problem())}}}")
    if d.intro:
        lines += [escape_text(d.intro), ""]
    levels = entry.step_levels()
    lines.append(derivation_to_latex(d, style, "align*", levels=levels if any(levels) else None))
    if d.claims:
        lines += ["", r"\paragraph{What follows.}", r"\begin{itemize}"]
        for claim, level in zip(d.claims, entry.claim_levels()):
            item = rf"\item {escape_text(claim.statement)}"
            formula = claim_formula(claim, style)
            if formula:
                item += rf": \[ {formula} \]" if is_claim(claim) else rf": ${formula}$"
            if claim.why:
                item += rf" \textit{{Why:}} {escape_text(claim.why)}"
            if claim.cite:
                item += rf" \cite{{{citation_key(claim.cite)}}}"
            if level:
                item += rf" \hfill{{\footnotesize\textit{{{escape_text(level)}}}}}"
            lines.append(item)
        lines.append(r"\end{itemize}")
    result = entry.result_level()
    if result:
        lines += ["", rf"\noindent\textit{{The final expression against an independent NumPy implementation and "
                      rf"finite differences: {escape_text(result)}.}}"]
    for stem, caption in entry.figures:
        lines += ["", r"\begin{figure}[htbp]", r"\centering",
                  rf"\includegraphics[width=0.75\linewidth]{{{stem}.pdf}}",
                  rf"\caption{{{escape_text(caption)}}}", r"\end{figure}"]
    if d.outro:
        lines += ["", escape_text(d.outro)]
    sources = citations(d)
    if sources:
        lines += ["", r"\noindent\textit{Sources:} " + ", ".join(rf"\cite{{{citation_key(s)}}}" for s in sources) + "."]
    return "\n".join(lines) + "\n"


def _heading(title: str) -> str:
    """A section title; mathematics in it gets an ASCII twin for the PDF outline, which cannot hold math."""
    if "$" not in title:
        return escape_text(title)
    return rf"\texorpdfstring{{{escape_text(title)}}}{{{escape_plain(plain_text(title, ascii=True))}}}"


def notes_document(entries: list, title: str = "The mathematics of transformers", style: Style = DEFAULT_STYLE) -> str:
    """The whole course as one article: a section per topic in course order, then the references."""
    parts = [PREAMBLE, rf"\title{{{escape_text(title)}}}", r"\date{}", r"\begin{document}", r"\maketitle",
             r"\tableofcontents", ""]
    for topic, members in _by_topic(entries):
        parts.append(rf"\section{{{escape_text(topic)}}}")
        parts += [to_notes(e, style) for e in members]
    parts.append(_bibliography(entries))
    parts.append(r"\end{document}")
    return "\n".join(parts) + "\n"


def single_notes_document(entry: Entry, style: Style = DEFAULT_STYLE) -> str:
    """One derivation as a complete article (``symformer export NAME --format tex``)."""
    parts = [PREAMBLE, r"\begin{document}", to_notes(entry, style, heading="section*"), _bibliography([entry]),
             r"\end{document}"]
    return "\n".join(parts) + "\n"


def _by_topic(entries: list) -> list:
    topics: dict = {}
    for entry in entries:
        topics.setdefault(entry.derivation.topic, []).append(entry)
    return list(topics.items())


def _bibliography(entries: list) -> str:
    sources = list(dict.fromkeys(s for e in entries for s in citations(e.derivation)))
    if not sources:
        return ""
    items = "\n".join(rf"\bibitem{{{citation_key(s)}}} {escape_text(s)}" for s in sources)
    return rf"\begin{{thebibliography}}{{{len(sources)}}}" + "\n" + items + "\n" + r"\end{thebibliography}"


register(Exporter("tex", ".tex", "an article", single_notes_document))
