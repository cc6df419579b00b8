"""``symformer build``: verify a course, then write notes.tex, slides.tex, the handout, the figures and site/.

Verification goes through ``verify_many``, which caches verdicts by content hash, so a rebuild
re-verifies only what changed; figures are cached by content (see ``export.figures``), so a build
into a new folder copies them instead of drawing; files are written atomically and only when their
text changed; a PDF is recompiled only when its .tex changed or the PDF is missing. The documents
name every figure's key, so a redrawn figure changes its .tex. After compiling, every overfull
box in the logs is reported with the derivation and steps it belongs to. The library reports
through ``log``; it never prints.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from symformer.engine import cache as _cache
from symformer.errors import SymformerError, UsageError
from symformer.notation.printer import DEFAULT_STYLE, Style
from symformer.engine.report import format_failures
from symformer.engine.batch import default_jobs, verify_many
from symformer.engine.results import VerifyConfig
from symformer.export.beamer import slides_document, to_beamer
from symformer.export.bibliography import DEBIAN_PACKAGES as BIBLATEX_PACKAGES, Bibliography, backend as bibliography_backend
from symformer.export.compile import compile_tex, find_toolchain, missing_toolchain_message
from symformer.export.course import DEFAULT_TITLE, Entry, Lecture, prerequisites
from symformer.export.figures import FORMATS, export_figures
from symformer.export.notes import notes_document

MANIFEST = ".symformer-build.json"
DOCUMENTS = ("notes.tex", "slides.tex", "slides-handout.tex")
BIBLIOGRAPHY = "references.bib"


class UnverifiedDerivations(SymformerError):
    """A derivation failed verification and ``allow_unverified`` was not given."""


@dataclass
class BuildResult:
    """What a build made, and how long each phase took (seconds)."""

    folder: Path
    reports: list
    written: list = field(default_factory=list)  # files whose content changed
    pdfs: list = field(default_factory=list)
    toolchain: str | None = None
    unverified: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    site: Path | None = None  # the site's folder, None when it was not written
    overfull: list = field(default_factory=list)  # Overfull objects read from the LaTeX logs


@dataclass(frozen=True)
class Overfull:
    """One overfull box of a compiled document, and what produced it."""

    document: str
    points: float
    direction: str  # "wide" or "high"
    line: int
    where: str  # "derivation softmax-jacobian, steps 1-3", or the part of the document

    def __str__(self) -> str:
        return f"{self.document}, line {self.line}: a box {self.points:.1f} pt too {self.direction} in {self.where}"


_OVERFULL = re.compile(r"^Overfull \\[hv]box \((?P<points>[\d.]+)pt too (?P<direction>wide|high)\) "
                       r"(?:in paragraph at lines (?P<first>\d+)--\d+|detected at line (?P<line>\d+)|in alignment at lines (?P<align>\d+)--\d+)",
                       re.M)
_MARKER = re.compile(r"^% symformer: (.*)$")


def overfull_boxes(tex: Path) -> list:
    """Every overfull box the log of ``tex`` reports, each named by the ``% symformer:`` marker above its line.

    LaTeX reports a box in a beamer frame or an amsmath display at the line that ends it, so the
    marker names the derivation and the steps of that frame or display.

    >>> overfull_boxes(Path("no-such-document.tex"))
    []
    """
    log = Path(tex).with_suffix(".log")
    try:
        text = log.read_text(errors="replace")
        source = Path(tex).read_text(errors="replace").splitlines()
    except OSError:
        return []
    found = []
    for match in _OVERFULL.finditer(text):
        line = int(match.group("first") or match.group("line") or match.group("align"))
        where = "the front matter"
        for number in range(min(line, len(source)) - 1, -1, -1):
            marker = _MARKER.match(source[number])
            if marker:
                where = marker.group(1)
                break
        found.append(Overfull(Path(tex).name, float(match.group("points")), match.group("direction"), line, where))
    return found


def build(
    derivations: Sequence,
    folder,
    *,
    allow_unverified: bool = False,
    compile: bool = True,
    style: Style = DEFAULT_STYLE,
    config: VerifyConfig = VerifyConfig(),
    jobs: int | None = None,
    use_cache: bool = True,
    site: bool = True,
    title: str = DEFAULT_TITLE,
    author: str = "",
    institute: str = "",
    date: str = "",
    known: Sequence | None = None,
    progress: Callable | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> BuildResult:
    """Verify ``derivations`` and export them to ``folder``; see the module docstring.

    ``known`` holds every derivation a cross-reference may name (default: the built-in course and
    ``derivations``): those cited but not built are listed as the lecture's prerequisites.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"the output directory {folder} is a file; give a folder (it is created if missing)")
    if not derivations:
        raise UsageError("no derivations to build; a derivation is a module-level Derivation object in a .py file")
    timings = {}
    started = time.perf_counter()
    reports = verify_many(list(derivations), config, use_cache=use_cache, jobs=jobs, progress=progress)
    timings["verify"] = time.perf_counter() - started
    failed = [r for r in reports if not r["ok"]]
    if failed and not allow_unverified:
        names = ", ".join(r["slug"] for r in failed)
        raise UnverifiedDerivations(f"not exported, {len(failed)} derivation(s) failed verification: {names}\n"
                                    f"{format_failures(failed)}\n"
                                    "fix them, or build with --allow-unverified to export them marked NOT VERIFIED")
    result = BuildResult(folder, reports, unverified=[r["slug"] for r in failed])

    started = time.perf_counter()
    manifest = _read_manifest(folder)
    figures = folder / "figures"
    made, keys = export_figures(derivations, figures, fresh=lambda stem, key: manifest.get(stem) == key,
                                jobs=jobs if jobs is not None else default_jobs())
    manifest.update(keys)
    entries = [Entry(d, r, [(f"figures/{stem}", caption) for stem, caption in pairs])
               for d, r, pairs in zip(derivations, reports, made)]
    timings["figures"] = time.perf_counter() - started

    started = time.perf_counter()
    texts = _documents(entries, style, keys, dict(title=title, author=author, institute=institute, date=date),
                       _known(derivations, known), log)
    for name, text in texts.items():
        if _write_if_changed(folder / name, text):
            result.written.append(folder / name)
    _cache.write_atomically(folder / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
    timings["write"] = time.perf_counter() - started

    started = time.perf_counter()
    if compile:
        result.toolchain = find_toolchain()
        if result.toolchain is None:
            log(missing_toolchain_message())
        else:
            stale = []
            cited_changed = folder / BIBLIOGRAPHY in result.written
            for name in DOCUMENTS:
                tex = folder / name
                pdf = tex.with_suffix(".pdf")
                if pdf.is_file() and tex not in result.written and not cited_changed and pdf.stat().st_mtime_ns >= tex.stat().st_mtime_ns:
                    log(f"{pdf.name}: up to date")
                else:
                    log(f"compiling {name} with {result.toolchain}")
                    stale.append(tex)
                result.pdfs.append(pdf)
            # pdflatex is one process per document and mostly waits on itself: run the documents side by side
            with ThreadPoolExecutor(max_workers=max(1, min(len(stale), 3))) as pool:
                for future in [pool.submit(compile_tex, tex, result.toolchain) for tex in stale]:
                    future.result()
            for name in DOCUMENTS:
                result.overfull += overfull_boxes(folder / name)
            for box in result.overfull:
                log(f"overfull box: {box}")
    timings["compile"] = time.perf_counter() - started
    if site:
        from symformer.export.site import write_site

        started = time.perf_counter()
        changed = write_site(entries, folder / "site", title, style, figures=figures, log=log)
        if changed is not None:
            result.site = folder / "site"
            result.written += changed
        timings["site"] = time.perf_counter() - started
    result.timings = timings
    return result


def _known(derivations, known) -> dict:
    if known is None:
        from symformer.engine.catalog import discover

        known = discover().derivations
    table = {d.slug: d for d in known}
    table.update({d.slug: d for d in derivations if d.slug not in table})
    return table


def _documents(entries: list, style: Style, figure_keys: dict, front: dict, known: dict, log) -> dict:
    """The texts of the build: notes, slides, handout and, with biblatex, the bibliography they cite."""
    derivations = [e.derivation for e in entries]
    needed = prerequisites(derivations, known)
    chosen = bibliography_backend()
    if chosen != "biblatex":
        log("biber or biblatex is missing, so the references are typeset without them; on Debian or Ubuntu: "
            "apt-get install " + " ".join(BIBLATEX_PACKAGES))
    lectures = {target: Lecture(entries, style=style, prerequisites=needed, bibliography=Bibliography(chosen),
                                known=known, target=target, **front) for target in ("notes", "slides")}
    frames = [to_beamer(e, style, lectures["slides"]) for e in entries]  # the same frames serve slides and handout
    texts = {
        "notes.tex": notes_document(entries, style=style, lecture=lectures["notes"]),
        "slides.tex": slides_document(entries, handout=False, style=style, frames=frames, lecture=lectures["slides"]),
        "slides-handout.tex": slides_document(entries, handout=True, style=style, frames=frames, lecture=lectures["slides"]),
    }
    # a redrawn figure must recompile the documents that show it: its key is part of their text
    stamp = "".join(f"% figure {stem}: {key[:16]}\n" for stem, key in sorted(figure_keys.items()))
    texts = {name: text + stamp for name, text in texts.items()}
    if chosen == "biblatex":
        cited = {**lectures["notes"].bibliography.cited, **lectures["slides"].bibliography.cited}
        texts[BIBLIOGRAPHY] = Bibliography(chosen, cited).bibtex()
    return texts


def _write_if_changed(path: Path, text: str) -> bool:
    try:
        if path.read_text() == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    _cache.write_atomically(path, text)
    return True


def _read_manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        return manifest if isinstance(manifest, dict) else {}
    except (OSError, ValueError):
        return {}


__all__ = ["BuildResult", "DOCUMENTS", "FORMATS", "Overfull", "UnverifiedDerivations", "build", "overfull_boxes"]
