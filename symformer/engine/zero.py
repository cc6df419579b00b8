"""Exact zero tests: a difference of two sides reduced to 0 is a proof that they are equal.

Each test is sound in one direction only: True proves the expression is 0, False proves nothing.
They run cheapest first: a rational function of the exponentials in sparse arithmetic, then SymPy's
``cancel``, then sin and cos as exponentials, then ``simplify``.
"""

from __future__ import annotations

import sympy as sp
from sympy.polys.fields import sfield


def is_zero(expr) -> bool:
    """Exact zero test: as a rational function of the exponentials, then SymPy's simplify."""
    if expr == 0:
        return True
    # expand_log without force: log(a b) = log a + log b only where SymPy knows a, b > 0
    rational = exponentials_as_symbols(sp.expand_log(expr) if expr.has(sp.log) else expr)
    if _vanishes_as_fraction(rational):
        return True
    if sp.cancel(sp.together(rational)) == 0:
        return True
    if expr.has(sp.sin, sp.cos) and trig_vanishes(expr):
        return True
    return sp.simplify(expr) == 0


def _vanishes_as_fraction(expr) -> bool:
    """Zero in the field of fractions over expr's atoms (symbols, and any other atom as a new symbol).

    Sparse polynomial arithmetic, much faster than Expr-level cancel; sound because an identity in
    independent generators stays one when they are specialised.
    """
    try:
        return sfield(expr)[1] == 0
    except (sp.PolynomialError, ValueError, TypeError):
        return False


def rational_vanishes(expr) -> bool:
    """Exact zero test: True when ``expr`` cancels to 0 as a rational function of its sums and roots.

    Each fractional power B^(m/q) becomes t^m with t standing for B^(1/q) (q the common denominator
    of B's exponents), then each Sum a fresh symbol. An identity of rational functions in independent
    symbols survives any substitution, so True is a proof; False proves nothing. Much cheaper than
    ``simplify`` on the nested sums under a root that normalisations (LayerNorm's sigma) produce.

    >>> s = sp.Symbol("s", positive=True)
    >>> rational_vanishes(1 / sp.sqrt(s) ** 3 - 1 / (s * sp.sqrt(s)))
    True
    """
    roots = [p for p in expr.atoms(sp.Pow) if p.exp.is_Rational and not p.exp.is_Integer]
    denominators: dict = {}
    for power in roots:
        denominators[power.base] = sp.ilcm(denominators.get(power.base, 1), power.exp.q)
    stand_in = {base: sp.Dummy("root") for base in denominators}
    expr = expr.xreplace({p: stand_in[p.base] ** (p.exp * denominators[p.base]) for p in roots})
    expr = expr.xreplace({s: sp.Dummy("sum") for s in expr.atoms(sp.Sum)})
    return sp.cancel(sp.together(expr)) == 0


def trig_vanishes(expr) -> bool:
    """Exact zero test for sums of products of sin, cos and exp: True only when ``expr`` is 0.

    sin and cos become exponentials, each exp(a + b) the product of one symbol per term of its
    argument, and the result, a rational function of those symbols, must cancel to 0. Every step is
    an identity (the symbols stand for exp(i omega p) and the like), so True is a proof; False
    proves nothing.

    >>> a, b = sp.symbols("a b", real=True)
    >>> trig_vanishes(sp.sin(a + b) - sp.sin(a) * sp.cos(b) - sp.cos(a) * sp.sin(b))
    True
    """
    # the symbols stand for exp(i omega p) and the like: complex numbers, so no assumptions
    rational = exponentials_as_symbols(sp.expand(expr).rewrite(sp.exp), positive=False)
    if rational.has(sp.sin, sp.cos, sp.tan, sp.exp):
        return False
    return sp.cancel(sp.together(rational)) == 0


#: (exponent, positive) -> the Dummy standing for exp(exponent): a Dummy, since a user's own symbol
#: named E0 is another input; one per process, so that SymPy's caches see the same symbols again.
_EXPONENTIALS: dict = {}


def _exponential(exponent, positive: bool) -> sp.Dummy:
    key = (exponent, positive)
    found = _EXPONENTIALS.get(key)
    if found is None:
        assumptions = {"positive": True} if positive else {"nonzero": True}
        found = _EXPONENTIALS.setdefault(key, sp.Dummy(f"E{len(_EXPONENTIALS)}", **assumptions))
    return found


def exponentials_as_symbols(expr, positive: bool = True):
    """exp(a + 2 b - c/T) -> E_a E_b^2 E_{c/T}^-1, one symbol per exponent term: exact, and rational.

    With ``positive`` a symbol is declared positive where its exponent is known to be real (e^x > 0
    for real x only: e^{i m theta} is not positive, and sqrt(e^{2 i m theta}) is not e^{i m theta}).

    >>> a, b = sp.symbols("a b", real=True)
    >>> sp.cancel(exponentials_as_symbols(sp.exp(a - 2 * b) - sp.exp(a) * sp.exp(b) ** -2))
    0
    """
    def symbol_for(term):
        coefficient, rest = term.as_coeff_Mul()
        if not coefficient.is_Rational:
            coefficient, rest = sp.Integer(1), term
        real = positive and rest.is_extended_real is True and rest.is_finite is not False
        return _exponential(rest, real) ** coefficient

    return expr.replace(lambda e: isinstance(e, sp.exp),
                        lambda e: sp.Mul(*(symbol_for(t) for t in sp.Add.make_args(sp.expand(e.args[0])))))
