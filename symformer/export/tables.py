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


def trace_to_beamer(trace: WordPieceTrace, title: str | None = None) -> str:
    """A beamer frame that uncovers the trace one look-up per overlay step, then the tokens.

    Needs booktabs; a frame holds a few short words (a long word makes a long table).
    """
    title = title or "WordPiece: greedy longest match first"
    table = _tabular(_TRACE_COLUMNS, _TRACE_HEADER, _trace_rows(trace), True, _trace_breaks(trace))
    tokens = " ".join(_tt(t) for t in trace.tokens)
    last = len(trace.steps) + 1
    return (
        f"\\begin{{frame}}{{{title}}}\n\\centering\\footnotesize\n{table}"
        f"\\onslide<{last}->{{\\par\\medskip Tokens: {tokens}}}\n\\end{{frame}}\n"
    )


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
