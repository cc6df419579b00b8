"""The command line: exit codes, output forms, user files and folders, bad input."""

import json
import subprocess
import sys
import textwrap

import pytest

from symformer.cli import main

GOOD = textwrap.dedent(
    """
    import sympy as sp
    from symformer import Derivation, Size, Step

    n = sp.Symbol("n", integer=True, positive=True)
    i, k = sp.symbols("i k", integer=True)
    x = sp.IndexedBase("x", shape=(n,), real=True)

    square_gradient = Derivation(
        slug="square-gradient", title="Gradient of a sum of squares", topic="Mine",
        lhs=sp.Derivative(sp.Sum(x[k] ** 2, (k, 1, n)), x[i]),
        steps=[Step(2 * x[i], "only the term k = i depends on x_i")],
        sizes={n: Size(prove=range(1, 4), numeric=16)}, indices={i: n},
    )
    """
)
WRONG = GOOD.replace("2 * x[i]", "3 * x[i]").replace("square-gradient", "square-gradient-wrong")
BROKEN = "import sympy as sp\nraise RuntimeError('this file is broken on purpose')\n"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def course(tmp_path):
    folder = tmp_path / "course"
    folder.mkdir()
    (folder / "good.py").write_text(GOOD)
    return folder


def test_verify_a_user_file_prints_the_table_and_exits_0(course, capsys):
    assert main(["verify", str(course / "good.py")]) == 0
    out, err = capsys.readouterr()
    assert "square-gradient" in out and "1 passed, 0 failed" in out
    assert "[1/1] square-gradient: ok" in err


def test_a_wrong_step_exits_1_and_names_step_method_and_counterexample(course, capsys):
    (course / "wrong.py").write_text(WRONG)
    assert main(["verify", str(course)]) == 1
    out, _ = capsys.readouterr()
    assert "1 passed, 1 failed" in out
    assert "derivation 'square-gradient-wrong', step 1: " in out
    assert "counterexample: at n = 1" in out


def test_a_broken_file_is_named_and_the_others_are_still_verified(course, capsys):
    (course / "broken.py").write_text(BROKEN)
    assert main(["verify", str(course)]) == 1
    out, err = capsys.readouterr()
    assert "square-gradient" in out and "1 passed, 0 failed" in out
    assert "broken.py, line 2: could not be imported: RuntimeError: this file is broken on purpose" in err


def test_json_is_one_document(course, capsys):
    assert main(["verify", "--json", "--quiet", str(course)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True
    (report,) = document["derivations"]
    assert report["slug"] == "square-gradient"
    assert report["checks"][0]["level"] == "proved for all n"


def test_verify_uses_the_cache_the_second_time(course, capsys):
    main(["verify", str(course)])
    capsys.readouterr()
    main(["verify", str(course)])
    _, err = capsys.readouterr()
    assert "[1/1] square-gradient: ok (cached)" in err


def test_list_shows_topic_and_level_after_verification(course, capsys):
    main(["list", str(course)])
    assert "not verified yet" in capsys.readouterr().out
    main(["verify", "--quiet", str(course)])
    capsys.readouterr()
    main(["list", str(course)])
    line = capsys.readouterr().out.strip()
    assert line.split() [:2] == ["square-gradient", "Mine"] and line.endswith("proved for all n")


def test_show_text_and_latex(capsys):
    assert main(["show", "softmax-jacobian"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("The softmax Jacobian\n")
    assert "= (δ(i, j) - p_j)*p_i" in text
    assert main(["show", "softmax-jacobian", "--format", "latex"]) == 0
    latex = capsys.readouterr().out
    assert latex.startswith("\\begin{align*}") and latex.rstrip().endswith("\\end{align*}")
    assert "\\why{quotient rule}{}" in latex


@pytest.mark.parametrize(
    "argv, message",
    [
        (["show", "softmax-jacobain"], "no derivation named 'softmax-jacobain'; did you mean softmax-jacobian"),
        (["verify", "softmax-jacobain"], "did you mean softmax-jacobian"),
        (["verify", "missing/file.py"], "missing/file.py does not exist"),
        (["verify", "--time-bound", "0"], "--time-bound must be positive"),
        (["verify", "--seed", "many"], "--seed must be a whole number from 0 to 4294967295, got 'many'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "the following arguments are required: COMMAND"),
    ],
    ids=["unknown-name", "unknown-target", "missing-file", "bad-time-bound", "bad-seed", "unknown-command", "no-command"],
)
def test_usage_errors_exit_2_with_a_message(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_empty_folder_is_a_usage_error(tmp_path, capsys):
    assert main(["verify", str(tmp_path)]) == 2
    assert "no derivations found in" in capsys.readouterr().err


def test_python_dash_m_runs_the_same_program(course):
    done = subprocess.run([sys.executable, "-m", "symformer", "verify", "--quiet", str(course)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1 passed, 0 failed" in done.stdout


def test_discovering_an_unchanged_file_twice_gives_the_same_derivations(course):
    from symformer import discover

    first, second = discover([course]).derivations, discover([course]).derivations
    assert [d is e for d, e in zip(first, second)] == [True]
    (course / "good.py").write_text(GOOD.replace("Mine", "Changed"))
    assert discover([course]).derivations[0].topic == "Changed"
