"""``symformer build``: verify a course, then write notes.tex, slides.tex, the handout, the figures and site/.

Verification goes through ``verify_many``, which caches verdicts by content hash, so a rebuild
re-verifies only what changed; figures are redrawn only when their derivation's hash changed;
files are written atomically and only when their text changed; a PDF is recompiled only when its
.tex changed or the PDF is missing. The library reports through ``log``; it never prints.
"""

from __future__ import annotations

import json
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
from symformer.export.compile import compile_tex, find_toolchain, missing_toolchain_message
from symformer.export.course import Entry
from symformer.export.figures import FORMATS, export_figures, figure_stem
from symformer.export.notes import notes_document

MANIFEST = ".symformer-build.json"
DOCUMENTS = ("notes.tex", "slides.tex", "slides-handout.tex")


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
    title: str = "The mathematics of transformers",
    progress: Callable | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> BuildResult:
    """Verify ``derivations`` and export them to ``folder``; see the module docstring."""
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
    keys = {figure_stem(d.slug, f.name): _cache.content_hash(d, config) for d in derivations for f in d.figures}
    made = export_figures(derivations, figures, fresh=lambda stem: manifest.get(stem) == keys[stem],
                          jobs=jobs if jobs is not None else default_jobs())
    manifest.update(keys)
    entries = [Entry(d, r, [(f"figures/{stem}", caption) for stem, caption in pairs])
               for d, r, pairs in zip(derivations, reports, made)]
    timings["figures"] = time.perf_counter() - started

    started = time.perf_counter()
    frames = [to_beamer(e, style) for e in entries]  # the same frames serve the slides and the handout
    texts = {
        "notes.tex": notes_document(entries, title, style),
        "slides.tex": slides_document(entries, title, handout=False, style=style, frames=frames),
        "slides-handout.tex": slides_document(entries, title, handout=True, style=style, frames=frames),
    }
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
            for name in texts:
                tex = folder / name
                pdf = tex.with_suffix(".pdf")
                if pdf.is_file() and tex not in result.written and pdf.stat().st_mtime_ns >= tex.stat().st_mtime_ns:
                    log(f"{pdf.name}: up to date")
                else:
                    log(f"compiling {name} with {result.toolchain}")
                    stale.append(tex)
                result.pdfs.append(pdf)
            # pdflatex is one process per document and mostly waits on itself: run the documents side by side
            with ThreadPoolExecutor(max_workers=max(1, min(len(stale), 3))) as pool:
                for future in [pool.submit(compile_tex, tex, result.toolchain) for tex in stale]:
                    future.result()
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


__all__ = ["BuildResult", "DOCUMENTS", "FORMATS", "UnverifiedDerivations", "build"]
