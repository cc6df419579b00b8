"""When two computed values of the sides of an identity witness it, refute it, or say nothing.

A non-finite value is never evidence of equality: NaN equals nothing, not even NaN, and
``abs(l - r) / max(1, |l|, |r|)`` is NaN for -inf against +inf, which a test ``error > tolerance``
would pass. The rules:

- both sides finite: they agree within the tolerance, or they differ (a counterexample);
- both sides exactly the same infinity (a mask's -inf on both sides): an equal entry, but not a
  witness; a check is witnessed only where some entry is finite on both sides;
- in exact (50-digit) arithmetic, which cannot overflow, -inf against +inf or against a finite value
  is a difference: the extended reals tell them apart;
- in float64, where any of those can be an overflow, that entry says nothing: the caller samples
  elsewhere and otherwise reports that the check could not be made;
- NaN on either side (0/0, inf - inf, a log of a negative number) says nothing, in either arithmetic.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

AGREE, DIFFER, EQUAL_INFINITY, UNUSABLE = "agree", "differ", "equal infinity", "unusable"


def compare_exact(left, right, tolerance: float) -> tuple[str, float | None]:
    """Compare two high-precision values (SymPy numbers); return the verdict and the relative error.

    >>> compare_exact(-sp.oo, sp.oo, 1e-40)
    ('differ', inf)
    >>> compare_exact(sp.nan, sp.nan, 1e-40)
    ('unusable', None)
    >>> compare_exact(-sp.oo, -sp.oo, 1e-40)
    ('equal infinity', None)
    """
    if _is_nan(left) or _is_nan(right):
        return UNUSABLE, None
    if left.is_infinite or right.is_infinite:
        if left.is_infinite and right.is_infinite and left == right and left in (sp.oo, -sp.oo):
            return EQUAL_INFINITY, None
        return (UNUSABLE, None) if sp.zoo in (left, right) else (DIFFER, float("inf"))
    scale = max(sp.Integer(1), abs(left), abs(right))
    error = float(abs(left - right) / scale)
    return (DIFFER if error > tolerance else AGREE), error


def _is_nan(value) -> bool:
    return value is sp.nan or value is sp.zoo or value.has(sp.nan, sp.zoo)


def compare_float(left: np.ndarray, right: np.ndarray, rtol: float, atol) -> tuple[np.ndarray, np.ndarray, bool]:
    """Compare two float64 (or complex) arrays entry by entry.

    Returns ``(differ, unusable, witnessed)``: where both sides are finite and not close, where an
    entry says nothing (NaN, or a non-finite value not matched exactly by the other side), and
    whether some entry is finite on both sides. ``atol`` may be an array (a per-entry tolerance).

    >>> differ, unusable, witnessed = compare_float(np.array([1.0, -np.inf, np.inf]), np.array([1.0, -np.inf, -np.inf]), 1e-9, 0)
    >>> differ.tolist(), unusable.tolist(), witnessed
    ([False, False, False], [False, False, True], True)
    """
    finite = np.isfinite(left) & np.isfinite(right)
    with np.errstate(invalid="ignore"):
        same_infinity = ~finite & (left == right) & ~np.isnan(left)
        close = np.isclose(left, right, rtol=rtol, atol=atol)
    differ = finite & ~close
    unusable = ~finite & ~same_infinity
    return differ, unusable, bool(finite.any())


def nonfinite_reason(left: np.ndarray, right: np.ndarray) -> str:
    """Why the entries that said nothing did: NaN, or an infinity against something else."""
    if np.isnan(left).any() or np.isnan(right).any():
        return "a side is NaN"
    return "a side is infinite (an overflow, or an infinity the other side does not match)"
