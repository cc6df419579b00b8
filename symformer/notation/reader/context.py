"""Notations taken from expressions, and the last step of reading a chain (sizes left open).

``from_expressions`` declares every name that the printer writes for the given expressions as the
object it was printed from: symbols and matrix symbols under their printed names, indexed bases
under their labels, constants such as masks and permutations under their printed form, and a
building block printed as ``\\operatorname{name}(...)`` as the function ``name``. Reading what the
printer wrote therefore gives back the same objects, which is what the round trip relies on.
"""

from __future__ import annotations

import sympy as sp

from symformer.errors import LatexError
from symformer.notation.printer import DEFAULT_STYLE, Style, to_latex
from symformer.notation.reader.build import Notation, _Free, _Soft, _free, _is_matrix, _unify, name_key


def from_expressions(expressions, style: Style = DEFAULT_STYLE, notation: Notation | None = None) -> Notation:
    r"""A :class:`Notation` in which the printed names of ``expressions`` mean what was printed.

    >>> W = sp.MatrixSymbol("W_Q", 3, 2)
    >>> sorted(from_expressions([W.T * W]).symbols)
    ['W_{Q}']
    """
    notation = notation or Notation()
    notation.undefined_functions = True
    seen = set()
    for expression in expressions:
        for node in sp.preorder_traversal(sp.sympify(expression)):
            if node in seen:
                continue
            seen.add(node)
            _declare(notation, node, style)
    for key in list(notation.symbols):
        if key in notation.bases and isinstance(notation.symbols[key], sp.Symbol) and \
                notation.symbols[key] == notation.bases[key].label:
            del notation.symbols[key]  # the label of an indexed base is not a symbol of its own
    return notation


def _declare(notation: Notation, node, style: Style) -> None:
    if isinstance(node, sp.Indexed):
        base = node.base
        notation.bases.setdefault(name_key(to_latex(base.label, style)), base)
        return
    if isinstance(node, (sp.Symbol, sp.MatrixSymbol)) and not isinstance(node, sp.Dummy):
        try:
            notation.symbols.setdefault(name_key(to_latex(node, style)), node)
        except LatexError:
            pass
        return
    if isinstance(node, (sp.Sum, sp.Product)):
        for index, low, high in node.limits:
            if low == 1:
                notation.indices.setdefault(index, high)
        return
    if _is_matrix(node) and type(node).__module__.split(".")[0] != "sympy":
        printed = to_latex(node, style)
        if node.free_symbols <= _sizes(node) and not node.atoms(sp.MatrixSymbol):
            _declare_constant(notation, printed, node)
        elif printed.startswith("\\operatorname{") and len(node.args) == 1:
            name = printed[len("\\operatorname{"):printed.index("}")]
            notation.functions.setdefault(name, type(node))
        return


def _sizes(node) -> set:
    return {s for s in node.free_symbols if s.is_integer}


def _declare_constant(notation: Notation, printed: str, node) -> None:
    """A matrix that depends on sizes only (a mask, a permutation): its printed form names it.

    Two such matrices printed alike (a causal mask of N x N and one of N x M) become one whose sizes
    are fixed by the neighbours where it is read.
    """
    try:
        key = name_key(printed)
        table = notation.symbols
    except LatexError:
        from symformer.notation.reader.build import _chain_expr, canonical
        from symformer.notation.reader.parse import parse

        key = canonical(_chain_expr(parse(printed)))
        table = notation.phrases
    known = table.get(key)
    if known is None:
        table[key] = node
    elif known != node:
        sizes = _sizes(known) | _sizes(node)
        table[key] = known.xreplace({s: _free() for s in _sizes(known)}) if sizes else known


def _ones_are_columns(part):
    soft = {a for a in sp.sympify(part).atoms(sp.Dummy) if isinstance(a, _Soft)}
    return part.xreplace({a: sp.Integer(1) for a in soft}) if soft else part


def settle(parts: list, expected_shape=None) -> list:
    r"""Fix the sizes a chain leaves open (``\mathbf{1}``, ``I``) from its other parts; 0 beside a matrix is a zero matrix."""
    shapes = [p for p in parts if _is_matrix(p)]
    if expected_shape is not None:
        shapes.append(sp.ZeroMatrix(*expected_shape))
    if shapes:
        anchor = shapes[0]
        for other in shapes[1:]:
            anchor, _ = _unify(anchor, other)
        settled = []
        for part in parts:
            if _is_matrix(part):
                _, part = _unify(anchor, part)
                anchor, _ = _unify(anchor, part)
            elif part == 0:
                part = sp.ZeroMatrix(*anchor.shape)
            settled.append(part)
        parts = settled
    parts = [_ones_are_columns(p) for p in parts]
    for part in parts:
        if any(isinstance(a, _Free) for a in sp.sympify(part).atoms(sp.Dummy)):
            raise LatexError(r"the size of \mathbf{1} or I is not fixed by the formula; write \mathbf{1}_{n} or "
                             "give a neighbour that fixes it")
    return parts
