"""The ``tokenize`` and ``wordpiece train`` subcommands; the main CLI adds them with ``add_commands``.

Each subcommand sets ``run``: a function of the parsed arguments that prints its result on
stdout, progress and notes on stderr, returns the exit code, and raises symformer errors on bad
input for the main CLI to report.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from symformer.cli.common import check_writable, path_option, whole_number
from symformer.errors import CorpusError, OutputError, UsageError
from symformer.export.tables import trace_to_beamer, trace_to_latex
from symformer.tokenizer.train import train_wordpiece
from symformer.tokenizer.wordpiece import (
    _decode_utf8,
    _read_text,
    DEFAULT_SPECIAL_TOKENS,
    tokenize_with_trace,
    WordPiece,
    WordPieceTrace,
)

# Corpora above this size report progress on stderr (smaller ones finish before it would help).
PROGRESS_BYTES = 1_000_000


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tokenize`` and ``wordpiece`` (with ``train``) to an argparse subparsers object."""
    tokenize = subparsers.add_parser(
        "tokenize",
        help="split text into WordPiece tokens with a vocab.txt",
        description="BERT's basic tokenizer, then greedy longest-match-first WordPiece on each word.",
    )
    tokenize.add_argument("--vocab", type=path_option("--vocab"), required=True, metavar="FILE",
                          help="vocab.txt: one token a line, UTF-8")
    tokenize.add_argument("text", nargs="?", default="-", help="the text; '-' or nothing reads standard input")
    tokenize.add_argument("--ids", action="store_true", help="print token ids instead of tokens")
    tokenize.add_argument("--trace", action="store_true", help="print every look-up of the greedy loop")
    tokenize.add_argument(
        "--format",
        choices=("text", "latex", "beamer"),
        default="text",
        help="with --trace: a plain table, a booktabs tabular, or a beamer frame (default: text)",
    )
    _add_normalisation_options(tokenize)
    tokenize.add_argument("--unk-token", default="[UNK]", help="the unknown token (default: [UNK])")
    tokenize.add_argument(
        "--max-chars",
        type=whole_number("--max-chars", 1, 1_000_000),
        default=100,
        metavar="N",
        help="longer words become the unknown token (default: 100)",
    )
    tokenize.set_defaults(run=run_tokenize)

    wordpiece = subparsers.add_parser("wordpiece", help="train WordPiece vocabularies")
    actions = wordpiece.add_subparsers(dest="wordpiece_command", metavar="ACTION", required=True)
    train = actions.add_parser(
        "train",
        help="train a vocab.txt by the likelihood score freq(ab) / (freq(a) freq(b))",
        description="Merge the pair with the highest score freq(ab) / (freq(a) freq(b)) until the "
        "vocabulary has N tokens (the Hugging Face course's WordPiece).",
    )
    train.add_argument("corpus", nargs="+", type=path_option("CORPUS"), metavar="CORPUS", help="UTF-8 text files")
    train.add_argument(
        "--vocab-size", type=whole_number("--vocab-size", 1, 10_000_000), required=True, metavar="N",
        help="tokens in the vocabulary",
    )
    train.add_argument(
        "-o", "--output", type=path_option("-o"), required=True, metavar="FILE",
        help="where to write vocab.txt (a folder: FOLDER/vocab.txt)",
    )
    train.add_argument(
        "--min-frequency", type=whole_number("--min-frequency", 1, 10**9), default=1, metavar="K",
        help="merge only pairs seen K times",
    )
    train.add_argument(
        "--special-tokens",
        default=",".join(DEFAULT_SPECIAL_TOKENS),
        metavar="LIST",
        help="comma-separated, placed first; must include the unknown token (default: %(default)s)",
    )
    train.add_argument("--unk-token", default="[UNK]", help="the unknown token among them (default: [UNK])")
    train.add_argument(
        "--merges", type=path_option("--merges"), metavar="FILE",
        help="also write every merge with its counts and score (TSV; a folder: FOLDER/merges.tsv)",
    )
    _add_normalisation_options(train)
    train.add_argument("--quiet", action="store_true", help="no progress on stderr")
    train.set_defaults(run=run_train)


def _add_normalisation_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cased", action="store_true", help="keep case (and accents, unless --strip-accents)")
    accents = parser.add_mutually_exclusive_group()
    accents.add_argument(
        "--strip-accents", dest="strip_accents", action="store_true", default=None, help="remove accents"
    )
    accents.add_argument("--keep-accents", dest="strip_accents", action="store_false", help="keep accents")
    parser.add_argument("--no-cjk-split", action="store_true", help="do not split CJK ideographs apart")


def run_tokenize(args: argparse.Namespace) -> int:
    if args.ids and args.trace:
        raise UsageError("--ids and --trace do not combine; the trace shows tokens, drop one of them")
    if args.format != "text" and not args.trace:
        raise UsageError(f"--format {args.format} formats the trace; add --trace")
    wordpiece = WordPiece.from_file(
        args.vocab,
        unk_token=args.unk_token,
        max_input_chars_per_word=args.max_chars,
        lowercase=not args.cased,
        strip_accents=args.strip_accents,
        handle_chinese_chars=not args.no_cjk_split,
    )
    text = _input_text(args.text)
    if args.trace:
        trace = tokenize_with_trace(wordpiece, text)
        exporters = {"text": _trace_text, "latex": trace_to_latex, "beamer": trace_to_beamer}
        sys.stdout.write(exporters[args.format](trace))
    elif args.ids:
        print(" ".join(map(str, wordpiece.encode(text))))
    else:
        print(" ".join(wordpiece.tokenize(text)))
    return 0


def _input_text(argument: str) -> str:
    """The text to tokenize, from the argument or standard input; text that is not UTF-8 is an error naming the byte."""
    if argument == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is not None:
            return _decode_utf8(stream.read(), "standard input")
        return _utf8_only(sys.stdin.read(), "standard input")
    return _utf8_only(argument, "the text")


def _utf8_only(text: str, name: str) -> str:
    # Python hands undecodable bytes of argv over as lone surrogates; take the bytes back to name the first bad one
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        raise UsageError(f"{name}: not UTF-8 text (character {exc.start} is a lone surrogate); give UTF-8 text") from None
    return _decode_utf8(raw, name)


def _trace_text(trace: WordPieceTrace) -> str:
    """The trace as an aligned plain-text table, then the tokens."""
    header = ("step", "word", "start", "candidate", "in vocab", "emitted")
    rows = [header]
    for number, step in enumerate(trace.steps, 1):
        in_vocab = {True: "yes", False: "no", None: "-"}[step.in_vocab]
        emitted = (step.emitted or "") + (f" ({step.note})" if step.note else "")
        rows.append((str(number), step.word, str(step.start), step.candidate, in_vocab, emitted))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows]
    return "\n".join(line.rstrip() for line in lines) + "\ntokens: " + " ".join(trace.tokens) + "\n"


def run_train(args: argparse.Namespace) -> int:
    # Everything is checked before training, so no output is half made and no work is thrown away.
    specials = [token.strip() for token in args.special_tokens.split(",") if token.strip()]
    spaced = next((token for token in specials if any(c.isspace() for c in token)), None)
    if spaced is not None:
        raise UsageError(f"--special-tokens: {spaced!r} contains whitespace; a token is one line of vocab.txt, "
                         "without spaces")
    if args.unk_token not in specials:
        raise UsageError(f"--special-tokens {args.special_tokens!r} does not include the unknown token "
                         f"{args.unk_token}, which tokenize needs; add it, or name yours with --unk-token")
    for corpus in args.corpus:
        if os.path.isdir(corpus):
            raise CorpusError(f"{corpus}: is a directory; give the corpus as UTF-8 text files")
        if os.path.exists(corpus) and not os.path.isfile(corpus):
            raise CorpusError(f"{corpus}: not a regular file (a pipe or a device); give the corpus as text files")
        if not os.path.isfile(corpus):
            raise CorpusError(f"{corpus}: no such file; give the corpus as UTF-8 text files")
    output = _output_file(args.output, "vocab.txt")
    merges_file = _output_file(args.merges, "merges.tsv") if args.merges else None
    if merges_file is not None and merges_file.resolve() == output.resolve():
        raise UsageError(f"-o and --merges both name {output}; give them different files")
    for corpus in args.corpus:
        if Path(corpus).resolve() in {output.resolve(), merges_file.resolve() if merges_file else None}:
            raise UsageError(f"{corpus} is a corpus file and would be overwritten by the output; write elsewhere")
    total_bytes = sum(os.path.getsize(corpus) for corpus in args.corpus)
    show_progress = not args.quiet and total_bytes > PROGRESS_BYTES
    progress = _ProgressPrinter(args.corpus) if show_progress else None
    result = train_wordpiece(
        _corpus_texts(args.corpus),
        args.vocab_size,
        special_tokens=specials,
        lowercase=not args.cased,
        strip_accents=args.strip_accents,
        handle_chinese_chars=not args.no_cjk_split,
        min_frequency=args.min_frequency,
        progress=progress,
    )
    if progress is not None:
        progress.finish()
    result.write_vocab(output)
    if merges_file is not None:
        _write_merges(result.merges, merges_file)
    merged = sum(m.added for m in result.merges)
    print(
        f"wrote {output}: {len(result.vocab)} tokens ({len(specials)} special, "
        f"{len(result.vocab) - len(specials) - merged} alphabet, {merged} merged) "
        f"from {result.word_count} words ({result.unique_words} distinct)"
    )
    if len(result.vocab) > args.vocab_size:
        print(
            f"note: the alphabet alone needs {len(result.vocab)} tokens, more than --vocab-size "
            f"{args.vocab_size}; it was kept whole and nothing was merged",
            file=sys.stderr,
        )
    elif len(result.vocab) < args.vocab_size:
        print(
            f"note: no pair was left to merge (or none seen --min-frequency {args.min_frequency} times) "
            f"after {len(result.vocab)} tokens",
            file=sys.stderr,
        )
    return 0


def _corpus_texts(paths: list[str]) -> Iterator[str]:
    for path in paths:
        yield _read_text(path, CorpusError)


def _output_file(option: str, default_name: str) -> Path:
    """The file an output option names (a folder gets ``default_name`` inside), checked to be writable now."""
    path = Path(option)
    if path.is_dir():
        path = path / default_name
    try:
        check_writable(path, make_folder=False)
    except OutputError:
        if not path.parent.exists() and not _under_a_file(path):
            raise UsageError(f"{path}: the directory {path.parent} does not exist; create it first") from None
        raise
    return path


def _under_a_file(path: Path) -> bool:
    return any(parent.is_file() for parent in path.parents)


def _write_merges(merges, path: Path) -> None:
    lines = ["left\tright\ttoken\tscore\tpair_frequency\tleft_frequency\tright_frequency\tadded"]
    for m in merges:
        lines.append(
            f"{m.left}\t{m.right}\t{m.token}\t{m.score!r}\t{m.pair_frequency}\t"
            f"{m.left_frequency}\t{m.right_frequency}\t{m.added}"
        )
    from symformer._files import write_atomically

    try:
        write_atomically(path, "\n".join(lines) + "\n")
    except OSError as exc:
        raise OutputError.from_os_error(path, exc) from None


class _ProgressPrinter:
    """Progress on stderr, at most about once a second."""

    def __init__(self, paths: list[str]):
        self.paths = paths
        self.start = self.last = time.monotonic()
        self.merging = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage == "reading":
            print(f"read {self.paths[done - 1]} ({done}/{len(self.paths)})", file=sys.stderr)
        elif not self.merging or now - self.last >= 1.0:
            print(f"merging: {done}/{total} tokens, {now - self.start:.0f} s", file=sys.stderr)
            self.merging = True
        else:
            return
        self.last = now

    def finish(self) -> None:
        print(f"trained in {time.monotonic() - self.start:.1f} s", file=sys.stderr)
