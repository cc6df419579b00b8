"""Embeddings: lookup as a one-hot product, the scatter-add gradient, tied embeddings."""

import numpy as np
import pytest

from symformer import catalog, SymformerError
from symformer.errors import InputError as EmbeddingError
from symformer.reference import (
    central_difference,
    embed,
    embedding_backward,
    one_hot,
    tied_embedding_backward,
    tied_logits,
)

from _reports import catalog_report

SLUGS = ["embedding-lookup", "embedding-gradient", "tied-embedding-gradient"]


def test_lookup_is_the_one_hot_product(rng):
    # E[ids] = X E, and for one token E^T x = row t
    E = rng.standard_normal((7, 3))
    ids = np.array([[4, 0, 4], [6, 6, 1]])
    np.testing.assert_array_equal(embed(E, ids), one_hot(ids, 7) @ E)
    np.testing.assert_array_equal(E.T @ one_hot(5, 7), E[5])
    assert embed(E, ids).shape == (2, 3, 3)


def test_repeated_tokens_accumulate_and_absent_tokens_get_zero():
    g = np.array([[1.0, 2.0], [10.0, 20.0], [100.0, 200.0], [5.0, 5.0]])
    dE = embedding_backward([2, 0, 2, 2], g, 4)
    np.testing.assert_array_equal(dE, [[10.0, 20.0], [0.0, 0.0], [106.0, 207.0], [0.0, 0.0]])
    # the tempting dE[ids] += g keeps only one of the repeats: the bug add.at avoids
    naive = np.zeros((4, 2))
    naive[[2, 0, 2, 2]] += g
    assert naive[2].tolist() == [5.0, 5.0]


def test_scatter_add_is_the_transposed_one_hot_product(rng):
    ids = rng.integers(0, 5, (3, 8))
    g = rng.standard_normal((3, 8, 4))
    X = one_hot(ids, 5).reshape(-1, 5)
    np.testing.assert_allclose(embedding_backward(ids, g, 5), X.T @ g.reshape(-1, 4), rtol=1e-14)


def test_tied_gradient_adds_both_paths_and_matches_central_differences(rng):
    V, D, T = 6, 3, 5
    E = rng.standard_normal((V, D))
    ids = np.array([1, 3, 1, 0, 5])
    g, h, r = rng.standard_normal((T, D)), rng.standard_normal((T, D)), rng.standard_normal((T, V))

    def loss(table):
        return np.sum(g * embed(table, ids)) + np.sum(r * tied_logits(table, h))

    derived = tied_embedding_backward(ids, g, h, r, V)
    np.testing.assert_allclose(derived, central_difference(loss, E), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(derived, embedding_backward(ids, g, V) + r.T @ h, rtol=1e-14)


@pytest.mark.torch
def test_against_torch_autograd_with_tied_weights(rng):
    torch = pytest.importorskip("torch", reason="the autograd cross-check needs PyTorch")
    V, D = 9, 4
    E = rng.standard_normal((V, D))
    ids = rng.integers(0, V, (2, 6))
    ids[0, :3] = 7  # repeats
    g, h, r = rng.standard_normal((2, 6, D)), rng.standard_normal((2, 6, D)), rng.standard_normal((2, 6, V))
    weight = torch.tensor(E, requires_grad=True)
    embedded = torch.nn.functional.embedding(torch.tensor(ids), weight)
    logits = torch.nn.functional.linear(torch.tensor(h), weight)  # h W^T, the tied output layer
    ((embedded * torch.tensor(g)).sum() + (logits * torch.tensor(r)).sum()).backward()
    np.testing.assert_allclose(tied_embedding_backward(ids, g, h, r, V), weight.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(embed(E, ids), embedded.detach().numpy())


@pytest.mark.parametrize("call, message", [
    (lambda: embed(np.zeros((3, 2)), [3]), "token id 3 is outside the vocabulary 0..2"),
    (lambda: embed(np.zeros((3, 2)), [-1]), "token id -1 is outside the vocabulary 0..2"),
    (lambda: embed(np.zeros((3, 2)), [0.5]), "token_ids must be integers, got dtype float64"),
    (lambda: embed(np.zeros(3), [0]), "the embedding matrix E must be V x D (2 axes), got shape (3,)"),
    (lambda: embedding_backward([0, 1], np.zeros((3, 2)), 4), "d_embedded must have shape token_ids.shape + (D,)"),
    (lambda: tied_logits(np.zeros((3, 2)), np.zeros((1, 5))), "hidden has 5 features but E has D = 2"),
    (lambda: tied_embedding_backward([0], np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 4)), 3),
     "d_logits must have shape hidden.shape[:-1] + (V,)"),
], ids=["id too large", "negative id", "float ids", "1-D table", "gradient shape", "hidden width", "logit gradient"])
def test_bad_input_gets_a_clear_error(call, message):
    with pytest.raises(EmbeddingError) as caught:
        call()
    assert message in str(caught.value)
    assert isinstance(caught.value, SymformerError) and isinstance(caught.value, ValueError)


def test_empty_sequences_are_fine():
    assert embed(np.ones((2, 3)), np.array([], dtype=int)).shape == (0, 3)
    np.testing.assert_array_equal(embedding_backward(np.array([], dtype=int), np.zeros((0, 3)), 2), np.zeros((2, 3)))


# --- the derivations ----------------------------------------------------------------------------------


def test_derivations_come_second_in_the_course():
    slugs = list(catalog())
    assert [s for s in slugs if s in SLUGS] == SLUGS
    assert slugs.index("cosine-similarity-gradient") < slugs.index("embedding-lookup") < slugs.index("softmax-jacobian")


@pytest.mark.parametrize("slug", SLUGS)
def test_each_derivation_is_proved_for_all_sizes(slug):
    report = catalog_report(slug)
    assert report.ok, report.describe_failures()
    for check in report.checks:
        if check.kind == "result":
            assert all(m.status == "holds" for m in check.methods)
        elif check.label.startswith("claim 'repeated tokens"):  # the lookup loss written with token ids, for all sizes
            assert check.level.startswith("proved for all V, D, T (general argument: "), check.level
            assert [m.detail for m in check.methods if m.method == "symbolic, each size"] == [
                "proved for V = 1..3, D in {1, 2}, T = 1..3"]
        else:
            assert check.level == "proved for all V, D, T", (check.label, check.level)
