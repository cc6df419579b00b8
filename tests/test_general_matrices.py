"""Matrix-level identities proved for every size through their general entries, and never a false one."""

import pytest
import sympy as sp
from sympy import Derivative, HadamardProduct, Identity, MatrixSymbol, OneMatrix, Trace, ZeroMatrix

from symformer import Derivation, Size, Step, verify
from symformer.blocks import PermutationMatrix, RowSoftmax
from symformer.engine.indexform import Untranslatable, general_entries

N, M, d = sp.symbols("N M d", integer=True, positive=True)
n0 = sp.Symbol("n0", integer=True, nonnegative=True)
A, B, C = MatrixSymbol("A", N, M), MatrixSymbol("B", M, d), MatrixSymbol("C", d, N)
X, Y = MatrixSymbol("X", N, N), MatrixSymbol("Y", N, N)
S, G = MatrixSymbol("S", N, M), MatrixSymbol("G", N, M)
SIZES = {N: Size(prove=range(1, 4), numeric=7), M: Size(prove=range(1, 3), numeric=5),
         d: Size(prove=range(1, 3), numeric=4)}


def check(lhs, rhs, sizes=SIZES):
    derivation = Derivation(slug="general-matrix", title="t", topic="Demo", lhs=lhs, sizes=sizes,
                            steps=[Step(rhs, "the identity under test")])
    (step,) = verify(derivation).checks
    return step


@pytest.mark.parametrize("lhs, rhs", [
    ((A * B).T, B.T * A.T),
    ((A * B) * C, A * (B * C)),
    (Trace(A * B * C), Trace(C * A * B)),
    (Trace(X * Y), Trace(Y * X)),
    (HadamardProduct(A, G).T, HadamardProduct(G.T, A.T)),
    (Identity(N) * A, A),
    (A * OneMatrix(M, 1), HadamardProduct(A, OneMatrix(N, M)) * OneMatrix(M, 1)),
    (RowSoftmax(S) * OneMatrix(M, 1), OneMatrix(N, 1)),
    (Derivative(Trace(G.T * A), A), G),
    (Derivative(Trace(C * A * B), A), C.T * B.T),
    (Derivative(Trace(X * Y), X), Y.T),
    (Derivative(Trace(G.T * RowSoftmax(S)), S),
     HadamardProduct(RowSoftmax(S), G - HadamardProduct(RowSoftmax(S), G) * OneMatrix(M, 1) * OneMatrix(1, M))),
])
def test_true_matrix_identities_are_proved_for_every_size(lhs, rhs):
    step = check(lhs, rhs)
    assert step.ok and step.level == "proved for all N, M, d", step.methods


@pytest.mark.parametrize("lhs, rhs", [
    ((X * Y).T, X.T * Y.T),                     # the transpose of a product reversed the wrong way
    (Trace(X * Y), Trace(X) * Trace(Y)),
    (X * Y, Y * X),
    (HadamardProduct(X, Y), X * Y),
    (Derivative(Trace(X * Y), X), Y),           # the gradient of tr(XY) by X is Y^T
    (Derivative(Trace(X * Y), Y), Y),
    (RowSoftmax(X) * OneMatrix(N, 1), 2 * OneMatrix(N, 1)),
    (Derivative(Trace(Y.T * RowSoftmax(X)), X), HadamardProduct(RowSoftmax(X), Y)),  # forgot the row sums
])
def test_false_matrix_identities_are_never_proved(lhs, rhs):
    step = check(lhs, rhs, {N: Size(prove=range(1, 4), numeric=6)})
    assert not step.ok
    assert not any(m.method == "symbolic, all sizes" and m.status == "proved" for m in step.methods)


def test_a_softmax_row_that_may_be_empty_is_not_translated():
    # with no columns, P 1 is the empty sum 0, not 1: the general entry exp / sum would say 1
    P0 = RowSoftmax(MatrixSymbol("S", N, n0))
    with pytest.raises(Untranslatable, match="may have no entries"):
        general_entries(P0 * OneMatrix(n0, 1), OneMatrix(N, 1), {N: 1, n0: 0})
    step = check(P0 * OneMatrix(n0, 1), OneMatrix(N, 1), {N: Size(prove=(1, 2), numeric=3), n0: Size(prove=(0, 1), numeric=3)})
    assert not step.ok and step.failure.method == "50-digit identity"
    assert step.methods[0].detail == "not in index notation: a row of the row-softmax of S may have no entries"


@pytest.mark.parametrize("kind", ["cycle", "swap"])
def test_permuting_keys_and_values_together_is_proved_for_every_size_and_apart_is_not(kind):
    Q, K, V = MatrixSymbol("Q", N, d), MatrixSymbol("K", M, d), MatrixSymbol("V", M, d)
    Pi = PermutationMatrix(M, kind)
    tau = sp.Symbol("tau", positive=True)
    out = RowSoftmax(tau * Q * K.T) * V
    sizes = {N: Size(prove=range(1, 3), numeric=4), M: Size(prove=range(1, 4), numeric=5), d: Size(prove=(1, 2), numeric=3)}
    together = check(RowSoftmax(tau * Q * (Pi * K).T) * (Pi * V), out, sizes)
    assert together.ok and together.level == "proved for all N, M, d"
    keys_only = check(RowSoftmax(tau * Q * (Pi * K).T) * V, out, sizes)
    assert not keys_only.ok
    assert not any(m.method == "symbolic, all sizes" and m.status == "proved" for m in keys_only.methods)


def test_a_sum_that_sees_its_index_itself_is_not_reindexed():
    from sympy.core.symbol import Str

    from symformer.blocks.attention import Permuted
    from symformer.engine.indexform import _reindex

    k = sp.Symbol("k", integer=True, positive=True)
    x = sp.IndexedBase("x", shape=(N,))
    image = Permuted(k, N, Str("cycle"))
    assert _reindex(sp.Sum(x[image] ** 2, (k, 1, N))) == sp.Sum(x[k] ** 2, (k, 1, N))
    weighted = sp.Sum(k * x[image], (k, 1, N))
    assert _reindex(weighted) == weighted
    shorter = sp.Sum(x[image], (k, 1, N - 1))  # pi permutes 1..N, not 1..N-1
    assert _reindex(shorter) == shorter


def test_general_entries_are_one_based_index_notation():
    left, right, ranges = general_entries(A * B, A * B)
    (i, (low_i, high_i)), (j, (low_j, high_j)) = ranges.items()
    assert (low_i, high_i, low_j, high_j) == (1, N, 1, d)
    (total,) = left.atoms(sp.Sum)
    (k, low, high), = total.limits
    assert (low, high) == (1, M) and str(total.function) == f"A[{i}, {k}]*B[{k}, {j}]"
    scalar, _, none = general_entries(Trace(X), Trace(X))
    assert none == {} and isinstance(scalar, sp.Sum) and scalar.limits[0][1:] == (1, N)
    column_left, _, column_ranges = general_entries(X * OneMatrix(N, 1), X * OneMatrix(N, 1))
    assert len(column_ranges) == 1  # a single column is entry 1, not an index


def test_shapes_that_differ_are_not_translated():
    with pytest.raises(Untranslatable, match="shapes"):
        general_entries(A, A.T if N != M else A)
    with pytest.raises(Untranslatable, match="scalar"):
        general_entries(Trace(X), X)


def test_masked_identities_are_proved_for_every_size_and_near_misses_are_not():
    from symformer.blocks import CausalMask, MaskedEntries, PaddingMask

    sizes = {N: Size(prove=range(1, 4), numeric=7), M: Size(prove=range(1, 4), numeric=5)}
    for alignment in ("top-left", "bottom-right"):
        mask = CausalMask(N, M, alignment)
        step = check(HadamardProduct(RowSoftmax(S + mask), MaskedEntries(mask)), ZeroMatrix(N, M), sizes)
        assert step.ok and step.level == "proved for all N, M"
        # the visible weights are not zero: the complement must fail
        step = check(HadamardProduct(RowSoftmax(S + mask), OneMatrix(N, M) - MaskedEntries(mask)), ZeroMatrix(N, M), sizes)
        assert not step.ok and step.failure.method != "symbolic, all sizes"
    nothing = PaddingMask(N, M, 0)
    assert check(RowSoftmax(S + nothing), ZeroMatrix(N, M), sizes).level == "proved for all N, M"
    assert check(Derivative(Trace(G.T * RowSoftmax(S + nothing)), S), ZeroMatrix(N, M), sizes).level == "proved for all N, M"
    # with N > M, bottom-right rows see no key at all: their weights sum to 0, not 1
    step = check(RowSoftmax(S + CausalMask(N, M, "bottom-right")) * OneMatrix(M, 1), OneMatrix(N, 1), sizes)
    assert not step.ok


def test_a_score_infinite_other_than_by_a_mask_is_not_translated():
    with pytest.raises(Untranslatable, match="infinite other than by a mask"):
        general_entries(RowSoftmax(S + sp.oo * OneMatrix(N, M)) * OneMatrix(M, 1), OneMatrix(N, 1), {N: 1, M: 1})


def test_block_products_are_multiplied_out_block_by_block():
    A1, A2 = MatrixSymbol("A_1", N, M), MatrixSymbol("A_2", N, d)
    B1, B2 = MatrixSymbol("B_1", M, N), MatrixSymbol("B_2", d, N)
    concat, stacked = sp.BlockMatrix([[A1, A2]]), sp.BlockMatrix([[B1], [B2]])
    assert check(concat * stacked, A1 * B1 + A2 * B2).level == "proved for all N, M, d"
    C1, C2 = MatrixSymbol("C_1", N, M), MatrixSymbol("C_2", N, M)
    D1, D2 = MatrixSymbol("D_1", M, N), MatrixSymbol("D_2", M, N)
    swapped = check(sp.BlockMatrix([[C1, C2]]) * sp.BlockMatrix([[D1], [D2]]), C1 * D2 + C2 * D1)
    assert not swapped.ok


def test_an_indexed_input_and_a_matrix_of_one_name_are_never_one_input():
    x = sp.IndexedBase("X", shape=(N, N), real=True)
    with pytest.raises(Untranslatable, match="two inputs are named X"):
        general_entries(Trace(X), sp.Sum(x[1, 1], (sp.Symbol("q", integer=True), 1, N)))


@pytest.mark.parametrize("floor, holds", [(1, True), (0, False)])
def test_rows_stay_stochastic_under_causal_and_padding_masks_only_when_no_row_is_empty(floor, holds):
    from symformer.blocks import CausalMask, PaddingMask

    length = sp.Symbol("L", integer=True, positive=True) if floor else sp.Symbol("L", integer=True, nonnegative=True)
    sizes = {N: Size(prove=range(1, 3), numeric=5), M: Size(prove=range(1, 4), numeric=4),
             length: Size(prove=range(floor, 3), numeric=2)}
    masked = RowSoftmax(S + CausalMask(N, M) + PaddingMask(N, M, length))
    step = check(masked * OneMatrix(M, 1), OneMatrix(N, 1), sizes)
    assert step.ok is holds
    proved_all = any(m.method == "symbolic, all sizes" and m.status == "proved" for m in step.methods)
    assert proved_all is holds


def test_matrix_arguments_of_properties_decide_and_refuse():
    from symformer import matrix_identity_for_all, next_row_enters, rows_after_do_not_enter
    from symformer.blocks import CausalMask

    assert matrix_identity_for_all((A * B).T, B.T * A.T).holds
    assert not matrix_identity_for_all((X * Y).T, X.T * Y.T).holds
    assert "not in index notation" in matrix_identity_for_all(sp.Determinant(X), sp.Determinant(X.T)).detail
    tau = sp.Symbol("tau", positive=True)
    q, k, v = MatrixSymbol("Q", N, d), MatrixSymbol("K", N, d), MatrixSymbol("V", N, M)
    causal = RowSoftmax(tau * q * k.T + CausalMask(N, N)) * v
    full = RowSoftmax(tau * q * k.T) * v
    assert rows_after_do_not_enter(causal, [q, k, v]).holds
    for inputs in ([k], [v]):  # without the mask every later key and value enters
        assert not rows_after_do_not_enter(full, inputs).holds
    assert rows_after_do_not_enter(full, [q]).holds  # row t reads query t only, mask or not
    x = MatrixSymbol("X", N, d)
    assert next_row_enters(RowSoftmax(x * x.T) * x, x).holds
    assert not next_row_enters(RowSoftmax(x * x.T + CausalMask(N, N)) * x, x).holds
