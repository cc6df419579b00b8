"""WordPiece as LaTeX: the step trace and the merges as booktabs tables and beamer frames."""

from __future__ import annotations

from symformer.notation.escape import escape_plain
from symformer.tokenizer.train import WordPieceTraining
from symformer.tokenizer.wordpiece import WordPieceTrace

def _tt(text: str) -> str:
    """Text in typewriter type with LaTeX's special characters escaped."""
    return r"\texttt{" + escape_plain(text) + "}"


def _trace_rows(trace: WordPieceTrace) -> list[list[str]]:
    rows = []
    for number, step in enumerate(trace.steps, 1):
        looked_up = {True: "yes", False: "no", None: "--"}[step.in_vocab]
        emitted = _tt(step.emitted) if step.emitted is not None else ""
        if step.note:
            emitted += r" \emph{(" + escape_plain(step.note) + ")}"
        first_of_word = number == 1 or trace.steps[number - 2].word_index != step.word_index
        word = _tt(step.word) if first_of_word else ""
        rows.append([str(number), word, str(step.start), _tt(step.candidate), looked_up, emitted])
    return rows


def _merge_rows(training: WordPieceTraining, limit: int | None) -> list[list[str]]:
    rows = []
    for number, m in enumerate(training.merges[:limit], 1):
        token = _tt(m.token) + ("" if m.added else r" \emph{(already in)}")
        rows.append(
            [
                str(number),
                _tt(m.left) + " + " + _tt(m.right),
                token,
                str(m.pair_frequency),
                str(m.left_frequency),
                str(m.right_frequency),
                f"{m.score:.4g}",
            ]
        )
    return rows


_TRACE_HEADER = ["Step", "Word", "Start", "Candidate", "In vocabulary", "Emitted"]
_TRACE_COLUMNS = "rlrlll"
_TRACE_SLIDE_NOTE = r"\parbox[t]{3.1cm}{\raggedright "  # on a slide the notes of the last column wrap
_TRACE_SLIDE_HEADER = ["Step", "Word", "Start", "Candidate", "Known", "Emitted"]
_MERGE_HEADER = ["Merge", "Pair $(a, b)$", "Token", r"$f(ab)$", r"$f(a)$", r"$f(b)$", r"$\frac{f(ab)}{f(a)f(b)}$"]
_MERGE_COLUMNS = "rllrrrr"


def _tabular(columns: str, header: list[str], rows: list[list[str]], overlays: bool, word_breaks: list[bool]) -> str:
    lines = [rf"\begin{{tabular}}{{@{{}}{columns}@{{}}}}", r"\toprule", " & ".join(header) + r" \\", r"\midrule"]
    for number, (row, new_word) in enumerate(zip(rows, word_breaks), 1):
        if new_word and number > 1:
            lines.append(r"\midrule")
        cells = [rf"\onslide<{number}->{{{cell}}}" for cell in row] if overlays else row
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def _trace_breaks(trace: WordPieceTrace) -> list[bool]:
    return [i == 0 or step.word_index != trace.steps[i - 1].word_index for i, step in enumerate(trace.steps)]


def trace_to_latex(trace: WordPieceTrace) -> str:
    """The trace as a booktabs ``tabular``, one row per look-up, a rule between words."""
    return _tabular(_TRACE_COLUMNS, _TRACE_HEADER, _trace_rows(trace), False, _trace_breaks(trace))


#: Look-ups a trace frame holds: more run past the bottom of a 4:3 slide at \footnotesize.
TRACE_ROWS_PER_FRAME = 15


def _trace_chunks(trace: WordPieceTrace, size: int) -> list:
    """Runs of step numbers (0-based) filling at most ``size`` table lines (a look-up with a note takes
    three), cut between words where possible; a word longer than a frame continues on the next."""
    lines = [3 if step.note else 1 for step in trace.steps]
    words: list = []
    for index, step in enumerate(trace.steps):
        if not words or step.word_index != trace.steps[index - 1].word_index:
            words.append([])
        words[-1].append(index)
    chunks: list = []

    def used(chunk):
        return sum(lines[k] for k in chunk)

    for word in words:
        if chunks and used(chunks[-1]) + used(word) <= size:
            chunks[-1].extend(word)
            continue
        current = [] if not chunks or used(chunks[-1]) + used(word) > size and used(word) <= size else chunks.pop()
        for k in word:
            if current and used(current) + lines[k] > size:
                chunks.append(current)
                current = []
            current.append(k)
        chunks.append(current)
    return chunks or [[]]


def trace_to_beamer(trace: WordPieceTrace, title: str | None = None, rows_per_frame: int = TRACE_ROWS_PER_FRAME) -> str:
    """Beamer frames that uncover the trace one look-up per overlay step, then the tokens.

    Needs booktabs. A long trace continues on further frames of at most ``rows_per_frame`` look-ups,
    cut between words where it can, so no frame runs past the bottom of the slide.
    """
    title = title or "WordPiece: greedy longest match first"
    rows, breaks = _trace_rows(trace), _trace_breaks(trace)
    chunks = _trace_chunks(trace, rows_per_frame)
    tokens = " ".join(_tt(t) for t in trace.tokens)
    frames = []
    for part, chunk in enumerate(chunks, start=1):
        shown = [row[:-1] + [_TRACE_SLIDE_NOTE + row[-1] + "}"] if trace.steps[k].note else row
                 for k, row in ((k, rows[k]) for k in chunk)]
        table = _tabular(_TRACE_COLUMNS, _TRACE_SLIDE_HEADER, shown, True,
                         [breaks[k] if position else True for position, k in enumerate(chunk)])
        heading = title + (f" ({part}/{len(chunks)})" if len(chunks) > 1 else "")
        frame = f"\\begin{{frame}}{{{heading}}}\n\\centering\\footnotesize\\setlength{{\\tabcolsep}}{{4pt}}\n{table}"
        if part == len(chunks):
            frame += f"\\onslide<{len(chunk) + 1}->{{\\par\\medskip Tokens: {tokens}}}\n"
        frames.append(frame + "\\end{frame}\n")
    return "\n".join(frames)


def merges_to_latex(training: WordPieceTraining, limit: int | None = None) -> str:
    """The first ``limit`` merges (all by default) as a booktabs ``tabular`` with their scores."""
    rows = _merge_rows(training, limit)
    return _tabular(_MERGE_COLUMNS, _MERGE_HEADER, rows, False, [False] * len(rows))


def merges_to_beamer(training: WordPieceTraining, title: str | None = None, limit: int = 12) -> str:
    """A beamer frame uncovering the first ``limit`` merges one per overlay step."""
    title = title or "WordPiece training: merge the pair with the highest score"
    rows = _merge_rows(training, limit)
    table = _tabular(_MERGE_COLUMNS, _MERGE_HEADER, rows, True, [False] * len(rows))
    return f"\\begin{{frame}}{{{title}}}\n\\centering\\footnotesize\n{table}\\end{{frame}}\n"
