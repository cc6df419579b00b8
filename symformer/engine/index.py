"""Symbolic proofs in index notation, for general (symbolic) sizes.

SymPy differentiates ``Sum(f(k), (k, 1, n))`` with respect to ``z[j]`` into sums holding
``KroneckerDelta(j, k)``; its own ``doit`` turns those into a Piecewise guarded by ``1 <= j <= n``,
which blocks simplification. Here the standing assumption of a derivation holds instead: every free
index lies in its declared range. Under it ``Sum(f(k) delta(j, k), (k, lo, hi)) = f(j)`` when j's
range is exactly (lo, hi), and a delta between two indices of different ranges is left alone, so a
contraction is never applied where it would be false.

The normal form: multi-limit sums split, sums of sums distributed, factors free of the dummy pulled
out, deltas contracted, dummies renamed by nesting height. Two sides are equal when the expanded
difference of their normal forms is zero. A difference that is not zero proves nothing: the caller
falls back to a weaker method.

A sum over an empty range is 0, as in the course (and in the evaluator); SymPy's own closed forms
follow Karr's convention instead, where sum_{k=4}^{1} 1 = -2. The two agree exactly when the range
has b - a + 1 >= 0 terms, so a sum is counted (b - a + 1 terms) or put in closed form only where
that is proved for every value the sizes and indices can take: a size is a count, at least 1 when
declared positive and 0 otherwise, and an index lies in its range. Otherwise the proof stops
(``NotProved``) and the caller falls back to the exact check at each size. For the same reason
SymPy's ``simplify``, which joins and evaluates sums by Karr's rules, only ever sees sums as opaque
symbols.
"""

from __future__ import annotations

import contextvars
from typing import Mapping

import sympy as sp

from symformer.engine.zero import rational_vanishes, trig_vanishes


def normal_form(expr: sp.Expr, ranges: Mapping[sp.Symbol, tuple]) -> sp.Expr:
    """Rewrite ``expr`` into the normal form described in the module docstring.

    ``ranges`` maps each free index to its (low, high) range, symbolic bounds allowed.

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> j, k = sp.symbols("j k", integer=True)
    >>> z = sp.IndexedBase("z")
    >>> normal_form(sp.Sum(z[k] * sp.KroneckerDelta(j, k), (k, 1, n)), {j: (1, n)})
    z[j]
    """
    expr = sp.expand_log(sp.sympify(expr))  # sound: only logs of provably positive products split
    if expr.has(sp.Derivative):
        # differentiate without doit(): doit would also turn every delta-sum into a Piecewise
        expr = sp.expand_log(expr.replace(lambda e: isinstance(e, sp.Derivative), lambda e: sp.diff(e.expr, *e.variable_count)))
    expr = _rewrite(expr, dict(ranges))
    expr = sp.expand(expr)
    expr = _contract_free_deltas(expr, dict(ranges))
    return _canonical_dummies(expr)


class NotProved(Exception):
    """The normal form needs a fact the prover cannot establish (a range that is never negative)."""


def equal_in_general(lhs: sp.Expr, rhs: sp.Expr, ranges: Mapping[sp.Symbol, tuple], floors: Mapping | None = None) -> bool:
    """True when ``lhs == rhs`` is proved for every size; False means "not proved", not "false".

    ``floors`` gives each size symbol's least value; without it, a symbol declared positive is at
    least 1 and any other integer symbol at least 0.
    """
    token = _FLOORS.set(dict(floors or {}))
    try:
        difference = normal_form(lhs, ranges) - normal_form(rhs, ranges)
        difference = sp.expand(_canonical_dummies(_rewrite(sp.expand(difference), dict(ranges))))
        if difference == 0:
            return True
        if difference.has(sp.sin, sp.cos):
            difference = _merge_sums(difference)
            if difference == 0 or trig_vanishes(difference):
                return True
        if rational_vanishes(difference):
            return True
        difference = _constant_summands(difference, dict(ranges))
        return sp.simplify(_sums_as_symbols(difference, dict(ranges))) == 0
    except NotProved:
        return False
    finally:
        _FLOORS.reset(token)


#: The size floors of the proof under way (a context variable: proofs may run in threads).
_FLOORS: contextvars.ContextVar = contextvars.ContextVar("size_floors", default={})


def _sums_as_symbols(expr, ranges: Mapping):
    """Each distinct sum becomes its own symbol: an identity among them holds whatever the sums are.

    The symbol keeps what is known of the sum with empty sums 0: real when its terms are, non-negative
    when they are, positive when they are and the range is never empty (so log R = log of a count splits).
    """
    table = {}
    for total in expr.atoms(sp.Sum, sp.Product):
        body, facts = total.function, {}
        if body.is_real:
            facts["real"] = True
        if isinstance(total, sp.Sum) and body.is_nonnegative:
            facts["nonnegative"] = True
            if body.is_positive and _never_empty(total.limits, ranges):
                facts["positive"] = True
        if isinstance(total, sp.Product) and body.is_positive:
            facts["positive"] = True
        table[total] = sp.Dummy("sum", **facts)
    return expr.xreplace(table) if table else expr


def _never_empty(limits, ranges) -> bool:
    """Every limit of a (possibly multi-limit) sum has at least one term, for all sizes and indices."""
    scope = dict(ranges)
    for symbol, low, high in reversed(limits):  # outermost first: an inner limit may use an outer dummy
        if not never_negative(high - low, scope, _FLOORS.get()):
            return False
        scope[symbol] = (low, high)
    return True


def _constant_summands(expr, ranges: Mapping):
    """A sum whose summand is provably free of its dummy (sin^2 + cos^2) becomes that constant times its count."""
    table = {}
    for total in expr.atoms(sp.Sum):
        if len(total.limits) != 1 or not total.function.has(sp.sin, sp.cos):
            continue
        (symbol, low, high), = total.limits
        candidate = sp.trigsimp(total.function)
        if candidate.has(symbol) or not trig_vanishes(total.function - candidate):
            continue
        try:
            table[total] = candidate * _term_count(low, high, ranges)
        except NotProved:
            continue
    return sp.expand(expr.xreplace(table)) if table else expr


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


def _term_count(low, high, ranges):
    """The number of terms of a range, max(0, high - low + 1), where it is a polynomial; else NotProved."""
    count = sp.expand(high - low + 1)
    floors = _FLOORS.get()
    if never_negative(count, ranges, floors):
        return count
    if never_negative(-count, ranges, floors):
        return sp.Integer(0)
    raise NotProved(f"the range {low}..{high} may be empty for some sizes")


def _merge_sums(expr):
    """c1 Sum(f, (k, lo, hi)) + c2 Sum(g, (k, lo, hi)) -> Sum(c1 f + c2 g, (k, lo, hi)) for the same limits.

    Sound because each coefficient is free of the (canonically renamed) dummy; a summand that is
    exactly 0 drops its sum.
    """
    groups: dict = {}
    rest = []
    for term in sp.Add.make_args(expr):
        sums = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.Sum)]
        if len(sums) == 1 and len(sums[0].limits) == 1:
            (dummy, _, _), = sums[0].limits
            coefficient = sp.Mul(*(f for f in sp.Mul.make_args(term) if f is not sums[0]))
            if not coefficient.has(dummy):
                groups.setdefault(sums[0].limits, []).append(coefficient * sums[0].function)
                continue
        rest.append(term)
    merged = []
    for limits, bodies in groups.items():
        body = sp.expand(sp.Add(*bodies))
        if body != 0 and not (body.has(sp.sin, sp.cos) and trig_vanishes(body)):
            merged.append(sp.Sum(body, *limits))
    return sp.Add(*rest, *merged)


def _rewrite(expr, ranges):
    """Bottom-up: distribute, pull out and contract every Sum."""
    if isinstance(expr, sp.Sum):
        # Inside a sum its dummies lie in their ranges, so a delta between an inner and an outer dummy contracts.
        limits = [(symbol, (low, high)) for symbol, low, high in expr.limits]
        body = _rewrite(expr.function, {**ranges, **dict(limits)})
        result = body
        for position, (symbol, (low, high)) in enumerate(limits):  # innermost first
            result = _one_sum(result, symbol, low, high, {**ranges, **dict(limits[position + 1 :])})
        return result
    if not expr.args or isinstance(expr, (sp.Indexed, sp.IndexedBase, sp.Symbol, sp.Number)):
        return expr
    return expr.func(*(_rewrite(arg, ranges) for arg in expr.args))


def _one_sum(body, symbol, low, high, ranges):
    # delta^m = delta for m >= 1, so a squared delta (second moments of independent components) still contracts
    body = sp.expand(body).replace(
        lambda e: e.is_Pow and isinstance(e.base, sp.KroneckerDelta) and e.exp.is_Integer and e.exp > 0, lambda e: e.base
    )
    if isinstance(body, sp.Add):
        return sp.Add(*(_one_sum(term, symbol, low, high, ranges) for term in body.args))
    inner_ranges = {**ranges, symbol: (low, high)}
    factors = sp.Mul.make_args(body)
    # free_symbols, not has(): a nested sum may reuse the same dummy name, bound there
    outside = [f for f in factors if symbol not in f.free_symbols]
    inside = [f for f in factors if symbol in f.free_symbols]
    if not inside:
        return sp.Mul(*outside) * _term_count(low, high, ranges)
    for position, factor in enumerate(inside):
        if isinstance(factor, sp.KroneckerDelta) and symbol in factor.args:
            other = factor.args[0] if factor.args[1] == symbol else factor.args[1]
            if symbol in other.free_symbols:
                continue
            if _range_of(other, inner_ranges) == (low, high):
                rest = sp.Mul(*(inside[:position] + inside[position + 1 :]))
                return sp.Mul(*outside) * _rewrite(rest.subs(symbol, other), ranges)
    summand = sp.Mul(*inside)
    if _closed_form_allowed(summand, symbol):
        # a polynomial in the dummy alone: SymPy's closed form (Karr's) is the sum wherever the count is >= 0
        count = _term_count(low, high, ranges)
        return sp.Mul(*outside) * (sp.Integer(0) if count == 0 else sp.expand(sp.summation(summand, (symbol, low, high))))
    return sp.Mul(*outside) * sp.Sum(summand, (symbol, low, high))


def _closed_form_allowed(summand, symbol) -> bool:
    return (not summand.has(sp.Indexed, sp.Sum, sp.Product, sp.Derivative, sp.Function)
            and summand.is_polynomial(symbol))


def _range_of(index, ranges):
    return ranges.get(index) if isinstance(index, sp.Symbol) else None


def _contract_free_deltas(expr, ranges):
    """In a product, delta(a, b) of two free indices of one range lets b be replaced by a."""
    terms = []
    for term in sp.Add.make_args(expr):
        for delta in [f for f in sp.Mul.make_args(term) if isinstance(f, sp.KroneckerDelta)]:
            a, b = sorted(delta.args, key=sp.default_sort_key)
            if delta in sp.Mul.make_args(term) and b in ranges and _range_of(a, ranges) == ranges[b]:
                rest = sp.Mul(*(f for f in sp.Mul.make_args(term) if f != delta))
                term = delta * rest.subs(b, a)
        terms.append(term)
    return sp.Add(*terms)


def _canonical_dummies(expr):
    """Rename summation dummies by nesting height, so equal sums compare equal."""
    if isinstance(expr, sp.Sum):
        body = _canonical_dummies(expr.function)
        (symbol, low, high), = expr.limits
        fresh = _canonical_dummy(_sum_height(body))
        return sp.Sum(body.xreplace({symbol: fresh}), (fresh, low, high))
    if not expr.args or isinstance(expr, (sp.Indexed, sp.Symbol, sp.Number)):
        return expr
    return expr.func(*(_canonical_dummies(arg) for arg in expr.args))


_CANONICAL: list = []


def _canonical_dummy(height: int) -> sp.Dummy:
    """The one dummy of a nesting height: the same object in every proof, and never a user's symbol."""
    while len(_CANONICAL) <= height:
        _CANONICAL.append(sp.Dummy(f"s{len(_CANONICAL)}", integer=True))
    return _CANONICAL[height]


def _sum_height(expr) -> int:
    heights = [_sum_height(s.function) + 1 for s in expr.atoms(sp.Sum)] if isinstance(expr, sp.Basic) else []
    return max(heights, default=0)
