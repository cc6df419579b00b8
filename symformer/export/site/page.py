r"""The site's page model: a page per topic, made of blocks that each know their formulas and their HTML.

Every block answers two questions: which formulas it shows (``formulas()``, each a :class:`Math`
naming where it comes from, so a formula KaTeX rejects fails the build naming the derivation and
step) and what HTML it writes once they are typeset (``html(out)``). The LaTeX is the course
printer's, the same strings the PDFs show; proof levels are the report's own words.

Blocks beyond a topic's derivations (a worked example, a table) slot in through
:func:`register_topic_blocks`: a provider ``(topic, entries) -> [Block, ...]`` whose blocks are
placed after the topic's derivations.

>>> import sympy as sp
>>> from symformer import Derivation, Step
>>> from symformer.export.course import Entry
>>> x = sp.Symbol("x")
>>> chain = Derivation("square", "A square of $x$", "Demo", lhs=x * x, steps=[Step(x**2, "powers")])
>>> [m.tex for m in derivation_section(Entry(chain), "1.1").formulas()]
['x', 'x^{2}', '= x^{2}']
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Callable

from symformer.notation.layout import NOTES_POINT, NOTES_WIDTH, first_row_alone
from symformer.notation.printer import DEFAULT_STYLE, Style, step_latex, to_latex
from symformer.notation.text import plain_text
from symformer.export.bibliography import Citation, references
from symformer.export.course import Entry, citations, claim_formula, is_claim

_MATH_SPAN = re.compile(r"(\$[^$]+\$)")
RESULT_WORDING = "The final expression against an independent NumPy implementation and finite differences"


@dataclass(frozen=True)
class Math:
    """One formula to typeset: its LaTeX, display or inline, and where in the course it comes from."""

    tex: str
    display: bool
    where: str


class Writer:
    """What blocks write with: the typeset formulas and the page's numbered references."""

    def __init__(self, typeset: dict):
        self.typeset = typeset  # (tex, display) -> KaTeX's HTML
        self.references: dict = {}  # source key -> (number, full reference), in order of first mention

    def math(self, formula: Math) -> str:
        return self.typeset[(formula.tex, formula.display)]

    def cite(self, text: str) -> str:
        """A numbered link to the page's reference list; one number per source, whatever the place cited."""
        key, label, full = source(text)
        number = self.references.setdefault(key, (len(self.references) + 1, full))[0]
        return f'<a class="cite" href="#ref-{key}" title="{html.escape(label)}">[{number}]</a>'


def source(text: str) -> tuple:
    """(key, short label, full reference) of a ``cite`` string: a key of the course's bibliography with
    an optional place ("vaswani2017attention, eq. 1"), or a free-text source."""
    citation = Citation.parse(text)
    known = references().get(citation.key)
    if known is None:
        return citation.key, text, text
    label = known.label + (f", {citation.place}" if citation.place else "")
    return citation.key, label, known.text() + (f" ({citation.place})" if citation.place else "")


@dataclass(frozen=True)
class Prose:
    """Text with ``$...$`` mathematics, as the course files write it."""

    text: str
    where: str

    def formulas(self) -> list:
        return [Math(p[1:-1], False, self.where) for p in _MATH_SPAN.split(self.text) if _is_math(p)]

    def html(self, out: Writer) -> str:
        return "".join(out.math(Math(p[1:-1], False, self.where)) if _is_math(p) else html.escape(p)
                       for p in _MATH_SPAN.split(self.text))


def _is_math(piece: str) -> bool:
    return len(piece) > 2 and piece.startswith("$") and piece.endswith("$")


@dataclass(frozen=True)
class Paragraph:
    prose: Prose
    kind: str = "prose"

    def formulas(self) -> list:
        return self.prose.formulas()

    def html(self, out: Writer) -> str:
        return f'<p class="{self.kind}">{self.prose.html(out)}</p>'


@dataclass(frozen=True)
class Notice:
    """The red mark of a derivation that failed verification, in the PDFs' words."""

    problem: str

    def formulas(self) -> list:
        return []

    def html(self, out: Writer) -> str:
        return f'<p class="unverified"><strong>NOT VERIFIED.</strong> {html.escape(self.problem)}</p>'


@dataclass(frozen=True)
class StepRow:
    number: int
    formula: Math
    why: Prose
    cite: str | None
    level: str | None


@dataclass(frozen=True)
class Chain:
    """The derivation's steps, revealed one at a time: ``lhs = step 1 = step 2 ...``, a justification above each."""

    lhs: Math
    steps: tuple
    lhs_alone: bool  # the left side is too long to stand beside the first step: it gets its own row

    def formulas(self) -> list:
        found = [self.lhs]
        for step in self.steps:
            found += step.why.formulas() + [step.formula]
        return found

    def html(self, out: Writer) -> str:
        rows = []
        for step in self.steps:
            why = step.why.html(out) + (f" {out.cite(step.cite)}" if step.cite else "")
            level = f' <span class="{_badge(step.level)}">{html.escape(step.level)}</span>' if step.level else ""
            rows.append(f'<li class="step" data-step="{step.number}"><p class="why"><span class="number">({step.number})</span> '
                        f'{why}{level}</p><div class="rhs">{out.math(step.formula)}</div></li>')
        layout = "chain lhs-alone" if self.lhs_alone else "chain"
        return (f'<div class="{layout}" data-steps="{len(self.steps)}"><div class="lhs">{out.math(self.lhs)}</div>'
                f'<ol class="steps">{"".join(rows)}</ol>'
                '<div class="controls" hidden><button type="button" class="next">Next step</button>'
                '<button type="button" class="all">Show all</button><span class="shown" aria-live="polite"></span></div>'
                '</div>')


def _badge(level: str) -> str:
    if level.startswith("proved"):
        return "badge proved"
    if level.startswith("FAILED") or level == "not established":
        return "badge failed"
    return "badge checked"


@dataclass(frozen=True)
class ClaimItem:
    statement: Prose
    formula: Math | None
    why: Prose | None
    cite: str | None
    level: str | None


@dataclass(frozen=True)
class Claims:
    """What follows from the derivation, each claim with its proof level."""

    items: tuple

    def formulas(self) -> list:
        found = []
        for item in self.items:
            found += item.statement.formulas() + ([item.formula] if item.formula else [])
            found += item.why.formulas() if item.why else []
        return found

    def html(self, out: Writer) -> str:
        rows = []
        for item in self.items:
            text = item.statement.html(out)
            if item.formula:
                text += ": " + out.math(item.formula)
            if item.why:
                text += f" <em>Why:</em> {item.why.html(out)}"
            if item.cite:
                text += " " + out.cite(item.cite)
            if item.level:
                text += f' <span class="{_badge(item.level)}">{html.escape(item.level)}</span>'
            rows.append(f"<li>{text}</li>")
        return f'<h3>What follows</h3><ul class="claims">{"".join(rows)}</ul>'


@dataclass(frozen=True)
class FigureBlock:
    src: str  # relative to the page
    caption: Prose

    def formulas(self) -> list:
        return self.caption.formulas()

    def html(self, out: Writer) -> str:
        alt = html.escape(plain_text(self.caption.text), quote=True)
        return (f'<figure><img src="{html.escape(self.src)}" alt="{alt}">'
                f"<figcaption>{self.caption.html(out)}</figcaption></figure>")


@dataclass(frozen=True)
class Sources:
    texts: tuple

    def formulas(self) -> list:
        return []

    def html(self, out: Writer) -> str:
        links = [out.cite(t) for t in self.texts]  # numbered first, then listed in the order of their numbers
        ordered = [link for _, link in sorted(zip((out.references[source(t)[0]][0] for t in self.texts), links))]
        return '<p class="sources"><em>Sources:</em> ' + ", ".join(ordered) + ".</p>"


@dataclass(frozen=True)
class Table:
    """A table of prose cells (for blocks such as a shapes table or a worked example)."""

    caption: Prose
    header: tuple
    rows: tuple

    def formulas(self) -> list:
        found = self.caption.formulas()
        for cell in [*self.header, *(c for row in self.rows for c in row)]:
            found += cell.formulas()
        return found

    def html(self, out: Writer) -> str:
        head = "".join(f"<th>{c.html(out)}</th>" for c in self.header)
        body = "".join("<tr>" + "".join(f"<td>{c.html(out)}</td>" for c in row) + "</tr>" for row in self.rows)
        return (f'<table><caption>{self.caption.html(out)}</caption><thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>")


@dataclass
class Section:
    """A titled part of a page: a derivation, or a block a provider adds."""

    anchor: str
    number: str
    title: Prose
    blocks: list = field(default_factory=list)

    def formulas(self) -> list:
        found = self.title.formulas()
        for block in self.blocks:
            found += block.formulas()
        return found

    def html(self, out: Writer) -> str:
        body = "".join(block.html(out) for block in self.blocks)
        return (f'<section class="derivation" id="{self.anchor}"><h2><span class="number">{self.number}</span> '
                f"{self.title.html(out)}</h2>{body}</section>")


def derivation_section(entry: Entry, number: str, style: Style = DEFAULT_STYLE, figure_folder: str = "figures") -> Section:
    """One derivation as a page section: the blocks the notes show, in the notes' order."""
    d = entry.derivation
    where = f"derivation {d.slug!r}"
    blocks: list = []
    if entry.report is not None and not entry.verified:
        blocks.append(Notice(entry.problem()))
    if d.intro:
        blocks.append(Paragraph(Prose(d.intro, f"{where}, intro")))
    lhs = d.lhs_latex or to_latex(d.lhs, style)
    rows = []
    for n, (step, level) in enumerate(zip(d.steps, entry.step_levels()), start=1):
        at = f"{where}, step {n}"
        rows.append(StepRow(n, Math(f"= {step_latex(step, style)}", True, at), Prose(step.why, f"{at} (justification)"),
                            step.cite, level))
    alone = first_row_alone(lhs, step_latex(d.steps[0], style), NOTES_WIDTH / NOTES_POINT)
    blocks.append(Chain(Math(lhs, True, f"{where}, left-hand side"), tuple(rows), alone))
    if d.claims:
        items = []
        for n, (claim, level) in enumerate(zip(d.claims, entry.claim_levels()), start=1):
            at = f"{where}, claim {n}"
            formula = claim_formula(claim, style)
            items.append(ClaimItem(Prose(claim.statement, at), Math(formula, is_claim(claim), at) if formula else None,
                                   Prose(claim.why, f"{at} (why)") if claim.why else None, claim.cite, level))
        blocks.append(Claims(tuple(items)))
    if entry.result_level():
        blocks.append(Paragraph(Prose(f"{RESULT_WORDING}: {entry.result_level()}.", f"{where}, result"), "result"))
    for stem, caption in entry.figures:
        name = stem.rsplit("/", 1)[-1]
        blocks.append(FigureBlock(f"{figure_folder}/{name}.svg", Prose(caption, f"{where}, figure {name!r}")))
    if d.outro:
        blocks.append(Paragraph(Prose(d.outro, f"{where}, outro")))
    sources = citations(d)
    if sources:
        blocks.append(Sources(tuple(sources)))
    return Section(f"d-{d.slug}", number, Prose(d.title, f"{where}, title"), blocks)


@dataclass
class Page:
    """One topic: its file name, its number in the course, its sections."""

    file: str
    number: int
    topic: str
    sections: list

    def formulas(self) -> list:
        return [m for s in self.sections for m in s.formulas()]


TOPIC_BLOCKS: list = []


def register_topic_blocks(provider: Callable) -> Callable:
    """Add blocks to topic pages: ``provider(topic, entries)`` returns Sections placed after the derivations."""
    TOPIC_BLOCKS.append(provider)
    return provider


def topic_file(topic: str) -> str:
    """The page's file name, from the topic's words.

    >>> topic_file("Softmax and cross-entropy")
    'softmax-and-cross-entropy.html'
    """
    words = re.findall(r"[a-z0-9]+", plain_text(topic, ascii=True).lower())
    return ("-".join(words) or "topic") + ".html"


def course_pages(entries: list, style: Style = DEFAULT_STYLE) -> list:
    """The pages of a course: a topic each, in course order, numbered as the notes number sections."""
    topics: dict = {}
    for entry in entries:
        topics.setdefault(entry.derivation.topic, []).append(entry)
    pages, used = [], set()
    for number, (topic, members) in enumerate(topics.items(), start=1):
        file = topic_file(topic)
        if file in used:  # two topics with the same words: keep both pages
            file = file.replace(".html", f"-{number}.html")
        used.add(file)
        sections = [derivation_section(e, f"{number}.{n}", style) for n, e in enumerate(members, start=1)]
        for provider in TOPIC_BLOCKS:
            sections += provider(topic, members)
        pages.append(Page(file, number, topic, sections))
    return pages
