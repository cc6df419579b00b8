"""Gradients with respect to a large matrix, compared along random directions.

For a gradient with respect to a matrix X with more than ``LARGE_GRADIENT`` entries, central
differences entry by entry cost two evaluations per entry; along a direction v they cost two in
all, and the other side is projected on v: what JAX's ``check_grads`` compares.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from symformer.engine.evaluate import evaluate
from symformer.reference.finite_differences import directional_difference


#: A gradient with respect to a whole matrix with more entries than this is compared along directions.
LARGE_GRADIENT = 1024


def whole_matrix_variable(expr):
    if isinstance(expr, sp.Derivative) and len(expr.variables) == 1 and isinstance(expr.variables[0], sp.MatrixSymbol):
        return expr.variables[0]
    return None


def project_large_gradients(lhs, rhs, values, sizes, rng, count: int = 4, fd_step: float = 1e-5, scale: dict | None = None):
    """For a gradient with respect to a large matrix X: both sides along random directions v.

    A side ``Derivative(f, X)`` becomes (f(X + h v) - f(X - h v)) / 2h, any other side <side, v>:
    what JAX's check_grads compares, at two evaluations per direction instead of two per entry.
    None when neither side is such a gradient (the caller evaluates the sides in full). ``fd_step``
    and ``scale`` are those of ``evaluate``.
    """
    variable = whole_matrix_variable(lhs) or whole_matrix_variable(rhs)
    if variable is None or int(np.prod([int(sp.sympify(e).subs(sizes)) for e in variable.shape])) <= LARGE_GRADIENT:
        return None
    point = np.asarray(values[variable], dtype=float)
    directions = rng.standard_normal((count,) + point.shape)

    def along(side):
        if whole_matrix_variable(side) == variable:
            def f(matrix):
                value = float(evaluate(side.expr, {**values, variable: matrix}, fd_step=fd_step, scale=scale))
                if scale is not None and np.isfinite(value):
                    scale["function"] = max(scale.get("function", 0.0), abs(value))
                return value
            return np.array([float(directional_difference(f, point, v, h=fd_step)) for v in directions])
        full = evaluate(side, values, fd_step=fd_step, scale=scale)
        return np.array([float(np.sum(full * v)) for v in directions])

    return along(lhs), along(rhs)
