"""Compile .tex to PDF with latexmk or pdflatex, under a time bound, and explain failures.

On failure the error names the first ``!`` line of the log with a few lines of context and the
offending source line; the .tex file stays where it is for inspection.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from symformer.errors import SymformerError

#: What provides a LaTeX toolchain on Debian and Ubuntu (beamer's pgf is in texlive-pictures).
DEBIAN_PACKAGES = ("texlive-latex-base", "texlive-latex-recommended", "texlive-pictures",
                   "texlive-fonts-recommended", "latexmk")
TIMEOUT_SECONDS = 180.0


class LatexCompileError(SymformerError):
    """pdflatex stopped on an error; the message holds the log excerpt and the offending line."""


def find_toolchain() -> str | None:
    """``"latexmk"`` or ``"pdflatex"``, whichever is installed (latexmk needs pdflatex too), else None."""
    if not shutil.which("pdflatex"):
        return None
    return "latexmk" if shutil.which("latexmk") else "pdflatex"


def missing_toolchain_message() -> str:
    return ("no LaTeX toolchain found (latexmk or pdflatex), so the PDFs were not compiled; the .tex files are "
            "ready. On Debian or Ubuntu: apt-get install " + " ".join(DEBIAN_PACKAGES))


def compile_tex(tex: Path, tool: str | None = None, timeout: float = TIMEOUT_SECONDS) -> Path:
    """Compile ``tex`` in its own folder; return the PDF path or raise :class:`LatexCompileError`."""
    tex = Path(tex).resolve()
    tool = tool or find_toolchain()
    if tool is None:
        raise SymformerError(missing_toolchain_message())
    flags = ["-interaction=nonstopmode", "-halt-on-error", "-file-line-error"]
    if tool == "latexmk":
        commands = [["latexmk", "-pdf", "-silent", f"-pdflatex=pdflatex {' '.join(flags)} %O %S", tex.name]]
    else:  # twice, for the table of contents and the citations
        commands = [["pdflatex", *flags, tex.name]] * 2
    for command in commands:
        try:
            completed = subprocess.run(command, cwd=tex.parent, stdin=subprocess.DEVNULL, capture_output=True,
                                       timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LatexCompileError(f"{tex.name}: {command[0]} did not finish within {timeout:g} s; "
                                    f"the source is kept at {tex}") from None
        if completed.returncode != 0:
            raise LatexCompileError(failure_message(tex))
    pdf = tex.with_suffix(".pdf")
    if not pdf.is_file():
        raise LatexCompileError(f"{tex.name}: {tool} finished but wrote no PDF; see {tex.with_suffix('.log')}")
    return pdf


def failure_message(tex: Path) -> str:
    """The first error of the log, with context, and the source line it points at."""
    log_path = tex.with_suffix(".log")
    log = log_path.read_text(errors="replace") if log_path.is_file() else ""
    excerpt, line_number = log_excerpt(log, tex.name)
    message = [f"{tex.name} did not compile; the source is kept at {tex}"]
    if excerpt:
        message += ["log excerpt:", excerpt]
    if line_number:
        source = tex.read_text(errors="replace").splitlines()
        if 0 < line_number <= len(source):
            message.append(f"{tex.name}, line {line_number}: {source[line_number - 1]}")
    if not excerpt:
        message.append(f"no error line in the log; see {log_path}")
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
            number = int(match.group("line")) if match else None
            for follow in chunk:
                found = re.match(r"^l\.(\d+)", follow)
                if found and number is None:
                    number = int(found.group(1))
            return "\n".join(chunk).rstrip(), number
    return "", None


def pdf_pages(pdf: Path) -> int:
    """The number of pages of a PDF, read by pdfinfo (Debian package poppler-utils)."""
    if not shutil.which("pdfinfo"):
        raise SymformerError("counting PDF pages needs pdfinfo; on Debian or Ubuntu: apt-get install poppler-utils")
    completed = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, timeout=60)
    found = re.search(r"^Pages:\s+(\d+)", completed.stdout, re.MULTILINE)
    if not found:
        raise SymformerError(f"pdfinfo could not read {pdf}: {completed.stderr.strip()}")
    return int(found.group(1))
