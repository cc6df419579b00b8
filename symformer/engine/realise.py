"""Expressions at one concrete size: every matrix explicit, every sum and derivative done.

The exact per-size proof compares the two sides entry by entry after this realisation; the
50-digit check evaluates the realised entries at random rational inputs.
"""

from __future__ import annotations

import itertools
from typing import Iterable

import numpy as np
import sympy as sp

from symformer.engine.zero import is_zero
from symformer.errors import DerivationError


# Exact work at one concrete size ------------------------------------------------------------


def realise(ctx, expr, sizes) -> sp.Basic:
    """``expr`` at concrete sizes with every matrix made explicit; sums and derivatives done.

    Cached per context: each step's expression is also the next step's left side.
    """
    key = (expr, tuple(sorted((str(k), v) for k, v in sizes.items())))
    if key not in ctx.realised:
        ctx.realised[key] = _realise_uncached(ctx, expr, sizes)
    return ctx.realised[key]


def _realise_uncached(ctx, expr, sizes) -> sp.Basic:
    expr = sp.sympify(expr.xreplace(sizes)) if sizes else expr  # a bare size symbol becomes a Python int
    replacements = {}
    for matrix in ctx.matrices:
        shape = ctx._shape_at(matrix.shape, sizes)
        concrete = matrix.xreplace(sizes) if sizes else matrix
        replacements[concrete] = sp.ImmutableMatrix(*shape, lambda r, c: entry_symbol(ctx, matrix, r, c))
    if replacements:
        expr = expr.xreplace(replacements)
    expr = write_out_sums(_explicit_bottom_up(expr)).doit()
    if getattr(expr, "is_Matrix", False):
        expr = sp.ImmutableMatrix(expr.as_explicit())
    return expr


def write_out_sums(expr):
    """Every sum and product with concrete limits written out term by term; an empty one is 0 (or 1).

    Not SymPy's ``doit``: it follows Karr's convention, in which sum_{k=4}^{1} 1 = -2. Limits that
    depend on an outer dummy become concrete as the outer sum is written out, outermost first.
    Bound dummies are renamed apart first, so substituting one never reaches a nested sum that
    binds a symbol of the same name.

    >>> k = sp.Symbol("k", integer=True)
    >>> write_out_sums(sp.Sum(1, (k, 4, 1))), write_out_sums(sp.Sum(k, (k, 1, 3)))
    (0, 6)
    """
    if not expr.has(sp.Sum, sp.Product):
        return expr
    return _write_out(_rename_dummies_apart(expr))


def _rename_dummies_apart(expr):
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(_rename_dummies_apart)
    if isinstance(expr, (sp.Sum, sp.Product)):
        fresh = {symbol: sp.Dummy(str(symbol), integer=True) for symbol, *_ in expr.limits}
        body = _rename_dummies_apart(expr.function).xreplace(fresh)
        # an inner limit may use an outer dummy (SymPy flattens Sum(Sum(f, inner), outer) into one Sum)
        limits = [(fresh[symbol], _rename_dummies_apart(low).xreplace(fresh), _rename_dummies_apart(high).xreplace(fresh))
                  for symbol, low, high in expr.limits]
        return expr.func(body, *limits)
    if not expr.args or not expr.has(sp.Sum, sp.Product):
        return expr
    return expr.func(*(_rename_dummies_apart(arg) for arg in expr.args))


def _write_out(expr):
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(_write_out)
    if isinstance(expr, (sp.Sum, sp.Product)):
        *inner, (symbol, low, high) = expr.limits  # SymPy lists limits from the inside out
        body = expr.func(expr.function, *inner) if inner else expr.function
        low, high = sp.sympify(_write_out(low)), sp.sympify(_write_out(high))
        if not (low.is_Integer and high.is_Integer):
            raise DerivationError(f"the limits of {expr} are not fixed by the sizes and indices ({low}..{high})")
        terms = [_write_out(body.xreplace({symbol: sp.Integer(v)})) for v in range(int(low), int(high) + 1)]
        return sp.Add(*terms) if isinstance(expr, sp.Sum) else sp.Mul(*terms)
    if not expr.args or not expr.has(sp.Sum, sp.Product):
        return expr
    return expr.func(*(_write_out(arg) for arg in expr.args))


def entry_symbol(ctx, matrix: sp.MatrixSymbol, row: int, column: int) -> sp.Dummy:
    """The real symbol standing for one entry of a matrix made explicit.

    A Dummy, one per (matrix, row, column): a name such as ``W_1_2`` could also be a scalar input,
    an entry of a vector ``W_1`` or of an IndexedBase ``W``, and equal names would make different
    inputs one symbol.
    """
    return _stand_in(ctx, ("matrix", matrix, row, column), f"{matrix.name}_{row}_{column}", real=True)


#: (input, position, assumptions) -> its Dummy: one per process, so that SymPy's caches serve the same
#: entries again in every derivation that uses the same input (a new Dummy per check would defeat them).
_STAND_INS: dict = {}


def _stand_in(ctx, key, name: str, **assumptions) -> sp.Dummy:
    key = (*key, tuple(sorted(assumptions)))
    found = _STAND_INS.get(key)
    if found is None:
        found = _STAND_INS.setdefault(key, sp.Dummy(name, **assumptions))
    return found


def _explicit_bottom_up(expr):
    """Every matrix expression of concrete size becomes an explicit matrix, innermost first.

    SymPy's ``as_explicit`` on a nested product rebuilds the inner entries for every outer entry;
    building each node once keeps the per-size proofs polynomial in the size.
    """
    if isinstance(expr, (sp.MatrixBase, sp.MatrixSymbol)) or not expr.args:
        return expr
    args = tuple(_explicit_bottom_up(arg) for arg in expr.args)
    node = expr if args == expr.args else expr.func(*args)
    if isinstance(node, sp.MatrixExpr) and all(isinstance(extent, (int, sp.Integer)) for extent in node.shape):
        return _explicit_node(node)
    if isinstance(node, sp.Derivative) and len(node.variable_count) == 1 and node.variable_count[0][1] == 1:
        variable = node.variable_count[0][0]
        function = node.expr.doit()
        if isinstance(variable, sp.MatrixBase) and not getattr(function, "is_Matrix", False):
            # entry by entry: SymPy's derivative by a matrix returns a scalar 0 for a constant
            return sp.ImmutableMatrix(variable.rows, variable.cols, [sp.diff(function, x) for x in variable])
    return node


def _explicit_node(node) -> sp.ImmutableMatrix:
    """One matrix node whose arguments are explicit, by plain explicit arithmetic.

    Not ``doit``: on a product of explicit symbolic matrices it tries to invert them.
    """
    if isinstance(node, sp.MatMul):
        scalar = sp.Mul(*(a for a in node.args if not a.is_Matrix))
        product = None
        for factor in (a for a in node.args if a.is_Matrix):
            factor = factor if isinstance(factor, sp.MatrixBase) else factor.as_explicit()
            product = factor if product is None else product * factor
        return sp.ImmutableMatrix(product * scalar if scalar != 1 else product)
    if isinstance(node, sp.MatAdd) and all(isinstance(a, sp.MatrixBase) for a in node.args):
        total = node.args[0]
        for term in node.args[1:]:
            total = total + term
        return sp.ImmutableMatrix(total)
    if isinstance(node, sp.Transpose) and isinstance(node.arg, sp.MatrixBase):
        return sp.ImmutableMatrix(node.arg.T)
    return sp.ImmutableMatrix(node.as_explicit())


def real_symbols(ctx, expr):
    """Indexed inputs at concrete indices become real symbols, so log(exp(x)) = x holds.

    One Dummy per (base, position), never a name that another input could also have.
    """
    table = {}
    for atom in expr.atoms(sp.Indexed):
        if all(i.is_Integer for i in atom.indices):
            _check_in_range(atom)
            positive = ctx._domain(atom.base).name in ("positive", "simplex", "unit interval")
            key = ("indexed", atom.base.label, tuple(int(i) for i in atom.indices))
            name = f"{atom.base.label}[{', '.join(map(str, atom.indices))}]"
            table[atom] = _stand_in(ctx, key, name, positive=True) if positive else _stand_in(ctx, key, name, real=True)
    return expr.xreplace(table) if table else expr


def _check_in_range(atom) -> None:
    """An entry such as x[0] of a 1-based x, or x[n + 1], does not exist: an error, never a symbol to prove with."""
    shape = atom.base.shape or ()
    for index, extent in zip(atom.indices, shape):
        if extent.is_Integer and not 1 <= int(index) <= int(extent):
            raise DerivationError(f"{atom} lies outside the declared range of {atom.base.label} (its shape {tuple(shape)})")


def entries(ctx, lhs, rhs, free, sizes) -> Iterable:
    """Yield (index values, lhs entry, rhs entry) over every free index value and matrix entry."""
    ranges = [range(1, int(sp.sympify(bound).subs(sizes)) + 1) for bound in free.values()]
    for values in itertools.product(*ranges):
        assignment = dict(zip(free, values))
        left = realise(ctx, lhs.xreplace(assignment) if assignment else lhs, sizes)
        right = realise(ctx, rhs.xreplace(assignment) if assignment else rhs, sizes)
        if getattr(left, "is_Matrix", False):
            for r in range(left.rows):
                for c in range(left.cols):
                    yield {**{str(k): v for k, v in assignment.items()}, "entry": (r, c)}, left[r, c], right[r, c]
        else:
            yield {str(k): v for k, v in assignment.items()}, left, right


def exactly_equal_at(ctx, lhs, rhs, free, sizes) -> bool | None:
    for _, left, right in entries(ctx, lhs, rhs, free, sizes):
        if not is_zero(real_symbols(ctx, left - right)):
            return None
    return True



def values_at(ctx, lhs, rhs, free, sizes, inputs, digits) -> Iterable:
    """Yield (index values, lhs value, rhs value) as high-precision numbers at the given inputs."""
    indexed, table = {}, {}
    for thing, value in inputs.items():
        if isinstance(thing, sp.IndexedBase):
            for position, v in np.ndenumerate(value):
                indexed[(thing.label, tuple(p + 1 for p in position))] = v
        elif isinstance(thing, sp.MatrixSymbol):
            for (r, c), v in np.ndenumerate(value):
                table[entry_symbol(ctx, thing, r, c)] = v
        else:
            table[thing] = value

    def substitute(expr):
        # sizes were substituted into the IndexedBase shapes, so match entries by label and position
        for atom in expr.atoms(sp.Indexed):
            key = (atom.base.label, tuple(int(i) for i in atom.indices))
            if key not in indexed:
                raise DerivationError(f"{atom} lies outside the declared range of {atom.base.label} (its shape {tuple(atom.base.shape)})")
            table[atom] = indexed[key]
        return expr.xreplace(table)

    for indices, left, right in entries(ctx, lhs, rhs, free, sizes):
        left_value = sp.N(substitute(left), digits)
        right_value = sp.N(substitute(right), digits)
        yield indices, _number(left_value), _number(right_value)


def _number(value):
    """A high-precision SymPy number: a Float, a complex of Floats, or an infinity or NaN as SymPy writes them."""
    if not value.is_number:
        raise DerivationError(f"an expression did not reduce to a number: {value}; an input lacks a value")
    if value.has(sp.nan, sp.zoo):
        return sp.nan
    if value in (sp.oo, -sp.oo):
        return value
    if value.is_extended_real:
        return sp.Float(value, 60)
    real, imaginary = value.as_real_imag()
    if real.has(sp.oo, -sp.oo, sp.nan, sp.zoo) or imaginary.has(sp.oo, -sp.oo, sp.nan, sp.zoo):
        return sp.nan  # a complex infinity has no sign to compare
    return sp.Float(real, 60) + sp.I * sp.Float(imaginary, 60)

