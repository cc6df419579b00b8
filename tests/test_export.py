"""Per-derivation exports: Markdown for MathJax, notebooks that re-verify, beamer frames, the CLI."""

import json
import re
from pathlib import Path

import pytest

from symformer import discover
from symformer.cli import main
from symformer.export import Entry, to_beamer, to_markdown, to_notebook
from symformer.notation.printer import step_latex
from symformer.export.notebook import verification_code

ROOT = Path(__file__).resolve().parent.parent
SOFTMAX_FILE = ROOT / "derivations" / "softmax.py"
SOFTMAX = {d.slug: d for d in discover([SOFTMAX_FILE]).derivations}

SQUARES = '''
import sympy as sp
from symformer import Derivation, Size, Step

n = sp.Symbol("n", integer=True, positive=True)
k = sp.Symbol("k", integer=True)
x = sp.IndexedBase("x", shape=(n,), real=True)
double_sum = Derivation(
    slug="double-sum", title="Twice a sum", topic="Demo",
    sizes={n: Size(prove=range(1, 4), numeric=16)},
    lhs=2 * sp.Sum(x[k], (k, 1, n)),
    steps=[Step(sp.Sum(2 * x[k], (k, 1, n)), "a constant factor enters the sum")],
)
'''


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "cache"))


def test_markdown_uses_aligned_and_lists_the_justifications():
    text = to_markdown(Entry(SOFTMAX["log-softmax-jacobian"]))
    assert r"\begin{aligned}" in text and "align*" not in text and r"\intertext" not in text
    assert r"&= \delta_{ij} - p_{j} && \text{(3)}" in text
    assert "3. recognise $p_j$; in matrix form $I - \\mathbf{1} p^{\\top}$, which is not symmetric" in text


def test_markdown_shows_levels_from_the_report():
    report = {"ok": True, "checks": [{"kind": "step", "label": "step 1", "ok": True, "level": "proved for all n"}]}
    derivation = SOFTMAX["cross-entropy-gradient-probability-targets"]
    report["checks"].append({**report["checks"][0], "label": "step 2", "level": "proved for n = 1..6"})
    text = to_markdown(Entry(derivation, report))
    assert "1. the general cross-entropy gradient (derivation cross-entropy-gradient) *(proved for all $n$)*" in text
    assert "2. the targets sum to one *(proved for $n = 1, \\dots, 6$)*" in text


def test_a_derivation_displays_as_latex_in_a_notebook():
    derivation = SOFTMAX["softmax-max-subtraction"]
    assert derivation._repr_latex_().startswith(r"$$\begin{aligned}")
    assert not hasattr(derivation, "_repr_markdown_")  # the model knows nothing of the Markdown exporter


def test_notebook_is_valid_and_its_code_reverifies():
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.reads(to_notebook(Entry(SOFTMAX["softmax-max-subtraction"])), as_version=4)
    nbformat.validate(notebook)
    markdown, code, show = notebook.cells
    assert markdown.cell_type == "markdown" and "## Subtracting the maximum" in markdown.source
    assert code.source.splitlines()[0] == "from symformer import catalog, verify"
    namespace = {}
    exec(code.source.replace("\nreport.ok", "\nok = report.ok"), namespace)
    assert namespace["ok"] is True


def test_notebook_of_a_user_file_loads_that_file(tmp_path):
    source = tmp_path / "squares.py"
    source.write_text(SQUARES)
    derivation = discover([source]).derivations[0]
    code = verification_code(derivation)
    assert repr(str(source.resolve())) in code
    namespace = {}
    exec(code.replace("\nreport.ok", "\nok = report.ok"), namespace)
    assert namespace["ok"] is True


def test_beamer_reveals_each_row_with_its_justification_and_level():
    report = {"ok": True, "checks": [{"kind": "step", "label": f"step {k}", "ok": True, "level": "proved for all n"}
                                     for k in range(1, 6)]}
    text = to_beamer(Entry(SOFTMAX["softmax-jacobian"], report))
    assert r"\pause" not in text
    frames = re.findall(r"\\begin\{frame\}.*?\\end\{frame\}", text, re.S)
    chains = [f for f in frames if r"\begin{align*}" in f]
    rows = [k for f in chains for k in re.findall(r"&\\uncover<(\d+)->\{\{\}= ", f)]
    assert len(rows) == 5  # every step is a row of some frame, revealed on the frame's overlays 1, 2, ...
    for frame in chains:
        numbers = [int(k) for k in re.findall(r"&\\uncover<(\d+)->\{\{\}= ", frame)]
        assert numbers == list(range(1, len(numbers) + 1))
        # under each row, revealed with it: the justification and the level, typeset on the slide itself
        whys = re.findall(r"\\shortintertext\{\\uncover<(\d+)->\{\\why\{(.*?)\}\{\\mbox\{(.*?)\}\}\}\}", frame)
        assert [int(k) for k, _, _ in whys] == numbers
        assert all(level == "proved for all $n$" for _, _, level in whys)
    assert r"\why{quotient rule}{\mbox{proved for all $n$}}" in text
    assert r"\note{\begin{itemize}" in text and r"\item[2.] quotient rule" in text  # the presenter's notes stay
    assert r"\parencite[appendix~B.2]{dao2022flashattention}" in text


def test_a_long_row_breaks_at_top_level_signs_and_each_piece_fits():
    from symformer.notation.chain import chain_layout
    from symformer.notation.layout import SLIDE_WIDTH, width

    derivation = discover([ROOT / "derivations" / "wordpiece.py"]).derivations[0]
    layout = chain_layout(derivation, available=SLIDE_WIDTH)
    lines = [line for line, scale in layout.steps[0]]
    assert len(lines) >= 2 and lines[1].startswith("+ ")  # continued before a sign, never inside brackets
    assert "".join(lines).replace(" ", "") == step_latex(derivation.steps[0]).replace(" ", "")
    assert all(width(line) <= SLIDE_WIDTH for line in lines)
    assert all(scale == 1.0 for _, scale in layout.steps[0])


@pytest.mark.parametrize("fmt, marker", [("tex", r"\documentclass[11pt]{article}"), ("beamer", r"{beamer}"),
                                         ("md", "## Twice a sum"), ("ipynb", '"nbformat": 4')],
                         ids=["tex", "beamer", "md", "ipynb"])
def test_cli_export_formats(fmt, marker, tmp_path, capsys):
    source = tmp_path / "squares.py"
    source.write_text(SQUARES)
    assert main(["export", "double-sum", "--path", str(source), "--format", fmt]) == 0
    assert marker in capsys.readouterr().out


def test_cli_export_writes_a_file_into_a_folder(tmp_path):
    source = tmp_path / "squares.py"
    source.write_text(SQUARES)
    assert main(["export", "double-sum", "--path", str(source), "--format", "ipynb", "-o", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "double-sum.ipynb").read_text())["metadata"]["symformer"]["slug"] == "double-sum"


def test_cli_export_unknown_name_suggests(tmp_path, capsys):
    source = tmp_path / "squares.py"
    source.write_text(SQUARES)
    assert main(["export", "double-sums", "--path", str(source)]) == 2
    assert "did you mean double-sum" in capsys.readouterr().err


def test_cli_export_refuses_a_failing_derivation(tmp_path, capsys):
    source = tmp_path / "wrong.py"
    source.write_text(SQUARES.replace("Sum(2 * x[k]", "Sum(3 * x[k]"))
    assert main(["export", "double-sum", "--path", str(source), "--format", "md"]) == 1
    assert "not exported: double-sum failed verification" in capsys.readouterr().err
    assert main(["export", "double-sum", "--path", str(source), "--format", "md", "--allow-unverified"]) == 0
    assert "> **Not verified:** failed: step 1" in capsys.readouterr().out
