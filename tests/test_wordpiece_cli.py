"""The ``tokenize`` and ``wordpiece train`` subcommands, through an argparse parser of their own."""

from __future__ import annotations

import argparse
import importlib.util
import io
import subprocess
import sys
from pathlib import Path

import pytest

from symformer.errors import UsageError
from symformer.errors import CorpusError, VocabularyError
from symformer.cli.tokenize import PROGRESS_BYTES, add_commands  # the progress threshold and parser are the CLI's own
from symformer.tokenizer import WordPiece

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "the", ",", "a", "##b"]


def run(argv: list[str], stdin: str = "") -> int:
    parser = argparse.ArgumentParser(prog="symformer")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    sys.stdin = io.StringIO(stdin)
    try:
        return args.run(args)
    finally:
        sys.stdin = sys.__stdin__


@pytest.fixture
def vocab_file(tmp_path: Path) -> Path:
    path = tmp_path / "vocab.txt"
    path.write_text("".join(token + "\n" for token in VOCAB), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "argv, stdin, output",
    [
        (["The unaffable, ab"], "", "the un ##aff ##able , a ##b\n"),
        (["--ids", "The unaffable"], "", "8 5 6 7\n"),
        (["-"], "unaffable\nab", "un ##aff ##able a ##b\n"),
        ([], "the", "the\n"),
        (["--cased", "The the"], "", "[UNK] the\n"),
        (["--max-chars", "3", "unaffable ab"], "", "[UNK] a ##b\n"),
        ([""], "", "\n"),
    ],
    ids=["tokens", "ids", "stdin-dash", "stdin-default", "cased", "max-chars", "empty"],
)
def test_tokenize(vocab_file, capsys, argv, stdin, output):
    assert run(["tokenize", "--vocab", str(vocab_file), *argv], stdin) == 0
    assert capsys.readouterr().out == output


def test_tokenize_trace_text(vocab_file, capsys):
    assert run(["tokenize", "--vocab", str(vocab_file), "--trace", "ab x"]) == 0
    assert capsys.readouterr().out == (
        "step  word  start  candidate  in vocab  emitted\n"
        "1     ab    0      ab         no\n"
        "2     ab    0      a          yes       a\n"
        "3     ab    1      ##b        yes       ##b\n"
        "4     x     0      x          no        [UNK] (nothing matches at position 0: the whole word becomes [UNK])\n"
        "tokens: a ##b [UNK]\n"
    )


@pytest.mark.parametrize("form, start", [("latex", "\\begin{tabular}"), ("beamer", "\\begin{frame}")])
def test_tokenize_trace_latex_and_beamer(vocab_file, capsys, form, start):
    assert run(["tokenize", "--vocab", str(vocab_file), "--trace", "--format", form, "ab"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(start) and r"\texttt{\#\#b}" in out


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_train_writes_a_vocabulary_that_tokenizes_the_corpus(tmp_path, capsys):
    corpus = write(tmp_path / "corpus.txt", "hug hug hug pug pun bun\nHugs!\n")
    output = tmp_path / "vocab.txt"
    merges = tmp_path / "merges.tsv"
    argv = ["wordpiece", "train", str(corpus), "--vocab-size", "20", "-o", str(output), "--merges", str(merges)]
    assert run(argv) == 0
    captured = capsys.readouterr()
    vocab = output.read_text(encoding="utf-8").splitlines()
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] and len(vocab) == 20
    assert captured.out == f"wrote {output}: 20 tokens (5 special, 8 alphabet, 7 merged) from 8 words (6 distinct)\n"
    assert captured.err == ""  # a small corpus shows no progress
    rows = merges.read_text(encoding="utf-8").splitlines()
    assert rows[0].split("\t") == [
        "left", "right", "token", "score", "pair_frequency", "left_frequency", "right_frequency", "added"
    ]
    assert len(rows) == 1 + 7
    assert "[UNK]" not in WordPiece.from_file(output).tokenize("hug hug hug pug pun bun Hugs!")


def test_train_several_files_and_options(tmp_path, capsys):
    first = write(tmp_path / "a.txt", "Ab ab")
    second = write(tmp_path / "b.txt", "AB")
    output = tmp_path / "vocab.txt"
    argv = ["wordpiece", "train", str(first), str(second), "--vocab-size", "6", "-o", str(output)]
    assert run([*argv, "--cased", "--special-tokens", "[UNK]"]) == 0
    assert output.read_text(encoding="utf-8").splitlines() == ["[UNK]", "##B", "##b", "A", "a", "AB"]  # A+##B and a+##b tie: (A, ##B) sorts first


def test_train_progress_on_stderr_for_large_corpora(tmp_path, capsys):
    corpus = write(tmp_path / "big.txt", "lorem ipsum dolor sit amet\n" * (PROGRESS_BYTES // 27 + 10))
    output = tmp_path / "vocab.txt"
    assert run(["wordpiece", "train", str(corpus), "--vocab-size", "30", "-o", str(output)]) == 0
    err = capsys.readouterr().err
    assert f"read {corpus} (1/1)" in err and "merging:" in err and "trained in" in err
    assert run(["wordpiece", "train", str(corpus), "--vocab-size", "30", "-o", str(output), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_train_notes_a_vocabulary_size_below_the_alphabet(tmp_path, capsys):
    corpus = write(tmp_path / "corpus.txt", "abcdef")
    output = tmp_path / "vocab.txt"
    assert run(["wordpiece", "train", str(corpus), "--vocab-size", "3", "-o", str(output)]) == 0
    assert "the alphabet alone needs 11 tokens, more than --vocab-size 3" in capsys.readouterr().err
    assert len(output.read_text(encoding="utf-8").splitlines()) == 11


@pytest.mark.parametrize(
    "argv, error, message",
    [
        (["tokenize", "--vocab", "{missing}", "x"], VocabularyError, r"missing\.txt: no such file"),
        (["tokenize", "--vocab", "{latin1}", "x"], VocabularyError, r"latin1\.txt: not UTF-8 text"),
        (["tokenize", "--vocab", "{no_unk}", "x"], VocabularyError, r"no_unk\.txt has no unknown token"),
        (["tokenize", "--vocab", "{vocab}", "--ids", "--trace", "x"], UsageError, r"--ids and --trace do not combine"),
        (["tokenize", "--vocab", "{vocab}", "--format", "latex", "x"], UsageError, r"add --trace"),
        (["tokenize", "--vocab", "{vocab}", "--max-chars", "0", "x"], UsageError, r"--max-chars must be a whole number from 1 to"),
        (["wordpiece", "train", "{missing}", "--vocab-size", "9", "-o", "{out}"], CorpusError, r"missing\.txt: no such"),
        (["wordpiece", "train", "{latin1}", "--vocab-size", "9", "-o", "{out}"], CorpusError, r"latin1\.txt: not UTF-8"),
        (["wordpiece", "train", "{empty}", "--vocab-size", "9", "-o", "{out}"], CorpusError, r"corpus has no words"),
        (["wordpiece", "train", "{vocab}", "--vocab-size", "0", "-o", "{out}"], UsageError, r"--vocab-size must be a whole number from 1 to"),
        (
            ["wordpiece", "train", "{vocab}", "--vocab-size", "9", "-o", "{tmp}/no/dir/v.txt"],
            UsageError,
            r"does not exist; create it first",
        ),
    ],
    ids=[
        "vocab-missing", "vocab-not-utf8", "vocab-no-unk", "ids-and-trace", "format-without-trace", "max-chars",
        "corpus-missing", "corpus-not-utf8", "corpus-empty", "vocab-size-zero", "output-dir-missing",
    ],
)
def test_bad_input(tmp_path, vocab_file, argv, error, message):
    (tmp_path / "latin1.txt").write_bytes("[UNK]\ncafé\n".encode("latin-1"))
    write(tmp_path / "no_unk.txt", "a\nb\n")
    write(tmp_path / "empty.txt", " \n\t\n")
    names = {
        "missing": tmp_path / "missing.txt",
        "latin1": tmp_path / "latin1.txt",
        "no_unk": tmp_path / "no_unk.txt",
        "empty": tmp_path / "empty.txt",
        "vocab": vocab_file,
        "out": tmp_path / "out.txt",
        "tmp": tmp_path,
    }
    with pytest.raises(error, match=message):
        run([arg.format(**names) for arg in argv])


def test_argparse_rejects_missing_required_options(capsys):
    with pytest.raises(SystemExit):
        run(["wordpiece", "train", "corpus.txt", "-o", "v.txt"])
    assert "--vocab-size" in capsys.readouterr().err


def main_cli_adds_wordpiece() -> bool:
    spec = importlib.util.find_spec("symformer.cli.main")
    return spec is not None and "add_commands" in Path(spec.origin).read_text(encoding="utf-8")


@pytest.mark.skipif(not main_cli_adds_wordpiece(), reason="symformer.cli.main does not add the WordPiece commands yet")
def test_python_dash_m_symformer_tokenize(vocab_file):
    run_ = subprocess.run(
        [sys.executable, "-m", "symformer", "tokenize", "--vocab", str(vocab_file), "The unaffable"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=120,
    )
    assert run_.returncode == 0, run_.stderr
    assert run_.stdout == "the un ##aff ##able\n"


@pytest.mark.skipif(not main_cli_adds_wordpiece(), reason="symformer.cli.main does not add the WordPiece commands yet")
def test_python_dash_m_symformer_reports_a_bad_vocabulary(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("[UNK]\ncafé\n".encode("latin-1"))
    run_ = subprocess.run(
        [sys.executable, "-m", "symformer", "tokenize", "--vocab", str(path), "x"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=120,
    )
    assert run_.returncode != 0 and run_.stdout == ""
    assert f"error: {path}: not UTF-8 text" in run_.stderr
