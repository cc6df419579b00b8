"""Evaluate SymPy expressions with NumPy, vectorised over their free indices.

This is symformer's own printer-by-interpretation, written because ``lambdify`` cannot print the
forms derivations use (elementwise functions of a MatrixSymbol, OneMatrix of symbolic size) and
prints ``Sum`` as a Python loop. Every index symbol owns one array axis: the free indices own the
trailing axes in the order given, and each ``Sum`` puts its dummy on a new leading axis and
reduces it away, so a contraction costs what the equivalent einsum costs.

Index notation is 1-based, as written on slides: ``z[k]`` with ``k`` in ``1..n`` reads
``values[z][k - 1]``. Matrix symbols keep SymPy's 0-based ``MatrixElement`` indices.

A ``Derivative`` is evaluated by central differences of its argument, never by trusting SymPy's
derivative: that is the independent numeric witness of every differentiation step.

A building block (``symformer.blocks.Block``) brings its own NumPy rule; other new node types add
one with ``@numpy_rule.register(TheirClass)``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from functools import singledispatch
from typing import Mapping

import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.hadamard import HadamardPower, HadamardProduct
from sympy.matrices.expressions.matexpr import MatrixElement

from symformer.blocks.base import Block
from symformer.errors import DerivationError

#: Step of the central differences used for Derivative nodes; the truncation error is O(h^2).
FD_STEP = 1e-5


@dataclass(frozen=True)
class Env:
    """What an expression is evaluated in.

    ``values`` maps IndexedBase, MatrixSymbol and Symbol objects to arrays or numbers;
    ``axis`` maps each bound index symbol to its position counted from the right;
    ``depth`` is the number of axes every intermediate array is laid out on;
    ``ranges`` gives each bound index symbol's concrete (low, high) range.
    """

    values: Mapping
    axis: Mapping = field(default_factory=dict)
    depth: int = 0
    ranges: Mapping = field(default_factory=dict)
    fd_step: float = FD_STEP  # the relative step of central differences (a check may ask for another)
    scale: dict | None = None  # collects "function": the largest |f| a central difference evaluated

    def index_array(self, symbol: sp.Symbol) -> np.ndarray:
        low, high = self.ranges[symbol]
        shape = [1] * self.depth
        shape[self.depth - 1 - self.axis[symbol]] = high - low + 1
        return np.arange(low, high + 1).reshape(shape)

    def bind(self, symbol: sp.Symbol, low: int, high: int) -> "Env":
        """A new environment with ``symbol`` on a fresh leading axis."""
        return replace(
            self,
            axis={**self.axis, symbol: self.depth},
            depth=self.depth + 1,
            ranges={**self.ranges, symbol: (low, high)},
        )


def evaluate(expr, values: Mapping, free: Mapping | None = None, fd_step: float = FD_STEP, scale: dict | None = None) -> np.ndarray:
    """Evaluate ``expr`` with ``values``; ``free`` maps free index symbols to (low, high).

    The result has one axis per free index, in the order of ``free``, followed by the matrix
    axes of a matrix-valued expression. ``fd_step`` is the relative step of the central differences
    of Derivative nodes; ``scale``, when given, receives ``scale["function"]``, the largest |f| those
    differences evaluated, from which their rounding error eps |f| / h follows.

    >>> n, k = sp.Symbol("n", integer=True), sp.Symbol("k", integer=True)
    >>> z = sp.IndexedBase("z")
    >>> float(evaluate(sp.Sum(z[k] ** 2, (k, 1, 3)), {z: np.array([1.0, 2.0, 3.0])}))
    14.0
    """
    env = Env(values=values, fd_step=fd_step, scale=scale)
    free = dict(free or {})
    for symbol, (low, high) in reversed(list(free.items())):
        env = env.bind(symbol, int(low), int(high))
    expr = sp.sympify(expr)
    if free and getattr(expr, "is_Matrix", False):
        raise DerivationError(f"{expr} is matrix-valued and has free indices {list(free)}; use one or the other")
    # NaN and inf are results here (the checks report them), not reasons to stop
    with np.errstate(all="ignore"):
        out = _numbers(numpy_rule(expr, env))
    if free:
        out = np.broadcast_to(out, tuple(high - low + 1 for low, high in free.values()))
    return np.array(out)


def _numbers(value) -> np.ndarray:
    """float64, or complex128 where an expression has imaginary parts (e^{i m theta})."""
    array = np.asarray(value)
    return array.astype(complex, copy=False) if np.iscomplexobj(array) else array.astype(float, copy=False)


def _concrete_int(expr, env: Env, what: str) -> int:
    """A size or a limit as a Python int; on the hot path of every Sum, so no ``subs``."""
    if isinstance(expr, (int, np.integer, sp.Integer)):
        return int(expr)
    if isinstance(expr, sp.Symbol) and isinstance(env.values.get(expr), (int, np.integer, sp.Integer)):
        return int(env.values[expr])
    scalars = {s: sp.sympify(v) for s, v in env.values.items() if isinstance(s, sp.Symbol) and np.ndim(v) == 0}
    value = sp.sympify(expr).xreplace(scalars)
    if not value.is_Integer:
        raise DerivationError(f"{what} {expr} is not a concrete integer; give a value for its size symbols")
    return int(value)


@singledispatch
def numpy_rule(expr, env: Env):
    """Evaluate one node; dispatches on the SymPy class."""
    if isinstance(expr, sp.Function) and hasattr(np, _UFUNC_NAMES.get(expr.func.__name__, "")):
        ufunc = getattr(np, _UFUNC_NAMES[expr.func.__name__])
        return ufunc(*(numpy_rule(arg, env) for arg in expr.args))
    raise DerivationError(f"symformer cannot evaluate {type(expr).__name__} ({expr}) numerically")


_UFUNC_NAMES = {
    "exp": "exp", "log": "log", "sin": "sin", "cos": "cos", "tan": "tan", "tanh": "tanh",
    "Abs": "abs", "sign": "sign", "atan": "arctan", "asin": "arcsin", "acos": "arccos",
    "sinh": "sinh", "cosh": "cosh", "floor": "floor", "ceiling": "ceil",
}

#: NumPy has no erf and SciPy is no dependency: math.erf (float64-accurate), element by element.
_ERF = np.vectorize(math.erf, otypes=[float])


@numpy_rule.register(sp.erf)
def _(expr, env):
    return _ERF(numpy_rule(expr.args[0], env))


@numpy_rule.register(sp.Number)
def _(expr, env):
    return float(expr)


@numpy_rule.register(sp.core.numbers.ImaginaryUnit)
def _(expr, env):
    return 1j


@numpy_rule.register(sp.NumberSymbol)
def _(expr, env):
    return float(expr)


@numpy_rule.register(sp.Symbol)
def _(expr, env):
    if expr in env.axis:
        return env.index_array(expr)
    if expr in env.values:
        return env.values[expr]
    raise DerivationError(f"no value for the symbol {expr}: declare it as a size, an index or an input")


@numpy_rule.register(sp.Add)
@numpy_rule.register(sp.MatAdd)
def _(expr, env):
    total = 0
    for arg in expr.args:
        total = total + numpy_rule(arg, env)
    return total


@numpy_rule.register(sp.Mul)
@numpy_rule.register(HadamardProduct)
def _(expr, env):
    product = 1
    for arg in expr.args:
        product = product * numpy_rule(arg, env)
    return product


@numpy_rule.register(sp.Pow)
def _(expr, env):
    base, exponent = numpy_rule(expr.base, env), numpy_rule(expr.exp, env)
    if expr.exp == -1:
        return 1.0 / base
    if expr.exp == sp.Rational(1, 2):
        return np.sqrt(base)
    return np.power(_numbers(base), exponent)


@numpy_rule.register(sp.KroneckerDelta)
def _(expr, env):
    a, b = (numpy_rule(arg, env) for arg in expr.args)
    return (np.asarray(a) == np.asarray(b)).astype(float)


@numpy_rule.register(sp.Max)
def _(expr, env):
    args = [numpy_rule(arg, env) for arg in expr.args]
    return np.maximum.reduce(np.broadcast_arrays(*args))


@numpy_rule.register(sp.Min)
def _(expr, env):
    args = [numpy_rule(arg, env) for arg in expr.args]
    return np.minimum.reduce(np.broadcast_arrays(*args))


@numpy_rule.register(sp.Piecewise)
def _(expr, env):
    conditions = [np.asarray(numpy_rule(cond, env), dtype=bool) for _, cond in expr.args]
    choices = [numpy_rule(value, env) for value, _ in expr.args]
    shapes = np.broadcast_shapes(*(np.shape(c) for c in conditions + choices))
    return np.select([np.broadcast_to(c, shapes) for c in conditions], [np.broadcast_to(v, shapes) for v in choices], np.nan)


@numpy_rule.register(sp.logic.boolalg.BooleanTrue)
def _(expr, env):
    return True


@numpy_rule.register(sp.logic.boolalg.BooleanFalse)
def _(expr, env):
    return False


for _relation, _op in [(sp.StrictLessThan, np.less), (sp.LessThan, np.less_equal), (sp.StrictGreaterThan, np.greater),
                       (sp.GreaterThan, np.greater_equal), (sp.Eq, np.equal), (sp.Ne, np.not_equal)]:
    numpy_rule.register(_relation)(lambda expr, env, _op=_op: _op(numpy_rule(expr.lhs, env), numpy_rule(expr.rhs, env)))


@numpy_rule.register(sp.And)
def _(expr, env):
    return np.logical_and.reduce(np.broadcast_arrays(*(numpy_rule(a, env) for a in expr.args)))


@numpy_rule.register(sp.Or)
def _(expr, env):
    return np.logical_or.reduce(np.broadcast_arrays(*(numpy_rule(a, env) for a in expr.args)))


@numpy_rule.register(sp.Indexed)
def _(expr, env):
    base = expr.base
    if base not in env.values:
        raise DerivationError(f"no value for {base}: declare it as an input (IndexedBase with a shape)")
    array = np.asarray(env.values[base])
    if len(expr.indices) != array.ndim:
        raise DerivationError(f"{expr} uses {len(expr.indices)} indices but {base} has {array.ndim}")
    positions = [_positions(expr, index, env, array.shape[axis], first=1) for axis, index in enumerate(expr.indices)]
    return array[tuple(positions)]


def _positions(entry, index, env, extent: int, first: int) -> np.ndarray:
    """The 0-based array positions an index names, checked against the declared range.

    Index notation counts from 1, matrix entries from 0 (``first``). NumPy would read x[0] of a
    1-based x as x[n] and a real-valued index as its integer part; both are errors here.
    """
    value = np.asarray(numpy_rule(index, env))
    if value.dtype.kind not in "iub":
        if value.dtype.kind != "f" or not np.all(value == np.round(value)):
            raise DerivationError(f"{entry}: the index {index} takes values that are not integers; "
                                  f"declare {index} as an index with its range (indices={{{index}: ...}})")
    value = value.astype(int)
    outside = (value < first) | (value >= extent + first)
    if outside.any():
        bad = int(value[outside].ravel()[0])
        raise DerivationError(f"{entry} reads entry {bad}, outside the declared range {first}..{extent + first - 1}; "
                              f"check the sum limits and index shifts")
    return value - first


def _reduce(expr, env, reduction):
    body, limits = expr.function, list(expr.limits)
    symbol, low, high = limits[-1]
    outer = sorted((sp.sympify(low).free_symbols | sp.sympify(high).free_symbols) & set(env.axis), key=str)
    if outer:
        return _reduce_per_outer_value(expr, env, outer)
    inner = expr.func(body, *limits[:-1]) if len(limits) > 1 else body
    low_value = _concrete_int(low, env, "the lower limit")
    high_value = _concrete_int(high, env, "the upper limit")
    if high_value < low_value:  # an empty range: the empty sum is 0, the empty product 1
        return 0.0 if reduction is np.sum else 1.0
    inner_env = env.bind(symbol, low_value, high_value)
    values = _numbers(numpy_rule(inner, inner_env))
    shape = [1] * inner_env.depth
    shape[0] = high_value - low_value + 1
    values = np.broadcast_to(values, np.broadcast_shapes(values.shape, tuple(shape)))
    return reduction(values, axis=0)


def _reduce_per_outer_value(expr, env, outer):
    """A sum whose limits depend on outer indices (sum_{k=i+1}^{n}), one value of those indices at a time.

    Each value gives the sum concrete limits, so it reads only the entries that value of the outer
    indices reaches; the pieces are laid back on the outer indices' axes.
    """
    positions = [env.depth - 1 - env.axis[symbol] for symbol in outer]
    spans = [env.ranges[symbol] for symbol in outer]
    pieces, shape = [], (1,) * env.depth
    for values in itertools.product(*(range(low, high + 1) for low, high in spans)):
        piece = _numbers(numpy_rule(expr.xreplace(dict(zip(outer, map(sp.Integer, values)))), env))
        if piece.ndim > env.depth:
            raise DerivationError(f"{expr}: a matrix-valued sum with limits that depend on an outer index is not supported")
        piece = piece.reshape((1,) * (env.depth - piece.ndim) + piece.shape)
        pieces.append((values, piece))
        shape = np.broadcast_shapes(shape, piece.shape)
    shape = list(shape)
    for position, (low, high) in zip(positions, spans):
        shape[position] = high - low + 1
    out = np.empty(shape, dtype=np.result_type(*(piece for _, piece in pieces)))
    for values, piece in pieces:
        where = [slice(None)] * env.depth
        for position, value, (low, _) in zip(positions, values, spans):
            where[position] = slice(value - low, value - low + 1)
        out[tuple(where)] = piece
    return out


@numpy_rule.register(sp.Sum)
def _(expr, env):
    # Limits are applied innermost first: SymPy lists them from the inside out.
    return _reduce_ordered(expr, env, np.sum)


@numpy_rule.register(sp.Product)
def _(expr, env):
    return _reduce_ordered(expr, env, np.prod)


def _reduce_ordered(expr, env, reduction):
    if len(expr.limits) == 1:
        return _reduce(expr, env, reduction)
    # Sum(f, inner, outer): the outer limit is bound first.
    outer = expr.limits[-1]
    return _reduce(expr.func(expr.func(expr.function, *expr.limits[:-1]), outer), env, reduction)


@numpy_rule.register(sp.Derivative)
def _(expr, env):
    """Central differences of the differentiated expression: an independent witness of diff."""
    function, variables = expr.expr, expr.variable_count
    result_function = function
    for variable, count in variables[:-1]:
        result_function = sp.Derivative(result_function, (variable, count))
    variable, count = variables[-1]
    if count != 1:
        result_function = sp.Derivative(result_function, (variable, count - 1))
    return _central_difference(result_function, variable, env)


def _central_difference(function, variable, env):
    if isinstance(variable, sp.Symbol):
        plus, minus = dict(env.values), dict(env.values)
        x = float(env.values[variable])
        h = env.fd_step * max(1.0, abs(x))
        plus[variable], minus[variable] = x + h, x - h
        f_plus, f_minus = numpy_rule(function, replace(env, values=plus)), numpy_rule(function, replace(env, values=minus))
        _record_scale(env, f_plus, f_minus)
        return (f_plus - f_minus) / (2 * h)
    if isinstance(variable, sp.MatrixSymbol):
        return _matrix_gradient(function, variable, env)
    if isinstance(variable, sp.Indexed):
        base = variable.base
        array = np.asarray(env.values[base], dtype=float)
        positions = [_positions(variable, index, env, array.shape[axis], first=1) for axis, index in enumerate(variable.indices)]
    elif isinstance(variable, MatrixElement):
        base = variable.parent
        array = np.asarray(env.values[base], dtype=float)
        positions = [_positions(variable, index, env, array.shape[axis], first=0) for axis, index in enumerate(variable.indices)]
    else:
        raise DerivationError(
            f"symformer differentiates numerically only with respect to a symbol or one element such as z[j]; got {variable}"
        )
    # Perturb each element the index arrays can name, and keep the entries where they name it.
    positions = np.broadcast_arrays(*positions)
    total = 0.0
    for element in sorted(set(zip(*(p.ravel().tolist() for p in positions)))):
        here = np.logical_and.reduce([p == e for p, e in zip(positions, element)])
        total = total + np.where(here, _entry_difference(function, env, base, array, element), 0.0)
    return total


def _matrix_gradient(function, variable, env):
    """The gradient of a scalar with respect to a whole matrix, entry by entry: the shape of the matrix."""
    array = np.asarray(env.values[variable], dtype=float)
    gradient = np.empty(array.shape)
    for element in np.ndindex(array.shape):
        gradient[element] = float(_entry_difference(function, env, variable, array, element))
    return gradient


def _entry_difference(function, env, base, array, element):
    """(f(A + h e) - f(A - h e)) / 2h for one entry ``element`` of the input ``base`` whose value is ``array``."""
    h = env.fd_step * max(1.0, abs(array[element]))
    plus, minus = array.copy(), array.copy()
    plus[element] += h
    minus[element] -= h
    f_plus = numpy_rule(function, replace(env, values={**env.values, base: plus}))
    f_minus = numpy_rule(function, replace(env, values={**env.values, base: minus}))
    _record_scale(env, f_plus, f_minus)
    return (np.asarray(f_plus) - np.asarray(f_minus)) / (2 * h)


def _record_scale(env, *values) -> None:
    if env.scale is not None:
        finite = [np.abs(v)[np.isfinite(v)] for v in map(np.asarray, values)]
        largest = max((float(f.max()) for f in finite if f.size), default=0.0)
        env.scale["function"] = max(env.scale.get("function", 0.0), largest)


# Matrix expressions -------------------------------------------------------------------------


@numpy_rule.register(sp.MatrixSymbol)
def _(expr, env):
    if expr not in env.values:
        raise DerivationError(f"no value for the matrix {expr}: declare it as an input")
    return np.asarray(env.values[expr], dtype=float)


@numpy_rule.register(sp.MatrixBase)
def _(expr, env):
    rows = [[numpy_rule(entry, env) for entry in expr.row(r)] for r in range(expr.rows)]
    return _numbers([[_numbers(v) for v in row] for row in rows])


@dataclass(frozen=True)
class _Ones:
    """A ones matrix kept symbolic, so that products with it become sums."""

    rows: int
    cols: int


@numpy_rule.register(sp.MatMul)
def _(expr, env):
    """Multiply left to right; a product with a ones matrix is a row or column sum, never a matmul."""
    scalar, acc = 1.0, None
    for arg in expr.args:
        if not arg.is_Matrix:
            scalar = scalar * numpy_rule(arg, env)
            continue
        factor = (
            _Ones(*(_concrete_int(s, env, "the size") for s in arg.shape))
            if isinstance(arg, sp.OneMatrix)
            else _numbers(numpy_rule(arg, env))
        )
        if acc is None:
            acc = factor
        elif isinstance(acc, _Ones) and isinstance(factor, _Ones):
            scalar, acc = scalar * acc.cols, _Ones(acc.rows, factor.cols)
        elif isinstance(acc, _Ones):
            acc = np.broadcast_to(factor.sum(axis=-2, keepdims=True), factor.shape[:-2] + (acc.rows, factor.shape[-1]))
        elif isinstance(factor, _Ones):
            acc = np.broadcast_to(acc.sum(axis=-1, keepdims=True), acc.shape[:-1] + (factor.cols,))
        else:
            acc = acc @ factor
    if isinstance(acc, _Ones):
        acc = np.ones((acc.rows, acc.cols))
    return scalar * acc


@numpy_rule.register(sp.Transpose)
def _(expr, env):
    return np.swapaxes(np.asarray(numpy_rule(expr.arg, env)), -1, -2)


@numpy_rule.register(HadamardPower)
def _(expr, env):
    return np.power(numpy_rule(expr.base, env), numpy_rule(expr.exp, env))


@numpy_rule.register(sp.Identity)
def _(expr, env):
    return np.eye(_concrete_int(expr.rows, env, "the size"))


@numpy_rule.register(sp.ZeroMatrix)
def _(expr, env):
    return np.zeros(tuple(_concrete_int(s, env, "the size") for s in expr.shape))


@numpy_rule.register(sp.OneMatrix)
def _(expr, env):
    return np.ones(tuple(_concrete_int(s, env, "the size") for s in expr.shape))


@numpy_rule.register(sp.Inverse)
def _(expr, env):
    return np.linalg.inv(numpy_rule(expr.arg, env))


@numpy_rule.register(sp.Trace)
def _(expr, env):
    return np.trace(numpy_rule(expr.arg, env), axis1=-2, axis2=-1)


@numpy_rule.register(sp.Determinant)
def _(expr, env):
    return np.linalg.det(numpy_rule(expr.arg, env))


@numpy_rule.register(MatrixElement)
def _(expr, env):
    parent = np.asarray(numpy_rule(expr.parent, env))
    rows = _positions(expr, expr.i, env, parent.shape[-2], first=0)
    cols = _positions(expr, expr.j, env, parent.shape[-1], first=0)
    return parent[..., rows, cols] if parent.ndim == 2 else parent[rows, cols]


@numpy_rule.register(sp.DiagMatrix)
def _(expr, env):
    vector = np.asarray(numpy_rule(expr.arg, env)).reshape(-1)
    return np.diag(vector)


@numpy_rule.register(sp.DiagonalMatrix)
def _(expr, env):
    return np.diag(np.diag(numpy_rule(expr.arg, env)))


@numpy_rule.register(ElementwiseApplyFunction)
def _(expr, env):
    function = expr.function
    dummy = sp.Dummy("x")
    body = function(dummy)
    inner = numpy_rule(expr.expr, env)
    return numpy_rule(body, replace(env, values={**env.values, dummy: inner}))



@numpy_rule.register(Block)
def _(expr, env):
    arguments = []
    for argument in expr.numpy_arguments():
        if isinstance(argument, str):
            arguments.append(argument)
        elif getattr(argument, "is_Matrix", False):
            arguments.append(np.asarray(numpy_rule(argument, env), dtype=float))
        else:
            arguments.append(_concrete_int(argument, env, f"the size {argument} of {type(expr).__name__}"))
    return type(expr).numpy_function(*arguments)


@numpy_rule.register(sp.BlockMatrix)
def _(expr, env):
    return np.block([[np.asarray(numpy_rule(b, env), dtype=float) for b in row] for row in expr.blocks.tolist()])
