r"""What every exporter reads: a derivation with its verdict and figures, and the lecture they form.

An :class:`Entry` is one derivation as exported. A :class:`Lecture` is the document around the
entries: title page, topics in course order, section numbers, the derivations it cites but does not
hold (its prerequisites), and its bibliography. Prose goes through :meth:`Lecture.prose`, which
escapes it and turns "derivation SLUG" into a section number, so no page prints a slug.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from symformer.engine.model import Claim, Derivation
from symformer.export.bibliography import Bibliography, is_cross_reference
from symformer.notation.escape import escape_text
from symformer.notation.levels import level_latex, level_strength
from symformer.notation.layout import width
from symformer.notation.printer import DEFAULT_STYLE, Style, step_latex, to_latex

DEFAULT_TITLE = "The mathematics of transformers"
_SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)+"
_MENTION = re.compile(rf"\b(derivations?) ({_SLUG}(?:(?:, | and |, and ){_SLUG})*)")
_BARE_SLUG = re.compile(_SLUG)


@dataclass
class Entry:
    """One derivation as exported: its verification report dict and the figure files made for it.

    ``figures`` holds ``(stem, caption)`` pairs, ``stem`` relative to the build folder without the
    extension (``figures/softmax-jacobian-eigenvalues``), so notes and slides pick .pdf or .png.
    """

    derivation: Derivation
    report: dict | None = None
    figures: list = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return bool(self.report) and bool(self.report.get("ok"))

    def step_levels(self) -> list:
        """One proof level per step, in the words of the report ("proved for all n", ...)."""
        return [c["level"] for c in self._checks("step")] or [None] * len(self.derivation.steps)

    def claim_levels(self) -> list:
        checks = self._checks("claim")
        return [c["level"] for c in checks] if len(checks) == len(self.derivation.claims) else [None] * len(self.derivation.claims)

    def result_level(self) -> str | None:
        checks = self._checks("result")
        return checks[0]["level"] if checks else None

    def chain_levels(self) -> list:
        """The distinct levels of the steps, weakest first: what a summary may say of the whole chain."""
        levels = [level for level in self.step_levels() if level]
        return sorted(dict.fromkeys(levels), key=level_strength)

    def problem(self) -> str:
        """Why the derivation is not verified, for the visible mark in the PDF."""
        if self.report is None:
            return "not verified"
        if self.report.get("error"):
            return self.report["error"]
        failed = [c["label"] for c in self.report["checks"] if not c["ok"]]
        return "failed: " + ", ".join(failed) if failed else ""

    def _checks(self, kind: str) -> list:
        if not self.report:
            return []
        return [c for c in self.report.get("checks", []) if c["kind"] == kind]


def citations(derivation: Derivation) -> list:
    """Every source the derivation names, in order of first mention, without repeats (no cross-references)."""
    found = list(derivation.cite)
    found += [s.cite for s in derivation.steps if s.cite]
    found += [c.cite for c in derivation.claims if getattr(c, "cite", None)]
    return [text for text in dict.fromkeys(found) if not is_cross_reference(text)]


def mentioned_slugs(derivation: Derivation) -> list:
    """The slugs of the derivations this one refers to ("derivation softmax-jacobian"), in order.

    >>> from symformer import catalog
    >>> mentioned_slugs(catalog()["cross-entropy-gradient"])
    ['log-softmax-jacobian']
    """
    texts = [derivation.intro, derivation.outro, *(s.why for s in derivation.steps), *(s.cite or "" for s in derivation.steps)]
    texts += [getattr(c, "why", "") for c in derivation.claims] + list(derivation.cite)
    found = []
    for text in texts:
        for match in _MENTION.finditer(text or ""):
            found += _BARE_SLUG.findall(match.group(2))
    return [slug for slug in dict.fromkeys(found) if slug != derivation.slug]


def is_claim(item) -> bool:
    return isinstance(item, Claim)


def claim_formula(claim, style) -> str | None:
    """The LaTeX of what a claim states: its hand-written form, else lhs = rhs; None for a property without one."""
    if getattr(claim, "latex", None):
        return claim.latex
    if is_claim(claim):
        return f"{to_latex(claim.lhs, style)} = {to_latex(claim.rhs, style)}"
    return None


@dataclass
class Lecture:
    """The entries of one document and what surrounds them.

    ``known`` maps every slug the reader may meet (the whole course) to its derivation, so a
    reference to a derivation outside this document prints its title. ``target`` is ``"notes"``
    (cross-references by ``\\ref``) or ``"slides"`` (by the number, which beamer cannot ``\\ref``).

    >>> lecture = Lecture([])
    >>> lecture.prose("50% of $p_i$")
    '50\\\\% of $p_i$'
    """

    entries: list
    style: Style = DEFAULT_STYLE
    title: str = DEFAULT_TITLE
    author: str = ""
    institute: str = ""
    date: str = ""
    prerequisites: list = field(default_factory=list)
    bibliography: Bibliography = field(default_factory=Bibliography)
    known: dict = field(default_factory=dict)
    target: str = "notes"

    def topics(self) -> list:
        """``(topic, entries)`` pairs in course order; a topic's entries stay together."""
        topics: dict = {}
        for entry in self.entries:
            topics.setdefault(entry.derivation.topic, []).append(entry)
        return list(topics.items())

    @property
    def numbers(self) -> dict:
        """Slug -> section number ("4.1"), as the notes number topics and derivations."""
        numbers = {}
        for t, (_, members) in enumerate(self.topics(), start=1):
            for k, entry in enumerate(members, start=1):
                numbers[entry.derivation.slug] = f"{t}.{k}"
        return numbers

    def reference(self, slug: str) -> str:
        """How this document points at derivation ``slug``."""
        numbers = self.numbers
        if slug in numbers:
            return rf"\ref{{d:{slug}}}" if self.target == "notes" else numbers[slug]
        if slug in self.known:
            return rf"\emph{{{escape_text(self.known[slug].title)}}}"
        return escape_text(slug)

    def prose(self, text: str) -> str:
        """Escaped prose with every "derivation SLUG" turned into "Section 4.1" (or the title, when absent)."""
        escaped = escape_text(text or "")

        def replace(match):
            slugs = _BARE_SLUG.findall(match.group(2))
            inside = [s for s in slugs if s in self.numbers]
            word = ("Section" if len(slugs) == 1 else "Sections") if len(inside) == len(slugs) else match.group(1)
            joined = match.group(2)
            for slug in slugs:
                joined = re.sub(rf"\b{re.escape(slug)}\b", lambda _m, s=slug: self.reference(s), joined, count=1)
            return f"{word}~{joined}"

        return _MENTION.sub(replace, escaped)

    def cite(self, text: str | None) -> str:
        """A citation (author-year, in parentheses) or, for "derivation SLUG", a cross-reference."""
        if not text:
            return ""
        if is_cross_reference(text):
            return "(" + self.prose(text) + ")"
        return self.bibliography.cite(text)

    def sources(self, derivation) -> str:
        texts = citations(derivation)
        return self.bibliography.cite(texts) if texts else ""

    def level(self, level: str | None) -> str:
        return level_latex(level, self.style)

    def prerequisite_slugs(self) -> list:
        return [d.slug for d in self.prerequisites]


def prerequisites(derivations, known: dict) -> list:
    """The derivations that ``derivations`` refer to but do not include, in course order.

    >>> prerequisites([], {})
    []
    """
    chosen = {d.slug for d in derivations}
    found = []
    for derivation in derivations:
        for slug in mentioned_slugs(derivation):
            if slug not in chosen and slug in known and all(slug != f.slug for f in found):
                found.append(known[slug])
    order = list(known)
    return sorted(found, key=lambda d: order.index(d.slug))


def prerequisite_items(lecture, style, available: float) -> list:
    r"""One ``\item`` per result the lecture uses but does not derive: its title, and its formula when
    that fits ``available`` points (notes and slides differ only in the width)."""
    items = []
    for d in lecture.prerequisites:
        formula = f"{d.lhs_latex or to_latex(d.lhs, style)} = {step_latex(d.steps[-1], style)}"
        item = rf"\item {escape_text(d.title)}"
        if width(formula) <= available:
            item += rf": ${formula}$"
        items.append(item)
    return items
