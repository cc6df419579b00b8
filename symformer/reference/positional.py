"""Sinusoidal positional encodings (Vaswani et al. 2017, section 3.5) and RoPE (Su et al. 2021) in NumPy.

Conventions, all in float64:

* Pair ``i`` (0-based, ``i = 0 .. d/2 - 1``) has the frequency ``omega_i = base^(-2i/d)``; its
  wavelength ``2 pi / omega_i`` runs from ``2 pi`` to ``2 pi base^((d-2)/d)`` (not ``2 pi base``).
* Sinusoidal layouts: ``"interleaved"`` puts ``sin(omega_i p)`` at column ``2i`` and
  ``cos(omega_i p)`` at ``2i + 1`` (the paper, the Annotated Transformer, HF DistilBERT);
  ``"split"`` puts all sines first, then all cosines (tensor2tensor and HF Marian, whose
  frequencies differ slightly; here both layouts use the paper's).
* RoPE layouts: ``"interleaved"`` rotates the pairs ``(2i, 2i + 1)`` (the paper, GPT-J);
  ``"rotate-half"`` rotates ``(i, i + d/2)`` (GPT-NeoX, HF Llama). They agree after the
  permutation :func:`rope_permutation`. RoPE is applied to queries and keys, never to values.
* Positions may be negative or fractional: the formulas are defined for every real position.
  Precision: the angle ``omega_i p`` is rounded to a relative 1e-16, an absolute error of about
  ``|p| * 1e-16`` radians, so float64 is exact to ~1e-12 up to positions of 10^4 and loses about one
  digit per factor of 10 beyond. In float32 (as many models compute it) the same error is
  ``|p| * 6e-8``: already 6e-4 radians at position 10^4.
* An odd width has no clean pairing, and implementations disagree about the odd column (some drop
  it, some crash), so an odd ``d_model`` is an error here.

Nothing here imports SymPy: this is the numeric witness the derivations are checked against.
"""

from __future__ import annotations

import numpy as np

from symformer.errors import InputError

SINUSOIDAL_LAYOUTS = ("interleaved", "split")
ROPE_LAYOUTS = ("interleaved", "rotate-half")



def _even_width(d_model, name: str = "d_model") -> int:
    if isinstance(d_model, bool) or not isinstance(d_model, (int, np.integer)):
        raise InputError(f"{name} must be an integer, got {d_model!r}")
    if d_model <= 0 or d_model % 2:
        raise InputError(
            f"{name} must be a positive even number (sin/cos or rotation pairs), got {name} = {int(d_model)}")
    return int(d_model)


def _base(base) -> float:
    value = float(base)
    if not np.isfinite(value) or value <= 0:
        raise InputError(f"base must be a positive finite number, got base = {base!r}")
    return value


def _layout(layout, allowed) -> str:
    if layout not in allowed:
        raise InputError(f"layout must be one of {', '.join(map(repr, allowed))}, got layout = {layout!r}")
    return layout


def sinusoidal_frequencies(d_model: int, base: float = 10000) -> np.ndarray:
    """omega_i = base^(-2i/d_model) for the pairs i = 0 .. d_model/2 - 1, from 1 down to base^(-(d-2)/d).

    >>> sinusoidal_frequencies(4).tolist()
    [1.0, 0.01]
    """
    d = _even_width(d_model)
    return _base(base) ** (-np.arange(0, d, 2, dtype=np.float64) / d)


def sinusoidal_encoding(n_positions: int, d_model: int, base: float = 10000, layout: str = "interleaved", *,
                        start: float = 0) -> np.ndarray:
    """PE, one row per position ``start, start + 1, ..., start + n_positions - 1``: shape (n_positions, d_model).

    ``layout="interleaved"`` (the paper): PE[p, 2i] = sin(omega_i p), PE[p, 2i + 1] = cos(omega_i p).
    ``layout="split"``: PE[p, i] = sin(omega_i p), PE[p, d/2 + i] = cos(omega_i p).
    ``n_positions = 0`` gives an empty (0, d_model) array; ``start`` may be negative or fractional.
    An odd ``d_model`` raises :class:`InputError`.

    >>> sinusoidal_encoding(2, 4).round(4).tolist()
    [[0.0, 1.0, 0.0, 1.0], [0.8415, 0.5403, 0.01, 1.0]]
    >>> sinusoidal_encoding(0, 4).shape
    (0, 4)
    """
    if isinstance(n_positions, bool) or not isinstance(n_positions, (int, np.integer)) or n_positions < 0:
        raise InputError(f"n_positions must be a non-negative integer, got n_positions = {n_positions!r}")
    omega = sinusoidal_frequencies(d_model, base)
    layout = _layout(layout, SINUSOIDAL_LAYOUTS)
    if not np.isfinite(start):
        raise InputError(f"start must be a finite position, got start = {start!r}")
    positions = float(start) + np.arange(int(n_positions), dtype=np.float64)
    return _encode(positions, omega, layout)


def _encode(positions: np.ndarray, omega: np.ndarray, layout: str) -> np.ndarray:
    angles = positions[:, None] * omega[None, :]
    out = np.empty((positions.shape[0], 2 * omega.shape[0]))
    if layout == "interleaved":
        out[:, 0::2], out[:, 1::2] = np.sin(angles), np.cos(angles)
    else:
        half = omega.shape[0]
        out[:, :half], out[:, half:] = np.sin(angles), np.cos(angles)
    return out


def _pair_indices(d: int, layout: str) -> tuple[slice, slice]:
    """The (first, second) coordinates of every pair: (2i, 2i + 1) interleaved, (i, i + d/2) otherwise.

    Slices, not index arrays, so that x[..., first] is a view rather than a copy.
    """
    if layout == "interleaved":
        return slice(0, d, 2), slice(1, d, 2)
    return slice(0, d // 2), slice(d // 2, d)


def rotation_matrix(k: float, d_model: int, base: float = 10000, layout: str = "interleaved") -> np.ndarray:
    """T(k), the d_model x d_model matrix with PE(p + k) = T(k) PE(p) for every position p.

    Each pair (sin, cos) is multiplied by [[cos omega_i k, sin omega_i k], [-sin omega_i k, cos omega_i k]]:
    block-diagonal in the interleaved layout, the same blocks spread over (i, d/2 + i) in the split one.
    T(k) is orthogonal, does not depend on p, and T(-k) = T(k)^T. ``k`` may be negative or fractional.

    >>> T = rotation_matrix(3, 8)
    >>> bool(np.allclose(T @ sinusoidal_encoding(1, 8, start=5)[0], sinusoidal_encoding(1, 8, start=8)[0]))
    True
    """
    d = _even_width(d_model)
    omega = sinusoidal_frequencies(d, base)
    layout = _layout(layout, SINUSOIDAL_LAYOUTS)
    k = float(k)
    if not np.isfinite(k):
        raise InputError(f"the offset k must be finite, got k = {k!r}")
    c, s = np.cos(omega * k), np.sin(omega * k)
    first, second = _pair_indices(d, layout)  # first holds the sine, second the cosine
    rows, cols = np.arange(d)[first], np.arange(d)[second]
    out = np.zeros((d, d))
    out[rows, rows], out[rows, cols] = c, s
    out[cols, rows], out[cols, cols] = -s, c
    return out


def rope_frequencies(d_model: int, base: float = 10000) -> np.ndarray:
    """theta_i = base^(-2(i-1)/d) for i = 1 .. d/2 (RoFormer eq. 15), the sinusoidal frequencies again.

    >>> rope_frequencies(4).tolist()
    [1.0, 0.01]
    """
    return sinusoidal_frequencies(d_model, base)


def rope(x, positions, base: float = 10000, layout: str = "interleaved") -> np.ndarray:
    """Rotary position embedding: rotate each pair of x's last axis by the angle position * theta_i.

    ``x`` has shape (..., n, d) and ``positions`` shape (n,) (or any shape that broadcasts to
    x.shape[:-1]); d must be even. Pairs are (2i, 2i + 1) for ``layout="interleaved"`` (RoFormer,
    GPT-J) and (i, i + d/2) for ``"rotate-half"`` (GPT-NeoX, HF Llama); each becomes
    (x1 cos - x2 sin, x1 sin + x2 cos). Apply it to queries and keys only: then
    <rope(q, m), rope(k, n)> depends on n - m alone. Values are not rotated. Positions may be
    negative; see the module docstring for float precision at large positions.

    >>> q = np.array([[1.0, 0.0]])
    >>> rope(q, [np.pi / 2 / 1.0]).round(12).tolist()
    [[0.0, 1.0]]
    """
    x = np.asarray(x, dtype=np.float64)
    layout = _layout(layout, ROPE_LAYOUTS)
    if x.ndim < 1:
        raise InputError("x must have at least one axis (the features); got a scalar")
    d = x.shape[-1]
    if d == 0 or d % 2:
        raise InputError(
            f"RoPE rotates pairs of features, so the last axis of x must have even length d; got d = {d} (x.shape = {x.shape})")
    positions = np.asarray(positions, dtype=np.float64)
    try:
        angles_shape = np.broadcast_shapes(positions.shape, x.shape[:-1])
    except ValueError:
        raise InputError(
            f"positions of shape {positions.shape} do not broadcast to x's positions axes {x.shape[:-1]} "
            f"(x.shape = {x.shape}); give one position per row of x") from None
    if angles_shape != x.shape[:-1]:
        raise InputError(
            f"positions of shape {positions.shape} would enlarge x of shape {x.shape}; give one position per row of x")
    if not np.all(np.isfinite(positions)):
        raise InputError("positions must be finite numbers")
    theta = rope_frequencies(d, base)
    angles = positions[..., None] * theta
    c, s = np.cos(angles), np.sin(angles)
    first, second = _pair_indices(d, "interleaved" if layout == "interleaved" else "split")
    x1, x2 = x[..., first], x[..., second]
    out = np.empty_like(x)
    out[..., first] = x1 * c - x2 * s
    out[..., second] = x1 * s + x2 * c
    return out


def rope_matrix(position: float, d_model: int, base: float = 10000, layout: str = "interleaved") -> np.ndarray:
    """R(m), the d x d matrix with rope(x, [m])[0] = R(m) x; orthogonal, R(m)^T R(n) = R(n - m).

    >>> R = rope_matrix(2.0, 6)
    >>> bool(np.allclose(R.T @ R, np.eye(6)))
    True
    """
    d = _even_width(d_model)
    # the columns of R(m) are the images of the unit vectors
    return rope(np.eye(d), np.full(d, float(position)), base, layout).T


def rope_permutation(d_model: int) -> np.ndarray:
    """The index order that turns the interleaved RoPE layout into rotate-half: [0, 2, 4, ..., 1, 3, 5, ...].

    With ``perm = rope_permutation(d)``: ``rope(x[..., perm], m, layout="rotate-half")`` equals
    ``rope(x, m, layout="interleaved")[..., perm]``; in matrices, R_half(m) = P R_inter(m) P^T with
    P the permutation matrix ``np.eye(d)[perm]``. This is how interleaved checkpoints are converted.

    >>> rope_permutation(6).tolist()
    [0, 2, 4, 1, 3, 5]
    """
    d = _even_width(d_model)
    return np.concatenate([np.arange(0, d, 2), np.arange(1, d, 2)])
