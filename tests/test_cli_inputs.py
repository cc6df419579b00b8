"""Bad option values and unusable paths: each gets its exit code and a one-line message, never a traceback.

Option values are checked before any work (exit 2, the message names the option and the range it
accepts, for every subcommand that takes the option). An output that cannot be written (a
read-only file system, a full disk, a path through a file) is exit 1 with one line naming the
path and what to do. Tests run as root in CI, where chmod does not stop a write, so read-only and
full file systems are simulated by making the file-creating calls fail as the kernel would.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from symformer.cli.main import main

ROOT = Path(__file__).resolve().parent.parent

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
    steps=[Step(sp.Sum(2 * x[k], (k, 1, n)), "a constant factor enters the sum")],
    figures=[Figure("bars", bars, "Twice each value")],
)
'''
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "the"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr("symformer.engine.cache._warned", False)  # the warning comes once per process


@pytest.fixture
def files(tmp_path):
    """The paths a table row may name: {demo}, {vocab}, {corpus}, {file} (a plain file), {tex}, {tmp}."""
    (tmp_path / "demo.py").write_text(DEMO)
    (tmp_path / "vocab.txt").write_text("".join(t + "\n" for t in VOCAB))
    (tmp_path / "corpus.txt").write_text("hug hug pug pun bun\n")
    (tmp_path / "a-file").write_text("not a folder\n")
    (tmp_path / "homework.tex").write_text("\\begin{align*} x + x &= 2 x \\end{align*}\n")
    return {"demo": tmp_path / "demo.py", "vocab": tmp_path / "vocab.txt", "corpus": tmp_path / "corpus.txt",
            "file": tmp_path / "a-file", "tex": tmp_path / "homework.tex", "tmp": tmp_path}


def _run(argv, capsys, stdin: str | None = None, monkeypatch=None) -> tuple:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode("latin-1")), encoding="latin-1"))
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err: str) -> str:
    """The error: the last line of stderr, the only one that says ``error:``, with no traceback anywhere."""
    assert "Traceback" not in err
    lines = err.rstrip("\n").splitlines()
    assert lines and lines[-1].startswith("error: "), err
    assert [line for line in lines if line.startswith("error:")] == [lines[-1]], err
    return lines[-1]


TIME = "positive and at most 86400 (seconds)"
SEED = "a whole number from 0 to 4294967295"
JOBS = "a whole number from 1 to 256"
WAIT = "from 0 to 86400 (seconds)"

BAD_OPTIONS = [
    # (argv, the message, which names the option and what it accepts)
    *[(["verify", "{demo}", "--time-bound", v], f"--time-bound must be {TIME}, got '{v}'")
      for v in ("nan", "inf", "1e300", "0", "-1", "abc", "")],
    (["verify", "{demo}", "--time-bound=-inf"], f"--time-bound must be {TIME}, got '-inf'"),
    (["verify", "{demo}", "--time-bound", "-inf"], "symformer verify: argument --time-bound: expected one argument; "
                                                   "a value that starts with '-' is written --time-bound=VALUE"),
    *[(["verify", "{demo}", "--seed", v], f"--seed must be {SEED}, got '{v}'")
      for v in ("-5", "4294967296", "1.5", "many")],
    *[(["check", "{tex}", option, v], f"{option} must be {wanted}, got '{v}'")
      for option, wanted, v in (("--time-bound", TIME, "nan"), ("--time-bound", TIME, "0"), ("--seed", SEED, "-5"))],
    *[(["verify", "{demo}", "--jobs", v], f"--jobs must be {JOBS}, got '{v}'") for v in ("0", "-1", "257", "two")],
    *[(["build", "{demo}", "-o", "{tmp}/out", "--jobs", v], f"--jobs must be {JOBS}, got '{v}'") for v in ("0", "-1")],
    *[(["build", "{demo}", "-o", "{tmp}/out", "--wait", v], f"--wait must be {WAIT}, got '{v}'")
      for v in ("-1", "nan", "inf", "1e300", "soon")],
    *[(["tokenize", "--vocab", "{vocab}", "--max-chars", v, "x"],
       f"--max-chars must be a whole number from 1 to 1000000, got '{v}'") for v in ("0", "-3", "ten")],
    *[(["wordpiece", "train", "{corpus}", "--vocab-size", v, "-o", "{tmp}/v.txt"],
       f"--vocab-size must be a whole number from 1 to 10000000, got '{v}'") for v in ("0", "-1", "many")],
    (["wordpiece", "train", "{corpus}", "--vocab-size", "20", "--min-frequency", "0", "-o", "{tmp}/v.txt"],
     "--min-frequency must be a whole number from 1 to 1000000000, got '0'"),
    (["wordpiece", "train", "{corpus}", "--vocab-size", "20", "--special-tokens", "", "-o", "{tmp}/v.txt"],
     "--special-tokens '' does not include the unknown token [UNK], which tokenize needs; add it, or name yours "
     "with --unk-token"),
    (["wordpiece", "train", "{corpus}", "--vocab-size", "20", "--special-tokens", "[UNK],[A B]", "-o", "{tmp}/v.txt"],
     "--special-tokens: '[A B]' contains whitespace; a token is one line of vocab.txt, without spaces"),
    (["wordpiece", "train", "{corpus}", "--vocab-size", "20", "-o", "{tmp}/v.txt", "--merges", "{tmp}/v.txt"],
     "-o and --merges both name {tmp}/v.txt; give them different files"),
    (["wordpiece", "train", "{corpus}", "--vocab-size", "20", "-o", "{corpus}"],
     "{corpus} is a corpus file and would be overwritten by the output; write elsewhere"),
    (["wordpiece", "train", "{tmp}", "--vocab-size", "20", "-o", "{tmp}/v.txt"],
     "{tmp}: is a directory; give the corpus as UTF-8 text files"),
    (["wordpiece", "train", "{corpus}", "--vocab-size", "20", "-o", "{tmp}/no/v.txt"],
     "{tmp}/no/v.txt: the directory {tmp}/no does not exist; create it first"),
    (["wordpiece", "train", "{corpus}", "--vocab-size", "20", "-o", "{tmp}/v.txt", "--merges", "{tmp}/no/m.tsv"],
     "{tmp}/no/m.tsv: the directory {tmp}/no does not exist; create it first"),
    *[(argv, message) for argv, message in [
        (["build", "{demo}", "-o", ""], "-o needs a path, got ''"),
        (["export", "double-sum", "--path", "{demo}", "-o", ""], "-o needs a path, got ''"),
        (["export", "double-sum", "--path", ""], "--path needs a path, got ''"),
        (["show", "double-sum", "--path", " "], "--path needs a path, got ' '"),
        (["verify", ""], "an empty TARGET; give a derivation file, a folder or a built-in name"),
        (["tokenize", "--vocab", "", "x"], "--vocab needs a path, got ''"),
        (["wordpiece", "train", "", "--vocab-size", "20", "-o", "{tmp}/v.txt"], "CORPUS needs a path, got ''"),
        (["wordpiece", "train", "{corpus}", "--vocab-size", "20", "-o", ""], "-o needs a path, got ''"),
    ]],
    (["build", "{demo}", "-o", "-x"], "symformer build: argument -o/--output: expected one argument; a value that "
                                      "starts with '-' is written --output=VALUE"),
    (["tokenize", "--vocab", "{vocab}", "caf\udce9 au lait"],
     "the text: not UTF-8 text (byte 0xe9 at offset 3); convert it to UTF-8, e.g. iconv -f LATIN1 -t UTF-8"),
]


@pytest.mark.parametrize("argv, message", BAD_OPTIONS, ids=[" ".join(a[1:]).replace("{", "").replace("}", "")
                                                         for a, _ in BAD_OPTIONS])
def test_a_bad_option_value_is_a_usage_error_naming_the_option(argv, message, files, capsys):
    code, out, err = _run([a.format(**files) for a in argv], capsys)
    assert code == 2
    assert err == f"error: {message.format(**files)}\n"  # one line, before any work: no progress line
    assert out == ""
    assert not (files["tmp"] / "v.txt").exists()  # nothing was written


def test_text_on_standard_input_that_is_not_utf8_names_the_byte(files, capsys, monkeypatch):
    code, out, err = _run(["tokenize", "--vocab", files["vocab"]], capsys, stdin="the café", monkeypatch=monkeypatch)
    assert (code, out) == (2, "")
    assert err == ("error: standard input: not UTF-8 text (byte 0xe9 at offset 7); convert it to UTF-8, "
                   "e.g. iconv -f LATIN1 -t UTF-8\n")


# Unusable paths -------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, message", [
    (["build", "{demo}", "-o", "{file}/out", "--no-pdf"],
     "cannot create the output folder {file}/out: Not a directory; a part of the path is a file, not a folder; "
     "choose another path"),
    (["export", "double-sum", "--path", "{demo}", "-o", "{file}/x.tex"],
     "cannot write {file}/x.tex: {file} is a file, not a folder; choose another path"),
    (["wordpiece", "train", "{corpus}", "--vocab-size", "20", "-o", "{file}/vocab.txt"],
     "cannot write {file}/vocab.txt: {file} is a file, not a folder; choose another path"),
    (["wordpiece", "train", "{corpus}", "--vocab-size", "20", "-o", "{tmp}/v.txt", "--merges", "{file}/m.tsv"],
     "cannot write {file}/m.tsv: {file} is a file, not a folder; choose another path"),
    (["new", "{file}/my-thing"], "cannot write {file}/my_thing.py: {file} is a file, not a folder; choose another path"),
], ids=["build", "export", "wordpiece-vocab", "wordpiece-merges", "new"])
def test_an_output_path_through_a_file_is_named_before_any_work(argv, message, files, capsys):
    code, out, err = _run([a.format(**files) for a in argv], capsys)
    assert code == 1
    assert _one_line_error(err) == f"error: {message.format(**files)}"
    assert "[1/1]" not in err  # refused before the verification
    assert not (files["tmp"] / "v.txt").exists()


def test_export_into_a_named_pipe_writes_into_it(files, capsys):
    import threading

    pipe = files["tmp"] / "pipe"
    os.mkfifo(pipe)
    received = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text()))
    reader.start()
    code, out, err = _run(["export", "double-sum", "--path", files["demo"], "--format", "md", "-o", pipe], capsys)
    reader.join(timeout=60)
    assert code == 0, err
    assert received and received[0].startswith("## Twice a sum")
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode)  # still the pipe, not a file put in its place


def test_export_onto_a_symbolic_link_replaces_the_file_it_points_to(files, capsys):
    target, link = files["tmp"] / "real.md", files["tmp"] / "link.md"
    target.write_text("old")
    link.symlink_to(target.name)
    assert _run(["export", "double-sum", "--path", files["demo"], "--format", "md", "-o", link], capsys)[0] == 0
    assert link.is_symlink() and os.readlink(link) == "real.md"
    assert target.read_text().startswith("## Twice a sum")


def test_a_corpus_that_is_a_pipe_is_refused_before_training(files, capsys):
    pipe = files["tmp"] / "pipe"
    os.mkfifo(pipe)
    code, _, err = _run(["wordpiece", "train", pipe, "--vocab-size", "20", "-o", files["tmp"] / "v.txt"], capsys)
    assert code == 2
    assert err == f"error: {pipe}: not a regular file (a pipe or a device); give the corpus as text files\n"


class _Refusing:
    """Makes every call that would create, change or remove a file below ``root`` fail with ``code``."""

    WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def __init__(self, monkeypatch, root: Path, code: int = errno.EROFS):
        self.root, self.code = Path(root).resolve(), code
        real_open, real_os_open = builtins.open, os.open

        def guarded_open(file, mode="r", *args, **kwargs):
            if isinstance(file, (str, os.PathLike)) and set(mode) & set("wax+"):
                self.check(file)
            return real_open(file, mode, *args, **kwargs)

        def guarded_os_open(path, flags, *args, **kwargs):
            if flags & self.WRITE_FLAGS:
                self.check(path)
            return real_os_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", guarded_open)
        monkeypatch.setattr(io, "open", guarded_open)
        monkeypatch.setattr(os, "open", guarded_os_open)
        for name in ("replace", "rename", "mkdir", "unlink", "rmdir", "symlink"):
            real = getattr(os, name)
            monkeypatch.setattr(os, name, self.guard(real))

    def guard(self, real):
        def guarded(path, *args, **kwargs):
            self.check(path)
            return real(path, *args, **kwargs)

        return guarded

    def check(self, path) -> None:
        if Path(os.path.abspath(path)).is_relative_to(self.root):
            raise OSError(self.code, os.strerror(self.code), str(path))


def test_a_build_into_a_read_only_folder_names_it(files, capsys, monkeypatch):
    out = files["tmp"] / "out"
    out.mkdir()
    _Refusing(monkeypatch, out)
    code, _, err = _run(["build", files["demo"], "-o", out, "--no-pdf"], capsys)
    assert code == 1
    assert _one_line_error(err) == (f"error: cannot write into the output folder {out}: Read-only file system; "
                                    "the file system is read-only; choose a location you can write to")
    assert "[1/1]" not in err  # refused before the verification


def test_an_unchanged_rebuild_needs_no_write_access(files, capsys, monkeypatch):
    out = files["tmp"] / "out"
    assert _run(["build", files["demo"], "-o", out, "--no-pdf"], capsys)[0] == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    _Refusing(monkeypatch, out)
    code, _, err = _run(["build", files["demo"], "-o", out, "--no-pdf"], capsys)
    assert code == 0, err
    assert f"built 1 derivations into {out}" in err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_a_changed_rebuild_into_a_read_only_folder_names_the_first_file(files, capsys, monkeypatch):
    out = files["tmp"] / "out"
    assert _run(["build", files["demo"], "-o", out, "--no-pdf"], capsys)[0] == 0
    _Refusing(monkeypatch, out)
    code, _, err = _run(["build", files["demo"], "-o", out, "--no-pdf", "--title", "Another title"], capsys)
    assert code == 1
    assert _one_line_error(err) == (f"error: cannot write {out}/notes.tex: Read-only file system; "
                                    "the file system is read-only; choose a location you can write to")


def test_export_onto_a_read_only_file_system_names_the_file(files, capsys, monkeypatch):
    target = files["tmp"] / "mounted" / "double-sum.tex"
    target.parent.mkdir()
    _Refusing(monkeypatch, target.parent)
    code, out, err = _run(["export", "double-sum", "--path", files["demo"], "-o", target], capsys)
    assert (code, out) == (1, "")
    assert _one_line_error(err) == (f"error: cannot write {target}: Read-only file system; "
                                    "the file system is read-only; choose a location you can write to")
    assert "[1/1]" not in err  # checked before the verification


def test_wordpiece_train_onto_a_read_only_file_system_stops_before_training(files, capsys, monkeypatch):
    target = files["tmp"] / "mounted" / "vocab.txt"
    target.parent.mkdir()
    _Refusing(monkeypatch, target.parent)
    code, out, err = _run(["wordpiece", "train", files["corpus"], "--vocab-size", "20", "-o", target], capsys)
    assert (code, out) == (1, "")
    assert _one_line_error(err) == (f"error: cannot write {target}: Read-only file system; "
                                    "the file system is read-only; choose a location you can write to")


def test_a_full_disk_while_writing_figures_names_the_figure_and_leaves_nothing_half_written(files, capsys,
                                                                                            monkeypatch):
    out = files["tmp"] / "out"
    assert _run(["build", files["demo"], "-o", out, "--no-pdf"], capsys)[0] == 0
    good = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    for figure in (out / "figures").iterdir():
        figure.unlink()  # drawn again by the next build
    real_fdopen = os.fdopen

    def full_disk(fd, *args, **kwargs):  # a temporary file below figures/ accepts no byte
        stream = real_fdopen(fd, *args, **kwargs)
        if "/figures/" in os.readlink(f"/proc/self/fd/{fd}"):
            def write(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            stream.write = write
        return stream

    with monkeypatch.context() as patch:
        patch.setattr(os, "fdopen", full_disk)
        code, _, err = _run(["build", files["demo"], "-o", out, "--no-pdf", "--title", "Changed"], capsys)
    assert code == 1
    assert _one_line_error(err) == (f"error: cannot write {out}/figures/double-sum-bars.pdf: No space left on "
                                    "device; free some space, then run the command again")
    assert list((out / "figures").iterdir()) == []  # no temporary file, no half figure
    assert (out / "notes.tex").read_bytes() == good[out / "notes.tex"]  # written only after the figures
    assert _run(["build", files["demo"], "-o", out, "--no-pdf"], capsys)[0] == 0
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == good


def test_a_cache_folder_that_is_a_file_degrades_to_no_cache_with_one_warning(files, capsys, monkeypatch):
    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(files["file"]))
    second = files["tmp"] / "second.py"
    second.write_text(DEMO.replace('slug="double-sum"', 'slug="double-sum-again"'))
    code, out, err = _run(["verify", files["demo"], second], capsys)
    assert code == 0, err
    assert "2 passed, 0 failed" in out
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: verdicts are not cached: {files['file']}: Not a directory; verification goes "
                        "on without the cache (set SYMFORMER_CACHE_DIR to a folder you can write to)"]
    assert files["file"].read_text() == "not a folder\n"


def test_a_cache_that_is_a_file_still_builds_with_its_figures(files, capsys, monkeypatch):
    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(files["file"]))
    out = files["tmp"] / "out"
    code, _, err = _run(["build", files["demo"], "-o", out, "--no-pdf", "--no-site"], capsys)
    assert code == 0, err
    assert err.count("warning: verdicts are not cached") == 1  # the verdicts and the figures: one warning
    assert (out / "figures" / "double-sum-bars.png").read_bytes().startswith(b"\x89PNG")  # drawn in place
    assert files["file"].read_text() == "not a folder\n"


def test_a_read_only_cache_degrades_to_no_cache_and_the_build_still_finishes(files, capsys, monkeypatch):
    cache = files["tmp"] / "cache"
    cache.mkdir()
    _Refusing(monkeypatch, cache)
    code, _, err = _run(["build", files["demo"], "-o", files["tmp"] / "out", "--no-pdf"], capsys)
    assert code == 0, err
    assert err.count("warning: verdicts are not cached") == 1
    assert (files["tmp"] / "out" / "notes.tex").is_file()


# File modes -----------------------------------------------------------------------------------


@pytest.fixture
def umask_027():
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_outputs_get_the_users_umask_and_the_cache_stays_private(files, capsys, umask_027):
    out = files["tmp"] / "out"
    assert _run(["build", files["demo"], "-o", out, "--no-pdf"], capsys)[0] == 0
    made = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert {".symformer-build.json", ".symformer-build.lock", "figures/double-sum-bars.pdf", "notes.tex",
            "figures/double-sum-bars.png", "slides-handout.tex", "slides.tex"} <= set(made)  # and site/, with KaTeX
    assert {name: oct(_mode(out / name)) for name in made} == {name: oct(0o640) for name in made}
    assert _run(["export", "double-sum", "--path", files["demo"], "--format", "md", "-o", out], capsys)[0] == 0
    assert _mode(out / "double-sum.md") == 0o640
    vocab, merges = files["tmp"] / "trained.txt", files["tmp"] / "merges.tsv"
    assert _run(["wordpiece", "train", files["corpus"], "--vocab-size", "20", "-o", vocab, "--merges", merges],
                capsys)[0] == 0
    assert (_mode(vocab), _mode(merges)) == (0o640, 0o640)
    entries = list((files["tmp"] / "cache").glob("*.json"))
    assert entries and {_mode(p) for p in entries} == {0o600}


# The real program: no traceback reaches a terminal ------------------------------------------


@pytest.mark.parametrize("argv, code, message", [
    (["verify", "--time-bound", "nan"], 2, "error: --time-bound must be positive and at most 86400 (seconds), "
                                           "got 'nan'"),
    (["verify", "--seed", "-5"], 2, "error: --seed must be a whole number from 0 to 4294967295, got '-5'"),
    (["build", "-o", "{file}/out"], 1, "error: cannot create the output folder {file}/out: Not a directory; a part "
                                       "of the path is a file, not a folder; choose another path"),
], ids=["time-bound-nan", "seed-negative", "output-through-a-file"])
def test_python_dash_m_prints_one_line_and_no_traceback(argv, code, message, files):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SYMFORMER_CACHE_DIR": str(files["tmp"] / "cache")}
    done = subprocess.run([sys.executable, "-m", "symformer", *[a.format(**files) for a in argv]],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == code
    assert done.stderr == message.format(**files) + "\n"


def test_python_dash_m_tokenize_refuses_argv_bytes_that_are_not_utf8(files):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([os.fsencode(sys.executable), b"-m", b"symformer", b"tokenize", b"--vocab",
                           os.fsencode(files["vocab"]), b"caf\xe9"], capture_output=True, env=env, timeout=120)
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr == (b"error: the text: not UTF-8 text (byte 0xe9 at offset 3); convert it to UTF-8, "
                           b"e.g. iconv -f LATIN1 -t UTF-8\n")
