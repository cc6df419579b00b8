"""``symformer build``: what it writes, what it refuses, how it rebuilds, and the PDFs pdflatex makes."""

import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from symformer import discover
from symformer.cli import main
from symformer.errors import SymformerError
from symformer.export import LatexCompileError, WorkedExample, build
from symformer.export import builder as build_module
from symformer.export import figures as figures_module
from symformer.export.bibliography import backend, free_text_key, references as shipped_references
from symformer.export.builder import overfull_boxes
from symformer.export.examples import worked_example
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
    assert r"\includegraphics[width=0.85\linewidth,height=0.4\textheight,keepaspectratio]{figures/double-sum-bars.pdf}" in notes
    assert r"{\mbox{proved for all $n$}}" in notes  # the level typeset as mathematics, beside its step
    key = free_text_key("Knuth 1968, section 1.2.3")
    if backend() == "biblatex":  # a free-text source becomes an entry of its own, labelled by its text
        assert rf"\parencite{{{key}}}" in notes
        bib = (out / "references.bib").read_text()
        assert f"@misc{{{key}," in bib and "shorthand = {Knuth 1968, section 1.2.3}" in bib
        assert bib.count("@inproceedings{dao2022flashattention,") == 1
    else:
        assert rf"\hyperlink{{ref:{key}}}{{Knuth 1968, section 1.2.3}}" in notes
    assert (out / "figures" / "double-sum-bars.pdf").read_bytes().startswith(b"%PDF")
    assert (out / "figures" / "double-sum-bars.png").read_bytes().startswith(b"\x89PNG")
    assert r"\documentclass[handout]{beamer}" in (out / "slides-handout.tex").read_text()
    slides = (out / "slides.tex").read_text()
    assert r"\documentclass[]{beamer}" in slides
    assert r"\includegraphics[width=\linewidth,height=0.64\textheight,keepaspectratio]{figures/double-sum-bars.pdf}" in slides


def test_rebuild_is_incremental(demo, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["build", str(demo), "-o", str(out), "--no-pdf"]) == 0
    capsys.readouterr()
    bookkeeping = (".symformer-build.json", ".symformer-build.lock")
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name not in bookkeeping}
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


def test_one_lecture_builds_alone_with_its_prerequisites_listed(tmp_path, capsys):
    out = tmp_path / "lecture"
    assert main(["build", "cross-entropy-gradient", "-o", str(out), "--no-pdf"]) == 0, capsys.readouterr().err
    notes, slides = (out / "notes.tex").read_text(), (out / "slides.tex").read_text()
    assert notes.count(r"\label{d:") == 1 and r"\label{d:cross-entropy-gradient}" in notes
    # it cites the log-softmax Jacobian, which this lecture does not derive: listed first, by title, never by slug
    for text in (notes, slides):
        assert "Before this lecture" in text and r"\item The log-softmax Jacobian" in text
        assert r"the log-softmax Jacobian (derivation~\emph{The log-softmax Jacobian})" in text
        assert "derivation log-softmax-jacobian" not in text


def test_a_topic_builds_alone(tmp_path, capsys):
    out = tmp_path / "topic"
    assert main(["build", "--topic", "layernorm", "-o", str(out), "--no-pdf"]) == 0, capsys.readouterr().err
    notes = (out / "notes.tex").read_text()
    assert re.findall(r"\\label\{d:([a-z-]+)\}", notes) == ["layernorm-jacobian", "layernorm-affine-jacobian",
                                                              "layernorm-backward"]
    assert re.findall(r"^\\section\{(.*)\}$", notes, re.M) == ["LayerNorm"]
    # a cross-reference inside the lecture is a section number, by \ref
    assert r"the LayerNorm Jacobian (Section~\ref{d:layernorm-jacobian})" in notes


def test_an_unknown_topic_is_refused_with_the_topics_there_are(tmp_path, capsys):
    assert main(["build", "--topic", "layer norms", "-o", str(tmp_path / "x"), "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert "no topic 'layer norms' among the derivations to build; did you mean 'LayerNorm'" in err
    assert "Softmax and cross-entropy" in err and not (tmp_path / "x").exists()


def test_the_title_page_carries_author_institute_and_date(demo, tmp_path):
    out = tmp_path / "out"
    assert main(["build", str(demo), "-o", str(out), "--no-pdf", "--author", "A. Teacher & co", "--institute",
                 "School of Sums", "--date", "1 May 2026", "--title", "Sums"]) == 0
    slides, notes = (out / "slides.tex").read_text(), (out / "notes.tex").read_text()
    for line in (r"\title{Sums}", r"\author{A. Teacher \& co}", r"\institute{School of Sums}", r"\date{1 May 2026}"):
        assert line in slides
    assert r"\author{A. Teacher \& co \\ School of Sums}" in notes and r"\date{1 May 2026}" in notes


def test_figures_are_cached_by_content_so_a_new_folder_draws_nothing(demo, tmp_path, monkeypatch):
    derivations = discover([demo]).derivations
    build(derivations, tmp_path / "first", compile=False)
    drawn = (tmp_path / "first" / "figures" / "double-sum-bars.png").read_bytes()

    def no_drawing(*arguments):
        raise AssertionError("a figure already in the cache was drawn again")

    monkeypatch.setattr(figures_module, "_draw", no_drawing)
    build(derivations, tmp_path / "second", compile=False)
    assert (tmp_path / "second" / "figures" / "double-sum-bars.png").read_bytes() == drawn
    assert (tmp_path / "second" / "figures" / "double-sum-bars.pdf").read_bytes().startswith(b"%PDF")
    # the key follows what the picture depends on, not the caption
    figure = derivations[0].figures[0]
    assert figures_module.figure_key(figure) == figures_module.figure_key(type(figure)(figure.name, figure.make, "new"))


def test_a_worked_example_whose_reference_disagrees_stops_the_build(demo, tmp_path):
    derivation = discover([demo]).derivations[0]
    WorkedExample(derivation, {"x": [1, 2, 3]}, [("2 S", None, lambda x: 2 * x.sum() + 1)], sizes={"n": 3})
    with pytest.raises(SymformerError, match=r"derivation 'double-sum', worked example, 2 S: the derived result gives "
                                             r"12\.0 but the NumPy reference gives 13\.0"):
        build([derivation], tmp_path / "out", compile=False)


def test_a_worked_example_is_shown_with_its_numbers(demo, tmp_path):
    derivation = discover([demo]).derivations[0]
    WorkedExample(derivation, {"x": [1, "1/2", 3]}, [("2 S", None, lambda x: 2 * x.sum())], sizes={"n": 3},
                  title="three numbers")
    build([derivation], tmp_path / "out", compile=False)
    slides = (tmp_path / "out" / "slides.tex").read_text()
    assert r"\begin{frame}[t]{Worked example: three numbers}" in slides
    assert r"x = \left(1, \frac{1}{2}, 3\right)" in slides and "2 S &= 9" in slides



def _twice_the_sum(x):
    return 2 * x.sum()


def test_a_worked_examples_numbers_are_read_back_and_a_damaged_entry_is_evaluated_again(demo, tmp_path, monkeypatch):
    derivation = discover([demo]).derivations[0]

    def example():  # a new object each time: nothing kept in memory
        return WorkedExample(derivation, {"x": [1, "1/2", 3]}, [("2 S", None, _twice_the_sum)], sizes={"n": 3})

    first = example().evaluate()
    assert [q.exact for q in first] == [9.0]
    evaluated = []
    original = WorkedExample._evaluate
    monkeypatch.setattr(WorkedExample, "_evaluate", lambda self: evaluated.append(1) or original(self))
    assert example().evaluate() == first and evaluated == []
    [entry] = (tmp_path / "cache" / "examples").glob("*.json")
    entry.write_text(entry.read_text().replace("9.0", "10.0"))  # the numbers edited, the digest not
    assert [q.exact for q in example().evaluate()] == [9.0] and evaluated == [1]


OVERFULL_LOG = """(./slides.tex
Overfull \\hbox (12.5pt too wide) detected at line 6
[]
Overfull \\vbox (3.25pt too high) detected at line 9
Overfull \\hbox (0.4pt too wide) in paragraph at lines 2--2
"""
OVERFULL_TEX = """\\begin{document}
front matter
% symformer: derivation softmax-jacobian, steps 1-3
\\begin{frame}
rows
\\end{frame}
% symformer: derivation softmax-jacobian, claims
\\begin{frame}
\\end{frame}
"""


def test_overfull_boxes_are_named_by_the_derivation_and_steps_they_belong_to(tmp_path):
    (tmp_path / "slides.tex").write_text(OVERFULL_TEX)
    (tmp_path / "slides.log").write_text(OVERFULL_LOG)
    boxes = overfull_boxes(tmp_path / "slides.tex")
    assert [str(b) for b in boxes] == [
        "slides.tex, line 6: a box 12.5 pt too wide in derivation softmax-jacobian, steps 1-3",
        "slides.tex, line 9: a box 3.2 pt too high in derivation softmax-jacobian, claims",
        "slides.tex, line 2: a box 0.4 pt too wide in the front matter",
    ]
    assert overfull_boxes(tmp_path / "missing.tex") == []


# --- the whole course, compiled once for the session ---------------------------------------------------

COURSE_TOPICS = ["WordPiece tokenization", "Vectors and dot products", "Word embeddings", "Softmax and cross-entropy",
                 "Queries, keys, values and attention", "Attention masks", "Multi-head attention", "Positional encodings",
                 "Masked and causal language models", "LayerNorm",
                 # the blocks of current models, after the 2017-2018 transformer
                 "RMSNorm", "Activations: GELU, SiLU and SwiGLU", "The pre-norm residual block", "Cross-attention",
                 "Grouped-query attention", "ALiBi", "The KV cache", "Label smoothing"]
#: The topics that have a worked example: all of them.
EXAMPLE_TOPICS = COURSE_TOPICS
ASCII_MATHEMATICS = ["d_k", "sqrt(", "^T", "sum_", " in {", "\\", "mathbb"]


def test_every_topic_has_a_worked_example_and_the_new_ones_show_the_mathematics():
    course = discover().derivations
    examples = {d.slug: worked_example(d) for d in course if worked_example(d) is not None}
    assert {d.topic for d in course if d.slug in examples} == set(EXAMPLE_TOPICS)
    shown = {slug: [q.exact for q in example.evaluate()] for slug, example in examples.items()}
    # RMSNorm of (1, 2, 2): r = sqrt(mean(x^2) + eps) = sqrt(3 + 1/100), nothing subtracted
    r = math.sqrt(3 + 1 / 100)
    assert shown["rmsnorm-jacobian"][0] == pytest.approx([1 / r, 2 / r, 2 / r])
    # GELU(1) = Phi(1), GELU'(1) = Phi(1) + phi(1)
    Phi, phi = (1 + math.erf(1 / math.sqrt(2))) / 2, math.exp(-0.5) / math.sqrt(2 * math.pi)
    assert shown["gelu-derivative"] == pytest.approx([Phi, Phi + phi])
    # ALiBi, query 4 of 4 at slope 1/2: biases -m (4 - j), weights softmax(z + bias)
    bias, (z, m) = shown["alibi-row-constant"][0], ([1, 0, 2, 1], 0.5)
    assert bias == [-m * (4 - j) for j in range(1, 5)]
    weights = [math.exp(zj + bj) for zj, bj in zip(z, bias)]
    assert shown["alibi-row-constant"][1] == pytest.approx([w / sum(weights) for w in weights])
    # the KV cache: 2 L h_kv d_head numbers a token, times T tokens, two bytes each
    assert shown["kv-cache-size"] == [2 * 16 * 8 * 64, 2 * 16 * 8 * 64 * 8192, 2**28]
    # label smoothing with eps = 1/10 over 3 classes: q = 0.9 y + 1/30, the gradient p - q sums to zero
    q, p, loss, gradient = shown["label-smoothing-gradient"]
    assert q == pytest.approx([1 / 30, 14 / 15, 1 / 30])
    assert loss == pytest.approx(-sum(qk * math.log(pk) for qk, pk in zip(q, p)))
    assert gradient == pytest.approx([pk - qk for pk, qk in zip(p, q)]) and sum(gradient) == pytest.approx(0, abs=1e-15)
    # grouped-query: the shared V receives the sum of what each query head sends back
    head_1, head_2, dV = (np.array(v) for v in shown["grouped-query-attention-backward"])
    assert np.allclose(head_1 + head_2, dV) and dV.shape == (3, 2)
    # the pre-norm block: dx = dy + what the sublayer adds, and dy = (1, 0) passes unchanged
    _, added, dx = (np.array(v) for v in shown["prenorm-residual-backward"])
    assert np.allclose(added + [1, 0], dx)
    # cross-attention with N = 2 queries and M = 3 memory rows: P is 2 x 3 with rows summing to one, dZ is 3 x 2
    P, O, dZ = (np.array(v) for v in shown["cross-attention-backward"])
    assert P.shape == (2, 3) and np.allclose(P.sum(axis=1), 1) and O.shape == (2, 2) and dZ.shape == (3, 2)


@pytest.fixture(scope="session")
def course(tmp_path_factory):
    """The built-in course built and compiled once: (folder, BuildResult)."""
    if shutil.which("pdflatex") is None or shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None:
        pytest.skip("needs pdflatex, pdftotext and pdfinfo (Debian: texlive-*, poppler-utils)")
    folder = tmp_path_factory.mktemp("course")
    cache = folder / "cache"
    saved = os.environ.get("SYMFORMER_CACHE_DIR")
    os.environ["SYMFORMER_CACHE_DIR"] = str(cache)
    try:
        result = build(discover().derivations, folder / "out", author="A. Teacher", date="1 May 2026")
    finally:
        if saved is None:
            os.environ.pop("SYMFORMER_CACHE_DIR", None)
        else:
            os.environ["SYMFORMER_CACHE_DIR"] = saved
    return folder / "out", result


def _text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


@pytest.mark.latex
def test_course_has_no_overfull_box_above_a_point(course):
    folder, result = course
    assert [str(b) for b in result.overfull if b.points > 1.0] == []
    for name in ("notes", "slides", "slides-handout"):  # the logs say the same, read independently
        log = (folder / f"{name}.log").read_text(errors="replace")
        sizes = [float(v) for v in re.findall(r"^Overfull \\[hv]box \(([\d.]+)pt too", log, re.M)]
        assert [v for v in sizes if v > 1.0] == [], name


@pytest.mark.latex
def test_every_text_box_of_the_course_lies_inside_its_page(course):
    folder, _ = course
    for name in ("notes", "slides", "slides-handout"):
        xml = subprocess.run(["pdftotext", "-bbox", str(folder / f"{name}.pdf"), "-"], capture_output=True, text=True,
                             check=True).stdout
        pages = re.findall(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', xml, re.S)
        assert len(pages) == pdf_pages(folder / f"{name}.pdf")
        outside = []
        for number, (width, height, body) in enumerate(pages, start=1):
            for word, box in ((w[-1], tuple(map(float, w[:4]))) for w in re.findall(
                    r'<word xMin="([\d.-]+)" yMin="([\d.-]+)" xMax="([\d.-]+)" yMax="([\d.-]+)">(.*?)</word>', body)):
                # a glyph's box may reach a hair beyond its ink (the radical of a title's sqrt): 1 pt of slack
                if box[0] < -1 or box[1] < -1 or box[2] > float(width) + 1 or box[3] > float(height) + 1:
                    outside.append((name, number, word))
        assert outside == []


@pytest.mark.latex
def test_slides_and_handout_show_every_justification_and_level(course):
    folder, _ = course
    for name in ("slides", "slides-handout"):
        text = " ".join(_text(folder / f"{name}.pdf").split())
        assert "quotient rule" in text and "split the fraction" in text
        assert "proved for all n" in text and "Vaswani et al. 2017" in text
        assert "Worked example: the softmax of (1, 2, 3) and its Jacobian" in text
    notes = " ".join(_text(folder / "notes.pdf").split())
    assert "quotient rule" in notes and "proved for all n" in notes


@pytest.mark.latex
def test_no_ascii_mathematics_reaches_the_pages(course):
    folder, _ = course
    for name in ("notes", "slides"):
        text = _text(folder / f"{name}.pdf")
        assert [token for token in ASCII_MATHEMATICS if token in text] == [], name


@pytest.mark.latex
def test_topics_follow_the_teaching_order_with_scaffolding(course):
    folder, _ = course
    notes, slides = (folder / "notes.tex").read_text(), (folder / "slides.tex").read_text()
    assert re.findall(r"^\\section\{(.*)\}$", notes, re.M) == [t.replace("&", "\\&") for t in COURSE_TOPICS]
    assert re.findall(r"^\\section\{(.*)\}$", slides, re.M) == COURSE_TOPICS
    # the scale 1/sqrt(d_k) comes right after the scores, before the backward pass
    order = re.findall(r"\\label\{d:([a-z-]+)\}", notes)
    assert order.index("scaled-dot-product-attention") + 1 == order.index("dot-product-variance")
    assert order.index("dot-product-variance") < order.index("attention-backward-v")
    for topic in COURSE_TOPICS:  # a section slide and a summary per topic
        assert f"% symformer: section {topic}" in slides and f"% symformer: summary of {topic}" in slides
    assert slides.count("% symformer: derivation") and len(re.findall(r"worked example\n", slides)) >= len(EXAMPLE_TOPICS)
    assert r"\author{A. Teacher}" in slides and r"\tableofcontents" in slides
    shapes = slides[slides.index("The shapes of attention"):]
    shapes = shapes[:shapes.index(r"\end{tabular}")]
    rows = re.findall(r"^\$([^$]+)\$ & \$([^$]+)\$ &", shapes, re.M)
    assert [r[0] for r in rows] == ["Q", "K", "V", "S", "P", "O", "dO", "dP", "D", "dS", "dV", "dQ", "dK"]
    assert dict(rows)["dK"] == r"M \times d_{k}" and dict(rows)["S"] == r"N \times M"


@pytest.mark.latex
def test_the_bibliography_has_one_entry_per_source(course):
    folder, _ = course
    if backend() != "biblatex":
        pytest.skip("biber and biblatex are not installed (Debian: biber, texlive-bibtex-extra)")
    bib = (folder / "references.bib").read_text()
    keys = re.findall(r"^@\w+\{([^,]+),", bib, re.M)
    assert len(keys) == len(set(keys)) == len(shipped_references())  # every shipped source is cited
    assert bib.count("Attention Is All You Need") == 1
    for entry in re.split(r"^@", bib, flags=re.M)[1:]:
        assert "year = {" in entry and "title = {" in entry and "author = {" in entry
        assert any(field in entry for field in ("eprint = {", "doi = {", "url = {")), entry
    cited = set(re.findall(r"\\parencites?(?:\[[^\]]*\])?\{([^}]+)\}", (folder / "notes.tex").read_text()))
    assert cited == set(keys)
    references = " ".join(_text(folder / "notes.pdf").split())
    references = references[references.rindex("References"):]
    assert references.count("Attention Is All You Need") == 1 and "arXiv: 1706.03762" in references


@pytest.mark.latex
def test_wordpiece_trace_frames_fit_their_slides(tmp_path):
    if shutil.which("pdflatex") is None:
        pytest.skip("needs pdflatex")
    from symformer.export.tables import trace_to_beamer
    from symformer.tokenizer.wordpiece import WordPiece, tokenize_with_trace

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "the", ",", "a", "##b"]
    trace = tokenize_with_trace(WordPiece(vocab), "The unaffable tokenizers!")
    frames = trace_to_beamer(trace)
    assert frames.count(r"\begin{frame}") == 2 and "(2/2)" in frames
    document = (r"\documentclass{beamer}\usepackage[T1]{fontenc}\usepackage{booktabs}\begin{document}"
                + frames + r"\end{document}")
    (tmp_path / "trace.tex").write_text(document)
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "trace.tex"], cwd=tmp_path, capture_output=True, timeout=120)
    log = (tmp_path / "trace.log").read_text(errors="replace")
    assert "Output written on trace.pdf (27 pages" in log  # 25 look-ups and the tokens, one overlay each
    assert [float(v) for v in re.findall(r"^Overfull \\[hv]box \(([\d.]+)pt", log, re.M) if float(v) > 1.0] == []
