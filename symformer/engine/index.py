"""Symbolic proofs in index notation, for general (symbolic) sizes.

SymPy differentiates ``Sum(f(k), (k, 1, n))`` with respect to ``z[j]`` into sums holding
``KroneckerDelta(j, k)``; its own ``doit`` turns those into a Piecewise guarded by ``1 <= j <= n``,
which blocks simplification. Here the standing assumption of a derivation holds instead: every free
index lies in its declared range. Under it ``Sum(f(k) delta(j, k), (k, lo, hi)) = f(j)`` when j's
range is exactly (lo, hi), and a delta between two indices of different ranges is left alone, so a
contraction is never applied where it would be false.

The normal form: multi-limit sums split, sums of sums distributed, factors free of the dummy pulled
out, deltas contracted, a sum whose summand holds a condition on its dummy (a mask's Piecewise)
split where the condition changes. Then each product of (nested) sums is read as one sum over a set
of integer points, the points satisfying every limit at once; with the empty-range convention the
nested sum is exactly that, whatever the order, so the order of finite sums is a free choice. The
limits become linear inequalities, those implied by others dropped (``sum_{i=1}^{n} sum_{j=1}^{i}``
and ``sum_{j=1}^{n} sum_{i=j}^{n}`` are one set), the dummies are named canonically (the least sort
key over their permutations) and the sum is rebuilt by eliminating one dummy at a time, innermost
first, each with one lower and one upper bound. Sums over adjacent ranges of one summand are joined
where the split point is proved to lie within the range. Two sides are equal when the expanded
difference of their normal forms is zero. A difference that is not zero proves nothing: the caller
falls back to a weaker method.

Every rewrite can be recorded (``equal_in_general(..., explain=[])``): its name and the expression
before and after, the chain an instructor reads beside "proved for all n".

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
import itertools
from dataclasses import dataclass
from typing import Mapping

import sympy as sp
from sympy.core.logic import fuzzy_and

from symformer.engine.ranges import never_empty, never_negative
from symformer.engine.zero import exponentials_as_symbols, rational_vanishes, trig_vanishes


def normal_form(expr: sp.Expr, ranges: Mapping[sp.Symbol, tuple], floors: Mapping | None = None) -> sp.Expr:
    """Rewrite ``expr`` into the normal form described in the module docstring.

    ``ranges`` maps each free index to its (low, high) range, symbolic bounds allowed; ``floors``
    each size's least value, as for :func:`equal_in_general`.

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> j, k = sp.symbols("j k", integer=True)
    >>> z = sp.IndexedBase("z")
    >>> normal_form(sp.Sum(z[k] * sp.KroneckerDelta(j, k), (k, 1, n)), {j: (1, n)})
    z[j]
    """
    tokens = _RANGES.set(dict(ranges)), _FLOORS.set(dict(floors or {}))
    try:
        return _normal_form(expr, dict(ranges))
    finally:
        for variable, token in zip((_RANGES, _FLOORS), tokens):
            variable.reset(token)


def _normal_form(expr, ranges):
    start = sp.sympify(expr)
    expr = sp.expand_log(_hold_cases(start))  # sound: only logs of provably positive products split
    if expr.has(sp.Derivative):
        # differentiate without doit(): doit would also turn every delta-sum into a Piecewise
        differentiated = sp.expand_log(expr.replace(lambda e: isinstance(e, sp.Derivative),
                                                    lambda e: sp.diff(e.expr, *e.variable_count)))
        _note("differentiate (without evaluating the sums)", expr, differentiated)
        expr = differentiated
    expr = _rewrite(expr, ranges)
    expr = sp.expand(expr)
    contracted = _contract_free_deltas(expr, ranges)
    _note("contract the deltas between free indices of one range", expr, contracted)
    canonical = _canonical_sums(contracted)
    return canonical


class NotProved(Exception):
    """The normal form needs a fact the prover cannot establish (a range that is never negative)."""


@dataclass(frozen=True)
class Rewrite:
    """One rewrite of a proof: its name and the expression before and after it."""

    name: str
    before: sp.Expr
    after: sp.Expr

    def to_dict(self) -> dict:
        """The rewrite as text: its name, both expressions in SymPy's syntax and in the course's LaTeX."""
        from symformer.notation import to_latex

        before, after = _readable(self.before), _readable(self.after)
        return {"rewrite": self.name, "before": sp.sstr(before), "after": sp.sstr(after),
                "before_latex": to_latex(before), "after_latex": to_latex(after)}

    def __str__(self) -> str:
        return f"{self.name}: {sp.sstr(_readable(self.before))}  ->  {sp.sstr(_readable(self.after))}"


def _readable(expr):
    """The expression with each summation dummy shown by its name (s1_0, the first dummy of height 1), for reading only."""
    dummies = expr.atoms(sp.Dummy) if isinstance(expr, sp.Basic) else set()
    return expr.xreplace({d: sp.Symbol(d.name, integer=True) for d in dummies}) if dummies else expr


def equal_in_general(lhs: sp.Expr, rhs: sp.Expr, ranges: Mapping[sp.Symbol, tuple], floors: Mapping | None = None,
                     *, explain: list | None = None) -> bool:
    """True when ``lhs == rhs`` is proved for every size; False means "not proved", not "false".

    ``floors`` gives each size symbol's least value; without it, a symbol declared positive is at
    least 1 and any other integer symbol at least 0. A list passed as ``explain`` receives each
    :class:`Rewrite` of the proof in order (the left side's, the right side's, then the comparison).

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> i, j = sp.symbols("i j", integer=True)
    >>> x = sp.IndexedBase("x")
    >>> chain = []
    >>> equal_in_general(sp.Sum(sp.Sum(x[j], (j, 1, i)), (i, 1, n)), sp.Sum(sp.Sum(x[j], (i, j, n)), (j, 1, n)), {},
    ...                  explain=chain)
    True
    >>> chain[-1].name
    'the normal forms are equal'
    """
    tokens = _FLOORS.set(dict(floors or {})), _RANGES.set(dict(ranges)), _TRACE.set(explain), _MEMO.set({})
    try:
        if _is_matrix(lhs) or _is_matrix(rhs):
            entries = _entries_at_general_position(lhs, rhs, dict(ranges))
            if entries is None:
                return False
            lhs, rhs, ranges = entries
            _RANGES.set(dict(ranges))
        for side in (lhs, rhs):
            _divides_by_nonempty_sums_only(side, dict(ranges))
        left = _normal_form(lhs, dict(ranges))
        _note("the normal form of the left side", lhs, left)
        right = _normal_form(rhs, dict(ranges))
        _note("the normal form of the right side", rhs, right)
        if left == right:
            _note("the normal forms are equal", left, right, always=True)
            return True
        difference = sp.expand(left - right)
        if difference == 0:
            _note("the normal forms are equal", left, right, always=True)
            return True
        again = sp.expand(_canonical_sums(_rewrite(difference, dict(ranges))))
        _note("the normal form of their difference", difference, again)
        difference = again
        if difference == 0:
            _note("the normal forms are equal", left - right, difference, always=True)
            return True
        if difference.has(sp.sin, sp.cos):
            merged = _merge_sums(difference)
            if merged == 0 or trig_vanishes(merged):
                _note("merge sums of one range, then sin^2 + cos^2 = 1", difference, sp.Integer(0), always=True)
                return True
            difference = merged
        if rational_vanishes(difference):
            _note("the difference is a rational function that vanishes identically", difference, sp.Integer(0), always=True)
            return True
        exponential = _exponentials_of_sums(difference)
        if rational_vanishes(exponentials_as_symbols(exponential)):
            _note("the difference is a rational function of exponentials (e^(a+b) = e^a e^b) that vanishes identically",
                  difference, sp.Integer(0), always=True)
            return True
        counted = _constant_summands(difference, dict(ranges))
        _note("count the terms of sums whose summand is a constant", difference, counted)
        if sp.simplify(_sums_as_symbols(counted, dict(ranges))) == 0:
            _note("simplify, each distinct sum an opaque symbol", counted, sp.Integer(0), always=True)
            return True
        return False
    except NotProved:
        return False
    finally:
        for variable, token in zip((_FLOORS, _RANGES, _TRACE, _MEMO), tokens):
            variable.reset(token)


def _is_matrix(expr) -> bool:
    return bool(getattr(expr, "is_Matrix", False))


def _entries_at_general_position(lhs, rhs, ranges):
    """Two matrix expressions of one shape as their general entries (i, j), 1-based (see ``indexform``).

    None where a part has no general entry (an explicit matrix, a determinant, ...): the caller's
    exact check at each size decides those.
    """
    from symformer.engine.indexform import Untranslatable, general_entries  # it uses this module's range arithmetic

    try:
        left, right, entry_ranges = general_entries(lhs, rhs, _FLOORS.get())
    except Untranslatable:
        return None
    _note("compare the general entries, 1-based", sp.Eq(lhs, rhs, evaluate=False), sp.Eq(left, right, evaluate=False))
    return left, right, {**ranges, **entry_ranges}


def _exponentials_of_sums(expr):
    """Product(exp(f), limits) -> exp(Sum(f, limits)), as SymPy's expand wrote e^(sum) (an empty product is e^0 = 1),
    the sums then in canonical form, so that e^(sum) and e^(-sum) are seen as one exponential and its inverse."""
    products = [p for p in expr.atoms(sp.Product) if isinstance(p.function, sp.exp)]
    if not products:
        return expr
    table = {p: sp.exp(sp.Sum(p.function.args[0], *p.limits)) for p in products}
    return _canonical_sums(sp.expand(expr.xreplace(table), power_exp=False))


#: The size floors of the proof under way (a context variable: proofs may run in threads).
_FLOORS: contextvars.ContextVar = contextvars.ContextVar("size_floors", default={})
#: The free indices' ranges of the proof under way, for facts about a sum's limits.
_RANGES: contextvars.ContextVar = contextvars.ContextVar("index_ranges", default={})
#: The canonical forms found so far in the proof under way (they depend on its ranges and floors only).
_MEMO: contextvars.ContextVar = contextvars.ContextVar("canonical_forms", default=None)
#: Where the rewrites of the proof under way are recorded, or None.
_TRACE: contextvars.ContextVar = contextvars.ContextVar("rewrite_trace", default=None)


def _note(name: str, before, after, always: bool = False) -> None:
    """Record a rewrite in the trace of the proof under way, if one is kept and the rewrite changed something."""
    trace = _TRACE.get()
    if trace is not None and (always or before != after):
        trace.append(Rewrite(name, before, after))


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


def _divides_by_nonempty_sums_only(expr, ranges) -> None:
    """NotProved where a sum in a denominator may be empty at some size: it is then 0, the side is
    undefined there, and SymPy's cancellation of s / s = 1 would prove what is false at that size
    (sum_j e^{z_j} / sum_k e^{z_k} = 1 fails at n = 0, where the left side is the empty sum 0)."""
    if isinstance(expr, (sp.Sum, sp.Product)):
        scope = dict(ranges)
        for symbol, low, high in reversed(expr.limits):
            scope[symbol] = (low, high)
        _divides_by_nonempty_sums_only(expr.function, scope)
        return
    if isinstance(expr, sp.Pow) and expr.exp.is_negative is not False:
        # each sum that may be empty is 0 at some size: the denominator must not be 0 there, for any
        # combination of those sums (sum_{k<=u} + sum_{u<k<=u+t} with t >= 1 is fine; sum_{k<=n}, n >= 0, is not)
        maybe_empty = [total for total in expr.base.atoms(sp.Sum) if not _never_empty(total.limits, ranges)]
        for count in range(1, min(len(maybe_empty), 4) + 1):
            for empty in itertools.combinations(maybe_empty, count):
                if sp.expand(expr.base.xreplace({total: sp.Integer(0) for total in empty})) == 0:
                    raise NotProved(f"a denominator is 0 where {', '.join(map(str, empty))} is an empty sum")
        if len(maybe_empty) > 4:
            raise NotProved("a denominator holds more sums that may be empty than are examined")
    for arg in expr.args if isinstance(expr, sp.Basic) else ():
        _divides_by_nonempty_sums_only(arg, ranges)


def _never_empty(limits, ranges) -> bool:
    return never_empty(limits, ranges, _FLOORS.get())


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


def _term_count(low, high, ranges):
    """The number of terms of a range, max(0, high - low + 1), where it is a polynomial; else NotProved."""
    count = sp.expand(high - low + 1)
    floors = _FLOORS.get()
    if never_negative(count, ranges, floors):
        return count
    if never_negative(-count, ranges, floors):
        return sp.Integer(0)
    raise NotProved(f"the range {low}..{high} may be empty for some sizes")


def _range_of(index, ranges):
    return ranges.get(index) if isinstance(index, sp.Symbol) else None


def _lies_within(index, low, high, ranges) -> bool:
    """``low <= index <= high`` for every size and every index in its range (t + w in 1..n for w in 1..n - t)."""
    return (bool(sp.sympify(index).is_integer) and never_negative(index - low, ranges, _FLOORS.get())
            and never_negative(high - index, ranges, _FLOORS.get()))


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


def _sum_height(expr) -> int:
    heights = [_sum_height(s.function) + 1 for s in expr.atoms(sp.Sum)] if isinstance(expr, sp.Basic) else []
    return max(heights, default=0)


def _merge_sums(expr):
    """c1 Sum(f, limits) + c2 Sum(g, limits) -> Sum(c1 f + c2 g, limits) for the same limits.

    Sound because each coefficient is free of the (canonically renamed) dummies; a summand that is
    exactly 0 drops its sum.
    """
    groups: dict = {}
    rest = []
    for term in sp.Add.make_args(expr):
        sums = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.Sum)]
        if len(sums) == 1:
            dummies = {limit[0] for limit in sums[0].limits}
            coefficient = sp.Mul(*(f for f in sp.Mul.make_args(term) if f is not sums[0]))
            if not coefficient.free_symbols & dummies:
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
    if body == 0:
        return sp.Integer(0)
    if isinstance(body, sp.Add):
        return sp.Add(*(_one_sum(term, symbol, low, high, ranges) for term in body.args))
    inner_ranges = {**ranges, symbol: (low, high)}
    factors = sp.Mul.make_args(body)
    # free_symbols, not has(): a nested sum may reuse the same dummy name, bound there
    outside = [f for f in factors if symbol not in f.free_symbols]
    inside = [f for f in factors if symbol in f.free_symbols]
    if not inside:
        count = _term_count(low, high, ranges)
        _note(f"count the terms of the sum over {symbol}", sp.Sum(body, (symbol, low, high)), sp.Mul(*outside) * count)
        return sp.Mul(*outside) * count
    if outside and _TRACE.get() is not None:
        _note(f"pull out the factors free of {symbol}", sp.Sum(body, (symbol, low, high)),
              sp.Mul(*outside) * sp.Sum(sp.Mul(*inside), (symbol, low, high)))
    for position, factor in enumerate(inside):
        if isinstance(factor, sp.KroneckerDelta) and symbol in factor.args:
            other = factor.args[0] if factor.args[1] == symbol else factor.args[1]
            if symbol in other.free_symbols:
                continue
            same_range = _range_of(other, inner_ranges) == (low, high)
            if same_range or _lies_within(other, low, high, ranges):
                rest = sp.Mul(*(inside[:position] + inside[position + 1 :]))
                contracted = sp.Mul(*outside) * _rewrite(rest.subs(symbol, other), ranges)
                _note(f"contract δ({symbol}, {other}): {other} {'runs over' if same_range else 'lies in'} {symbol}'s range "
                      f"{low}..{high}", sp.Sum(body, (symbol, low, high)), contracted)
                return contracted
    summand = sp.Mul(*inside)
    if _closed_form_allowed(summand, symbol):
        # a polynomial in the dummy alone: SymPy's closed form (Karr's) is the sum wherever the count is >= 0
        count = _term_count(low, high, ranges)
        closed = sp.Mul(*outside) * (sp.Integer(0) if count == 0 else sp.expand(sp.summation(summand, (symbol, low, high))))
        _note(f"sum the polynomial in {symbol} in closed form ({low}..{high} never has fewer than 0 terms)",
              sp.Sum(body, (symbol, low, high)), closed)
        return closed
    split = _split_at_condition(summand, symbol, low, high, ranges)
    if split is not None:
        return sp.Mul(*outside) * split
    return sp.Mul(*outside) * sp.Sum(summand, (symbol, low, high))


def _closed_form_allowed(summand, symbol) -> bool:
    return (not summand.has(sp.Indexed, sp.Sum, sp.Product, sp.Derivative, sp.Function)
            and summand.is_polynomial(symbol))


# Conditions on a dummy (masks) ----------------------------------------------------------------


class _Cases(sp.Function):
    """A Piecewise held as an opaque function: its arguments are the (value, condition) pairs, flattened.

    SymPy folds a Piecewise out of the sums around it when it builds a Sum, and does so even out of a
    sum that binds the condition's variable: Sum(i Sum(Piecewise((x_j, j <= i), (0, True)), (j, 1, n)),
    (i, 1, n)) becomes a sum of Piecewise((i Sum(x_j, (j, 1, n)), j <= i), ...), with j free, another
    value. The prover rebuilds sums at every step, so it never lets SymPy see a Piecewise there.
    """

    @classmethod
    def eval(cls, *args):
        return None

    def pieces(self) -> list:
        return list(zip(self.args[::2], self.args[1::2]))

    def _eval_is_extended_real(self):
        return fuzzy_and(value.is_extended_real for value, _ in self.pieces())

    def _sympystr(self, printer):
        return printer._print(sp.Piecewise(*self.pieces()))

    def _latex(self, printer):
        return printer._print(sp.Piecewise(*self.pieces()))


def _hold_cases(expr):
    """Every Piecewise of ``expr`` as a :class:`_Cases` (bottom-up, so no sum is rebuilt around a Piecewise)."""
    if not isinstance(expr, sp.Basic) or not expr.has(sp.Piecewise):
        return expr
    return expr.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: _Cases(*(part for pair in e.args for part in pair)))



def _split_at_condition(summand, symbol, low, high, ranges):
    """Sum_{low}^{high} of a summand holding Piecewise((A, cond), (B, True)) (held as _Cases), cond linear in the dummy.

    The condition holds on one side of a point p and fails on the other: the sum is the sum of
    A over one part and of B over the other, Sum_{low}^{p} + Sum_{p+1}^{high}, which is the sum
    exactly when low - 1 <= p <= high (proved, with empty ranges 0); where p is proved outside the
    range the whole range is one part. Otherwise None: the Piecewise stays opaque.
    """
    for piecewise in sorted(_piecewise_outside_sums(summand), key=sp.default_sort_key):
        pieces = piecewise.pieces()
        if symbol not in piecewise.free_symbols or len(pieces) != 2 or pieces[1][1] != sp.true:
            continue
        (first, condition), (second, _) = pieces
        bound = _linear_condition(condition, symbol)
        if bound is None:
            continue
        direction, point = bound  # direction -1: symbol <= point holds the condition; +1: symbol >= point
        last_low = point if direction < 0 else point - 1  # the last index of the lower part
        lower_value, upper_value = (first, second) if direction < 0 else (second, first)
        floors = _FLOORS.get()
        if never_negative(last_low - high, ranges, floors):
            parts = [(lower_value, low, high)]
        elif never_negative(low - 1 - last_low, ranges, floors):
            parts = [(upper_value, low, high)]
        elif never_negative(last_low - low + 1, ranges, floors) and never_negative(high - last_low, ranges, floors):
            parts = [(lower_value, low, last_low), (upper_value, last_low + 1, high)]
        else:
            continue
        before = sp.Sum(summand, (symbol, low, high))
        pieces = [sp.Sum(summand.xreplace({piecewise: value}), (symbol, a, b)) for value, a, b in parts]
        _note(f"split the sum over {symbol} where {condition} changes", before, sp.Add(*pieces, evaluate=False))
        return sp.Add(*(_one_sum(summand.xreplace({piecewise: value}), symbol, a, b, ranges) for value, a, b in parts))
    return None


def _piecewise_outside_sums(expr) -> set:
    """The held Piecewise parts of ``expr`` that no inner sum or product binds: a condition on an
    inner dummy says nothing about the outer sum's range."""
    if isinstance(expr, _Cases):
        return {expr}
    if isinstance(expr, (sp.Sum, sp.Product)) or not expr.args:
        return set()
    return set().union(*(_piecewise_outside_sums(arg) for arg in expr.args))


def _linear_condition(condition, symbol):
    """(direction, point) for an integer condition symbol <= point (-1) or symbol >= point (+1), else None."""
    if not isinstance(condition, (sp.Le, sp.Lt, sp.Ge, sp.Gt)) or not symbol.is_integer:
        return None
    if isinstance(condition, (sp.Le, sp.Lt)):
        form = condition.rhs - condition.lhs - (1 if isinstance(condition, sp.Lt) else 0)  # form >= 0
    else:
        form = condition.lhs - condition.rhs - (1 if isinstance(condition, sp.Gt) else 0)
    form = sp.expand(form)
    slope = form.coeff(symbol)
    rest = sp.expand(form - slope * symbol)
    if rest.has(symbol) or slope not in (1, -1) or not rest.is_integer:
        return None
    return (-1, rest) if slope == -1 else (1, -rest)


# The canonical form of products of sums ---------------------------------------------------------

#: Up to this many dummies in one product of sums, every order of the sums is tried for the canonical one.
MAX_EXCHANGE = 5


def _canonical_sums(expr):
    """Each product of (nested) sums as one sum over its set of points, dummies named and ordered canonically."""
    if not expr.has(sp.Sum):  # nothing to rename: rebuilding it would only recompute its assumptions
        return expr
    memo = _MEMO.get()
    if memo is not None and expr in memo:  # softmax's denominators recur in every term of a gradient
        return memo[expr]
    if isinstance(expr, sp.Add):
        result = _join_adjacent(sp.Add(*(_canonical_sums(term) for term in expr.args)))
    elif isinstance(expr, (sp.Mul, sp.Sum)) or _is_sum_power(expr):
        result = _canonical_term(expr)
    elif not expr.args or isinstance(expr, (sp.Indexed, sp.Symbol, sp.Number)):
        result = expr
    else:
        result = expr.func(*(_canonical_sums(arg) for arg in expr.args))
    if memo is not None:
        memo[expr] = result
    return result


def _is_sum_power(expr) -> bool:
    return expr.is_Pow and isinstance(expr.base, sp.Sum) and expr.exp.is_Integer and 2 <= expr.exp <= 4


def _canonical_term(term):
    limits, factors, distributed = [], [], _distribute_sum_bodies(term)
    if distributed is not None:
        return _canonical_sums(distributed)
    _collect(term, limits, factors)
    if not limits:
        return sp.Mul(*factors)
    dummies = {symbol for symbol, _, _ in limits}
    outside = [f for f in factors if not f.free_symbols & dummies]
    inside = [f for f in factors if f.free_symbols & dummies]
    sums, order = [], []
    for component_limits, component_factors in _independent_sums(limits, inside):
        total, nesting = _canonical_group(component_limits, sp.Mul(*component_factors))
        if _summable(total.function, total.limits[0][0]):
            total = _count_innermost(total)
        sums.append(total)
        order += nesting
    result = sp.Mul(*outside, *sums)
    if len(limits) > 1 and _TRACE.get() is not None:
        written, chosen = [limit[0].name for limit in limits], [symbol.name for symbol in order]
        if chosen != written:
            _note(f"exchange the sums over {', '.join(written)} into the canonical order {', '.join(chosen)} "
                  "(outermost first; one set of points)", term, result)
    return result


def _summable(body, symbol) -> bool:
    """The factors of ``body`` holding ``symbol`` are a polynomial in it alone (or there are none): a closed form."""
    return _closed_form_allowed(sp.Mul(*(f for f in sp.Mul.make_args(body) if symbol in f.free_symbols)), symbol)


def _count_innermost(total):
    """A triangle rebuilt with a summable dummy innermost: that sum has a closed form (a count of terms at least).

    sum_{j=1}^{n} sum_{i=j}^{n} x_j = sum_{j=1}^{n} (n - j + 1) x_j, where the count is proved never
    negative, as the other side would have it when written with i inside; otherwise the sum stays.
    """
    try:
        counted = _rewrite(total, _RANGES.get())
    except NotProved:
        return total
    return _canonical_sums(sp.expand(counted)) if len(counted.atoms(sp.Sum)) < len(total.atoms(sp.Sum)) else total


def _independent_sums(limits, factors):
    """The limits and summand factors split into independent sums: dummies that share a factor or a limit go together.

    Sum_{a,b} f(a) g(b) = (Sum_a f(a)) (Sum_b g(b)), empty ranges included (both sides are 0), so a
    product of independent sums stays a product, and a sum in a denominator still cancels against
    the same sum in a numerator.
    """
    dummies = [limit[0] for limit in limits]
    parent = {symbol: symbol for symbol in dummies}

    def root(symbol):
        while parent[symbol] != symbol:
            symbol = parent[symbol]
        return symbol

    def link(group):
        group = [root(symbol) for symbol in group]
        for other in group[1:]:
            parent[other] = group[0]

    own = set(dummies)
    for symbol, low, high in limits:
        link([symbol, *(own & (sp.sympify(low).free_symbols | sp.sympify(high).free_symbols))])
    factor_dummies = [own & f.free_symbols for f in factors]
    for used in factor_dummies:
        link(sorted(used, key=dummies.index))
    components: dict = {}
    for limit in limits:
        components.setdefault(root(limit[0]), ([], []))[0].append(limit)
    for factor, used in zip(factors, factor_dummies):
        components[root(next(iter(used)))][1].append(factor)
    return list(components.values())


def _distribute_sum_bodies(term):
    """A term with a factor Sum(f + g) as the sum of its terms with Sum(f) and Sum(g); None when there is none."""
    for factor in sp.Mul.make_args(term):
        total = factor.base if _is_sum_power(factor) else factor
        if isinstance(total, sp.Sum) and isinstance(total.function, sp.Add):
            split = sp.Add(*(sp.Sum(part, *total.limits) for part in total.function.args))
            return sp.expand(term.xreplace({total: split}))
    return None


def _collect(term, limits, factors, around=frozenset()) -> None:
    """The limits and the other factors of a product of sums, nested sums flattened.

    A dummy keeps its symbol unless that symbol is already a dummy of the product or appears
    anywhere outside its sum (``around``: a free index of that name, or another sum's dummy);
    then it becomes a fresh one, so that flattening never captures a symbol.
    """
    parts = sp.Mul.make_args(term)
    for factor in parts:
        if _is_sum_power(factor):
            copies = [factor.base] * int(factor.exp)
        elif isinstance(factor, sp.Sum) and not isinstance(factor.function, sp.Add):
            copies = [factor]
        else:
            factors.append(_canonical_sums(factor))
            continue
        outside = set(around).union(*(part.atoms(sp.Symbol) for part in parts if part is not factor))
        for total in copies:
            body, own = total.function, []
            renamed = list(total.limits)
            for position in reversed(range(len(renamed))):  # outermost first: inner limits may use it
                symbol, low, high = renamed[position]
                taken = {limit[0] for limit in limits} | {limit[0] for limit in own}
                if symbol in taken or symbol in outside:
                    fresh = sp.Dummy(str(symbol), integer=True)
                    body = body.xreplace({symbol: fresh})
                    for inner in range(position):
                        renamed[inner] = tuple(part.xreplace({symbol: fresh}) for part in renamed[inner])
                    symbol = fresh
                own.append((symbol, low, high))
            limits.extend(own)
            _collect(body, limits, factors, frozenset(outside))


def _canonical_group(limits, body):
    """Sum(body) over the points satisfying every limit, with canonical dummies and a canonical nesting.

    Returns the sum and the dummies as given in the order they now nest, outermost first.
    """
    dummies = [symbol for symbol, _, _ in limits]
    height = _sum_height(body) + 1
    names = [_canonical_dummy(height, position) for position in range(len(dummies))]
    inequalities = []
    for symbol, low, high in limits:
        inequalities += [sp.expand(symbol - low), sp.expand(high - symbol)]
    dependent = any(set(dummies) & (sp.sympify(low).free_symbols | sp.sympify(high).free_symbols) for _, low, high in limits)
    if dependent:
        inequalities = _irredundant(inequalities, set(dummies))
    best = None
    candidates = _candidate_orders(dummies, limits, body, dependent)
    for order in candidates:
        table = {symbol: names[position] for position, symbol in enumerate(order)}
        renamed = body.xreplace(table)
        if len(candidates) == 1:  # the signatures alone fix the order
            best = (None, table, renamed)
            break
        key = (tuple(sorted(sp.default_sort_key(e.xreplace(table)) for e in inequalities)), sp.default_sort_key(renamed))
        if best is None or key < best[0]:
            best = (key, table, renamed)
    _, table, body = best
    nested = _nest([e.xreplace(table) for e in inequalities], names, dependent,
                   {name for name in names if _summable(body, name)} if dependent else frozenset())
    if nested is None:  # the bounds are not one lower and one upper per dummy: keep the sums as written, renamed
        # ``limits`` lists the outermost first (as collected); a Sum lists the innermost first
        nested = [tuple(part.xreplace(table) for part in limit) for limit in reversed(limits)]
    original = {name: symbol for symbol, name in table.items()}
    return sp.Sum(body, *nested), [original[limit[0]] for limit in reversed(nested)]


def _candidate_orders(dummies, limits, body, dependent):
    """The orders of the dummies among which the canonical one is chosen, fewest first.

    Each dummy has a signature that renaming cannot change: its limits (where no limit holds another
    dummy: a triangle can be written with either dummy outside), and the (array, position) pairs it
    indexes in the summand. Dummies are ordered by
    signature; only dummies of one signature are permuted among themselves (all orders up to
    ``MAX_EXCHANGE`` dummies in all). Any order is a renaming, so the choice is never unsound;
    a canonical one makes equal sums compare equal.
    """
    own = set(dummies)
    uses: dict = {symbol: [] for symbol in dummies}
    for entry in body.atoms(sp.Indexed):
        for position, index in enumerate(entry.indices):
            for symbol in own & index.free_symbols:
                uses[symbol].append((str(entry.base), position, index == symbol))
    signature = {}
    for symbol, low, high in limits:
        bounds = () if dependent else (str(low), str(high))
        signature[symbol] = (bounds, tuple(sorted(uses[symbol])))
    ranked = sorted(dummies, key=lambda symbol: signature[symbol])
    groups = [list(group) for _, group in itertools.groupby(ranked, key=lambda symbol: signature[symbol])]
    if len(dummies) > MAX_EXCHANGE:
        return [ranked]
    return [[symbol for part in choice for symbol in part]
            for choice in itertools.product(*(itertools.permutations(group) for group in groups))]


def _nest(inequalities, names, dependent, summable=frozenset()):
    """Limits, innermost first, whose nested sum runs over exactly the points where every inequality is >= 0.

    Eliminates one dummy at a time: a dummy with exactly one lower bound L (v - L >= 0) and one upper
    bound U (U - v >= 0) becomes the innermost sum from L to U, and U - L >= 0 joins the outer
    inequalities when it still holds a dummy (the outer points where the inner range is not empty;
    elsewhere the inner sum is 0 anyway). None when some dummy cannot be eliminated so.
    """
    remaining, left, limits = list(inequalities), list(names), []
    while left:
        # a summable dummy (the summand a polynomial in it, or free of it) goes innermost first: a closed form
        for symbol in sorted(reversed(left), key=lambda symbol: symbol in summable, reverse=True):
            lower, upper, other, blocked = [], [], [], False
            for form in remaining:
                slope = form.coeff(symbol) if form.has(symbol) else 0
                if slope == 0:
                    other.append(form)
                elif slope in (1, -1) and not sp.expand(form - slope * symbol).has(symbol):
                    (lower if slope == 1 else upper).append(form)
                else:
                    blocked = True
            if blocked or len(lower) != 1 or len(upper) != 1:
                continue
            low, high = sp.expand(symbol - lower[0]), sp.expand(upper[0] + symbol)
            limits.append((symbol, low, high))
            left.remove(symbol)
            span = sp.expand(high - low)
            remaining = other + ([span] if span.free_symbols & set(left) else [])
            if dependent:
                remaining = _irredundant(remaining, set(left))
            break
        else:
            return None
    return limits


def _irredundant(inequalities, dummies) -> list:
    """The inequalities (each form >= 0) without those implied by one or two others (form - others >= 0 proved)."""
    forms = sorted({sp.expand(e) for e in inequalities}, key=sp.default_sort_key)
    kept = list(forms)
    for form in forms:
        if not form.free_symbols & dummies:
            continue
        others = [o for o in kept if o is not form and o != form]
        implied = any(_proved_nonnegative(form - o, dummies) for o in others) or any(
            _proved_nonnegative(form - a - b, dummies) for a, b in itertools.combinations(others, 2))
        if implied:
            kept.remove(form)
    return kept


def _proved_nonnegative(form, dummies) -> bool:
    form = sp.expand(form)
    return not form.free_symbols & dummies and never_negative(form, _RANGES.get(), _FLOORS.get())


def _join_adjacent(expr):
    """c Sum_{a}^{m} f + c Sum_{m+1}^{b} f -> c Sum_{a}^{b} f, and c Sum_{a}^{b} f - c Sum_{a}^{m} f -> c Sum_{m+1}^{b} f.

    Each only where a - 1 <= m <= b is proved for every size and index: otherwise one range is not
    the other's continuation (1..i and i..n overlap at i, 1..n and n+2..m leave a gap).
    """
    terms = list(sp.Add.make_args(expr))
    joined_any = True
    while joined_any and len(terms) > 1:
        joined_any = False
        parsed = [_coefficient_and_sum(term) for term in terms]
        by_body: dict = {}
        for position, entry in enumerate(parsed):
            if entry is not None:
                by_body.setdefault(entry[1].function, []).append(position)
        for positions in by_body.values():
            for first, second in itertools.combinations(positions, 2):
                joined = _join_pair(parsed[first], parsed[second])
                if joined is not None:
                    before = terms[first] + terms[second]
                    joined = _canonical_term(joined)
                    _note("join the sums over adjacent ranges", before, joined)
                    terms = [t for k, t in enumerate(terms) if k not in (first, second)] + [joined]
                    joined_any = True
                    break
            if joined_any:
                break
    return sp.Add(*terms)


def _coefficient_and_sum(term):
    sums = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.Sum)]
    if len(sums) != 1:
        return None
    return sp.Mul(*(f for f in sp.Mul.make_args(term) if f is not sums[0])), sums[0]


def _join_pair(one, two):
    (c1, s1), (c2, s2) = one, two
    if len(s1.limits) != len(s2.limits):
        return None
    differ = [p for p, (a, b) in enumerate(zip(s1.limits, s2.limits)) if a != b]
    if len(differ) != 1:
        return None
    position, = differ
    (x, a1, b1), (y, a2, b2) = s1.limits[position], s2.limits[position]
    dummies = {limit[0] for limit in s1.limits}
    if x != y or any(sp.sympify(e).free_symbols & dummies for e in (a1, b1, a2, b2)):
        return None
    ranges, floors = _RANGES.get(), _FLOORS.get()

    def within(low, point, high):  # low - 1 <= point <= high, proved
        return never_negative(point - low + 1, ranges, floors) and never_negative(high - point, ranges, floors)

    def rebuilt(coefficient, low, high):
        limits = list(s1.limits)
        limits[position] = (x, low, high)
        return coefficient * sp.Sum(s1.function, *limits)

    if sp.expand(c1 - c2) == 0:
        if sp.expand(a2 - b1 - 1) == 0 and within(a1, b1, b2):
            return rebuilt(c1, a1, b2)
        if sp.expand(a1 - b2 - 1) == 0 and within(a2, b2, b1):
            return rebuilt(c1, a2, b1)
    elif sp.expand(c1 + c2) == 0:
        if sp.expand(a1 - a2) == 0:  # same start: what one has beyond the other's end
            if within(a1, b2, b1):
                return rebuilt(c1, b2 + 1, b1)
            if within(a1, b1, b2):
                return rebuilt(c2, b1 + 1, b2)
        if sp.expand(b1 - b2) == 0:  # same end: what one has before the other's start
            if within(a1, a2 - 1, b1):
                return rebuilt(c1, a1, a2 - 1)
            if within(a2, a1 - 1, b1):
                return rebuilt(c2, a2, a1 - 1)
    return None


_CANONICAL: dict = {}


def _canonical_dummy(height: int, position: int = 0) -> sp.Dummy:
    """The one dummy of a nesting height and position: the same object in every proof, and never a user's symbol."""
    if (height, position) not in _CANONICAL:
        _CANONICAL[(height, position)] = sp.Dummy(f"s{height}_{position}", integer=True)
    return _CANONICAL[(height, position)]
