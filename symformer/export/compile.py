r"""Compile .tex to PDF with latexmk or pdflatex: in a private folder, without shell escape, and
never leaving a PDF in place that did not validate.

Each compile runs in a fresh private folder beside the .tex (``.symformer-compile-*``, on the same
file system, so the final move is one atomic rename). Auxiliary files of an earlier, interrupted
run therefore cannot break it, and a PDF that TeX left half-written never reaches the output
folder: the PDF is moved into place only after it validated, that is, its size is the one TeX
reported in the log (``Output written on X (N pages, B bytes)``) and pdfinfo opens it and counts
the same N pages. The log of the last attempt is copied beside the .tex.

TeX runs with ``-no-shell-escape`` and with TeX Live's paranoid file access (``openin_any=p``,
``openout_any=p`` in its environment): it reads and writes only below its working folder (no
absolute names, no ``..``, no dot files), so a derivation's LaTeX cannot ``\input{/etc/hostname}``
into a PDF or overwrite anything. The files the document includes (its figures) are copied into
the private folder, so TeX sees no other file of the output folder.

On failure the error names the first ``!`` line of the log with a few lines of context, the
offending source line and, through ``locate``, the derivation that line belongs to; the .tex stays
where it is for inspection.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

from symformer._files import write_atomically
from symformer.errors import OutputError, SymformerError

#: What provides a LaTeX toolchain on Debian and Ubuntu (beamer's pgf is in texlive-pictures).
DEBIAN_PACKAGES = ("texlive-latex-base", "texlive-latex-recommended", "texlive-pictures",
                   "texlive-fonts-recommended", "latexmk")
TIMEOUT_SECONDS = 180.0
#: The private folders of compiles; one left behind was a compile that got killed.
PRIVATE_PREFIX = ".symformer-compile-"
FLAGS = ("-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error", "-recorder")
#: The most pdflatex passes a document gets beyond latexmk's, or in all without it.
MAX_PASSES = 5
#: biblatex's run.xml records its own "rerun LaTeX" request; the pass that meets the request clears
#: it, and latexmk took that change of run.xml for a reason to run once more (a fifth pass of the
#: notes, a fourth of the slides, each producing the same pages). Its hash ignores that line; a
#: request that is still open is read from the log after latexmk and met by one more pass.
LATEXMK_SETTINGS = "$hash_calc_ignore_pattern{'xml'} = '<internal package=\"biblatex\"';"


class LatexCompileError(SymformerError):
    """pdflatex stopped on an error, or wrote a PDF that did not validate; the message says which and where."""


class CompileCancelled(SymformerError):
    """The compile was stopped from outside (the build was interrupted)."""


def find_toolchain() -> str | None:
    """``"latexmk"`` or ``"pdflatex"``, whichever is installed (latexmk needs pdflatex too), else None."""
    if not shutil.which("pdflatex"):
        return None
    return "latexmk" if shutil.which("latexmk") else "pdflatex"


def missing_toolchain_message() -> str:
    return ("no LaTeX toolchain found (latexmk or pdflatex), so the PDFs were not compiled; the .tex files are "
            "ready. On Debian or Ubuntu: apt-get install " + " ".join(DEBIAN_PACKAGES))


def tex_environment(base: dict | None = None) -> dict:
    """The environment TeX runs in: paranoid file access, no shell escape, long log lines.

    >>> env = tex_environment({})
    >>> env["openin_any"], env["openout_any"], env["shell_escape"]
    ('p', 'p', 'f')
    """
    env = dict(os.environ if base is None else base)
    env.pop("TEXMFOUTPUT", None)  # a second place TeX would write to
    env.update(openin_any="p", openout_any="p", shell_escape="f", max_print_line="10000")
    return env


_GRAPHICS = re.compile(r"\\includegraphics\s*(?:\[[^\]]*\])?\s*\{([^}]*)\}")
_BIBLIOGRAPHY = re.compile(r"\\(?:addbibresource\s*(?:\[[^\]]*\])?|bibliography)\s*\{([^}]*)\}")


def included_files(text: str, folder: Path) -> list:
    r"""The files below ``folder`` that ``text`` includes (its figures and bibliographies), as relative names.

    A figure without an extension is looked for as .pdf, then .png, as pdflatex does; a
    ``\bibliography`` name gets .bib.

    >>> included_files(r"\includegraphics[width=2cm]{figures/a.pdf} \includegraphics{figures/a.pdf}"
    ...                r"\addbibresource{references.bib}", Path("."))
    ['figures/a.pdf', 'references.bib']
    """
    names = [(name.strip(), "graphics") for name in _GRAPHICS.findall(text)]
    for match in _BIBLIOGRAPHY.finditer(text):
        command = match.group(0)
        for name in match.group(1).split(",") if command.startswith("\\bibliography") else [match.group(1)]:
            name = name.strip()
            names.append((name if name.endswith(".bib") else name + ".bib", "bibliography"))
    found = []
    for name, kind in dict.fromkeys(names):
        if not name or Path(name).is_absolute() or ".." in Path(name).parts:
            continue  # TeX may not read it anyway
        if kind == "graphics" and not Path(name).suffix:
            name = next((name + ext for ext in (".pdf", ".png", ".jpg") if (folder / (name + ext)).is_file()), name)
        if name not in found:
            found.append(name)
    return found


def compile_tex(tex: Path, tool: str | None = None, timeout: float = TIMEOUT_SECONDS, *,
                resources: Iterable[str] | None = None, locate: Callable[[int], str | None] | None = None,
                cancel: threading.Event | None = None) -> Path:
    """Compile ``tex`` privately, validate the PDF, move it beside ``tex``; return its path.

    ``resources`` are the files (relative to ``tex``'s folder) TeX may read besides the .tex; by
    default those the document includes (:func:`included_files`). ``locate(line)`` names what a
    line of the .tex belongs to, for error messages. Setting ``cancel`` stops the compile.
    Raises :class:`LatexCompileError`; the PDF already in place is then left as it was.
    """
    tex = Path(tex).resolve()
    tool = tool or find_toolchain()
    if tool is None:
        raise SymformerError(missing_toolchain_message())
    text = tex.read_text()
    resources = included_files(text, tex.parent) if resources is None else list(resources)
    try:
        private = Path(tempfile.mkdtemp(prefix=f"{PRIVATE_PREFIX}{tex.stem}-", dir=tex.parent))
    except OSError as exc:
        raise OutputError.from_os_error(tex.parent, exc, f"compile {tex.name} in") from None
    try:
        try:
            (private / tex.name).write_text(text)
            for name in resources:
                source = tex.parent / name
                if source.is_file():
                    (private / name).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, private / name)
            open(private / "compile-output.txt", "wb").close()
        except OSError as exc:
            raise OutputError.from_os_error(private, exc, f"prepare the compile of {tex.name} in") from None
        pdflatex = ["pdflatex", *FLAGS, tex.name]
        if tool == "latexmk":  # -norc: no latexmkrc may change the engine, the output folder or the flags
            _compile_step(["latexmk", "-norc", "-pdf", "-silent", "-e", LATEXMK_SETTINGS,
                           f"-pdflatex=pdflatex {' '.join(FLAGS)} %O %S", tex.name], private, tex, timeout, cancel, locate)
            for _ in range(MAX_PASSES):  # a request latexmk did not see: see LATEXMK_SETTINGS
                if not asks_for_rerun(_log_text(private, tex)):
                    break
                _compile_step(pdflatex, private, tex, timeout, cancel, locate)
        else:  # again while the auxiliary files change: the table of contents, the outline, the citations
            for _ in range(MAX_PASSES):
                before = _auxiliary_state(private, tex.stem)
                _compile_step(pdflatex, private, tex, timeout, cancel, locate)
                if _auxiliary_state(private, tex.stem) == before and not asks_for_rerun(_log_text(private, tex)):
                    break
        log = _keep_log(private, tex)
        _keep_recording(private, tex)
        built = private / tex.with_suffix(".pdf").name
        validate_pdf(built, log[1], tex.name)
        pdf = tex.with_suffix(".pdf")
        try:
            os.replace(built, pdf)
        except OSError as exc:
            raise OutputError.from_os_error(pdf, exc) from None
        return pdf
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _compile_step(command: list, private: Path, tex: Path, timeout: float, cancel, locate) -> None:
    """Run one TeX command; raise :class:`LatexCompileError` when it runs out of time or fails."""
    code = _run(command, private, timeout, cancel)
    if code is None:
        raise LatexCompileError(f"{tex.name}: {command[0]} did not finish within {timeout:g} s; the source is kept at {tex}")
    if code != 0:
        log = _keep_log(private, tex)
        raise LatexCompileError(failure_message(tex, log, locate, _output(private)))


#: The files whose change between two pdflatex passes means another pass is needed.
AUXILIARY = (".aux", ".toc", ".out", ".nav", ".snm", ".bbl")


def _auxiliary_state(private: Path, stem: str) -> tuple:
    state = []
    for suffix in AUXILIARY:
        try:
            state.append(hashlib.sha256((private / (stem + suffix)).read_bytes()).hexdigest())
        except OSError:
            state.append(None)
    return tuple(state)


def _log_text(private: Path, tex: Path) -> str:
    try:
        return (private / tex.with_suffix(".log").name).read_text(errors="replace")
    except OSError:
        return ""


_RERUN = re.compile(r"^(?:LaTeX Warning: Label\(s\) may have changed|Package biblatex Warning: Please rerun LaTeX"
                    r"|Package rerunfilecheck Warning: File .* has changed)", re.M)


def asks_for_rerun(log: str) -> bool:
    """Whether the log of a pass says the document is not settled (labels, citations or the outline moved).

    >>> asks_for_rerun("Package biblatex Warning: Please rerun LaTeX.")
    True
    >>> asks_for_rerun("Package: rerunfilecheck 2022-07-10 v1.10 Rerun checks for auxiliary files (HO)")
    False
    """
    return _RERUN.search(log) is not None


def _run(command: list, folder: Path, timeout: float, cancel: threading.Event | None) -> int | None:
    """Run one TeX command in ``folder``; its exit code, or None when it ran out of time.

    TeX stays in our process group, so whatever stops the build (Ctrl-C, a signal to the group)
    stops TeX too; when the build stops it from here, the command and everything it started die.
    """
    with open(folder / "compile-output.txt", "ab") as output:
        process = subprocess.Popen(command, cwd=folder, env=tex_environment(), stdin=subprocess.DEVNULL,
                                   stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                return process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
            if cancel is not None and cancel.is_set():
                raise CompileCancelled(f"compiling {command[-1]} was stopped")
            if time.monotonic() > deadline:
                _kill_tree(process)
                return None
    except BaseException:
        _kill_tree(process)
        raise


def _kill_tree(process: subprocess.Popen) -> None:
    """Kill ``process`` and every process it started (latexmk starts pdflatex)."""
    family = _descendants(process.pid)
    for pid in [process.pid, *family]:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    process.wait()


def _descendants(pid: int) -> list:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:  # no /proc (macOS): only the direct child is killed
            continue
        for task in tasks:
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            found += children
            todo += children
    return found


def _keep_log(private: Path, tex: Path) -> tuple:
    """Copy the log beside the .tex (best effort); return (where it is, its text)."""
    log_path = private / tex.with_suffix(".log").name
    try:
        log = log_path.read_text(errors="replace")
    except OSError:
        return None, ""
    kept = tex.with_suffix(".log")
    try:
        write_atomically(kept, log)
    except OSError:
        return None, log
    return kept, log


def _keep_recording(private: Path, tex: Path) -> None:
    """Copy TeX's record of the files it read (``-recorder``, the .fls) beside the .tex, best effort:
    the PDF cache keeps the state of the system's TeX files it names."""
    try:
        write_atomically(tex.with_suffix(".fls"), (private / tex.with_suffix(".fls").name).read_bytes())
    except OSError:
        tex.with_suffix(".fls").unlink(missing_ok=True)


def _output(private: Path) -> str:
    try:
        return (private / "compile-output.txt").read_text(errors="replace")
    except OSError:
        return ""


_WRITTEN = re.compile(r"Output written on (?P<name>.+?) \((?P<pages>\d+) pages?, (?P<bytes>\d+) bytes\)")


def validate_pdf(pdf: Path, log: str, name: str = "") -> int:
    """Check that ``pdf`` is whole: TeX's log reports its pages and bytes, and pdfinfo agrees; return the pages.

    Raises :class:`LatexCompileError` naming what did not match.
    """
    name = name or pdf.name
    reports = list(_WRITTEN.finditer(log))
    if not reports:
        raise LatexCompileError(f"{name}: TeX finished but its log reports no PDF written; the PDF was not kept")
    pages, size = int(reports[-1]["pages"]), int(reports[-1]["bytes"])
    try:
        actual = pdf.stat().st_size
    except OSError:
        raise LatexCompileError(f"{name}: TeX reported {pdf.name} but it is missing; the PDF was not kept") from None
    if actual != size:
        raise LatexCompileError(f"{name}: the PDF has {actual} bytes but TeX wrote {size}; it is incomplete and "
                                "was not kept")
    if shutil.which("pdfinfo"):
        counted = pdf_pages(pdf, error=LatexCompileError)
        if counted != pages:
            raise LatexCompileError(f"{name}: pdfinfo counts {counted} pages but TeX wrote {pages}; the PDF was not kept")
    else:  # without poppler: at least the header and the end-of-file marker
        with open(pdf, "rb") as stream:
            head = stream.read(5)
            stream.seek(max(0, actual - 1024))
            tail = stream.read()
        if head != b"%PDF-" or b"%%EOF" not in tail:
            raise LatexCompileError(f"{name}: the PDF TeX wrote has no PDF header or no end; it was not kept")
    return pages


def remove_leftovers(folder: Path) -> list:
    """Delete the private folders of compiles that were killed; return them.

    Call it only while no other build uses ``folder`` (the build holds the folder's lock).
    """
    try:
        found = [p for p in Path(folder).iterdir() if p.name.startswith(PRIVATE_PREFIX) and p.is_dir()]
    except OSError:
        return []
    for path in found:
        shutil.rmtree(path, ignore_errors=True)
    return found


def failure_message(tex: Path, log: tuple | str = "", locate: Callable[[int], str | None] | None = None,
                    output: str = "") -> str:
    """The first error of the log, with context, the source line it points at and what that line belongs to.

    ``log`` is the log's text, or (where it was kept, its text); without it, the log beside ``tex`` is read.
    """
    if isinstance(log, tuple):
        log_path, log = log
    else:
        log_path = tex.with_suffix(".log")
        if not log:
            log = log_path.read_text(errors="replace") if log_path.is_file() else ""
    excerpt, line_number = log_excerpt(log, tex.name)
    kept = f" and the log at {log_path}" if log_path else ""
    message = [f"{tex.name} did not compile; the source is kept at {tex}{kept}"]
    if line_number:
        source = tex.read_text(errors="replace").splitlines()
        where = locate(line_number) if locate else None
        if 0 < line_number <= len(source):
            message.append(f"{'in ' + where + ', at ' if where else 'at '}{tex.name} line {line_number}: "
                           f"{source[line_number - 1].strip()}")
    refusals = re.findall(r"Not (?:reading from|writing to) (.+?) \(open(?:in|out)_any = p\)", log + "\n" + output)
    for refused in dict.fromkeys(refusals):
        message.append(f"TeX may read and write only the build's own files, not {refused}: take that name out of "
                       "the derivation's LaTeX")
    if excerpt:
        message += ["log excerpt:", excerpt]
    else:
        tail = "\n".join(output.strip().splitlines()[-6:])
        message.append(f"no error line in the log{'; the output of TeX ends with:' if tail else ''}")
        if tail:
            message.append(tail)
    return "\n".join(message)


_FILE_LINE = re.compile(r"^(?:.*?)(?P<file>[^\s:]+\.tex):(?P<line>\d+): ")


def log_excerpt(log: str, name: str = "", context: int = 6) -> tuple:
    r"""The lines around the first error of a pdflatex log, and the source line number it names.

    >>> log_excerpt("x\n! Undefined control sequence.\nl.7 \\foo\n")
    ('! Undefined control sequence.\nl.7 \\foo', 7)
    """
    lines = log.splitlines()
    for index, line in enumerate(lines):
        match = _FILE_LINE.match(line)
        if line.startswith("!") or (match and (not name or match.group("file").endswith(name))):
            chunk = lines[index:index + context]
            chunk = chunk[:next((i for i, l in enumerate(chunk) if l.startswith("Here is how much")), len(chunk))]
            number = int(match.group("line")) if match else None
            for follow in lines[index:index + 4 * context]:  # "Enter file name:" can push the line down
                if number is not None:
                    break
                pointer, located = re.match(r"^l\.(\d+)", follow), _FILE_LINE.match(follow)
                if pointer:
                    number = int(pointer.group(1))
                elif located and (not name or located.group("file").endswith(name)):
                    number = int(located.group("line"))
            return "\n".join(chunk).rstrip(), number
    return "", None


def pdf_pages(pdf: Path, error: type = SymformerError) -> int:
    """The number of pages of a PDF, read by pdfinfo (Debian package poppler-utils)."""
    if not shutil.which("pdfinfo"):
        raise SymformerError("counting PDF pages needs pdfinfo; on Debian or Ubuntu: apt-get install poppler-utils")
    try:
        completed = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, errors="replace", timeout=60)
    except subprocess.TimeoutExpired:
        raise error(f"pdfinfo did not finish reading {pdf} within 60 s") from None
    found = re.search(r"^Pages:\s+(\d+)", completed.stdout, re.MULTILINE)
    if not found:
        reason = completed.stderr.strip().splitlines()[-1] if completed.stderr.strip() else "no page count"
        raise error(f"pdfinfo could not read {pdf}: {reason}")
    return int(found.group(1))
