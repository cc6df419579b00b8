"""ALiBi in NumPy: per-head slopes and the linear biases added to the attention scores.

Press, Smith and Lewis 2022 (Train Short, Test Long): head k adds -m_k (i - j) to the score of
query position i and key position j, and uses no positional embedding at all. The bias depends on
i - j only, so it is relative by construction. Slopes form a geometric sequence: for h a power of
two, m_k = 2^(-8k/h), k = 1..h (h = 8 gives 1/2, 1/4, ..., 1/256). For other h the paper's code takes
the c = 2^floor(log2 h) slopes of c heads, then every other slope of 2c heads (2^(-4k/c) for odd k)
until there are h; BLOOM's code gives the same numbers.

``alibi_bias(h, N, M)`` places the N queries at the last N of the M key positions (query i at
position M - N + i), as a decoder step with a cache sees them; for N = M that is position i. The
bias is linear everywhere: combine it with ``causal_mask(N, M, "bottom-right")``, as ALiBi is
meant for causal models. BLOOM adds m_k j instead of -m_k (i - j): a different constant in each
row, which the softmax removes (derivation alibi-row-constant).
"""

from __future__ import annotations

import numpy as np

from symformer.errors import InputError



def _count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _power_of_two_slopes(heads: int) -> np.ndarray:
    return 2.0 ** (-8.0 * np.arange(1, heads + 1) / heads)


def alibi_slopes(h: int) -> np.ndarray:
    """The h slopes m_1 > ... > m_h of Press et al. 2022, including their rule when h is not a power of two.

    >>> alibi_slopes(8).tolist()
    [0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625]
    >>> alibi_slopes(6).round(4).tolist()  # the 4 slopes of 4 heads, then slopes 1 and 3 of 8 heads
    [0.25, 0.0625, 0.0156, 0.0039, 0.5, 0.125]
    """
    h = _count(h, "h (the number of heads)", 1)
    closest = 1 << (h.bit_length() - 1)  # the largest power of two <= h
    if closest == h:
        return _power_of_two_slopes(h)
    return np.concatenate([_power_of_two_slopes(closest), _power_of_two_slopes(2 * closest)[0::2][: h - closest]])


def alibi_bias(h: int, N: int, M: int) -> np.ndarray:
    """The (h, N, M) biases -m_k (i - j), query i at position M - N + i and key j at position j.

    >>> alibi_bias(8, 3, 3)[0].tolist()  # m_1 = 1/2; combine with a causal mask for j > i
    [[0.0, 0.5, 1.0], [-0.5, 0.0, 0.5], [-1.0, -0.5, 0.0]]
    >>> alibi_bias(8, 1, 3)[0].tolist()  # one query, the newest of 3 positions
    [[-1.0, -0.5, 0.0]]
    """
    h = _count(h, "h (the number of heads)", 1)
    N, M = _count(N, "N", 0), _count(M, "M", 0)
    key_minus_query = np.arange(M)[None, :] - (np.arange(N)[:, None] + (M - N))
    return alibi_slopes(h)[:, None, None] * key_minus_query
