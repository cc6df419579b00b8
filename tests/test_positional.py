"""Sinusoidal positional encodings: the NumPy reference against the paper's formula, the rotation property,
the dot product, bad input, and the derivations of derivations/positional.py."""

import math

import numpy as np
import pytest

import symformer
from symformer import catalog, UsageError
from symformer.errors import InputError as PositionalEncodingError
from symformer.notation import derivation_to_latex
from symformer.reference import rotation_matrix, sinusoidal_encoding, sinusoidal_frequencies

from _reports import catalog_report


def paper_encoding(positions, d):
    """Vaswani 3.5, one entry at a time with the math module: PE(pos, 2i) = sin(pos / 10000^(2i/d))."""
    out = np.zeros((len(positions), d))
    for row, pos in enumerate(positions):
        for i in range(d // 2):
            out[row, 2 * i] = math.sin(pos / 10000 ** (2 * i / d))
            out[row, 2 * i + 1] = math.cos(pos / 10000 ** (2 * i / d))
    return out


# --- values -------------------------------------------------------------------------------------------


def test_first_rows_by_hand():
    # PE(0) = (0, 1, 0, 1); PE(1) = (sin 1, cos 1, sin 0.01, cos 0.01) for d = 4
    pe = sinusoidal_encoding(2, 4)
    assert pe[0].tolist() == [0.0, 1.0, 0.0, 1.0]
    np.testing.assert_allclose(pe[1], [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)], rtol=0, atol=1e-15)


@pytest.mark.parametrize("d", [2, 6, 16, 64])
def test_matches_the_paper_formula(d):
    np.testing.assert_allclose(sinusoidal_encoding(50, d), paper_encoding(range(50), d), rtol=0, atol=1e-12)


def test_split_layout_is_the_interleaved_columns_sines_first():
    interleaved = sinusoidal_encoding(30, 10)
    split = sinusoidal_encoding(30, 10, layout="split")
    np.testing.assert_array_equal(split, interleaved[:, [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]])


def test_start_gives_the_same_rows_as_a_longer_table():
    np.testing.assert_allclose(sinusoidal_encoding(5, 8, start=20), sinusoidal_encoding(25, 8)[20:], rtol=0, atol=1e-13)


def test_negative_positions_are_allowed_sines_odd_cosines_even():
    ahead, behind = sinusoidal_encoding(1, 12, start=7)[0], sinusoidal_encoding(1, 12, start=-7)[0]
    np.testing.assert_allclose(behind[0::2], -ahead[0::2], rtol=0, atol=1e-15)
    np.testing.assert_allclose(behind[1::2], ahead[1::2], rtol=0, atol=1e-15)


def test_custom_base():
    np.testing.assert_allclose(sinusoidal_frequencies(4, base=100), [1.0, 0.1])
    np.testing.assert_allclose(sinusoidal_encoding(2, 4, base=100)[1], [math.sin(1), math.cos(1), math.sin(0.1), math.cos(0.1)])


# --- frequencies and wavelengths -------------------------------------------------------------------


@pytest.mark.parametrize("d", [2, 4, 128, 512, 1024])
def test_the_longest_wavelength_is_2_pi_10000_to_the_d_minus_2_over_d(d):
    wavelengths = 2 * np.pi / sinusoidal_frequencies(d)
    assert wavelengths[0] == pytest.approx(2 * np.pi, rel=1e-15)
    assert wavelengths[-1] == pytest.approx(2 * np.pi * 10000 ** ((d - 2) / d), rel=1e-13)
    assert wavelengths[-1] < 2 * np.pi * 10000
    np.testing.assert_allclose(wavelengths[1:] / wavelengths[:-1], 10000 ** (2 / d), rtol=1e-13)


def test_the_longest_wavelength_at_d_512_is_3_7_percent_short_of_2_pi_10000():
    shortfall = 2 * np.pi * 10000 / (2 * np.pi / sinusoidal_frequencies(512)[-1])
    assert shortfall == pytest.approx(10000 ** (2 / 512), rel=1e-13)
    assert round(shortfall, 4) == 1.0366


# --- the rotation property --------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["interleaved", "split"])
@pytest.mark.parametrize("d", [2, 8, 64, 512, 1024])
def test_rotation_maps_pe_p_to_pe_p_plus_k(d, layout):
    # T(k) PE(p) = PE(p + k), relative 1e-12, for p up to 10^4 and offsets of either sign
    for k in (-10000, -7, 0, 1, 500, 2.5, 10000):
        T = rotation_matrix(k, d, layout=layout)
        for p in (0, 1, 123, 9999.5, 10000):
            moved = T @ sinusoidal_encoding(1, d, layout=layout, start=p)[0]
            target = sinusoidal_encoding(1, d, layout=layout, start=p + k)[0]
            assert np.linalg.norm(moved - target) / np.linalg.norm(target) < 1e-12, (d, layout, k, p)


@pytest.mark.parametrize("layout", ["interleaved", "split"])
def test_rotation_is_orthogonal_composes_and_inverts_by_transpose(layout):
    d = 32
    T = lambda k: rotation_matrix(k, d, layout=layout)  # noqa: E731
    np.testing.assert_allclose(T(13).T @ T(13), np.eye(d), atol=1e-14)
    np.testing.assert_allclose(T(13) @ T(-4), T(9), atol=1e-13)
    np.testing.assert_allclose(T(-13), T(13).T, atol=0)
    np.testing.assert_array_equal(T(0), np.eye(d))


def test_interleaved_rotation_is_block_diagonal_with_the_papers_blocks():
    T = rotation_matrix(3, 8)
    omega = sinusoidal_frequencies(8)
    for i in range(4):
        c, s = math.cos(3 * omega[i]), math.sin(3 * omega[i])
        np.testing.assert_allclose(T[2 * i:2 * i + 2, 2 * i:2 * i + 2], [[c, s], [-s, c]], atol=1e-15)
    off_block = T.copy()
    for i in range(4):
        off_block[2 * i:2 * i + 2, 2 * i:2 * i + 2] = 0
    assert not off_block.any()


def test_the_linear_map_found_by_least_squares_is_T_k_so_it_does_not_depend_on_p(rng):
    # fit the one matrix M with M PE(p) = PE(p + k) over many scattered p; it must be T(k)
    d, k = 8, 5
    positions = rng.uniform(0, 20000, size=64)
    before = np.array([sinusoidal_encoding(1, d, start=p)[0] for p in positions])
    after = np.array([sinusoidal_encoding(1, d, start=p + k)[0] for p in positions])
    fitted, *_ = np.linalg.lstsq(before, after, rcond=None)
    np.testing.assert_allclose(fitted.T, rotation_matrix(k, d), atol=1e-10)


# --- the dot product ----------------------------------------------------------------------------------


def test_dot_product_is_the_sum_of_cosines_of_the_offset():
    d, n = 64, 120
    pe = sinusoidal_encoding(n, d)
    omega = 10000.0 ** (-np.arange(0, d, 2) / d)
    offsets = np.arange(n)[:, None] - np.arange(n)[None, :]
    expected = np.cos(offsets[..., None] * omega).sum(axis=-1)
    np.testing.assert_allclose(pe @ pe.T, expected, rtol=0, atol=1e-11)


def test_dot_product_depends_only_on_the_offset_and_is_even():
    d = 128
    gram = sinusoidal_encoding(300, d) @ sinusoidal_encoding(300, d).T
    for offset in (1, 17, 150):
        diagonal = np.diagonal(gram, offset)
        np.testing.assert_allclose(diagonal, diagonal[0], atol=1e-10)
        np.testing.assert_allclose(np.diagonal(gram, -offset), diagonal, atol=1e-10)
    np.testing.assert_allclose(np.diagonal(gram), d / 2, atol=1e-12)


# --- float precision at large positions (documented) ----------------------------------------------------


def test_float32_angles_lose_precision_at_large_positions_float64_does_not():
    # the module docstring: the angle omega p is off by about |p| * eps; in float32 that shows at 10^4
    position, omega = 10001.0, float(sinusoidal_frequencies(512)[1])
    exact = math.sin(position * omega)
    float32 = float(np.sin(np.float32(position) * np.float32(omega), dtype=np.float32))
    assert abs(sinusoidal_encoding(1, 512, start=position)[0, 2] - exact) < 1e-12
    assert 1e-5 < abs(float32 - exact) < 1e-3
    assert "precision" in symformer.reference.positional.__doc__.lower()


# --- bad input ----------------------------------------------------------------------------------------


def test_zero_positions_give_an_empty_table():
    assert sinusoidal_encoding(0, 8).shape == (0, 8)
    assert sinusoidal_encoding(0, 8, layout="split").shape == (0, 8)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sinusoidal_encoding(4, 7), "d_model must be a positive even number (sin/cos or rotation pairs), got d_model = 7"),
        (lambda: sinusoidal_encoding(4, 0), "got d_model = 0"),
        (lambda: sinusoidal_encoding(4, 8.0), "d_model must be an integer, got 8.0"),
        (lambda: sinusoidal_encoding(-1, 8), "n_positions must be a non-negative integer, got n_positions = -1"),
        (lambda: sinusoidal_encoding(4, 8, layout="rotate-half"), "layout must be one of 'interleaved', 'split', got layout = 'rotate-half'"),
        (lambda: sinusoidal_encoding(4, 8, base=0), "base must be a positive finite number, got base = 0"),
        (lambda: sinusoidal_encoding(4, 8, start=float("nan")), "start must be a finite position"),
        (lambda: rotation_matrix(1, 9), "got d_model = 9"),
        (lambda: rotation_matrix(float("inf"), 8), "the offset k must be finite"),
        (lambda: sinusoidal_frequencies(3), "got d_model = 3"),
    ],
    ids=["odd-d", "zero-d", "float-d", "negative-n", "rope-layout", "zero-base", "nan-start", "odd-d-rotation",
         "infinite-k", "odd-d-frequencies"],
)
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(PositionalEncodingError) as caught:
        call()
    assert message in str(caught.value)
    assert isinstance(caught.value, UsageError) and isinstance(caught.value, ValueError)


# --- the derivations ----------------------------------------------------------------------------------

SLUGS = ["sinusoidal-wavelengths", "sinusoidal-rotation", "sinusoidal-rotation-every-d", "sinusoidal-dot-product"]


def test_derivations_are_in_the_course_in_order():
    slugs = list(catalog())
    assert [s for s in slugs if s in SLUGS] == SLUGS
    assert {catalog()[s].topic for s in SLUGS} == {"Positional encodings"}


@pytest.mark.parametrize("slug", SLUGS)
def test_each_derivation_verifies(slug):
    report = catalog_report(slug)
    assert report.ok, report.describe_failures()
    for check in report.checks:
        assert check.level.startswith("proved"), (check.label, check.level)
        assert any(m.method == "float64" and m.status == "holds" for m in check.methods), check.label


def test_the_every_d_statements_are_proved_for_all_sizes():
    for slug in ("sinusoidal-rotation-every-d", "sinusoidal-dot-product"):
        identities = [c for c in catalog_report(slug).checks if "assembled" not in c.label]
        assert {c.level for c in identities} == {"proved for all h"}, slug
    assembled = [c for c in catalog_report("sinusoidal-rotation-every-d").checks if "assembled" in c.label]
    assert [c.level for c in assembled] == [
        "proved for all h (general argument: T(k) PE(p) = PE(p + k) and T(k)^T T(k) = I entry by entry (index prover); "
        "the reference's agreement is the float64 witness's)"]
    assert [m.detail for m in assembled[0].methods if m.method == "symbolic, each size"] == ["proved for h = 1..4"]


def test_the_one_pair_rotation_is_proved_exactly():
    levels = {c.label: c.level for c in catalog_report("sinusoidal-rotation").checks}
    assert levels["step 2"] == "proved"
    assert levels["claim " + repr(r"offsets add: $T(a) T(b) = T(a + b)$")] == "proved"


def test_latex_shows_the_rotation_and_the_papers_wavelength():
    latex = derivation_to_latex(catalog()["sinusoidal-rotation"])
    assert "\\sin \\omega (p + k)" in latex
    assert "PE(p + k) = T(k)\\, PE(p)" in latex
    assert "10000^{\\frac{2 i}{d}}" in derivation_to_latex(catalog()["sinusoidal-wavelengths"])
