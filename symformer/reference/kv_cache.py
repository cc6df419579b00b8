"""Decoding with a key/value cache, in NumPy, and what the cache costs in memory.

A decoder generates one token at a time. At step t it computes q_t, k_t and v_t for the new token
only, appends k_t and v_t to the cache of every earlier step, and attends q_t to the cache: no mask
is needed, because the cache holds exactly the positions a causal mask would let q_t see. The rows
it produces are the rows of causal attention over the whole sequence (derivation
kv-cache-decoding), so generation costs one row of attention per token instead of a whole matrix.

Per token and layer the cache holds a key and a value for each key/value head: 2 h_kv d_head
numbers, 2 L h_kv d_head over L layers. Grouped-query attention shrinks it by h_q / h_kv.
"""

from __future__ import annotations

import numpy as np

from symformer.errors import InputError
from symformer.reference.grouped_attention import grouped_query_attention



def kv_cache_size(n_layers: int, n_kv_heads: int, d_head: int, tokens: int = 1) -> int:
    """Numbers held by the cache: 2 n_layers n_kv_heads d_head per token (multiply by 2 for bytes in fp16).

    >>> kv_cache_size(80, 8, 128)  # Llama 2 70B (80 layers, 8 key/value heads): 320 KiB per token in fp16
    163840
    >>> kv_cache_size(80, 64, 128) // kv_cache_size(80, 8, 128)  # with all 64 heads as key/value heads
    8
    """
    for name, value in (("n_layers", n_layers), ("n_kv_heads", n_kv_heads), ("d_head", d_head), ("tokens", tokens)):
        if isinstance(value, bool) or int(value) != value or value < 0:
            raise InputError(f"{name} must be a non-negative integer, got {value!r}")
    return 2 * int(n_layers) * int(n_kv_heads) * int(d_head) * int(tokens)


def decode_with_kv_cache(Q, K, V, scale=None) -> np.ndarray:
    """Causal attention one query at a time, as a decoder computes it, reading only the cache.

    ``Q`` is ``(..., h_q, N, d_k)``, ``K`` and ``V`` are ``(..., h_kv, M, d)`` with M >= N: the
    first M - N positions are a prompt already in the cache, and query t is position M - N + t.
    Step t appends key and value M - N + t to the cache and attends query t to the cache alone. The
    result equals ``grouped_query_attention(Q, K, V, causal_mask(N, M, "bottom-right"))``.

    >>> Q = np.ones((1, 2, 1)); K = np.zeros((1, 2, 1)); V = np.array([[[1.0], [3.0]]])
    >>> decode_with_kv_cache(Q, K, V).tolist()  # step 0 sees v_0 only, step 1 averages v_0 and v_1
    [[[1.0], [2.0]]]
    """
    Q, K, V = np.asarray(Q), np.asarray(K), np.asarray(V)
    if Q.ndim < 3 or K.ndim < 3 or V.ndim < 3:
        raise InputError(f"Q, K and V need at least 3 axes (heads, positions, features), got shapes {Q.shape}, {K.shape}, {V.shape}")
    N, M = Q.shape[-2], K.shape[-2]
    if M < N:
        raise InputError(f"K has shape {K.shape} and Q has shape {Q.shape}: a cache of M = {M} positions "
                           f"cannot serve N = {N} queries; it needs M >= N")
    prompt = M - N
    cache_K, cache_V = np.empty_like(K), np.empty_like(V)
    cache_K[..., :prompt, :], cache_V[..., :prompt, :] = K[..., :prompt, :], V[..., :prompt, :]
    rows = []
    for t in range(N):
        position = prompt + t
        cache_K[..., position, :], cache_V[..., position, :] = K[..., position, :], V[..., position, :]
        seen = slice(0, position + 1)
        rows.append(grouped_query_attention(Q[..., t : t + 1, :], cache_K[..., seen, :], cache_V[..., seen, :], scale=scale))
    if not rows:
        return grouped_query_attention(Q, K, V, scale=scale)
    return np.concatenate(rows, axis=-2)
