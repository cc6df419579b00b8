"""Where a derivation's random inputs are drawn from.

Every domain samples in two modes: float64 (NumPy arrays, for the numeric checks) and exact
(SymPy Rationals, for the 50-digit identity check, where a probability vector must sum to exactly 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp

from symformer.errors import DerivationError


@dataclass(frozen=True)
class Domain:
    """A named sampler: ``sample(rng, shape)`` gives floats, ``sample_exact(rng, shape)`` Rationals."""

    name: str
    sample: Callable[[np.random.Generator, tuple], np.ndarray]
    exact: Callable[[np.random.Generator, tuple], np.ndarray]


def _rationals(values: np.ndarray, denominator: int = 1000) -> np.ndarray:
    out = np.empty(values.shape, dtype=object)
    for position, value in np.ndenumerate(values):
        out[position] = sp.Rational(int(round(float(value) * denominator)), denominator)
    return out


def _simplex(rng, shape):
    weights = rng.uniform(0.05, 1.0, size=shape)
    return weights / weights.sum(axis=-1, keepdims=True)


def _simplex_exact(rng, shape):
    weights = rng.integers(1, 20, size=shape)
    out = np.empty(shape, dtype=object)
    totals = weights.sum(axis=-1, keepdims=True) if shape else weights
    for position, value in np.ndenumerate(weights):
        total = totals[position[:-1] + (0,)] if shape else totals
        out[position] = sp.Rational(int(value), int(total))
    return out


def _one_hot(rng, shape):
    if not shape:
        raise DerivationError("the one-hot domain needs a vector, not a scalar")
    out = np.zeros(shape)
    hot = rng.integers(0, shape[-1], size=shape[:-1])
    np.put_along_axis(out, np.expand_dims(hot, -1), 1.0, axis=-1)
    return out


REAL = Domain("real", lambda rng, shape: rng.standard_normal(shape), lambda rng, shape: _rationals(rng.standard_normal(shape)))
POSITIVE = Domain(
    "positive", lambda rng, shape: rng.uniform(0.5, 2.0, shape), lambda rng, shape: _rationals(rng.uniform(0.5, 2.0, shape))
)
UNIT_INTERVAL = Domain(
    "unit interval", lambda rng, shape: rng.uniform(0.05, 0.95, shape), lambda rng, shape: _rationals(rng.uniform(0.05, 0.95, shape))
)
SIMPLEX = Domain("simplex", _simplex, _simplex_exact)
#: A symbol declared integer=True is sampled as one: a real sample would refute e^{2 pi i m} = 1.
INTEGER = Domain("integer", lambda rng, shape: rng.integers(-6, 7, shape).astype(float),
                 lambda rng, shape: _rationals(rng.integers(-6, 7, shape).astype(float), 1))
POSITIVE_INTEGER = Domain("positive integer", lambda rng, shape: rng.integers(1, 7, shape).astype(float),
                          lambda rng, shape: _rationals(rng.integers(1, 7, shape).astype(float), 1))
NONNEGATIVE_INTEGER = Domain("non-negative integer", lambda rng, shape: rng.integers(0, 7, shape).astype(float),
                             lambda rng, shape: _rationals(rng.integers(0, 7, shape).astype(float), 1))
ONE_HOT = Domain("one-hot", _one_hot, lambda rng, shape: _rationals(_one_hot(rng, shape), 1))

DOMAINS = {d.name: d for d in (REAL, POSITIVE, UNIT_INTERVAL, SIMPLEX, ONE_HOT, INTEGER, POSITIVE_INTEGER, NONNEGATIVE_INTEGER)}


NEGATIVE = Domain("negative", lambda rng, shape: -rng.uniform(0.5, 2.0, shape),
                  lambda rng, shape: -_rationals(rng.uniform(0.5, 2.0, shape)))
DOMAINS[NEGATIVE.name] = NEGATIVE


def _assumptions_of(thing):
    """What SymPy knows of a Symbol, or of the entries of an IndexedBase (through its label)."""
    return thing.label if isinstance(thing, sp.IndexedBase) else thing


def default_domain(thing) -> Domain:
    """The domain a Symbol's or IndexedBase's own assumptions give: integer, positive, negative or real."""
    known = _assumptions_of(thing)
    if not isinstance(known, sp.Symbol):
        return REAL
    if known.is_integer:
        return POSITIVE_INTEGER if known.is_positive else NONNEGATIVE_INTEGER if known.is_nonnegative else INTEGER
    if known.is_positive or known.is_nonnegative:
        return POSITIVE
    if known.is_negative or known.is_nonpositive:
        return NEGATIVE
    return REAL


def violated_assumption(thing, value) -> str | None:
    """The declared assumption of ``thing`` that a sampled ``value`` (a number or an array) breaks, if any.

    A proof may use what a symbol is declared to be (w > 0 makes sqrt(w^2) = w); samples that break
    it would test another statement than the one proved.
    """
    known = _assumptions_of(thing)
    if not isinstance(known, sp.Symbol):
        return None
    flags = ("positive", "nonnegative", "negative", "nonpositive", "integer", "real")
    if not any(getattr(known, f"is_{name}") for name in flags):
        return None
    array = np.asarray(value)
    if array.dtype == object:  # exact samples: Rationals
        if not all(sp.sympify(v).is_real for v in array.ravel()):
            return f"real:{next(v for v in array.ravel() if not sp.sympify(v).is_real)}"
        array = array.astype(float)
    elif np.iscomplexobj(array):
        if np.any(array.imag != 0):
            return f"real:{array[array.imag != 0].ravel()[0]}"
        array = array.real
    array = array.astype(float)
    checks = [("positive", array > 0), ("nonnegative", array >= 0), ("negative", array < 0), ("nonpositive", array <= 0),
              ("integer", array == np.round(array))]
    for name, holds in checks:
        if getattr(known, f"is_{name}") and not np.all(holds):
            return f"{name}:{array[~holds].ravel()[0]:g}" if np.ndim(holds) else f"{name}:{float(array):g}"
    return None


def domain_of(name_or_domain, default: Domain = REAL) -> Domain:
    """Resolve a domain given by name (``"simplex"``) or as a Domain."""
    if name_or_domain is None:
        return default
    if isinstance(name_or_domain, Domain):
        return name_or_domain
    try:
        return DOMAINS[name_or_domain]
    except KeyError:
        raise DerivationError(f"unknown domain {name_or_domain!r}; use one of {sorted(DOMAINS)} or a Domain") from None
