"""A build killed, interrupted or run twice at once leaves a folder the next build can trust.

Each case runs ``python -m symformer build`` on a small derivation in a process group of its own,
holds it in one phase (the derivation's own code waits there while a hold file exists; TeX is
held by a busy loop in the derivation's LaTeX), sends SIGKILL, SIGTERM or SIGINT to the group
as a terminal or a job runner would, and then checks: the PDFs of the earlier good build still
open and are the ones the manifest records, nothing half-written is left where it could be
trusted, the lock is free, and the next build calls up to date only what is.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from symformer.export.compile import PRIVATE_PREFIX, pdf_pages
from symformer.export.figures import FORMATS

ROOT = Path(__file__).resolve().parent.parent
PDFS = ("notes.pdf", "slides.pdf", "slides-handout.pdf")

# ``_hold(phase)`` waits while ``PHASE.hold`` exists beside the file, after writing ``PHASE.reached``.
DEMO = '''
import os
import time
from contextlib import contextmanager
from pathlib import Path

import sympy as sp
from symformer import Derivation, Figure, Property, Size, Step, Witness

HERE = Path(__file__).resolve().parent


def _hold(phase):
    hold = HERE / (phase + ".hold")
    if hold.exists():
        (HERE / (phase + ".reached")).write_text(str(os.getpid()))
        deadline = time.monotonic() + 60
        while hold.exists() and time.monotonic() < deadline:
            time.sleep(0.02)


def _exact(sizes):
    return Witness(True, "a sum of reals is real")


def _numeric(rng, sizes):
    _hold("verification")
    return Witness(True, "a float64 sum is finite")


def bars():
    _hold("figures")
    from matplotlib.figure import Figure as Drawing

    drawing = Drawing(figsize=(3, 2))
    drawing.add_subplot().bar([1, 2, 3], [2, 4, 6])
    return drawing


n = sp.Symbol("n", integer=True, positive=True)
k = sp.Symbol("k", integer=True)
x = sp.IndexedBase("x", shape=(n,), real=True)

double_sum = Derivation(
    slug="double-sum", title="Twice a sum", topic="Demo",
    sizes={n: Size(prove=range(1, 3), numeric=8)},
    lhs=2 * sp.Sum(x[k], (k, 1, n)),
    steps=[Step(sp.Sum(2 * x[k], (k, 1, n)), "a constant factor enters the sum"LATEX)],
    claims=[Property("the sum is real", _exact, _numeric)],
    figures=[Figure("bars", bars, "Twice each value")],
)
'''
# Each typesetting of this display spins TeX for about a second before it goes on.
BUSY = r', latex=r"\count255=0 \loop\advance\count255 by 1 \ifnum\count255<6000000 \repeat 2 \sum_k x_k"'

needs_latex = pytest.mark.skipif(shutil.which("pdflatex") is None or shutil.which("pdfinfo") is None,
                                 reason="needs pdflatex and pdfinfo")


def _demo(folder: Path, busy: bool = False) -> Path:
    """The demo derivation; ``busy``: TeX spins on its display, and it has no figure (nothing to redraw)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "demo.py"
    text = DEMO.replace("LATEX", BUSY if busy else "")
    path.write_text(text.replace('figures=[Figure("bars", bars, "Twice each value")],', "") if busy else text)
    return path


class Build:
    """``python -m symformer build`` in a process group of its own, its output in files."""

    def __init__(self, demo: Path, out: Path, cache: Path, *options: str, site: bool = False):
        options = options if site else (*options, "--no-site")  # the site is not the point here
        self.log = out.parent / f"{out.name}-{time.monotonic_ns()}.err"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SYMFORMER_CACHE_DIR": str(cache)}
        with open(self.log, "wb") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "symformer", "build", str(demo), "-o", str(out),
                                             *options], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=err, env=env, start_new_session=True)

    def signal(self, number: int) -> None:
        os.killpg(self.process.pid, number)

    def finish(self, timeout: float = 120) -> tuple:
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
        return code, self.stderr

    @property
    def stderr(self) -> str:
        return self.log.read_text()


def _run(demo: Path, out: Path, cache: Path, *options: str) -> str:
    code, err = Build(demo, out, cache, *options).finish()
    assert code == 0, err
    assert "Traceback" not in err
    return err


def _wait_for(condition, what: str, build: Build, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if build.process.poll() is not None:
            pytest.fail(f"the build ended before {what}:\n{build.stderr}")
        if time.monotonic() > deadline:
            build.signal(signal.SIGKILL)
            pytest.fail(f"the build did not reach {what} within {timeout} s:\n{build.stderr}")
        time.sleep(0.01)


def _private_pdf_exists(out: Path) -> bool:
    return any(out.glob(f"{PRIVATE_PREFIX}*/*.pdf"))


def _working_in(folder: Path) -> list:
    """The processes whose working folder lies in ``folder`` (TeX runs in a private folder there)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if Path(os.readlink(entry / "cwd")).is_relative_to(folder):
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


def _in_group(group: int) -> list:
    """The live processes of process group ``group``, read from /proc."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":  # field 5 of stat, after the state
            found.append(int(entry.name))
    return found


def _half_written(out: Path) -> list:
    """What an interrupted build may leave: private compile folders and temporary files."""
    return sorted(str(p.relative_to(out)) for p in out.rglob("*")
                  if p.name.startswith(PRIVATE_PREFIX) or p.name.endswith(".tmp"))


def _digests(out: Path) -> dict:
    import hashlib

    return {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in PDFS if (out / name).is_file()}


def _assert_trustworthy(out: Path) -> None:
    """Every PDF opens, and it is the file the manifest records as validated."""
    manifest = json.loads((out / ".symformer-build.json").read_text())
    digests = _digests(out)
    for name in PDFS:
        assert pdf_pages(out / name) >= 1, name
        assert manifest[name]["sha256"] == digests[name], f"{name} is not the PDF the manifest records"


@pytest.fixture(scope="module")
def good_build(tmp_path_factory):
    """A folder built from the demo (PDFs compiled), and the verdict cache that build filled."""
    if shutil.which("pdflatex") is None or shutil.which("pdfinfo") is None:
        pytest.skip("needs pdflatex and pdfinfo")
    base = tmp_path_factory.mktemp("good")
    demo, cache = _demo(base / "course"), base / "cache"
    _run(demo, base / "out", cache)
    _assert_trustworthy(base / "out")
    return base


@pytest.fixture
def copy_of_good(good_build, tmp_path):
    """A private copy of the good build and its warm cache; ``course`` is the good build's own derivation.

    The derivation is not copied: a figure's key follows the module it is drawn by, so a copy of the
    file would be a new figure.
    """
    shutil.copytree(good_build / "out", tmp_path / "out")
    shutil.copytree(good_build / "cache", tmp_path / "cache")
    (tmp_path / "course").symlink_to(good_build / "course")
    return tmp_path


@contextmanager
def _holding(demo: Path, phase: str):
    """Hold the demo's builds in ``phase`` until the block ends; yields the file that says one got there."""
    hold, reached = demo.parent / f"{phase}.hold", demo.parent / f"{phase}.reached"
    hold.write_text("")
    try:
        yield reached
    finally:
        hold.unlink(missing_ok=True)
        reached.unlink(missing_ok=True)


SIGNALS = [pytest.param(signal.SIGKILL, id="SIGKILL"), pytest.param(signal.SIGTERM, id="SIGTERM"),
           pytest.param(signal.SIGINT, id="SIGINT")]


def _assert_stopped(build: Build, number: int, out: Path) -> None:
    code, err = build.finish()
    if number == signal.SIGKILL:
        assert code == -signal.SIGKILL
        return
    assert code == 128 + number, err
    assert "Traceback" not in err
    word = "interrupted" if number == signal.SIGINT else f"stopped by {signal.Signals(number).name}"
    assert err.rstrip().splitlines()[-1] == f"{word}: no file was left half-written; run the command again to finish"
    assert _half_written(out) == []  # a build that was asked to stop cleans up after itself


@pytest.mark.latex
@pytest.mark.slow
@needs_latex
@pytest.mark.parametrize("number", SIGNALS)
def test_killed_during_verification_the_earlier_pdfs_stay_good(copy_of_good, number):
    out, demo, cache = copy_of_good / "out", (copy_of_good / "course").resolve() / "demo.py", copy_of_good / "new-cache"
    before = _digests(out)
    with _holding(demo, "verification") as reached:
        build = Build(demo, out, cache)
        _wait_for(reached.exists, "verification", build)
        build.signal(number)
        _assert_stopped(build, number, out)
    assert _digests(out) == before
    _assert_trustworthy(out)
    err = _run(demo, out, cache)
    assert "waiting for another build" not in err  # the lock died with the build
    assert [f"{name}: up to date" in err for name in PDFS] == [True] * 3
    _assert_trustworthy(out)
    assert _digests(out) == before


@pytest.mark.latex
@pytest.mark.slow
@needs_latex
@pytest.mark.parametrize("number", SIGNALS)
def test_killed_while_drawing_figures_no_half_figure_is_trusted(copy_of_good, number):
    out, demo, cache = copy_of_good / "out", (copy_of_good / "course").resolve() / "demo.py", copy_of_good / "cache"
    before = _digests(out)
    for figure in (out / "figures").iterdir():
        figure.unlink()  # the build must draw them again...
    shutil.rmtree(cache / "figures")  # ...and not copy them from the cache
    with _holding(demo, "figures") as reached:
        build = Build(demo, out, cache)
        _wait_for(reached.exists, "the figures", build)
        build.signal(number)
        _assert_stopped(build, number, out)
    assert _digests(out) == before
    err = _run(demo, out, cache)
    assert _half_written(out) == []
    assert sorted(p.name for p in (out / "figures").iterdir()) == sorted(f"double-sum-bars.{f}" for f in FORMATS)
    assert (out / "figures" / "double-sum-bars.png").read_bytes().startswith(b"\x89PNG")
    # the redrawn figure has the same bytes, so the PDFs that include it are still up to date
    assert [f"{name}: up to date" in err for name in PDFS] == [True] * 3
    _assert_trustworthy(out)


@pytest.mark.latex
@pytest.mark.slow
@needs_latex
@pytest.mark.parametrize("number", SIGNALS)
def test_killed_while_tex_writes_the_pdf_the_old_pdf_stays_and_nothing_lies(copy_of_good, number):
    out, cache = copy_of_good / "out", copy_of_good / "cache"
    before = _digests(out)
    slow = _demo(copy_of_good / "slow", busy=True)
    build = Build(slow, out, cache, "--allow-unverified")  # the reader refuses the loop: only unverified, it reaches TeX
    # the title frame is written: TeX has the PDF open and spins in the derivation's frame
    _wait_for(lambda: _private_pdf_exists(out), "a PDF half written by TeX", build)
    if Path("/proc/self/cwd").exists():
        assert _working_in(out), "TeX should be running when the signal comes"
    build.signal(number)
    _assert_stopped(build, number, out)
    deadline = time.monotonic() + 10
    while _working_in(out) and time.monotonic() < deadline:  # killed processes take a moment to go
        time.sleep(0.05)
    assert _working_in(out) == [], "TeX outlived the build"
    assert _digests(out) == before  # the half-written PDF never reached the folder
    # slides.tex now holds the slow display, but the PDF in place is still the good build's:
    # rebuilt from the good derivation, every PDF is up to date and proves it by its digest
    err = _run((copy_of_good / "course").resolve() / "demo.py", out, cache)
    assert [f"{name}: up to date" in err for name in PDFS] == [True] * 3
    assert _half_written(out) == []  # a killed build's private folder is removed by the next build
    _assert_trustworthy(out)
    assert _digests(out) == before


@pytest.mark.latex
@pytest.mark.slow
@needs_latex
def test_two_builds_at_once_into_one_folder_take_turns(tmp_path):
    demo, out, cache = _demo(tmp_path / "course"), tmp_path / "out", tmp_path / "cache"
    first, second = Build(demo, out, cache, site=True), Build(demo, out, cache, site=True)
    (code_1, err_1), (code_2, err_2) = first.finish(), second.finish()
    assert (code_1, code_2) == (0, 0), err_1 + err_2
    waited = [err for err in (err_1, err_2) if "waiting for another build into" in err]
    assert len(waited) == 1, err_1 + err_2
    assert [f"{name}: up to date" in waited[0] for name in PDFS] == [True] * 3  # the other one made them
    assert "Traceback" not in err_1 + err_2
    _assert_trustworthy(out)


def test_a_second_build_waits_for_the_first_then_builds(tmp_path):
    demo, out, cache = _demo(tmp_path / "course"), tmp_path / "out", tmp_path / "cache"
    hold = demo.parent / "figures.hold"
    hold.write_text("")
    first = Build(demo, out, cache, "--no-pdf")
    _wait_for((demo.parent / "figures.reached").exists, "the figures", first)
    second = Build(demo, out, cache, "--no-pdf")
    _wait_for(lambda: "waiting for another build into" in second.stderr, "the wait for the lock", second)
    assert f"(process {first.process.pid})" in second.stderr
    hold.unlink()
    (code_1, err_1), (code_2, err_2) = first.finish(), second.finish()
    assert (code_1, code_2) == (0, 0), err_1 + err_2
    assert err_2.index("waiting for another build") < err_2.index("[1/1] double-sum: ok")
    assert (out / "notes.tex").is_file() and _half_written(out) == []


def test_a_second_build_refuses_after_its_wait_and_the_first_finishes(tmp_path):
    demo, out, cache = _demo(tmp_path / "course"), tmp_path / "out", tmp_path / "cache"
    hold = demo.parent / "figures.hold"
    hold.write_text("")
    first = Build(demo, out, cache, "--no-pdf")
    _wait_for((demo.parent / "figures.reached").exists, "the figures", first)
    code, err = Build(demo, out, cache, "--no-pdf", "--wait", "0.3").finish()
    assert code == 1 and "Traceback" not in err
    assert err.rstrip().splitlines()[-1] == (
        f"error: another build into {out} (process {first.process.pid}) is still running after 0.3 s; "
        "let it finish and build again, or build into another folder")
    hold.unlink()
    code, err = first.finish()
    assert code == 0, err
    assert (out / "notes.tex").is_file() and _half_written(out) == []


def test_ctrl_c_while_worker_processes_verify_prints_no_traceback(tmp_path):
    demo = _demo(tmp_path / "course")
    (demo.parent / "other.py").write_text(demo.read_text().replace('slug="double-sum"', 'slug="double-sum-again"'))
    hold = demo.parent / "verification.hold"
    hold.write_text("")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SYMFORMER_CACHE_DIR": str(tmp_path / "cache")}
    verify = subprocess.Popen([sys.executable, "-m", "symformer", "verify", "--jobs", "2", str(demo.parent)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (demo.parent / "verification.reached").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(verify.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group gets it
    _, err = verify.communicate(timeout=60)
    assert verify.returncode == 130
    assert err.decode().splitlines() == ["interrupted: no file was left half-written; run the command again to finish"]
    deadline = time.monotonic() + 10
    while _in_group(verify.pid) and time.monotonic() < deadline:  # killed workers take a moment to go
        time.sleep(0.05)
    assert _in_group(verify.pid) == []  # the workers went with it


def test_a_forked_worker_starts_with_the_default_sigterm_and_ignores_ctrl_c():
    # A worker that inherited a Python-level SIGTERM handler could lose the SIGTERM of Pool.terminate()
    # (CPython clears signals pending at fork), and the pool would wait for it forever.
    from symformer.cli.main import _signals_stop_cleanly

    # a signal ignored when the program started (nohup, a background job) stays ignored, in the workers too
    expected = {number: signal.SIG_IGN if signal.getsignal(number) is signal.SIG_IGN else signal.SIG_DFL
                for number in (signal.SIGTERM, signal.SIGHUP)}
    reader, writer = os.pipe()
    with _signals_stop_cleanly():
        child = os.fork()
        if child == 0:  # the worker: report and leave at once
            report = [signal.getsignal(signal.SIGTERM) is expected[signal.SIGTERM],
                      signal.getsignal(signal.SIGHUP) is expected[signal.SIGHUP],
                      signal.getsignal(signal.SIGINT) not in (signal.SIG_DFL, signal.default_int_handler)]
            os.write(writer, json.dumps(report).encode())
            os._exit(0)
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # the program itself still stops cleanly
    os.close(writer)
    os.waitpid(child, 0)
    assert json.loads(os.read(reader, 100)) == [True, True, True]
    os.close(reader)


POOLS = '''
import multiprocessing, sys
sys.path.insert(0, sys.argv[1])
from symformer.cli.main import _signals_stop_cleanly

with _signals_stop_cleanly():
    for _ in range(100):  # terminate() right after the fork: the window where a SIGTERM was lost
        with multiprocessing.get_context("fork").Pool(2) as pool:
            assert list(pool.imap(abs, [-1])) == [1]
print("done")
'''


def test_pools_made_under_the_programs_signal_handlers_always_terminate(tmp_path):
    script = tmp_path / "pools.py"
    script.write_text(POOLS)
    done = subprocess.run([sys.executable, str(script), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert (done.returncode, done.stdout, done.stderr) == (0, "done\n", "")
