"""Text for LaTeX: prose with ``$...$`` mathematics, plain names and tokens, prose inside displays.

The one escaping table of symformer. Characters outside T1 are spelled as their code point, so a
document compiles with only the fonts of texlive-fonts-recommended.
"""

from __future__ import annotations

import re

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_SPECIAL_RE = re.compile("|".join(re.escape(c) for c in _SPECIAL))
_MATH_SPAN = re.compile(r"(\$[^$]+\$)")


def escape_text(text: str) -> str:
    r"""Escape prose for LaTeX text mode; ``$...$`` spans are kept as mathematics.

    >>> escape_text("50% of ##ing & $p_i$")
    '50\\% of \\#\\#ing \\& $p_i$'
    """
    pieces = _MATH_SPAN.split(text)
    return "".join(p if _is_math(p) else _escape_plain(p) for p in pieces)


def escape_plain(text: str) -> str:
    r"""Escape every special character, ``$`` included: for text that is never mathematics (tokens, names).

    >>> escape_plain("$5 ##ing")
    '\\$5 \\#\\#ing'
    """
    return _escape_plain(text)


def _escape_plain(text: str) -> str:
    text = _CONTROL_RE.sub(" ", text)  # a blank line inside \text{} or \intertext{} would end a paragraph
    text = _SPECIAL_RE.sub(lambda m: _SPECIAL[m.group()], text)
    return "".join(ch if ord(ch) < 0x80 else _unicode_text(ch) for ch in text)


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Characters T1 + utf8 set in text mode; anything else is spelled as its code point, so the
# document still compiles with only the fonts of texlive-fonts-recommended.
_T1_RANGES = ((0xA1, 0xFF), (0x100, 0x17F))
_UNICODE_TEXT = {"\u00a0": "~", "\u00ad": "-", "\u00d7": r"$\times$", "\u00f7": r"$\div$", "\u2013": "--",
                 "\u2014": "---", "\u2018": "`", "\u2019": "'", "\u201c": "``", "\u201d": "''",
                 "\u2026": r"\dots{}", "\u2022": r"\textbullet{}", "\u2212": "$-$", "\u2192": r"$\to$",
                 "\u2264": r"$\le$", "\u2265": r"$\ge$", "\u2248": r"$\approx$", "\u2202": r"$\partial$",
                 "\u2211": r"$\sum$", "\u221a": r"$\surd$", "\u221e": r"$\infty$", "\u00b7": r"$\cdot$"}
_GREEK = "αβγδεζηθικλμνξοπρςστυφχψω"
_GREEK_NAMES = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi o pi rho varsigma "
                "sigma tau upsilon phi chi psi omega").split()
_UNICODE_TEXT.update({g: "$\\" + name + "$" if name != "o" else "o" for g, name in zip(_GREEK, _GREEK_NAMES)})


def _unicode_text(ch: str) -> str:
    if ch in _UNICODE_TEXT:
        return _UNICODE_TEXT[ch]
    if any(lo <= ord(ch) <= hi for lo, hi in _T1_RANGES) and ch.isprintable():
        return ch
    return rf"\texttt{{[U+{ord(ch):04X}]}}"


def _is_math(piece: str) -> bool:
    return len(piece) > 1 and piece.startswith("$") and piece.endswith("$")


def prose_in_math(text: str) -> str:
    r"""Prose for a display-math environment: text in ``\text{}``, its ``$...$`` spans as math.

    MathJax does not read ``$`` inside ``\text{}``, so the spans are taken out rather than nested.

    >>> prose_in_math("recognise $p_j$ here")
    '\\text{recognise }p_j\\text{ here}'
    """
    out = []
    for piece in _MATH_SPAN.split(text):
        if _is_math(piece):
            out.append(piece[1:-1])
        elif piece:
            out.append(rf"\text{{{_escape_plain(piece)}}}")
    return "".join(out)
