"""``symformer build``: verify a course, then write notes.tex, slides.tex, the handout, the figures and site/.

Verification goes through ``verify_many``, which caches verdicts by content hash, so a rebuild
re-verifies only what changed; figures are cached by content (see ``export.figures``), so a build
into a new folder copies them instead of drawing; files are written atomically and only when their
text changed. The documents name every figure's key, so a redrawn figure changes its .tex. After
compiling, every overfull box in the logs is reported with the derivation and steps it belongs to.
The library reports through ``log``; it never prints.

Interruptions and concurrency: one build at a time writes into a folder (a lock on
``.symformer-build.lock``; a second build waits up to ``wait`` seconds, then refuses). PDFs are
compiled in private folders and moved into place only after they validated (see ``compile.py``).
The manifest (``.symformer-build.json``) records each validated PDF with the cache key of its
inputs and toolchain (the .tex, the figures and bibliography it includes, the LaTeX programs'
versions), the TeX installation's files it read, and the digest of its own bytes; a PDF is up to
date only when all of these still match, so a PDF that is missing, damaged or replaced, or was made
with a TeX package since updated, is compiled again. A PDF that is not up to date is copied from the cache of compiled PDFs when that
holds a valid one of the same inputs and toolchain (see ``pdf_cache.py``), else compiled and kept
there. Files left by a killed build (private compile folders, half-written temporaries) are removed
by the next one. A folder nothing has to be written to may be read-only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from symformer._files import remove_unfinished, write_atomically
from symformer.errors import OutputError, SymformerError, UsageError
from symformer.notation.printer import DEFAULT_STYLE, Style
from symformer.engine.report import format_failures
from symformer.engine.batch import default_jobs, verify_many
from symformer.engine.results import VerifyConfig
from symformer.export.beamer import slides_document, to_beamer
from symformer.export.bibliography import DEBIAN_PACKAGES as BIBLATEX_PACKAGES, Bibliography, backend as bibliography_backend
from symformer.export.compile import (LatexCompileError, compile_tex, find_toolchain, included_files,
                                      missing_toolchain_message, remove_leftovers)
from symformer.export.course import DEFAULT_TITLE, Entry, Lecture, prerequisites
from symformer.export.figures import FORMATS, export_figures
from symformer.export.notes import notes_document
from symformer.export.pdf_cache import (
    fetch as fetch_cached_pdf, installation_files, installation_unchanged, pdf_key, store as store_pdf,
)

MANIFEST = ".symformer-build.json"
LOCK = ".symformer-build.lock"
DOCUMENTS = ("notes.tex", "slides.tex", "slides-handout.tex")
BIBLIOGRAPHY = "references.bib"
#: How long a build waits for another build into the same folder before it refuses.
WAIT_SECONDS = 600.0


class UnverifiedDerivations(SymformerError):
    """A derivation failed verification and ``allow_unverified`` was not given."""


class FolderBusy(SymformerError):
    """Another build kept the output folder locked for longer than the build would wait."""


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
        where = marker_above(source, line) or "the front matter"
        found.append(Overfull(Path(tex).name, float(match.group("points")), match.group("direction"), line, where))
    return found


def marker_above(source: list, line: int) -> str | None:
    """What the ``% symformer:`` marker nearest above ``line`` (1-based) of ``source`` names, if any.

    >>> marker_above(["% symformer: derivation double-sum, steps 1-2", r"\\begin{align*}", "x"], 3)
    'derivation double-sum, steps 1-2'
    """
    for number in range(min(line, len(source)) - 1, -1, -1):
        marker = _MARKER.match(source[number])
        if marker:
            return marker.group(1)
    return None


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
    wait: float = WAIT_SECONDS,
) -> BuildResult:
    """Verify ``derivations`` and export them to ``folder``; see the module docstring.

    ``known`` holds every derivation a cross-reference may name (default: the built-in course and
    ``derivations``): those cited but not built are listed as the lecture's prerequisites.
    ``title``, ``author``, ``institute`` and ``date`` are plain text: the PDFs and the site print
    them as typed, ``$`` and ``&`` included. ``wait`` is how many seconds to wait for another
    build into ``folder`` to finish.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"the output directory {folder} is a file; give a folder (it is created if missing)")
    derivations = list(derivations)
    if not derivations:
        raise UsageError("no derivations to build; a derivation is a module-level Derivation object in a .py file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError.from_os_error(folder, exc, "create the output folder") from None
    with _folder_lock(folder, wait, log):
        for place in (folder, folder / "figures"):
            remove_unfinished(place)
        remove_leftovers(folder)
        return _build(derivations, folder, allow_unverified=allow_unverified, compile=compile, style=style,
                      config=config, jobs=jobs, use_cache=use_cache, site=site, title=title, author=author,
                      institute=institute, date=date, known=known, progress=progress, log=log)


def _build(derivations, folder: Path, *, allow_unverified, compile, style, config, jobs, use_cache, site, title,
           author, institute, date, known, progress, log) -> BuildResult:
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
    front = {name: _as_text(value) for name, value in
             dict(title=title, author=author, institute=institute, date=date).items()}
    texts = _documents(entries, style, keys, front, _known(derivations, known), log)
    for name, text in texts.items():
        if _write_if_changed(folder / name, text):
            result.written.append(folder / name)
    _write_manifest(folder, manifest)
    timings["write"] = time.perf_counter() - started

    started = time.perf_counter()
    if compile:
        result.toolchain = find_toolchain()
        if result.toolchain is None:
            log(missing_toolchain_message())
        else:
            result.pdfs = _compile(folder, {name: texts[name] for name in DOCUMENTS}, manifest, result.toolchain, log)
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


def _as_text(text: str) -> str:
    r"""Plain text for the LaTeX exporters' title page: they read ``$...$`` as mathematics, here ``$`` is a dollar.

    The exporters escape every other special character; each dollar becomes a one-symbol span.

    >>> _as_text("Prices $5 & $6")
    'Prices $\\text{\\textdollar}$5 & $\\text{\\textdollar}$6'
    """
    return text.replace("$", r"$\text{\textdollar}$")


def _compile(folder: Path, texts: dict, manifest: dict, tool: str, log) -> list:
    """Compile the documents whose PDF is not recorded as up to date, side by side; return every PDF path."""
    pdfs, stale = [], []
    for name, text in texts.items():
        tex = folder / name
        pdf = tex.with_suffix(".pdf")
        resources = included_files(text, folder)
        inputs = _inputs_digest(folder, text, resources)
        key = pdf_key(inputs, tool)
        if _is_recorded(manifest.get(pdf.name), pdf, key):
            log(f"{pdf.name}: up to date")
        elif (copied := _copy_cached(pdf, key)) is not None:
            log(f"{pdf.name}: copied from the cache")
            manifest[pdf.name] = {"key": key, "sha256": _digest(pdf), "tex_inputs": copied}
        else:
            log(f"compiling {name} with {tool}")
            stale.append((tex, key, resources))
        pdfs.append(pdf)
    if not stale:
        _write_manifest(folder, manifest)
        return pdfs
    cancel = threading.Event()
    failures = []
    try:
        # pdflatex is one process per document and mostly waits on itself: run the documents side by side
        with ThreadPoolExecutor(max_workers=min(len(stale), 3)) as pool:
            futures = [(pool.submit(compile_tex, tex, tool, resources=resources, locate=_locator(texts[tex.name]),
                                    cancel=cancel), tex, key) for tex, key, resources in stale]
            try:
                for future, tex, key in futures:
                    try:
                        pdf = future.result()
                    except LatexCompileError as exc:
                        failures.append(exc)
                        continue
                    manifest[pdf.name] = {"key": key, "sha256": _digest(pdf),
                                          "tex_inputs": installation_files(pdf.with_suffix(".fls"))}
                    store_pdf(key, pdf)
            except BaseException:  # interrupted: stop the other compiles before the pool waits for them
                cancel.set()
                raise
    finally:
        _write_manifest(folder, manifest)
    if len(failures) > 1:
        others = ", ".join(str(e).split(" ", 1)[0] for e in failures[1:])
        raise LatexCompileError(f"{failures[0]}\n{others} did not compile either; their logs are beside them")
    if failures:
        raise failures[0]
    return pdfs


def _copy_cached(pdf: Path, key: str) -> dict | None:
    """The TeX files a validated cached PDF of ``key`` was compiled with, once it is copied to ``pdf``; else None."""
    try:
        return fetch_cached_pdf(key, pdf)
    except OSError as exc:
        raise OutputError.from_os_error(pdf, exc) from None


def _inputs_digest(folder: Path, text: str, resources: list) -> str:
    """The digest of what a PDF is made of: the .tex and each file it includes."""
    digest = hashlib.sha256(text.encode())
    for name in resources:
        digest.update(b"\0" + name.encode() + b"\0")
        try:
            digest.update(_digest(folder / name).encode())
        except OSError:
            digest.update(b"missing")
    return digest.hexdigest()


def _digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _is_recorded(entry, pdf: Path, key: str) -> bool:
    """Whether the manifest records ``pdf`` as validated from these inputs with this toolchain, the TeX
    installation's files it read are unchanged, and the file is still that PDF."""
    if not isinstance(entry, dict) or entry.get("key") != key or not installation_unchanged(entry.get("tex_inputs")):
        return False
    try:
        return _digest(pdf) == entry.get("sha256")
    except OSError:
        return False


def _locator(text: str) -> Callable[[int], str | None]:
    """For error messages: the derivation (and steps) a line of ``text`` belongs to, from its markers."""
    lines = text.splitlines()
    return lambda line: marker_above(lines, line)


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
    _write(path, text)
    return True


def _write(path: Path, text: str) -> None:
    try:
        write_atomically(path, text)
    except OSError as exc:
        raise OutputError.from_os_error(path, exc) from None


def _write_manifest(folder: Path, manifest: dict) -> None:
    # only when it changed, so an unchanged build needs no write access to its folder
    _write_if_changed(folder / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))


def _read_manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        return manifest if isinstance(manifest, dict) else {}
    except (OSError, ValueError):
        return {}


_HELD_LOCKS: set = set()


def _close_locks_in_child() -> None:
    # a forked worker must not keep the folder locked after the build that forked it is gone
    for descriptor in list(_HELD_LOCKS):
        try:
            os.close(descriptor)
        except OSError:
            pass
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_locks_in_child)


@contextmanager
def _folder_lock(folder: Path, wait: float, log):
    """Hold the folder's build lock: wait for another build up to ``wait`` seconds, then refuse."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): builds are not serialised
        yield
        return
    path = folder / LOCK
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        writable = True
    except OSError as exc:
        try:  # a folder we may not write to: an unchanged build needs no writes, and a lock can be read-only
            descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            writable = False
        except OSError:
            raise OutputError.from_os_error(folder, exc, "write into the output folder") from None
    _HELD_LOCKS.add(descriptor)
    try:
        if not _try_lock(fcntl, descriptor):
            holder = _holder(descriptor)
            log(f"waiting for another build into {folder}{holder} to finish (at most {wait:g} s)")
            deadline = time.monotonic() + wait
            while not _try_lock(fcntl, descriptor):
                if time.monotonic() >= deadline:
                    raise FolderBusy(f"another build into {folder}{holder} is still running after {wait:g} s; "
                                     "let it finish and build again, or build into another folder")
                time.sleep(0.1)
        if writable:  # who holds it, for the message of a build that waits
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        _HELD_LOCKS.discard(descriptor)
        os.close(descriptor)


def _try_lock(fcntl, descriptor: int) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _holder(descriptor: int) -> str:
    try:
        pid = os.pread(descriptor, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (process {pid})" if pid.isdigit() else ""


__all__ = ["BuildResult", "DOCUMENTS", "FORMATS", "FolderBusy", "Overfull", "UnverifiedDerivations", "build",
           "marker_above", "overfull_boxes"]
