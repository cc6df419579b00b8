"""General witnesses of a Property: facts decided by SymPy for every size at once.

A :class:`~symformer.engine.model.Property` may carry ``general(sizes)``, called with the size
symbols themselves. Its Witness says "proved for all n" only if every piece of its argument was
decided by the machine, so these helpers each decide one kind of fact and return a Witness:

- :func:`identity_for_all`: an identity in index notation, by the engine's index prover, for every
  size at or above its floor and every index in its range; :func:`matrix_identity_for_all` the same
  for matrix expressions, through their general entries;
- :func:`nonnegative_terms` and :func:`positive_terms`: a sign, by SymPy's assumptions (``x`` real,
  ``p`` positive), where a sum is looked at through its terms: a sum of non-negative terms is
  non-negative (an empty sum is 0, as in the course), a sum of positive terms over a range that is
  never empty for any size is positive;
- :func:`all_hold`: the conjunction of such pieces, with their details in order.

``False`` from a helper means "not decided", never "false": the verifier then falls back to the
exact witness at each size. The sign tests look only at the form written: ``p_i (x_i - m)^2`` is
non-negative, its expansion ``p_i x_i^2 - 2 p_i x_i m + p_i m^2`` is not decided; prove the two
equal with :func:`identity_for_all` first, then show the sign of the readable form.

>>> import sympy as sp
>>> n = sp.Symbol("n", integer=True, positive=True)
>>> i, k = sp.symbols("i k", integer=True)
>>> w = sp.IndexedBase("w", shape=(n,), positive=True)
>>> positive_terms(w[i] / sp.Sum(w[k], (k, 1, n)), {i: n}).holds
True
>>> positive_terms(w[i] / sp.Sum(w[k], (k, 2, n)), {i: n}).holds  # empty at n = 1
False
"""

from __future__ import annotations

from typing import Mapping

import sympy as sp

from symformer.engine.index import equal_in_general, never_negative
from symformer.engine.ranges import never_empty
from symformer.engine.model import Witness, expand_definitions


def identity_for_all(lhs, rhs, ranges: Mapping | None = None, what: str | None = None,
                     definitions: Mapping | None = None) -> Witness:
    """``lhs == rhs`` for every size and every free index in its range, by the index prover.

    ``ranges`` maps each free index to its upper bound (it runs from 1) or to a (low, high) pair;
    ``definitions`` are expanded first (a derivation's, such as p_i = e^{z_i} / sum_k e^{z_k});
    ``what`` names the fact in the Witness's detail.

    >>> import sympy as sp
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> i, k = sp.symbols("i k", integer=True)
    >>> z = sp.IndexedBase("z", shape=(n,), real=True)
    >>> p = sp.exp(z[i]) / sp.Sum(sp.exp(z[k]), (k, 1, n))
    >>> identity_for_all(sp.Sum(p, (i, 1, n)), 1, what="the p_i sum to one")
    Witness(holds=True, detail='the p_i sum to one (index prover)', error=None)
    """
    what = what or f"{sp.sstr(lhs)} = {sp.sstr(rhs)}"
    lhs, rhs = (expand_definitions(side, definitions or {}) for side in (lhs, rhs))
    proved = equal_in_general(lhs, rhs, _ranges(ranges))
    return Witness(bool(proved), f"{what} (index prover)" if proved else f"{what}: not proved by the index prover")


def matrix_identity_for_all(lhs, rhs, what: str | None = None, floors: Mapping | None = None) -> Witness:
    """``lhs == rhs`` between matrix expressions for every size: their general entries (i, j) by the index prover.

    ``floors`` gives a size symbol's least value where its declaration does not (1 when positive,
    else 0). A part without a general entry (see ``indexform``) is "not decided".

    >>> import sympy as sp
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> A, B = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("B", n, n)
    >>> matrix_identity_for_all((A * B).T, B.T * A.T, what="(AB)^T = B^T A^T").holds
    True
    """
    from symformer.engine.indexform import Untranslatable, general_entries

    what = what or f"{sp.sstr(lhs)} = {sp.sstr(rhs)}"
    try:
        left, right, ranges = general_entries(lhs, rhs, floors)
    except Untranslatable as exc:
        return Witness(False, f"{what}: not in index notation ({exc})")
    proved = equal_in_general(left, right, ranges, floors)
    return Witness(bool(proved), f"{what} (entry by entry, index prover)" if proved
                   else f"{what}: not proved by the index prover")


def rows_after_do_not_enter(matrix, inputs, what: str | None = None, floors: Mapping | None = None) -> Witness:
    """Row t of ``matrix`` does not depend on any row u > t of the ``inputs`` (MatrixSymbols), for every size.

    The general entry (t, c) of ``matrix`` is differentiated by the entry (t + w, e) of each input,
    with w = 1..rows - t; the index prover must find the derivative 0.

    >>> import sympy as sp
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> L, X = sp.MatrixSymbol("L", n, n), sp.MatrixSymbol("X", n, 1)
    >>> rows_after_do_not_enter(L * X, [X]).holds  # a full matrix mixes every row
    False
    >>> rows_after_do_not_enter(sp.HadamardProduct(L, L) * sp.OneMatrix(n, 1), [L]).holds  # row t reads row t only
    True
    """
    what = what or f"row t of {sp.sstr(matrix)} does not depend on later rows of {', '.join(map(str, inputs))}"
    entry, ranges, refused = _general_entry(matrix, what, floors)
    if refused:
        return refused
    free = list(ranges.items())
    if matrix.shape[0] == 1 or any(m.shape[0] != matrix.shape[0] for m in inputs):
        return Witness(False, f"{what}: needs a matrix of several rows and inputs with as many rows")
    (t, (_, rows)), *columns = free
    later = sp.Dummy("w", integer=True, positive=True)
    scope = {later: (sp.Integer(1), rows - t), t: (sp.Integer(1), rows), **dict(columns)}
    bases = {str(b.label): b for b in entry.atoms(sp.IndexedBase)}
    for matrix_input in inputs:
        base = bases.get(matrix_input.name)
        if base is None:
            continue  # the entry does not read this input at all
        column = sp.Dummy("e", integer=True, positive=True)
        columns = {**scope, column: (sp.Integer(1), matrix_input.shape[1])}
        # the prover contracts the delta of a sum over the input's rows: t + w lies in 1..rows
        if not equal_in_general(sp.diff(entry, base[t + later, column]), sp.Integer(0), columns, floors):
            return Witness(False, f"{what}: the derivative by a later row of {matrix_input.name} is not proved 0")
    return Witness(True, f"{what} (derivatives by every later row are 0, index prover)")


def next_row_enters(matrix, matrix_input, what: str | None = None, floors: Mapping | None = None) -> Witness:
    """Row t of ``matrix`` depends on row t + 1 of ``matrix_input``, for every size and every t < rows.

    Shown at one input, the zero matrix: there the derivative of entry (t, c) by entry (t + 1, c)
    of the input is proved equal to a constant whose positivity SymPy decides. (A derivative that is
    not zero at one point is not identically zero.)

    >>> import sympy as sp
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> X = sp.MatrixSymbol("X", n, n)
    >>> next_row_enters(sp.OneMatrix(n, n) * X / n, X).holds, next_row_enters(sp.Identity(n) * X, X).holds
    (True, False)
    """
    from symformer.engine.index import NotProved, normal_form

    what = what or f"row t of {sp.sstr(matrix)} depends on row t + 1 of {matrix_input}"
    entry, ranges, refused = _general_entry(matrix, what, floors)
    if refused:
        return refused
    free = list(ranges.items())
    if matrix.shape[0] == 1 or matrix_input.shape[0] != matrix.shape[0] or len(free) != 2 \
            or sp.expand(matrix_input.shape[1] - matrix.shape[1]) != 0:
        return Witness(False, f"{what}: needs a matrix and an input of the same shape, of several rows and columns")
    (t, (_, rows)), (c, column_range) = free
    scope = {t: (sp.Integer(1), rows - 1), c: column_range}
    base = {str(b.label): b for b in entry.atoms(sp.IndexedBase)}.get(matrix_input.name)
    if base is None:
        return Witness(False, f"{what}: the entry does not read {matrix_input.name}")
    try:
        # the normal form contracts the delta of the sum over the input's rows (t + 1 lies in 1..rows),
        # then, at the zero input, counts the terms of each remaining sum
        derivative = normal_form(sp.diff(entry, base[t + 1, c]), scope, floors)
        at_zero = derivative.replace(lambda e: isinstance(e, sp.Indexed) and e.base == base, lambda e: sp.Integer(0))
        if at_zero.has(sp.Indexed) or at_zero.has(*scope):
            return Witness(False, f"{what}: at the zero input the derivative still depends on "
                                  f"{sorted(map(str, at_zero.free_symbols))}")
        value = normal_form(at_zero, scope, floors)
    except NotProved as exc:
        return Witness(False, f"{what}: {exc}")
    if value.has(sp.Sum) or value.is_positive is not True:
        return Witness(False, f"{what}: at the zero input the derivative is {value}, not shown positive")
    return Witness(True, f"{what} (at the zero input the derivative is {sp.sstr(value)} > 0, index prover)")


def _general_entry(matrix, what: str, floors: Mapping | None) -> tuple:
    """(entry, ranges, None): ``matrix``'s general entry and its indices' ranges; or (None, None, a
    Witness that does not hold) when it has none."""
    from symformer.engine.indexform import Untranslatable, general_entries

    try:
        entry, _, ranges = general_entries(matrix, matrix, floors)
    except Untranslatable as exc:
        return None, None, Witness(False, f"{what}: not in index notation ({exc})")
    return entry, ranges, None


def nonnegative_terms(expr, ranges: Mapping | None = None, what: str | None = None,
                      definitions: Mapping | None = None) -> Witness:
    """``expr >= 0`` for every size and index, from its terms' signs (see the module docstring).

    >>> import sympy as sp
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> i, k = sp.symbols("i k", integer=True)
    >>> x = sp.IndexedBase("x", shape=(n,), real=True)
    >>> nonnegative_terms(sp.Sum((x[i] - sp.Sum(x[k], (k, 1, n)) / n) ** 2, (i, 1, n))).holds
    True
    >>> nonnegative_terms(sp.Sum(x[i] ** 2 - x[i], (i, 1, n))).holds
    False
    """
    what = what or f"{sp.sstr(expr)} >= 0"
    holds = _opaque(expand_definitions(expr, definitions or {}), _ranges(ranges)).is_nonnegative is True
    return Witness(holds, f"{what} (term by term)" if holds else f"{what}: the sign of a term is not decided")


def positive_terms(expr, ranges: Mapping | None = None, what: str | None = None,
                   definitions: Mapping | None = None) -> Witness:
    """``expr > 0`` for every size and index, from its terms' signs; a sum needs a range never empty."""
    what = what or f"{sp.sstr(expr)} > 0"
    holds = _opaque(expand_definitions(expr, definitions or {}), _ranges(ranges)).is_positive is True
    return Witness(holds, f"{what} (term by term)" if holds else f"{what}: positivity of a term is not decided")


def all_hold(*witnesses: Witness, summary: str | None = None) -> Witness:
    """Every piece of an argument holds; the detail lists the pieces, or ``summary`` when given, or the
    pieces that did not hold.

    >>> all_hold(Witness(True, "a"), Witness(True, "b"))
    Witness(holds=True, detail='a; b', error=None)
    >>> all_hold(Witness(True, "a"), Witness(False, "b not proved"), summary="a and b").detail
    'b not proved'
    """
    if not witnesses or not all(isinstance(w, Witness) for w in witnesses):
        return Witness(False, "an argument needs at least one Witness, and only Witnesses")
    failed = [w for w in witnesses if not w.holds]
    if failed:
        return Witness(False, "; ".join(w.detail for w in failed))
    return Witness(True, summary or "; ".join(w.detail for w in witnesses))


def _ranges(ranges: Mapping | None) -> dict:
    out = {}
    for index, bound in dict(ranges or {}).items():
        out[index] = tuple(bound) if isinstance(bound, (tuple, list)) else (sp.Integer(1), sp.sympify(bound))
    return out


def _opaque(expr, ranges: dict):
    """``expr`` with every sum replaced by a fresh symbol that carries what is proved of the sum.

    Innermost sums first: a sum over finitely many terms is real when its terms are, non-negative when they are (an empty sum
    is 0), positive when they are and every limit has at least one term for every size and index.
    A term is also non-negative where it is an expression in sizes and indices alone that
    ``never_negative`` proves (``n - k`` for k in 1..n).
    """
    if isinstance(expr, sp.Sum):
        if any(bound.has(sp.oo, -sp.oo, sp.zoo) for _, *bounds in expr.limits for bound in bounds):
            return sp.Dummy("series")  # a series may diverge: nothing is known of it, not even that it is finite
        scope = dict(ranges)
        for symbol, low, high in reversed(expr.limits):  # outermost first: an inner limit may use an outer dummy
            scope[symbol] = (low, high)
        body = _opaque(expr.function, scope)
        facts = {}
        if body.is_real:
            facts["real"] = True
        nonnegative = body.is_nonnegative is True or (not body.has(sp.Indexed, sp.Dummy) and _counts(body, scope))
        if nonnegative:
            facts["nonnegative"] = True
            if body.is_positive is True and _never_empty(expr.limits, ranges):
                facts["positive"] = True
        return sp.Dummy("sum", **facts)
    if not isinstance(expr, sp.Basic) or not expr.args or isinstance(expr, (sp.Indexed, sp.Symbol, sp.Number)):
        return expr
    return expr.func(*(_opaque(arg, ranges) for arg in expr.args))


def _counts(expr, scope: dict) -> bool:
    try:
        return never_negative(expr, scope)
    except (TypeError, ValueError, sp.PolynomialError):
        return False


def _never_empty(limits, ranges: dict) -> bool:
    try:
        return never_empty(limits, ranges)
    except (TypeError, ValueError, sp.PolynomialError):
        return False
