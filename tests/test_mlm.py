"""BERT's masked-LM corruption (both conventions) and its loss, with no NaN when nothing is chosen."""

import numpy as np
import pytest

from symformer import SymformerError
from symformer.errors import InputError as MaskingError
from symformer.reference import central_difference, mlm_loss, mlm_loss_grad, mlm_mask

CLS, SEP, MASK, PAD, VOCAB = 101, 102, 103, 0, 30522
SPECIAL = (PAD, CLS, SEP, MASK)


def sequence(rng, length, rows=None):
    shape = (length - 2,) if rows is None else (rows, length - 2)
    body = rng.integers(1000, VOCAB, shape)
    pad = [(0, 0)] * (body.ndim - 1)
    return np.pad(np.pad(body, pad + [(1, 0)], constant_values=CLS), pad + [(0, 1)], constant_values=SEP)


def corrupt(ids, rng, **kwargs):
    return mlm_mask(ids, rng, vocab_size=VOCAB, mask_id=MASK, special_ids=SPECIAL, **kwargs)


@pytest.mark.parametrize("convention", ["bernoulli", "fixed-count"])
def test_special_tokens_are_never_chosen_and_labels_hold_the_originals(rng, convention):
    ids = sequence(rng, 64, rows=50)
    ids[:, -5:-1] = PAD
    inputs, labels = corrupt(ids, rng, convention=convention, select_prob=0.9)
    chosen = labels != -100
    assert not chosen[np.isin(ids, SPECIAL)].any()
    np.testing.assert_array_equal(labels[chosen], ids[chosen])
    np.testing.assert_array_equal(inputs[~chosen], ids[~chosen])  # nothing outside the chosen positions changes
    assert inputs.shape == ids.shape == labels.shape


@pytest.mark.parametrize("length, expected", [(3, 1), (8, 1), (10, 2), (30, 4), (42, 6), (128, 19), (512, 20)])
def test_fixed_count_follows_the_original_code(rng, length, expected):
    # min(20, max(1, round(0.15 * len))), len counting [CLS] and [SEP]; round(1.5) = 2 and round(4.5) = 4 (half to even)
    _, labels = corrupt(sequence(rng, length), rng, convention="fixed-count")
    assert int((labels != -100).sum()) == expected


def test_fixed_count_chooses_one_even_at_probability_zero_as_the_original_does(rng):
    _, labels = corrupt(sequence(rng, 20), rng, convention="fixed-count", select_prob=0.0)
    assert int((labels != -100).sum()) == 1
    _, labels = corrupt(sequence(rng, 20), rng, convention="bernoulli", select_prob=0.0)
    assert int((labels != -100).sum()) == 0


def test_bernoulli_at_probability_one_chooses_every_ordinary_token(rng):
    ids = sequence(rng, 30)
    inputs, labels = corrupt(ids, rng, select_prob=1.0, mask_prob=1.0, random_prob=0.0)
    assert (labels != -100).sum() == 28
    assert (inputs[1:-1] == MASK).all() and inputs[0] == CLS and inputs[-1] == SEP


def test_expected_fractions_12_and_1_5_and_1_5_percent(rng):
    ids = sequence(rng, 202, rows=1000)  # 200,000 ordinary tokens
    inputs, labels = corrupt(ids, rng)
    chosen = labels != -100
    tokens = 200_000
    for observed, p in [(chosen.sum(), 0.15), ((inputs == MASK).sum(), 0.12),
                        ((chosen & (inputs != ids) & (inputs != MASK)).sum(), 0.015),
                        ((chosen & (inputs == ids)).sum(), 0.015)]:
        assert abs(observed / tokens - p) < 5 * np.sqrt(p * (1 - p) / tokens)


def test_same_seed_same_corruption(rng):
    ids = sequence(rng, 40, rows=3)
    first = corrupt(ids, np.random.default_rng(5))
    second = corrupt(ids, 5)  # a seed is accepted too
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_an_empty_sequence_gives_empty_results(rng):
    inputs, labels = corrupt(np.array([], dtype=np.int64), rng)
    assert inputs.shape == labels.shape == (0,)
    inputs, labels = corrupt(np.zeros((2, 0), dtype=np.int64), rng, convention="fixed-count")
    assert inputs.shape == labels.shape == (2, 0)


@pytest.mark.parametrize("kwargs, message", [
    ({"select_prob": 1.5}, "select_prob must be a probability in [0, 1], got 1.5"),
    ({"select_prob": -0.1}, "select_prob must be a probability in [0, 1], got -0.1"),
    ({"mask_prob": float("nan")}, "mask_prob must be a probability in [0, 1], got nan"),
    ({"random_prob": 2}, "random_prob must be a probability in [0, 1], got 2.0"),
    ({"mask_prob": 0.8, "random_prob": 0.3}, "mask_prob + random_prob must be at most 1"),
    ({"convention": "hf"}, "convention must be one of ('bernoulli', 'fixed-count'), got 'hf'"),
    ({"max_predictions": -1}, "max_predictions must be a non-negative integer, got -1"),
], ids=["above 1", "negative", "nan", "random above 1", "shares above 1", "convention", "max predictions"])
def test_bad_arguments_get_a_clear_error(rng, kwargs, message):
    with pytest.raises(MaskingError) as caught:
        corrupt(sequence(rng, 10), rng, **kwargs)
    assert message in str(caught.value)
    assert isinstance(caught.value, SymformerError) and isinstance(caught.value, ValueError)


@pytest.mark.parametrize("call, message", [
    (lambda: mlm_mask([1, 2], 0, vocab_size=0, mask_id=0), "vocab_size must be a positive integer, got 0"),
    (lambda: mlm_mask([1, 2], 0, vocab_size=5, mask_id=5), "mask_id 5 is outside the vocabulary 0..4"),
    (lambda: mlm_mask([[[1]]], 0, vocab_size=5, mask_id=4), "token_ids must be one sequence or a batch of rows"),
    (lambda: mlm_mask([1.0, 2.0], 0, vocab_size=5, mask_id=4), "token_ids must be integers, got dtype float64"),
    (lambda: mlm_loss(np.zeros((3, 4)), np.array([0, 1])), "logits must have shape labels.shape + (V,)"),
    (lambda: mlm_loss(np.zeros((2, 4)), np.array([0, 4])), "a label is outside the vocabulary 0..3"),
], ids=["vocab", "mask id", "3-D ids", "float ids", "loss shapes", "label range"])
def test_bad_input_gets_a_clear_error(call, message):
    with pytest.raises(MaskingError) as caught:
        call()
    assert message in str(caught.value)


# --- the loss over the chosen positions ---------------------------------------------------------------


def test_loss_is_the_mean_over_chosen_positions_and_its_gradient_is_p_minus_y_there(rng):
    logits = rng.standard_normal((2, 5, 7))
    labels = np.array([[3, -100, 0, -100, -100], [-100, 6, 6, -100, 1]])
    grad = mlm_loss_grad(logits, labels)
    np.testing.assert_allclose(grad, central_difference(lambda z: mlm_loss(z, labels), logits), rtol=1e-6, atol=1e-9)
    assert np.all(grad[labels == -100] == 0.0)
    p = np.exp(logits[0, 0]) / np.exp(logits[0, 0]).sum()
    np.testing.assert_allclose(grad[0, 0], (p - np.eye(7)[3]) / 5, rtol=1e-13)


def test_no_chosen_position_gives_zero_not_nan(rng):
    logits = rng.standard_normal((4, 6))
    labels = np.full(4, -100)
    assert mlm_loss(logits, labels) == 0.0
    assert np.array_equal(mlm_loss_grad(logits, labels), np.zeros((4, 6)))


@pytest.mark.torch
def test_against_torch_cross_entropy_with_ignore_index(rng):
    torch = pytest.importorskip("torch", reason="the cross-check needs PyTorch")
    logits = rng.standard_normal((3, 9, 11))
    inputs, labels = mlm_mask(rng.integers(5, 11, (3, 9)), rng, vocab_size=11, mask_id=4, select_prob=0.4)
    labels[0, 0] = 7  # at least one chosen position
    z = torch.tensor(logits, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(z.reshape(-1, 11), torch.tensor(labels).reshape(-1), ignore_index=-100)
    loss.backward()
    assert mlm_loss(logits, labels) == pytest.approx(loss.item(), rel=1e-13)
    np.testing.assert_allclose(mlm_loss_grad(logits, labels), z.grad.numpy(), rtol=1e-11, atol=1e-15)
    # where nothing is chosen torch's mean is 0/0; symformer documents 0 instead
    none = torch.nn.functional.cross_entropy(z.reshape(-1, 11), torch.full((27,), -100), ignore_index=-100)
    assert torch.isnan(none) and mlm_loss(logits, np.full((3, 9), -100)) == 0.0
