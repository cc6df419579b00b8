"""Deliberately wrong derivations must all be rejected; the built-in catalog must never be."""

import pytest
import sympy as sp
from sympy import Derivative, IndexedBase, KroneckerDelta as delta, Lambda, Sum, exp, log

from symformer import catalog, Derivation, Jacobian, Size, Step, verify
from symformer.reference import softmax, softmax_jacobian

from _reports import catalog_report

n = sp.Symbol("n", integer=True, positive=True)
i, j, k, a = sp.symbols("i j k a", integer=True)
z = IndexedBase("z", shape=(n,), real=True)
p = IndexedBase("p", shape=(n,))
q = IndexedBase("q", shape=(n,))
T = sp.Symbol("T", positive=True)
SIZES = {n: Size(prove=range(1, 5), numeric=32)}
SOFTMAX = {p: Lambda(a, exp(z[a]) / Sum(exp(z[k]), (k, 1, n)))}
TEMPERED = {q: Lambda(a, exp(z[a] / T) / Sum(exp(z[k] / T), (k, 1, n)))}
N, M = sp.symbols("N M", integer=True, positive=True)
A, B = sp.MatrixSymbol("A", N, N), sp.MatrixSymbol("B", N, N)


def index_derivation(slug, lhs, last, definitions=SOFTMAX):
    return Derivation(slug=slug, title=slug, topic="Wrong", lhs=lhs, definitions=definitions, sizes=SIZES,
                      indices={i: n, j: n}, steps=[Step(last, "a plausible but wrong step")])


WRONG = {
    # each entry: the derivation, the step that must be rejected
    "flipped-sign": index_derivation("flipped-sign", Derivative(p[i], z[j]), p[i] * (p[j] - delta(i, j))),
    "diag-plus-outer": index_derivation("diag-plus-outer", Derivative(p[i], z[j]), p[i] * (delta(i, j) + p[j])),
    "missing-one-over-t": index_derivation("missing-one-over-t", Derivative(q[i], z[j]), q[i] * (delta(i, j) - q[j]),
                                           TEMPERED),
    "swapped-indices": index_derivation("swapped-indices", Derivative(log(p[i]), z[j]), delta(i, j) - p[i]),
    "transposed-factor": Derivation(
        slug="transposed-factor", title="(AB)^T = A^T B^T", topic="Wrong", lhs=(A * B).T,
        sizes={N: Size(prove=range(1, 4), numeric=16)}, steps=[Step(A.T * B.T, "transpose each factor")],
    ),
    "wrong-final-result": Derivation(
        slug="wrong-final-result", title="a reference that disagrees", topic="Wrong", lhs=Derivative(p[i], z[j]),
        definitions=SOFTMAX, sizes=SIZES, indices={i: n, j: n},
        steps=[Step(p[i] * (delta(i, j) - p[j]), "right step")],
        result=Jacobian(forward=lambda z: softmax(2 * z), reference=lambda z: 2 * softmax_jacobian(2 * z), wrt="z",
                        indices=(i, j)),
    ),
}


@pytest.mark.parametrize("slug", list(WRONG))
def test_wrong_derivation_is_rejected_with_a_counterexample(slug):
    report = verify(WRONG[slug])
    assert not report.ok
    failed = report.failures()
    assert failed, "a wrong derivation produced no failing check"
    check = failed[0]
    assert check.failure is not None and check.failure.status == "failed"
    assert check.counterexample is not None
    message = report.describe_failures()
    assert message.startswith(f"derivation {slug!r}, ")
    assert "counterexample:" in message


def test_transposed_factor_fails_at_n_2_not_at_n_1():
    check = verify(WRONG["transposed-factor"]).checks[0]
    each_size = next(m for m in check.methods if m.method == "symbolic, each size")
    assert "proved for N = 1" in each_size.detail and "not reduced to 0 at N = 2" in each_size.detail
    assert check.counterexample.sizes == {N: 2}


def test_the_built_in_catalog_is_never_rejected():
    failures = [catalog_report(slug).describe_failures() for slug in catalog()]
    assert [f for f in failures if f] == []
