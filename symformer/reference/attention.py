"""Scaled dot-product attention, its masks, multi-head attention and their backward passes, in NumPy.

Independent of the symbolic code: these are the references the derivations are checked against.

Conventions (the ones PyTorch's ``scaled_dot_product_attention`` uses, so a float64 cross-check is
exact up to rounding):

- ``Q`` is ``(..., N, d_k)``, ``K`` is ``(..., M, d_k)``, ``V`` is ``(..., M, d_v)``; leading batch
  axes broadcast. ``S = scale Q K^T + B``, ``P = row-softmax(S)``, ``O = P V``; ``scale``
  defaults to ``1 / sqrt(d_k)``.
- A mask is either additive (a float array of 0 and -inf, added to the scores) or boolean with
  True meaning "may attend" (PyTorch's SDPA polarity; ``nn.MultiheadAttention`` uses the opposite).
  A boolean mask becomes the additive one before it is added, as in PyTorch.
- A row whose scores are all -inf (a query that may attend to nothing) gets P = 0, so O = 0 and
  zero gradients: the "safe softmax" of PyTorch >= 2.5. The textbook formula gives NaN there.
  With no keys at all (M = 0) every query attends to nothing in the same sense: P has shape
  (..., N, 0) and O = 0.
- An additive mask holds 0 (may attend), -inf (may not) or finite biases; +inf or NaN in it is an
  error (+inf would make its whole row NaN). ``scale`` must be a positive finite number, and
  d_k = 0 (queries and keys without features) is an error.
- NaN is not repaired: a NaN score in an unmasked position makes its whole row of P, O and of the
  gradients NaN; a NaN in a masked position does too, because NaN + (-inf) is NaN (also PyTorch's
  behaviour). Zeroing NaNs after the softmax would not repair the gradient.
- Every exponent is at most 0 after subtracting the row maximum, so scores of 1e4 do not overflow.
- float32 inputs give float32 results; anything else is computed in float64.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from symformer.errors import InputError

ALIGNMENTS = ("top-left", "bottom-right")


# Input checks -------------------------------------------------------------------------------


def _array(x, name: str, min_ndim: int = 2) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise InputError(f"{name} must be a real floating-point array, got dtype {x.dtype}")
    if x.ndim < min_ndim:
        raise InputError(f"{name} must have at least {min_ndim} axes, got shape {x.shape}")
    return x


def _whole(name: str, value, low: int = 0) -> int:
    """``value`` as an int when it is a whole number >= ``low`` (3.0 counts; True, NaN and "3" do not)."""
    try:
        ok = not isinstance(value, (bool, np.bool_, str, bytes)) and int(value) == value and value >= low
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise InputError(f"{name} must be a {'non-negative' if low == 0 else 'positive'} integer, got {value!r}")
    return int(value)


def _float_dtype(*arrays) -> np.dtype:
    dtype = np.result_type(*arrays)
    return np.dtype(np.float32) if dtype == np.float32 else np.dtype(np.float64)


def _check_qkv(Q, K, V):
    Q, K, V = _array(Q, "Q"), _array(K, "K"), _array(V, "V")
    if K.shape[-1] != Q.shape[-1]:
        raise InputError(f"K has shape {K.shape} and Q has shape {Q.shape}: their last axes (d_k) must agree")
    if Q.shape[-1] == 0:
        raise InputError(f"Q has shape {Q.shape} and K has shape {K.shape}: d_k = 0, so there are no scores to "
                         "compute; queries and keys need at least one column")
    if V.shape[-2] != K.shape[-2]:
        raise InputError(f"V has shape {V.shape} and K has shape {K.shape}: they need the same number of rows (M keys)")
    try:
        np.broadcast_shapes(Q.shape[:-2], K.shape[:-2], V.shape[:-2])
    except ValueError:
        raise InputError(f"the batch axes of Q {Q.shape}, K {K.shape} and V {V.shape} do not broadcast") from None
    dtype = _float_dtype(Q, K, V)
    return Q.astype(dtype, copy=False), K.astype(dtype, copy=False), V.astype(dtype, copy=False)


def _check_scale(scale, d_k: int) -> float:
    if scale is None:
        return float(1.0 / np.sqrt(d_k))  # a Python float keeps float32 inputs float32
    if isinstance(scale, (bool, np.bool_, complex, np.complexfloating)) or np.ndim(scale) != 0:
        raise InputError(f"scale must be one positive real number, got {scale!r}")
    try:
        value = float(scale)
    except (TypeError, ValueError):
        raise InputError(f"scale must be one positive real number, got {scale!r}") from None
    if not (value > 0 and np.isfinite(value)):  # also rejects NaN
        raise InputError(f"scale must be positive and finite, got {value}")
    return value


def additive_mask(mask, dtype=np.float64) -> np.ndarray:
    """A mask as the array added to the scores: True -> 0, False -> -inf; float masks pass through.

    >>> additive_mask(np.array([True, False])).tolist()
    [0.0, -inf]
    """
    mask = np.asarray(mask)
    if mask.dtype == bool:
        return np.where(mask, 0.0, -np.inf).astype(dtype)
    if not np.issubdtype(mask.dtype, np.floating):
        raise InputError(f"mask must be boolean (True = may attend) or a float array of 0 and -inf, got dtype {mask.dtype}")
    bad = np.isnan(mask) | (mask == np.inf)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(f"mask has {mask[where]} at index {where}; an additive mask holds 0 (may attend), "
                         "-inf (may not) or finite biases")
    return mask.astype(dtype, copy=False)


def _check_mask(mask, scores_shape: tuple, dtype) -> np.ndarray | None:
    if mask is None:
        return None
    bias = additive_mask(mask, dtype)
    try:
        shape = np.broadcast_shapes(bias.shape, scores_shape)
    except ValueError:
        shape = None
    if shape is None or shape[-2:] != scores_shape[-2:]:
        raise InputError(f"mask has shape {bias.shape}, which does not broadcast to the scores' shape {scores_shape} (..., N, M)")
    return bias


# Forward ------------------------------------------------------------------------------------


def safe_row_softmax(S) -> np.ndarray:
    """Softmax of each row of ``S``; a row of only -inf gives zeros (PyTorch >= 2.5's safe softmax).

    >>> safe_row_softmax(np.array([[0.0, 1e4], [-np.inf, -np.inf]])).tolist()
    [[0.0, 1.0], [0.0, 0.0]]
    >>> safe_row_softmax(np.zeros((2, 0))).shape  # no keys: every query attends to nothing
    (2, 0)
    """
    S = np.asarray(S)
    if S.shape[-1] == 0:
        return np.zeros(S.shape, dtype=S.dtype if np.issubdtype(S.dtype, np.floating) else np.float64)
    row_max = np.max(S, axis=-1, keepdims=True)
    row_max = np.where(row_max == -np.inf, 0.0, row_max)  # a fully masked row: exp(-inf) = 0 everywhere
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(S - row_max)
        total = np.sum(e, axis=-1, keepdims=True)
        return e / np.where(total == 0, 1.0, total)


def _probabilities(Q, K, mask, scale):
    S = scale * (Q @ np.swapaxes(K, -1, -2))
    bias = _check_mask(mask, S.shape, S.dtype)
    if bias is not None:
        S = S + bias
    return safe_row_softmax(S)


def attention(Q, K, V, mask=None, scale=None, return_weights: bool = False):
    """O = softmax(scale Q K^T + mask) V, row by row; with ``return_weights`` also P.

    >>> Q = np.array([[1.0, 0.0]]); K = np.array([[1.0, 0.0], [0.0, 1.0]]); V = np.array([[1.0], [3.0]])
    >>> O, P = attention(Q, K, V, scale=np.log(3.0), return_weights=True)
    >>> P.round(6).tolist(), O.round(6).tolist()
    ([[0.75, 0.25]], [[1.5]])
    >>> attention(Q, K, V, mask=np.array([[False, True]])).tolist()
    [[3.0]]
    """
    Q, K, V = _check_qkv(Q, K, V)
    P = _probabilities(Q, K, mask, _check_scale(scale, Q.shape[-1]))
    O = P @ V
    return (O, P) if return_weights else O


# Backward -----------------------------------------------------------------------------------


def _unbroadcast(gradient: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a gradient over the batch axes its input was broadcast along."""
    extra = gradient.ndim - len(shape)
    if extra:
        gradient = gradient.sum(axis=tuple(range(extra)))
    axes = tuple(a for a, size in enumerate(shape) if size == 1 and gradient.shape[a] != 1)
    return gradient.sum(axis=axes, keepdims=True) if axes else gradient


def attention_backward(Q, K, V, dO, mask=None, scale=None):
    """(dQ, dK, dV) of a loss L given dO = dL/dO, for O = attention(Q, K, V, mask, scale).

    dV = P^T dO;  dP = dO V^T;  D = rowsum(dO o O);  dS = P o (dP - D 1^T);
    dQ = scale dS K;  dK = scale dS^T Q.  ``D`` is FlashAttention's (Dao et al. 2022, app. B.2).

    >>> Q = np.array([[1.0, 0.0]]); K = np.array([[1.0, 0.0], [0.0, 1.0]]); V = np.array([[1.0], [3.0]])
    >>> dQ, dK, dV = attention_backward(Q, K, V, np.array([[1.0]]), scale=np.log(3.0))
    >>> dV.round(6).tolist()
    [[0.75], [0.25]]
    """
    Q, K, V = _check_qkv(Q, K, V)
    dO = _array(dO, "dO").astype(Q.dtype, copy=False)
    out_shape = np.broadcast_shapes(Q.shape[:-2], K.shape[:-2], V.shape[:-2]) + (Q.shape[-2], V.shape[-1])
    try:
        shape = np.broadcast_shapes(dO.shape, out_shape)
    except ValueError:
        shape = None
    if shape is None or dO.shape[-2:] != out_shape[-2:]:
        raise InputError(f"dO has shape {dO.shape} but the output O has shape {out_shape}")
    scale = _check_scale(scale, Q.shape[-1])
    P = _probabilities(Q, K, mask, scale)
    O = P @ V
    dV = np.swapaxes(P, -1, -2) @ dO
    dP = dO @ np.swapaxes(V, -1, -2)
    D = np.sum(dO * O, axis=-1, keepdims=True)
    dS = P * (dP - D)
    dQ = scale * (dS @ K)
    dK = scale * (np.swapaxes(dS, -1, -2) @ Q)
    return _unbroadcast(dQ, Q.shape), _unbroadcast(dK, K.shape), _unbroadcast(dV, V.shape)


# Masks --------------------------------------------------------------------------------------


def causal_mask(n: int, m: int | None = None, alignment: str = "top-left") -> np.ndarray:
    """Boolean (n, m) mask, True where query i may attend to key j.

    ``"top-left"`` (PyTorch's ``is_causal``): j <= i. ``"bottom-right"`` (FlashAttention >= 2.1):
    j <= i + (m - n), so the last query sees every key. They agree when n == m.

    >>> causal_mask(2, 3).astype(int).tolist()
    [[1, 0, 0], [1, 1, 0]]
    >>> causal_mask(2, 3, alignment="bottom-right").astype(int).tolist()
    [[1, 1, 0], [1, 1, 1]]
    """
    m = n if m is None else m
    n, m = _whole("n", n), _whole("m", m)
    if alignment not in ALIGNMENTS:
        raise InputError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
    offset = 0 if alignment == "top-left" else m - n
    return np.arange(m)[None, :] <= np.arange(n)[:, None] + offset


def padding_mask(lengths, m: int) -> np.ndarray:
    """Boolean (batch, 1, m) mask, True for the first ``lengths[b]`` keys of sequence b.

    The middle axis broadcasts over the queries; combine with a causal mask by ``&``.

    >>> padding_mask([1, 3], 3).astype(int).tolist()
    [[[1, 0, 0]], [[1, 1, 1]]]
    """
    m = _whole("m", m)
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer):
        raise InputError(f"lengths must be a 1-D array of integers, got shape {lengths.shape} and dtype {lengths.dtype}")
    if (lengths < 0).any() or (lengths > m).any():
        raise InputError(f"lengths must lie in 0..{m} (m keys), got {lengths.tolist()}")
    return (np.arange(m)[None, :] < lengths[:, None])[:, None, :]


# Multi-head attention -----------------------------------------------------------------------


def _check_heads(X_q, X_kv, W_q, W_k, W_v, W_o, n_heads):
    X_q, X_kv = _array(X_q, "X_q"), _array(X_kv, "X_kv")
    W_q, W_k, W_v, W_o = (_array(w, name) for w, name in ((W_q, "W_q"), (W_k, "W_k"), (W_v, "W_v"), (W_o, "W_o")))
    n_heads = _whole("n_heads", n_heads, 1)
    for name, w in (("W_q", W_q), ("W_k", W_k), ("W_v", W_v), ("W_o", W_o)):
        if w.ndim != 2:
            raise InputError(f"{name} must be a matrix, got shape {w.shape}")
    if X_kv.shape[-1] != X_q.shape[-1]:
        raise InputError(f"X_kv has shape {X_kv.shape} and X_q has shape {X_q.shape}: the last axes (d_model) must agree")
    for name, w in (("W_q", W_q), ("W_k", W_k), ("W_v", W_v)):
        if w.shape[0] != X_q.shape[-1]:
            raise InputError(f"{name} has shape {w.shape} but X_q has shape {X_q.shape}: {name} needs d_model = {X_q.shape[-1]} rows")
        if w.shape[1] % n_heads:
            raise InputError(f"{name} has shape {w.shape}: its {w.shape[1]} columns do not split into {n_heads} heads")
    if W_k.shape != W_q.shape:
        raise InputError(f"W_k has shape {W_k.shape} and W_q has shape {W_q.shape}: queries and keys need the same d_k")
    if W_o.shape[0] != W_v.shape[1]:
        raise InputError(f"W_o has shape {W_o.shape} and W_v has shape {W_v.shape}: W_o needs n_heads d_v = {W_v.shape[1]} rows")
    dtype = _float_dtype(X_q, X_kv, W_q, W_k, W_v, W_o)
    return [a.astype(dtype, copy=False) for a in (X_q, X_kv, W_q, W_k, W_v, W_o)]


def _split_heads(X: np.ndarray, n_heads: int) -> np.ndarray:
    """(..., L, h d) -> (..., h, L, d): head i owns the i-th contiguous block of columns."""
    return np.swapaxes(X.reshape(X.shape[:-1] + (n_heads, X.shape[-1] // n_heads)), -2, -3)


def _merge_heads(X: np.ndarray) -> np.ndarray:
    """(..., h, L, d) -> (..., L, h d): Concat(head_1, ..., head_h)."""
    X = np.swapaxes(X, -2, -3)
    return X.reshape(X.shape[:-2] + (X.shape[-2] * X.shape[-1],))


def _head_mask(mask):
    """A mask of the attention scores (..., N, M) broadcasts over the head axis."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    return mask[..., None, :, :] if mask.ndim >= 3 else mask


def multi_head_attention(X_q, X_kv, W_q, W_k, W_v, W_o, n_heads: int, mask=None):
    """Concat(head_1, ..., head_h) W_o with head_i = attention(X_q W_q^i, X_kv W_k^i, X_kv W_v^i).

    W_q, W_k are d_model x (h d_k) and W_v is d_model x (h d_v), head i owning the i-th block of
    d_k (d_v) columns; W_o is (h d_v) x d_out. The scale is 1/sqrt(d_k). ``mask`` is a mask of
    the (N, M) scores, shared by every head (a leading batch axis is allowed).

    >>> X = np.eye(2); W = np.eye(2)
    >>> multi_head_attention(X, X, W, W, W, W, n_heads=2).round(4).tolist()
    [[0.7311, 0.5], [0.5, 0.7311]]
    """
    n_heads = _whole("n_heads", n_heads, 1)
    X_q, X_kv, W_q, W_k, W_v, W_o = _check_heads(X_q, X_kv, W_q, W_k, W_v, W_o, n_heads)
    heads = attention(_split_heads(X_q @ W_q, n_heads), _split_heads(X_kv @ W_k, n_heads),
                      _split_heads(X_kv @ W_v, n_heads), mask=_head_mask(mask))
    return _merge_heads(heads) @ W_o


class MultiHeadGradients(NamedTuple):
    """Gradients of multi-head attention; for self-attention (X_q is X_kv) dX = dX_q + dX_kv."""

    dX_q: np.ndarray
    dX_kv: np.ndarray
    dW_q: np.ndarray
    dW_k: np.ndarray
    dW_v: np.ndarray
    dW_o: np.ndarray


def multi_head_attention_backward(X_q, X_kv, W_q, W_k, W_v, W_o, n_heads: int, dY, mask=None) -> MultiHeadGradients:
    """Gradients of a loss L given dY = dL/dY for Y = multi_head_attention(...).

    dW_o = Concat(heads)^T dY; d head_i = dY W_o^{i T} (W_o's i-th block of rows); each head's
    backward is :func:`attention_backward`; then dW_q = X_q^T dQ, dX_q = dQ W_q^T and likewise for
    keys and values (batch axes are summed for the weights).

    >>> X = np.eye(2); W = np.eye(2)
    >>> g = multi_head_attention_backward(X, X, W, W, W, W, 2, np.ones((2, 2)))
    >>> g.dW_o.round(4).tolist()
    [[1.2311, 1.2311], [1.2311, 1.2311]]
    """
    n_heads = _whole("n_heads", n_heads, 1)
    X_q, X_kv, W_q, W_k, W_v, W_o = _check_heads(X_q, X_kv, W_q, W_k, W_v, W_o, n_heads)
    dY = _array(dY, "dY").astype(X_q.dtype, copy=False)
    Q, K, V = (_split_heads(X @ W, n_heads) for X, W in ((X_q, W_q), (X_kv, W_k), (X_kv, W_v)))
    mask = _head_mask(mask)
    concat = _merge_heads(attention(Q, K, V, mask=mask))
    expected = concat.shape[:-1] + (W_o.shape[1],)
    if dY.shape != expected:
        raise InputError(f"dY has shape {dY.shape} but the output has shape {expected}")
    dW_o = _sum_batch(np.swapaxes(concat, -1, -2) @ dY)
    dHeads = _split_heads(dY @ W_o.T, n_heads)
    dQ, dK, dV = attention_backward(Q, K, V, dHeads, mask=mask)
    dQ, dK, dV = _merge_heads(dQ), _merge_heads(dK), _merge_heads(dV)
    dW_q = _sum_batch(np.swapaxes(X_q, -1, -2) @ dQ)
    dW_k = _sum_batch(np.swapaxes(X_kv, -1, -2) @ dK)
    dW_v = _sum_batch(np.swapaxes(X_kv, -1, -2) @ dV)
    dX_q = dQ @ W_q.T
    dX_kv = dK @ W_k.T + dV @ W_v.T
    return MultiHeadGradients(dX_q, dX_kv, dW_q, dW_k, dW_v, dW_o)


def _sum_batch(gradient: np.ndarray) -> np.ndarray:
    return gradient.reshape((-1,) + gradient.shape[-2:]).sum(axis=0)


def multi_head_parameter_count(d_model: int, n_heads: int, d_k: int | None = None, d_v: int | None = None,
                               bias: bool = True) -> int:
    """Weights h d_model (2 d_k + d_v) + h d_v d_model (4 d_model^2 when d_k = d_v = d_model / h),
    plus the biases h (2 d_k + d_v) + d_model (4 d_model in that case).

    >>> multi_head_parameter_count(768, 12, bias=False), multi_head_parameter_count(768, 12)
    (2359296, 2362368)
    """
    d_model, n_heads = _whole("d_model", d_model, 1), _whole("n_heads", n_heads, 1)
    d_k = None if d_k is None else _whole("d_k", d_k, 1)
    d_v = None if d_v is None else _whole("d_v", d_v, 1)
    if d_k is None or d_v is None:
        if d_model % n_heads:
            raise InputError(f"d_model = {d_model} does not split into {n_heads} heads; give d_k and d_v")
    d_k = d_model // n_heads if d_k is None else d_k
    d_v = d_model // n_heads if d_v is None else d_v
    weights = n_heads * d_model * (2 * d_k + d_v) + n_heads * d_v * d_model
    biases = n_heads * (2 * d_k + d_v) + d_model
    return weights + biases if bias else weights
