"""Label smoothing: targets (1 - e) y + e/n, the loss and its gradient against torch's F.cross_entropy for class
indices and for probability targets, the unchanged default, bad input, and the derivation."""

import dataclasses

import numpy as np
import pytest
import sympy as sp

from symformer import catalog, Step, SymformerError, verify
from symformer.reference import central_difference, cross_entropy, cross_entropy_grad, softmax
from symformer.reference.softmax import InputError

from _reports import catalog_report


def test_smoothing_mixes_the_targets_with_the_uniform_distribution(rng):
    z, y = rng.standard_normal((4, 7)), np.eye(7)[[0, 3, 3, 6]]
    # the loss is cross-entropy against q = (1 - e) y + e/n, and its gradient is p - q
    q = 0.9 * y + 0.1 / 7
    np.testing.assert_allclose(cross_entropy(z, y, label_smoothing=0.1), cross_entropy(z, q), rtol=1e-14)
    np.testing.assert_allclose(cross_entropy_grad(z, y, label_smoothing=0.1), softmax(z) - q, rtol=1e-13, atol=1e-15)
    # PyTorch's form: (1 - e) CE(y) + e mean_k(-log p_k)
    log_p = np.log(softmax(z))
    np.testing.assert_allclose(cross_entropy(z, y, label_smoothing=0.1), 0.9 * cross_entropy(z, y) - 0.1 * log_p.mean(-1),
                               rtol=1e-13)


def test_the_gradient_matches_central_differences(rng):
    z, y = rng.standard_normal(6), rng.dirichlet(np.ones(6))
    np.testing.assert_allclose(cross_entropy_grad(z, y, label_smoothing=0.3),
                               central_difference(lambda v: cross_entropy(v, y, label_smoothing=0.3), z), atol=1e-8)


def test_the_gradient_vanishes_at_the_logits_log_q():
    y = np.eye(5)[2]
    q = 0.8 * y + 0.2 / 5
    np.testing.assert_allclose(cross_entropy_grad(np.log(q) + 3.0, y, label_smoothing=0.2), 0.0, atol=1e-15)
    # without smoothing no finite logits reach a one-hot target: the gradient at log q is not 0
    assert np.abs(cross_entropy_grad(np.log(q), y)).max() > 0.1


def test_no_smoothing_is_the_old_behaviour_and_full_smoothing_the_uniform_target(rng):
    z, y = rng.standard_normal(5), rng.uniform(0, 2, 5)
    np.testing.assert_array_equal(cross_entropy_grad(z, y, label_smoothing=0.0), cross_entropy_grad(z, y))
    np.testing.assert_allclose(cross_entropy_grad(z, np.eye(5)[0], label_smoothing=1.0), softmax(z) - 0.2, rtol=1e-13, atol=1e-15)


def test_a_masked_class_makes_the_smoothed_loss_infinite():
    # with e > 0 every class has a positive target, so log p = -inf counts
    z = np.array([0.0, -np.inf, 0.0])
    assert cross_entropy(z, [1.0, 0.0, 0.0]) == pytest.approx(np.log(2.0))
    assert cross_entropy(z, [1.0, 0.0, 0.0], label_smoothing=0.1) == np.inf


@pytest.mark.torch
@pytest.mark.parametrize("e", [0.0, 0.1, 0.45, 1.0])
def test_against_torch_with_class_indices_and_with_probabilities(rng, e):
    torch = pytest.importorskip("torch", reason="torch's cross_entropy is the peer check")
    z = rng.standard_normal((6, 9))
    labels = rng.integers(0, 9, 6)
    probabilities = rng.dirichlet(np.ones(9), size=6)
    for target, y in ((torch.tensor(labels), np.eye(9)[labels]), (torch.tensor(probabilities), probabilities)):
        logits = torch.tensor(z, requires_grad=True)
        loss = torch.nn.functional.cross_entropy(logits, target, reduction="sum", label_smoothing=e)
        loss.backward()
        assert float(loss.detach()) == pytest.approx(float(cross_entropy(z, y, label_smoothing=e).sum()), rel=1e-13)
        np.testing.assert_allclose(cross_entropy_grad(z, y, label_smoothing=e), logits.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("e", [-0.1, 1.5, float("nan")], ids=["negative", "above one", "nan"])
def test_label_smoothing_outside_zero_one_is_refused(e):
    for call in (cross_entropy, cross_entropy_grad):
        with pytest.raises(InputError) as caught:
            call(np.zeros(3), np.eye(3)[0], label_smoothing=e)
        assert f"label_smoothing must lie in [0, 1], got {e}" in str(caught.value)
        assert isinstance(caught.value, SymformerError) and isinstance(caught.value, ValueError)


# --- the derivation -----------------------------------------------------------------------------------


def test_the_derivation_is_proved_for_every_number_of_classes():
    report = catalog_report("label-smoothing-gradient")
    assert report.ok, report.describe_failures()
    for check in report.checks:
        if check.kind == "result":
            assert [m.status for m in check.methods] == ["holds", "holds"]
        else:
            assert check.level == "proved for all n", (check.label, check.level)


def test_forgetting_the_uniform_share_is_rejected():
    derivation = catalog()["label-smoothing-gradient"]
    n = sp.Symbol("n", integer=True, positive=True)
    eps = sp.Symbol("epsilon", positive=True)
    last = derivation.steps[-1].expr
    wrong = dataclasses.replace(derivation, slug="label-smoothing-without-uniform",
                                steps=[*derivation.steps[:-1], Step(last + eps / n, "a plausible but wrong step")])
    report = verify(wrong)
    assert not report.ok and report.failures()[0].label == "step 3"
