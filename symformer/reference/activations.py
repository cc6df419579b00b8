"""GELU, SiLU and SwiGLU in NumPy, each beside its derivative.

Conventions (PyTorch's, so a float64 cross-check is exact up to rounding):

- ``gelu(x) = x Phi(x) = (x / 2)(1 + erf(x / sqrt 2))`` (Hendrycks and Gimpel 2016, ``F.gelu``);
  ``approximate="tanh"`` is ``(x / 2)(1 + tanh(sqrt(2 / pi)(x + 0.044715 x^3)))`` (GPT-2, BERT's
  original code, ``F.gelu(approximate="tanh")``). The two differ by less than 5e-4 everywhere.
- ``silu(x) = x sigmoid(x)`` (swish, ``F.silu``), with the sigmoid computed from exp(-|x|) so that
  no exponent overflows.
- ``swiglu(x, w_gate, w_up) = silu(x w_gate) * (x w_up)`` (Shazeer 2020): the gated hidden layer of
  Llama's feed-forward block, which then multiplies by ``w_down``; no biases. ``x`` is
  ``(..., d_model)``, both weights ``(d_model, d_ff)``; leading axes of ``x`` are tokens.

NumPy has no erf and SciPy is no dependency, so Phi(x) is ``math.erfc(-x / sqrt 2) / 2`` element by
element (float64 accurate, not fast): erfc keeps its relative precision in the left tail, where
1 + erf(x / sqrt 2) would cancel. float32 inputs give float32 results; other inputs are computed in
float64.
"""

from __future__ import annotations

import math

import numpy as np

from symformer.errors import InputError

APPROXIMATIONS = ("none", "tanh")
TANH_CUBIC = 0.044715
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_ERFC = np.vectorize(math.erfc, otypes=[np.float64])


def _normal_cdf(x) -> np.ndarray:
    return 0.5 * _ERFC(-x / math.sqrt(2.0))



def _array(x, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise InputError(f"{name} must be a real array, got dtype {x.dtype}")
    return x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)


def _approximation(approximate) -> str:
    if approximate not in APPROXIMATIONS:
        raise InputError(f"approximate must be 'none' or 'tanh' (PyTorch's names), got {approximate!r}")
    return approximate


def sigmoid(x) -> np.ndarray:
    """1 / (1 + exp(-x)), written with exp(-|x|) so that no exponent is positive.

    >>> sigmoid([0.0, -1000.0, 1000.0]).tolist()
    [0.5, 0.0, 1.0]
    """
    x = _array(x, "x")
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def gelu(x, approximate: str = "none") -> np.ndarray:
    """x Phi(x), or its tanh approximation with ``approximate="tanh"``.

    >>> gelu([0.0, 1.0]).round(6).tolist()
    [0.0, 0.841345]
    >>> gelu([1.0], approximate="tanh").round(6).tolist()
    [0.841192]
    """
    approximate = _approximation(approximate)
    x = _array(x, "x")
    if approximate == "tanh":
        return 0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + TANH_CUBIC * x**3)))
    return (x * _normal_cdf(x)).astype(x.dtype, copy=False)


def gelu_grad(x, approximate: str = "none") -> np.ndarray:
    """d gelu / dx: Phi(x) + x phi(x); for the tanh form (1 + t)/2 + (x/2)(1 - t^2) u'(x), t = tanh(u(x)).

    >>> gelu_grad([0.0, 1.0]).round(6).tolist()
    [0.5, 1.083315]
    """
    approximate = _approximation(approximate)
    x = _array(x, "x")
    if approximate == "tanh":
        t = np.tanh(_SQRT_2_OVER_PI * (x + TANH_CUBIC * x**3))
        inner = _SQRT_2_OVER_PI * (1.0 + 3.0 * TANH_CUBIC * x**2)
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * inner
    density = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return (_normal_cdf(x) + x * density).astype(x.dtype, copy=False)


def silu(x) -> np.ndarray:
    """x sigmoid(x), also called swish.

    >>> silu([0.0, 1.0, -1000.0]).round(6).tolist()
    [0.0, 0.731059, -0.0]
    """
    x = _array(x, "x")
    return x * sigmoid(x)


def silu_grad(x) -> np.ndarray:
    """d silu / dx = sigmoid(x) (1 + x (1 - sigmoid(x))).

    >>> silu_grad([0.0]).tolist()
    [0.5]
    """
    x = _array(x, "x")
    s = sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


def _swiglu_inputs(x, w_gate, w_up):
    x, w_gate, w_up = _array(x, "x"), _array(w_gate, "w_gate"), _array(w_up, "w_up")
    if x.ndim == 0:
        raise InputError(f"x must have a last axis (d_model), got shape {x.shape}")
    if w_gate.ndim != 2:
        raise InputError(f"w_gate must be a (d_model, d_ff) matrix, got shape {w_gate.shape}")
    if w_up.shape != w_gate.shape:
        raise InputError(f"w_up has shape {w_up.shape} and w_gate has shape {w_gate.shape}: they must agree")
    if x.shape[-1] != w_gate.shape[0]:
        raise InputError(f"x has shape {x.shape} but w_gate has shape {w_gate.shape}: "
                              f"w_gate needs d_model = {x.shape[-1]} rows")
    dtype = np.float32 if x.dtype == w_gate.dtype == w_up.dtype == np.float32 else np.float64
    return x.astype(dtype, copy=False), w_gate.astype(dtype, copy=False), w_up.astype(dtype, copy=False)


def swiglu(x, w_gate, w_up) -> np.ndarray:
    """silu(x @ w_gate) * (x @ w_up), shape (..., d_ff).

    >>> swiglu([[1.0, 2.0]], [[1.0], [0.0]], [[0.0], [1.0]]).round(6).tolist()  # silu(1) * 2
    [[1.462117]]
    """
    x, w_gate, w_up = _swiglu_inputs(x, w_gate, w_up)
    return silu(x @ w_gate) * (x @ w_up)


def swiglu_backward(x, w_gate, w_up, dy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dw_gate, dw_up) given dy = dL/dy for y = swiglu(x, w_gate, w_up).

    With a = x w_gate and b = x w_up: da = dy * b * silu'(a), db = dy * silu(a); then
    dx = da w_gate^T + db w_up^T, dw_gate = x^T da and dw_up = x^T db (summed over the tokens).

    >>> dx, dw_gate, dw_up = swiglu_backward([[1.0, 2.0]], [[1.0], [0.0]], [[0.0], [1.0]], [[1.0]])
    >>> dw_up.round(6).tolist()  # x^T silu(1)
    [[0.731059], [1.462117]]
    """
    x, w_gate, w_up = _swiglu_inputs(x, w_gate, w_up)
    dy = _array(dy, "dy").astype(x.dtype, copy=False)
    expected = x.shape[:-1] + (w_gate.shape[1],)
    if dy.shape != expected:
        raise InputError(f"dy has shape {dy.shape} but the output has shape {expected}")
    a, b = x @ w_gate, x @ w_up
    da = dy * b * silu_grad(a)
    db = dy * silu(a)
    dx = da @ w_gate.T + db @ w_up.T
    tokens = x.reshape(-1, x.shape[-1])
    dw_gate = tokens.T @ da.reshape(-1, da.shape[-1])
    dw_up = tokens.T @ db.reshape(-1, db.shape[-1])
    return dx, dw_gate, dw_up
