"""The positional-encoding figures: savable as PDF, PNG and SVG at the documented size, labelled for a
projector, drawing the numbers the references compute, and attached to their derivations."""

import numpy as np
import pytest

from symformer import catalog
from symformer.reference import rope, sinusoidal_encoding
from symformer.figures.positional import (
    FIGSIZE,
    dot_product_by_offset,
    encoding_heatmap,
    rope_score_by_offset,
    rotation_on_circle,
)

FIGURES = [encoding_heatmap, rotation_on_circle, dot_product_by_offset, rope_score_by_offset]
DPI = 100


def _png_size(path):
    # width and height are the big-endian integers at bytes 16-24 of the IHDR chunk
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.parametrize("make", FIGURES, ids=lambda f: f.__name__)
def test_saves_as_pdf_png_and_svg(tmp_path, make):
    figure = make()
    for suffix in ("pdf", "png", "svg"):
        path = tmp_path / f"{make.__name__}.{suffix}"
        figure.savefig(path, dpi=DPI)
        assert path.stat().st_size > 1000, suffix
    assert (tmp_path / f"{make.__name__}.pdf").read_bytes()[:5] == b"%PDF-"
    assert b"<svg" in (tmp_path / f"{make.__name__}.svg").read_bytes()[:2000]
    assert _png_size(tmp_path / f"{make.__name__}.png") == (int(FIGSIZE[0] * DPI), int(FIGSIZE[1] * DPI))


@pytest.mark.parametrize("make", FIGURES, ids=lambda f: f.__name__)
def test_titles_and_labels_are_readable_on_a_projector(make):
    ax = make().axes[0]
    for text in (ax.title, ax.xaxis.label, ax.yaxis.label):
        assert text.get_text().strip()
        assert text.get_fontsize() >= 12
    assert all(label.get_fontsize() >= 12 for label in ax.get_xticklabels())


def test_heatmap_shows_the_encoding():
    image = encoding_heatmap(40, 16).axes[0].images[0]
    np.testing.assert_array_equal(image.get_array(), sinusoidal_encoding(40, 16))
    assert encoding_heatmap(40, 16).axes[0].get_ylabel() == "position"


def test_circle_points_are_one_pair_of_the_encoding():
    ax = rotation_on_circle(pair=1, d_model=16, n_positions=12).axes[0]
    points = next(line for line in ax.lines if line.get_marker() == "o")
    np.testing.assert_allclose(np.column_stack(points.get_data()), sinusoidal_encoding(12, 16)[:, 2:4])
    np.testing.assert_allclose(np.hypot(*points.get_data()), 1.0)


def test_dot_product_curves_coincide_for_every_anchor_and_are_even():
    ax = dot_product_by_offset(d_model=64, max_offset=50, anchors=(0, 300, 7000)).axes[0]
    curves = [line.get_ydata() for line in ax.lines if len(line.get_ydata()) == 101]
    assert len(curves) == 3
    for curve in curves[1:]:
        np.testing.assert_allclose(curve, curves[0], atol=1e-10)
    np.testing.assert_allclose(curves[0], curves[0][::-1], atol=1e-10)
    assert curves[0][50] == pytest.approx(32)


def test_rope_curves_coincide_for_every_query_position_and_are_not_even():
    ax = rope_score_by_offset(d_model=32, max_offset=40, query_positions=(0, 900), seed=3).axes[0]
    curves = [line.get_ydata() for line in ax.lines if len(line.get_ydata()) == 81]
    assert len(curves) == 2
    np.testing.assert_allclose(curves[1], curves[0], atol=1e-10)
    assert not np.allclose(curves[0], curves[0][::-1], atol=1e-3)
    q, k = np.random.default_rng(3).standard_normal((2, 32))
    assert curves[0][40 + 5] == pytest.approx(rope(q, 0) @ rope(k, 5))


def test_the_derivations_carry_the_figures():
    names = {slug: [f.name for f in catalog()[slug].figures]
             for slug in ("sinusoidal-wavelengths", "sinusoidal-rotation", "sinusoidal-dot-product", "rope-relative-score-every-d")}
    assert names == {
        "sinusoidal-wavelengths": ["encoding-heatmap"],
        "sinusoidal-rotation": ["rotation-on-circle"],
        "sinusoidal-dot-product": ["dot-product-by-offset"],
        "rope-relative-score-every-d": ["rope-score-by-offset"],
    }
    for slug in names:
        for figure in catalog()[slug].figures:
            assert figure.caption and figure.make().axes
