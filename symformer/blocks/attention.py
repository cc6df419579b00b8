"""Matrix-level building blocks of attention: row-softmax, masks, permutations.

Each block is a SymPy ``MatrixExpr`` with three faces, side by side:

- readable, index-free LaTeX (``\\operatorname{softmax}(S)``, no SymPy internals), via ``_latex``;
- an explicit elementwise form at concrete sizes (``as_explicit()`` and ``doit()`` on an explicit
  argument), which is what the per-size proofs expand;
- a NumPy rule: ``numpy_function``, a plain function of arrays and sizes, and ``numpy_arguments``,
  what to pass it. The evaluator calls the function; generated code copies its source, so the rule
  is written once.

Conventions: a mask is additive (0 where query i may attend to key j, -oo elsewhere), added to the
scores before the softmax; a row of scores that is all -oo has softmax 0 (PyTorch >= 2.5's safe
softmax), in every face.

>>> n = sp.Symbol("n", integer=True, positive=True)
>>> S = sp.MatrixSymbol("S", n, n)
>>> from symformer.notation import to_latex
>>> to_latex(RowSoftmax(S + CausalMask(n, n)))
'\\\\operatorname{softmax}\\\\left(B_{\\\\mathrm{causal}} + S\\\\right)'
>>> RowSoftmax(sp.ImmutableMatrix([[0, -sp.oo]])).doit()
Matrix([[1, 0]])
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from sympy.core.symbol import Str

from symformer.blocks.base import Block

ALIGNMENTS = ("top-left", "bottom-right")


def _is_explicit(matrix) -> bool:
    """A matrix of concrete size: its entries can be written out."""
    return all(isinstance(extent, (int, sp.Integer)) for extent in matrix.shape)


class RowSoftmax(Block):
    """softmax applied to each row: P_ij = exp(S_ij) / sum_k exp(S_ik); a row of only -oo gives 0."""

    @staticmethod
    def numpy_function(scores):
        top = np.max(scores, axis=-1, keepdims=True)
        top = np.where(np.isneginf(top), 0.0, top)  # a fully masked row gives zeros
        weights = np.exp(scores - top)
        total = np.sum(weights, axis=-1, keepdims=True)
        return weights / np.where(total == 0.0, 1.0, total)

    def numpy_arguments(self):
        return (self.arg,)

    def __new__(cls, arg):
        arg = sp.sympify(arg)
        if not getattr(arg, "is_Matrix", False):
            raise TypeError(f"RowSoftmax takes a matrix, got {arg}")
        return super().__new__(cls, arg)

    @property
    def arg(self):
        return self.args[0]

    @property
    def shape(self):
        return self.arg.shape

    def _entry(self, i, j, **kwargs):
        columns = self.shape[1]
        if isinstance(columns, sp.Integer) or isinstance(columns, int):
            row = [self.arg[i, c] for c in range(int(columns))]
            if all(v == sp.S.NegativeInfinity for v in row):
                return sp.S.Zero
            return sp.exp(self.arg[i, j]) / sp.Add(*(sp.exp(v) for v in row))
        k = sp.Dummy("k", integer=True)
        return sp.exp(self.arg[i, j]) / sp.Sum(sp.exp(self.arg[i, k]), (k, 0, columns - 1))

    def doit(self, **hints):
        arg = self.arg.doit(**hints) if hints.get("deep", True) else self.arg
        if _is_explicit(arg):
            return RowSoftmax(sp.ImmutableMatrix(arg.as_explicit())).as_explicit()
        return RowSoftmax(arg)

    def _latex(self, printer, *args):
        return rf"\operatorname{{softmax}}\left({printer._print(self.arg)}\right)"


class CausalMask(Block):
    """Additive causal mask of n queries and m keys: 0 where key j is visible to query i, else -oo.

    ``top-left`` (PyTorch's ``is_causal``): j <= i. ``bottom-right`` (FlashAttention >= 2.1):
    j <= i + (m - n). Indices here are SymPy's 0-based matrix indices.
    """

    @staticmethod
    def numpy_function(n, m, offset):
        return np.where(np.arange(m)[None, :] <= np.arange(n)[:, None] + offset, 0.0, -np.inf)

    def numpy_arguments(self):
        return (*self.shape, self.offset)

    def __new__(cls, n, m=None, alignment: str = "top-left"):
        alignment = alignment.name if isinstance(alignment, Str) else alignment
        if alignment not in ALIGNMENTS:
            raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
        n = sp.sympify(n)
        m = n if m is None else sp.sympify(m)
        return super().__new__(cls, n, m, Str(alignment))

    @property
    def shape(self):
        return self.args[0], self.args[1]

    @property
    def alignment(self) -> str:
        return self.args[2].name

    @property
    def offset(self):
        return sp.Integer(0) if self.alignment == "top-left" else self.args[1] - self.args[0]

    def _entry(self, i, j, **kwargs):
        return sp.Piecewise((sp.S.Zero, sp.Le(j, i + self.offset)), (sp.S.NegativeInfinity, True))

    def doit(self, **hints):
        if all(isinstance(s, sp.Integer) for s in self.shape):
            return self.as_explicit()
        return self

    def _latex(self, printer, *args):
        return r"B_{\mathrm{causal}}" if self.alignment == "top-left" else r"B_{\mathrm{causal}}^{\searrow}"


class PaddingMask(Block):
    """Additive padding mask of one sequence: n queries, m keys of which the first ``length`` are real."""

    @staticmethod
    def numpy_function(n, m, length):
        return np.broadcast_to(np.where(np.arange(m) < length, 0.0, -np.inf), (n, m)).copy()

    def numpy_arguments(self):
        return (*self.shape, self.length)

    def __new__(cls, n, m, length):
        return super().__new__(cls, sp.sympify(n), sp.sympify(m), sp.sympify(length))

    @property
    def shape(self):
        return self.args[0], self.args[1]

    @property
    def length(self):
        return self.args[2]

    def _entry(self, i, j, **kwargs):
        return sp.Piecewise((sp.S.Zero, sp.Lt(j, self.length)), (sp.S.NegativeInfinity, True))

    def doit(self, **hints):
        if all(isinstance(s, sp.Integer) for s in self.args):
            return self.as_explicit()
        return self

    def _latex(self, printer, *args):
        return rf"B_{{\mathrm{{pad}}({printer._print(self.length)})}}"


def _is_minus_infinity(value):
    """1 where ``value`` is -oo, else 0; a Piecewise (a mask at symbolic indices) branch by branch.

    SymPy's ``Eq(Piecewise((0, j <= i), (-oo, True)), -oo)`` evaluates to True, so the test is never
    left to it: a branch is decided where it is a number, and otherwise stays an unevaluated condition.
    """
    if isinstance(value, sp.Piecewise):
        return sp.Piecewise(*((_is_minus_infinity(branch), condition) for branch, condition in value.args))
    if value == sp.S.NegativeInfinity:
        return sp.S.One
    if value.is_finite:
        return sp.S.Zero
    return sp.Piecewise((sp.S.One, sp.Eq(value, sp.S.NegativeInfinity, evaluate=False)), (sp.S.Zero, True))


class MaskedEntries(Block):
    """The 0/1 matrix of the entries a mask forbids: 1 where B_ij = -oo."""

    @staticmethod
    def numpy_function(mask):
        return np.isneginf(mask).astype(float)

    def numpy_arguments(self):
        return (self.args[0],)

    def __new__(cls, mask):
        return super().__new__(cls, sp.sympify(mask))

    @property
    def shape(self):
        return self.args[0].shape

    def _entry(self, i, j, **kwargs):
        return _is_minus_infinity(self.args[0][i, j])

    def doit(self, **hints):
        mask = self.args[0].doit(**hints)
        if _is_explicit(mask):
            return MaskedEntries(sp.ImmutableMatrix(mask.as_explicit())).as_explicit()
        return MaskedEntries(mask)

    def _latex(self, printer, *args):
        return rf"\mathbf{{1}}\left[{printer._print(self.args[0])} = -\infty\right]"


class PermutationMatrix(Block):
    """An n x n permutation matrix Pi, row r of (Pi A) is row pi(r) of A.

    ``cycle``: pi(r) = r + 1 mod n. ``swap``: exchanges rows 0 and 1 (the identity when n = 1).
    The two generate every permutation of n rows.
    """

    @staticmethod
    def numpy_function(n, kind):
        rows = np.arange(n)
        if kind == "cycle":
            image = (rows + 1) % n
        else:  # swap rows 0 and 1, the identity when n = 1
            image = np.where(rows < 2, 1 - rows, rows) if n > 1 else rows
        out = np.zeros((n, n))
        out[rows, image] = 1.0
        return out

    def numpy_arguments(self):
        return (self.shape[0], self.kind)

    def __new__(cls, n, kind: str = "cycle"):
        kind = kind.name if isinstance(kind, Str) else kind
        if kind not in ("cycle", "swap"):
            raise ValueError(f"kind must be 'cycle' or 'swap', got {kind!r}")
        return super().__new__(cls, sp.sympify(n), Str(kind))

    @property
    def shape(self):
        return self.args[0], self.args[0]

    @property
    def kind(self) -> str:
        return self.args[1].name

    def image(self, row: int, n: int) -> int:
        if self.kind == "cycle":
            return (row + 1) % n
        return {0: 1, 1: 0}.get(row, row) if n > 1 else row

    def _entry(self, i, j, **kwargs):
        n = self.shape[0]
        if isinstance(i, (int, sp.Integer)) and isinstance(n, sp.Integer):
            return sp.S.One if j == self.image(int(i), int(n)) else sp.S.Zero
        return sp.KroneckerDelta(j, sp.Mod(i + 1, n)) if self.kind == "cycle" else sp.Piecewise(
            (sp.KroneckerDelta(j, 1), sp.Eq(i, 0)), (sp.KroneckerDelta(j, 0), sp.Eq(i, 1)), (sp.KroneckerDelta(i, j), True))

    def doit(self, **hints):
        return self.as_explicit() if isinstance(self.shape[0], sp.Integer) else self

    def _latex(self, printer, *args):
        return r"\Pi_{\mathrm{cycle}}" if self.kind == "cycle" else r"\Pi_{\mathrm{swap}}"
