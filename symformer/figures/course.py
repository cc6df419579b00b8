"""Figures for the course's scaling and language-model derivations: softmax saturation and attention patterns.

Each function returns a matplotlib Figure built without pyplot (no backend, no global state), with
text large enough for a projector. The data behind each figure is a separate function, so tests can
assert the numbers the figure draws.
"""

from __future__ import annotations

import numpy as np

from symformer.reference.softmax import softmax, softmax_jacobian

FONT = 18  # the figures are shrunk to a slide's width: this reads as about 8 pt there


def softmax_saturation_data(dims=tuple(2**p for p in range(11)), keys: int = 16, trials: int = 200, seed: int = 0) -> dict:
    """Mean largest attention probability and mean Frobenius norm of the softmax Jacobian, per d_k.

    Queries and keys have independent N(0, 1) components; ``scaled`` divides the logits by sqrt(d_k).

    >>> data = softmax_saturation_data(dims=(1, 256), trials=50)
    >>> bool(data["unscaled"]["max_probability"][1] > 0.9 > data["scaled"]["max_probability"][1])
    True
    """
    rng = np.random.default_rng(seed)
    out = {"dims": np.asarray(dims), "unscaled": {"max_probability": [], "jacobian_norm": []},
           "scaled": {"max_probability": [], "jacobian_norm": []}}
    for dim in dims:
        q = rng.standard_normal((trials, 1, dim))
        k = rng.standard_normal((trials, keys, dim))
        logits = np.sum(q * k, axis=-1)
        for name, scale in (("unscaled", 1.0), ("scaled", 1.0 / np.sqrt(dim))):
            z = logits * scale
            out[name]["max_probability"].append(float(softmax(z).max(axis=-1).mean()))
            out[name]["jacobian_norm"].append(float(np.linalg.norm(softmax_jacobian(z), axis=(-2, -1)).mean()))
    for name in ("unscaled", "scaled"):
        out[name] = {key: np.asarray(values) for key, values in out[name].items()}
    return out


def softmax_saturation_figure(**kwargs):
    """Two panels against d_k (log scale): the largest probability, and the Jacobian norm (what gradients pass).

    >>> [axes.get_title() for axes in softmax_saturation_figure(dims=(1, 64), trials=10).axes]
    ['Softmax saturates without the scale', 'and its gradient vanishes']
    """
    from matplotlib.figure import Figure

    data = softmax_saturation_data(**kwargs)
    figure = Figure(figsize=(10, 4.6), layout="constrained")
    left, right = figure.subplots(1, 2)
    styles = {"unscaled": (r"$q \cdot k$", "tab:red", "o"), "scaled": (r"$q \cdot k / \sqrt{d_k}$", "tab:blue", "s")}
    for name, (label, colour, marker) in styles.items():
        left.plot(data["dims"], data[name]["max_probability"], marker=marker, color=colour, label=label)
        right.plot(data["dims"], data[name]["jacobian_norm"], marker=marker, color=colour, label=label)
    keys = kwargs.get("keys", 16)
    left.axhline(1.0 / keys, color="grey", linestyle=":", label=f"uniform ($1/{keys}$)")
    left.set_ylabel("largest attention probability", fontsize=FONT)
    right.set_ylabel(r"$\|J\|_F$ of the softmax Jacobian", fontsize=FONT)
    left.set_title("Softmax saturates without the scale", fontsize=FONT + 1)
    right.set_title("and its gradient vanishes", fontsize=FONT + 1)
    for axes in (left, right):
        axes.set_xscale("log", base=2)
        axes.set_xlabel("$d_k$", fontsize=FONT)
        axes.tick_params(labelsize=FONT - 2)
        axes.legend(fontsize=FONT - 2)
        axes.grid(alpha=0.3)
    return figure


def attention_patterns(length: int = 6, padded: int = 2) -> dict:
    """Boolean masks, True = may attend, query rows by key columns.

    encoder: every token sees every token; decoder: token i sees keys j <= i (the causal mask, a
    lower triangle); padding: an encoder batch row whose last ``padded`` positions are padding, so
    no query attends to them.

    >>> attention_patterns(3, 1)["decoder"].astype(int).tolist()
    [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    >>> attention_patterns(3, 1)["padding"].astype(int).tolist()
    [[1, 1, 0], [1, 1, 0], [1, 1, 0]]
    """
    if not 0 <= padded < length:
        raise ValueError(f"padded must be in 0..{length - 1} for a sequence of length {length}, got {padded}")
    keys = np.arange(length)
    return {
        "encoder": np.ones((length, length), dtype=bool),
        "decoder": keys[None, :] <= keys[:, None],
        "padding": np.broadcast_to(keys[None, :] < length - padded, (length, length)).copy(),
    }


def attention_patterns_figure(length: int = 6, padded: int = 2):
    """Three panels: which keys (columns) each query (row) may attend to in an encoder, a decoder, with padding.

    >>> len(attention_patterns_figure(4, 1).axes)
    3
    """
    from matplotlib.figure import Figure
    from matplotlib.colors import ListedColormap

    patterns = attention_patterns(length, padded)
    titles = {"encoder": "Encoder (bidirectional)", "decoder": "Decoder (causal)", "padding": f"Padding ({padded} pad keys)"}
    figure = Figure(figsize=(11, 4.4), layout="constrained")
    colours = ListedColormap(["#f0f0f0", "#1f4e9c"])
    labels = [f"$x_{{{p + 1}}}$" for p in range(length - padded)] + ["[PAD]"] * padded
    for axes, (name, mask) in zip(figure.subplots(1, 3), patterns.items()):
        axes.imshow(mask, cmap=colours, vmin=0, vmax=1)
        axes.set_title(titles[name], fontsize=FONT + 1)
        axes.set_xlabel("key position $j$", fontsize=FONT)
        axes.set_ylabel("query position $i$" if name == "encoder" else "", fontsize=FONT)  # the rows are shared
        ticks = np.arange(length)
        axes.set_xticks(ticks, labels if name == "padding" else [f"$x_{{{p + 1}}}$" for p in ticks], fontsize=FONT - 3,
                        rotation=40 if name == "padding" else 0)
        axes.set_yticks(ticks, [f"$x_{{{p + 1}}}$" for p in ticks], fontsize=FONT - 3)
        axes.set_xticks(ticks - 0.5, minor=True)
        axes.set_yticks(ticks - 0.5, minor=True)
        axes.grid(which="minor", color="white", linewidth=1.5)
        axes.tick_params(which="minor", length=0)
    return figure
