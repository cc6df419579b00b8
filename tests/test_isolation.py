"""A derivation file's code cannot stop, hang or fool a run: its failure is its own error, named with its cause.

Every test writes a folder with one good derivation and one file whose code misbehaves, then asserts
that the good one is still verified and reported, and the bad one is named.
"""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from symformer.cli.main import main

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
        sizes={n: Size(prove=range(1, 3), numeric=8)}, indices={i: n},
    )
    """
)

WITH_PROPERTY = textwrap.dedent(
    """
    import sympy as sp
    from symformer import Derivation, Property, Size, Step, Witness

    n = sp.Symbol("n", integer=True, positive=True)
    k = sp.Symbol("k", integer=True)
    x = sp.IndexedBase("x", shape=(n,), real=True)

    def numeric(rng, sizes):
        {body}

    with_property = Derivation(
        slug="with-property", title="t", topic="Mine", lhs=sp.Sum(x[k], (k, 1, n)),
        steps=[Step(sp.Sum(x[k], (k, 1, n)), "the same")], sizes={{n: Size(prove=range(1, 3), numeric=4)}},
        claims=[Property("a fact", exact=lambda sizes: None, numeric=numeric)],
    )
    """
)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def course(tmp_path):
    folder = tmp_path / "course"
    folder.mkdir()
    (folder / "good.py").write_text(GOOD)
    return folder


def test_sys_exit_at_import_is_that_files_error_not_a_pass(course, capsys):
    (course / "exits.py").write_text("import sys\nsys.exit(0)\n")
    assert main(["verify", str(course)]) == 1
    out, err = capsys.readouterr()
    assert "square-gradient" in out and "1 passed, 0 failed" in out
    assert "exits.py, line 2: could not be imported: it called sys.exit(0)" in err


def test_an_import_that_never_ends_is_stopped_and_named(course, capsys, monkeypatch):
    import symformer.engine.catalog as catalog

    monkeypatch.setattr(catalog, "IMPORT_TIME_BOUND", 0.5)
    (course / "loops.py").write_text("x = 0\nwhile True:\n    x += 1\n")
    started = time.perf_counter()
    assert main(["verify", str(course)]) == 1
    assert time.perf_counter() - started < 30
    out, err = capsys.readouterr()
    assert "1 passed, 0 failed" in out
    assert re.search(r"loops.py, line [23]: did not finish importing within 0.5 s", err)


def test_print_at_import_or_in_a_witness_keeps_json_on_stdout_clean(course, capfd):
    (course / "chatty.py").write_text('print("hello from the import")\n'
                                      + WITH_PROPERTY.format(body='print("hello from the witness"); return Witness(True)'))
    assert main(["verify", "--json", "--quiet", str(course)]) == 0
    out, err = capfd.readouterr()
    document = json.loads(out)
    assert document["ok"] is True and len(document["derivations"]) == 2
    assert "hello from the import" in err


@pytest.mark.parametrize("body, cause", [
    ("return 1 / 0", "the numeric witness raised ZeroDivisionError: division by zero"),
    ("return True", "the numeric witness returned bool"),
    ("import sys; sys.exit(3)", "the numeric witness called sys.exit(3)"),
    ("import os; os._exit(0)", "the worker verifying it ended (exit code 0) without a report"),
], ids=["raises", "returns-bool", "exits", "kills-the-process"])
def test_user_code_failing_in_a_check_is_that_derivations_error(course, capsys, body, cause):
    (course / "broken.py").write_text(WITH_PROPERTY.format(body=body))
    assert main(["verify", str(course)]) == 1
    out, err = capsys.readouterr()
    assert "1 passed, 1 failed" in out
    assert "derivation 'with-property'" in out and cause in out
    assert "Traceback" not in out + err


def test_a_witness_the_in_process_timer_cannot_reach_is_stopped_by_the_wall_clock(course, capsys, monkeypatch):
    import symformer.engine.batch as batch

    monkeypatch.setattr(batch, "WALL_CLOCK_FLOOR", 2.0)
    monkeypatch.setattr(batch, "WALL_CLOCK_PER_CHECK", 0.0)
    # the witness blocks the timer's signal, as code stuck in C or a library with its own alarms would
    body = "import signal, time; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM}); time.sleep(600)"
    (course / "stuck.py").write_text(WITH_PROPERTY.format(body=body))
    started = time.perf_counter()
    assert main(["verify", "--time-bound", "0.1", str(course)]) == 1
    assert time.perf_counter() - started < 60
    out, _ = capsys.readouterr()
    assert "1 passed, 1 failed" in out
    assert "derivation 'with-property': did not finish within 2 s" in out


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX process groups")
def test_ctrl_c_still_stops_the_run(course):
    (course / "slow.py").write_text(WITH_PROPERTY.format(body="import time; time.sleep(60)"))
    process = subprocess.Popen([sys.executable, "-m", "symformer", "verify", "--no-cache", "--time-bound", "120", str(course)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(4)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal sends to the whole foreground group
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
