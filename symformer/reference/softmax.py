"""Softmax, log-softmax and cross-entropy in NumPy, stable for large and infinite logits.

Conventions: the last axis is the class axis; leading axes broadcast. A logit of -inf gives an
exact 0 probability. A row whose logits are all -inf has no distribution: softmax returns NaN for
it, as the textbook formula does, without a warning (attention's safe softmax, which returns zeros,
lives with attention). A +inf or NaN logit makes its row NaN. Logits and targets are real: complex
or non-numeric input is an error, as is a temperature that is not positive and finite.

Cross-entropy targets may be any finite real numbers, negative ones included: L is linear in y,
so the formula and its gradient (sum_i y_i) p - y hold for every y (the course derives them so).
L is a loss, non-negative and smallest at p = y, only for targets that are a distribution; NaN or
infinite targets are an error.

Label smoothing (Szegedy et al. 2016) follows PyTorch's ``F.cross_entropy(..., label_smoothing=e)``:
the targets become (1 - e) y + e / n over n classes.
"""

from __future__ import annotations

import numpy as np

from symformer.errors import InputError



def _real(x, name: str) -> np.ndarray:
    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer) or x.dtype == bool):
        raise InputError(f"{name} must be an array of real numbers, got dtype {x.dtype}")
    return x


def _temperature(temperature) -> float:
    if isinstance(temperature, (bool, np.bool_)) or np.ndim(temperature) != 0 or np.iscomplexobj(temperature):
        raise InputError(f"the temperature must be one positive number, got {temperature!r}")
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        raise InputError(f"the temperature must be one positive number, got {temperature!r}") from None
    if not (value > 0 and np.isfinite(value)):
        raise InputError(f"the temperature must be positive and finite, got {value}")
    return value


def _logits(z, name: str = "z") -> np.ndarray:
    z = _real(z, name)
    if not np.issubdtype(z.dtype, np.floating):
        z = z.astype(np.float64)
    if z.ndim == 0:
        raise InputError(f"{name} must have at least one axis (the classes); got a scalar")
    if z.shape[-1] == 0:
        raise InputError(f"{name} has no classes: its last axis is empty")
    return z


def softmax(z, axis: int = -1) -> np.ndarray:
    """softmax(z)_i = exp(z_i - max z) / sum_k exp(z_k - max z), the same function as exp(z_i)/sum exp(z_k).

    >>> softmax([0.0, 1e4]).tolist()
    [0.0, 1.0]
    >>> softmax([0.0, -np.inf]).tolist()
    [1.0, 0.0]
    """
    z = np.moveaxis(_logits(z), axis, -1)
    shift = np.max(z, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        e = np.exp(z - shift)
        p = e / np.sum(e, axis=-1, keepdims=True)
    return np.moveaxis(p, -1, axis)


def log_softmax(z, axis: int = -1) -> np.ndarray:
    """log softmax(z)_i = z_i - max z - log sum_k exp(z_k - max z), without forming softmax.

    >>> log_softmax([0.0, 1e4]).tolist()
    [-10000.0, 0.0]
    """
    z = np.moveaxis(_logits(z), axis, -1)
    shift = np.max(z, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        shifted = z - shift
        out = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
    return np.moveaxis(out, -1, axis)


def softmax_jacobian(z, temperature: float = 1.0) -> np.ndarray:
    """d softmax(z / T) / dz = (diag(p) - p p^T) / T, batched over leading axes.

    >>> softmax_jacobian([0.0, 0.0]).tolist()
    [[0.25, -0.25], [-0.25, 0.25]]
    """
    temperature = _temperature(temperature)
    p = softmax(np.asarray(_logits(z)) / temperature)
    outer = p[..., :, None] * p[..., None, :]
    diagonal = np.zeros_like(outer)
    idx = np.arange(p.shape[-1])
    diagonal[..., idx, idx] = p
    return (diagonal - outer) / temperature


def log_softmax_jacobian(z) -> np.ndarray:
    """d log softmax(z) / dz = I - 1 p^T (row i is e_i - p).

    >>> log_softmax_jacobian([0.0, 0.0]).tolist()
    [[0.5, -0.5], [-0.5, 0.5]]
    """
    p = softmax(z)
    n = p.shape[-1]
    return np.eye(n) - p[..., None, :]


def _targets(z, y, label_smoothing) -> np.ndarray:
    """(1 - e) y + e / n, the targets the loss actually uses."""
    y = _real(y, "y").astype(np.float64)
    bad = ~np.isfinite(y)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(f"the targets y must be finite numbers, got {y[where]} at index {where}")
    if y.shape != z.shape:
        raise InputError(f"the targets y have shape {y.shape} but the logits z have shape {z.shape}")
    e = float(label_smoothing)
    if not 0.0 <= e <= 1.0:  # also rejects NaN
        raise InputError(f"label_smoothing must lie in [0, 1], got {e}")
    return y if e == 0.0 else (1.0 - e) * y + e / z.shape[-1]


def cross_entropy(z, y, label_smoothing: float = 0.0) -> np.ndarray:
    """L = -sum_i q_i log softmax(z)_i with q = (1 - e) y + e / n, for one-hot, probability or any other finite real targets y.

    Terms with q_i = 0 contribute 0 even where log p_i = -inf; with e > 0 no target is 0, so a
    class with p_i = 0 makes the loss infinite.

    >>> round(float(cross_entropy([0.0, 0.0], [1.0, 0.0])), 6)
    0.693147
    >>> round(float(cross_entropy([0.0, np.log(3.0)], [0.0, 1.0], label_smoothing=0.5)), 6)  # q = (1/4, 3/4): the minimum
    0.562335
    """
    z = _logits(z)
    y = _targets(z, y, label_smoothing)
    log_p = log_softmax(z)
    with np.errstate(invalid="ignore"):
        terms = np.where(y == 0, 0.0, y * log_p)
    return -np.sum(terms, axis=-1)


def cross_entropy_grad(z, y, label_smoothing: float = 0.0) -> np.ndarray:
    """dL/dz = (sum_i q_i) p - q with q = (1 - e) y + e / n; this is p - q exactly when the targets sum to 1.

    >>> cross_entropy_grad([0.0, 0.0], [1.0, 0.0]).tolist()
    [-0.5, 0.5]
    >>> cross_entropy_grad([0.0, 0.0], [1.0, 0.0], label_smoothing=0.5).tolist()  # q = (3/4, 1/4)
    [-0.25, 0.25]
    """
    z = _logits(z)
    y = _targets(z, y, label_smoothing)
    return np.sum(y, axis=-1, keepdims=True) * softmax(z) - y
