"""Cross-check: symformer's WordPiece against Hugging Face ``tokenizers`` on the same vocabulary.

The oracle is ``tokenizers.models.WordPiece`` behind ``BertNormalizer`` and ``BertPreTokenizer`` with
the same settings. The two agree on every character whose Unicode category is the same in Unicode
3.2 and in Python's tables; the differences that remain are the ones the module docstring of
``symformer.tokenizer.wordpiece`` lists, and each is asserted below as a difference.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symformer.tokenizer import WordPiece, train_wordpiece

tokenizers = pytest.importorskip(
    "tokenizers", reason="the cross-check needs Hugging Face tokenizers (pip install tokenizers; in the test extras)"
)

TRAINING_CORPUS = [
    "The quick brown fox jumps over the lazy dog. Don't panic!",
    "Héllo wörld, naïve café résumé; Ünïcödé façade — «quoted» ¿sí?",
    "Tokenization splits unaffable words into pieces: un ##aff ##able.",
    "日本語のテキストと中文文本 mixed with English, and 한국어 텍스트.",
    "Numbers 3.14159 and 2,718 or 1e-9; emails a.b@c.d; urls http://x.y/z?q=1&r=2",
    "ΟΔΟΙ σοφία Ελληνικά Русский текст ελληνικά",  # no capital sigma: see test_difference_final_sigma
]


@lru_cache(maxsize=None)
def shared_vocab() -> dict[str, int]:
    """Uncased and cased training vocabularies together, so every setting has tokens to match."""
    tokens = ["[UNK]"]
    for lowercase in (True, False):
        for token in train_wordpiece(TRAINING_CORPUS, vocab_size=400, lowercase=lowercase).vocab:
            if token not in tokens:
                tokens.append(token)
    return {token: index for index, token in enumerate(tokens)}


def both(lowercase=True, strip_accents=None, handle_chinese_chars=True, max_input_chars_per_word=100):
    vocab = shared_vocab()
    ours = WordPiece(
        vocab,
        lowercase=lowercase,
        strip_accents=strip_accents,
        handle_chinese_chars=handle_chinese_chars,
        max_input_chars_per_word=max_input_chars_per_word,
    )
    theirs = tokenizers.Tokenizer(
        tokenizers.models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=max_input_chars_per_word)
    )
    theirs.normalizer = tokenizers.normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=handle_chinese_chars, strip_accents=strip_accents, lowercase=lowercase
    )
    theirs.pre_tokenizer = tokenizers.pre_tokenizers.BertPreTokenizer()
    return ours, theirs


def their_tokens(tokenizer, text: str) -> list[str]:
    return tokenizer.encode(text, add_special_tokens=False).tokens


def their_words(tokenizer, text: str) -> list[str]:
    return [word for word, _ in tokenizer.pre_tokenizer.pre_tokenize_str(tokenizer.normalizer.normalize_str(text))]


SETTINGS = {
    "uncased": {},
    "cased": {"lowercase": False},
    "uncased-keep-accents": {"strip_accents": False},
    "cased-strip-accents-no-cjk": {"lowercase": False, "strip_accents": True, "handle_chinese_chars": False},
    "limit-8": {"max_input_chars_per_word": 8},
}

TEXTS = {
    "empty": "",
    "spaces": "   ",
    "training": " ".join(TRAINING_CORPUS),
    "accents": "Crème brûlée à la carte: ÉCOLE élève Øre Ångström Ñandú",
    "combining": "e\u0301cole a\u0308 n\u0303 \u0301lone",
    "punctuation": "wait... what?!(yes) [no] {maybe} 'quoted' \"double\" a-b_c/d\\e|f~g`h^i",
    "unicode-punctuation": "“curly” ‘single’ — en–dash … ¡hola! ¿qué? «guillemets» ※ 、。",
    "cjk": "我爱自然语言处理。漢字かなカナ한글 中文English混合",
    "cjk-compatibility": "\uf900\ufa0e\U0002f800 a\U00020000b",
    "control": "a\x00b\x01c\x7fd\x1be\u200bf\u200eg\ufeffh\ufffdi",
    "whitespace": "tab\tnew\nline\rreturn\u00a0nbsp\u2003em\u3000ideographic\u2028sep\x0bvt\x0cff",
    "emoji": "I ❤️ tokenizers 🙂🙃 👩‍👩‍👧 flags 🇫🇷 ok",
    "long-at-limit": "a" * 100 + " " + "the" * 33 + "x",
    "long-one-past": "a" * 101 + " " + "the" * 34,
    "at-8": "abcdefgh abcdefghi tokeniza tokenizat",
    "numbers": "3.14159 2,718 1e-9 0x1F 10%",
    "mixed-case": "ThE QuIcK bRoWn FoX DON'T Don't",
    "greek-cyrillic": "σοφία Ελληνικά Русский ТЕКСТ",
}


@pytest.mark.parametrize("text", TEXTS.values(), ids=TEXTS.keys())
@pytest.mark.parametrize("options", SETTINGS.values(), ids=SETTINGS.keys())
def test_same_tokens_as_tokenizers(options, text):
    ours, theirs = both(**options)
    assert ours.tokenize(text) == their_tokens(theirs, text)
    assert ours.encode(text) == theirs.encode(text, add_special_tokens=False).ids


@lru_cache(maxsize=None)
def stable_characters() -> tuple[str, ...]:
    """Characters assigned in Unicode 3.2 whose category has not changed since; private use excluded.

    ``Σ`` is excluded too: its lowercase depends on context (Final_Sigma), tested on its own below.
    """
    old = unicodedata.ucd_3_2_0
    return tuple(
        chr(cp)
        for cp in range(0x110000)
        if not 0xD800 <= cp <= 0xDFFF
        and old.category(chr(cp)) not in ("Cn", "Co")
        and old.category(chr(cp)) == unicodedata.category(chr(cp))
        and cp != 0x03A3
    )


@pytest.mark.parametrize("options", [{}, {"lowercase": False}], ids=["uncased", "cased"])
def test_every_stable_character_is_pre_tokenized_alike(options):
    # Each character between two letters, 2000 to a batch: cleaning, CJK spacing, case, accents and
    # punctuation of every character are compared with tokenizers' own.
    ours, theirs = both(**options)
    characters = stable_characters()
    assert len(characters) > 90_000
    for start in range(0, len(characters), 2000):
        text = " ".join(f"x{c}y" for c in characters[start : start + 2000])
        assert ours.pre_tokenize(text) == their_words(theirs, text), f"characters from U+{ord(characters[start]):04X}"
        assert ours.tokenize(text) == their_tokens(theirs, text)


def vocab_fragments() -> list[str]:
    return [token.removeprefix("##") for token in shared_vocab() if not token.startswith("[")]


texts = st.lists(
    st.one_of(
        st.sampled_from(vocab_fragments()),
        st.sampled_from(list(" \t\n.,;!?'\"-()[]#$\u00a0\u3000")),
        st.sampled_from(stable_characters()),
        st.text(alphabet="aeiouAÉÏ\u0301\u4e2d\u6587", min_size=1, max_size=12),
    ),
    max_size=40,
).map("".join)


@given(texts, st.sampled_from(list(SETTINGS)))
@settings(max_examples=400, deadline=None)
def test_same_tokens_on_generated_text(text, setting):
    ours, theirs = both(**SETTINGS[setting])
    assert ours.tokenize(text) == their_tokens(theirs, text)


# --- documented differences between BERT (followed here) and tokenizers ---------------------------

def test_difference_private_use_characters_are_kept_by_bert():
    ours, theirs = both()
    assert ours.pre_tokenize("a\ue000b") == ["a\ue000b"]
    assert their_words(theirs, "a\ue000b") == ["ab"]


def test_difference_cjk_extension_e_is_split_by_bert_only():
    ours, theirs = both()
    text = "a\U0002b820b"  # tokenizers' range starts at U+2B920, BERT's at U+2B820
    assert ours.pre_tokenize(text) == ["a", "\U0002b820", "b"]
    assert their_words(theirs, text) == [text]
    assert ours.pre_tokenize("a\U0002b920b") == their_words(theirs, "a\U0002b920b") == ["a", "\U0002b920", "b"]


def test_difference_final_sigma():
    ours, theirs = both()
    assert ours.pre_tokenize("ΟΔΟΣ") == ["οδος"]  # Python's str.lower, as BERT calls it
    assert their_words(theirs, "ΟΔΟΣ") == ["οδοσ"]
    assert ours.pre_tokenize("ΣΑΣ") == ["σας"] and their_words(theirs, "ΣΑΣ") == ["σασ"]
    assert ours.pre_tokenize("Σ") == their_words(theirs, "Σ") == ["σ"]  # alone it is not final


def test_difference_newer_unicode_categories_follow_python():
    ours, theirs = both(lowercase=False)
    # U+166D CANADIAN SYLLABICS CHI SIGN was punctuation (Po) until Unicode 12, now a symbol (So).
    assert ours.pre_tokenize("x\u166dy") == ["x\u166dy"]
    assert their_words(theirs, "x\u166dy") == ["x", "\u166d", "y"]
