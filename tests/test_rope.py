"""RoPE: the NumPy reference by hand, against PyTorch written the two ways models write it, the relative
score, the layouts, values left unrotated, bad input, and the derivations of derivations/rope.py."""

import math

import numpy as np
import pytest

from symformer import catalog, UsageError
from symformer.errors import InputError as PositionalEncodingError
from symformer.reference import rope, rope_frequencies, rope_matrix, rope_permutation, sinusoidal_frequencies

from _reports import catalog_report

LAYOUTS = ["interleaved", "rotate-half"]


# --- values -------------------------------------------------------------------------------------------


def test_one_pair_turns_counterclockwise_by_position_times_theta():
    # theta_1 = 1: (1, 0) at position pi/2 becomes (0, 1)
    np.testing.assert_allclose(rope([[1.0, 0.0]], [math.pi / 2]), [[0.0, 1.0]], atol=1e-15)


def test_both_layouts_by_hand_at_d_4():
    # theta = (1, 0.01); interleaved pairs (x1, x2), (x3, x4); rotate-half pairs (x1, x3), (x2, x4)
    x, m = [1.0, 2.0, 3.0, 4.0], 2.0
    c1, s1, c2, s2 = math.cos(2), math.sin(2), math.cos(0.02), math.sin(0.02)
    interleaved = [1 * c1 - 2 * s1, 1 * s1 + 2 * c1, 3 * c2 - 4 * s2, 3 * s2 + 4 * c2]
    half = [1 * c1 - 3 * s1, 2 * c2 - 4 * s2, 1 * s1 + 3 * c1, 2 * s2 + 4 * c2]
    np.testing.assert_allclose(rope(x, m, layout="interleaved"), interleaved, atol=1e-15)
    np.testing.assert_allclose(rope(x, m, layout="rotate-half"), half, atol=1e-15)


def test_theta_is_the_papers_and_the_sinusoidal_frequencies():
    d = 16
    np.testing.assert_allclose(rope_frequencies(d), [10000 ** (-2 * (i - 1) / d) for i in range(1, d // 2 + 1)], rtol=1e-15)
    np.testing.assert_array_equal(rope_frequencies(d), sinusoidal_frequencies(d))


def test_position_zero_is_the_identity_and_batches_broadcast(rng):
    x = rng.standard_normal((3, 5, 8))
    np.testing.assert_array_equal(rope(x, np.zeros(5)), x)
    positions = np.arange(5)
    one_by_one = np.stack([rope(x[b], positions) for b in range(3)])
    np.testing.assert_allclose(rope(x, positions), one_by_one, atol=0)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_negative_positions_undo_positive_ones(rng, layout):
    x = rng.standard_normal((4, 10))
    positions = np.array([0, 3, -7, 1000])
    np.testing.assert_allclose(rope(rope(x, positions, layout=layout), -positions, layout=layout), x, atol=1e-12)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_rope_matrix_is_orthogonal_and_R_m_transpose_R_n_is_R_n_minus_m(layout):
    d = 12
    R = lambda t: rope_matrix(t, d, layout=layout)  # noqa: E731
    np.testing.assert_allclose(R(5).T @ R(5), np.eye(d), atol=1e-14)
    np.testing.assert_allclose(R(5).T @ R(-8), R(-13), atol=1e-13)
    np.testing.assert_allclose(R(3) @ R(4), R(7), atol=1e-13)


# --- the relative score ---------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("d", [2, 8, 128, 1024])
def test_scores_depend_only_on_n_minus_m(rng, layout, d):
    q, k = rng.standard_normal((40, d)), rng.standard_normal((40, d))
    positions = np.arange(40) * 250  # up to 9750
    for shift in (-10000, 3, 10000):
        base = rope(q, positions, layout=layout) @ rope(k, positions, layout=layout).T
        moved = rope(q, positions + shift, layout=layout) @ rope(k, positions + shift, layout=layout).T
        scale = np.linalg.norm(q, axis=1)[:, None] * np.linalg.norm(k, axis=1)[None, :]
        assert np.max(np.abs(base - moved) / scale) < 1e-12


@pytest.mark.parametrize("layout", LAYOUTS)
def test_score_equals_q_dot_R_n_minus_m_k(rng, layout):
    q, k = rng.standard_normal(64), rng.standard_normal(64)
    for m, n in [(0, 5), (17, 3), (-40, 900), (10000, -10000)]:
        score = rope(q, m, layout=layout) @ rope(k, n, layout=layout)
        assert score == pytest.approx(q @ rope_matrix(n - m, 64, layout=layout) @ k, rel=1e-11, abs=1e-11)


def test_unlike_sinusoidal_the_score_is_not_even_in_the_offset(rng):
    q, k = rng.standard_normal(64), rng.standard_normal(64)
    ahead = rope(q, 0) @ rope(k, 9)
    behind = rope(q, 9) @ rope(k, 0)
    assert abs(ahead - behind) > 1e-3


# --- layouts ------------------------------------------------------------------------------------------


def test_the_permutation_maps_interleaved_to_rotate_half(rng):
    d = 16
    perm = rope_permutation(d)
    assert perm.tolist() == [0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15]
    x, positions = rng.standard_normal((6, d)), rng.integers(-500, 500, size=6)
    np.testing.assert_allclose(rope(x[:, perm], positions, layout="rotate-half"),
                               rope(x, positions, layout="interleaved")[:, perm], atol=1e-13)
    P = np.eye(d)[perm]
    np.testing.assert_allclose(P @ rope_matrix(7, d) @ P.T, rope_matrix(7, d, layout="rotate-half"), atol=1e-15)


def test_the_layouts_give_different_numbers_without_the_permutation(rng):
    x = rng.standard_normal((3, 8))
    assert not np.allclose(rope(x, [1, 2, 3]), rope(x, [1, 2, 3], layout="rotate-half"))


# --- values are not rotated ------------------------------------------------------------------------------


def _attention(q, k, v):
    scores = q @ k.T / math.sqrt(q.shape[-1])
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (weights / weights.sum(axis=-1, keepdims=True)) @ v


def test_with_v_unrotated_shifting_the_whole_sequence_leaves_the_output_unchanged(rng):
    q, k, v = (rng.standard_normal((7, 16)) for _ in range(3))
    positions = np.arange(7)

    def output(shift, rotate_v):
        at = positions + shift
        values = rope(v, at) if rotate_v else v
        return _attention(rope(q, at), rope(k, at), values)

    np.testing.assert_allclose(output(1000, rotate_v=False), output(0, rotate_v=False), atol=1e-12)
    assert not np.allclose(output(1000, rotate_v=True), output(0, rotate_v=True), atol=1e-3)


# --- PyTorch, written as models write it ------------------------------------------------------------------

@pytest.mark.torch
def test_interleaved_matches_complex_multiplication_in_torch(rng):
    torch = pytest.importorskip("torch", reason="the RoPE cross-checks against PyTorch need torch")
    # Meta's Llama reference code: pairs as complex numbers times exp(i m theta)
    d, positions = 32, np.array([0, 1, 5, -3, 4096])
    x = rng.standard_normal((positions.size, d))
    theta = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angles = torch.outer(torch.tensor(positions, dtype=torch.float64), theta)
    pairs = torch.view_as_complex(torch.tensor(x).reshape(positions.size, d // 2, 2).contiguous())
    expected = torch.view_as_real(pairs * torch.polar(torch.ones_like(angles), angles)).reshape(positions.size, d)
    np.testing.assert_allclose(rope(x, positions), expected.numpy(), atol=1e-12)


@pytest.mark.torch
def test_rotate_half_matches_the_hf_llama_formula_in_torch(rng):
    torch = pytest.importorskip("torch", reason="the RoPE cross-checks against PyTorch need torch")
    # q * cos + rotate_half(q) * sin, rotate_half(x) = cat(-x2, x1), cos and sin repeated over both halves
    d, positions = 32, np.array([0, 2, 7, -11, 4096])
    x = torch.tensor(rng.standard_normal((positions.size, d)))
    theta = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angles = torch.outer(torch.tensor(positions, dtype=torch.float64), theta)
    cos, sin = torch.cat([angles.cos(), angles.cos()], -1), torch.cat([angles.sin(), angles.sin()], -1)
    rotate_half = torch.cat([-x[:, d // 2:], x[:, : d // 2]], -1)
    np.testing.assert_allclose(rope(x.numpy(), positions, layout="rotate-half"), (x * cos + rotate_half * sin).numpy(),
                               atol=1e-12)


# --- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: rope(np.ones((3, 5)), [0, 1, 2]), "the last axis of x must have even length d; got d = 5 (x.shape = (3, 5))"),
        (lambda: rope(np.ones((3, 0)), [0, 1, 2]), "got d = 0"),
        (lambda: rope(np.ones((3, 4)), [0, 1]), "positions of shape (2,) do not broadcast to x's positions axes (3,)"),
        (lambda: rope(np.ones(4), [0, 1]), "positions of shape (2,) would enlarge x of shape (4,)"),
        (lambda: rope(np.ones((2, 4)), [0, np.inf]), "positions must be finite numbers"),
        (lambda: rope(1.0, 0), "x must have at least one axis"),
        (lambda: rope(np.ones((2, 4)), [0, 1], layout="split"), "layout must be one of 'interleaved', 'rotate-half', got layout = 'split'"),
        (lambda: rope_matrix(1, 7), "got d_model = 7"),
        (lambda: rope_permutation(5), "got d_model = 5"),
    ],
    ids=["odd-d", "empty-d", "positions-shape", "positions-enlarge", "infinite-position", "scalar-x", "bad-layout",
         "odd-matrix", "odd-permutation"],
)
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(PositionalEncodingError) as caught:
        call()
    assert message in str(caught.value)
    assert isinstance(caught.value, UsageError) and isinstance(caught.value, ValueError)


# --- the derivations ----------------------------------------------------------------------------------

SLUGS = ["rope-relative-score", "rope-relative-score-every-d"]


@pytest.mark.parametrize("slug", SLUGS)
def test_each_derivation_verifies(slug):
    report = catalog_report(slug)
    assert report.ok, report.describe_failures()
    for check in report.checks:
        assert check.level.startswith("proved"), (check.label, check.level)


def test_the_relative_score_is_proved_for_every_number_of_pairs():
    levels = [c.level for c in catalog_report("rope-relative-score-every-d").checks if c.kind != "display"]
    assert levels[:2] == ["proved for all h", "proved for all h"]
    # the reference's scores: R(m)^T R(n) = R(n - m) for every h; the layouts' permutation only at h = 1..3
    assert levels[2].startswith("proved for all h (general argument: R(m)^T R(n) = R(n - m) entry by entry")
    assert levels[3] == "proved for h = 1..3"


def test_rope_comes_right_after_the_sinusoidal_encoding():
    slugs = list(catalog())
    assert slugs.index("rope-relative-score") == slugs.index("sinusoidal-dot-product") + 1
