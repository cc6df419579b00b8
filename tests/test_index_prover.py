"""The index-notation prover's rewrites: each true identity proves for all sizes, each near miss does not.

A sum over an empty range is 0 (Karr's convention, where sum_{k=4}^{1} = -sum_{k=2}^{3}, is not the
course's), sizes are counts (at least 1 when declared positive, else at least 0) and a free index
lies in its range. Each test writes the identity first, then asserts what the prover must do.
"""

import json

import pytest
import sympy as sp
from sympy import IndexedBase, KroneckerDelta, Piecewise, Sum, exp

from symformer.blocks.attention import CausalMask, MaskedEntries
from symformer.cli import main
from symformer.engine.index import Rewrite, equal_in_general, normal_form
from symformer.engine.results import CheckResult, MethodResult, Report, report_from_dict
from symformer.notation import to_latex

n, m, p, M, d_v, d_k = sp.symbols("n m p M d_v d_k", integer=True, positive=True)
t, u = sp.symbols("t u", integer=True, nonnegative=True)
i, j, k, l, c, a, b = sp.symbols("i j k l c a b", integer=True)
A, B, C, W, V, dO, x, y = (IndexedBase(name) for name in ("A", "B", "C", "W", "V", "dO", "x", "y"))


# Exchange of finite sums ---------------------------------------------------------------------


def test_flash_attentions_d_proves_with_the_sums_exchanged():
    # sum_j W_ij sum_c dO_ic V_jc = sum_c dO_ic sum_j W_ij V_jc
    lhs = Sum(W[i, j] * Sum(dO[i, c] * V[j, c], (c, 1, d_v)), (j, 1, M))
    rhs = Sum(dO[i, c] * Sum(W[i, j] * V[j, c], (j, 1, M)), (c, 1, d_v))
    assert equal_in_general(lhs, rhs, {i: (1, n)})


def test_an_exchange_that_swaps_the_ranges_does_not_prove():
    # the same sums with the ranges of j and c exchanged sum over other entries
    lhs = Sum(W[i, j] * Sum(dO[i, c] * V[j, c], (c, 1, d_v)), (j, 1, M))
    assert not equal_in_general(lhs, Sum(dO[i, c] * Sum(W[i, j] * V[j, c], (j, 1, d_v)), (c, 1, M)), {i: (1, n)})
    assert not equal_in_general(lhs, Sum(dO[i, c] * Sum(W[i, j] * V[c, j], (j, 1, M)), (c, 1, d_v)), {i: (1, n)})


def test_products_of_matrices_associate_in_index_notation():
    # ((A B) C)_ij = (A (B C))_ij
    lhs = Sum(Sum(A[i, k] * B[k, l], (k, 1, n)) * C[l, j], (l, 1, p))
    rhs = Sum(A[i, k] * Sum(B[k, l] * C[l, j], (l, 1, p)), (k, 1, n))
    assert equal_in_general(lhs, rhs, {i: (1, m), j: (1, m)})
    # (A B^T) C is another product
    assert not equal_in_general(lhs, Sum(A[i, k] * Sum(B[l, k] * C[l, j], (l, 1, p)), (k, 1, n)), {i: (1, m), j: (1, m)})


def test_a_trace_of_three_is_cyclic_but_not_symmetric():
    # tr(A B C) = tr(C A B) = sum_{k,l,q} A_kl B_lq C_qk; tr(A C B) differs
    q = sp.Symbol("q", integer=True)
    abc = Sum(Sum(Sum(A[k, l] * B[l, q] * C[q, k], (q, 1, n)), (l, 1, n)), (k, 1, n))
    cab = Sum(Sum(Sum(C[a, b] * A[b, c] * B[c, a], (c, 1, n)), (b, 1, n)), (a, 1, n))
    acb = Sum(Sum(Sum(A[k, l] * C[l, q] * B[q, k], (q, 1, n)), (l, 1, n)), (k, 1, n))
    assert equal_in_general(abc, cab, {})
    assert not equal_in_general(abc, acb, {})


def test_a_multi_limit_sum_is_the_nested_sum():
    # Sum(f, (j, 1, M), (c, 1, d_v)) = sum_c sum_j f: the grouped-query form
    f = W[i, j] * dO[i, c] * V[j, c]
    assert equal_in_general(Sum(f, (j, 1, M), (c, 1, d_v)), Sum(Sum(f, (c, 1, d_v)), (j, 1, M)), {i: (1, n)})
    assert not equal_in_general(Sum(f, (j, 1, M), (c, 1, d_v)), Sum(Sum(f, (c, 1, M)), (j, 1, d_v)), {i: (1, n)})


def test_a_square_of_a_sum_is_a_double_sum():
    # (sum_k x_k)^2 = sum_k sum_l x_k x_l, and not sum_k x_k^2
    assert equal_in_general(Sum(x[k], (k, 1, n)) ** 2, Sum(Sum(x[k] * x[l], (l, 1, n)), (k, 1, n)), {})
    assert not equal_in_general(Sum(x[k], (k, 1, n)) ** 2, Sum(x[k] ** 2, (k, 1, n)), {})


def test_a_dummy_named_like_a_free_index_is_never_captured():
    # x_k sum_j y_j sum_k V_k, with k free outside: the inner k is bound, so this is x_k (sum y)(sum V), not (sum x V)(sum y)
    nested = x[k] * Sum(y[j] * Sum(V[k], (k, 1, n)), (j, 1, n))
    assert equal_in_general(nested, x[k] * Sum(y[j], (j, 1, n)) * Sum(V[j], (j, 1, n)), {k: (1, n)})
    assert not equal_in_general(nested, Sum(x[j] * V[j], (j, 1, n)) * Sum(y[j], (j, 1, n)), {k: (1, n)})


def test_triangular_sums_exchange_with_their_limits():
    # sum_{i=1}^{n} sum_{j=1}^{i} x_i y_j = sum_{j=1}^{n} sum_{i=j}^{n} x_i y_j
    lhs = Sum(Sum(x[i] * y[j], (j, 1, i)), (i, 1, n))
    assert equal_in_general(lhs, Sum(Sum(x[i] * y[j], (i, j, n)), (j, 1, n)), {})
    # the strict triangle i > j has no diagonal, and exchanging the names without the limits is wrong
    assert not equal_in_general(lhs, Sum(Sum(x[i] * y[j], (i, j + 1, n)), (j, 1, n)), {})
    assert not equal_in_general(lhs, Sum(Sum(x[i] * y[j], (i, 1, j)), (j, 1, n)), {})
    # a summand free of the outer dummy: sum_{i=1}^{n} sum_{j=1}^{i} x_j counts each x_j n - j + 1 times, not n - j
    running = Sum(Sum(x[j], (j, 1, i)), (i, 1, n))
    assert equal_in_general(running, Sum((n - j + 1) * x[j], (j, 1, n)), {})
    assert not equal_in_general(running, Sum((n - j) * x[j], (j, 1, n)), {})
    # a triangle with a free index: sum_{k=1}^{a} sum_{l=k}^{a} = sum_{l=1}^{a} sum_{k=1}^{l}
    assert equal_in_general(Sum(Sum(A[k, l], (l, k, a)), (k, 1, a)), Sum(Sum(A[k, l], (k, 1, l)), (l, 1, a)), {a: (1, n)})


def test_limits_that_cannot_be_reordered_keep_a_valid_nesting():
    # c in [a, b - 1] with b in [0, a] is empty; with one lower and one upper bound per dummy out of
    # reach, the sums stay as written, and each limit may use only the dummies of the sums around it
    q = sp.Symbol("q", integer=True)
    written = Sum(b * x[a] * y[q] ** 2, (q, a, b - 1), (b, 0, a), (a, 0, n - 1))
    form = normal_form(written, {})
    for total in form.atoms(Sum):
        for position, (_, low, high) in enumerate(total.limits):
            inner = {limit[0] for limit in total.limits[: position + 1]}
            assert not (sp.sympify(low).free_symbols | sp.sympify(high).free_symbols) & inner, total


# Splitting and joining ranges ------------------------------------------------------------------


def test_adjacent_ranges_join_where_the_split_point_lies_in_the_range():
    # sum_{k=1}^{i} x_k + sum_{k=i+1}^{n} x_k = sum_{k=1}^{n} x_k for 1 <= i <= n
    assert equal_in_general(Sum(x[k], (k, 1, i)) + Sum(x[k], (k, i + 1, n)), Sum(x[k], (k, 1, n)), {i: (1, n)})
    # and the difference of nested ranges: sum_1^n - sum_1^i = sum_{i+1}^n
    assert equal_in_general(Sum(x[k], (k, 1, n)) - Sum(x[k], (k, 1, i)), Sum(x[k], (k, i + 1, n)), {i: (1, n)})


def test_overlapping_or_unrelated_ranges_do_not_join():
    # 1..i and i..n count x_i twice
    assert not equal_in_general(Sum(x[k], (k, 1, i)) + Sum(x[k], (k, i, n)), Sum(x[k], (k, 1, n)), {i: (1, n)})
    # 1..m and m+1..n for two unrelated sizes: m may exceed n, then the second range is empty, not negative
    assert not equal_in_general(Sum(x[k], (k, 1, m)) + Sum(x[k], (k, m + 1, n)), Sum(x[k], (k, 1, n)), {})


def test_a_difference_of_sums_where_karrs_convention_would_disagree_does_not_prove():
    # with empty ranges 0: at n = 1, m = 3 the left side is x_1 - x_1 - x_2 - x_3 and the right side 0;
    # Karr's convention would make sum_{k=4}^{1} x_k = -(x_2 + x_3) and the two "equal"
    assert not equal_in_general(Sum(x[k], (k, 1, n)) - Sum(x[k], (k, 1, m)), Sum(x[k], (k, m + 1, n)), {})


def test_a_mask_splits_its_sum_where_the_condition_changes():
    # sum_{j=1}^{t+u} [j <= t] x_j = sum_{j=1}^{t} x_j for counts t, u >= 0 (the KV cache's row)
    masked = Sum(Piecewise((x[j], j <= t), (0, True)), (j, 1, t + u))
    assert equal_in_general(masked, Sum(x[j], (j, 1, t)), {})
    # e^{S_j + B_j} with B_j = -oo after t: the later keys add 0 exactly
    scores = Sum(exp(y[j] + Piecewise((0, j <= t), (-sp.oo, True))), (j, 1, t + u))
    assert equal_in_general(scores, Sum(exp(y[j]), (j, 1, t)), {})


def test_a_causal_mask_inside_a_double_sum_becomes_a_triangle():
    # sum_i sum_j [j <= i] i x_j = sum_j sum_{i=j}^{n} i x_j, and the strict triangle (i > j) is another sum
    masked = Sum(Sum(Piecewise((i * x[j], j <= i), (0, True)), (j, 1, n)), (i, 1, n))
    assert equal_in_general(masked, Sum(Sum(i * x[j], (i, j, n)), (j, 1, n)), {})
    assert not equal_in_general(masked, Sum(Sum(i * x[j], (i, j + 1, n)), (j, 1, n)), {})
    # the mask's condition never leaves the sum that binds j (SymPy's own fold would take it out)
    form = normal_form(i * masked, {})
    assert not form.free_symbols & {j}


def test_a_mask_whose_point_may_lie_outside_the_range_does_not_split():
    # [j <= m] over 1..n for unrelated sizes: when m > n the sum is all of 1..n, not 1..m
    masked = Sum(Piecewise((x[j], j <= m), (0, True)), (j, 1, n))
    assert not equal_in_general(masked, Sum(x[j], (j, 1, m)), {})
    # a strict condition is one index shorter
    assert not equal_in_general(Sum(Piecewise((x[j], j < t), (0, True)), (j, 1, t + u)), Sum(x[j], (j, 1, t)), {})


def test_the_causal_alignments_agree_only_for_square_masks():
    # top-left j <= i and bottom-right j <= i + (M - N) are one mask when M = N
    assert equal_in_general(MaskedEntries(CausalMask(n, n, "top-left")), MaskedEntries(CausalMask(n, n, "bottom-right")), {})
    assert not equal_in_general(MaskedEntries(CausalMask(n, m, "top-left")), MaskedEntries(CausalMask(n, m, "bottom-right")), {})


def test_an_explicit_matrix_is_left_to_the_exact_check_at_each_size():
    # an explicit matrix has no entry at a symbolic position: not proved here, and no error either
    assert not equal_in_general(sp.ImmutableMatrix([[0, 1], [0, 0]]), MaskedEntries(CausalMask(2, 2)), {})


def test_a_masked_entry_at_symbolic_indices_keeps_its_condition():
    # 1[B_ij = -oo] for the causal mask is 1 exactly where j > i (SymPy's Eq alone says "always")
    entry = MaskedEntries(CausalMask(n, n))[i, j]
    assert entry.subs({i: 2, j: 1}) == 0 and entry.subs({i: 1, j: 2}) == 1 and entry.subs({i: 1, j: 1}) == 0


# The chain of rewrites --------------------------------------------------------------------------


def test_a_proof_records_its_named_rewrites_in_order():
    # delta contraction, then the exchange of the sums over j and c
    chain = []
    lhs = Sum(W[i, j] * Sum(dO[i, c] * V[j, c] * KroneckerDelta(c, k), (c, 1, d_v)), (j, 1, M))
    rhs = Sum(dO[i, k] * W[i, j] * V[j, k], (j, 1, M))
    assert equal_in_general(lhs, rhs, {i: (1, n), k: (1, d_v)}, explain=chain)
    names = [r.name for r in chain]
    assert all(isinstance(r, Rewrite) for r in chain)
    assert "contract δ(c, k): k runs over c's range 1..d_v" in names
    assert names[-1] == "the normal forms are equal"
    contraction = chain[names.index("contract δ(c, k): k runs over c's range 1..d_v")]
    assert contraction.after == dO[i, k] * V[j, k]
    assert contraction.to_dict()["after_latex"] == to_latex(dO[i, k] * V[j, k])


def test_the_chain_names_the_exchange_the_split_and_the_join():
    chain = []
    flash = Sum(W[i, j] * Sum(dO[i, c] * V[j, c], (c, 1, d_v)), (j, 1, M))
    assert equal_in_general(flash, Sum(dO[i, c] * Sum(W[i, j] * V[j, c], (j, 1, M)), (c, 1, d_v)), {i: (1, n)}, explain=chain)
    assert any(r.name.startswith("exchange the sums over ") and "into the canonical order" in r.name for r in chain)
    chain = []
    masked = Sum(Piecewise((x[j], j <= t), (0, True)), (j, 1, t + u))
    assert equal_in_general(masked, Sum(x[j], (j, 1, t)), {}, explain=chain)
    assert chain[0].name == "split the sum over j where j <= t changes"
    chain = []
    assert equal_in_general(Sum(x[k], (k, 1, i)) + Sum(x[k], (k, i + 1, n)), Sum(x[k], (k, 1, n)), {i: (1, n)}, explain=chain)
    assert "join the sums over adjacent ranges" in [r.name for r in chain]


def test_an_explained_report_reads_back_with_its_rewrites():
    rewrite = {"rewrite": "count the terms of the sum over k", "before": "Sum(1, (k, 1, n))", "after": "n",
               "before_latex": r"\sum_{k=1}^{n} 1", "after_latex": "n"}
    method = MethodResult("symbolic, all sizes", "proved", "proved for all n", seconds=0.1, rewrites=[rewrite])
    report = Report("s", "t", "T", [CheckResult("step", "step 1", [method])])
    back = report_from_dict(report.to_dict())
    assert back is not None and back.checks[0].methods[0].rewrites == [rewrite]
    damaged = report.to_dict()
    damaged["checks"][0]["methods"][0]["rewrites"] = [{"rewrite": "x"}]
    assert report_from_dict(damaged) is None


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "cache"))


def test_verify_explain_prints_the_chain_and_json_carries_it(private_cache, capsys):
    assert main(["verify", "grouped-query-kv-gradient", "--explain", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "grouped-query-kv-gradient, step 1: proved for all g, N, M, d_k, d_v" in out
    assert "contract δ(" in out and "the normal forms are equal" in out
    # the second run reads the cache: the chain is the stored one, not an empty one
    assert main(["verify", "grouped-query-kv-gradient", "--explain", "--quiet", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    (report,) = document["derivations"]
    assert report.get("cached") is True
    general = [m for ch in report["checks"] for m in ch["methods"] if m["method"] == "symbolic, all sizes"]
    assert general and all(m["rewrites"] and m["rewrites"][-1]["rewrite"] == "the normal forms are equal" for m in general)


def test_verify_explain_cannot_watch(capsys):
    assert main(["verify", "--watch", "--explain", "x.py"]) == 2
    assert "--explain" in capsys.readouterr().err


def test_a_delta_contracts_with_an_index_expression_only_where_it_provably_lies_in_the_range():
    t, w, k = sp.symbols("t w k", integer=True)
    x = IndexedBase("x", shape=(n,))
    picked = Sum(x[k] * KroneckerDelta(k, t + 1), (k, 1, n))
    assert equal_in_general(picked, x[t + 1], {t: (1, n - 1)})  # t + 1 lies in 1..n
    assert not equal_in_general(picked, x[t + 1], {t: (1, n)})  # at t = n the sum is 0, not x[n + 1]
    later = Sum(x[k] * KroneckerDelta(k, t + w), (k, 1, n))
    assert equal_in_general(later, x[t + w], {w: (1, n - t), t: (1, n)})
    half = sp.Symbol("h", integer=True)
    assert not equal_in_general(Sum(x[k] * KroneckerDelta(k, half / 2), (k, 1, n)), x[half / 2], {half: (2, 2 * n)})
