"""Vectors and dot products: the NumPy reference and the derivations of the vectors topic."""

import numpy as np
import pytest
import sympy as sp

from symformer import catalog, SymformerError
from symformer.errors import InputError as VectorError
from symformer.reference import central_difference, cosine_similarity, cosine_similarity_grad, projection
from symformer.reference.vectors import dot

from _reports import catalog_report

SLUGS = ["dot-product-projection", "cauchy-schwarz", "cosine-similarity-gradient"]


# cos(u, v) = u . v / (|u| |v|): a table of exact values
@pytest.mark.parametrize("u, v, expected", [
    ([1.0, 0.0], [0.0, 2.0], 0.0),
    ([1.0, 1.0], [3.0, 3.0], 1.0),
    ([1.0, 2.0], [-2.0, -4.0], -1.0),
    ([3.0, 4.0], [4.0, 3.0], 24 / 25),
    ([1e-200, 0.0], [1e200, 1e200], 1 / np.sqrt(2)),
], ids=["orthogonal", "parallel", "opposite", "3-4-5", "extreme scales"])
def test_cosine_similarity_values(u, v, expected):
    assert cosine_similarity(u, v) == pytest.approx(expected, abs=1e-15)


def test_cosine_is_unchanged_by_positive_scaling_and_batches_over_leading_axes(rng):
    u, v = rng.standard_normal((5, 7)), rng.standard_normal((5, 7))
    cos = cosine_similarity(u, v)
    assert cos.shape == (5,)
    np.testing.assert_allclose(cosine_similarity(3.5 * u, 0.01 * v), cos, rtol=1e-13)
    np.testing.assert_allclose(cosine_similarity(-u, v), -cos, rtol=1e-13)


def test_cauchy_schwarz_holds_and_is_tight_only_for_parallel_vectors(rng):
    # |u . v| <= |u| |v|, equality iff u and v are parallel
    for _ in range(200):
        u, v = rng.standard_normal(4), rng.standard_normal(4)
        assert abs(dot(u, v)) <= np.linalg.norm(u) * np.linalg.norm(v)
        assert abs(cosine_similarity(u, v)) < 1
        assert cosine_similarity(u, -7.25 * u) == pytest.approx(-1.0, abs=1e-15)


def test_projection_leaves_an_orthogonal_residual(rng):
    # (u - proj_v u) . v = 0 and |proj_v u| = |u . v| / |v|
    u, v = rng.standard_normal(6), rng.standard_normal(6)
    p = projection(u, v)
    assert dot(u - p, v) == pytest.approx(0.0, abs=1e-13)
    assert np.linalg.norm(p) == pytest.approx(abs(dot(u, v)) / np.linalg.norm(v), rel=1e-13)
    np.testing.assert_array_equal(projection([2.0, 3.0], [5.0, 0.0]), [2.0, 0.0])


def test_cosine_gradient_matches_central_differences_and_is_orthogonal_to_u(rng):
    u, v = rng.standard_normal(9), rng.standard_normal(9)
    grad = cosine_similarity_grad(u, v)
    np.testing.assert_allclose(grad, central_difference(lambda x: cosine_similarity(x, v), u), rtol=1e-6, atol=1e-9)
    assert dot(grad, u) == pytest.approx(0.0, abs=1e-14)


@pytest.mark.torch
def test_cosine_gradient_against_torch(rng):
    torch = pytest.importorskip("torch", reason="the autograd cross-check needs PyTorch")
    u, v = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    tu = torch.tensor(u, requires_grad=True)
    torch.nn.functional.cosine_similarity(tu, torch.tensor(v), dim=-1).sum().backward()
    np.testing.assert_allclose(cosine_similarity_grad(u, v), tu.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cosine_similarity(u, v),
                               torch.nn.functional.cosine_similarity(torch.tensor(u), torch.tensor(v), dim=-1).numpy(), rtol=1e-14)


@pytest.mark.parametrize("call, message", [
    (lambda: cosine_similarity([0.0, 0.0], [1.0, 2.0]), "u is a zero vector (norm 0): its cosine similarity is undefined"),
    (lambda: cosine_similarity([1.0, 2.0], [0.0, 0.0]), "v is a zero vector (norm 0)"),
    (lambda: cosine_similarity([], []), "u and v have no components (length-0 vectors)"),
    (lambda: cosine_similarity([1.0, 2.0], [1.0, 2.0, 3.0]), "u has 2 components but v has 3"),
    (lambda: cosine_similarity(1.0, [1.0]), "u and v must be vectors"),
    (lambda: cosine_similarity_grad([0.0], [1.0]), "u is a zero vector"),
    (lambda: projection([1.0, 2.0], [0.0, 0.0]), "v is a zero vector: there is no line to project onto"),
], ids=["zero u", "zero v", "empty", "mismatch", "scalar", "grad at zero", "project on zero"])
def test_bad_vectors_get_a_clear_error_not_nan(call, message):
    with pytest.raises(VectorError) as caught:
        call()
    assert message in str(caught.value)
    assert isinstance(caught.value, SymformerError) and isinstance(caught.value, ValueError)


# --- the derivations ----------------------------------------------------------------------------------


def test_derivations_open_the_course():
    slugs = list(catalog())
    assert [s for s in slugs if s in SLUGS] == SLUGS
    assert slugs.index("dot-product-projection") < slugs.index("softmax-jacobian")


@pytest.mark.parametrize("slug", SLUGS)
def test_each_derivation_is_proved_for_every_dimension(slug):
    report = catalog_report(slug)
    assert report.ok, report.describe_failures()
    for check in report.checks:
        if check.kind == "display":
            continue
        if check.kind == "result":
            assert [m.method for m in check.methods] == ["NumPy reference", "finite differences"]
        elif check.label.startswith("claim '$|u \\\\cdot v| \\\\le"):  # Lagrange's identity, for every d
            assert check.level.startswith("proved for all d (general argument: Lagrange's identity"), check.level
            assert [m.detail for m in check.methods if m.method == "symbolic, each size"] == ["proved for d = 1..5"]
        else:
            assert check.level == "proved for all d", (check.label, check.level)


def test_cauchy_schwarz_property_rejects_a_broken_bound():
    # the exact witness computes the gap itself: at d = 1 every pair is parallel (gap 0), at d >= 2 it is > 0
    prop = catalog()["cauchy-schwarz"].claims[-1]
    d = sp.Symbol("d", integer=True, positive=True)
    assert prop.exact({d: 1}).holds and prop.exact({d: 4}).holds
    assert "for v = -5/2 u" in prop.exact({d: 3}).detail
