"""Figures for the modern block: the activations with the tanh form's gap, and ALiBi's biases per head.

Each function returns a matplotlib Figure built without pyplot (no backend, no global state), with
text large enough for a projector. The data behind each figure is a separate function, so tests can
assert the numbers the figure draws.
"""

from __future__ import annotations

import numpy as np

from symformer.reference.alibi import alibi_bias, alibi_slopes
from symformer.reference.activations import gelu, silu

FONT = 14


def activations_data(low: float = -4.0, high: float = 4.0, points: int = 801) -> dict:
    """GELU (both forms), SiLU and ReLU on a grid, and the gap between the two GELU forms.

    >>> data = activations_data(points=5)
    >>> data["x"].tolist(), data["relu"].tolist()
    ([-4.0, -2.0, 0.0, 2.0, 4.0], [0.0, 0.0, 0.0, 2.0, 4.0])
    """
    x = np.linspace(low, high, points)
    exact, approximate = gelu(x), gelu(x, approximate="tanh")
    return {"x": x, "gelu": exact, "gelu_tanh": approximate, "silu": silu(x), "relu": np.maximum(x, 0.0),
            "gap": approximate - exact}


def activations_figure(**kwargs):
    """Two panels: the activations against x, and gelu_tanh - gelu (at most 4.73e-4, near |x| = 2.70).

    >>> [axes.get_title() for axes in activations_figure(points=41).axes]
    ['GELU, SiLU and ReLU', 'tanh form minus exact GELU']
    """
    from matplotlib.figure import Figure

    data = activations_data(**kwargs)
    figure = Figure(figsize=(11, 4.5), layout="constrained")
    left, right = figure.subplots(1, 2)
    for key, label, colour, style in (("relu", "ReLU", "grey", ":"), ("gelu", "GELU  x Phi(x)", "tab:blue", "-"),
                                      ("silu", "SiLU  x sigmoid(x)", "tab:green", "--")):
        left.plot(data["x"], data[key], color=colour, linestyle=style, label=label, linewidth=2)
    left.set_title("GELU, SiLU and ReLU", fontsize=FONT + 1)
    left.set_ylabel("activation", fontsize=FONT)
    left.legend(fontsize=FONT - 2)
    right.plot(data["x"], data["gap"] * 1e4, color="tab:red", linewidth=2, label="gelu_tanh - gelu")
    right.axhline(0.0, color="grey", linewidth=0.8)
    right.set_title("tanh form minus exact GELU", fontsize=FONT + 1)
    right.set_ylabel("difference (x 1e-4)", fontsize=FONT)
    for axes in (left, right):
        axes.set_xlabel("$x$", fontsize=FONT)
        axes.tick_params(labelsize=FONT - 2)
        axes.grid(alpha=0.3)
    return figure


def alibi_data(heads: int = 8, length: int = 8, shown: tuple = (0, 3, 7)) -> dict:
    """The causal ALiBi biases of a few heads (NaN where the causal mask removes the key) and their slopes.

    >>> data = alibi_data(heads=8, length=3, shown=(0,))
    >>> data["slopes"].tolist(), data["biases"][0][2].tolist()
    ([0.5], [-1.0, -0.5, 0.0])
    """
    bias = alibi_bias(heads, length, length)
    future = np.triu(np.ones((length, length), dtype=bool), k=1)
    return {"heads": list(shown), "slopes": alibi_slopes(heads)[list(shown)],
            "biases": [np.where(future, np.nan, bias[head]) for head in shown]}


def alibi_figure(heads: int = 8, length: int = 8, shown: tuple = (0, 3, 7)):
    """One panel per head shown: -m_k (i - j) for query i (rows) and key j <= i (columns).

    >>> [axes.get_title() for axes in alibi_figure(length=4, shown=(0, 7)).axes[:2]]
    ['head 1: m = 1/2', 'head 8: m = 1/256']
    """
    from fractions import Fraction

    from matplotlib.figure import Figure

    data = alibi_data(heads, length, shown)
    figure = Figure(figsize=(4.2 * len(shown) + 1, 4.6), layout="constrained")
    panels = figure.subplots(1, len(shown))
    panels = np.atleast_1d(panels)
    lowest = min(float(np.nanmin(b)) for b in data["biases"])
    for axes, head, slope, bias in zip(panels, data["heads"], data["slopes"], data["biases"]):
        image = axes.imshow(bias, cmap="viridis", vmin=lowest, vmax=0.0)
        axes.set_title(f"head {head + 1}: m = {Fraction(float(slope)).limit_denominator(1 << 16)}", fontsize=FONT + 1)
        axes.set_xlabel("key position $j$", fontsize=FONT)
        axes.set_ylabel("query position $i$", fontsize=FONT)
        axes.tick_params(labelsize=FONT - 3)
    colourbar = figure.colorbar(image, ax=list(panels), shrink=0.8)
    colourbar.set_label("bias $-m (i - j)$", fontsize=FONT)
    colourbar.ax.tick_params(labelsize=FONT - 3)
    return figure
