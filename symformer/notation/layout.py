"""How wide printed mathematics is: whether a row fits the notes' text width or a slide.

A rough count of the glyphs a LaTeX string sets, without running TeX: enough to decide whether a
long left-hand side gets a row of its own.
"""

from __future__ import annotations

import re

_SPACING = re.compile(r"\\(?:left|right|,|;|!|quad|qquad)(?![A-Za-z])")
_COMMAND = re.compile(r"\\[A-Za-z]+")
_INVISIBLE = re.compile(r"[{}^_&\s]")

#: Characters of mathematics that fit on one row: the notes' text width, a slide's.
NOTES_ROW, SLIDE_ROW = 80, 48


def visible_length(latex: str) -> int:
    r"""Roughly how many glyphs ``latex`` sets: a command counts one, braces and spacing none.

    >>> visible_length(r"\frac{\partial p_{i}}{\partial z_{j}}")
    7
    """
    return len(_INVISIBLE.sub("", _COMMAND.sub("x", _SPACING.sub("", latex))))


def first_row_alone(left: str, right: str, width: int) -> bool:
    """Whether the left-hand side must stand on its own row, so that ``left = right`` fits ``width``."""
    return visible_length(left) + 2 + visible_length(right) > width
