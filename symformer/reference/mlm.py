"""BERT's masked-language-model corruption and loss in NumPy (Devlin et al. 2018, section 3.1).

Choose positions for prediction (never special tokens); of the chosen, replace a fraction
``mask_prob`` with [MASK], ``random_prob`` with a uniformly random token (which may equal the
original, as in both reference implementations), and keep the rest. Two ways of choosing:

- ``"bernoulli"`` (Hugging Face's DataCollatorForLanguageModeling): each non-special token
  independently with probability ``select_prob``; a sequence may get no chosen position at all.
- ``"fixed-count"`` (google-research/bert create_pretraining_data.py): exactly
  ``min(max_predictions, max(1, round(len(sequence) * select_prob)))`` positions per sequence,
  counted on the whole sequence including special tokens and using Python's round (half to
  even), as the original does; fewer when there are fewer candidates.

Labels follow the Hugging Face convention: the original id at chosen positions, -100 elsewhere.
The loss is the mean cross-entropy over chosen positions; with none chosen it is 0 with gradient 0,
where a plain mean would be 0/0 = NaN.
"""

from __future__ import annotations

import numpy as np

from symformer.errors import InputError
from symformer.reference.softmax import log_softmax, softmax



IGNORE_INDEX = -100
CONVENTIONS = ("bernoulli", "fixed-count")


def _probability(name: str, value) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise InputError(f"{name} must be a probability in [0, 1], got {value}")
    return value


def mlm_mask(
    token_ids,
    rng,
    *,
    vocab_size: int,
    mask_id: int,
    special_ids=(),
    select_prob: float = 0.15,
    mask_prob: float = 0.8,
    random_prob: float = 0.1,
    convention: str = "bernoulli",
    max_predictions: int = 20,
) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt ``token_ids`` (one sequence, or a batch of rows) for masked language modelling.

    Returns ``(inputs, labels)``, both shaped like ``token_ids``: ``labels`` holds the original id at
    each chosen position and -100 elsewhere. ``rng`` is a NumPy Generator (or a seed for one). An
    empty sequence gives two empty arrays. ``max_predictions`` applies to "fixed-count" only.

    >>> ids = np.array([101, 7, 8, 9, 10, 11, 12, 102])
    >>> inputs, labels = mlm_mask(ids, np.random.default_rng(0), vocab_size=200, mask_id=103,
    ...                           special_ids=(101, 102, 103), convention="fixed-count")
    >>> int((labels != -100).sum())  # round(8 * 0.15) = 1
    1
    >>> bool(labels[0] == -100 and labels[-1] == -100)  # [CLS] and [SEP] are never chosen
    True
    """
    select_prob = _probability("select_prob", select_prob)
    mask_prob = _probability("mask_prob", mask_prob)
    random_prob = _probability("random_prob", random_prob)
    if mask_prob + random_prob > 1.0:
        raise InputError(f"mask_prob + random_prob must be at most 1 (the rest stay unchanged), got {mask_prob} + {random_prob}")
    if convention not in CONVENTIONS:
        raise InputError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    if int(vocab_size) != vocab_size or vocab_size < 1:
        raise InputError(f"vocab_size must be a positive integer, got {vocab_size}")
    if not 0 <= mask_id < vocab_size:
        raise InputError(f"mask_id {mask_id} is outside the vocabulary 0..{vocab_size - 1}")
    if int(max_predictions) != max_predictions or max_predictions < 0:
        raise InputError(f"max_predictions must be a non-negative integer, got {max_predictions}")
    ids = np.asarray(token_ids)
    if ids.ndim not in (1, 2):
        raise InputError(f"token_ids must be one sequence or a batch of rows (1 or 2 axes), got shape {ids.shape}")
    if ids.size == 0:
        return ids.astype(np.int64), np.full(ids.shape, IGNORE_INDEX, dtype=np.int64)
    if not np.issubdtype(ids.dtype, np.integer):
        raise InputError(f"token_ids must be integers, got dtype {ids.dtype}")
    rng = np.random.default_rng(rng)

    rows = ids.reshape(-1, ids.shape[-1]).astype(np.int64)
    candidates = ~np.isin(rows, np.asarray(list(special_ids), dtype=np.int64))
    if convention == "bernoulli":
        chosen = candidates & (rng.random(rows.shape) < select_prob)
    else:
        chosen = np.zeros(rows.shape, dtype=bool)
        wanted = min(int(max_predictions), max(1, int(round(rows.shape[1] * select_prob))))
        for row, allowed in zip(chosen, candidates):
            positions = np.flatnonzero(allowed)
            row[rng.permutation(positions)[:wanted]] = True

    # One uniform draw per chosen position decides its fate: [MASK], random token, or unchanged.
    fate = rng.random(rows.shape)
    to_mask = chosen & (fate < mask_prob)
    to_random = chosen & (fate >= mask_prob) & (fate < mask_prob + random_prob)
    inputs = rows.copy()
    inputs[to_mask] = mask_id
    inputs[to_random] = rng.integers(0, vocab_size, size=int(to_random.sum()))
    labels = np.where(chosen, rows, IGNORE_INDEX)
    return inputs.reshape(ids.shape), labels.reshape(ids.shape)


def _loss_inputs(logits, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    if logits.ndim < 1 or logits.shape[:-1] != labels.shape:
        raise InputError(f"logits must have shape labels.shape + (V,) = {labels.shape} + (V,), got {logits.shape}")
    chosen = labels != IGNORE_INDEX
    vocab = logits.shape[-1]
    if np.any(chosen & ((labels < 0) | (labels >= vocab))):
        raise InputError(f"a label is outside the vocabulary 0..{vocab - 1} (use -100 for positions not chosen)")
    return logits, np.where(chosen, labels, 0).astype(np.intp), chosen


def mlm_loss(logits, labels) -> float:
    """Mean cross-entropy over the chosen positions (labels != -100); 0.0 when none is chosen.

    >>> round(mlm_loss(np.zeros((3, 4)), np.array([-100, 2, -100])), 6)  # log 4
    1.386294
    >>> mlm_loss(np.zeros((3, 4)), np.full(3, -100))
    0.0
    """
    logits, targets, chosen = _loss_inputs(logits, labels)
    count = int(chosen.sum())
    if count == 0:
        return 0.0
    picked = np.take_along_axis(log_softmax(logits), targets[..., None], axis=-1)[..., 0]
    return float(-np.sum(picked[chosen]) / count)


def mlm_loss_grad(logits, labels) -> np.ndarray:
    """dL/dlogits: (p - y) / C at the C chosen positions, 0 elsewhere (all zeros when C = 0).

    >>> mlm_loss_grad(np.zeros((2, 2)), np.array([1, -100])).tolist()
    [[0.5, -0.5], [0.0, 0.0]]
    """
    logits, targets, chosen = _loss_inputs(logits, labels)
    count = max(int(chosen.sum()), 1)
    y = np.zeros_like(logits)
    np.put_along_axis(y, targets[..., None], 1.0, axis=-1)
    return np.where(chosen[..., None], softmax(logits) - y, 0.0) / count
