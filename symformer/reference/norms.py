"""RMSNorm in NumPy: forward, Jacobian and backward, with eps always explicit.

Convention (PyTorch's ``F.rms_norm``, Zhang and Sennrich 2019, Llama): over the last axis of n
features, r = sqrt(mean(x^2) + eps) with eps inside the root, x_hat = x / r, y = weight * x_hat.
No mean is subtracted, which is the whole difference from LayerNorm: adding a constant to every
feature changes the output (J 1 != 0), rescaling x does not (J x = eps x / r^3, 0 when eps = 0).

eps = 0 is allowed for rows that are not zero; a zero row with eps = 0 (r = 0) raises InputError
instead of giving NaN. PyTorch's default eps (None: the dtype's machine epsilon) is not copied:
always pass it. Like ``layer_norm``, everything is computed in float64.
"""

from __future__ import annotations

import numpy as np

from symformer.errors import InputError
from symformer.reference.layernorm import row_blocks, row_sized_buffers



def _inputs(x, weight, eps) -> tuple[np.ndarray, np.ndarray | None, float]:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0 or x.shape[-1] == 0:
        raise InputError(f"x must have a non-empty last axis (the n features), got shape {x.shape}")
    eps = float(eps)
    if not eps >= 0:  # also rejects NaN
        raise InputError(f"eps must be non-negative, got {eps}")
    if weight is not None:
        weight = np.asarray(weight, dtype=np.float64)
        if weight.shape != x.shape[-1:]:
            raise InputError(f"weight must have shape ({x.shape[-1]},) to match the last axis of x {x.shape}, "
                               f"got {weight.shape}")
    return x, weight, eps


def _inverse_rms(x, eps) -> np.ndarray:
    """1 / r for each row of x, keeping the last axis as 1."""
    mean_square = np.einsum("...i,...i->...", x, x)[..., None] / x.shape[-1]
    rms = np.sqrt(mean_square + eps)
    if np.any(rms == 0):
        raise InputError("a row of x is zero and eps = 0: r = 0, so RMSNorm is undefined; pass eps > 0")
    return 1.0 / rms


def rms_norm(x, weight=None, eps: float = 1e-6) -> np.ndarray:
    """weight * x / sqrt(mean(x^2) + eps) over the last axis (weight = 1 when omitted).

    >>> rms_norm([3.0, 4.0], eps=0.0).round(6).tolist()  # r = sqrt((9 + 16) / 2)
    [0.848528, 1.131371]
    >>> rms_norm([[1.0, 1.0]], weight=[2.0, -1.0], eps=0.0).tolist()  # no mean is removed
    [[2.0, -1.0]]
    """
    x, weight, eps = _inputs(x, weight, eps)
    y = x * _inverse_rms(x, eps)
    return y if weight is None else y * weight


def rms_norm_jacobian(x, weight=None, eps: float = 1e-6) -> np.ndarray:
    """dy/dx = diag(weight) (I - x x^T / (n r^2)) / r, shape (..., n, n).

    >>> rms_norm_jacobian([1.0], eps=3.0).tolist()  # (1 - 1/4) / 2
    [[0.375]]
    """
    x, weight, eps = _inputs(x, weight, eps)
    inverse = _inverse_rms(x, eps)
    n = x.shape[-1]
    x_hat = x * inverse
    inner = np.eye(n) - x_hat[..., :, None] * x_hat[..., None, :] / n
    jacobian = inner * inverse[..., None]
    return jacobian if weight is None else weight[:, None] * jacobian


def rms_norm_backward(x, dy, weight=None, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray | None]:
    """(dx, dweight) given dy = dL/dy; dweight is summed over the leading axes, None without a weight.

    With g = weight * dy and x_hat = x / r: dx = (g - x_hat * mean(g * x_hat)) / r, and
    dweight = sum dy * x_hat. Rows are processed a block at a time, so that every temporary stays
    in the cache: x and dy are read from memory once and dx written once.

    >>> dx, dweight = rms_norm_backward([3.0, 4.0], [3.0, 4.0], eps=0.0)  # dy along x: rescaling x changes nothing
    >>> bool(np.abs(dx).max() < 1e-15), dweight
    (True, None)
    >>> rms_norm_backward([3.0, 4.0], [4.0, -3.0], weight=[1.0, 1.0], eps=0.0)[1].round(6).tolist()
    [3.394113, -3.394113]
    """
    x, weight, eps = _inputs(x, weight, eps)
    dy = np.asarray(dy, dtype=np.float64)
    if dy.shape != x.shape:
        raise InputError(f"dy must have the shape of x {x.shape}, got {dy.shape}")
    n = x.shape[-1]
    x2, dy2 = x.reshape(-1, n), dy.reshape(-1, n)
    dx = np.empty_like(x2)
    dweight = np.zeros(n) if weight is not None else None
    with row_sized_buffers(n):
        for rows, scratch in row_blocks(x2.shape[0], n):
            xb, dyb, dxb = x2[rows], dy2[rows], dx[rows]
            rms = np.sqrt(np.einsum("ij,ij->i", xb, xb) / n + eps)
            if not rms.all():
                raise InputError("a row of x is zero and eps = 0: r = 0, so RMSNorm is undefined; pass eps > 0")
            inverse = 1.0 / rms
            np.multiply(dyb, xb, out=scratch)  # dy * x: both sums below are matrix-vector products with it
            if weight is not None:
                dweight += inverse @ scratch
                g_dot_x = scratch @ weight
                np.multiply(dyb, weight, out=dxb)  # g
            else:
                g_dot_x = scratch @ np.ones(n)
                np.copyto(dxb, dyb)
            # dx = g / r - x * sum(g * x) / (n r^3)
            dxb *= inverse[:, None]
            np.multiply(xb, (g_dot_x * inverse**3 / n)[:, None], out=scratch)
            dxb -= scratch
    return dx.reshape(x.shape), dweight
