"""The modern block's figures: the activations with the tanh form's gap, and ALiBi's biases per head."""

import io

import numpy as np
import pytest

from symformer import catalog
from symformer.figures.modern import activations_data, activations_figure, alibi_data, alibi_figure
from symformer.reference.activations import gelu

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


def test_activations_figure_draws_the_data_and_the_gap():
    figure = activations_figure(points=401)
    left, right = figure.axes
    data = activations_data(points=401)
    plotted = {line.get_label(): line.get_ydata() for line in left.get_lines()}
    np.testing.assert_array_equal(plotted["GELU  x Phi(x)"], data["gelu"])
    np.testing.assert_array_equal(plotted["ReLU"], np.maximum(data["x"], 0))
    gap = right.get_lines()[0].get_ydata()
    np.testing.assert_allclose(gap, (gelu(data["x"], "tanh") - gelu(data["x"])) * 1e4, rtol=1e-12)
    assert gap.max() == pytest.approx(4.73, abs=0.01)  # in units of 1e-4, near |x| = 2.70
    assert all(text.get_fontsize() >= 12 for text in _texts(figure))
    assert _renders(figure)


def test_alibi_figure_shows_the_causal_biases_of_each_head():
    figure = alibi_figure(heads=8, length=6, shown=(0, 7))
    panels = figure.axes[:2]
    assert [p.get_title() for p in panels] == ["head 1: m = 1/2", "head 8: m = 1/256"]
    image = np.asarray(panels[0].images[0].get_array().filled(np.nan))
    assert np.isnan(image[0, 1]) and image[5, 0] == -2.5  # future keys masked; -m (i - j) = -(1/2) 5
    data = alibi_data(heads=8, length=6, shown=(0, 7))
    np.testing.assert_array_equal(data["slopes"], [0.5, 1 / 256])
    assert all(text.get_fontsize() >= 12 for text in _texts(figure) if text.get_text())
    assert _renders(figure)


def test_figures_are_attached_to_their_derivations():
    assert [f.name for f in catalog()["gelu-tanh-derivative"].figures] == ["activations"]
    assert catalog()["alibi-slopes"].figures[0].make is alibi_figure
