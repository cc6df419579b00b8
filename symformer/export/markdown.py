r"""Markdown for Quarto, Jupyter or any MathJax page: ``aligned`` inside ``$$``, never ``align*``.

MathJax has no ``\intertext`` and does not read ``$`` inside ``\text{}``, so each row carries a
number and the justifications follow as a numbered Markdown list, where ``$...$`` works natively.
"""

from __future__ import annotations

from symformer.export.bibliography import Citation, is_cross_reference, references
from symformer.export.course import Entry, citations, claim_formula
from symformer.export.registry import Exporter, register
from symformer.notation.levels import level_markdown
from symformer.notation.printer import DEFAULT_STYLE, step_latex, Style, to_latex


def cite_markdown(text: str | None) -> str:
    """A citation as Markdown prints it, author-year: (Vaswani et al. 2017, eq. 1).

    >>> cite_markdown("vaswani2017attention, eq. 1")
    '(Vaswani et al. 2017, eq. 1)'
    """
    if not text:
        return ""
    if is_cross_reference(text):
        return f"({text})"
    citation = Citation.parse(text)
    known = references().get(citation.key)
    label = known.label if known is not None else text
    return f"({label}{', ' + citation.place if citation.place else ''})"


def _source_markdown(text: str) -> str:
    known = references().get(Citation.parse(text).key)
    return known.text() if known is not None else text


def to_markdown(entry: Entry, style: Style = DEFAULT_STYLE, figure_folder: str = "figures") -> str:
    r"""One derivation as Markdown with display math.

    >>> import sympy as sp
    >>> from symformer import Derivation, Step
    >>> x = sp.Symbol("x")
    >>> chain = Derivation("square", "A square", "Demo", lhs=x * x, steps=[Step(x**2, "powers")])
    >>> print(to_markdown(Entry(chain)))
    ## A square
    <BLANKLINE>
    $$
    \begin{aligned}
    x^{2} &= x^{2} && \text{(1)}
    \end{aligned}
    $$
    <BLANKLINE>
    1. powers
    <BLANKLINE>
    """
    d = entry.derivation
    lines = [f"## {_inline(d.title)}", ""]
    if entry.report is not None and not entry.verified:
        lines += [f"> **Not verified:** {_inline(entry.problem())}", ""]
    if d.intro:
        lines += [d.intro, ""]
    lhs = d.lhs_latex or to_latex(d.lhs, style)
    rows = [f"{lhs if n == 0 else ''} &= {step_latex(s, style)} && \\text{{({n + 1})}}" for n, s in enumerate(d.steps)]
    lines += ["$$", r"\begin{aligned}", " \\\\\n".join(rows), r"\end{aligned}", "$$", ""]
    for number, (step, level) in enumerate(zip(d.steps, entry.step_levels()), start=1):
        cite = f" {cite_markdown(step.cite)}" if step.cite else ""
        lines.append(f"{number}. {step.why}{cite}" + (f" *({level_markdown(level, style)})*" if level else ""))
    lines.append("")
    if d.claims:
        lines += ["**What follows**", ""]
        for claim, level in zip(d.claims, entry.claim_levels()):
            item = f"- {_inline(claim.statement)}"
            formula = claim_formula(claim, style)
            if formula:
                item += f": ${formula}$"
            if claim.why:
                item += f" *Why:* {claim.why}"
            if getattr(claim, "cite", None):
                item += f" {cite_markdown(claim.cite)}"
            lines.append(item + (f" *({level_markdown(level, style)})*" if level else ""))
        lines.append("")
    if entry.result_level():
        lines += [f"*Against an independent NumPy implementation and finite differences: "
                  f"{level_markdown(entry.result_level(), style)}.*", ""]
    for stem, caption in entry.figures:
        lines += [f"![{_inline(caption)}]({figure_folder}/{stem}.png)", ""]
    if d.outro:
        lines += [d.outro, ""]
    sources = citations(d)
    if sources:
        lines += ["Sources:", ""] + [f"- {_source_markdown(source)}" for source in sources] + [""]
    return "\n".join(lines)


def _inline(text: str) -> str:
    """Plain text in Markdown: outside ``$...$`` spans, characters Markdown would act on are escaped."""
    pieces = text.split("$")
    return "$".join(p if i % 2 else "".join("\\" + c if c in "*_[]`<>#" else c for c in p) for i, p in enumerate(pieces))


register(Exporter("md", ".md", "Markdown with aligned math", to_markdown))
