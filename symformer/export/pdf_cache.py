"""Compiled PDFs kept by content beside the verdicts, so a build into a new folder copies them.

A PDF is kept in ``$SYMFORMER_CACHE_DIR/pdfs`` under a key of everything it is made of: the digest
of its inputs (the .tex, and the bytes of every figure and bibliography it includes), the identity
of the LaTeX toolchain (the tool, and the first line of ``--version`` of pdflatex, latexmk and
biber), symformer's version and the source of the compile (its flags and TeX's environment). The
log is kept with it, so a copied PDF brings its overfull-box report along.

An entry is three files, ``KEY.pdf``, ``KEY.log`` and ``KEY.json``; the JSON is written last and
holds the digests of the other two, and the size and modification time of every file of the TeX
installation the compile read (its classes, packages and fonts, from TeX's ``-recorder`` list): an
updated beamer or biblatex, which leaves the programs' version lines as they were, is a miss. A
compile without that list is not kept. A cached PDF is trusted only when its bytes match that digest
and it validates as a freshly compiled one does (its size and pages are those its log reports, and
pdfinfo opens it); anything else is a miss, and the document is compiled again, which replaces the
entry. Copies into the output folder are atomic. A cache that cannot be written is skipped with the
cache's one warning.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from symformer._files import write_atomically
from symformer._version import __version__
from symformer.engine.cache import cache_dir, warn_unusable
from symformer.export.compile import LatexCompileError, validate_pdf

#: The layout of an entry; entries of another format are misses.
FORMAT = 2
#: The programs whose version changes what a compile produces.
_PROGRAMS = ("pdflatex", "latexmk", "biber")


def _folder() -> Path:
    return cache_dir() / "pdfs"


def _version_line(program: str, where: str, size: int, mtime_ns: int) -> str:
    # keyed by the binary's place, size and time, so an upgraded program is asked again
    try:
        completed = subprocess.run([where, "--version"], capture_output=True, text=True, errors="replace", timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return f"{program}: no version"
    lines = completed.stdout.strip().splitlines()
    return lines[0] if lines else f"{program}: no version"


def toolchain_identity(tool: str) -> str:
    """The tool a build compiles with and the version of each program it may run.

    ``biber --version`` takes half a second (it is a packed Perl program), so its answer is kept in
    the cache folder under the binary's path, size and modification time.

    >>> toolchain_identity("pdflatex").startswith("pdflatex;")
    True
    """
    parts = [tool]
    for program in _PROGRAMS:
        where = shutil.which(program)
        if where is None:
            parts.append(f"{program}: missing")
            continue
        real = Path(where).resolve()
        try:
            status = real.stat()
        except OSError:
            parts.append(f"{program}: unreadable")
            continue
        parts.append(_remembered_version(program, str(real), status.st_size, status.st_mtime_ns))
    return "; ".join(parts)


@lru_cache(maxsize=None)
def _remembered_version(program: str, where: str, size: int, mtime_ns: int) -> str:
    signature = f"{where}\0{size}\0{mtime_ns}"
    table = _folder() / "toolchain.json"
    try:
        known = json.loads(table.read_text())
        if isinstance(known, dict) and isinstance(known.get(signature), str):
            return known[signature]
    except (OSError, ValueError, RuntimeError):
        known = {}
    line = _version_line(program, where, size, mtime_ns)
    known = known if isinstance(known, dict) else {}
    known[signature] = line
    try:
        write_atomically(table, json.dumps(known, indent=1, sort_keys=True), private=True)
    except (OSError, RuntimeError):
        pass  # the caller's lookups and stores say so once
    return line


@lru_cache(maxsize=1)
def _compile_digest() -> str:
    return hashlib.sha256((Path(__file__).resolve().parent / "compile.py").read_bytes()).hexdigest()


def pdf_key(inputs: str, tool: str) -> str:
    """The cache key of a PDF compiled with ``tool`` from inputs of digest ``inputs``."""
    parts = [f"format {FORMAT}", inputs, toolchain_identity(tool), f"symformer {__version__}", _compile_digest()]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(key: str, pdf: Path) -> dict | None:
    """Copy the cached PDF of ``key`` to ``pdf`` and its log beside it, if a valid one is cached.

    Returns the TeX installation's files the PDF was compiled with (see :func:`installation_files`)
    when it did; a missing, damaged or mismatched entry is a miss (None) and nothing is written.
    """
    entry = _folder() / key
    try:
        meta = json.loads(entry.with_suffix(".json").read_text())
        data = entry.with_suffix(".pdf").read_bytes()
        log = entry.with_suffix(".log").read_bytes()
    except FileNotFoundError:
        return None
    except ValueError:
        return None
    except (OSError, RuntimeError) as exc:
        warn_unusable(exc)
        return None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("key") != key:
        return None
    if meta.get("pdf_sha256") != _sha256(data) or meta.get("log_sha256") != _sha256(log):
        return None
    if not installation_unchanged(meta.get("tex_inputs")):
        return None
    try:
        validate_pdf(entry.with_suffix(".pdf"), log.decode(errors="replace"), pdf.name)
    except LatexCompileError:
        return None
    if _sha256(entry.with_suffix(".pdf").read_bytes()) != meta["pdf_sha256"]:
        return None  # replaced while it was being validated
    write_atomically(pdf.with_suffix(".log"), log)
    write_atomically(pdf, data)  # the bytes whose digest was checked, not a second read
    return meta["tex_inputs"]


def store(key: str, pdf: Path) -> None:
    """Keep ``pdf``, just compiled and validated, and the log beside it under ``key``."""
    try:
        data = pdf.read_bytes()
        log = pdf.with_suffix(".log").read_bytes()
    except OSError:
        return  # no log was kept: nothing to bring the overfull boxes back from
    inputs = installation_files(pdf.with_suffix(".fls"))
    if inputs is None:
        return  # without the list of TeX's own files read, a later package update could not be seen
    entry = _folder() / key
    meta = {"format": FORMAT, "key": key, "pdf_sha256": _sha256(data), "log_sha256": _sha256(log), "tex_inputs": inputs}
    try:
        write_atomically(entry.with_suffix(".pdf"), data, private=True)
        write_atomically(entry.with_suffix(".log"), log, private=True)
        write_atomically(entry.with_suffix(".json"), json.dumps(meta), private=True)
    except (OSError, RuntimeError) as exc:
        warn_unusable(exc)


def installation_files(recording: Path) -> dict | None:
    """The files of the TeX installation a compile read, each with [size, mtime_ns]; None if unknown.

    TeX's recorder lists ``INPUT path`` lines: the document's own files are relative to its
    working folder, the installation's absolute.
    """
    try:
        lines = recording.read_text(errors="replace").splitlines()
    except OSError:
        return None
    inputs = {}
    for line in lines:
        if not line.startswith("INPUT "):
            continue
        path = line[len("INPUT "):]
        if not path.startswith("/") or path in inputs:
            continue
        try:
            status = Path(path).stat()
        except OSError:
            return None  # a file TeX read is gone already: nothing to vouch for
        inputs[path] = [status.st_size, status.st_mtime_ns]
    return inputs or None


def installation_unchanged(inputs) -> bool:
    """Every recorded TeX file is still there with its size and modification time."""
    if not isinstance(inputs, dict) or not inputs:
        return False
    for path, recorded in inputs.items():
        try:
            status = Path(path).stat()
        except (OSError, TypeError, ValueError):
            return False
        if recorded != [status.st_size, status.st_mtime_ns]:
            return False
    return True


__all__ = ["fetch", "installation_files", "installation_unchanged", "pdf_key", "store", "toolchain_identity"]
