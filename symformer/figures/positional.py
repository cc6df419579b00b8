"""The pictures instructors draw for positional encodings, drawn from the NumPy references.

Each function returns a ``matplotlib.figure.Figure`` built without pyplot (no global state, any
backend), 8 x 5 inches, with fonts sized for a projector; save it with ``fig.savefig("x.pdf")``
(or .png, .svg). The derivations in ``derivations/positional.py`` and ``derivations/rope.py`` list
them, so exports include them.
"""

from __future__ import annotations

import numpy as np

from symformer.reference.positional import rope, sinusoidal_encoding, sinusoidal_frequencies

FIGSIZE = (8.0, 5.0)  # inches; at dpi 100 a PNG is 800 x 500 pixels
TITLE, LABEL, TICKS = 20, 18, 16  # shrunk to a slide's width, about 9 pt there


def _figure():
    from matplotlib.figure import Figure

    return Figure(figsize=FIGSIZE, dpi=100, layout="constrained")


def _label(ax, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=TITLE)
    ax.set_xlabel(xlabel, fontsize=LABEL)
    ax.set_ylabel(ylabel, fontsize=LABEL)
    ax.tick_params(labelsize=TICKS)


def encoding_heatmap(n_positions: int = 100, d_model: int = 128, base: float = 10000, layout: str = "interleaved"):
    """The encoding as an image: one row per position, one column per dimension, sin/cos in [-1, 1].

    >>> encoding_heatmap(20, 16).axes[0].get_xlabel()
    'dimension'
    """
    fig = _figure()
    ax = fig.add_subplot()
    image = ax.imshow(sinusoidal_encoding(n_positions, d_model, base, layout), aspect="auto", cmap="RdBu_r",
                      vmin=-1, vmax=1, interpolation="nearest", origin="upper")
    _label(ax, f"Sinusoidal positional encoding ($d = {d_model}$, {layout})", "dimension", "position")
    bar = fig.colorbar(image, ax=ax)
    bar.set_label("value", fontsize=LABEL)
    bar.ax.tick_params(labelsize=TICKS)
    return fig


def rotation_on_circle(pair: int = 1, d_model: int = 16, n_positions: int = 12, k: int = 3, base: float = 10000):
    """One frequency pair (sin(omega p), cos(omega p)) drawn as a point on the unit circle.

    Each step of position turns the point by the same angle omega; an offset of k turns it by
    omega k whatever p is, which is why PE(p + k) = T(k) PE(p).

    >>> rotation_on_circle().axes[0].get_title()
    'One frequency pair rotates as the position advances'
    """
    omega = float(sinusoidal_frequencies(d_model, base)[pair])
    fig = _figure()
    ax = fig.add_subplot()
    circle = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.sin(circle), np.cos(circle), color="0.75", linewidth=1.5)
    points = sinusoidal_encoding(n_positions, d_model, base)[:, 2 * pair: 2 * pair + 2]
    ax.plot(points[:, 0], points[:, 1], "o", color="tab:blue", markersize=9)
    for p, (x, y) in enumerate(points):
        ax.annotate(f"${p}$", (x, y), xytext=(1.16 * x, 1.16 * y), fontsize=TICKS, ha="center", va="center")
    if n_positions > k:
        for p, color in [(0, "tab:red"), (n_positions - 1 - k, "tab:green")]:
            start, end = points[p], points[p + k]
            ax.annotate("", xy=end, xytext=start,
                        arrowprops={"arrowstyle": "->", "color": color, "linewidth": 2.5,
                                    "connectionstyle": "arc3,rad=0.25"})
            ax.plot([], [], color=color, linewidth=2.5, label=rf"$p = {p} \to p = {p + k}$: turn by ${k}\omega$")
        ax.legend(fontsize=TICKS, loc="center left", bbox_to_anchor=(1.02, 0.5), title=rf"pair $i = {pair}$, $d = {d_model}$: $\omega = {omega:.3g}$",
                  title_fontsize=TICKS)
    ax.set_aspect("equal")
    ax.set_xlim(-1.4, 1.4)
    ax.set_ylim(-1.4, 1.4)
    _label(ax, "One frequency pair rotates as the position advances",
           rf"$PE(p, {2 * pair}) = \sin(\omega p)$", rf"$PE(p, {2 * pair + 1}) = \cos(\omega p)$")
    return fig


def dot_product_by_offset(d_model: int = 128, max_offset: int = 120, anchors=(0, 400), base: float = 10000):
    """PE(p) . PE(q) against p - q, for several anchors q: the curves coincide and are even.

    >>> dot_product_by_offset(16, 10).axes[0].get_xlabel()
    'offset $p - q$'
    """
    fig = _figure()
    ax = fig.add_subplot()
    offsets = np.arange(-max_offset, max_offset + 1)
    styles = ["-", "--", ":"]
    for number, q in enumerate(anchors):
        # rows are positions q - max_offset .. q + max_offset
        rows = sinusoidal_encoding(2 * max_offset + 1, d_model, base, start=q - max_offset)
        anchor = sinusoidal_encoding(1, d_model, base, start=q)[0]
        ax.plot(offsets, rows @ anchor, styles[number % len(styles)], linewidth=2.5 if number == 0 else 2,
                label=f"$q = {q}$")
    ax.axhline(d_model / 2, color="0.5", linewidth=1)
    ax.text(offsets[0], d_model / 2, f" $d/2 = {d_model // 2}$", fontsize=TICKS, va="bottom")
    ax.axvline(0, color="0.5", linewidth=1)
    ax.set_ylim(top=d_model / 2 * 1.1)
    ax.legend(fontsize=TICKS)
    _label(ax, r"$PE(p) \cdot PE(q)$ depends only on $p - q$, and is even in it", "offset $p - q$",
           r"$PE(p) \cdot PE(q)$")
    return fig


def rope_score_by_offset(d_model: int = 128, max_offset: int = 120, query_positions=(0, 400), base: float = 10000,
                         layout: str = "interleaved", seed: int = 0):
    """<R(m) q, R(n) k> against n - m for fixed random q, k and several m: the curves coincide.

    Unlike the sinusoidal dot product the curve is not even: RoPE scores can tell before from after.

    >>> rope_score_by_offset(16, 10).axes[0].get_xlabel()
    'offset $n - m$'
    """
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal(d_model), rng.standard_normal(d_model)
    fig = _figure()
    ax = fig.add_subplot()
    offsets = np.arange(-max_offset, max_offset + 1)
    styles = ["-", "--", ":"]
    for number, m in enumerate(query_positions):
        rotated_q = rope(q[None, :], [m], base, layout)[0]
        keys = rope(np.broadcast_to(k, (offsets.size, d_model)), m + offsets, base, layout)
        ax.plot(offsets, keys @ rotated_q, styles[number % len(styles)], linewidth=2.5 if number == 0 else 2,
                label=f"$m = {m}$")
    ax.axvline(0, color="0.5", linewidth=1)
    ax.legend(fontsize=TICKS)
    _label(ax, f"RoPE score depends only on $n - m$ ($d = {d_model}$)", "offset $n - m$",
           r"$\langle R(m)\, q, R(n)\, k \rangle$")
    return fig
