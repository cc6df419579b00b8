"""Central finite differences, the numeric witness of every derivative."""

from __future__ import annotations

from typing import Callable

import numpy as np

from symformer.errors import InputError


def central_difference(f: Callable[[np.ndarray], np.ndarray], x, h: float = 1e-6) -> np.ndarray:
    """The Jacobian of ``f`` at ``x`` by central differences, shape ``f(x).shape + x.shape``.

    Each coordinate moves by ``h * max(1, |x_k|)``; the error is O(h^2) plus rounding of order
    eps / h, about 1e-10 for smooth functions in float64 (PyTorch gradcheck uses h = 1e-6 too).

    >>> import numpy as np
    >>> np.round(central_difference(lambda v: v ** 2, np.array([1.0, 3.0])), 6)
    array([[2., 0.],
           [0., 6.]])
    """
    x = np.asarray(x, dtype=np.float64)
    out_shape = np.shape(f(x.copy()))
    columns = np.empty(out_shape + (x.size,))
    flat = x.reshape(-1)
    for k in range(flat.size):
        step = h * max(1.0, abs(flat[k]))
        plus, minus = flat.copy(), flat.copy()
        plus[k] += step
        minus[k] -= step
        columns[..., k] = (np.asarray(f(plus.reshape(x.shape))) - np.asarray(f(minus.reshape(x.shape)))) / (2 * step)
    return columns.reshape(out_shape + x.shape)


def directional_difference(f: Callable[[np.ndarray], np.ndarray], x, v, h: float = 1e-6) -> np.ndarray:
    """(f(x + h v) - f(x - h v)) / 2h: the derivative of ``f`` at ``x`` along ``v``.

    What JAX's check_grads compares with the gradient projected on ``v``; it costs two calls of
    ``f`` however large ``x`` is.

    >>> import numpy as np
    >>> round(float(directional_difference(lambda u: (u ** 2).sum(), np.ones(3), np.array([1.0, 0, 0]))), 6)
    2.0
    """
    x, v = np.asarray(x, dtype=np.float64), np.asarray(v, dtype=np.float64)
    if x.shape != v.shape:
        raise InputError(f"the direction has shape {v.shape}, the point {x.shape}")
    step = h * max(1.0, float(np.abs(x).max(initial=0.0)))
    return (np.asarray(f(x + step * v)) - np.asarray(f(x - step * v))) / (2 * step)
