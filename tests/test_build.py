"""``symformer build``: what it writes, what it refuses, how it rebuilds, and the PDFs pdflatex makes."""

import re
import shutil
from pathlib import Path

import pytest

from symformer import discover
from symformer.cli import main
from symformer.export import LatexCompileError, build
from symformer.export import builder as build_module
from symformer.export.compile import pdf_pages  # pages counted as the builder counts them

ROOT = Path(__file__).resolve().parent.parent
SOFTMAX_FILE = ROOT / "derivations" / "softmax.py"

DEMO = '''
import sympy as sp
from symformer import Derivation, Figure, Size, Step

n = sp.Symbol("n", integer=True, positive=True)
k = sp.Symbol("k", integer=True)
x = sp.IndexedBase("x", shape=(n,), real=True)


def bars():
    from matplotlib.figure import Figure as Drawing

    drawing = Drawing(figsize=(4, 3))
    drawing.add_subplot().bar([1, 2, 3], [2, 4, 6])
    return drawing


double_sum = Derivation(
    slug="double-sum", title="Twice a sum", topic="Demo: sums & 50% of ##ing",
    sizes={n: Size(prove=range(1, 4), numeric=16)},
    lhs=2 * sp.Sum(x[k], (k, 1, n)),
    steps=[Step(sp.Sum(2 * x[k], (k, 1, n)), "a constant factor enters the sum", cite="Knuth 1968, section 1.2.3")],
    figures=[Figure("bars", bars, "Twice each value")],
)
'''

needs_latex = pytest.mark.skipif(shutil.which("pdflatex") is None or shutil.which("pdfinfo") is None,
                                 reason="needs pdflatex and pdfinfo")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def demo(tmp_path):
    path = tmp_path / "demo.py"
    path.write_text(DEMO)
    return path


def test_build_writes_notes_slides_handout_and_figures(demo, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["build", str(demo), str(SOFTMAX_FILE), "-o", str(out), "--no-pdf"]) == 0
    err = capsys.readouterr().err
    assert len(re.findall(r"^\[\d/7\] [a-z-]+: ok \(\d", err, re.M)) == 7  # a derivation a line
    notes = (out / "notes.tex").read_text()
    assert notes.index(r"\section{Softmax and cross-entropy}") < notes.index(r"\section{Demo: sums \& 50\% of \#\#ing}")
    assert r"\includegraphics[width=0.75\linewidth]{figures/double-sum-bars.pdf}" in notes
    assert r"\hfill {\footnotesize\textit{proved for all n}}" in notes
    assert r"\bibitem{knuth-1968-section-1" in notes and r"\cite{knuth-1968-section-1" in notes
    assert (out / "figures" / "double-sum-bars.pdf").read_bytes().startswith(b"%PDF")
    assert (out / "figures" / "double-sum-bars.png").read_bytes().startswith(b"\x89PNG")
    assert r"\documentclass[handout]{beamer}" in (out / "slides-handout.tex").read_text()
    assert r"\documentclass[]{beamer}" in (out / "slides.tex").read_text()


def test_rebuild_is_incremental(demo, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["build", str(demo), "-o", str(out), "--no-pdf"]) == 0
    capsys.readouterr()
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != ".symformer-build.json"}
    assert main(["build", str(demo), "-o", str(out), "--no-pdf"]) == 0
    assert "[1/1] double-sum: ok (cached)" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing re-verified, redrawn or rewritten


def test_a_failing_derivation_stops_the_build_and_is_named(demo, tmp_path, capsys):
    demo.write_text(DEMO.replace("Sum(2 * x[k]", "Sum(3 * x[k]"))
    out = tmp_path / "out"
    assert main(["build", str(demo), "-o", str(out), "--no-pdf"]) == 1
    err = capsys.readouterr().err
    assert "1 derivation(s) failed verification: double-sum" in err and "--allow-unverified" in err
    assert not (out / "notes.tex").exists()
    assert main(["build", str(demo), "-o", str(out), "--no-pdf", "--allow-unverified"]) == 0
    assert "warning: double-sum failed verification and is marked NOT VERIFIED" in capsys.readouterr().err
    assert r"\unverified{failed: step 1}" in (out / "notes.tex").read_text()
    assert r"\unverified{failed: step 1}" in (out / "slides.tex").read_text()


def test_output_directory_that_is_a_file(demo, tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("")
    assert main(["build", str(demo), "-o", str(target)]) == 2
    assert f"the output directory {target} is a file" in capsys.readouterr().err


def test_path_without_derivations(tmp_path, capsys):
    empty = tmp_path / "empty.py"
    empty.write_text("ANSWER = 42\n")
    assert main(["build", str(empty), "-o", str(tmp_path / "out")]) == 2
    assert f"no derivations found in {empty}" in capsys.readouterr().err


def test_missing_path(tmp_path, capsys):
    assert main(["build", str(tmp_path / "nope.py"), "-o", str(tmp_path / "out")]) == 2
    assert "nope.py does not exist" in capsys.readouterr().err


def test_without_latex_the_build_says_which_packages(demo, tmp_path, monkeypatch):
    monkeypatch.setattr(build_module, "find_toolchain", lambda: None)
    messages = []
    result = build(discover([demo]).derivations, tmp_path / "out", log=messages.append)
    assert result.pdfs == [] and (tmp_path / "out" / "notes.tex").is_file()
    assert any("texlive-latex-base texlive-latex-recommended texlive-pictures texlive-fonts-recommended latexmk" in m
               for m in messages)


def _frames(tex: str) -> list:
    return re.findall(r"\\begin\{frame\}.*?\\end\{frame\}", tex, re.S)


@pytest.mark.latex
@needs_latex
def test_compiled_pdfs_have_the_expected_pages(demo, tmp_path):
    out = tmp_path / "out"
    result = build(discover([SOFTMAX_FILE, demo]).derivations, out)
    assert [p.name for p in result.pdfs] == ["notes.pdf", "slides.pdf", "slides-handout.pdf"]
    slides = (out / "slides.tex").read_text()
    frames = _frames(slides)
    overlays = [max([int(k) for k in re.findall(r"\\uncover<(\d+)->", f)] or [1]) for f in frames]
    assert pdf_pages(out / "slides-handout.pdf") == len(frames)  # the handout: one page per frame
    assert pdf_pages(out / "slides.pdf") == sum(overlays)  # each row of a frame revealed on its own page
    assert pdf_pages(out / "notes.pdf") >= 3
    again = build(discover([SOFTMAX_FILE, demo]).derivations, out)
    assert again.written == [] and again.timings["compile"] < 1.0  # nothing changed: no recompilation


@pytest.mark.latex
@needs_latex
def test_a_compile_failure_shows_the_log_and_keeps_the_tex(demo, tmp_path):
    # the reader refuses the unknown macro, so only an unverified export reaches LaTeX with it
    demo.write_text(DEMO.replace('cite="Knuth 1968, section 1.2.3"', r'latex=r"\notamacro x"'))
    out = tmp_path / "out"
    with pytest.raises(LatexCompileError) as failure:
        build(discover([demo]).derivations, out, allow_unverified=True)
    message = str(failure.value)
    assert "did not compile; the source is kept at" in message
    assert "Undefined control sequence" in message and r"\notamacro" in message
    assert (out / "notes.tex").is_file()


@pytest.mark.slow
@pytest.mark.latex
@needs_latex
def test_the_whole_builtin_course_builds(tmp_path, capsys):
    out = tmp_path / "course"
    assert main(["build", "-o", str(out)]) == 0, capsys.readouterr().err
    found = discover()
    notes = (out / "notes.tex").read_text()
    for derivation in found.derivations:
        assert rf"\label{{d:{derivation.slug}}}" in notes
    assert pdf_pages(out / "slides-handout.pdf") == len(_frames((out / "slides-handout.tex").read_text()))
