"""The engine: verdicts, levels, counterexamples, time bounds, determinism, bad declarations."""

import json

import numpy as np
import pytest
import sympy as sp
from sympy import Derivative, IndexedBase, KroneckerDelta, Lambda, Sum, exp

from symformer import (
    catalog,
    Claim,
    Derivation,
    DerivationError,
    Jacobian,
    Property,
    Size,
    Step,
    verify,
    VerifyConfig,
    Witness,
)
from symformer.reference import softmax, softmax_jacobian
from symformer.engine.index import equal_in_general  # the prover is tested directly: its soundness is the point

n = sp.Symbol("n", integer=True, positive=True)
i, j, k, a = sp.symbols("i j k a", integer=True)
z = IndexedBase("z", shape=(n,), real=True)
p = IndexedBase("p", shape=(n,))
SOFTMAX = {p: Lambda(a, exp(z[a]) / Sum(exp(z[k]), (k, 1, n)))}


def jacobian_derivation(last, slug="demo-jacobian", **extra):
    return Derivation(
        slug=slug, title="demo", topic="Demo", lhs=Derivative(p[i], z[j]), definitions=SOFTMAX,
        sizes={n: Size(prove=range(1, 5), numeric=32)}, indices={i: n, j: n},
        steps=[Step(last, "the softmax Jacobian")], **extra,
    )


def test_correct_step_is_proved_for_all_n_and_checked_in_float64():
    report = verify(jacobian_derivation(p[i] * (KroneckerDelta(i, j) - p[j])))
    (step,) = report.checks
    assert report.ok and step.ok
    assert step.level == "proved for all n"
    assert [m.method for m in step.methods] == ["symbolic, all sizes", "float64"]
    assert step.methods[-1].detail == "checked numerically at n = 32 (derivatives by central differences)"
    assert step.max_error < 1e-8


def test_index_prover_contracts_deltas_only_within_the_declared_range():
    m = sp.Symbol("m", integer=True, positive=True)
    y = IndexedBase("y", shape=(m,))
    # sum_k y_k delta(j, k) = y_j holds when j runs over 1..m, and is not claimed when j runs over 1..n
    lhs = Sum(y[k] * KroneckerDelta(j, k), (k, 1, m))
    assert equal_in_general(lhs, y[j], {j: (1, m)})
    assert not equal_in_general(lhs, y[j], {j: (1, n)})


def test_rejection_names_derivation_step_method_and_counterexample():
    report = verify(jacobian_derivation(-p[i] * (KroneckerDelta(i, j) - p[j]), slug="flipped-sign"))
    assert not report.ok
    (step,) = report.checks
    failure = step.failure
    assert failure.method == "50-digit identity"
    example = step.counterexample
    assert example.sizes == {n: 1} or example.sizes[n] >= 1
    assert set(example.indices) == {"i", "j"}
    assert "z" in example.inputs
    assert float(example.lhs) == pytest.approx(-float(example.rhs), rel=1e-30)
    text = report.describe_failures()
    assert text.startswith("derivation 'flipped-sign', step 1: 50-digit identity")
    assert "counterexample: at n = " in text and "left side = " in text


def test_a_tiny_time_bound_falls_back_and_says_so():
    report = verify(catalog()["softmax-jacobian"], VerifyConfig(time_bound=1e-4))
    assert report.ok
    first = report.checks[0]
    statuses = {m.method: m.status for m in first.methods}
    assert statuses["symbolic, all sizes"] == "timeout"
    assert first.level.startswith("checked numerically at n = 64") or "50 digits" in first.level
    assert "timeout" in json.dumps(report.to_dict())


def test_same_seed_same_numbers_other_seed_other_inputs():
    derivation = jacobian_derivation(-p[i] * (KroneckerDelta(i, j) - p[j]), slug="seeded")
    once, twice = verify(derivation).checks[0], verify(derivation).checks[0]
    assert once.counterexample.to_dict() == twice.counterexample.to_dict()
    other = verify(derivation, VerifyConfig(seed=7)).checks[0]
    assert other.counterexample.inputs != once.counterexample.inputs


def test_result_is_compared_with_numpy_and_finite_differences():
    derivation = jacobian_derivation(
        p[i] * (KroneckerDelta(i, j) - p[j]),
        result=Jacobian(forward=lambda z: softmax(z), reference=lambda z: softmax_jacobian(z), wrt="z", indices=(i, j)),
    )
    result = verify(derivation).checks[-1]
    assert result.kind == "result" and result.ok
    assert [m.method for m in result.methods] == ["NumPy reference", "finite differences"]
    assert result.methods[1].max_error < 1e-8


def test_a_wrong_numpy_reference_is_caught():
    derivation = jacobian_derivation(
        p[i] * (KroneckerDelta(i, j) - p[j]), slug="wrong-reference",
        result=Jacobian(forward=lambda z: softmax(z), reference=lambda z: softmax_jacobian(z).T * 1.01, wrt="z", indices=(i, j)),
    )
    result = verify(derivation).checks[-1]
    assert not result.ok and result.failure.method == "NumPy reference"


def test_property_with_a_failing_witness_is_rejected():
    never = Property("a false fact", exact=lambda sizes: Witness(sizes[n] < 3, "breaks at n = 3"),
                     numeric=lambda rng, sizes: Witness(True))
    derivation = jacobian_derivation(p[i] * (KroneckerDelta(i, j) - p[j]), slug="false-property", claims=[never])
    check = verify(derivation).checks[-1]
    assert not check.ok
    assert "fails at n = 3" in check.failure.detail


def test_matrix_steps_are_proved_for_every_size_through_their_entries():
    N, M = sp.symbols("N M", integer=True, positive=True)
    A, B = sp.MatrixSymbol("A", N, M), sp.MatrixSymbol("B", M, N)
    derivation = Derivation(
        slug="transpose-of-product", title="(AB)^T", topic="Demo", lhs=(A * B).T,
        sizes={N: Size(prove=range(1, 4), numeric=20), M: Size(prove=range(1, 3), numeric=30)},
        steps=[Step(B.T * A.T, "transpose reverses a product")],
    )
    (step,) = verify(derivation).checks
    assert step.ok and step.level == "proved for all N, M"
    assert [m.method for m in step.methods] == ["symbolic, all sizes", "float64"]
    assert step.methods[-1].detail == "checked numerically at N = 20, M = 30"


def test_matrix_steps_without_a_general_entry_are_proved_at_each_size():
    N = sp.Symbol("N", integer=True, positive=True)
    A = sp.MatrixSymbol("A", N, N)
    derivation = Derivation(
        slug="determinant-of-transpose", title="det A^T", topic="Demo", lhs=sp.Determinant(A.T),
        sizes={N: Size(prove=range(1, 4), numeric=5)},
        steps=[Step(sp.Determinant(A), "a matrix and its transpose have one determinant")],
    )
    (step,) = verify(derivation).checks
    assert step.ok and step.level == "proved for N = 1..3"
    general = step.methods[0]
    assert (general.method, general.status) == ("symbolic, all sizes", "inconclusive")
    assert general.detail == "not in index notation: Determinant has no general entry"


def test_inconsistent_shapes_are_an_error_naming_the_step():
    N, M = sp.symbols("N M", integer=True, positive=True)
    A = sp.MatrixSymbol("A", N, M)
    with pytest.raises(DerivationError, match=r"derivation 'bad-shape', step 2: its shape M x N differs from N x M"):
        Derivation(slug="bad-shape", title="t", topic="Demo", lhs=A,
                   sizes={N: Size(), M: Size()}, steps=[Step(A, "same"), Step(A.T, "oops")])


def test_free_index_mismatch_and_missing_justification_are_errors():
    with pytest.raises(DerivationError, match=r"step 1: free indices \['i', 'k'\]"):
        Derivation(slug="bad-index", title="t", topic="Demo", lhs=z[i], sizes={n: Size()}, indices={i: n, k: n},
                   steps=[Step(z[i] + z[k], "adds an index")])
    with pytest.raises(DerivationError, match="step 1: every step needs a justification"):
        Derivation(slug="no-why", title="t", topic="Demo", lhs=z[i], sizes={n: Size()}, indices={i: n},
                   steps=[Step(z[i], " ")])
    with pytest.raises(DerivationError, match="slug must be lowercase"):
        Derivation(slug="Bad Slug", title="t", topic="Demo", lhs=z[i], steps=[Step(z[i], "x")])


def test_indexed_base_without_shape_is_named():
    w = IndexedBase("w")
    derivation = Derivation(slug="no-shape", title="t", topic="Demo", lhs=w[i], sizes={n: Size()}, indices={i: n},
                            steps=[Step(w[i], "same")])
    with pytest.raises(DerivationError, match=r"IndexedBase w has no shape; declare it as IndexedBase\('w', shape=\(n,\)\)"):
        verify(derivation)


def test_numeric_evaluator_never_trusts_sympy_derivative():
    # d/dz_j sum_k z_k^3 = 3 z_j^2: the float64 witness is a central difference, independent of sympy.diff
    from symformer.engine.evaluate import evaluate

    values = {z: np.array([0.5, -1.0, 2.0]), n: 3}
    numeric = evaluate(Derivative(Sum(z[k] ** 3, (k, 1, n)), z[j]), values, {j: (1, 3)})
    assert np.allclose(numeric, 3 * values[z] ** 2, rtol=1e-8)


def test_a_summation_dummy_named_like_a_free_index_is_bound():
    # sum_j p_i (delta_ij - p_j) = 0 has only i free; the per-size method must not treat j as free
    claim = Claim("rows sum to zero", Sum(p[i] * (KroneckerDelta(i, j) - p[j]), (j, 1, n)), 0)
    derivation = jacobian_derivation(p[i] * (KroneckerDelta(i, j) - p[j]), slug="bound-dummy", claims=[claim])
    check = verify(derivation, VerifyConfig(time_bound=1e-4)).checks[-1]  # the general proof times out
    assert check.ok, check.to_dict()
    derivation = jacobian_derivation(p[i] * (KroneckerDelta(i, j) - p[j]), slug="bound-dummy")
    assert derivation.free_indices(claim.lhs) == [i]


def test_an_indexed_base_declared_positive_is_sampled_positive():
    w = IndexedBase("w", shape=(n,), positive=True)
    # sqrt(w_k^2) = w_k only for w_k > 0: real samples would refute it, positive ones must not
    derivation = Derivation(slug="positive-weights", title="t", topic="Demo", lhs=sp.sqrt(w[i] ** 2),
                            sizes={n: Size(prove=range(1, 3), numeric=16)}, indices={i: n},
                            steps=[Step(w[i], "w is positive")])
    report = verify(derivation, VerifyConfig(time_bound=1e-4))  # no symbolic help: the samples decide
    assert report.ok, report.describe_failures()


def test_nan_on_both_sides_is_not_agreement():
    # log(x y) = log x + log y is false for negative x, y; real samples give NaN on both sides in float64,
    # which must not count as a witness, and the exact methods must not split the log without x, y > 0
    x, y = sp.symbols("x y", real=True)
    derivation = Derivation(slug="log-of-product", title="t", topic="Demo", lhs=sp.log(x * y),
                            steps=[Step(sp.log(x) + sp.log(y), "log of a product")])
    report = verify(derivation)
    assert not report.ok


def test_a_partial_per_size_proof_lists_what_was_proved_without_widening_it():
    N, M = sp.symbols("N M", integer=True, positive=True)
    A = sp.MatrixSymbol("A", N, M)
    derivation = Derivation(slug="partial", title="t", topic="Demo", lhs=A,
                            sizes={N: Size(prove=range(1, 3), numeric=4), M: Size(prove=range(1, 3), numeric=4)},
                            steps=[Step(A, "same")])
    from symformer.engine.verify import _Context

    context = _Context(derivation, VerifyConfig())
    assert context._describe_sizes(context.small) == "N in {1, 2}, M in {1, 2}"
    assert context._describe_sizes(context.small[:3]) == "3 size combinations (N = 1, M = 1; N = 1, M = 2; N = 2, M = 1)"
