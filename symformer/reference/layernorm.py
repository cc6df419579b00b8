"""LayerNorm in NumPy: forward, Jacobian and backward, with eps always explicit.

Convention (PyTorch's): over the last axis of size H, mu = mean(x), the biased variance
var = mean((x - mu)^2), sigma = sqrt(var + eps) with eps inside the root, x_hat = (x - mu) / sigma,
y = gamma * x_hat + beta. Ba et al. 2016 have no eps; eps = 0 is allowed here for rows that are
not constant, and a constant row with eps = 0 (sigma = 0) raises InputError instead of giving NaN.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from symformer.errors import InputError



def _inputs(x, gamma, eps) -> tuple[np.ndarray, np.ndarray, float]:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0 or x.shape[-1] == 0:
        raise InputError(f"x must have a non-empty last axis (the H features), got shape {x.shape}")
    eps = float(eps)
    if not eps >= 0:
        raise InputError(f"eps must be non-negative, got {eps}")
    H = x.shape[-1]
    gamma = np.ones(H) if gamma is None else np.asarray(gamma, dtype=np.float64)
    if gamma.shape != (H,):
        raise InputError(f"gamma must have shape ({H},) to match the last axis of x {x.shape}, got {gamma.shape}")
    return x, gamma, eps


def _normalise(x, eps) -> tuple[np.ndarray, np.ndarray]:
    """(x_hat, sigma) with sigma keeping the last axis as 1."""
    centred = x - x.mean(axis=-1, keepdims=True)
    sigma = np.sqrt(np.mean(centred**2, axis=-1, keepdims=True) + eps)
    if np.any(sigma == 0):
        raise InputError("a row of x is constant and eps = 0: sigma = 0, so LayerNorm is undefined; pass eps > 0")
    return centred / sigma, sigma


def layer_norm(x, gamma=None, beta=None, eps: float = 1e-5) -> np.ndarray:
    """gamma * (x - mean) / sqrt(var + eps) + beta over the last axis (gamma = 1, beta = 0 when omitted).

    >>> layer_norm([1.0, 3.0], eps=0.0).tolist()
    [-1.0, 1.0]
    >>> layer_norm([[2.0, 2.0]], eps=1.0).tolist()  # a constant row maps to beta
    [[0.0, 0.0]]
    """
    x, gamma, eps = _inputs(x, gamma, eps)
    x_hat, _ = _normalise(x, eps)
    beta = np.zeros(x.shape[-1]) if beta is None else np.asarray(beta, dtype=np.float64)
    if beta.shape != (x.shape[-1],):
        raise InputError(f"beta must have shape ({x.shape[-1]},) to match the last axis of x {x.shape}, got {beta.shape}")
    return gamma * x_hat + beta


def layer_norm_jacobian(x, gamma=None, eps: float = 1e-5) -> np.ndarray:
    """dy/dx = diag(gamma) (I - 1 1^T / H - x_hat x_hat^T / H) / sigma, shape (..., H, H).

    >>> layer_norm_jacobian([1.0, 3.0], eps=0.0).tolist()
    [[0.0, 0.0], [0.0, 0.0]]
    """
    x, gamma, eps = _inputs(x, gamma, eps)
    x_hat, sigma = _normalise(x, eps)
    H = x.shape[-1]
    inner = np.eye(H) - 1.0 / H - x_hat[..., :, None] * x_hat[..., None, :] / H
    return gamma[:, None] * inner / sigma[..., None]


def layer_norm_backward(x, dy, gamma=None, eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dgamma, dbeta) given dy = dL/dy; dgamma and dbeta are summed over the leading axes.

    With g = gamma * dy: dx = (g - mean(g) - x_hat * mean(g * x_hat)) / sigma; dgamma = sum dy * x_hat;
    dbeta = sum dy. dgamma and dbeta are returned even when gamma is omitted (what gamma = 1 and
    beta = 0 would receive). Rows are processed a block at a time, so that every temporary stays in
    the cache: x and dy are read from memory once and dx written once.

    >>> dx, dgamma, dbeta = layer_norm_backward([1.0, 3.0], [1.0, 0.0], eps=0.0)
    >>> dx.tolist(), dgamma.tolist(), dbeta.tolist()
    ([0.0, 0.0], [-1.0, 0.0], [1.0, 0.0])
    """
    x, gamma, eps = _inputs(x, gamma, eps)
    dy = np.asarray(dy, dtype=np.float64)
    if dy.shape != x.shape:
        raise InputError(f"dy must have the shape of x {x.shape}, got {dy.shape}")
    H = x.shape[-1]
    x2, dy2 = x.reshape(-1, H), dy.reshape(-1, H)
    dx = np.empty_like(x2)
    dgamma, dbeta = np.zeros(H), np.zeros(H)
    mean_weights, gamma_over_H = np.full(H, 1.0 / H), gamma / H  # row means as matrix-vector products
    with row_sized_buffers(H):
        for rows, centred in row_blocks(x2.shape[0], H):
            xb, dyb, dxb = x2[rows], dy2[rows], dx[rows]
            np.subtract(xb, (xb @ mean_weights)[:, None], out=centred)
            sigma = np.sqrt(np.einsum("ij,ij->i", centred, centred) / H + eps)
            if not sigma.all():
                raise InputError("a row of x is constant and eps = 0: sigma = 0, so LayerNorm is undefined; pass eps > 0")
            inverse = 1.0 / sigma
            dbeta += np.ones(len(inverse)) @ dyb
            np.multiply(dyb, centred, out=dxb)  # dy * (x - mu), in dx until g takes its place
            dgamma += inverse @ dxb
            mean_g_x_hat = inverse * (dxb @ gamma_over_H)
            np.multiply(dyb, gamma, out=dxb)  # g
            dxb -= (dyb @ gamma_over_H)[:, None]  # mean(g)
            centred *= (inverse * mean_g_x_hat)[:, None]  # x_hat * mean(g * x_hat)
            dxb -= centred
            dxb *= inverse[:, None]
    return dx.reshape(x.shape), dgamma, dbeta


#: Elements of one block of rows in the backward passes: x, dy, dx and a scratch array of this
#: size (256 KiB each in float64) fit in a core's L2 cache together.
BLOCK_ELEMENTS = 1 << 15


@contextmanager
def row_sized_buffers(width: int):
    """ufunc buffers no longer than a row, while a block loop runs.

    A block times a (rows, 1) column of per-row factors runs at the speed of a contiguous product
    only when NumPy's ufunc buffer is no longer than a row; with the default 8192 elements NumPy
    buffers the column across rows first, which makes each such product two to three times slower.
    The buffer size is thread- and context-local, and restored on the way out.

    >>> with row_sized_buffers(768):
    ...     np.getbufsize()
    512
    """
    at_most_a_row = max(16, 1 << (max(int(width), 1).bit_length() - 1))  # a power of two, as NumPy 1.x requires
    previous = np.setbufsize(min(np.getbufsize(), at_most_a_row))
    try:
        yield
    finally:
        np.setbufsize(previous)


def row_blocks(n_rows: int, width: int):
    """Yield (rows, scratch): a slice of at most BLOCK_ELEMENTS // width rows, and a scratch array of its shape.

    >>> [(rows.start, rows.stop, scratch.shape) for rows, scratch in row_blocks(5, BLOCK_ELEMENTS // 2)]
    [(0, 2, (2, 16384)), (2, 4, (2, 16384)), (4, 5, (1, 16384))]
    """
    block = max(1, min(n_rows, BLOCK_ELEMENTS // max(width, 1)))
    scratch = np.empty((block, width))
    for start in range(0, n_rows, block):
        stop = min(start + block, n_rows)
        yield slice(start, stop), scratch[: stop - start]
