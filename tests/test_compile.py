"""The compile step: TeX cannot reach outside the build, and only a validated PDF is ever called up to date.

A PDF is compiled in a private folder, checked (its size and pages as TeX's log reports them,
pdfinfo opens it) and only then moved into place; the manifest records its digest and the digest
of its inputs, and a PDF is up to date only while both still match.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import shutil
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from symformer import discover
from symformer.cli.main import main
from symformer.export import LatexCompileError, build
from symformer.export.compile import PRIVATE_PREFIX, find_toolchain, log_excerpt, pdf_pages, validate_pdf

DEMO = '''
import sympy as sp
from symformer import Derivation, Figure, Size, Step

n = sp.Symbol("n", integer=True, positive=True)
k = sp.Symbol("k", integer=True)
x = sp.IndexedBase("x", shape=(n,), real=True)


def bars():
    from matplotlib.figure import Figure as Drawing

    drawing = Drawing(figsize=(3, 2))
    drawing.add_subplot().bar([1, 2, 3], [2, 4, 6])
    return drawing


double_sum = Derivation(
    slug="double-sum", title="Twice a sum", topic="Demo",
    sizes={n: Size(prove=range(1, 3), numeric=8)},
    lhs=2 * sp.Sum(x[k], (k, 1, n)),
    steps=[Step(sp.Sum(2 * x[k], (k, 1, n)), "a constant factor enters the sum"LATEX)],
    figures=[Figure("bars", bars, "Twice each value")],
)
'''
PDFS = ("notes.pdf", "slides.pdf", "slides-handout.pdf")

needs_latex = pytest.mark.skipif(shutil.which("pdflatex") is None or shutil.which("pdfinfo") is None,
                                 reason="needs pdflatex and pdfinfo")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "cache"))


def _source(latex: str = "", slug: str = "double-sum") -> str:
    """The demo derivation, its step displayed as ``latex`` when given."""
    text = DEMO.replace("LATEX", f", latex={latex!r}" if latex else "")
    return text.replace('slug="double-sum"', f'slug="{slug}"')


def _demo(tmp_path: Path, latex: str = "", slug: str = "double-sum") -> Path:
    path = tmp_path / f"{slug}.py"
    path.write_text(_source(latex, slug))
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


# Validation, without TeX -------------------------------------------------------------------


def test_a_pdf_shorter_than_tex_reported_is_not_kept(tmp_path):
    pdf = tmp_path / "slides.pdf"
    pdf.write_bytes(b"%PDF-1.5\n" + b"x" * 100)
    with pytest.raises(LatexCompileError, match=r"slides.tex: the PDF has 109 bytes but TeX wrote 5000; it is "
                                                r"incomplete and was not kept"):
        validate_pdf(pdf, "Output written on slides.pdf (3 pages, 5000 bytes).", "slides.tex")


def test_a_log_without_output_is_not_a_pdf(tmp_path):
    pdf = tmp_path / "notes.pdf"
    pdf.write_bytes(b"%PDF-1.5\n")
    with pytest.raises(LatexCompileError, match="notes.tex: TeX finished but its log reports no PDF written"):
        validate_pdf(pdf, "No pages of output.", "notes.tex")


def test_the_error_line_is_found_below_an_enter_file_name_prompt():
    log = "\n".join(["! LaTeX Error: File `/etc/hostname.tex' not found.", "", "Type X to quit or <RETURN> to proceed,",
                     "or enter new name. (Default extension: tex)", "", "Enter file name: ",
                     "./notes.tex:39: Emergency stop.", "<read *> ", "l.39 \\end{align*}"])
    excerpt, line = log_excerpt(log, "notes.tex")
    assert line == 39 and excerpt.startswith("! LaTeX Error: File `/etc/hostname.tex' not found.")


# With TeX ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A build of the demo with its PDFs; tests copy it."""
    if shutil.which("pdflatex") is None or shutil.which("pdfinfo") is None:
        pytest.skip("needs pdflatex and pdfinfo")
    base = tmp_path_factory.mktemp("good")
    demo = _demo(base)
    os.environ["SYMFORMER_CACHE_DIR"] = str(base / "cache")
    try:
        build(discover([demo]).derivations, base / "out", site=False)
    finally:
        del os.environ["SYMFORMER_CACHE_DIR"]
    return base


@pytest.fixture
def built(good, tmp_path, monkeypatch):
    shutil.copytree(good, tmp_path / "copy")
    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "copy" / "cache"))
    return tmp_path / "copy"


def _rebuild(built: Path, **options) -> list:
    messages = []
    build(discover([built / "double-sum.py"]).derivations, built / "out", site=False, log=messages.append, **options)
    return messages


@pytest.mark.latex
@needs_latex
def test_a_damaged_pdf_is_compiled_again_not_called_up_to_date(built):
    out = built / "out"
    slides = out / "slides.pdf"
    slides.write_bytes(slides.read_bytes()[: slides.stat().st_size // 2])  # what a killed in-place compile left
    (out / "notes.pdf").unlink()
    handout = out / "slides-handout.pdf"
    shutil.copyfile(out / "slides.pdf", handout)  # some other file where the handout was
    messages = _rebuild(built)
    tool = find_toolchain()
    assert messages == [f"compiling {name} with {tool}" for name in ("notes.tex", "slides.tex", "slides-handout.tex")]
    manifest = json.loads((out / ".symformer-build.json").read_text())
    for name in PDFS:
        assert pdf_pages(out / name) >= 1
        assert manifest[name]["sha256"] == _digest(out / name)
    assert _rebuild(built) == [f"{name}: up to date" for name in PDFS]


@pytest.mark.latex
@needs_latex
def test_a_changed_figure_recompiles_the_pdfs_that_include_it(built):
    out = built / "out"
    figure = out / "figures" / "double-sum-bars.pdf"
    # the figure step keeps files it considers fresh: replace the bytes, keep the name
    shutil.copyfile(out / "notes.pdf", figure)
    messages = _rebuild(built)
    assert not any(m.endswith("up to date") for m in messages), messages


@pytest.mark.latex
@needs_latex
def test_stale_auxiliary_files_of_an_interrupted_in_place_compile_do_not_break_the_build(built):
    out = built / "out"
    for name in ("slides", "notes", "slides-handout"):
        (out / f"{name}.aux").write_text("\\relax\n\\@writefile{toc}{\\contentsline Interruption.\n")
        (out / f"{name}.toc").write_text("\\contentsline {section}{\\numberline {1}Interruption")
        (out / f"{name}.nav").write_text("\\headcommand {\\beamer@framepages {1}{")
    (out / "slides.pdf").unlink()
    messages = _rebuild(built)
    assert f"compiling slides.tex with {find_toolchain()}" in messages
    assert pdf_pages(out / "slides.pdf") >= 2
    assert not list(out.glob(f"{PRIVATE_PREFIX}*"))


@pytest.mark.latex
@needs_latex
def test_a_compile_error_keeps_the_earlier_pdf_and_names_the_derivation(built):
    out = built / "out"
    before = {name: _digest(out / name) for name in PDFS}
    (built / "double-sum.py").write_text(_source(latex=r"\notamacro x"))
    with pytest.raises(LatexCompileError) as failure:
        _rebuild(built, allow_unverified=True)  # the reader refuses the macro: only an unverified export reaches TeX
    lines = str(failure.value).splitlines()
    assert lines[0] == f"notes.tex did not compile; the source is kept at {out / 'notes.tex'} and the log at " \
                       f"{out / 'notes.log'}"
    assert lines[1].startswith("in derivation double-sum, ") and ", at notes.tex line " in lines[1]  # amsmath: the display's end
    assert any("Undefined control sequence" in line for line in lines) and r"\notamacro" in str(failure.value)
    assert lines[-1] == "slides.tex, slides-handout.tex did not compile either; their logs are beside them"
    assert "Undefined control sequence" in (out / "notes.log").read_text()
    assert {name: _digest(out / name) for name in PDFS} == before  # the good PDFs stay
    assert not list(out.glob(f"{PRIVATE_PREFIX}*"))


@pytest.mark.latex
@needs_latex
def test_tex_cannot_read_files_outside_the_build(tmp_path):
    hostname = socket.gethostname()
    demo = _demo(tmp_path, latex=r"\input{/etc/hostname} x", slug="host-name")
    out = tmp_path / "out"
    with pytest.raises(LatexCompileError) as failure:
        build(discover([demo]).derivations, out, site=False, allow_unverified=True)
    message = str(failure.value)
    assert "in derivation host-name, " in message and ", at notes.tex line " in message
    assert "TeX may read and write only the build's own files, not /etc/hostname: take that name out of the " \
           "derivation's LaTeX" in message
    for pdf in out.rglob("*.pdf"):
        if pdf.parent == out:
            assert hostname not in _text(pdf)


@pytest.mark.latex
@needs_latex
def test_tex_runs_without_shell_escape_and_writes_nowhere_else(tmp_path):
    marker = tmp_path / "shell-escape-ran"
    escape = tmp_path / "escaped.txt"
    demo = _demo(tmp_path, latex=rf"\immediate\write18{{touch {marker}}} x", slug="shell")
    build(discover([demo]).derivations, tmp_path / "out", site=False, allow_unverified=True)  # \write18: only logged
    assert not marker.exists()
    demo = _demo(tmp_path, latex=r"\immediate\openout15=../../escaped.txt \immediate\closeout15 x", slug="write")
    with pytest.raises(LatexCompileError, match=r"not \.\./\.\./escaped\.txt"):
        build(discover([demo]).derivations, tmp_path / "out-write", site=False, allow_unverified=True)
    assert not escape.exists()


@pytest.mark.latex
@needs_latex
def test_a_title_given_on_the_command_line_is_text(tmp_path, capsys):
    title = r"Prices $5 & $6: 50% off, #1 ~ ^ \ {x}"
    out = tmp_path / "out"
    assert main(["build", str(_demo(tmp_path)), "-o", str(out), "--title", title]) == 0, capsys.readouterr().err
    dollar = r"$\text{\textdollar}$"
    assert rf"\title{{Prices {dollar}5 \& {dollar}6: 50\% off, \#1 " in (out / "notes.tex").read_text()
    for name in PDFS:
        assert _text(out / name).splitlines()[0].strip() == title
    if (out / "site" / "index.html").exists():  # the site prints it as typed too
        assert f"<h1>{html.escape(title)}</h1>" in (out / "site" / "index.html").read_text()


@pytest.mark.latex
@needs_latex
def test_pdfs_and_logs_get_the_users_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        out = tmp_path / "out"
        build(discover([_demo(tmp_path)]).derivations, out, site=False)
    finally:
        os.umask(previous)
    for name in (*PDFS, "notes.log", "notes.tex"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o640, name


# The cache of compiled PDFs ------------------------------------------------------------------

#: A display wider than any page: the overfull box a cached PDF must still report.
WIDE = r"\rule{40cm}{1pt}"


@pytest.fixture
def tex_runs(tmp_path, monkeypatch):
    """pdflatex and latexmk behind wrappers that add a line to a file for each run (``--version`` is not a run)."""
    runs = tmp_path / "tex-runs.txt"
    runs.write_text("")
    wrappers = tmp_path / "bin"
    wrappers.mkdir()
    for program in ("pdflatex", "latexmk"):
        real = shutil.which(program)
        if real is not None:
            script = wrappers / program
            script.write_text(f'#!/bin/sh\n[ "$1" = --version ] || echo {program} >> "{runs}"\nexec "{real}" "$@"\n')
            script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrappers}{os.pathsep}{os.environ['PATH']}")
    return runs


def _build_logged(demo: Path, out: Path):
    messages = []
    result = build(discover([demo]).derivations, out, site=False, allow_unverified=True, log=messages.append)
    return result, messages


@pytest.mark.latex
@needs_latex
def test_a_new_folder_with_a_warm_cache_gets_the_same_pdfs_without_running_tex(tmp_path, tex_runs):
    demo = _demo(tmp_path, latex=WIDE)
    first, _ = _build_logged(demo, tmp_path / "a")
    assert tex_runs.read_text().split()
    assert any(box.points > 100 for box in first.overfull)
    tex_runs.write_text("")
    second, messages = _build_logged(demo, tmp_path / "b")
    assert tex_runs.read_text() == ""  # no pdflatex, no latexmk
    assert messages[:3] == [f"{name}: copied from the cache" for name in PDFS]
    for name in PDFS:
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes()
        assert (tmp_path / "b" / name).with_suffix(".log").read_text() == (tmp_path / "a" / name).with_suffix(".log").read_text()
    assert second.overfull == first.overfull  # the copied logs report the same boxes
    assert [m for m in messages if m.startswith("overfull")] == [f"overfull box: {box}" for box in first.overfull]
    assert _build_logged(demo, tmp_path / "b")[1][:3] == [f"{name}: up to date" for name in PDFS]


@pytest.mark.latex
@needs_latex
def test_a_damaged_cached_pdf_is_compiled_again_never_copied(tmp_path, tex_runs):
    demo = _demo(tmp_path)
    _build_logged(demo, tmp_path / "a")
    entries = {json.loads(p.read_text())["pdf_sha256"]: p.with_suffix(".pdf")
               for p in (tmp_path / "cache" / "pdfs").glob("*.json") if p.name != "toolchain.json"}
    cached = {name: entries[_digest(tmp_path / "a" / name)] for name in PDFS}
    notes, slides = cached["notes.pdf"], cached["slides.pdf"]
    notes.write_bytes(notes.read_bytes()[: notes.stat().st_size // 2])  # truncated
    slides.write_bytes(cached["slides-handout.pdf"].read_bytes())  # whole, but not the PDF of these inputs
    tex_runs.write_text("")
    _, messages = _build_logged(demo, tmp_path / "b")
    tool = find_toolchain()
    assert messages == [f"compiling notes.tex with {tool}", f"compiling slides.tex with {tool}",
                        "slides-handout.pdf: copied from the cache"]
    assert tex_runs.read_text().split()
    for name in PDFS:
        assert pdf_pages(tmp_path / "b" / name) >= 1
    assert _digest(tmp_path / "b" / "slides.pdf") != _digest(tmp_path / "b" / "slides-handout.pdf")
    tex_runs.write_text("")  # the compile replaced the damaged entries
    assert _build_logged(demo, tmp_path / "c")[1] == [f"{name}: copied from the cache" for name in PDFS]
    assert tex_runs.read_text() == ""


@pytest.mark.latex
@needs_latex
def test_a_changed_tex_source_misses_the_pdf_cache(tmp_path, tex_runs):
    demo = _demo(tmp_path)
    _build_logged(demo, tmp_path / "a")
    demo.write_text(_source().replace("a constant factor enters the sum", "the factor 2 enters the sum"))
    tex_runs.write_text("")
    _, messages = _build_logged(demo, tmp_path / "b")
    assert messages == [f"compiling {name} with {find_toolchain()}" for name in ("notes.tex", "slides.tex", "slides-handout.tex")]
    assert tex_runs.read_text().split()
    assert "the factor 2 enters the sum" in _text(tmp_path / "b" / "notes.pdf")



#: A citation on every page after a table of contents: once the contents are typeset, every citation
#: moves, and biblatex asks for the pass that settles the pages.
MOVING_CITATIONS = r"""\documentclass{article}
\usepackage[backend=biber,style=authoryear]{biblatex}
\usepackage{hyperref}
\addbibresource{references.bib}
\begin{document}
\tableofcontents
""" + "\n".join(rf"\section{{Part {k}}} Text \parencite{{vaswani2017attention}}.\clearpage" for k in range(1, 70)) + r"""
\printbibliography
\end{document}
"""


@pytest.mark.latex
@needs_latex
def test_latexmk_skips_the_pass_that_only_clears_biblatexs_rerun_request(tmp_path, tex_runs):
    from symformer.export.bibliography import backend
    from symformer.export.compile import asks_for_rerun, compile_tex, tex_environment

    if find_toolchain() != "latexmk" or backend() != "biblatex":
        pytest.skip("needs latexmk, biber and biblatex")
    bib = "@article{vaswani2017attention, author = {Vaswani, Ashish}, title = {Attention Is All You Need}, year = {2017}}\n"
    ours, plain = tmp_path / "ours", tmp_path / "plain"
    for folder in (ours, plain):
        folder.mkdir()
        (folder / "doc.tex").write_text(MOVING_CITATIONS)
        (folder / "references.bib").write_text(bib)
    pdf = compile_tex(ours / "doc.tex", "latexmk")
    passes = tex_runs.read_text().split().count("pdflatex")
    assert not asks_for_rerun((ours / "doc.log").read_text())  # settled
    tex_runs.write_text("")
    subprocess.run(["latexmk", "-norc", "-pdf", "-silent", "-pdflatex=pdflatex -interaction=nonstopmode %O %S", "doc.tex"],
                   cwd=plain, env=tex_environment(), capture_output=True, check=True)
    assert _text(pdf) == _text(plain / "doc.pdf")  # the same pages
    assert passes == tex_runs.read_text().split().count("pdflatex") - 1 == 3


@pytest.mark.latex
@needs_latex
def test_an_updated_tex_package_misses_the_pdf_cache(tmp_path, monkeypatch):
    # a package update leaves pdflatex's version line as it was: the entry knows the TeX files it read
    from symformer.export import pdf_cache
    from symformer.export.compile import compile_tex

    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "doc"
    folder.mkdir()
    (folder / "doc.tex").write_text("\\documentclass{article}\\begin{document}Hello.\\end{document}\n")
    pdf = compile_tex(folder / "doc.tex", "pdflatex")
    recorded = [line.split(" ", 1)[1] for line in (folder / "doc.fls").read_text().splitlines() if line.startswith("INPUT /")]
    assert any(path.endswith("article.cls") for path in recorded)
    pdf_cache.store("k" * 64, pdf)
    assert pdf_cache.fetch("k" * 64, tmp_path / "copy.pdf")
    # stand in for the installation: the entry's record of article.cls now says another size
    meta_path = pdf_cache._folder() / ("k" * 64 + ".json")
    meta = json.loads(meta_path.read_text())
    article = next(path for path in meta["tex_inputs"] if path.endswith("article.cls"))
    meta["tex_inputs"][article][0] += 1
    meta_path.write_text(json.dumps(meta))
    assert not pdf_cache.fetch("k" * 64, tmp_path / "again.pdf")
    assert not (tmp_path / "again.pdf").exists()
    # a compile whose record is missing is not kept at all
    (folder / "doc.fls").unlink()
    pdf_cache.store("m" * 64, pdf)
    assert not (pdf_cache._folder() / ("m" * 64 + ".json")).exists()


@pytest.mark.latex
@needs_latex
def test_a_rebuild_into_the_same_folder_is_not_up_to_date_after_a_tex_update(tmp_path, tex_runs):
    # "up to date" needs the inputs, the toolchain and the installation's files the PDF was made with
    demo = _demo(tmp_path)
    out = tmp_path / "out"
    _build_logged(demo, out)
    assert _build_logged(demo, out)[1] == [f"{name}: up to date" for name in PDFS]
    manifest_path = out / ".symformer-build.json"
    manifest = json.loads(manifest_path.read_text())
    recorded = manifest["notes.pdf"]["tex_inputs"]
    assert any(path.endswith(".cls") for path in recorded)
    recorded[next(iter(recorded))][1] += 1  # as if the package were installed anew
    manifest_path.write_text(json.dumps(manifest))
    tex_runs.write_text("")
    # no longer up to date; the cache's own entry records the installation as it really is, so it serves
    assert _build_logged(demo, out)[1] == ["notes.pdf: copied from the cache", "slides.pdf: up to date",
                                           "slides-handout.pdf: up to date"]
    assert tex_runs.read_text() == ""
