r"""Proof levels as typeset text: the size names and values of a level string become mathematics.

The verifier words a level for people ("proved for N = 1..3, d_k in {1, 2}"); a page must not print
``d\_k in \{1, 2\}``. This turns the size assignments, ranges, sets and name lists of such a string
into ``$...$`` spans, printed with the course's printer so that ``d_model`` reads as on the slides,
and leaves the words as words. The wording itself stays the verifier's.
"""

from __future__ import annotations

import re

import sympy as sp

from symformer.notation.escape import escape_plain
from symformer.notation.printer import DEFAULT_STYLE, Style, to_latex

_NAME = r"[A-Za-z][A-Za-z0-9_]*"
_VALUE = r"\{[^{}]*\}|-?\d+\.\.-?\d+|-?\d+(?:\.\d+)?(?:e-?\d+)?"
# "N = 1..3", "d_k in {1, 2}", "m = 50": one size and its values
_ASSIGNMENT = re.compile(rf"(?<![A-Za-z0-9_])(?P<name>{_NAME}) (?P<relation>=|in) (?P<value>{_VALUE})(?![A-Za-z0-9_.])")
# "for all N, M, d_k": the names after "all"
_ALL = re.compile(rf"\ball (?P<names>{_NAME}(?:, {_NAME})*)(?![A-Za-z0-9_])")
_WORDS = {"in", "and", "at", "all", "for", "more", "the", "size", "sizes", "of", "a", "an", "to"}


def size_latex(name: str, style: Style = DEFAULT_STYLE) -> str:
    r"""A size name as the printer writes it.

    >>> size_latex("d_model")
    'd_{\\text{model}}'
    """
    return to_latex(sp.Symbol(name), style)


def _value_latex(value: str) -> str:
    if value.startswith("{"):
        return r"\{" + value[1:-1] + r"\}"
    if ".." in value:
        low, high = value.split("..")
        return f"{low}, \\dots, {high}"
    return value


#: "... (general argument: x^T J x = ...)": the argument's own words are plain text, for the terminal
#: and JSON; a page names the method and leaves the words out.
_ARGUMENT = re.compile(r"\s*\(general argument: .*\)\s*$", re.S)


def _page_level(level: str) -> str:
    return _ARGUMENT.sub(" (general argument)", level)


def level_latex(level: str | None, style: Style = DEFAULT_STYLE) -> str:
    r"""A proof level for LaTeX text: words escaped, sizes and their values as ``$...$`` mathematics.

    >>> level_latex("proved for N = 1..3, d_k in {1, 2}")
    'proved for $N = 1, \\dots, 3$, $d_{k} \\in \\{1, 2\\}$'
    >>> level_latex("proved for all N, M, d_k")
    'proved for all $N, M, d_{k}$'
    >>> level_latex("proved for all n (general argument: x^T J x = sum_i p_i (x_i - m)^2 (index prover))")
    'proved for all $n$ (general argument)'
    """
    if not level:
        return ""
    level = _page_level(level)
    pieces, position = [], 0
    spans = sorted([(m.start(), m.end(), m) for m in _ASSIGNMENT.finditer(level)]
                   + [(m.start("names"), m.end("names"), m) for m in _ALL.finditer(level)
                      if not any(n in _WORDS for n in m.group("names").split(", "))], key=lambda s: s[0])
    for start, end, match in spans:
        if start < position:
            continue
        pieces.append(escape_plain(level[position:start]))
        if match.re is _ASSIGNMENT:
            relation = "=" if match.group("relation") == "=" else r"\in"
            pieces.append(f"${size_latex(match.group('name'), style)} {relation} {_value_latex(match.group('value'))}$")
        else:
            pieces.append("$" + ", ".join(size_latex(n, style) for n in match.group("names").split(", ")) + "$")
        position = end
    pieces.append(escape_plain(level[position:]))
    return "".join(pieces)


def level_markdown(level: str | None, style: Style = DEFAULT_STYLE) -> str:
    """The same for Markdown with MathJax: ``$...$`` spans, the words unescaped.

    >>> level_markdown("proved for n = 1..6")
    'proved for $n = 1, \\\\dots, 6$'
    """
    if not level:
        return ""
    level = _page_level(level)
    text = _ASSIGNMENT.sub(lambda m: f"${size_latex(m.group('name'), style)} "
                           f"{'=' if m.group('relation') == '=' else chr(92) + 'in'} {_value_latex(m.group('value'))}$", level)
    return _ALL.sub(lambda m: "all $" + ", ".join(size_latex(n, style) for n in m.group("names").split(", ")) + "$"
                    if not any(n in _WORDS for n in m.group("names").split(", ")) else m.group(0), text)


def level_strength(level: str | None) -> int:
    """How strong a level is, for choosing what a summary says: 3 proved in general, 2 proved at
    sizes, 1 evidence (50-digit or float64 checks), 0 none or failed.

    >>> [level_strength(t) for t in ("proved for all n", "proved for n = 1..6", "checked numerically at m = 50")]
    [3, 2, 1]
    >>> level_strength("proved (general argument: t^2 >= 0)")  # a check without sizes, proved
    3
    """
    if not level or level.startswith(("FAILED", "not established")):
        return 0
    if level == "proved" or level.startswith(("proved for all", "proved (")):
        return 3
    if level.startswith("proved"):
        return 2
    return 1
