"""WordPiece tokenization: greedy longest-match-first over BERT's basic tokenizer, with a step trace.

Each word of the basic tokenizer is split greedily, longest match first, every piece after the
first carrying the continuing prefix ``##``; a word that cannot be split, or is longer than
``max_input_chars_per_word``, becomes the unknown token (google-research/bert ``tokenization.py``).
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

from symformer.errors import UsageError, VocabularyError

from symformer.tokenizer.basic import _BasicTokenizer

DEFAULT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")



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
    return _decode_utf8(data, name, error)


def _decode_utf8(data: bytes, name: str, error: type[UsageError] = UsageError) -> str:
    """``data`` as UTF-8 text (a leading byte-order mark dropped); else an error naming the first bad byte.

    >>> _decode_utf8("café".encode("latin-1"), "the text")
    Traceback (most recent call last):
    symformer.errors.UsageError: the text: not UTF-8 text (byte 0xe9 at offset 3); convert it to UTF-8, e.g. iconv -f LATIN1 -t UTF-8
    """
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
