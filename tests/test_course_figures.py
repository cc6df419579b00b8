"""The course figures: softmax saturation against d_k, and encoder, decoder and padding patterns."""

import io

import numpy as np
import pytest

from symformer import catalog
from symformer.figures.course import (
    attention_patterns,
    attention_patterns_figure,
    softmax_saturation_data,
    softmax_saturation_figure,
)

pytest.importorskip("matplotlib", reason="figures need matplotlib")


def _texts(figure):
    for axes in figure.axes:
        yield axes.title
        yield axes.xaxis.label
        yield axes.yaxis.label


def _renders(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=40)
    return buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


def test_saturation_figure_draws_the_data_with_readable_text():
    figure = softmax_saturation_figure(dims=(1, 16, 256), trials=40)
    left, right = figure.axes
    data = softmax_saturation_data(dims=(1, 16, 256), trials=40)
    plotted = {line.get_label(): line.get_ydata() for line in left.get_lines()}
    np.testing.assert_array_equal(plotted[r"$q \cdot k$"], data["unscaled"]["max_probability"])
    np.testing.assert_array_equal(plotted[r"$q \cdot k / \sqrt{d_k}$"], data["scaled"]["max_probability"])
    assert [ax.get_xscale() for ax in (left, right)] == ["log", "log"]
    assert left.get_ylabel() == "largest attention probability"
    assert right.get_ylabel() == r"$\|J\|_F$ of the softmax Jacobian"
    assert all(text.get_fontsize() >= 12 for text in _texts(figure))
    assert _renders(figure)


def test_saturation_data_is_seeded():
    first, second = softmax_saturation_data(dims=(8,), trials=10), softmax_saturation_data(dims=(8,), trials=10)
    assert first["unscaled"]["max_probability"] == second["unscaled"]["max_probability"]
    assert first["unscaled"]["max_probability"] != softmax_saturation_data(dims=(8,), trials=10, seed=1)["unscaled"]["max_probability"]


def test_attention_patterns():
    patterns = attention_patterns(5, 2)
    assert patterns["encoder"].all()
    np.testing.assert_array_equal(patterns["decoder"], np.tril(np.ones((5, 5), dtype=bool)))
    np.testing.assert_array_equal(patterns["padding"].sum(axis=1), [3] * 5)
    assert not patterns["padding"][:, 3:].any()
    with pytest.raises(ValueError, match="padded must be in 0..4 for a sequence of length 5, got 5"):
        attention_patterns(5, 5)


def test_attention_patterns_figure_has_three_labelled_panels():
    figure = attention_patterns_figure(6, 2)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["Encoder (bidirectional)", "Decoder (causal)", "Padding (2 pad keys)"]
    np.testing.assert_array_equal(figure.axes[1].images[0].get_array(), np.tril(np.ones((6, 6), dtype=bool)))
    assert [t.get_text() for t in figure.axes[2].get_xticklabels()][-2:] == ["[PAD]", "[PAD]"]
    assert all(text.get_fontsize() >= 12 for text in _texts(figure))
    assert _renders(figure)


def test_figures_are_attached_to_their_derivations():
    assert [f.name for f in catalog()["dot-product-variance"].figures] == ["softmax-saturation"]
    assert [f.name for f in catalog()["causal-factorisation"].figures] == ["attention-patterns"]
    assert catalog()["causal-factorisation"].figures[0].make is attention_patterns_figure
