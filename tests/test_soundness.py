"""Ways a verifier can be fooled into a false verdict, each closed: a wrong step is never "proved".

Each test states the mathematics it relies on first, then asserts what the engine must do.
"""

import numpy as np
import pytest
import sympy as sp
from sympy import IndexedBase, Sum

from symformer import Derivation, DerivationError, Size, Step, VerifyConfig, verify
from symformer.engine.evaluate import evaluate
from symformer.engine.index import equal_in_general

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
    # j is used as an index of x but has no declared range: it must not be sampled as a real number;
    # the derivation is refused as it is made, before any check could run
    with pytest.raises(DerivationError, match=r"derivation 'undeclared-index'.*index j.*indices=\{j: n\}"):
        one_step("undeclared-index", x[j], x[j])


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


# An empty sum is 0, in every method ------------------------------------------------------------


def test_the_index_prover_counts_terms_only_where_the_range_is_never_negative():
    from symformer.engine.index import equal_in_general

    # sum_{k=1}^{n} 1 = n for every n >= 1; sum_{k=1}^{n-2} 1 = n - 2 fails at n = 1, where the sum is empty
    assert equal_in_general(Sum(1, (k, 1, n)), n, {})
    assert not equal_in_general(Sum(1, (k, 1, n - 2)), n - 2, {})
    # sum_{k=i+1}^{n} 1 = n - i is never negative for i in 1..n
    assert equal_in_general(Sum(1, (k, i + 1, n)), n - i, {i: (1, n)})
    assert not equal_in_general(Sum(1, (k, i + 2, n)), n - i - 1, {i: (1, n)})


@pytest.mark.parametrize("lhs, rhs", [
    (Sum(1, (k, 4, n)), n - 3),  # a window starting at 4: empty, so 0, for n < 4
    (Sum(1, (k, 1, n - 2)), n - 2),  # false at n = 1
    (Sum(Sum(1, (k, 1, i - 2)), (i, 1, n)), (n - 2) * (n - 1) / 2 - 1),  # Karr's convention would give -1 at i = 1
    # Karr's convention joins the ranges 1..n-1 and n..1 into 1..1; with empty sums 0 they give x_1 + ... + x_{n-1}
    (Sum(x[k], (k, 1, n - 1)) + Sum(x[k], (k, n, 1)), x[1]),
], ids=["window", "short-range", "karr-inner", "karr-join"])
def test_a_count_over_a_range_that_can_be_empty_is_never_proved_when_false(lhs, rhs):
    report = verify(one_step("empty-range", lhs, rhs))
    assert not report.ok
    assert proved_labels(report) == []


@pytest.mark.parametrize("lhs, rhs, level", [
    (Sum(Sum(1, (k, i + 1, n)), (i, 1, n)), n * (n - 1) / 2, "proved for all n"),  # pairs i < k
    (Sum(Sum(1, (k, i + 2, n)), (i, 1, n)), (n - 1) * (n - 2) / 2, "proved for n = 1..4"),  # pairs k >= i + 2
    (Sum(1, (k, 4, n)), sp.Max(0, n - 3), "proved for n = 1..4"),
], ids=["triangle", "dilated", "window"])
def test_a_correct_count_with_empty_inner_ranges_is_accepted(lhs, rhs, level):
    report = verify(one_step("count", lhs, rhs))
    assert report.ok, report.describe_failures()
    assert report.checks[0].level == level


# Stand-ins for entries never collide with other inputs -------------------------------------------


def _two_sizes(slug, lhs, rhs):
    N, M = sp.symbols("N M", integer=True, positive=True)
    return Derivation(slug=slug, title=slug, topic="Soundness", lhs=lhs, steps=[Step(rhs, "the step under test")],
                      sizes={N: Size(prove=range(2, 4), numeric=8), M: Size(prove=range(2, 4), numeric=8)})


N_, M_ = sp.symbols("N M", integer=True, positive=True)


@pytest.mark.parametrize("lhs, rhs", [
    # the entry x_1 of the vector x and a scalar named x_1 are two inputs
    (x[1], sp.Symbol("x_1", real=True)),
    # row 1 of the matrix W and a separate vector named W_1
    (sp.MatrixSymbol("W", N_, M_)[1, 1], IndexedBase("W_1", shape=(M_,), real=True)[1]),
    # an IndexedBase and a MatrixSymbol of one name: Q[1, 1] (1-based) and Q_{1,1} (0-based) are other entries
    (sp.MatrixSymbol("Q", N_, M_)[1, 1], IndexedBase("Q", shape=(N_, M_), real=True)[1, 1]),
], ids=["entry-and-scalar", "row-and-vector", "indexed-and-matrix"])
def test_an_entry_and_another_input_with_the_same_printed_name_are_not_confused(lhs, rhs):
    derivation = _two_sizes("name-collision", lhs, rhs) if lhs.free_symbols & {N_, M_} or rhs.free_symbols & {N_, M_} \
        else one_step("name-collision", lhs, rhs)
    report = verify(derivation)
    assert not report.ok
    assert proved_labels(report) == []


def test_an_exponential_is_not_confused_with_a_symbol_named_like_its_stand_in():
    # exp(a) is not the independent positive input E0
    a = sp.Symbol("a", real=True)
    derivation = Derivation(slug="exp-stand-in", title="t", topic="Soundness", lhs=sp.exp(a),
                            steps=[Step(sp.Symbol("E0", positive=True), "the step under test")])
    report = verify(derivation)
    assert not report.ok and proved_labels(report) == []


# Only what the domains give is assumed ----------------------------------------------------------


def test_an_exponential_with_an_imaginary_exponent_is_not_assumed_positive():
    # sqrt(e^{2 i m theta}) = e^{i m theta} only while |m theta| < pi/2 (principal root): e.g. m theta = 2
    m = sp.Symbol("m", integer=True, positive=True)
    theta = sp.Symbol("theta", positive=True)
    lhs, rhs = sp.sqrt(sp.exp(2 * sp.I * m * theta)), sp.exp(sp.I * m * theta)
    from symformer.engine.zero import is_zero

    assert not is_zero(lhs - rhs)
    assert is_zero(sp.sqrt(sp.exp(2 * theta)) - sp.exp(theta))  # a real exponent: e^{theta} > 0
    report = verify(Derivation(slug="imaginary-exponent", title="t", topic="Soundness", lhs=lhs,
                               steps=[Step(rhs, "the step under test")]))
    assert not report.ok
    assert proved_labels(report) == []


def test_an_integer_scalar_is_sampled_as_an_integer():
    # (1 + (-1)^m)(1 - (-1)^m) = 1 - (-1)^{2m} = 0 for integer m; (-1)^m of a real m is not even real
    m = sp.Symbol("m", integer=True)
    report = verify(Derivation(slug="integer-scalar", title="t", topic="Soundness", lhs=(1 + (-1) ** m) * (1 - (-1) ** m),
                               steps=[Step(0, "m is an integer")]), NO_SYMBOLIC)
    assert report.ok, report.describe_failures()


def test_the_evaluator_computes_with_complex_numbers_where_the_expression_has_them():
    # e^{i a} = cos a + i sin a
    a = sp.Symbol("a", real=True)
    assert complex(evaluate(sp.exp(sp.I * a), {a: 1.0})) == pytest.approx(complex(np.cos(1.0), np.sin(1.0)))
    assert evaluate(Sum(sp.exp(sp.I * k * a), (k, 1, n)), {a: 0.5, n: 3}).dtype == complex


# A non-finite value is never evidence of equality ----------------------------------------------


def test_minus_infinity_against_plus_infinity_is_a_difference_at_50_digits():
    # S + B = S - B is false wherever the causal mask B is -inf: there the sides are -inf and +inf
    from symformer.blocks import CausalMask

    S = sp.MatrixSymbol("S", N_, M_)
    report = verify(_two_sizes("mask-sign", S + CausalMask(N_, M_), S - CausalMask(N_, M_)))
    (check,) = report.checks
    assert not check.ok
    statuses = {m.method: m.status for m in check.methods}
    assert statuses["50-digit identity"] == "failed"
    assert proved_labels(report) == []


def test_a_masked_identity_still_holds_where_both_sides_are_the_same_infinity():
    # B + S = S + B holds entry by entry, -inf = -inf at the masked entries, and finite entries witness it
    from symformer.blocks import CausalMask

    S = sp.MatrixSymbol("S", N_, M_)
    report = verify(_two_sizes("mask-commutes", CausalMask(N_, M_) + S, S + 2 * CausalMask(N_, M_) - CausalMask(N_, M_) * 1),
                    NO_SYMBOLIC)
    assert report.ok, report.describe_failures()
    assert report.checks[0].level == "checked numerically at N = 8, M = 8"


def test_both_sides_overflowing_to_the_same_infinity_is_not_agreement():
    # (a + 6)^(10^7) and (a + 7)^(10^7) differ, but both overflow to +inf in float64
    a = sp.Symbol("a", positive=True)
    report = verify(Derivation(slug="overflow", title="t", topic="Soundness", lhs=(a + 6) ** (10**7),
                               steps=[Step((a + 7) ** (10**7), "the step under test")]), NO_SYMBOLIC)
    (check,) = report.checks
    assert not check.ok
    float64 = next(m for m in check.methods if m.method == "float64")
    assert float64.status == "inconclusive" and "not finite" in float64.detail


def test_nan_on_both_sides_in_float64_is_not_agreement_either():
    # sqrt(-1 - a^2) is NaN in real arithmetic for every a: nothing is witnessed
    a = sp.Symbol("a", real=True)
    report = verify(Derivation(slug="nan-sides", title="t", topic="Soundness", lhs=sp.sqrt(-1 - a**2),
                               steps=[Step(sp.sqrt(-1 - a**2) + 1, "the step under test")]), NO_SYMBOLIC)
    assert not report.ok
    assert "checked numerically" not in report.checks[0].level


# Float64 reaches every declared size symbol's edges ---------------------------------------------


def test_float64_reaches_a_counterexample_where_every_size_is_at_its_boundary():
    # x_1 + [N + M + K = 6] = x_1 is false only at N = M = K = 2, beyond the six smallest combinations
    N, M, K = sp.symbols("N M K", integer=True, positive=True)
    y = IndexedBase("y", shape=(N,), real=True)
    derivation = Derivation(slug="three-sizes", title="t", topic="Soundness", lhs=y[1] + sp.KroneckerDelta(N + M + K, 6),
                            steps=[Step(y[1], "the step under test")],
                            sizes={s: Size(prove=range(1, 3), numeric=8) for s in (N, M, K)})
    report = verify(derivation, NO_SYMBOLIC)
    (check,) = report.checks
    assert not check.ok
    assert check.failure.method == "float64"
    assert check.counterexample.sizes == {N: 2, M: 2, K: 2}


def test_a_scalar_identity_is_checked_at_several_points_in_float64():
    # |a| = a holds for a >= 0 only: a few real samples include a negative one
    a = sp.Symbol("a", real=True)
    derivation = Derivation(slug="abs", title="t", topic="Soundness", lhs=sp.Abs(a), steps=[Step(a, "the step under test")])
    for seed in range(6):
        report = verify(derivation, VerifyConfig(time_bound=1e-4, seed=seed))
        assert not report.ok and report.checks[0].failure.method == "float64", seed


# User code cannot stop or fool a verification ---------------------------------------------------

from symformer import Gradient, Property, Witness  # noqa: E402


def _with_claim(slug, claim, **extra):
    return one_step(slug, Sum(x[k] ** 2, (k, 1, n)), Sum(x[k] ** 2, (k, 1, n)), prove=range(1, 3), claims=[claim], **extra)


def _loop_forever(*args):
    while True:
        pass


def test_an_exact_witness_that_times_out_is_recorded_as_a_timeout():
    claim = Property("slow exact witness", exact=_loop_forever, numeric=lambda rng, sizes: Witness(True))
    check = verify(_with_claim("slow-exact", claim), VerifyConfig(time_bound=0.2)).checks[-1]
    exact = next(m for m in check.methods if m.method == "symbolic, each size")
    assert exact.status == "timeout" and "timed out" in exact.detail


@pytest.fixture
def short_user_bound(monkeypatch):
    import symformer.engine.verify as verify_module

    monkeypatch.setattr(verify_module, "MIN_USER_SECONDS", 1.0)


def test_a_numeric_witness_that_loops_is_stopped_by_the_time_bound(short_user_bound):
    claim = Property("looping numeric witness", exact=lambda sizes: None, numeric=_loop_forever)
    with pytest.raises(DerivationError, match=r"derivation 'looping', claim 'looping numeric witness': the numeric witness "
                                              r"did not return within 1 s"):
        verify(_with_claim("looping", claim), VerifyConfig(time_bound=0.2))


def test_a_witness_that_swallows_the_timeout_is_still_stopped(short_user_bound):
    def stubborn(rng, sizes):
        while True:
            try:
                while True:
                    pass
            except Exception:
                pass

    claim = Property("stubborn witness", exact=lambda sizes: None, numeric=stubborn)
    with pytest.raises(DerivationError, match="did not return within"):
        verify(_with_claim("stubborn", claim), VerifyConfig(time_bound=0.2))


@pytest.mark.parametrize("numeric, message", [
    (lambda rng, sizes: 1 / 0, r"the numeric witness raised ZeroDivisionError: division by zero"),
    (lambda rng, sizes: True, r"the numeric witness returned bool; return Witness\(holds, detail\) or None"),
    (lambda rng, sizes: Witness("false"), r"the numeric witness's Witness.holds is str; it must be True or False"),
    (lambda rng, sizes: __import__("sys").exit(0), r"the numeric witness called sys.exit\(0\)"),
], ids=["raises", "returns-bool", "string-holds", "exits"])
def test_a_broken_witness_is_an_error_naming_the_claim_and_the_cause(numeric, message):
    claim = Property("broken witness", exact=lambda sizes: None, numeric=numeric)
    with pytest.raises(DerivationError, match=r"derivation 'broken', claim 'broken witness': " + message):
        verify(_with_claim("broken", claim))


def test_a_forward_or_reference_that_raises_is_an_error_naming_it():
    def broken(x):
        raise ValueError("no such layer")

    for role, spec in [("forward", Gradient(forward=broken, reference=lambda x: 2 * x, wrt="x", indices=(i,))),
                       ("reference", Gradient(forward=lambda x: (x**2).sum(), reference=broken, wrt="x", indices=(i,)))]:
        derivation = Derivation(slug="broken-result", title="t", topic="Soundness",
                                lhs=sp.Derivative(Sum(x[k] ** 2, (k, 1, n)), x[i]), steps=[Step(2 * x[i], "power rule")],
                                sizes={n: Size(prove=range(1, 3), numeric=8)}, indices={i: n}, result=spec)
        with pytest.raises(DerivationError, match=rf"derivation 'broken-result', final result: the {role} raised "
                                                  r"ValueError: no such layer"):
            verify(derivation)


def test_a_report_with_complex_or_infinite_values_is_strict_json():
    import json

    m = sp.Symbol("m", integer=True, positive=True)
    theta = sp.Symbol("theta", positive=True)
    report = verify(Derivation(slug="complex-counterexample", title="t", topic="Soundness",
                               lhs=sp.sqrt(sp.exp(2 * sp.I * m * theta)), steps=[Step(sp.exp(sp.I * m * theta), "wrong")]))
    text = json.dumps(report.to_dict(), allow_nan=False)
    assert "j" in json.loads(text)["checks"][0]["counterexample"]["lhs"]


# Finite differences are judged by their own accuracy ----------------------------------------------


def test_a_correct_gradient_of_a_large_function_is_not_rejected_by_rounding():
    # d/dx_i sum_k (x_k^2 + 10^4) = 2 x_i; central differences of a function of size 10^4 n round at
    # about eps |f| / h = 3e-6, above the fixed atol of 1e-7
    lhs = sp.Derivative(Sum(x[k] ** 2 + 10**4, (k, 1, n)), x[i])
    derivation = one_step("large-function", lhs, 2 * x[i], prove=range(1, 3), numeric=64, indices={i: n})
    report = verify(derivation, NO_SYMBOLIC)
    assert report.ok, report.describe_failures()


def test_a_gradient_that_is_wrong_by_a_little_is_still_rejected_in_float64():
    # 2 x_i + 10^-3 is not the gradient; the tolerance grows with the function, not enough to hide this
    lhs = sp.Derivative(Sum(x[k] ** 2 + 10**4, (k, 1, n)), x[i])
    derivation = one_step("large-function-wrong", lhs, 2 * x[i] + sp.Rational(1, 1000), prove=range(1, 3), numeric=64,
                          indices={i: n})
    report = verify(derivation, NO_SYMBOLIC)
    assert not report.ok and report.checks[0].failure.method == "float64"


def test_the_final_results_finite_differences_scale_with_the_function():
    # forward = sum_k x_k^2 + 10^8: its central differences at h = 1e-6 round at about 2e-2
    derivation = Derivation(slug="large-forward", title="t", topic="Soundness",
                            lhs=sp.Derivative(Sum(x[k] ** 2, (k, 1, n)), x[i]), steps=[Step(2 * x[i], "power rule")],
                            sizes={n: Size(prove=range(1, 3), numeric=16)}, indices={i: n},
                            result=Gradient(forward=lambda x: (x**2).sum() + 1e8, reference=lambda x: 2 * x, wrt="x", indices=(i,)))
    report = verify(derivation)
    assert report.ok, report.describe_failures()
    wrong = Derivation(slug="large-forward-wrong", title="t", topic="Soundness",
                       lhs=sp.Derivative(Sum(x[k] ** 2, (k, 1, n)), x[i]), steps=[Step(2 * x[i], "power rule")],
                       sizes={n: Size(prove=range(1, 3), numeric=16)}, indices={i: n},
                       result=Gradient(forward=lambda x: (x**2).sum() + 1e8 + x[0], reference=lambda x: 2 * x, wrt="x",
                                       indices=(i,)))
    assert not verify(wrong).ok


def test_a_product_whose_inner_sizes_do_not_fit_is_an_error_naming_the_step():
    # Q K is not defined for Q: N x d and K: M x d; SymPy accepts it while N, M, d are symbols
    N, M, d = sp.symbols("N M d", integer=True, positive=True)
    Q, K = sp.MatrixSymbol("Q", N, d), sp.MatrixSymbol("K", M, d)
    with pytest.raises(DerivationError, match=r"derivation 'bad-product', step 1: in .*Q \(N x d\) cannot multiply K \(M x d\)"):
        Derivation(slug="bad-product", title="t", topic="Soundness", lhs=Q * K.T * K.T.T,
                   sizes={N: Size(), M: Size(), d: Size()}, steps=[Step(Q * K, "drop a factor")])


def test_a_domain_that_samples_values_the_declaration_excludes_is_an_error():
    # x declared positive but sampled from "real": a proof may use x > 0 that the samples contradict
    w = IndexedBase("w", shape=(n,), positive=True)
    derivation = one_step("conflicting-domain", sp.sqrt(w[1] ** 2), w[1], domains={w: "real"})
    with pytest.raises(DerivationError, match=r"derivation 'conflicting-domain': the domain 'real' gave w the value .*, "
                                              r"but w is declared positive"):
        verify(derivation)


def test_an_integer_indexed_input_is_sampled_as_integers():
    # (-1)^(2 t_k) = 1 for integer t_k
    t = IndexedBase("t", shape=(n,), integer=True)
    report = verify(one_step("integer-entries", (-1) ** (2 * t[1]) * (1 + (-1) ** t[1]) * (1 - (-1) ** t[1]), 0), NO_SYMBOLIC)
    assert report.ok, report.describe_failures()


def test_two_inputs_of_one_name_and_different_shapes_are_an_error():
    # x (n entries) and x (m entries), or A (N x M) and A (M x N), are one name for two inputs
    m = sp.Symbol("m", integer=True, positive=True)
    xm = IndexedBase("x", shape=(m,), real=True)
    derivation = Derivation(slug="two-x", title="t", topic="Soundness", lhs=x[1] + xm[1], steps=[Step(2 * x[1], "same")],
                            sizes={n: Size(prove=(1, 2)), m: Size(prove=(1, 2))})
    with pytest.raises(DerivationError, match=r"derivation 'two-x': two inputs are named x \(shapes \(m,\) and \(n,\)\)"):
        verify(derivation)
    A, B = sp.MatrixSymbol("A", N_, M_), sp.MatrixSymbol("A", M_, N_)
    with pytest.raises(DerivationError, match=r"two inputs are named A"):
        verify(_two_sizes("two-a", A, B.T))
    # two IndexedBases of one name and shape but other assumptions
    with pytest.raises(DerivationError, match=r"two inputs are named y"):
        verify(_two_sizes("two-y", IndexedBase("y", shape=(N_,), real=True)[1], IndexedBase("y", shape=(N_,), positive=True)[1]))


def test_a_sum_in_a_denominator_that_may_be_empty_blocks_the_proof_for_all_sizes():
    # sum_j e^{z_j} / sum_k e^{z_k} is the empty sum 0 at n = 0, not 1: cancelling s / s would prove it
    n = sp.Symbol("n", integer=True, nonnegative=True)
    j, k = sp.symbols("j k", integer=True)
    z = sp.IndexedBase("z", shape=(n,), real=True)
    total = sp.Sum(sp.exp(z[j]) / sp.Sum(sp.exp(z[k]), (k, 1, n)), (j, 1, n))
    assert not equal_in_general(total, 1, {})
    m = sp.Symbol("m", integer=True, positive=True)
    w = sp.IndexedBase("w", shape=(m,), real=True)
    assert equal_in_general(sp.Sum(sp.exp(w[j]) / sp.Sum(sp.exp(w[k]), (k, 1, m)), (j, 1, m)), 1, {})
    derivation = Derivation(slug="softmax-may-be-empty", title="t", topic="Demo", lhs=total,
                            sizes={n: Size(prove=(0, 1, 2), numeric=4)}, steps=[Step(sp.Integer(1), "the weights sum to one")])
    (step,) = verify(derivation).checks
    assert not step.ok and not any(m.method == "symbolic, all sizes" and m.status == "proved" for m in step.methods)
