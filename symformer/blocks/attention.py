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

from symformer.blocks.base import Block, Untranslatable

ALIGNMENTS = ("top-left", "bottom-right")


def _is_explicit(matrix) -> bool:
    """A matrix of concrete size: its entries can be written out."""
    return all(isinstance(extent, (int, sp.Integer)) for extent in matrix.shape)


def _split_mask(entry, matrix):
    """A score entry as (finite part, condition under which it is not masked).

    Each mask term is ``Piecewise((0, visible), (-oo, True))``; anything else infinite, or a
    Piecewise of another form, has no general softmax entry here.
    """
    finite, visible = [], []
    for term in sp.Add.make_args(sp.expand(entry)):
        if isinstance(term, sp.Piecewise) and len(term.args) == 2 and term.args[0].expr == 0 \
                and term.args[1].expr == sp.S.NegativeInfinity and term.args[1].cond is sp.true:
            visible.append(term.args[0].cond)
        elif term == sp.S.NegativeInfinity:  # a mask that hides this entry for every index value
            visible.append(sp.false)
        else:
            finite.append(term)
    rest = sp.Add(*finite)
    if rest.has(sp.oo, sp.S.NegativeInfinity, sp.zoo, sp.nan, sp.Piecewise):
        raise Untranslatable(f"a score of the row-softmax of {matrix} may be infinite other than by a mask")
    return rest, sp.And(*visible)


def _indicator(condition):
    """1 where ``condition`` holds and 0 elsewhere, for comparisons of integers joined by and; else None.

    Written as Heaviside steps at half-integers (never at their jump), so that the factor survives
    expansion, moves with its index through a sum and has derivative 0.
    """
    factors = []
    for part in (condition.args if isinstance(condition, sp.And) else (condition,)):
        if part is sp.true:
            continue
        if part is sp.false:  # a mask that hides the entry for every index value
            return sp.S.Zero
        comparison = _comparison(part)
        if comparison is None:
            return None
        small, large, strict = comparison
        if not (small.is_integer and large.is_integer):
            return None
        factors.append(sp.Heaviside(large - small + (-sp.S.Half if strict else sp.S.Half)))
    return sp.Mul(*factors)


def _comparison(part):
    """``small <= large`` (or ``<``, strict) as (small, large, strict); None for anything else."""
    if isinstance(part, (sp.LessThan, sp.StrictLessThan)):
        return part.lhs, part.rhs, isinstance(part, sp.StrictLessThan)
    if isinstance(part, (sp.GreaterThan, sp.StrictGreaterThan)):
        return part.rhs, part.lhs, isinstance(part, sp.StrictGreaterThan)
    return None


def _is_prefix(condition, key) -> bool:
    """``condition`` says ``key <= b`` (or ``<``) for bounds b free of the key: the visible keys are 1..b."""
    for part in (condition.args if isinstance(condition, sp.And) else (condition,)):
        if part is sp.true or part is sp.false:  # every key, or none: 1..b with b >= columns, or b = 0
            continue
        comparison = _comparison(part)
        if comparison is None or comparison[0] != key or comparison[1].has(key):
            return False
    return True


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

    def general_entry(self, i, j, translator):
        """exp(s_ij) / sum_k exp(s_ik), over the keys row i may see; 0 for a key it may not.

        A score is a finite part plus masks (``Piecewise((0, visible), (-oo, True))``, see the masks'
        own entries); visibility becomes a 0/1 factor (``_indicator``), so no Piecewise is left in a
        sum. Where key j is visible the row has a visible key, so the sum is positive; where it is
        not, the weight is 0 whether or not the row sees anything (the safe softmax).
        """
        columns = self.shape[1]
        if not translator.never_empty(columns):
            raise Untranslatable(f"a row of the row-softmax of {self.arg} may have no entries")
        k = translator.index("k", columns)
        score, visible = _split_mask(translator.entry(self.arg, i, j), self.arg)
        other, other_visible = _split_mask(translator.entry(self.arg, i, k), self.arg)
        if visible is sp.true:
            return sp.exp(score) / sp.Sum(sp.exp(other), (k, 1, columns))
        indicator, other_indicator = _indicator(visible), _indicator(other_visible)
        if indicator is None or other_indicator is None or not _is_prefix(other_visible, k):
            # a Piecewise inside a Sum is not safe: SymPy may fold it out of the sum that binds its condition
            raise Untranslatable(f"the keys a row of the row-softmax of {self.arg} sees are not a prefix 1..b")
        # the keys row i sees are 1..b_i, so it sees none exactly when it does not see key 1: then every
        # weight of the row has the factor 0 and the denominator is 0 + 1, never 0/0
        sees_first = other_indicator.xreplace({k: sp.Integer(1)})
        return sp.exp(score) * indicator / (sp.Sum(sp.exp(other) * other_indicator, (k, 1, columns)) + 1 - sees_first)

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

    def general_entry(self, i, j, translator):
        return self._entry(i, j)  # j <= i + offset reads the same in 1-based indices

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

    def general_entry(self, i, j, translator):
        return sp.Piecewise((sp.S.Zero, sp.Le(j, self.length)), (sp.S.NegativeInfinity, True))  # 1-based j

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

    def general_entry(self, i, j, translator):
        _, visible = _split_mask(translator.entry(self.args[0], i, j), self.args[0])
        indicator = _indicator(visible)
        if indicator is None:
            raise Untranslatable(f"the visible entries of {self.args[0]} are not comparisons of indices")
        return 1 - indicator

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

    def general_entry(self, i, j, translator):
        # row i of (Pi A) is row pi(i) of A: Pi_ij = delta(j, pi(i)), 1-based
        return sp.KroneckerDelta(j, Permuted(i, self.shape[0], Str(self.kind)))

    def _latex(self, printer, *args):
        return r"\Pi_{\mathrm{cycle}}" if self.kind == "cycle" else r"\Pi_{\mathrm{swap}}"


class Permuted(sp.Function):
    """pi(i) for the permutation of 1..n of a :class:`PermutationMatrix` (``cycle`` or ``swap``), 1-based.

    A bijection of 1..n onto itself: a sum over i = 1..n that sees i only through pi(i) equals the
    same sum over i, which is how identities with permuted rows are proved for every n.
    """

    is_integer = True

    @classmethod
    def eval(cls, i, n, kind):
        if i.is_Integer and n.is_Integer:
            zero_based = PermutationMatrix(n, kind.name).image(int(i) - 1, int(n))
            return sp.Integer(zero_based + 1)
        return None
