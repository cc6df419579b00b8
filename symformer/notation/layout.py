r"""How big printed mathematics is, and where a row too wide for its page breaks.

A small reader of the LaTeX the printer (or an author) writes estimates the width and the height
of a display in points, without running TeX: fractions are as wide as their wider part, scripts
are smaller, a big operator carries its limits above and below, ``\left(`` grows with what it
holds. The estimates were calibrated against TeX's own box sizes for every row of the course and
err on the wide side, so a row judged to fit does fit. The exporters use them to give a long
left-hand side a row of its own, to break a long right-hand side at its top-level relations and
``+``/``-`` signs, and to fill a slide without running past its bottom.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

#: Widths in points at 10 pt: an italic letter, an upright one, a digit; binary and relation spacing.
_LETTER, _UPRIGHT, _DIGIT = 5.6, 5.0, 5.0
_BINARY, _RELATION = 7.8 + 4.4, 7.8 + 5.6
_SCRIPT, _SCRIPTSCRIPT = 0.7, 0.5
_SPACES = {",": 1.7, ":": 2.2, ";": 2.8, "!": -1.7, " ": 3.3, "quad": 10.0, "qquad": 20.0}
_BINARY_SIGNS = {"+", "-", "\\cdot", "\\odot", "\\circ", "\\times", "\\pm", "\\otimes"}
_RELATIONS = {"=", "<", ">", "\\le", "\\ge", "\\leq", "\\geq", "\\ne", "\\approx", "\\in", "\\to", "\\mapsto", "\\equiv"}
_BIG_OPERATORS = {"\\sum", "\\prod", "\\int", "\\bigcup", "\\bigcap"}
_FUNCTIONS = {"\\log", "\\exp", "\\sin", "\\cos", "\\tan", "\\max", "\\min", "\\det", "\\tanh", "\\ln", "\\sup",
              "\\inf", "\\lim", "\\arg", "\\dim", "\\ker"}
_ONE_ARGUMENT = {"\\hat", "\\bar", "\\tilde", "\\vec", "\\dot", "\\widehat", "\\overline", "\\mathbf", "\\mathrm",
                 "\\mathit", "\\boldsymbol", "\\mathcal", "\\mathbb", "\\mathsf", "\\underline"}
_TEXT_ARGUMENT = {"\\text", "\\textrm", "\\textit", "\\mathrm", "\\operatorname", "\\textbf", "\\texttt"}
_IGNORED_ARGUMENT = {"\\label", "\\tag", "\\phantom"}
_DELIMITERS = {"(", ")", "[", "]", "\\{", "\\}", "|", "\\|", "\\langle", "\\rangle", ".", "\\lvert", "\\rvert"}
_SIZED = {"\\big": 1.2, "\\Big": 1.6, "\\bigg": 2.1, "\\Bigg": 2.6}

# Computer Modern math italic widths at 10 pt (points), rounded up: letters are not all alike
_ITALIC = dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                   [7.5, 7.6, 7.2, 8.3, 7.4, 6.5, 7.9, 8.4, 4.5, 5.6, 8.5, 6.8, 9.8, 8.1, 7.6, 6.5, 7.9, 7.6, 6.2,
                    5.9, 6.9, 5.9, 9.5, 8.3, 5.9, 6.9, 5.3, 4.3, 4.4, 5.3, 4.7, 5.0, 4.8, 5.8, 3.5, 4.2, 5.3, 3.0,
                    8.8, 6.0, 4.9, 5.1, 4.5, 4.6, 4.7, 3.7, 5.8, 4.9, 7.3, 5.8, 4.9, 4.7]))

#: Estimates are widened by this factor: a row judged to fit must fit (nested fractions run wide).
_SAFETY = 1.1

_TOKEN = re.compile(r"\\[A-Za-z]+\*?|\\.|\s+|.", re.S)

#: The width mathematics may take: a beamer slide's text at \small (10 pt), the notes' at 11 pt.
SLIDE_WIDTH, NOTES_WIDTH = 300.0, 472.0
SLIDE_POINT, NOTES_POINT = 1.0, 1.095  # font size relative to 10 pt


@dataclass
class Box:
    """An estimated box: width, height above the baseline and depth below it, in points at 10 pt."""

    width: float = 0.0
    height: float = 7.0
    depth: float = 2.0

    def beside(self, other: "Box") -> "Box":
        return Box(self.width + other.width, max(self.height, other.height), max(self.depth, other.depth))


def _tokens(latex: str) -> list:
    return [t for t in _TOKEN.findall(latex)]


class _Reader:
    """Reads a token list into boxes; ``size`` is the current script scale, ``display`` the style."""

    def __init__(self, tokens: list):
        self.tokens = tokens
        self.at = 0

    def peek(self):
        while self.at < len(self.tokens) and self.tokens[self.at].isspace():
            self.at += 1
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self):
        token = self.peek()
        self.at += 1
        return token

    def group_text(self) -> str:
        """The raw text of the next braced group (or single token)."""
        token = self.take()
        if token != "{":
            return token or ""
        depth, out = 1, []
        while self.at < len(self.tokens):
            token = self.tokens[self.at]
            self.at += 1
            if token == "{":
                depth += 1
            elif token == "}":
                depth -= 1
                if depth == 0:
                    break
            out.append(token)
        return "".join(out)

    def argument(self, size: float, display: bool) -> Box:
        if self.peek() == "{":
            self.take()
            return self.sequence(size, display, closing="}")
        return self.element(size, display) or Box(0.0, 0.0, 0.0)

    def sequence(self, size: float, display: bool, closing: str | None = None) -> Box:
        box = Box(0.0, 0.0, 0.0)
        while True:
            token = self.peek()
            if token is None:
                return box
            if token == closing:
                self.take()
                return box
            if closing is None and token == "}":
                self.take()
                continue
            if token in ("\\right", "\\\\", "&") or (token == "\\end" and closing != "}"):
                return box
            part = self.element(size, display)
            if part is not None:
                box = box.beside(part)

    def element(self, size: float, display: bool) -> Box | None:
        token = self.take()
        if token is None:
            return None
        base = self._atom(token, size, display)
        # scripts attach to what precedes them
        while self.peek() in ("^", "_"):
            scripts = {}
            while self.peek() in ("^", "_"):
                which = self.take()
                scripts[which] = self.argument(size * (_SCRIPT if size > _SCRIPT else _SCRIPTSCRIPT / _SCRIPT), False)
            base = self._attach(base, scripts, size, display, token in _BIG_OPERATORS)
        return base

    def _attach(self, base: Box, scripts: dict, size: float, display: bool, limits: bool) -> Box:
        upper, lower = scripts.get("^"), scripts.get("_")
        if limits and display:
            width = max(base.width, upper.width if upper else 0.0, lower.width if lower else 0.0)
            height = base.height + ((upper.height + upper.depth + 2.0 * size) if upper else 0.0)
            depth = base.depth + ((lower.height + lower.depth + 2.0 * size) if lower else 0.0)
            return Box(width, height, depth)
        width = base.width + max(upper.width if upper else 0.0, lower.width if lower else 0.0) + 0.5 * size
        height = max(base.height, (base.height * 0.6 + upper.height + upper.depth) if upper else 0.0)
        depth = max(base.depth, (lower.height + lower.depth - 1.5 * size) if lower else 0.0)
        return Box(width, height, depth)

    def _atom(self, token: str, size: float, display: bool) -> Box:
        letter = Box(_LETTER * size, 7.0 * size, 2.0 * size)
        if token == "{":
            return self.sequence(size, display, closing="}")
        if token in ("}", "^", "_"):
            return Box(0.0, 0.0, 0.0)
        if token == "\\frac" or token == "\\dfrac" or token == "\\tfrac":
            inner = size if display and token != "\\tfrac" else size * _SCRIPT
            inner = size if token == "\\dfrac" else inner
            top, bottom = self.argument(inner, False), self.argument(inner, False)
            return Box(max(top.width, bottom.width) + 2.4 * size, top.height + top.depth + 5.0 * size,
                       bottom.height + bottom.depth + 1.0 * size)
        if token == "\\sqrt":
            if self.peek() == "[":
                while self.take() not in ("]", None):
                    pass
            inner = self.argument(size, display)
            return Box(inner.width + 8.5 * size, inner.height + 2.0 * size, inner.depth + 1.0 * size)
        if token == "\\left":
            delimiter = self.take()
            inner = self.sequence(size, display)
            if self.peek() == "\\right":
                self.take()
                closing = self.take()
            else:
                closing = "."
            grow = max(inner.height, inner.depth + 2.5 * size, 7.5 * size)
            edges = (0.0 if delimiter == "." else 4.5 * size) + (0.0 if closing == "." else 4.5 * size)
            if grow > 9.0 * size:
                edges *= 1.45
            return Box(inner.width + edges, max(inner.height, 7.5 * size) + 1.0 * size,
                       max(inner.depth, 2.5 * size) + 1.0 * size)
        if token in _SIZED:
            delimiter = self.take()
            return Box(4.5 * size * (1 + 0.25 * _SIZED[token]), 5.0 * size * _SIZED[token], 3.0 * size * _SIZED[token])
        if token in ("\\bigl", "\\bigr", "\\Bigl", "\\Bigr", "\\biggl", "\\biggr", "\\Biggl", "\\Biggr"):
            self.take()
            scale = _SIZED["\\" + token[1:].rstrip("lr")]
            return Box(4.5 * size * (1 + 0.25 * scale), 5.0 * size * scale, 3.0 * size * scale)
        if token == "\\begin":
            name = self.group_text()
            if name in ("pmatrix", "bmatrix", "matrix", "vmatrix", "aligned", "cases", "array", "smallmatrix"):
                return self._matrix(name, size)
            return Box(0.0, 0.0, 0.0)
        if token == "\\end":
            self.group_text()
            return Box(0.0, 0.0, 0.0)
        if token in _TEXT_ARGUMENT:
            text = self.group_text()
            if token in ("\\operatorname", "\\mathrm"):
                return Box(_text_width(text) * size + (1.7 * size if token == "\\operatorname" else 0.0), 7.0 * size, 2.0 * size)
            return Box(_text_width(text) * size, 7.0 * size, 2.0 * size)
        if token in _IGNORED_ARGUMENT:
            self.group_text()
            return Box(0.0, 0.0, 0.0)
        if token in ("\\hphantom", "\\vphantom"):
            inner = self.argument(size, display)
            return Box(inner.width, 0.0, 0.0) if token == "\\hphantom" else Box(0.0, inner.height, inner.depth)
        if token in _ONE_ARGUMENT:
            inner = self.argument(size, display)
            return Box(inner.width + (0.6 * size if token in ("\\hat", "\\bar", "\\tilde") else 0.0),
                       inner.height + (2.0 * size if token in ("\\hat", "\\bar", "\\tilde", "\\vec") else 0.0), inner.depth)
        if token in ("\\scalebox", "\\resizebox"):
            factor = self.group_text()
            if token == "\\resizebox":
                self.group_text()
            inner = self.argument(size, display)
            try:
                scale = float(factor)
            except ValueError:
                scale = 1.0
            return Box(inner.width * scale, inner.height * scale, inner.depth * scale)
        if token in _BIG_OPERATORS:
            if display:
                return Box(14.4 * size + 1.7 * size, 7.5 * size, 6.5 * size)
            return Box(10.6 * size + 1.7 * size, 7.5 * size, 2.5 * size)
        if token in _FUNCTIONS:
            return Box((len(token) - 1) * _UPRIGHT * size + 1.7 * size, 7.0 * size, 2.0 * size)
        if token in _BINARY_SIGNS:
            return Box(_BINARY * size if size >= 1 else 7.8 * size, 6.0 * size, 1.0 * size)
        if token in _RELATIONS:
            return Box(_RELATION * size if size >= 1 else 7.8 * size, 5.0 * size, 0.5 * size)
        if token == "\\\\" or token == "&":
            return Box(0.0, 0.0, 0.0)
        if token.startswith("\\"):
            name = token[1:]
            if name in _SPACES:
                return Box(_SPACES[name] * size, 0.0, 0.0)
            if token in _DELIMITERS:
                return Box(4.5 * size, 7.5 * size, 2.5 * size)
            if name in ("dots", "ldots", "cdots"):
                return Box(13.0 * size, 1.0 * size, 0.0)
            if name in ("top", "prime", "intercal"):
                return Box(7.0 * size, 6.5 * size, 0.0)
            if name in ("infty",):
                return Box(10.0 * size, 4.5 * size, 0.0)
            if name in ("partial",):
                return Box(5.8 * size, 7.0 * size, 0.0)
            return letter  # a Greek letter or a symbol: about a letter wide
        if token.isdigit() or token in ".":
            return Box(_DIGIT * size if token.isdigit() else 2.8 * size, 6.5 * size, 0.0)
        if token == ",":
            return Box(2.8 * size + 1.7 * size, 1.0 * size, 2.0 * size)
        if token == ";":
            return Box(2.8 * size + 2.8 * size, 4.5 * size, 2.0 * size)
        if token in "()[]|":
            return Box(3.9 * size, 7.5 * size, 2.5 * size)
        if token in "+-":
            return Box(_BINARY * size if size >= 1 else 7.8 * size, 6.0 * size, 1.0 * size)
        if token in "=<>":
            return Box(_RELATION * size if size >= 1 else 7.8 * size, 5.0 * size, 0.5 * size)
        if token == "/":
            return Box(5.0 * size, 7.5 * size, 2.5 * size)
        if token == "'":
            return Box(2.8 * size, 7.5 * size, 0.0)
        if token == "!":
            return Box(2.8 * size, 7.0 * size, 0.0)
        if token.isspace():
            return Box(0.0, 0.0, 0.0)
        if token in _ITALIC:
            italic_correction = 1.4 if token.isupper() else 0.4
            return Box((_ITALIC[token] + italic_correction) * size, 7.0 * size, (2.0 if token in "gjpqy" else 0.0) * size)
        return letter

    def _matrix(self, name: str, size: float) -> Box:
        rows, row = [], []
        widths, heights = [], []
        while self.peek() is not None:
            if self.peek() == "\\end":
                self.take()
                self.group_text()
                break
            cell = self.sequence(size, name == "aligned")
            row.append(cell)
            token = self.take()
            if token == "\\\\":
                rows.append(row)
                row = []
            elif token == "\\end":
                self.group_text()
                break
        if row:
            rows.append(row)
        if not rows:
            return Box(0.0, 0.0, 0.0)
        columns = max(len(r) for r in rows)
        for column in range(columns):
            widths.append(max((r[column].width for r in rows if column < len(r)), default=0.0))
        for r in rows:
            heights.append(max(max(c.height for c in r), 7.0 * size) + max(max(c.depth for c in r), 2.0 * size) + 3.0 * size)
        gap = 10.0 * size if name != "aligned" else 0.0
        fence = 10.0 * size if name in ("pmatrix", "bmatrix", "vmatrix", "cases") else 0.0
        total = sum(heights)
        return Box(sum(widths) + gap * (columns - 1) + fence, total / 2 + 2.5 * size, total / 2 - 2.5 * size)


def _text_width(text: str) -> float:
    # strip commands inside text, count what prints
    plain = re.sub(r"\\[A-Za-z]+\s*", "", text).replace("{", "").replace("}", "").replace("$", "")
    return sum(2.8 if c in " ,.;:'il!|" else (7.5 if c in "mwMW" else (7.0 if c.isupper() else 5.0)) for c in plain)


def measure(latex: str, display: bool = True) -> Box:
    r"""The estimated box of ``latex`` set as mathematics, in points at 10 pt.

    >>> round(measure(r"\frac{a}{b}").width) <= round(measure("a + b").width)
    True
    """
    box = _measured(latex, display)
    return Box(box.width, box.height, box.depth)


@lru_cache(maxsize=16384)
def _measured(latex: str, display: bool) -> Box:
    # the same rows are measured for the notes, the slides and their layout passes: once is enough
    return _Reader(_tokens(latex)).sequence(1.0, display)


def width(latex: str, display: bool = True) -> float:
    """Estimated width in points at 10 pt.

    >>> width("x") > 0
    True
    """
    return measure(latex, display).width * _SAFETY


def row_height(latex: str) -> float:
    """The vertical space one display row takes in an alignment, in points at 10 pt (with the row gap).

    >>> row_height(r"\\frac{a}{b}") > row_height("a + b")
    True
    """
    box = measure(latex)
    return max(box.height, 8.5) + max(box.depth, 3.5) + 3.0


# --- visible length (coarse, for prose-like decisions) -------------------------------------------------

_SPACING = re.compile(r"\\(?:left|right|,|;|!|quad|qquad)(?![A-Za-z])")
_COMMAND = re.compile(r"\\[A-Za-z]+")
_INVISIBLE = re.compile(r"[{}^_&\s]")


def visible_length(latex: str) -> int:
    r"""Roughly how many glyphs ``latex`` sets: a command counts one, braces and spacing none.

    >>> visible_length(r"\frac{\partial p_{i}}{\partial z_{j}}")
    7
    """
    return len(_INVISIBLE.sub("", _COMMAND.sub("x", _SPACING.sub("", latex))))


def first_row_alone(left: str, right: str, available: float) -> bool:
    """Whether the left-hand side must stand on its own row, so that ``left = right`` fits ``available`` points.

    >>> first_row_alone("x", "y", 300.0)
    False
    """
    return width(left) + _RELATION + width(right) > available


# --- breaking a long right-hand side ----------------------------------------------------------------------


def top_level_pieces(latex: str) -> list:
    r"""Split ``latex`` before every relation and ``+``/``-`` sign that is not inside braces,
    ``\left...\right`` or an environment; each piece but the first starts with its operator.

    >>> top_level_pieces(r"a + \left(b - c\right) - d_{x - y}")
    ['a', '+ \\left(b - c\\right)', '- d_{x - y}']
    """
    tokens = _tokens(latex)
    pieces, current, depth, previous = [], [], 0, None
    for index, token in enumerate(tokens):
        if token in ("{", "\\left", "\\begin", "\\bigl", "\\Bigl", "\\biggl", "\\Biggl"):
            depth += 1
        elif token in ("}", "\\right", "\\end", "\\bigr", "\\Bigr", "\\biggr", "\\Biggr"):
            depth -= 1
        is_operator = token in ("+", "-") or token in _RELATIONS or token in _BINARY_SIGNS
        # a sign right after an operator, an opening or at the start is unary: no break there
        unary = previous is None or previous in ("+", "-", "{", "(", "\\left") or previous in _RELATIONS
        if depth == 0 and is_operator and not unary and current and "".join(current).strip():
            pieces.append("".join(current).strip())
            current = []
        current.append(token)
        if not token.isspace():
            previous = token
    if current and "".join(current).strip():
        pieces.append("".join(current).strip())
    return pieces


def break_lines(latex: str, first: float, rest: float) -> list:
    r"""``latex`` as lines that each fit: the first within ``first`` points, the others within ``rest``
    (continuation lines begin with their operator). Pieces too wide on their own stay whole; the
    caller scales those as a last resort.

    >>> break_lines("a + b + c", 1000.0, 1000.0)
    ['a + b + c']
    >>> break_lines("a + b + c", 40.0, 40.0)
    ['a + b', '+ c']
    """
    if width(latex) <= first:
        return [latex]
    pieces = top_level_pieces(latex)
    relations = [k for k, piece in enumerate(pieces) if k and _starts_with_relation(piece)]
    lines, line = [], ""
    for number, piece in enumerate(pieces):
        budget = first if not lines else rest
        candidate = f"{line} {piece}" if line else piece
        # a relation starts a new line whenever the line already holds something: chains read better
        if line and (width(candidate) > budget or number in relations):
            lines.append(line)
            line = piece
        else:
            line = candidate
    if line:
        lines.append(line)
    return lines


def _starts_with_relation(piece: str) -> bool:
    head = _tokens(piece.strip())[:1]
    return bool(head) and head[0] in _RELATIONS


def scale_to_fit(latex: str, available: float) -> float:
    """The factor (at most 1, at least 0.5) by which ``latex`` must shrink to fit ``available`` points.

    >>> scale_to_fit("x", 100.0)
    1.0
    """
    wide = width(latex)
    return 1.0 if wide <= available else max(0.5, round(available / wide - 0.005, 2))


def prose_width(text: str, size: float = 1.0) -> float:
    """The width of prose with inline ``$...$`` mathematics set on one line, in points at ``size`` times 10 pt.

    >>> prose_width("ab") < prose_width("abcd")
    True
    """
    total = 0.0
    for piece in re.split(r"(\$[^$]+\$)", text):
        if piece.startswith("$") and piece.endswith("$") and len(piece) > 1:
            total += width(piece[1:-1], display=False)
        else:
            total += _text_width(piece) * 1.02
    return total * size


def text_lines(text: str, line_width: float, size: float = 1.0) -> int:
    """How many lines a paragraph takes (words do not split, so a line holds a little less).

    >>> text_lines("word", 300.0)
    1
    """
    if not text.strip():
        return 0
    return max(1, -(-int(prose_width(text, size) * 1.06) // int(line_width)))


def text_height(text: str, line_width: float, size: float = 1.0, leading: float = 12.0) -> float:
    """The height of a paragraph of prose (with inline math) at ``size`` times 10 pt, in points.

    >>> text_height("word " * 100, 300.0) > text_height("word", 300.0)
    True
    """
    return text_lines(text, line_width, size) * leading * size
