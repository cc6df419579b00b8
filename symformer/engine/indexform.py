"""Matrix expressions in index notation, at symbolic sizes: the general entry of each side.

A matrix-level identity ``A == B`` of shape r x c holds for every size exactly when the general
entries agree, ``A[i, j] == B[i, j]`` for every ``1 <= i <= r`` and ``1 <= j <= c``. This module
writes that entry with 1-based indices, so that the index-notation prover (``index``) can prove
the identity for every size rather than only at a few concrete ones:

- a ``MatrixSymbol`` X becomes the entry ``X[i, j]`` of a real ``IndexedBase`` of X's shape;
- a product ``A B`` is ``sum_k A[i, k] B[k, j]``, a transpose swaps the indices, a Hadamard product
  multiplies entries (a Hadamard power raises them), a sum adds them, a trace is ``sum_k A[k, k]``;
- ``OneMatrix`` is 1, ``ZeroMatrix`` 0, ``Identity`` the Kronecker delta;
- block matrices are first multiplied out block by block (SymPy's ``block_collapse``);
- the derivative of a scalar by a matrix X has entry (i, j) the derivative by ``X[i, j]``;
- a building block writes its own entry (``Block.general_entry``), or refuses.

Anything else (an inverse, a determinant, a score that is infinite other than by a mask, a
matrix-valued derivative) raises ``Untranslatable``: the identity is then not proved for every size, and the
exact proof at each concrete size remains, with its honest label.
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.hadamard import HadamardPower, HadamardProduct
from sympy.matrices.expressions.matexpr import MatrixElement

from symformer.blocks.attention import Permuted
from symformer.blocks.base import Block, Untranslatable
from symformer.engine.ranges import never_negative

__all__ = ["Untranslatable", "general_entries"]


def general_entries(lhs, rhs, floors=None) -> tuple:
    """The two sides' general entries and the ranges of their free indices.

    Returns ``(left, right, ranges)``: scalar expressions in index notation and a mapping from each
    free index (a fresh integer Dummy) to its 1-based (low, high) range. Raises ``Untranslatable``.

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> A = sp.MatrixSymbol("A", n, n)
    >>> left, right, ranges = general_entries(A.T.T, A)
    >>> left == right, len(ranges)
    (True, 2)
    """
    translator = _Translator(floors or {})
    lhs, rhs = translator.prepare(lhs), translator.prepare(rhs)
    translator.taken = {str(b.label) for side in (lhs, rhs) for b in sp.sympify(side).atoms(sp.IndexedBase)}
    lhs_shape, rhs_shape = _shape(lhs), _shape(rhs)
    if (lhs_shape is None) != (rhs_shape is None):
        raise Untranslatable("one side is a matrix and the other a scalar")
    if lhs_shape is None:
        return translator.scalar(lhs), translator.scalar(rhs), {}
    if any(sp.expand(a - b) != 0 for a, b in zip(lhs_shape, rhs_shape)):
        raise Untranslatable(f"the sides have the shapes {tuple(lhs_shape)} and {tuple(rhs_shape)}")
    ranges = {}
    indices = []
    for name, extent in zip("ij", lhs_shape):
        if extent == 1:
            indices.append(sp.Integer(1))
        else:
            index = translator.index(name, extent)
            ranges[index] = (sp.Integer(1), extent)
            indices.append(index)
    return _finish(translator.entry(lhs, *indices)), _finish(translator.entry(rhs, *indices)), ranges


def _finish(entry):
    """The entry multiplied out, permuted sums reindexed, a mask's 0/1 factor idempotent.

    A mask's -oo that no softmax or MaskedEntries consumed, or a Piecewise left anywhere, is refused:
    infinite arithmetic is not the prover's, and SymPy may fold a Piecewise out of the sum that
    binds its condition.
    """
    entry = _idempotent(_expand(_reindex(entry)))
    if entry.has(sp.oo, sp.S.NegativeInfinity, sp.zoo, sp.nan, sp.Piecewise):
        raise Untranslatable("an entry may be infinite or piecewise (a mask outside a softmax)")
    return entry


def _contract_permutations(entries, sums):
    """sum_k delta(k, pi(x)) f(k) = f(pi(x)) when k runs over 1..n and pi permutes 1..n (x lies in 1..n)."""
    entries = list(entries)
    for dummy, high in list(sums.items()):
        for position, entry in enumerate(entries):
            if not isinstance(entry, sp.KroneckerDelta) or dummy not in entry.args:
                continue
            other = entry.args[0] if entry.args[1] == dummy else entry.args[1]
            if isinstance(other, Permuted) and other.args[1] == high and dummy not in other.free_symbols:
                entries = [e.xreplace({dummy: other}) for n, e in enumerate(entries) if n != position]
                del sums[dummy]
                break
    return entries, sums


def _reindex(expr):
    """sum_{k=1}^{n} f(pi(k)) = sum_{k=1}^{n} f(k) for a permutation pi of 1..n that is all the sum sees of k."""
    if not expr.has(Permuted):
        return expr
    if isinstance(expr, sp.Sum):
        body = _reindex(expr.function)
        limits = list(expr.limits)
        for position, (symbol, low, high) in enumerate(limits):
            images = {a for a in body.atoms(Permuted) if a.args[0] == symbol}
            if len(images) != 1 or low != 1:
                continue
            (image,) = images
            if image.args[1] != high:
                continue
            held = sp.Dummy("image")
            rest = body.xreplace({image: held})
            outer = limits[position + 1:]  # SymPy lists limits from the inside out
            if symbol in rest.free_symbols or any(symbol in sp.sympify(b).free_symbols for _, *bounds in outer for b in bounds):
                continue  # the sum sees k itself somewhere, not only pi(k)
            body = rest.xreplace({held: symbol})
        return sp.Sum(body, *limits)
    if not expr.args:
        return expr
    return expr.func(*(_reindex(arg) for arg in expr.args))


def _expand(expr):
    """Products and sums multiplied out; exp of a sum stays one exponential (not a Product of them)."""
    return sp.expand(expr, power_exp=False)


def _idempotent(expr):
    """A mask's indicator (a Heaviside step at a half-integer, see the blocks) is 0 or 1: its powers are itself."""
    if not expr.has(sp.Heaviside):
        return expr
    return _expand(expr.replace(lambda e: e.is_Pow and isinstance(e.base, sp.Heaviside) and e.exp.is_Integer and e.exp > 0
                                  and _at_half_integer(e.base.args[0]), lambda e: e.base))


def _at_half_integer(argument) -> bool:
    shifted = argument - sp.S.Half
    return bool(shifted.is_integer) or bool((argument + sp.S.Half).is_integer)


def _is_matrix(expr) -> bool:
    return bool(getattr(expr, "is_Matrix", False)) or _gradient_variable(expr) is not None


def _gradient_variable(expr):
    """The matrix X of ``Derivative(f, X)``, f a scalar: the gradient, a matrix of X's shape."""
    if isinstance(expr, sp.Derivative) and len(expr.variable_count) == 1 and expr.variable_count[0][1] == 1:
        variable = expr.variable_count[0][0]
        if getattr(variable, "is_Matrix", False) and not getattr(expr.expr, "is_Matrix", False):
            return variable
    return None


def _shape(expr):
    """The shape of a matrix-valued expression (a gradient has its variable's), or None for a scalar."""
    variable = _gradient_variable(expr)
    if variable is not None:
        return tuple(variable.shape)
    if getattr(expr, "is_Matrix", False):
        return tuple(expr.shape)
    if isinstance(expr, sp.Add) and any(_is_matrix(term) for term in expr.args):
        raise Untranslatable("a sum of matrices that SymPy did not combine")
    if isinstance(expr, sp.Mul) and any(_is_matrix(f) for f in expr.args):
        matrices = [f for f in expr.args if _is_matrix(f)]
        if len(matrices) == 1:
            return _shape(matrices[0])
        raise Untranslatable("a product of matrices that SymPy did not combine")
    return None


#: The names of summation indices, in order of use.
_LETTERS = "klmpqrsuvw"


class _Translator:
    """One translation: the IndexedBase standing for each MatrixSymbol, shared by both sides."""

    def __init__(self, floors):
        self.floors = dict(floors)
        self.bases: dict = {}
        self.taken: set = set()  # the names of IndexedBase inputs already in the identity
        self.made = 0  # summation indices made so far

    def index(self, name: str, extent) -> sp.Dummy:
        """A fresh index running over 1..extent (its sum or the caller records the range).

        The free indices are i and j; summation indices take the next unused letter, so that a
        printed proof (``verify --explain``) tells them apart.
        """
        if name not in ("i", "j"):
            name = _LETTERS[self.made % len(_LETTERS)] + ("" if self.made < len(_LETTERS) else str(self.made // len(_LETTERS)))
            self.made += 1
        return sp.Dummy(name, integer=True, positive=True)  # every index starts at 1

    def prepare(self, expr):
        expr = sp.sympify(expr)
        if expr.has(sp.BlockMatrix):
            expr = expr.replace(lambda e: isinstance(e, sp.MatrixExpr) and e.has(sp.BlockMatrix),
                                lambda e: sp.block_collapse(e))
        if isinstance(expr, sp.MatrixBase):
            raise Untranslatable("an explicit matrix has no general entry")
        return expr

    def base(self, matrix: sp.MatrixSymbol) -> sp.IndexedBase:
        found = self.bases.get(matrix)
        if found is None:
            if matrix.name in self.taken or any(str(b.label) == matrix.name for b in self.bases.values()):
                raise Untranslatable(f"two inputs are named {matrix.name}")
            found = self.bases[matrix] = sp.IndexedBase(matrix.name, shape=matrix.shape, real=True)
        return found

    def never_empty(self, extent) -> bool:
        """``extent >= 1`` for every size at or above its floor."""
        return never_negative(sp.sympify(extent) - 1, {}, self.floors)

    # scalars -------------------------------------------------------------------------------
    def scalar(self, expr):
        """A scalar expression in which matrix expressions occur only as traces, 1 x 1 products or entries."""
        expr = sp.sympify(expr)
        if _is_matrix(expr):
            if tuple(expr.shape) == (1, 1):
                return self.entry(expr, sp.Integer(1), sp.Integer(1))
            raise Untranslatable(f"{expr} is a matrix where a scalar is expected")
        if isinstance(expr, sp.Trace):
            k = self.index("k", expr.arg.shape[0])
            return sp.Sum(self.entry(expr.arg, k, k), (k, 1, expr.arg.shape[0]))
        if isinstance(expr, MatrixElement):
            row, column = expr.i, expr.j
            if not (row.is_Integer and column.is_Integer):
                raise Untranslatable(f"the entry {expr} has a symbolic matrix index")
            return self.entry(expr.parent, row + 1, column + 1)  # SymPy's matrix indices are 0-based
        if isinstance(expr, sp.Derivative):
            return self.derivative_scalar(expr)
        if isinstance(expr, (sp.Determinant, sp.MatrixExpr)):
            raise Untranslatable(f"{type(expr).__name__} has no general entry")
        if not expr.args or not expr.has(sp.MatrixExpr, MatrixElement):
            return expr
        return expr.func(*(self.scalar(arg) for arg in expr.args))

    def derivative_scalar(self, expr):
        for variable, count in expr.variable_count:
            if _is_matrix(variable):
                raise Untranslatable("a derivative by a matrix is a matrix, not a scalar")
        return sp.Derivative(self.scalar(expr.expr), *expr.variable_count)

    # matrix entries ------------------------------------------------------------------------
    def entry(self, expr, i, j):
        """Entry (i, j), 1-based, of the matrix expression ``expr``."""
        if isinstance(expr, sp.MatrixSymbol):
            return self.base(expr)[i, j]
        if isinstance(expr, sp.ZeroMatrix):
            return sp.Integer(0)
        if isinstance(expr, sp.OneMatrix):
            return sp.Integer(1)
        if isinstance(expr, sp.Identity):
            return sp.KroneckerDelta(i, j)
        if isinstance(expr, sp.Transpose):
            return self.entry(expr.arg, j, i)
        if isinstance(expr, sp.MatAdd):
            return sp.Add(*(self.entry(term, i, j) for term in expr.args))
        if isinstance(expr, HadamardPower):
            return self.entry(expr.base, i, j) ** self.scalar(expr.exp)
        if isinstance(expr, HadamardProduct):
            return sp.Mul(*(self.entry(factor, i, j) for factor in expr.args))
        if isinstance(expr, sp.MatMul):
            return self.product(expr, i, j)
        if isinstance(expr, sp.MatPow):
            exponent = expr.exp
            if not (exponent.is_Integer and exponent >= 1):
                raise Untranslatable(f"the power {expr} is not a positive integer power")
            return self.product(sp.MatMul(*([expr.base] * int(exponent))), i, j)
        if isinstance(expr, sp.Derivative):
            return self.derivative_entry(expr, i, j)
        if isinstance(expr, sp.Mul):  # a scalar times a gradient
            return sp.Mul(*(self.entry(f, i, j) if _is_matrix(f) else self.scalar(f) for f in expr.args))
        if isinstance(expr, Block):
            return expr.general_entry(i, j, self)
        raise Untranslatable(f"{type(expr).__name__} has no general entry")

    def product(self, expr, i, j):
        scalars = [self.scalar(a) for a in expr.args if not _is_matrix(a)]
        factors = [a for a in expr.args if _is_matrix(a)]
        if not factors:
            return sp.Mul(*scalars)
        rows = [i] + [self.index("k", f.shape[1]) for f in factors[:-1]] + [j]
        entries = [self.entry(f, rows[n], rows[n + 1]) for n, f in enumerate(factors)]
        sums = {rows[n]: factors[n - 1].shape[1] for n in range(1, len(factors))}
        entries, sums = _contract_permutations(entries, sums)
        body = sp.Mul(*entries)
        for dummy in reversed(list(sums)):  # the last index made is the innermost sum
            body = sp.Sum(body, (dummy, 1, sums[dummy]))
        return sp.Mul(*scalars) * body

    def derivative_entry(self, expr, i, j):
        """d f / d X, f a scalar, X a MatrixSymbol: entry (i, j) is d f / d X[i, j]."""
        if len(expr.variable_count) != 1 or expr.variable_count[0][1] != 1:
            raise Untranslatable("only a first derivative by one matrix has a general entry")
        variable = expr.variable_count[0][0]
        if not isinstance(variable, sp.MatrixSymbol) or _is_matrix(expr.expr):
            raise Untranslatable("only the derivative of a scalar by a matrix input has a general entry")
        return sp.Derivative(self.scalar(expr.expr), self.base(variable)[i, j])
