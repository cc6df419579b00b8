"""Dot products, projections and cosine similarity in NumPy.

Conventions: the last axis is the vector axis; leading axes broadcast. A vector with no entries or
with zero norm has no direction, so its cosine similarity is an error, never NaN.
"""

from __future__ import annotations

import numpy as np

from symformer.errors import InputError



def _vectors(u, v) -> tuple[np.ndarray, np.ndarray]:
    u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    if u.ndim == 0 or v.ndim == 0:
        raise InputError(f"u and v must be vectors (at least one axis); got shapes {u.shape} and {v.shape}")
    if u.shape[-1] != v.shape[-1]:
        raise InputError(f"u has {u.shape[-1]} components but v has {v.shape[-1]} (shapes {u.shape} and {v.shape})")
    if u.shape[-1] == 0:
        raise InputError("u and v have no components (length-0 vectors); a dot product needs at least one")
    return u, v


def dot(u, v) -> np.ndarray:
    """u . v = sum_i u_i v_i, over the last axis.

    >>> float(dot([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]))
    32.0
    """
    u, v = _vectors(u, v)
    return np.sum(u * v, axis=-1)


def projection(u, v) -> np.ndarray:
    """The projection of u onto the line of v: (u . v / v . v) v. The residual u - proj is orthogonal to v.

    >>> projection([2.0, 3.0], [1.0, 0.0]).tolist()
    [2.0, 0.0]
    """
    u, v = _vectors(u, v)
    vv = np.sum(v * v, axis=-1, keepdims=True)
    if np.any(vv == 0):
        raise InputError("v is a zero vector: there is no line to project onto")
    return np.sum(u * v, axis=-1, keepdims=True) / vv * v


def cosine_similarity(u, v) -> np.ndarray:
    """cos(u, v) = u . v / (|u| |v|), in [-1, 1]; unchanged when u or v is scaled by a positive number.

    Zero vectors have no direction: they raise InputError rather than give NaN.

    >>> round(float(cosine_similarity([1.0, 0.0], [3.0, 3.0])), 6)
    0.707107
    >>> round(float(cosine_similarity([2.0, 4.0], [-1.0, -2.0])), 12)  # parallel, opposite directions
    -1.0
    """
    u, v = _vectors(u, v)
    scaled = []
    for name, vector in (("u", u), ("v", v)):
        largest = np.max(np.abs(vector), axis=-1, keepdims=True)
        if np.any(largest == 0):
            raise InputError(f"{name} is a zero vector (norm 0): its cosine similarity is undefined")
        scaled.append(vector / largest)  # the cosine ignores scale; this keeps |u|^2 of 1e-200 from underflowing
    u, v = scaled
    cos = np.sum(u * v, axis=-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    # Clip the rounding error of parallel vectors, so the Cauchy-Schwarz bound holds in float64 too.
    return np.clip(cos, -1.0, 1.0)


def cosine_similarity_grad(u, v) -> np.ndarray:
    """d cos(u, v) / du = v / (|u| |v|) - cos(u, v) u / |u|^2, orthogonal to u.

    >>> cosine_similarity_grad([1.0, 0.0], [0.0, 1.0]).tolist()
    [0.0, 1.0]
    """
    u, v = _vectors(u, v)
    cos = cosine_similarity(u, v)[..., None]
    nu = np.linalg.norm(u, axis=-1, keepdims=True)
    nv = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / (nu * nv) - cos * u / nu**2
