"""The course as a static website: ``site/index.html`` and a page per topic, mathematics typeset at build time.

:func:`write_site` builds the page model (:mod:`.page`), typesets every formula in one KaTeX run
(:mod:`.katex`), and only then writes anything, so a formula KaTeX rejects leaves the previous site
untouched. Files are written only when their bytes changed (each atomically); files of an earlier
build that the site no longer has, and temporaries a killed build left, are removed. The pages reveal each derivation a step at a time with our own
small script (``assets/site.js``) and print every step (``assets/site.css``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Callable

from symformer.engine.cache import write_atomically
from symformer.notation.printer import DEFAULT_STYLE, Style
from symformer.export.site import katex as _katex
from symformer.export.site.html import index_html, topic_html
from symformer.export.site.katex import INSTALL, Katex, KatexError, SiteError, find_katex, missing_katex_message
from symformer.export.site.page import (Math, Page, Prose, Section, Table, course_pages, derivation_section,
                                        register_topic_blocks)

#: The kinds of file a site holds; anything else in ``site/`` is left alone.
OWNED = (".html", ".css", ".js", ".woff2", ".svg")


def write_site(entries: list, folder, title: str = "The mathematics of transformers", style: Style = DEFAULT_STYLE,
               figures: Path | None = None, katex: Katex | None = None,
               log: Callable[[str], None] = lambda message: None) -> list | None:
    """Write the site of ``entries`` into ``folder``; return the files whose content changed, or None without KaTeX.

    ``figures`` is the folder holding the figures' SVG files (the build's ``figures/``).

    Without Node.js or KaTeX it logs one line saying what to install and writes nothing:

    >>> "npm install -g katex@0.19.1" in missing_katex_message()
    True
    """
    folder = Path(folder)
    katex = katex or find_katex()
    if katex is None:
        log(missing_katex_message())
        return None
    pages = course_pages(entries, style)
    formulas = [m for page in pages for m in Prose(page.topic, f"topic {page.topic!r}").formulas() + page.formulas()]
    typeset = _typeset(katex, formulas)
    version = katex.version
    files: dict = {"index.html": index_html(pages, title, typeset, version, _summary(entries))}
    for page in pages:
        files[page.file] = topic_html(page, pages, title, typeset, version)
    files["assets/site.css"] = _asset("site.css")
    files["assets/site.js"] = _asset("site.js")
    files["katex/katex.min.css"] = _katex.stylesheet(katex)
    files.update({f"katex/fonts/{name}": data for name, data in _katex.fonts(katex).items()})
    for entry in entries:
        for stem, _ in entry.figures:
            name = stem.rsplit("/", 1)[-1] + ".svg"
            source = Path(figures or folder.parent / "figures") / name
            try:
                files[f"figures/{name}"] = source.read_bytes()
            except OSError:
                raise SiteError(f"derivation {entry.derivation.slug!r}: the figure {source} is missing; "
                                f"build again so it is drawn") from None
    written = [folder / name for name, content in files.items() if _write_if_changed(folder / name, content)]
    for path in folder.rglob("*"):
        unfinished = path.name.startswith(".") and path.suffix == ".tmp"  # left by a build that was killed
        stale = path.suffix in OWNED and path.relative_to(folder).as_posix() not in files
        if path.is_file() and (unfinished or stale):
            path.unlink()
    return written


def _typeset(katex: Katex, formulas: list) -> dict:
    """Every distinct formula typeset once; the first formula KaTeX rejects fails the build, naming where it is."""
    first: dict = {}
    for formula in formulas:
        first.setdefault((formula.tex, formula.display), formula)
    keys = list(first)
    results = _katex.render(katex, keys)
    failures = [(first[key], message) for key, (kind, message) in zip(keys, results) if kind == "error"]
    if failures:
        formula, message = failures[0]
        more = f" ({len(failures) - 1} more formulas failed too)" if len(failures) > 1 else ""
        raise KatexError(f"{formula.where}: KaTeX cannot typeset {formula.tex!r} ({message}); "
                         f"write LaTeX KaTeX supports there (site not written){more}")
    return {key: text for key, (kind, text) in zip(keys, results)}


def _summary(entries: list) -> str:
    verified = sum(1 for e in entries if e.verified)
    topics = len({e.derivation.topic for e in entries})
    steps = sum(len(e.derivation.steps) for e in entries)
    return (f"{topics} topics, {len(entries)} derivations, {steps} steps; "
            f"{verified} of {len(entries)} derivations verified.")


def _asset(name: str) -> str:
    return resources.files("symformer.export.site").joinpath("assets", name).read_text()


def _write_if_changed(path: Path, content) -> bool:
    data = content.encode() if isinstance(content, str) else content
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    write_atomically(path, data)
    return True


__all__ = ["INSTALL", "Katex", "KatexError", "Math", "Page", "Prose", "Section", "SiteError", "Table", "course_pages",
           "derivation_section", "find_katex", "missing_katex_message", "register_topic_blocks", "write_site"]
