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
"""

from __future__ import annotations

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


def equal_in_general(lhs: sp.Expr, rhs: sp.Expr, ranges: Mapping[sp.Symbol, tuple]) -> bool:
    """True when ``lhs == rhs`` is proved for every size; False means "not proved", not "false"."""
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
    return sp.simplify(difference) == 0


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
        return sp.Mul(*outside) * (high - low + 1)
    for position, factor in enumerate(inside):
        if isinstance(factor, sp.KroneckerDelta) and symbol in factor.args:
            other = factor.args[0] if factor.args[1] == symbol else factor.args[1]
            if symbol in other.free_symbols:
                continue
            if _range_of(other, inner_ranges) == (low, high):
                rest = sp.Mul(*(inside[:position] + inside[position + 1 :]))
                return sp.Mul(*outside) * _rewrite(rest.subs(symbol, other), ranges)
    return sp.Mul(*outside) * sp.Sum(sp.Mul(*inside), (symbol, low, high))


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
        height = _sum_height(body)
        fresh = sp.Symbol(f"_s{height}", integer=True)
        return sp.Sum(body.xreplace({symbol: fresh}), (fresh, low, high))
    if not expr.args or isinstance(expr, (sp.Indexed, sp.Symbol, sp.Number)):
        return expr
    return expr.func(*(_canonical_dummies(arg) for arg in expr.args))


def _sum_height(expr) -> int:
    heights = [_sum_height(s.function) + 1 for s in expr.atoms(sp.Sum)] if isinstance(expr, sp.Basic) else []
    return max(heights, default=0)
