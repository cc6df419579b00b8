r"""Read LaTeX back into SymPy: the course's notation, in a declared symbol context.

``read_latex`` reads one formula, ``read_chain`` a chain ``a = b = c``. What the names mean comes
from a :class:`Notation`: declared by hand, from a homework file's ``% symformer:`` lines, or from
the expressions of a derivation (``Notation.from_expressions``), whose printed names are then read
back as the very objects they were printed from.

>>> import sympy as sp
>>> n = sp.Symbol("n", integer=True, positive=True)
>>> i, j, k = sp.symbols("i j k", integer=True)
>>> p = sp.IndexedBase("p", shape=(n,))
>>> notation = Notation.from_expressions([p[i] * p[j], sp.KroneckerDelta(i, j), sp.Sum(p[k], (k, 1, n))])
>>> read_latex(r"p_i (\delta_{ij} - p_j)", notation) == p[i] * (sp.KroneckerDelta(i, j) - p[j])
True
>>> read_latex(r"p_i (\delta_{ij} - p_j", notation)
Traceback (most recent call last):
...
symformer.errors.LatexError: line 1, column 23: the formula ends early; expected ')' to close the '(' of line 1, column 5
"""

from __future__ import annotations

from symformer.notation.reader.build import Builder, Notation, canonical, name_key
from symformer.notation.reader.context import from_expressions
from symformer.notation.reader.parse import parse

Notation.from_expressions = staticmethod(from_expressions)

__all__ = ["Notation", "read_latex", "read_chain", "read_relations", "read_rows", "name_key", "canonical", "parse"]


def read_latex(text: str, notation: Notation, expected_shape=None):
    """One formula as SymPy; a chain or an unreadable formula raises :class:`LatexError`."""
    parts = read_chain(text, notation, expected_shape)
    if len(parts) != 1:
        from symformer.errors import LatexError

        raise LatexError(f"expected one formula, found a chain of {len(parts)} parts joined by '='")
    return parts[0]


def read_chain(text: str, notation: Notation, expected_shape=None) -> list:
    r"""The parts of ``a = b = c``, each as SymPy, with the sizes of ``\mathbf{1}`` and ``I`` fixed.

    ``expected_shape`` (rows, columns) fixes sizes a part leaves open, as in ``= \mathbf{1}``.
    """
    from symformer.notation.reader.context import settle

    tree = parse(text)
    parts = Builder(notation).chain(tree.children[0])
    if not parts:
        from symformer.errors import LatexError

        raise LatexError("line 1, column 1: an empty formula")
    return settle(parts, expected_shape)


def read_relations(text: str, notation: Notation, expected_shape=None) -> tuple:
    r"""The parts of ``a \le b = c`` and the relations between them (``['\\le', '=']``), for statements."""
    from symformer.notation.reader.context import settle

    relations: list = []
    parts = Builder(notation).chain(parse(text).children[0], relations)
    if not parts:
        from symformer.errors import LatexError

        raise LatexError("line 1, column 1: an empty formula")
    if all(r == "=" for r in relations):
        return settle(parts, expected_shape), relations
    return [settle([p])[0] for p in parts], relations


def read_rows(text: str):
    """The parse tree of an ``align`` body: rows separated by ``\\\\``, cells by ``&``."""
    return parse(text, start="rows")
