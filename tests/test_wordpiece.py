"""WordPiece: BERT's basic tokenizer, greedy splitting, the trace and its LaTeX, training, bad input."""

from __future__ import annotations

import doctest
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symformer.tokenizer.wordpiece as wordpiece_module
from symformer.errors import SymformerError, UsageError
from symformer.errors import CorpusError, VocabularyError
from symformer.export import merges_to_beamer, merges_to_latex, trace_to_beamer, trace_to_latex
from symformer.tokenizer import MergeRecord, WordPiece, tokenize_with_trace, train_wordpiece

BERT_EXAMPLE_VOCAB = ["[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un", "runn", "##ing", ","]


def test_module_doctests_pass():
    result = doctest.testmod(wordpiece_module)
    assert result.attempted > 0
    assert result.failed == 0


# --- one word: greedy longest match first --------------------------------------------------------

# These are google-research/bert's own test cases (tokenization_test.py, test_wordpiece_tokenizer).
@pytest.mark.parametrize(
    "word, tokens",
    [
        ("unwanted", ["un", "##want", "##ed"]),
        ("running", ["runn", "##ing"]),
        ("unwantedX", ["[UNK]"]),
        ("", []),
        ("want", ["want"]),
        ("wa", ["wa"]),
    ],
    ids=["three-pieces", "two-pieces", "unmatched-tail", "empty", "whole-word", "prefix-of-token"],
)
def test_tokenize_word_bert_cases(word, tokens):
    assert WordPiece(BERT_EXAMPLE_VOCAB).tokenize_word(word) == tokens


def test_greedy_is_not_optimal():
    # {ab, a, ##bc}: greedy takes "ab" and then finds no "##c", although a + ##bc exists.
    assert WordPiece(["[UNK]", "ab", "a", "##bc"]).tokenize_word("abc") == ["[UNK]"]


@pytest.mark.parametrize("limit", [1, 5, 100])
def test_length_limit_is_strict(limit):
    wp = WordPiece(["[UNK]", "a", "##a"], max_input_chars_per_word=limit)
    assert wp.tokenize_word("a" * limit) == ["a"] + ["##a"] * (limit - 1)
    assert wp.tokenize_word("a" * (limit + 1)) == ["[UNK]"]
    assert wp.tokenize(" ".join(["a" * limit, "a" * (limit + 1)])) == ["a"] + ["##a"] * (limit - 1) + ["[UNK]"]


def test_custom_prefix_and_unknown_token():
    wp = WordPiece({"<unk>": 7, "play": 1, "@@ing": 2}, unk_token="<unk>", continuing_prefix="@@")
    assert wp.tokenize_word("playing") == ["play", "@@ing"]
    assert wp.tokenize_word("plays") == ["<unk>"]
    assert wp.encode("playing plays") == [1, 2, 7]


def test_longest_token_shortcut_matches_textbook_loop():
    # The fast path starts at the longest token's length; the traced path starts at the word's end.
    wp = WordPiece(["[UNK]", "a", "aa", "aaa", "##a", "##aa", "##b"])
    for word in ["a" * n + "b" * m for n in range(8) for m in range(3)]:
        assert tuple(wp.tokenize_word(word)) == tokenize_with_trace(wp, word).tokens


# --- BERT's basic tokenizer -----------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, options, words",
    [
        (" \tHeLLo!how  \n Are yoU?  ", {}, ["hello", "!", "how", "are", "you", "?"]),  # BERT's test
        ("Héllo wörld", {}, ["hello", "world"]),
        ("Héllo wörld", {"lowercase": False}, ["Héllo", "wörld"]),
        ("Héllo wörld", {"lowercase": False, "strip_accents": True}, ["Hello", "world"]),
        ("Héllo wörld", {"lowercase": True, "strip_accents": False}, ["héllo", "wörld"]),
        ("ah\u535a\u63a8zz", {}, ["ah", "\u535a", "\u63a8", "zz"]),  # BERT's CJK test
        ("ah\u535a\u63a8zz", {"handle_chinese_chars": False}, ["ah\u535a\u63a8zz"]),
        ("日本語のテキスト", {}, ["日", "本", "語", "のテキスト"]),  # kana are not split
        ("a\x00b\ufffdc\x07d\u200be", {}, ["abcde"]),  # NUL, U+FFFD, Cc and Cf are removed
        ("a\tb\nc\rd\u00a0e\u3000f", {}, ["a", "b", "c", "d", "e", "f"]),  # tab, newline, Zs split
        ("x\u2028y", {}, ["x", "y"]),  # line separator: str.split splits on it, as in BERT
        ("", {}, []),
        ("   \t\n", {}, []),
        ("\u0301\u0301", {}, []),  # only combining marks: nothing left after stripping
        ("e\u0301", {}, ["e"]),
        ("don't stop---now.", {}, ["don", "'", "t", "stop", "-", "-", "-", "now", "."]),
        ("$5^2=25~#x", {}, ["$", "5", "^", "2", "=", "25", "~", "#", "x"]),  # ASCII non-alphanumerics
        ("«quoted»¿sí?", {}, ["«", "quoted", "»", "¿", "si", "?"]),  # Unicode P* categories
        ("a+b<c|d", {}, ["a", "+", "b", "<", "c", "|", "d"]),  # Sm in ASCII ranges: punctuation
        ("a×b", {}, ["a×b"]),  # Sm outside ASCII: not punctuation
        ("ΟΔΟΣ ΣΑΣ", {}, ["οδος", "σας"]),  # final sigma as Python's str.lower (BERT) does it
        ("emoji 🙂ok", {}, ["emoji", "🙂ok"]),  # So is not punctuation
        ("ﬁne", {}, ["ﬁne"]),  # NFD does not apply compatibility decompositions
        ("a\u1fefb", {}, ["a", "`", "b"]),  # GREEK VARIA decomposes to a grave accent: split after
    ],
)
def test_pre_tokenize(text, options, words):
    assert WordPiece(["[UNK]"], **options).pre_tokenize(text) == words


def test_strip_accents_follows_lowercase_by_default():
    assert WordPiece(["[UNK]"]).strip_accents is True
    assert WordPiece(["[UNK]"], lowercase=False).strip_accents is False
    assert WordPiece(["[UNK]"], lowercase=False, strip_accents=True).strip_accents is True


def test_tokenize_and_encode_whole_text():
    wp = WordPiece(BERT_EXAMPLE_VOCAB)
    # BERT's FullTokenizer test: "UNwant\u00E9d,running" -> un ##want ##ed , runn ##ing
    assert wp.tokenize("UNwant\u00e9d,running") == ["un", "##want", "##ed", ",", "runn", "##ing"]
    assert wp.encode("UNwant\u00e9d,running") == [7, 4, 5, 10, 8, 9]
    assert wp.tokenize("") == [] and wp.encode("") == []


def test_word_memo_stays_bounded_and_correct():
    vocab = ["[UNK]", "a", "b", "##a", "##b"]
    texts = ["ab ba aab bba abab", "bbb aaa", "ab ab"] * 3
    reference = [WordPiece(vocab).tokenize(text) for text in texts]
    small = WordPiece(vocab, cache_size=2)
    assert [small.tokenize(text) for text in texts] == reference
    assert len(small._word_cache) <= 2


@given(st.text(alphabet="abc ,.ÄÉ\t\n\u535a", max_size=40))
@settings(max_examples=200, deadline=None)
def test_encode_is_ids_of_tokenize(text):
    wp = WordPiece(["[UNK]", "a", "b", "ab", "##a", "##b", "##c", ",", "\u535a", "e", "##e"])
    assert wp.encode(text) == [wp.vocab[token] for token in wp.tokenize(text)]


# --- vocabularies ---------------------------------------------------------------------------------

def test_list_mapping_and_file_give_the_same_ids(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("".join(token + "\n" for token in BERT_EXAMPLE_VOCAB), encoding="utf-8")
    from_list = WordPiece(BERT_EXAMPLE_VOCAB)
    from_mapping = WordPiece({token: index for index, token in enumerate(BERT_EXAMPLE_VOCAB)})
    from_file = WordPiece.from_file(path)
    text = "unwanted, running wa"
    assert from_list.encode(text) == from_mapping.encode(text) == from_file.encode(text) == [7, 4, 5, 10, 8, 9, 6]


def test_vocab_file_blank_lines_keep_their_ids_and_bom_and_spaces_are_ignored(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_bytes("\ufeff[UNK]\r\n\nhello  \n##s\n".encode())
    wp = WordPiece.from_file(path)
    assert dict(wp.vocab) == {"[UNK]": 0, "hello": 2, "##s": 3}
    assert wp.encode("hellos") == [2, 3]


@pytest.mark.parametrize(
    "vocab, options, message",
    [
        (["a", "b"], {}, r"no unknown token '\[UNK\]'.*pass unk_token="),
        (["[UNK]", "a"], {"unk_token": "<unk>"}, r"no unknown token '<unk>'"),
        ([], {}, r"empty"),
        (["[UNK]", "a", "a"], {}, r"lists 'a' at positions 1 and 2"),
        ({"[UNK]": 0, "a": 0}, {}, r"id 0 to both '\[UNK\]' and 'a'"),
        ({"[UNK]": "0"}, {}, r"expected str -> int"),
        ("[UNK]", {}, r"single str.*from_file"),
        (["[UNK]"], {"max_input_chars_per_word": 0}, r"max_input_chars_per_word must be a positive integer"),
    ],
    ids=["no-unk", "other-unk-missing", "empty", "duplicate-token", "duplicate-id", "id-not-int", "str", "limit"],
)
def test_bad_vocabulary(vocab, options, message):
    with pytest.raises(UsageError, match=message):
        WordPiece(vocab, **options)


def test_vocabulary_errors_are_symformer_errors():
    assert issubclass(VocabularyError, UsageError) and issubclass(CorpusError, UsageError)
    assert issubclass(UsageError, SymformerError)


def test_vocab_file_without_unk_names_the_file(tmp_path):
    path = tmp_path / "cased.txt"
    path.write_text("a\nb\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match=rf"vocabulary in {re.escape(str(path))} has no unknown token"):
        WordPiece.from_file(path)


def test_vocab_file_not_utf8_names_the_file(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("[UNK]\ncafé\n".encode("latin-1"))
    with pytest.raises(VocabularyError, match=rf"{re.escape(str(path))}: not UTF-8 text \(byte 0xe9 at offset 9\)"):
        WordPiece.from_file(path)


def test_vocab_file_missing_or_duplicate(tmp_path):
    with pytest.raises(VocabularyError, match=r"missing\.txt: no such file"):
        WordPiece.from_file(tmp_path / "missing.txt")
    with pytest.raises(VocabularyError, match=r"is a directory"):
        WordPiece.from_file(tmp_path)
    path = tmp_path / "dup.txt"
    path.write_text("[UNK]\nx\ny\nx\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match=r"dup\.txt: token 'x' appears on lines 2 and 4"):
        WordPiece.from_file(path)


def test_text_must_be_str():
    with pytest.raises(UsageError, match=r"tokenizes str, got bytes; decode bytes first"):
        WordPiece(["[UNK]"]).tokenize(b"abc")


# --- the trace ------------------------------------------------------------------------------------

def test_trace_records_every_look_up():
    wp = WordPiece(["[UNK]", "un", "##aff", "##able"])
    trace = tokenize_with_trace(wp, "unaffable")
    looked_up = [(s.start, s.candidate, s.in_vocab, s.emitted) for s in trace.steps]
    assert looked_up == [
        (0, "unaffable", False, None),
        (0, "unaffabl", False, None),
        (0, "unaffab", False, None),
        (0, "unaffa", False, None),
        (0, "unaff", False, None),
        (0, "unaf", False, None),
        (0, "una", False, None),
        (0, "un", True, "un"),
        (2, "##affable", False, None),
        (2, "##affabl", False, None),
        (2, "##affab", False, None),
        (2, "##affa", False, None),
        (2, "##aff", True, "##aff"),
        (5, "##able", True, "##able"),
    ]
    assert trace.tokens == ("un", "##aff", "##able")


def test_trace_failure_and_length_limit_explain_the_unknown_token():
    wp = WordPiece(["[UNK]", "a", "##b"], max_input_chars_per_word=3)
    trace = tokenize_with_trace(wp, "abc abbb")
    assert trace.words == ("abc", "abbb")
    failed = [s for s in trace.steps if s.word_index == 0][-1]
    assert (failed.start, failed.candidate, failed.in_vocab, failed.emitted) == (2, "##c", False, "[UNK]")
    assert failed.note == "nothing matches at position 2: the whole word becomes [UNK]"
    too_long = [s for s in trace.steps if s.word_index == 1]
    assert [(s.candidate, s.in_vocab, s.emitted, s.note) for s in too_long] == [
        ("abbb", None, "[UNK]", "longer than 3 characters")
    ]
    assert trace.tokens == ("[UNK]", "[UNK]")


@given(st.text(alphabet="aábc, \u535aX", max_size=30))
@settings(max_examples=200, deadline=None)
def test_trace_tokens_equal_tokenize(text):
    wp = WordPiece(["[UNK]", "a", "ab", "abc", "##b", "##bc", "##c", "##a", ",", "\u535a"], max_input_chars_per_word=6)
    assert list(tokenize_with_trace(wp, text).tokens) == wp.tokenize(text)


TRACE_TABLE = r"""\begin{tabular}{@{}rlrlll@{}}
\toprule
Step & Word & Start & Candidate & In vocabulary & Emitted \\
\midrule
1 & \texttt{ab} & 0 & \texttt{ab} & no &  \\
2 &  & 0 & \texttt{a} & yes & \texttt{a} \\
3 &  & 1 & \texttt{\#\#b} & yes & \texttt{\#\#b} \\
\midrule
4 & \texttt{\_} & 0 & \texttt{\_} & no & \texttt{[UNK]} \emph{(nothing matches at position 0: the whole word becomes [UNK])} \\
\bottomrule
\end{tabular}
"""


def test_trace_to_latex_exact():
    trace = tokenize_with_trace(WordPiece(["[UNK]", "a", "##b"]), "ab _")
    assert trace_to_latex(trace) == TRACE_TABLE


def test_trace_to_beamer_uncovers_one_row_per_step():
    trace = tokenize_with_trace(WordPiece(["[UNK]", "a", "##b"]), "ab _")
    frame = trace_to_beamer(trace, title="Greedy")
    assert frame.startswith("\\begin{frame}{Greedy}\n") and frame.endswith("\\end{frame}\n")
    assert r"\onslide<3->{\texttt{\#\#b}}" in frame
    assert r"\onslide<5->{\par\medskip Tokens: \texttt{a} \texttt{\#\#b} \texttt{[UNK]}}" in frame


# --- training -------------------------------------------------------------------------------------

def reference_train(words: Counter[str], vocab_size: int, specials: tuple[str, ...], min_frequency: int = 1):
    """The Hugging Face course's loop, recomputing every score from scratch at every merge."""
    splits = {w: [w[0]] + ["##" + c for c in w[1:]] for w in words}
    alphabet = sorted({u for s in splits.values() for u in s})
    vocab = list(specials) + [a for a in alphabet if a not in specials]
    merges = []
    while len(vocab) < vocab_size:
        unit_freq, pair_freq = Counter(), Counter()
        for word, freq in words.items():
            split = splits[word]
            for unit in split:
                unit_freq[unit] += freq
            for pair in zip(split, split[1:]):
                pair_freq[pair] += freq
        candidates = [
            (-f / (unit_freq[a] * unit_freq[b]), -f, a, b) for (a, b), f in pair_freq.items() if f >= min_frequency
        ]
        if not candidates:
            break
        _, _, a, b = min(candidates)
        token = a + b[2:]
        merges.append((a, b, token, pair_freq[(a, b)] / (unit_freq[a] * unit_freq[b])))
        for word, split in splits.items():
            i = 0
            while i < len(split) - 1:
                if split[i] == a and split[i + 1] == b:
                    split[i : i + 2] = [token]
                i += 1
        if token not in vocab:
            vocab.append(token)
    return vocab, merges


corpus_words = st.lists(st.text(alphabet="abcd", min_size=1, max_size=7), min_size=1, max_size=25)


@given(corpus_words, st.integers(min_value=1, max_value=40), st.integers(min_value=1, max_value=3))
@settings(max_examples=300, deadline=None)
def test_incremental_training_equals_recomputing_everything(words, vocab_size, min_frequency):
    result = train_wordpiece([" ".join(words)], vocab_size, special_tokens=["[UNK]"], min_frequency=min_frequency)
    vocab, merges = reference_train(Counter(words), vocab_size, ("[UNK]",), min_frequency)
    assert list(result.vocab) == vocab
    assert [(m.left, m.right, m.token, m.score) for m in result.merges] == merges
    assert len(set(result.vocab)) == len(result.vocab)


def test_merge_records_carry_their_counts():
    result = train_wordpiece(["hug hug hug pug pun bun"], vocab_size=12, special_tokens=["[UNK]"])
    assert result.merges[0] == MergeRecord("##u", "##g", "##ug", 4 / 24, 4, 6, 4)
    assert all(m.score == m.pair_frequency / (m.left_frequency * m.right_frequency) for m in result.merges)
    assert (result.word_count, result.unique_words) == (6, 4)
    assert result.alphabet == ("##g", "##n", "##u", "b", "h", "p")


def test_a_merge_spelled_like_a_special_token_is_not_added_twice():
    result = train_wordpiece(["ab ab"], vocab_size=10, special_tokens=["[UNK]", "ab"])
    assert result.vocab == ("[UNK]", "ab", "##b", "a")
    assert [(m.token, m.added) for m in result.merges] == [("ab", False)]


def test_training_uses_the_basic_tokenizer_and_the_vocabulary_covers_the_corpus(tmp_path):
    corpus = ["Héllo, WORLD! The world's café.", "naïve cafés \u535a\u63a8", "hello hello worlds"]
    result = train_wordpiece(corpus, vocab_size=60)
    assert result.vocab[:5] == ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
    assert "H" not in result.alphabet and "é" not in result.alphabet and "," in result.alphabet
    wp = WordPiece.from_file(result.write_vocab(tmp_path / "vocab.txt"))
    for text in corpus:
        assert "[UNK]" not in wp.tokenize(text)
    assert result.tokenizer().tokenize(corpus[0]) == wp.tokenize(corpus[0])
    assert os.listdir(tmp_path) == ["vocab.txt"]  # the temporary file was renamed, not left behind


def test_training_cased_keeps_case_and_accents():
    result = train_wordpiece(["Héllo héllo"], vocab_size=10, lowercase=False)
    assert {"H", "h", "##é"} <= set(result.alphabet)
    assert result.tokenizer().lowercase is False and result.tokenizer().strip_accents is False
    assert result.tokenizer().tokenize("Héllo") == WordPiece(list(result.vocab), lowercase=False).tokenize("Héllo")


def test_vocab_file_with_bom_reports_offsets_in_the_file(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf[UNK]\n\xff\n")
    with pytest.raises(VocabularyError, match=r"byte 0xff at offset 9"):
        WordPiece.from_file(path)


def test_training_reads_a_path(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("low lower lowest\n", encoding="utf-8")
    assert train_wordpiece(path, 30).vocab == train_wordpiece(["low lower lowest"], 30).vocab


def test_vocab_size_below_the_alphabet_keeps_the_alphabet():
    result = train_wordpiece(["abcdef"], vocab_size=3, special_tokens=["[UNK]"])
    assert result.vocab == ("[UNK]", "##b", "##c", "##d", "##e", "##f", "a")
    assert result.merges == () and result.requested_size == 3


def test_training_stops_when_no_pair_is_left():
    result = train_wordpiece(["ab ab"], vocab_size=1000, special_tokens=["[UNK]"])
    assert result.vocab == ("[UNK]", "##b", "a", "ab")


def test_progress_reports_reading_and_merging():
    events = []
    train_wordpiece(["ab cd", "abc"], 12, special_tokens=["[UNK]"], progress=lambda *e: events.append(e))
    assert events[:2] == [("reading", 1, 2), ("reading", 2, 2)]
    assert events[-1][0] == "merging" and events[-1][2] == 12


@pytest.mark.parametrize(
    "corpus, options, error, message",
    [
        ([], {}, CorpusError, r"corpus has no words"),
        (["", "  \t\n", "\x00\x07"], {}, CorpusError, r"corpus has no words"),
        ([b"bytes"], {}, CorpusError, r"corpus item 0 is bytes, not str"),
        (["a"], {"vocab_size": 0}, UsageError, r"vocab_size must be a positive integer, got 0"),
        (["a"], {"min_frequency": 0}, UsageError, r"min_frequency must be a positive integer"),
        (["a"], {"special_tokens": ["[UNK]", "[UNK]"]}, UsageError, r"'\[UNK\]' is listed twice"),
        (["a"], {"continuing_prefix": ""}, UsageError, r"continuing_prefix must not be empty"),
    ],
    ids=["empty", "only-whitespace-and-control", "bytes", "size-zero", "min-frequency", "duplicate-special", "prefix"],
)
def test_bad_training_input(corpus, options, error, message):
    options.setdefault("vocab_size", 10)
    with pytest.raises(error, match=message):
        train_wordpiece(corpus, **options)


def test_training_corpus_not_utf8_names_the_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(b"ok\n\xff\xfe")
    with pytest.raises(CorpusError, match=rf"{re.escape(str(path))}: not UTF-8 text \(byte 0xff at offset 3\)"):
        train_wordpiece(path, 10)


def test_write_vocab_needs_an_existing_directory(tmp_path):
    result = train_wordpiece(["ab"], 5)
    with pytest.raises(UsageError, match=r"does not exist; create it first"):
        result.write_vocab(tmp_path / "missing" / "vocab.txt")


MERGES_TABLE = r"""\begin{tabular}{@{}rllrrrr@{}}
\toprule
Merge & Pair $(a, b)$ & Token & $f(ab)$ & $f(a)$ & $f(b)$ & $\frac{f(ab)}{f(a)f(b)}$ \\
\midrule
1 & \texttt{\#\#u} + \texttt{\#\#g} & \texttt{\#\#ug} & 4 & 6 & 4 & 0.1667 \\
2 & \texttt{\#\#u} + \texttt{\#\#n} & \texttt{\#\#un} & 2 & 2 & 2 & 0.5 \\
\bottomrule
\end{tabular}
"""


def test_merges_to_latex_exact():
    result = train_wordpiece(["hug hug hug pug pun bun"], vocab_size=12, special_tokens=["[UNK]"])
    assert merges_to_latex(result, limit=2) == MERGES_TABLE
    assert merges_to_latex(result).count(r" \\") == 1 + len(result.merges)


# --- the LaTeX compiles ---------------------------------------------------------------------------

def compile_latex(tmp_path: Path, body: str, document_class: str = "article") -> str:
    """Compile with pdflatex and return the log; the page count is in its last lines."""
    source = tmp_path / "doc.tex"
    source.write_text(
        f"\\documentclass{{{document_class}}}\n\\usepackage[T1]{{fontenc}}\n\\usepackage{{booktabs}}\n"
        f"\\begin{{document}}\n{body}\\end{{document}}\n",
        encoding="utf-8",
    )
    run = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", source.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = (tmp_path / "doc.log").read_text(encoding="utf-8", errors="replace")
    assert run.returncode == 0, log[-3000:]
    return log


needs_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")


@needs_pdflatex
def test_latex_tables_compile(tmp_path):
    trace = tokenize_with_trace(WordPiece(["[UNK]", "un", "##aff", "##able", "caf", "##e"]), "Unaffable café_~$&%{}^\\")
    training = train_wordpiece(["hug hug hug pug pun bun"], vocab_size=12, special_tokens=["[UNK]"])
    log = compile_latex(tmp_path, trace_to_latex(trace) + "\n\n" + merges_to_latex(training))
    assert "Output written on doc.pdf (1 page" in log


@needs_pdflatex
def test_beamer_frames_compile_one_page_per_overlay(tmp_path):
    trace = tokenize_with_trace(WordPiece(["[UNK]", "a", "##b"]), "ab _")
    training = train_wordpiece(["hug hug hug pug pun bun"], vocab_size=12, special_tokens=["[UNK]"])
    body = trace_to_beamer(trace) + merges_to_beamer(training, limit=3)
    log = compile_latex(tmp_path, body, document_class="beamer")
    # trace: 4 steps + the tokens line = 5 overlays; merges: 3 overlays
    assert "Output written on doc.pdf (8 pages" in log


# --- the derivation of the score ------------------------------------------------------------------

def load_score_derivation_module():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "derivations" / "wordpiece.py"
    spec = importlib.util.spec_from_file_location("wordpiece_derivation_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_score_derivation_verifies():
    from symformer import verify

    report = verify(load_score_derivation_module().wordpiece_score_derivation)
    assert report.ok, report.describe_failures()


def test_derivation_scores_are_the_trainers_first_step():
    # The derivation measures on its own corpus; the trainer must see the same scores and pick a best one.
    module = load_score_derivation_module()
    rows = module.first_merge_candidates()
    first = train_wordpiece([module.MEASURED_TEXT], vocab_size=1000).merges[0]
    best = max(score for _, _, score, _ in rows)
    assert first.score == best
    assert ((first.left, first.right), first.pair_frequency, first.score) in [(p, f, s) for p, f, s, _ in rows]


def test_rank_statistics_on_known_orders():
    module = load_score_derivation_module()
    import numpy as np

    increasing, decreasing = np.arange(6.0), -np.arange(6.0)
    assert module.spearman(increasing, increasing ** 3) == pytest.approx(1.0)
    assert module.kendall_tau_b(increasing, decreasing) == pytest.approx(-1.0)
    # one swapped neighbour among 4: 5 concordant, 1 discordant pair -> tau = 4/6
    assert module.kendall_tau_b(np.array([1.0, 2, 3, 4]), np.array([1.0, 3, 2, 4])) == pytest.approx(4 / 6)
    assert module.top_overlap(increasing, increasing ** 3, size=3) == 3
