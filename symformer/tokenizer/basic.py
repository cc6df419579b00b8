"""BERT's basic tokenizer: clean, split on whitespace and punctuation, lowercase and strip accents.

It follows google-research/bert ``tokenization.py`` exactly: control characters are removed,
whitespace becomes spaces, CJK ideographs get spaces around them, and every punctuation character
stands alone. Hugging Face ``tokenizers`` (BertNormalizer + BertPreTokenizer) agrees on ordinary
text. Where the two implementations themselves differ, symformer follows BERT:

* private-use characters (category Co) are kept by BERT and deleted by ``tokenizers``;
* ``tokenizers`` spaces CJK ideographs from U+2B920 where BERT starts at U+2B820, so U+2B820 to
  U+2B91F (CJK Extension E) are split by BERT only;
* a final capital sigma lowercases to ``ς`` in BERT (Python's ``str.lower`` applies Unicode's
  Final_Sigma rule), to ``σ`` in ``tokenizers`` (it lowercases character by character);
* characters whose category differs between Unicode versions (newer punctuation, marks and format
  characters, U+166D which moved from Po to So) follow Python's ``unicodedata``; ``tokenizers``
  classifies characters with older tables than the ones it lowercases with.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache



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
