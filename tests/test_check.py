"""`symformer check FILE.tex | FILE.md`: the examples as documented, exit codes, JSON for graders,
declarations, justifications, and each bad file with the error it must get."""

import json
from pathlib import Path

import pytest

from symformer.cli.main import main
from symformer.engine.homework import check_file
from symformer.engine.results import TIMEOUT, CheckResult, MethodResult
from symformer.errors import LatexError, UsageError
from symformer.notation.reader.document import read_document

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(autouse=True)
def _fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "cache"))


def _run(capsys, *argv):
    code = main(["check", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", ["softmax-homework.tex", "softmax-homework.md", "attention-backward.tex",
                                  "twenty-steps.tex"])
def test_a_correct_example_holds_with_exit_0(name, capsys):
    code, out, _ = _run(capsys, EXAMPLES / name)
    assert code == 0
    assert "FAILS" not in out and "checked steps hold" in out


@pytest.mark.parametrize("name, line, words", [
    ("softmax-homework-wrong.tex", 15, "counterexample: at n = 1; index i = 1, j = 1"),
    ("softmax-homework-wrong.md", 18, "counterexample: at n = 1; index i = 1, j = 1"),
    ("attention-backward-wrong.tex", 12, "the product of shapes N x M and N x d_v is not defined"),
])
def test_a_planted_error_is_found_on_its_line_with_exit_1(name, line, words, capsys):
    code, out, _ = _run(capsys, EXAMPLES / name)
    assert code == 1
    assert f"first wrong step: {EXAMPLES / name}:{line}:" in out
    assert words in out
    assert out.count("FAILS") == 1  # the steps after it are compared with the last right one


def test_the_readme_shows_the_command_and_its_output(capsys):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    code, out, _ = _run(capsys, EXAMPLES / "softmax-homework-wrong.tex")
    shown = out.replace(str(EXAMPLES / "softmax-homework-wrong.tex"), "examples/softmax-homework-wrong.tex")
    assert "$ symformer check examples/softmax-homework-wrong.tex" in readme
    for line in shown.strip().splitlines():
        assert line in readme, f"README lacks the output line {line!r}"


def test_json_has_one_object_per_chain_and_step(capsys):
    code, out, _ = _run(capsys, EXAMPLES / "softmax-homework-wrong.tex", "--format", "json")
    document = json.loads(out)
    assert code == 1 and document["ok"] is False
    (file,) = document["files"]
    assert [len(c["steps"]) for c in file["chains"]] == [4, 2]
    step = file["chains"][0]["steps"][2]
    assert (step["line"], step["verdict"], step["why"]) == (15, "fails", "split the fraction")
    assert step["counterexample"]["sizes"] == {"n": 1} and step["counterexample"]["rhs"] == 2.0
    assert file["first_failure"] == {"chain": 1, "step": 3, "line": 15}
    assert file["chains"][0]["steps"][3]["verdict"] == "holds"
    assert "against line 13; line 15 is the wrong one" in file["chains"][0]["steps"][3]["level"]


def test_justifications_come_from_text_comments_and_intertext(tmp_path):
    source = tmp_path / "why.tex"
    source.write_text("% symformer: x, y scalar\n\\begin{align*}\n(x + y)^2\n"
                      "\\intertext{expand the square}\n"
                      "&= x^2 + 2xy + y^2 \\\\\n"
                      "&= y^2 + 2xy + x^2 % why: reorder\n"
                      "\\\\ &= (y + x)^2 && \\text{fold, since $a + b = b + a$}\n\\end{align*}\n")
    verdict = check_file(source)
    steps = verdict.chains[0].steps
    assert [s.why for s in steps] == ["expand the square", "reorder", "fold, since a + b = b + a"]
    assert [s.line for s in steps] == [5, 6, 7] and verdict.ok


def test_a_row_with_a_new_left_side_starts_a_new_chain(tmp_path):
    source = tmp_path / "two.tex"
    source.write_text("% symformer: x scalar\n\\begin{align}\nx + x &= 2x \\label{a} \\\\\n3x - x &= 2 x.\n\\end{align}\n")
    verdict = check_file(source)
    assert [(c.line, len(c.steps)) for c in verdict.chains] == [(3, 1), (4, 1)] and verdict.ok


def test_definitions_let_steps_use_display_names(tmp_path):
    source = tmp_path / "defs.md"
    source.write_text("---\nsymformer: \"n size 1..4; k index n; a vector n; s := \\\\sum_k a_k\"\n---\n\n"
                      "$$ s^2 = \\sum_k a_k \\sum_k a_k $$\n")
    assert check_file(source).ok


def test_a_step_that_could_not_be_verified_is_not_wrong(tmp_path, monkeypatch, capsys):
    import symformer.engine.homework as homework

    def timing_out(derivation, config):
        class Report:
            checks = []

        for number, _ in enumerate(derivation.steps, start=1):
            check = CheckResult("step", f"step {number}")
            check.methods.append(MethodResult("symbolic, each size", TIMEOUT, "n = 1 timed out after 4 s"))
            Report.checks.append(check)
        return Report

    monkeypatch.setattr(homework, "verify", timing_out)
    code, out, _ = _run(capsys, EXAMPLES / "softmax-homework.tex")
    assert code == 0
    assert "could not be verified" in out and "symbolic, each size timed out (n = 1 timed out after 4 s)" in out


BAD_FILES = [
    ("unclosed.tex", "\\begin{align*}\nx &= (x\n\\end{align*}\n",
     "line 2, column 8: the formula ends early; expected ')' to close the '(' of line 2, column 6"),
    ("undeclared.tex", "\\begin{align*}\nq &= q\n\\end{align*}\n", "line 2, column 1: unknown symbol q; declare it"),
    ("badsize.tex", "% symformer: n size six\n\\[ 1 = 1 \\]\n",
     "line 1: in the declaration 'n size six': a size needs its proof range: n size 1..6"),
    ("badkind.tex", "% symformer: x number\n\\[ 1 = 1 \\]\n", "expected NAMES followed by one of size, index"),
    ("baddomain.tex", "% symformer: x scalar negative\n\\[ 1 = 1 \\]\n", "unknown domain 'negative'"),
    ("noend.tex", "\\begin{align*}\nx &= x\n", "line 1, column 1: \\begin{align*} is never closed"),
    ("nochain.tex", "Just prose, $x$ inline.\n", "no chain of equations found"),
    ("frontmatter.md", "---\nsymformer: x scalar\n\n$$ x = x $$\n", "the front matter opened by --- is never closed"),
]


@pytest.mark.parametrize("name, text, message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_file_that_cannot_be_read_exits_2_naming_the_place(name, text, message, tmp_path, capsys):
    source = tmp_path / name
    source.write_text(text)
    code, out, err = _run(capsys, source)
    assert code == 2
    assert message in err and str(source) in err
    assert "Traceback" not in err


def test_an_inequality_is_noted_not_checked_and_the_chain_goes_on(tmp_path, capsys):
    source = tmp_path / "bound.tex"
    source.write_text("% symformer: x scalar positive\n\\begin{align*}\n(x + 1)^2 &= x^2 + 2x + 1 \\\\\n"
                      "&\\ge 2x + 1 \\\\\n&= 1 + 2x\n\\end{align*}\n")
    code, out, _ = _run(capsys, source)
    assert code == 0
    assert "only '=' steps are checked; this one is '\\ge'" in out
    assert "chain 2 (line 4): 2x + 1" in out and "line 5  holds" in out


def test_displays_as_notes_write_them(tmp_path):
    source = tmp_path / "notes.tex"
    source.write_text("% symformer: x scalar positive; n size 1..4; i, j index n; z vector n; y vector n simplex\n"
                      "% symformer: \\sigma(t) := \\frac{1}{1 + e^{-t}}\n"
                      "\\[\n\\begin{aligned}\n\\sigma'(x) &= \\frac{e^{-x}}{(1 + e^{-x})^2} \\\\\n"
                      "&= \\underbrace{\\sigma(x)}_{\\text{logistic}} (1 - \\sigma(x)) \\tag*{(1)}\n\\end{aligned}\n\\]\n"
                      "$$ \\sum_j \\operatorname{softmax}(z)_j = 1 $$\n"
                      "\\begin{eqnarray}\n\\log(x^2) &=& 2 \\log x\n\\end{eqnarray}\n")
    verdict = check_file(source)
    assert [(c.line, len(c.steps)) for c in verdict.chains] == [(5, 2), (9, 1), (11, 1)]
    assert verdict.ok and all(s.verdict == "holds" for c in verdict.chains for s in c.steps)


def test_a_missing_file_exits_2(capsys, tmp_path):
    code, _, err = _run(capsys, tmp_path / "absent.tex")
    assert code == 2 and "cannot read" in err


def test_an_unreadable_formula_raises_latex_error_with_its_position(tmp_path):
    with pytest.raises(LatexError) as caught:
        read_document("\\begin{align*}\nx &= \\frac{1}{\n\\end{align*}")
    assert caught.value.line == 2


def test_a_bad_time_bound_is_a_usage_error(capsys):
    code, _, err = _run(capsys, EXAMPLES / "softmax-homework.tex", "--time-bound", "0")
    assert code == 2 and "--time-bound must be positive" in err


def test_check_file_rejects_binary_input(tmp_path):
    source = tmp_path / "binary.tex"
    source.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(UsageError, match="cannot read"):
        check_file(source)
