r"""Citations: the course's BibTeX file, what a derivation's ``cite`` strings point to, and how they print.

A ``cite`` string is ``"KEY"`` or ``"KEY, place"`` with KEY an entry of ``references.bib`` (shipped
in this package): ``"vaswani2017attention, eq. 1"`` prints as (Vaswani et al. 2017, eq. 1) in one
author-year style everywhere. A string that names no entry (an instructor's free text, such as
``"Knuth 1968, section 1.2.3"``) becomes an entry of its own whose label is that text.
``"derivation SLUG"`` is not a source but a cross-reference, printed as a section number.

With biber and biblatex installed (Debian: ``biber``, ``texlive-bibtex-extra``) the documents use
``\parencite`` and ``\printbibliography``; without them the same labels and the same list are
typeset by this module, so a document compiles either way.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from symformer.errors import SymformerError
from symformer.notation.escape import escape_text

REFERENCES = Path(__file__).resolve().parent / "references.bib"
CROSS_REFERENCE = re.compile(r"^derivations? ")
#: What provides biblatex and biber on Debian and Ubuntu.
DEBIAN_PACKAGES = ("biber", "texlive-bibtex-extra")


@dataclass(frozen=True)
class Reference:
    """One BibTeX entry: its type, key and fields (values as written in the file)."""

    kind: str
    key: str
    fields: dict

    @property
    def surnames(self) -> list:
        names = [n.strip() for n in re.split(r"\s+and\s+", self.fields.get("author", "")) if n.strip()]
        return [_plain(n.split(",")[0] if "," in n else n.split()[-1]) for n in names]

    @property
    def year(self) -> str:
        return self.fields.get("year", "n.d.")

    @property
    def label(self) -> str:
        """Author and year as a citation prints them.

        >>> references()["press2017using"].label
        'Press and Wolf 2017'
        """
        if "shorthand" in self.fields:
            return _plain(self.fields["shorthand"])
        names = self.surnames
        who = names[0] if len(names) == 1 else (f"{names[0]} and {names[1]}" if len(names) == 2 else f"{names[0]} et al.")
        return f"{who} {self.year}".strip()

    def text(self) -> str:
        """The entry as one line of plain text: authors, year, title, venue, pages, arXiv or DOI, URL.

        >>> references()["ba2016layer"].text()
        'Ba, J. L., Kiros, J. R. and Hinton, G. E. (2016). Layer Normalization. arXiv:1607.06450.'
        """
        f = self.fields
        parts = []
        if "author" in f:
            parts.append(f"{_authors(f['author'])} ({self.year}).")
        parts.append(_plain(f.get("title", self.key)) + ".")
        venue = f.get("booktitle") or f.get("journaltitle") or f.get("journal") or f.get("organization")
        if venue:
            parts.append(("In " if "booktitle" in f else "") + _plain(venue) + (f", pp. {f['pages'].replace('--', '–')}" if "pages" in f else "") + ".")
        if "eprint" in f:
            parts.append(f"arXiv:{f['eprint']}.")
        if "doi" in f:
            parts.append(f"doi:{f['doi']}.")
        if "url" in f and "eprint" not in f and "doi" not in f:
            parts.append(f["url"])
        return " ".join(parts)

    def bibtex(self) -> str:
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in self.fields.items())
        return f"@{self.kind}{{{self.key},\n{body},\n}}\n"


def _plain(value: str) -> str:
    """A BibTeX value without its protecting braces and with its few accent commands spelled out."""
    value = value.replace(r"{\L}", "Ł").replace(r"{\'e}", "é").replace(r"\'e", "é").replace(r"\_", "_")
    value = value.replace("``", "\u201c").replace("''", "\u201d")
    return re.sub(r"\s+", " ", value.replace("{", "").replace("}", "")).strip()


def _authors(field_value: str) -> str:
    names = [n.strip() for n in re.split(r"\s+and\s+", field_value) if n.strip()]
    out = []
    for name in names:
        if name.startswith("{") and name.endswith("}"):
            out.append(_plain(name))
            continue
        last, _, first = name.partition(",")
        initials = " ".join(part[0] + "." for part in _plain(first).replace("-", " -").split() if part[0].isalpha())
        out.append(f"{_plain(last)}, {initials}".rstrip(", "))
    return ", ".join(out[:-1]) + " and " + out[-1] if len(out) > 1 else (out[0] if out else "")


_ENTRY = re.compile(r"@(\w+)\s*\{\s*([^,\s]+)\s*,", re.S)


def parse_bibtex(text: str) -> dict:
    r"""The entries of a BibTeX file by key (braced values; comments before an entry are skipped).

    >>> parse_bibtex("@misc{k, title = {A {B} c}, year = {2020}}")["k"].fields
    {'title': 'A {B} c', 'year': '2020'}
    """
    entries = {}
    for match in _ENTRY.finditer(text):
        kind, key, at = match.group(1).lower(), match.group(2), match.end()
        fields = {}
        while True:
            name = re.match(r"\s*(\w+)\s*=\s*\{", text[at:])
            if not name:
                break
            start = at + name.end()
            depth, position = 1, start
            while depth and position < len(text):
                depth += {"{": 1, "}": -1}.get(text[position], 0)
                position += 1
            fields[name.group(1).lower()] = re.sub(r"\s+", " ", text[start:position - 1]).strip()
            at = position
            comma = re.match(r"\s*,", text[at:])
            if comma:
                at += comma.end()
        entries[key] = Reference(kind, key, fields)
    return entries


@lru_cache(maxsize=1)
def references() -> dict:
    """The entries of the shipped ``references.bib``, by key.

    >>> references()["vaswani2017attention"].label
    'Vaswani et al. 2017'
    """
    try:
        return parse_bibtex(REFERENCES.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SymformerError(f"the course's bibliography {REFERENCES} cannot be read ({exc}); reinstall symformer") from None


@dataclass(frozen=True)
class Citation:
    """What one ``cite`` string points to: an entry (known or made from free text) and a place in it."""

    key: str
    place: str = ""

    @staticmethod
    def parse(text: str) -> "Citation":
        """Split ``"KEY, place"``; a string that is no known key is a source of its own.

        >>> Citation.parse("vaswani2017attention, eq. 1")
        Citation(key='vaswani2017attention', place='eq. 1')
        >>> Citation.parse("Knuth 1968, section 1.2.3").key
        'knuth-1968-section-1-19563a13'
        """
        head, _, place = text.partition(",")
        if head.strip() in references():
            return Citation(head.strip(), place.strip())
        return Citation(free_text_key(text))


def free_text_key(text: str) -> str:
    """A key for a free-text citation: readable, stable, and distinct for distinct texts.

    >>> free_text_key("Dao et al. 2022, FlashAttention, appendix B.2")
    'dao-et-al-2022-60d65c72'
    """
    words = re.findall(r"[A-Za-z0-9]+", text)
    return "-".join(words[:4]).lower() + f"-{zlib.crc32(text.encode()):08x}"


def is_cross_reference(text: str) -> bool:
    """Whether a ``cite`` string points at another derivation rather than at a source.

    >>> is_cross_reference("derivation softmax-jacobian"), is_cross_reference("ba2016layer")
    (True, False)
    """
    return bool(CROSS_REFERENCE.match(text))


@lru_cache(maxsize=1)
def biblatex_available() -> bool:
    """Whether biber runs, LaTeX finds biblatex.sty and latexmk is there to run biber between the
    pdflatex passes (then the documents use biblatex).

    >>> biblatex_available() in (True, False)
    True
    """
    if shutil.which("biber") is None or shutil.which("kpsewhich") is None or shutil.which("latexmk") is None:
        return False
    try:
        found = subprocess.run(["kpsewhich", "biblatex.sty"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(found.stdout.strip())


@dataclass
class Bibliography:
    """The sources one document cites, in order of first citation, and how to print them.

    ``backend`` is ``"biblatex"`` (``\\parencite``, ``\\printbibliography``, compiled with biber) or
    ``"plain"`` (labels and list typeset here).

    >>> bib = Bibliography("plain")
    >>> bib.cite("press2017using")
    '(\\\\hyperlink{ref:press2017using}{Press and Wolf 2017})'
    """

    backend: str = "biblatex"
    cited: dict = field(default_factory=dict)  # key -> Reference

    def _entry(self, text: str) -> Citation:
        citation = Citation.parse(text)
        if citation.key not in self.cited:
            known = references().get(citation.key)
            if known is None:
                label = re.sub(r"[{}\\]", "", text).strip()
                known = Reference("misc", citation.key, {"title": label, "shorthand": label})
            self.cited[citation.key] = known
        return citation

    def cite(self, texts, mode: str = "paren") -> str:
        r"""LaTeX citing ``texts`` (one string or several), author-year: ``mode`` "paren" gives
        (Vaswani et al. 2017, eq. 1), "text" gives Vaswani et al. (2017)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        citations = [self._entry(t) for t in texts]
        if self.backend == "biblatex":
            command = r"\parencites" if mode == "paren" else r"\textcites"
            if len(citations) == 1:
                command = command[:-1]
            return command + "".join((f"[{_place(c.place)}]" if c.place else "") + f"{{{c.key}}}" for c in citations)
        pieces = []
        for c in citations:
            reference = self.cited[c.key]
            label = escape_text(reference.label) + (f", {_place(c.place)}" if c.place else "")
            pieces.append(rf"\hyperlink{{ref:{c.key}}}{{{label}}}")
        return "(" + "; ".join(pieces) + ")"

    def bibtex(self) -> str:
        """The cited entries as a .bib file (known entries as shipped, free-text ones made up)."""
        return "".join(reference.bibtex() + "\n" for reference in self.cited.values())

    def preamble(self, resource: str = "references.bib") -> str:
        if self.backend == "biblatex":
            return ("\\usepackage[backend=biber,style=authoryear,maxcitenames=2,maxbibnames=10,uniquename=false,"
                    "uniquelist=false,dashed=false,doi=true,eprint=true,url=true,isbn=false]{biblatex}\n"
                    f"\\addbibresource{{{resource}}}\n")
        return ""

    def printed(self, heading: str = "References") -> str:
        """The reference list (biblatex's, or typeset here in the same order of first citation)."""
        if not self.cited:
            return ""
        if self.backend == "biblatex":
            return rf"\printbibliography[heading=bibintoc,title={{{heading}}}]" if heading else r"\printbibliography[heading=none]"
        items = "\n".join(rf"\item[] \hypertarget{{ref:{key}}}{{}}{escape_text(reference.text())}"
                          for key, reference in sorted(self.cited.items(), key=lambda kv: kv[1].label))
        title = rf"\section*{{{heading}}}\addcontentsline{{toc}}{{section}}{{{heading}}}" + "\n" if heading else ""
        return title + r"\begin{list}{}{\leftmargin=1.5em\itemindent=-1.5em\itemsep=2pt\small}" + "\n" + items + "\n" + r"\end{list}"


def _place(place: str) -> str:
    """A place in a source for LaTeX: 'eq. 1' keeps its space unbreakable."""
    return re.sub(r"\b(eq|eqs|sec|section|appendix|algorithm|line|footnote|chapter)\.? (\S)",
                  lambda m: m.group(0).replace(" ", "~"), escape_text(place))


def backend() -> str:
    """``"biblatex"`` where biber, biblatex and latexmk are installed, else ``"plain"``.

    >>> backend() in ("biblatex", "plain")
    True
    """
    return "biblatex" if biblatex_available() else "plain"
