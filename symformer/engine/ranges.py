"""Range arithmetic of the provers: is an expression in sizes and indices never negative?

A size is a count (at least 1 when declared positive, at least 0 otherwise, or a given floor) and
an index lies in its range; the question "is this range ever empty?" is ``never_negative(high - low + 1)``.
"""

from __future__ import annotations

from typing import Mapping

import sympy as sp


def never_negative(expr, ranges: Mapping, floors: Mapping | None = None) -> bool:
    """True when ``expr`` >= 0 is proved for every index in its range and every size at or above its floor.

    The expression must be linear in each index: its least value over an index's range is then at
    an end of the range (a range that is empty leaves nothing to prove). What remains is a
    polynomial in the sizes, which is written in t_s = s - floor(s) >= 0 and must have
    non-negative coefficients. False means "not proved".

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> i = sp.Symbol("i", integer=True)
    >>> never_negative(n - i, {i: (1, n)}), never_negative(n - 2, {})
    (True, False)
    """
    floors = dict(floors or {})
    expr = sp.expand(sp.sympify(expr))
    for _ in range(4 * len(ranges) + 4):
        present = [symbol for symbol in ranges if expr.has(symbol)]
        if not present:
            break
        symbol = present[0]
        polynomial = sp.Poly(expr, symbol) if expr.is_polynomial(symbol) else None
        if polynomial is None or polynomial.degree() > 1:
            return False
        slope = polynomial.coeff_monomial(symbol)
        low, high = ranges[symbol]
        if slope.has(*ranges) or not (slope.is_nonnegative or slope.is_nonpositive):
            return False
        expr = sp.expand(expr.xreplace({symbol: low if slope.is_nonnegative else high}))
    else:
        return False
    if expr.has(*ranges):
        return False
    shifted = {}
    for symbol in expr.free_symbols:
        if not symbol.is_integer:
            return False
        floor = floors.get(symbol, 1 if symbol.is_positive else 0 if symbol.is_nonnegative else None)
        if floor is None:
            return False
        shifted[symbol] = floor + sp.Dummy("t", integer=True, nonnegative=True)
    expr = sp.expand(expr.xreplace(shifted))
    if expr.is_number:
        return bool(expr >= 0)
    if not expr.is_polynomial(*expr.free_symbols):
        return False
    return all(c.is_number and c >= 0 for c in sp.Poly(expr, *expr.free_symbols).coeffs())


def never_empty(limits, ranges: Mapping, floors: Mapping | None = None) -> bool:
    """Every limit of a (possibly multi-limit) sum has at least one term, for every size and index.

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> k = sp.Symbol("k", integer=True)
    >>> never_empty(((k, 1, n),), {}), never_empty(((k, 2, n),), {})
    (True, False)
    """
    scope = dict(ranges)
    for symbol, low, high in reversed(limits):  # outermost first: an inner limit may use an outer dummy
        if not never_negative(high - low, scope, floors):
            return False
        scope[symbol] = (low, high)
    return True
