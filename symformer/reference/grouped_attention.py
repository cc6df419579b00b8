"""Grouped-query and multi-query attention in NumPy: h_q query heads share h_kv key/value heads.

Conventions (PyTorch's ``scaled_dot_product_attention(..., enable_gqa=True)``, Ainslie et al. 2023):

- ``Q`` is ``(..., h_q, N, d_k)``, ``K`` is ``(..., h_kv, M, d_k)``, ``V`` is ``(..., h_kv, M, d_v)``,
  with h_q a multiple of h_kv; leading batch axes broadcast. The group size is g = h_q / h_kv and
  query head i uses key/value head i // g: K and V are repeated g times along the head axis
  (``repeat_interleave``), then every head is ordinary attention. h_kv = h_q is multi-head
  attention; h_kv = 1 is multi-query attention (Shazeer 2019).
- Masks, scale, the safe softmax of fully masked rows, NaN and float32: as :func:`attention`. A
  mask must broadcast to the scores' shape ``(..., h_q, N, M)``.
- Backward: a shared key/value head is used by every query head of its group, so its gradient is
  the sum of theirs.
"""

from __future__ import annotations

import numpy as np

from symformer.errors import InputError
from symformer.reference.attention import attention, attention_backward



def _array(x, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise InputError(f"{name} must be a real floating-point array, got dtype {x.dtype}")
    if x.ndim < 3:
        raise InputError(f"{name} must have at least 3 axes (heads, positions, features), got shape {x.shape}")
    return x


def _check(Q, K, V, mask, scale) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    Q, K, V = _array(Q, "Q"), _array(K, "K"), _array(V, "V")
    h_q, h_kv = Q.shape[-3], K.shape[-3]
    if V.shape[-3] != h_kv:
        raise InputError(f"V has shape {V.shape} and K has shape {K.shape}: they need the same number of heads")
    if h_kv == 0 or h_q % h_kv:
        raise InputError(f"Q has {h_q} heads (shape {Q.shape}) and K has {h_kv} (shape {K.shape}): "
                                    f"the query heads must be a multiple of the key/value heads")
    if K.shape[-1] != Q.shape[-1]:
        raise InputError(f"K has shape {K.shape} and Q has shape {Q.shape}: their last axes (d_k) must agree")
    if V.shape[-2] != K.shape[-2]:
        raise InputError(f"V has shape {V.shape} and K has shape {K.shape}: "
                                    f"they need the same number of positions (M keys)")
    try:
        batch = np.broadcast_shapes(Q.shape[:-3], K.shape[:-3], V.shape[:-3])
    except ValueError:
        raise InputError(f"the batch axes of Q {Q.shape}, K {K.shape} and V {V.shape} do not broadcast") from None
    if scale is not None and not float(scale) > 0:  # also rejects NaN
        raise InputError(f"scale must be positive, got {float(scale)}")
    if mask is not None:
        scores = batch + (h_q, Q.shape[-2], K.shape[-2])
        shape = np.shape(mask)
        try:
            broadcast = np.broadcast_shapes(shape, scores)
        except ValueError:
            broadcast = None
        if broadcast != scores:
            raise InputError(f"mask has shape {shape}, which does not broadcast to the scores' shape "
                                        f"{scores} (..., h_q, N, M)")
    return Q, K, V, h_q // h_kv


def grouped_query_attention(Q, K, V, mask=None, scale=None) -> np.ndarray:
    """Attention of each query head i with key/value head i // (h_q / h_kv); shape (..., h_q, N, d_v).

    >>> Q = np.zeros((2, 1, 1)); K = np.zeros((1, 2, 1)); V = np.array([[[1.0], [3.0]]])
    >>> grouped_query_attention(Q, K, V).tolist()  # both query heads average the one shared V
    [[[2.0]], [[2.0]]]
    """
    Q, K, V, group = _check(Q, K, V, mask, scale)
    return attention(Q, np.repeat(K, group, axis=-3), np.repeat(V, group, axis=-3), mask=mask, scale=scale)


def grouped_query_attention_backward(Q, K, V, dO, mask=None, scale=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dQ, dK, dV) given dO = dL/dO; dK and dV of a shared head sum over the query heads of its group.

    >>> Q = np.zeros((2, 1, 1)); K = np.zeros((1, 2, 1)); V = np.array([[[1.0], [3.0]]])
    >>> dQ, dK, dV = grouped_query_attention_backward(Q, K, V, np.ones((2, 1, 1)))
    >>> dV.tolist()  # each of the two query heads sends back P^T dO = [1/2, 1/2]
    [[[1.0], [1.0]]]
    """
    Q, K, V, group = _check(Q, K, V, mask, scale)
    dO = np.asarray(dO)
    out = np.broadcast_shapes(Q.shape[:-3], K.shape[:-3], V.shape[:-3]) + (Q.shape[-3], Q.shape[-2], V.shape[-1])
    if dO.shape != out:
        raise InputError(f"dO has shape {dO.shape} but the output O has shape {out}")
    dQ, dK, dV = attention_backward(Q, np.repeat(K, group, axis=-3), np.repeat(V, group, axis=-3), dO, mask=mask, scale=scale)
    return dQ, _sum_groups(dK, K.shape, group), _sum_groups(dV, V.shape, group)


def _sum_groups(gradient: np.ndarray, shape: tuple, group: int) -> np.ndarray:
    """(..., h_kv g, M, d) -> (..., h_kv, M, d): each shared head gets the sum over its g query heads."""
    grouped = gradient.reshape(gradient.shape[:-3] + (shape[-3], group) + gradient.shape[-2:])
    return grouped.sum(axis=-3)


def grouped_query_parameter_count(d_model: int, n_heads: int, n_kv_heads: int, d_head: int | None = None) -> int:
    """Weights of the attention projections: d_model d_head (2 h_q + 2 h_kv), no biases (Llama's layout).

    W_q and W_o hold d_model h_q d_head each, W_k and W_v d_model h_kv d_head each; with
    h_kv = h_q and d_head = d_model / h this is multi-head attention's 4 d_model^2.

    >>> grouped_query_parameter_count(4096, 32, 32), grouped_query_parameter_count(4096, 32, 8)
    (67108864, 41943040)
    """
    for name, value in (("d_model", d_model), ("n_heads", n_heads), ("n_kv_heads", n_kv_heads)):
        if int(value) != value or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}")
    if n_heads % n_kv_heads:
        raise InputError(f"n_heads = {n_heads} is not a multiple of n_kv_heads = {n_kv_heads}")
    if d_head is None:
        if d_model % n_heads:
            raise InputError(f"d_model = {d_model} does not split into {n_heads} heads; give d_head")
        d_head = d_model // n_heads
    return d_model * d_head * (2 * n_heads + 2 * n_kv_heads)
