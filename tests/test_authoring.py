"""The authoring guide runs as written, and the mistakes it describes get the messages it shows.

``docs/authoring.md`` is executed in order in one namespace: each ```python block as code, each
```pycon block as a doctest. Its lists of what the engine can evaluate are compared with the
evaluator's rules, so the guide cannot promise a function the engine does not compute.
"""

import doctest
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sympy as sp

from symformer import Derivation, Size, Step, verify
from symformer.blocks.base import Block
from symformer.cli.main import main
from symformer.engine.evaluate import numpy_rule
from symformer.engine.model import evaluable_functions
from symformer.errors import DerivationError

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "authoring.md"
BLOCK = re.compile(r"^```(python|pycon)\n(.*?)^```", re.S | re.M)


def _run_guide() -> dict:
    text = GUIDE.read_text()
    namespace: dict = {"__name__": "authoring_guide"}
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for match in BLOCK.finditer(text):
        kind, code = match.groups()
        line = text.count("\n", 0, match.start()) + 2
        if kind == "python":
            exec(compile(code, f"{GUIDE}:{line}", "exec"), namespace)
        else:
            test = parser.get_doctest(code, namespace, f"authoring.md line {line}", str(GUIDE), line)
            report = []
            runner.run(test, out=report.append, clear_globs=False)
            assert runner.failures == 0, "".join(report)
    return namespace


@pytest.fixture(scope="module")
def guide():
    return _run_guide()


def test_every_example_of_the_guide_runs_and_shows_what_it_says(guide):
    assert "square_gradient" in guide and "linear_layer_gradient" in guide


def test_every_derivation_of_the_guide_verifies_except_the_wrong_one(guide):
    derivations = {name: d for name, d in guide.items() if isinstance(d, Derivation)}
    assert len(derivations) >= 9
    verdicts = {d.slug: verify(d).ok for d in derivations.values()}
    assert verdicts.pop("wrong-product") is False
    assert all(verdicts.values()), verdicts


def _listed(marker: str) -> list:
    text = GUIDE.read_text()
    body = text.split(f"<!-- {marker} -->", 1)[1].split("<!-- end -->", 1)[0]
    return re.findall(r"`([^`]+)`", body)


def test_the_guides_function_list_is_the_evaluators():
    assert _listed("evaluable functions") == evaluable_functions()


def test_the_guides_matrix_and_block_lists_are_the_evaluators():
    registered = [cls for cls in numpy_rule.registry if isinstance(cls, type)]
    matrix = sorted(c.__name__ for c in registered if c.__module__.startswith("sympy.matrices"))
    import symformer.blocks as blocks

    assert _listed("matrix nodes") == matrix
    assert _listed("blocks") == sorted(n for n in blocks.__all__ if isinstance(getattr(blocks, n), type)
                                       and issubclass(getattr(blocks, n), Block))


@pytest.mark.parametrize("name", [f for f in evaluable_functions() if f not in ("KroneckerDelta", "Max", "Min", "Piecewise")])
def test_every_listed_function_evaluates_as_numpy_does(name):
    import numpy as np

    from symformer.engine.evaluate import evaluate

    t = sp.Symbol("t", real=True)
    value = float(evaluate(getattr(sp, name)(t), {t: 0.3}))
    assert value == pytest.approx(float(getattr(sp, name)(sp.Rational(3, 10)).evalf()), rel=1e-12, abs=1e-15)
    assert np.isfinite(value)


# Errors that teach ------------------------------------------------------------------------

n = sp.Symbol("n", integer=True, positive=True)
i, j, k = sp.symbols("i j k", integer=True)
x = sp.IndexedBase("x", shape=(n,), real=True)
A = sp.IndexedBase("A", shape=(n, n), real=True)


def test_an_undeclared_index_names_it_and_shows_the_indices_line_to_add():
    with pytest.raises(DerivationError) as error:
        Derivation(slug="no-indices", title="t", topic="T", lhs=sp.Derivative(sp.Sum(x[k] ** 2, (k, 1, n)), x[i]),
                   steps=[Step(2 * x[i], "power rule")], sizes={n: Size()})
    assert str(error.value) == (
        "derivation 'no-indices', left-hand side: the free index i is not declared; add indices={i: n} to the "
        "Derivation (each free index and the size it runs to, 1..size)")


def test_the_indices_line_to_add_keeps_the_declared_ones_and_reads_sizes_off_shapes():
    m = sp.Symbol("m", integer=True, positive=True)
    B = sp.IndexedBase("B", shape=(n, m), real=True)
    with pytest.raises(DerivationError, match=r"left-hand side: the free index j is not declared; add indices=\{i: n, j: m\}"):
        Derivation(slug="half-declared", title="t", topic="T", lhs=B[i, j], steps=[Step(B[i, j], "nothing")],
                   sizes={n: Size(), m: Size()}, indices={i: n})


def test_an_undeclared_index_in_a_claim_is_named_with_the_claim():
    from symformer import Claim

    with pytest.raises(DerivationError, match=r"claim 'symmetric': the free index j is not declared; add indices=\{i: n, j: n\}"):
        Derivation(slug="claim-index", title="t", topic="T", lhs=x[i], steps=[Step(x[i], "nothing")],
                   claims=[Claim("symmetric", A[i, j], A[j, i])], sizes={n: Size()}, indices={i: n})


def test_an_index_a_claim_declares_for_itself_is_accepted():
    from symformer import Claim

    d = Derivation(slug="claim-own-index", title="t", topic="T", lhs=x[i], steps=[Step(x[i], "nothing")],
                   claims=[Claim("x_j - x_j = 0", x[j] - x[j], 0, indices={j: n})], sizes={n: Size()}, indices={i: n})
    assert verify(d).ok


def test_an_unsupported_function_is_named_with_the_list_of_supported_ones():
    t = sp.Symbol("t", real=True)
    with pytest.raises(DerivationError) as error:
        Derivation(slug="gamma-derivative", title="t", topic="T", lhs=sp.Derivative(sp.gamma(t), t),
                   steps=[Step(sp.gamma(t) * sp.polygamma(0, t), "derivative of the gamma function")])
    message = str(error.value)
    assert message.startswith("derivation 'gamma-derivative', left-hand side: the function gamma cannot be evaluated")
    assert f"({', '.join(evaluable_functions())})" in message


def test_an_unsupported_function_in_a_step_names_the_step():
    t = sp.Symbol("t", real=True)
    with pytest.raises(DerivationError, match=r"derivation 'gamma-step', step 2: the function gamma cannot be evaluated"):
        Derivation(slug="gamma-step", title="t", topic="T", lhs=t,
                   steps=[Step(t, "same"), Step(sp.gamma(t + 1) / sp.gamma(t), "the gamma recursion")])


def test_the_built_in_course_passes_the_new_validation():
    from symformer import catalog

    assert len(catalog()) >= 30


# Counterexamples, levels ------------------------------------------------------------------

def test_a_matrix_counterexample_numbers_its_entry_from_1_and_shows_matrices_as_matrices():
    from symformer.engine.report import example_text

    text = example_text({"sizes": {"N": 2}, "indices": {"entry": [1, 0]},
                         "inputs": {"X": [["1/2", "-3/4"], ["2", "1/3"]], "v": [0.5, 0.25]}, "lhs": 1.0, "rhs": 2.0})
    assert text.splitlines() == [
        "at N = 2; entry (2, 1)",
        "  X = [0.5  -0.75]",
        "      [  2    1/3]",
        "  v = [0.5, 0.25]",
        "  left side = 1, right side = 2",
    ]


def test_a_large_matrix_shows_its_corner_and_says_so():
    from symformer.engine.report import example_text

    big = [[str(r * 10 + c) for c in range(8)] for r in range(8)]
    lines = example_text({"sizes": {}, "indices": {}, "inputs": {"M": big}, "lhs": 0.0, "rhs": 1.0}).splitlines()
    assert lines[0] == "M = [  0    1    2    3    4    5  ...] (8 x 8, top-left corner)"
    assert len(lines) == 8 and lines[-2].strip() == "[...  ...  ...  ...  ...  ...  ...]"


def test_a_wrong_matrix_step_reports_its_inputs_as_matrices():
    N = sp.Symbol("N", integer=True, positive=True)
    X = sp.MatrixSymbol("X", N, N)
    d = Derivation(slug="wrong-transpose", title="t", topic="T", lhs=X * X.T, steps=[Step(X.T * X, "wrong")],
                   sizes={N: Size(prove=(2,), numeric=2)})
    lines = verify(d).describe_failures().splitlines()
    assert lines[1].startswith("  counterexample: at N = 2; entry (") and "entry (0" not in lines[1]
    assert lines[2].startswith("    X = [") and lines[3].startswith("        [")


def _course(tmp_path, text, name="mine.py"):
    path = tmp_path / name
    path.write_text(text)
    return path


MIXED = '''
import sympy as sp
from symformer import Claim, Derivation, Size, Step
n = sp.Symbol("n", integer=True, positive=True)
i = sp.Symbol("i", integer=True)
x = sp.IndexedBase("x", shape=(n,), real=True)
X = sp.MatrixSymbol("X", n, n)
mixed = Derivation(slug="mixed-levels", title="t", topic="Mine", lhs=2 * x[i], steps=[Step(x[i] + x[i], "twice")],
                   claims=[Claim("det(X X^T) is det(X) squared", sp.Determinant(X * X.T), sp.Determinant(X) ** 2)],
                   sizes={n: Size(prove=(1, 2), numeric=4)}, indices={i: n})
'''


def test_list_says_the_level_is_the_weakest_check_and_show_gives_each(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "cache"))
    path = _course(tmp_path, MIXED)
    assert main(["verify", "--quiet", str(path)]) == 0
    capsys.readouterr()
    assert main(["list", str(path)]) == 0
    assert capsys.readouterr().out.split("Mine", 1)[1].strip() == "weakest of 2 checks: proved for n in {1, 2}"
    assert main(["show", "mixed-levels", "--path", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.split("\n\n")[-1].splitlines() == [
        "Verified: weakest of 2 checks: proved for n in {1, 2}",
        "  proved for all n        step 1",
        "  proved for n in {1, 2}  claim 'det(X X^T) is det(X) squared'",
    ]


# Paths, shadowing -------------------------------------------------------------------------

GOOD = '''
import sympy as sp
from symformer import Derivation, Size, Step
t = sp.Symbol("t", real=True)
good = Derivation(slug="{slug}", title="t", topic="Mine", lhs=sp.Derivative(t ** 2, t), steps=[Step(2 * t, "power rule")])
'''


def test_a_file_given_twice_or_beside_its_folder_is_verified_once(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "cache"))
    path = _course(tmp_path, GOOD.format(slug="square-once"))
    assert main(["verify", "--quiet", str(path), str(path), str(tmp_path), str(tmp_path / "." / path.name)]) == 0
    out, err = capsys.readouterr()
    assert "1 passed, 0 failed" in out and "also defined" not in err


def test_a_user_slug_shadowing_a_built_in_one_is_an_error_naming_both(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "cache"))
    path = _course(tmp_path, GOOD.format(slug="softmax-jacobian"))
    assert main(["verify", str(path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {path}: derivation 'softmax-jacobian' has the slug of a built-in derivation (in softmax.py); "
        "give it another slug, or pass --allow-shadowing to use yours in its place")
    assert main(["list", str(path)]) == 2


def test_allow_shadowing_lets_the_users_derivation_take_the_name(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "cache"))
    path = _course(tmp_path, GOOD.format(slug="softmax-jacobian"))
    assert main(["verify", "--quiet", "--allow-shadowing", str(path), "softmax-jacobian"]) == 0
    out = capsys.readouterr().out
    assert "1 passed, 0 failed" in out and "softmax-jacobian  1 " in out  # one step: the user's, not the course's five


def test_the_built_in_slugs_read_from_source_are_the_catalogs():
    from symformer import catalog
    from symformer.engine.catalog import builtin_slugs

    assert sorted(builtin_slugs()) == sorted(catalog())


# symformer new ----------------------------------------------------------------------------

def test_new_writes_a_starter_that_verifies_as_written_with_a_definition_a_claim_and_a_gradient(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    assert main(["new", "my-softplus"]) == 0
    assert capsys.readouterr().err.strip() == "wrote my_softplus.py; check it with: symformer verify my_softplus.py"
    from symformer.engine.catalog import discover

    (starter,) = discover([tmp_path / "my_softplus.py"]).derivations
    assert starter.slug == "my-softplus" and starter.definitions and len(starter.steps) == 1
    assert len(starter.claims) == 1 and type(starter.result).__name__ == "Gradient"
    report = verify(starter)
    assert report.ok, report.describe_failures()
    assert [c.level for c in report.checks] == [
        "proved for all n", "proved for all n", "matches the independent NumPy implementation at n = 64"]
    assert main(["verify", "--quiet", "my_softplus.py"]) == 0


@pytest.mark.parametrize("argv, message", [
    (["new", "My_Softplus"], "error: symformer new: 'My_Softplus' is not a derivation name; use lowercase words joined by '-', like 'my-softplus'"),
    (["new", "softmax-jacobian"], "error: symformer new: 'softmax-jacobian' is the name of a built-in derivation; choose another name"),
], ids=["bad-name", "built-in-name"])
def test_new_refuses_a_bad_name(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == message
    assert list(tmp_path.iterdir()) == []


def test_new_does_not_overwrite_a_file_without_force(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.py").write_text("# my work\n")
    assert main(["new", "mine"]) == 2
    assert capsys.readouterr().err.strip() == "error: mine.py exists; choose another name, or pass --force to replace it"
    assert (tmp_path / "mine.py").read_text() == "# my work\n"
    assert main(["new", "mine", "--force"]) == 0 and 'slug="mine"' in (tmp_path / "mine.py").read_text()


# verify --watch ---------------------------------------------------------------------------

def test_watch_verifies_only_the_saved_file_again_and_prints_its_new_verdict(tmp_path, capsys, monkeypatch):
    from symformer.cli import watch as watching

    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "cache"))
    edited = _course(tmp_path, GOOD.format(slug="square-edited"), "edited.py")
    _course(tmp_path, GOOD.format(slug="square-untouched"), "untouched.py")
    saves = iter([lambda: edited.write_text(GOOD.format(slug="square-edited").replace("2 * t", "3 * t + 1")), lambda: None])

    def sleep(seconds):
        next(saves)()

    real_watch = watching.watch
    monkeypatch.setattr(watching, "watch", lambda targets, run: real_watch(targets, run, rounds=2, sleep=sleep))
    assert main(["verify", "--watch", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    first, second = out.split("\n\nderivation ", 1)[0], out.split("passed", 1)[1]
    assert "square-edited" in first and "square-untouched" in first and "2 passed, 0 failed" in first
    assert "square-untouched" not in second.split("\n\n")[0]
    assert "0 passed, 1 failed" in second and "derivation 'square-edited', step 1: " in second
    assert err.count("changed: ") == 1 and f"changed: {edited.resolve()}" in err


def test_a_save_that_breaks_the_file_is_reported_and_the_watch_goes_on(tmp_path, capsys, monkeypatch):
    from symformer.cli import watch as watching

    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "cache"))
    path = _course(tmp_path, GOOD.format(slug="square-broken"), "broken.py")
    saves = iter([lambda: path.write_text("raise RuntimeError('half-written')\n"),
                  lambda: path.write_text(GOOD.format(slug="square-broken") + "\n")])
    real_watch = watching.watch
    monkeypatch.setattr(watching, "watch",
                        lambda targets, run: real_watch(targets, run, rounds=2, sleep=lambda seconds: next(saves)()))
    assert main(["verify", "--watch", "--quiet", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "broken.py, line 1: could not be imported: RuntimeError: half-written" in err
    assert out.count("1 passed, 0 failed") == 2


def test_watch_needs_a_path(capsys):
    assert main(["verify", "--watch"]) == 2
    assert "--watch needs the files or folders to watch" in capsys.readouterr().err


def test_watch_in_a_process_shows_the_verdict_of_a_save(tmp_path):
    import os

    path = _course(tmp_path, GOOD.format(slug="square-live"), "live.py")
    env = {**os.environ, "SYMFORMER_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "symformer", "verify", "--watch", "--quiet", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()

    def next_verdict() -> str:
        while True:  # bounded: a watch that stops printing fails the test instead of hanging it
            line = lines.get(timeout=120)
            if "passed" in line:
                return line

    try:
        assert "1 passed, 0 failed" in next_verdict()
        path.write_text(GOOD.format(slug="square-live").replace("2 * t", "3 * t + 1"))
        assert "0 passed, 1 failed" in next_verdict()
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_the_courses_own_files_given_as_paths_shadow_nothing(tmp_path, capsys, monkeypatch):
    from symformer.engine.catalog import builtin_folder

    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "cache"))
    copy = tmp_path / "softmax.py"
    copy.write_bytes((builtin_folder() / "softmax.py").read_bytes())
    assert main(["list", str(builtin_folder() / "softmax.py"), str(_course(tmp_path, GOOD.format(slug="mine-too")))]) == 0
    assert main(["list", str(copy)]) == 0
    assert "softmax-jacobian" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["Derivation", "Step", "Claim", "Property", "Witness", "Jacobian", "Gradient", "Size", "Figure"])
def test_the_guide_explains_every_field_of_the_model(name):
    import dataclasses

    import symformer

    text = GUIDE.read_text()
    fields = [f.name for f in dataclasses.fields(getattr(symformer, name))]
    missing = [f for f in fields if f"`{f}`" not in text and f"{f}=" not in text]
    assert missing == [], f"{name} fields the guide does not explain: {missing}"
    assert f"`{name}" in text
