"""Training a WordPiece vocabulary with the likelihood score, every merge recorded.

Training follows the Hugging Face course's description of WordPiece: start from the alphabet, then
repeatedly merge the adjacent pair (a, b) with the highest score freq(ab) / (freq(a) freq(b)).
Google never published its trainer, and ``tokenizers``' WordPieceTrainer runs BPE, so trained
vocabularies are not comparable across implementations; tokenization with one vocabulary is.
"""

from __future__ import annotations

import heapq
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from symformer._files import write_atomically
from symformer.errors import CorpusError, OutputError, UsageError

from symformer.tokenizer.basic import _BasicTokenizer
from symformer.tokenizer.wordpiece import _read_text, DEFAULT_SPECIAL_TOKENS, WordPiece

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
        """Write vocab.txt (one token a line) atomically: a temporary file, then ``os.replace``.

        The file gets the permissions the umask gives any new file; a file that cannot be written
        raises :class:`~symformer.errors.OutputError` naming it.
        """
        target = Path(path)
        directory = target.parent
        if not directory.is_dir():
            raise UsageError(f"{target}: the directory {directory} does not exist; create it first")
        try:
            write_atomically(target, "".join(token + "\n" for token in self.vocab))
        except OSError as exc:
            raise OutputError.from_os_error(target, exc) from None
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
