"""The NumPy printer: generated code equals the reference, sums stay sums, bad input is named."""

import numpy as np
import pytest
import sympy as sp

from symformer import catalog, UsageError
from symformer.blocks import CausalMask, compile_numpy, RowSoftmax, to_numpy_source
from symformer.reference import attention, attention_backward, causal_mask


def _closed_forms():
    """dQ, dK, dV as derived (derivation attention-backward and its stages), every name expanded."""
    derivation = catalog()["attention-backward"]
    names = {str(m): m for m in derivation.definitions}
    final = derivation.expand(derivation.steps[-1].expr)
    inputs = {str(m): m for m in final.atoms(sp.MatrixSymbol)}
    tau = next(s for s in final.free_symbols if str(s) == "tau")
    dK = derivation.expand(tau * names["dS"].T * inputs["Q"])
    dV = derivation.expand(names["P"].T * inputs["dO"])
    return (final, dK, dV), [inputs["Q"], inputs["K"], inputs["V"], inputs["dO"], tau]


def test_generated_backward_equals_the_reference(rng):
    exprs, args = _closed_forms()
    generated = compile_numpy(exprs, args, name="attention_backward_generated")
    Q, K, V, dO = rng.standard_normal((5, 3)), rng.standard_normal((7, 3)), rng.standard_normal((7, 2)), rng.standard_normal((5, 2))
    for mine, reference in zip(generated(Q, K, V, dO, 0.6), attention_backward(Q, K, V, dO, scale=0.6)):
        np.testing.assert_allclose(mine, reference, rtol=1e-13, atol=1e-14)


def test_generated_code_computes_p_once_and_never_multiplies_by_a_ones_matrix():
    exprs, args = _closed_forms()
    source = to_numpy_source(exprs, args)
    assert source.count("_row_softmax(") == 2  # the helper's definition and one call
    assert "np.ones" not in source
    assert "np.sum(" in source and "np.broadcast_to(" in source


def test_masked_forward_with_a_batch_axis(rng):
    n, m, d = sp.symbols("n m d", integer=True, positive=True)
    Q, K, V = sp.MatrixSymbol("Q", n, d), sp.MatrixSymbol("K", m, d), sp.MatrixSymbol("V", m, d)
    f = compile_numpy(RowSoftmax(Q * K.T + CausalMask(n, m, "bottom-right")) * V, [Q, K, V])
    Qv, Kv, Vv = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 4))
    np.testing.assert_allclose(f(Qv, Kv, Vv), attention(Qv, Kv, Vv, mask=causal_mask(3, 5, "bottom-right"), scale=1.0),
                               rtol=1e-13, atol=1e-14)


def test_unknown_nodes_and_names_are_rejected():
    n = sp.Symbol("n", integer=True, positive=True)
    X = sp.MatrixSymbol("X", n, n)
    with pytest.raises(UsageError, match="cannot print Inverse"):
        to_numpy_source(sp.Inverse(X), [X])
    with pytest.raises(UsageError, match=r"uses \['c'\], which are neither arguments"):
        to_numpy_source(sp.Symbol("c") * X, [X])
    with pytest.raises(UsageError, match="is not a Python identifier"):
        to_numpy_source(X, [X], name="not a name")
