"""WordPiece tokenization: BERT's basic tokenizer, greedy longest-match-first, a step trace, training.

Tokenizing follows google-research/bert ``tokenization.py`` exactly: the basic tokenizer removes
control characters, turns whitespace into spaces, puts spaces around CJK ideographs, splits on
whitespace, lowercases and strips accents per word when asked, and isolates every punctuation
character; then each word is split greedily, longest match first, every piece after the first
carrying the continuing prefix ``##``; a word that cannot be split, or is longer than
``max_input_chars_per_word``, becomes the unknown token.

Hugging Face ``tokenizers`` (BertNormalizer + BertPreTokenizer + models.WordPiece) agrees with this on
ordinary text. Where the two implementations themselves differ, symformer follows BERT:

* private-use characters (category Co) are kept by BERT and deleted by ``tokenizers``;
* ``tokenizers`` spaces CJK ideographs from U+2B920 where BERT starts at U+2B820, so U+2B820 to
  U+2B91F (CJK Extension E) are split by BERT only;
* a final capital sigma lowercases to ``ς`` in BERT (Python's ``str.lower`` applies Unicode's
  Final_Sigma rule), to ``σ`` in ``tokenizers`` (it lowercases character by character);
* characters whose category differs between Unicode versions (newer punctuation, marks and format
  characters, U+166D which moved from Po to So) follow Python's ``unicodedata``; ``tokenizers``
  classifies characters with older tables than the ones it lowercases with.

Training follows the Hugging Face course's description of WordPiece: start from the alphabet, then
repeatedly merge the adjacent pair (a, b) with the highest score freq(ab) / (freq(a) freq(b)).
Google never published its trainer, and ``tokenizers``' WordPieceTrainer runs BPE, so trained
vocabularies are not comparable across implementations; tokenization with one vocabulary is.
"""

from __future__ import annotations

import codecs
import heapq
import os
import re
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from symformer.errors import UsageError

DEFAULT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


class VocabularyError(UsageError):
    """A WordPiece vocabulary that cannot be used: missing unknown token, duplicates, unreadable file."""


class CorpusError(UsageError):
    """A training corpus that cannot be used: empty, unreadable, not text."""


# --- BERT's character classes (google-research/bert tokenization.py, verbatim in meaning) ---------


def _is_whitespace(char: str) -> bool:
    """Space, tab, newline, carriage return, or Unicode category Zs."""
    if char in " \t\n\r":
        return True
    return unicodedata.category(char) == "Zs"


def _is_control(char: str) -> bool:
    """Unicode categories Cc and Cf, except tab, newline and carriage return (they are whitespace)."""
    if char in "\t\n\r":
        return False
    return unicodedata.category(char) in ("Cc", "Cf")


def _is_punctuation(char: str) -> bool:
    """All non-alphanumeric ASCII (33-47, 58-64, 91-96, 123-126) and Unicode categories P*."""
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_chinese_char(cp: int) -> bool:
    """The CJK Unified Ideographs blocks BERT splits into single characters (not Hangul or kana)."""
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def _strip_accents(text: str) -> str:
    """NFD, then drop nonspacing marks (category Mn)."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


_is_punctuation_cached = lru_cache(maxsize=None)(_is_punctuation)
_ASCII_PUNCTUATION = "!-/:-@\\[-`{-~"
_ASCII_PIECES = re.compile(f"[{_ASCII_PUNCTUATION}]|[^{_ASCII_PUNCTUATION}]+")


def _split_on_punctuation(word: str) -> list[str]:
    """Every punctuation character becomes a piece of its own; the runs between stay whole."""
    if word.isascii():
        return _ASCII_PIECES.findall(word)
    pieces: list[str] = []
    run_start = 0
    for i, char in enumerate(word):
        if _is_punctuation_cached(char):
            if run_start < i:
                pieces.append(word[run_start:i])
            pieces.append(char)
            run_start = i + 1
    if run_start < len(word):
        pieces.append(word[run_start:])
    return pieces


class _CleanTable(dict):
    """A ``str.translate`` table filled on first sight of each character.

    It does BERT's ``_clean_text`` (drop NUL, U+FFFD and control characters, whitespace -> space)
    and, when asked, ``_tokenize_chinese_chars`` (spaces around CJK ideographs) in one pass.
    """

    def __init__(self, handle_chinese_chars: bool):
        super().__init__()
        self.handle_chinese_chars = handle_chinese_chars

    def __missing__(self, cp: int) -> str | int | None:
        char = chr(cp)
        value: str | int | None
        if cp == 0 or cp == 0xFFFD or _is_control(char):
            value = None
        elif _is_whitespace(char):
            value = " "
        elif self.handle_chinese_chars and _is_chinese_char(cp):
            value = f" {char} "
        else:
            value = cp
        self[cp] = value
        return value


_CLEAN_TABLES = {True: _CleanTable(True), False: _CleanTable(False)}


class _BasicTokenizer:
    """BERT's BasicTokenizer with a bounded per-word memo; shared by tokenizing and training."""

    def __init__(self, lowercase: bool, strip_accents: bool, handle_chinese_chars: bool):
        self.lowercase = lowercase
        self.strip_accents = strip_accents
        self.table = _CLEAN_TABLES[handle_chinese_chars]

    def words(self, text: str) -> list[str]:
        """Whitespace-separated words after cleaning and CJK spacing (before case and punctuation)."""
        return text.translate(self.table).split()

    def pieces(self, word: str) -> list[str]:
        """One whitespace word -> its pre-tokens: lowercase, strip accents, split punctuation."""
        if self.lowercase:
            word = word.lower()
        if self.strip_accents:
            word = _strip_accents(word)
        return _split_on_punctuation(word)

    def tokenize(self, text: str) -> list[str]:
        return [piece for word in self.words(text) for piece in self.pieces(word)]


# --- Tokenizing ------------------------------------------------------------------------------------


class WordPiece:
    """A WordPiece tokenizer over a fixed vocabulary, with BERT's basic tokenizer in front.

    ``vocab`` is a mapping token -> id, or a sequence of tokens (id = position); ``from_file`` reads
    the standard vocab.txt. ``strip_accents=None`` follows ``lowercase`` as in BERT.

    >>> wp = WordPiece(["[UNK]", "un", "##aff", "##able", "the", ","])
    >>> wp.tokenize("The unaffable, UNAFFABLE cat")
    ['the', 'un', '##aff', '##able', ',', 'un', '##aff', '##able', '[UNK]']
    >>> wp.encode("unaffable")
    [1, 2, 3]
    """

    def __init__(
        self,
        vocab: Mapping[str, int] | Sequence[str],
        unk_token: str = "[UNK]",
        continuing_prefix: str = "##",
        max_input_chars_per_word: int = 100,
        lowercase: bool = True,
        strip_accents: bool | None = None,
        handle_chinese_chars: bool = True,
        *,
        cache_size: int = 1 << 16,
        source: str | None = None,
    ):
        where = f" in {source}" if source else ""
        self._vocab = _vocab_mapping(vocab, where)
        if unk_token not in self._vocab:
            raise VocabularyError(
                f"the vocabulary{where} has no unknown token {unk_token!r}; add it to the vocabulary "
                f"or pass unk_token= the token your vocabulary uses for unknown words"
            )
        if not isinstance(max_input_chars_per_word, int) or max_input_chars_per_word < 1:
            raise UsageError(
                f"max_input_chars_per_word must be a positive integer, got {max_input_chars_per_word!r}"
            )
        self.unk_token = unk_token
        self.unk_id = self._vocab[unk_token]
        self.continuing_prefix = continuing_prefix
        self.max_input_chars_per_word = max_input_chars_per_word
        self.lowercase = lowercase
        self.strip_accents = lowercase if strip_accents is None else strip_accents
        self.handle_chinese_chars = handle_chinese_chars
        self._basic = _BasicTokenizer(self.lowercase, self.strip_accents, handle_chinese_chars)
        # Candidates longer than the longest token cannot match, so the greedy loop starts there.
        self._longest_initial = max(map(len, self._vocab))
        self._longest_continuing = max(
            (len(t) - len(continuing_prefix) for t in self._vocab if t.startswith(continuing_prefix)),
            default=0,
        )
        self._cache_size = cache_size
        self._word_cache: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {}

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **options: object) -> WordPiece:
        """Read a vocab.txt: one token a line, id = line number (from 0), trailing whitespace ignored."""
        tokens = [line.strip() for line in _read_text(path, VocabularyError).splitlines()]
        vocab: dict[str, int] = {}
        for index, token in enumerate(tokens):
            if not token:
                continue  # a blank line keeps its id unused, as in BERT's load_vocab
            if token in vocab:
                raise VocabularyError(
                    f"{os.fspath(path)}: token {token!r} appears on lines {vocab[token] + 1} and "
                    f"{index + 1}; a vocabulary lists each token once"
                )
            vocab[token] = index
        return cls(vocab, source=os.fspath(path), **options)  # type: ignore[arg-type]

    @property
    def vocab(self) -> Mapping[str, int]:
        return MappingProxyType(self._vocab)

    def __len__(self) -> int:
        return len(self._vocab)

    def __repr__(self) -> str:
        return (
            f"WordPiece({len(self._vocab)} tokens, unk_token={self.unk_token!r}, "
            f"lowercase={self.lowercase}, strip_accents={self.strip_accents})"
        )

    def tokenize_word(self, word: str) -> list[str]:
        """Greedy longest-match-first on one pre-tokenized word (no normalisation).

        >>> WordPiece(["[UNK]", "ab", "a", "##bc"]).tokenize_word("abc")  # greedy is not optimal
        ['[UNK]']
        """
        return list(self._split_word(word))

    def _split_word(self, word: str) -> tuple[str, ...]:
        n = len(word)
        if n > self.max_input_chars_per_word:
            return (self.unk_token,)
        vocab, prefix = self._vocab, self.continuing_prefix
        pieces = []
        start = 0
        while start < n:
            end = min(n, start + (self._longest_continuing if start else self._longest_initial))
            while end > start:
                piece = word[start:end] if start == 0 else prefix + word[start:end]
                if piece in vocab:
                    break
                end -= 1
            else:
                return (self.unk_token,)
            pieces.append(piece)
            start = end
        return tuple(pieces)

    def _word(self, word: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """Tokens and ids of one whitespace word, memoised (FIFO eviction keeps the memo bounded)."""
        hit = self._word_cache.get(word)
        if hit is not None:
            return hit
        tokens = tuple(t for piece in self._basic.pieces(word) for t in self._split_word(piece))
        entry = (tokens, tuple(self._vocab[t] for t in tokens))
        cache = self._word_cache
        if len(cache) >= self._cache_size:
            del cache[next(iter(cache))]
        cache[word] = entry
        return entry

    def pre_tokenize(self, text: str) -> list[str]:
        """BERT's basic tokenizer alone: the words that WordPiece then splits."""
        return self._basic.tokenize(_check_text(text))

    def tokenize(self, text: str) -> list[str]:
        """Basic tokenizer, then ``tokenize_word`` on each word."""
        words = self._basic.words(_check_text(text))
        tokens: list[str] = []
        for word in words:
            tokens.extend(self._word(word)[0])
        return tokens

    def encode(self, text: str) -> list[int]:
        """The ids of ``tokenize(text)``."""
        words = self._basic.words(_check_text(text))
        ids: list[int] = []
        for word in words:
            ids.extend(self._word(word)[1])
        return ids


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise UsageError(f"WordPiece tokenizes str, got {type(text).__name__}; decode bytes first")
    return text


def _vocab_mapping(vocab: Mapping[str, int] | Sequence[str], where: str) -> dict[str, int]:
    if isinstance(vocab, str):
        raise VocabularyError(
            "vocab is a single str; pass a list of tokens, a mapping token -> id, "
            "or use WordPiece.from_file(path) for a vocab.txt"
        )
    if isinstance(vocab, Mapping):
        mapping = dict(vocab)
        bad = next(
            ((t, i) for t, i in mapping.items() if not isinstance(t, str) or type(i) is not int),
            None,
        )
        if bad is not None:
            raise VocabularyError(f"the vocabulary{where} maps {bad[0]!r} to {bad[1]!r}; expected str -> int")
        by_id: dict[int, str] = {}
        for token, index in mapping.items():
            if index in by_id:
                raise VocabularyError(
                    f"the vocabulary{where} gives id {index} to both {by_id[index]!r} and {token!r}; "
                    f"ids must be unique"
                )
            by_id[index] = token
    else:
        mapping = {}
        for index, token in enumerate(vocab):
            if not isinstance(token, str):
                raise VocabularyError(f"the vocabulary{where} has {token!r} at position {index}; tokens are str")
            if token in mapping:
                raise VocabularyError(
                    f"the vocabulary{where} lists {token!r} at positions {mapping[token]} and {index}; "
                    f"list each token once"
                )
            mapping[token] = index
    if not mapping:
        raise VocabularyError(f"the vocabulary{where} is empty; it needs at least the unknown token")
    return mapping


def _read_text(path: str | os.PathLike[str], error: type[UsageError]) -> str:
    """The whole file as text, with errors that name the file."""
    name = os.fspath(path)
    try:
        data = Path(name).read_bytes()
    except FileNotFoundError:
        raise error(f"{name}: no such file; check the path") from None
    except IsADirectoryError:
        raise error(f"{name}: is a directory; pass a text file") from None
    except OSError as exc:
        raise error(f"{name}: cannot be read ({exc.strerror})") from None
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = bom + exc.start
        raise error(
            f"{name}: not UTF-8 text (byte 0x{data[offset]:02x} at offset {offset}); "
            f"convert it to UTF-8, e.g. iconv -f LATIN1 -t UTF-8"
        ) from None


# --- The step trace ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceStep:
    """One look-up of the greedy loop, or the decision that ended a word.

    ``word_index`` counts the words of the trace from 0 and ``start`` is the candidate's first
    character in the word. ``in_vocab`` is None when no look-up happened (a word over the length limit). ``emitted`` is the
    token produced at this step, if any; ``note`` explains a word that became the unknown token.
    """

    word_index: int
    word: str
    start: int
    candidate: str
    in_vocab: bool | None
    emitted: str | None = None
    note: str = ""


@dataclass(frozen=True)
class WordPieceTrace:
    """Every attempt made while tokenizing ``text``, in order, and the resulting tokens."""

    text: str
    words: tuple[str, ...]
    steps: tuple[TraceStep, ...]
    tokens: tuple[str, ...]


def tokenize_with_trace(wordpiece: WordPiece, text: str) -> WordPieceTrace:
    """Tokenize ``text`` recording every candidate looked up, as the textbook loop does it.

    The trace tries every end position from the end of the word down (the fast path skips
    candidates longer than the longest token, which cannot match); its tokens equal ``tokenize``'s.

    >>> wp = WordPiece(["[UNK]", "un", "##aff", "##able"])
    >>> trace = tokenize_with_trace(wp, "unaff")
    >>> [(s.candidate, s.in_vocab, s.emitted) for s in trace.steps]
    [('unaff', False, None), ('unaf', False, None), ('una', False, None), ('un', True, 'un'), ('##aff', True, '##aff')]
    """
    words = tuple(wordpiece.pre_tokenize(text))
    steps: list[TraceStep] = []
    tokens: list[str] = []
    unk, prefix = wordpiece.unk_token, wordpiece.continuing_prefix
    for index, word in enumerate(words):
        if len(word) > wordpiece.max_input_chars_per_word:
            note = f"longer than {wordpiece.max_input_chars_per_word} characters"
            steps.append(TraceStep(index, word, 0, word, None, unk, note))
            tokens.append(unk)
            continue
        pieces: list[str] = []
        start = 0
        while start < len(word):
            for end in range(len(word), start, -1):
                candidate = word[start:end] if start == 0 else prefix + word[start:end]
                if candidate in wordpiece._vocab:
                    steps.append(TraceStep(index, word, start, candidate, True, candidate))
                    pieces.append(candidate)
                    start = end
                    break
                steps.append(TraceStep(index, word, start, candidate, False))
            else:
                note = f"nothing matches at position {start}: the whole word becomes {unk}"
                steps[-1] = replace(steps[-1], emitted=unk, note=note)
                pieces = [unk]
                break
        tokens.extend(pieces)
    return WordPieceTrace(text, words, tuple(steps), tuple(tokens))


# --- Training ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MergeRecord:
    """One merge: the pair, its score freq(ab) / (freq(a) freq(b)) and the counts it came from.

    ``added`` is False when the merged string was already in the vocabulary (a special token
    spelled like it, say "the"); the merge is still applied to the words.
    """

    left: str
    right: str
    token: str
    score: float
    pair_frequency: int
    left_frequency: int
    right_frequency: int
    added: bool = True


@dataclass(frozen=True)
class WordPieceTraining:
    """The result of ``train_wordpiece``: the vocabulary in id order and every merge made."""

    vocab: tuple[str, ...]
    merges: tuple[MergeRecord, ...]
    special_tokens: tuple[str, ...]
    alphabet: tuple[str, ...]
    requested_size: int
    word_count: int
    unique_words: int
    continuing_prefix: str = "##"
    lowercase: bool = True
    strip_accents: bool = True
    handle_chinese_chars: bool = True

    def write_vocab(self, path: str | os.PathLike[str]) -> Path:
        """Write vocab.txt (one token a line) atomically: a temporary file, then ``os.replace``."""
        target = Path(path)
        directory = target.parent
        if not directory.is_dir():
            raise UsageError(f"{target}: the directory {directory} does not exist; create it first")
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write("".join(token + "\n" for token in self.vocab))
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target

    def tokenizer(self, **options: object) -> WordPiece:
        """A WordPiece over this vocabulary, normalising text as training did."""
        options.setdefault("continuing_prefix", self.continuing_prefix)
        options.setdefault("lowercase", self.lowercase)
        options.setdefault("strip_accents", self.strip_accents)
        options.setdefault("handle_chinese_chars", self.handle_chinese_chars)
        return WordPiece(list(self.vocab), **options)  # type: ignore[arg-type]


ProgressCallback = Callable[[str, int, int], None]


def train_wordpiece(
    corpus: Iterable[str] | str | os.PathLike[str],
    vocab_size: int,
    special_tokens: Sequence[str] = DEFAULT_SPECIAL_TOKENS,
    continuing_prefix: str = "##",
    lowercase: bool = True,
    strip_accents: bool | None = None,
    handle_chinese_chars: bool = True,
    min_frequency: int = 1,
    progress: ProgressCallback | None = None,
) -> WordPieceTraining:
    """Train a WordPiece vocabulary by the likelihood score, as the Hugging Face course describes it.

    ``corpus`` is an iterable of texts, one text (a str), or a path to a UTF-8 file. Words come from
    the same basic tokenizer ``WordPiece`` uses. Each word starts as its first character followed
    by its other characters with the prefix; the vocabulary starts as the special tokens, then the
    alphabet sorted. Then, until the vocabulary has ``vocab_size`` tokens or no pair is left,
    the adjacent pair (a, b) with the highest score freq(ab) / (freq(a) freq(b)) is merged in every
    word (a + ##b -> ab, ##a + ##b -> ##ab), frequencies counted over the corpus.

    Ties: the highest score wins, then the more frequent pair, then the pair (a, b) that sorts
    first. Scores are the float quotient of two exact integers, so equal fractions tie exactly.

    Pairs seen fewer than ``min_frequency`` times are never merged. If ``vocab_size`` is smaller than
    the special tokens plus the alphabet, the alphabet is kept whole (cutting it would leave words
    that cannot be written) and no merge is made; ``requested_size`` records what was asked.
    ``progress(stage, done, total)`` is called with stage "reading" (texts read, total 0 when
    unknown) and "merging" (vocabulary size, target size).

    >>> result = train_wordpiece(["hug hug hug pug pun bun"], vocab_size=9, special_tokens=["[UNK]"])
    >>> result.vocab
    ('[UNK]', '##g', '##n', '##u', 'b', 'h', 'p', '##ug', '##un')
    >>> [(m.left, m.right, m.score) for m in result.merges]  # all pairs scored 1/6: most frequent won
    [('##u', '##g', 0.16666666666666666), ('##u', '##n', 0.5)]
    """
    if not isinstance(vocab_size, int) or vocab_size < 1:
        raise UsageError(f"vocab_size must be a positive integer, got {vocab_size!r}")
    if not isinstance(min_frequency, int) or min_frequency < 1:
        raise UsageError(f"min_frequency must be a positive integer, got {min_frequency!r}")
    specials = tuple(special_tokens)
    duplicate = next((t for i, t in enumerate(specials) if t in specials[:i]), None)
    if duplicate is not None:
        raise UsageError(f"special token {duplicate!r} is listed twice; list each special token once")
    if not continuing_prefix:
        raise UsageError("continuing_prefix must not be empty: it tells word-initial pieces from the rest")
    strip_accents = lowercase if strip_accents is None else strip_accents
    basic = _BasicTokenizer(lowercase, strip_accents, handle_chinese_chars)

    word_counts = _count_words(corpus, basic, progress)
    if not word_counts:
        raise CorpusError(
            "the corpus has no words (it is empty or only whitespace and control characters); "
            "give it some text"
        )
    words = list(word_counts)
    frequencies = [word_counts[w] for w in words]
    splits = [[w[0], *(continuing_prefix + c for c in w[1:])] for w in words]

    alphabet = tuple(sorted({unit for split in splits for unit in split}))
    vocab = list(specials) + [a for a in alphabet if a not in specials]
    in_vocab = set(vocab)
    merges = _merge_until(splits, frequencies, vocab, in_vocab, vocab_size, continuing_prefix, min_frequency, progress)
    return WordPieceTraining(
        vocab=tuple(vocab),
        merges=tuple(merges),
        special_tokens=specials,
        alphabet=alphabet,
        requested_size=vocab_size,
        word_count=sum(frequencies),
        unique_words=len(words),
        continuing_prefix=continuing_prefix,
        lowercase=lowercase,
        strip_accents=strip_accents,
        handle_chinese_chars=handle_chinese_chars,
    )


def _count_words(
    corpus: Iterable[str] | str | os.PathLike[str], basic: _BasicTokenizer, progress: ProgressCallback | None
) -> Counter[str]:
    """Frequencies of pre-tokenized words: whitespace words are counted first, then split once each."""
    if isinstance(corpus, os.PathLike):
        texts: Iterable[str] = [_read_text(corpus, CorpusError)]
    elif isinstance(corpus, str):
        texts = [corpus]
    else:
        texts = corpus
    whitespace_words: Counter[str] = Counter()
    total = len(texts) if isinstance(texts, Sequence) else 0
    for done, text in enumerate(_texts(texts), 1):
        whitespace_words.update(basic.words(text))
        if progress is not None:
            progress("reading", done, total)
    counts: Counter[str] = Counter()
    for word, count in whitespace_words.items():
        for piece in basic.pieces(word):
            counts[piece] += count
    return counts


def _texts(texts: Iterable[object]) -> Iterator[str]:
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise CorpusError(f"corpus item {index} is {type(text).__name__}, not str; pass texts")
        yield text


def _merge_until(
    splits: list[list[str]],
    frequencies: list[int],
    vocab: list[str],
    in_vocab: set[str],
    vocab_size: int,
    prefix: str,
    min_frequency: int,
    progress: ProgressCallback | None,
) -> list[MergeRecord]:
    """The merge loop, with counts kept up to date incrementally.

    ``pair_words`` indexes which words contain each pair, so a merge only rewrites those words;
    ``unit_pairs`` indexes the pairs each unit is in, because a merge changes freq(a) and freq(b),
    hence the score of every pair containing a or b, even in words the merge did not touch.
    Scores live in a heap with stale entries skipped on pop (an entry is current when the pair's
    frequency and score recomputed now equal the ones it was pushed with).
    """
    unit_freq: Counter[str] = Counter()
    pair_freq: Counter[tuple[str, str]] = Counter()
    pair_words: dict[tuple[str, str], set[int]] = {}
    for index, (split, freq) in enumerate(zip(splits, frequencies)):
        for unit in split:
            unit_freq[unit] += freq
        for pair in zip(split, split[1:]):
            pair_freq[pair] += freq
            pair_words.setdefault(pair, set()).add(index)
    unit_pairs: dict[str, set[tuple[str, str]]] = {}
    for pair in pair_freq:
        unit_pairs.setdefault(pair[0], set()).add(pair)
        unit_pairs.setdefault(pair[1], set()).add(pair)

    def entry(pair: tuple[str, str]) -> tuple[float, int, str, str]:
        freq = pair_freq[pair]
        return (-freq / (unit_freq[pair[0]] * unit_freq[pair[1]]), -freq, pair[0], pair[1])

    heap = [entry(p) for p, f in pair_freq.items() if f >= min_frequency]
    heapq.heapify(heap)
    merges: list[MergeRecord] = []
    cut = len(prefix)
    while len(vocab) < vocab_size and heap:
        negative_score, negative_freq, a, b = heapq.heappop(heap)
        pair = (a, b)
        if pair_freq.get(pair, 0) != -negative_freq or entry(pair)[0] != negative_score:
            continue
        token = a + b[cut:]
        record = MergeRecord(a, b, token, -negative_score, -negative_freq, unit_freq[a], unit_freq[b])
        changed = _apply_merge(pair, token, splits, frequencies, unit_freq, pair_freq, pair_words, unit_pairs)
        if token in in_vocab:
            record = replace(record, added=False)
        else:
            vocab.append(token)
            in_vocab.add(token)
        merges.append(record)
        for unit in (a, b, token):
            changed.update(unit_pairs.get(unit, ()))
        for p in changed:
            if pair_freq.get(p, 0) >= min_frequency:
                heapq.heappush(heap, entry(p))
        if len(heap) > 4 * len(pair_freq) + 1024:  # drop stale entries before they dominate
            heap = [entry(p) for p, f in pair_freq.items() if f >= min_frequency]
            heapq.heapify(heap)
        if progress is not None:
            progress("merging", len(vocab), vocab_size)
    return merges


def _apply_merge(
    pair: tuple[str, str],
    token: str,
    splits: list[list[str]],
    frequencies: list[int],
    unit_freq: Counter[str],
    pair_freq: Counter[tuple[str, str]],
    pair_words: dict[tuple[str, str], set[int]],
    unit_pairs: dict[str, set[tuple[str, str]]],
) -> set[tuple[str, str]]:
    """Merge ``pair`` left to right in every word containing it; return the pairs whose count changed."""
    a, b = pair
    changed: set[tuple[str, str]] = set()
    for index in pair_words.pop(pair, ()):
        old = splits[index]
        new: list[str] = []
        i = 0
        while i < len(old):
            if i + 1 < len(old) and old[i] == a and old[i + 1] == b:
                new.append(token)
                i += 2
            else:
                new.append(old[i])
                i += 1
        splits[index] = new
        freq = frequencies[index]
        merged = len(old) - len(new)
        unit_freq[a] -= merged * freq
        unit_freq[b] -= merged * freq
        unit_freq[token] += merged * freq
        old_pairs = Counter(zip(old, old[1:]))
        new_pairs = Counter(zip(new, new[1:]))
        for p in old_pairs.keys() | new_pairs.keys():
            delta = new_pairs[p] - old_pairs[p]
            if delta == 0:
                continue
            changed.add(p)
            count = pair_freq[p] + delta * freq
            if count:
                pair_freq[p] = count
                unit_pairs.setdefault(p[0], set()).add(p)
                unit_pairs.setdefault(p[1], set()).add(p)
            else:
                del pair_freq[p]
                unit_pairs[p[0]].discard(p)
                unit_pairs[p[1]].discard(p)
            if p not in new_pairs:
                words = pair_words.get(p)
                if words is not None:
                    words.discard(index)
            elif p not in old_pairs:
                pair_words.setdefault(p, set()).add(index)
    return changed


# --- LaTeX exporters ------------------------------------------------------------------------------

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
}
_LATEX_SPECIAL_CHARS = re.compile("[" + re.escape("".join(_LATEX_SPECIALS)) + "]")


def _tt(text: str) -> str:
    """Text in typewriter type with LaTeX's special characters escaped."""
    return r"\texttt{" + _LATEX_SPECIAL_CHARS.sub(lambda m: _LATEX_SPECIALS[m.group()], text) + "}"


def _trace_rows(trace: WordPieceTrace) -> list[list[str]]:
    rows = []
    for number, step in enumerate(trace.steps, 1):
        looked_up = {True: "yes", False: "no", None: "--"}[step.in_vocab]
        emitted = _tt(step.emitted) if step.emitted is not None else ""
        if step.note:
            emitted += r" \emph{(" + _LATEX_SPECIAL_CHARS.sub(lambda m: _LATEX_SPECIALS[m.group()], step.note) + ")}"
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
