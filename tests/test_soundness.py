"""Ways a verifier can be fooled into a false verdict, each closed: a wrong step is never "proved".

Each test states the mathematics it relies on first, then asserts what the engine must do.
"""

import numpy as np
import pytest
import sympy as sp
from sympy import IndexedBase, Sum

from symformer import Derivation, DerivationError, Size, Step, VerifyConfig, verify
from symformer.engine.evaluate import evaluate

n = sp.Symbol("n", integer=True, positive=True)
i, j, k = sp.symbols("i j k", integer=True)
x = IndexedBase("x", shape=(n,), real=True)
NO_SYMBOLIC = VerifyConfig(time_bound=1e-4)  # every symbolic method times out: the numeric checks decide


def one_step(slug, lhs, rhs, prove=range(1, 5), numeric=16, **extra):
    return Derivation(slug=slug, title=slug, topic="Soundness", lhs=lhs, steps=[Step(rhs, "the step under test")],
                      sizes={n: Size(prove=prove, numeric=numeric)}, **extra)


def proved_labels(report) -> list:
    return [m.detail for c in report.checks for m in c.methods if m.status == "proved"]


# The evaluator reads only declared entries ---------------------------------------------------


def test_an_entry_outside_the_declared_range_is_an_error_naming_it():
    # x has entries x_1..x_n; x_0 is not one of them (NumPy would silently read x_n)
    with pytest.raises(DerivationError, match=r"x\[0\].*outside.*1\.\.3"):
        evaluate(x[0], {x: np.array([1.0, 2.0, 3.0]), n: 3})
    with pytest.raises(DerivationError, match=r"x\[k\].*outside.*1\.\.3"):
        evaluate(Sum(x[k], (k, 0, n - 1)), {x: np.array([1.0, 2.0, 3.0]), n: 3})


def test_a_shifted_sum_is_not_accepted_when_the_symbolic_methods_time_out():
    # sum_{k=0}^{n-1} x_k reads x_0, which does not exist; it is not sum_{k=1}^{n} x_k
    derivation = one_step("shifted-sum", Sum(x[k], (k, 1, n)), Sum(x[k], (k, 0, n - 1)))
    with pytest.raises(DerivationError, match=r"derivation 'shifted-sum', step 1: .*x\[k\]"):
        verify(derivation, NO_SYMBOLIC)


def test_an_undeclared_index_is_an_error_naming_it():
    # j is used as an index of x but has no declared range: it must not be sampled as a real number
    derivation = one_step("undeclared-index", x[j], x[j])
    with pytest.raises(DerivationError, match=r"derivation 'undeclared-index'.*index j.*indices=\{j: n\}"):
        verify(derivation)


def test_sums_whose_limits_depend_on_an_outer_index_evaluate():
    # sum_{i=1}^{n} sum_{k=i+1}^{n} 1 = n (n - 1) / 2 pairs, and sum_{k=1}^{i} x_k is the running sum
    assert float(evaluate(Sum(Sum(1, (k, i + 1, n)), (i, 1, n)), {n: 5})) == 10.0
    values = np.array([1.0, 2.0, 3.0, 4.0])
    running = evaluate(Sum(x[k], (k, 1, i)), {x: values, n: 4}, {i: (1, 4)})
    assert running.tolist() == np.cumsum(values).tolist()
    # a body that depends on both indices reads only in-range entries: sum_{k=1}^{i} x_{i-k+1}
    reversed_running = evaluate(Sum(x[i - k + 1], (k, 1, i)), {x: values, n: 4}, {i: (1, 4)})
    assert reversed_running.tolist() == np.cumsum(values).tolist()


def test_a_matrix_entry_outside_the_matrix_is_an_error():
    # matrix entries are 0-based, as in SymPy: a 2 x 2 matrix has rows 0 and 1
    N = sp.Symbol("N", integer=True, positive=True)
    A = sp.MatrixSymbol("A", N, N)
    with pytest.raises(DerivationError, match=r"A\[i, 0\].*outside.*0\.\.1"):
        evaluate(A[i, 0], {A: np.eye(2), N: 2}, {i: (1, 2)})
