"""Embedding lookup and its gradient in NumPy, with tied input and output embeddings.

Conventions: E is the V x D embedding matrix, one row per token; token ids are 0-based integers
(as in every tokenizer), of any shape. Lookup is E[ids], which equals the one-hot product X E
(row by row, E^T x for one token). Its gradient is a scatter-add: the row of a token collects
the upstream gradient of every position holding it, so repeated tokens accumulate.
"""

from __future__ import annotations

import numpy as np

from symformer.errors import InputError



def _ids(token_ids, vocab_size: int) -> np.ndarray:
    ids = np.asarray(token_ids)
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise InputError(f"token_ids must be integers, got dtype {ids.dtype}")
    ids = ids.astype(np.intp)
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        bad = int(ids[(ids < 0) | (ids >= vocab_size)].flat[0])
        raise InputError(f"token id {bad} is outside the vocabulary 0..{vocab_size - 1}")
    return ids


def _table(E) -> np.ndarray:
    E = np.asarray(E, dtype=np.float64)
    if E.ndim != 2:
        raise InputError(f"the embedding matrix E must be V x D (2 axes), got shape {E.shape}")
    return E


def one_hot(token_ids, vocab_size: int) -> np.ndarray:
    """X with X[..., v] = 1 where the token is v: the input of the lookup written as a product.

    >>> one_hot([2, 0], 3).tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    ids = _ids(token_ids, vocab_size)
    return np.eye(vocab_size)[ids]


def embed(E, token_ids) -> np.ndarray:
    """The embedding of each token: E[ids], shape ids.shape + (D,); the same as one_hot(ids) @ E.

    >>> embed([[1.0, 2.0], [3.0, 4.0]], [1, 1, 0]).tolist()
    [[3.0, 4.0], [3.0, 4.0], [1.0, 2.0]]
    """
    E = _table(E)
    return E[_ids(token_ids, E.shape[0])]


def embedding_backward(token_ids, d_embedded, vocab_size: int) -> np.ndarray:
    """dL/dE from dL/d(embedded): a V x D scatter-add, dE[v] = sum of d_embedded over positions holding v.

    >>> embedding_backward([1, 1, 0], [[1.0, 0.0], [2.0, 0.0], [0.0, 5.0]], 3).tolist()
    [[0.0, 5.0], [3.0, 0.0], [0.0, 0.0]]
    """
    ids = _ids(token_ids, vocab_size)
    g = np.asarray(d_embedded, dtype=np.float64)
    if g.shape[:-1] != ids.shape or g.ndim != ids.ndim + 1:
        raise InputError(f"d_embedded must have shape token_ids.shape + (D,) = {ids.shape} + (D,), got {g.shape}")
    dE = np.zeros((vocab_size, g.shape[-1]))
    np.add.at(dE, ids.reshape(-1), g.reshape(-1, g.shape[-1]))  # add.at, not dE[ids] += g: repeats must add up
    return dE


def tied_logits(E, hidden) -> np.ndarray:
    """Output logits with the output projection tied to the input embedding: z = h E^T, shape (..., V).

    >>> tied_logits([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[2.0, 3.0]]).tolist()
    [[2.0, 3.0, 5.0]]
    """
    E = _table(E)
    h = np.asarray(hidden, dtype=np.float64)
    if h.shape[-1] != E.shape[1]:
        raise InputError(f"hidden has {h.shape[-1]} features but E has D = {E.shape[1]} (shapes {h.shape}, {E.shape})")
    return h @ E.T


def tied_embedding_backward(token_ids, d_embedded, hidden, d_logits, vocab_size: int) -> np.ndarray:
    """dL/dE when E is both the input embedding and the output projection: the two paths' gradients add.

    dE = scatter_add(ids, d_embedded) + d_logits^T h (summed over every leading axis).

    >>> tied_embedding_backward([0], [[1.0, 1.0]], [[2.0, 3.0]], [[1.0, 0.0]], 2).tolist()
    [[3.0, 4.0], [0.0, 0.0]]
    """
    h = np.asarray(hidden, dtype=np.float64)
    dz = np.asarray(d_logits, dtype=np.float64)
    if dz.shape[:-1] != h.shape[:-1] or dz.shape[-1] != vocab_size:
        raise InputError(f"d_logits must have shape hidden.shape[:-1] + (V,) = {h.shape[:-1]} + ({vocab_size},), got {dz.shape}")
    output_path = dz.reshape(-1, vocab_size).T @ h.reshape(-1, h.shape[-1])
    return embedding_backward(token_ids, d_embedded, vocab_size) + output_path
