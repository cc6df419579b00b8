"""NumPy source code from a matrix-level closed form: what ``lambdify`` cannot print.

SymPy's ``lambdify`` cannot print a row-softmax, an elementwise function of a MatrixSymbol or a
OneMatrix of symbolic size, and it would turn ``X 1`` into a product with an n x n ones matrix.
This printer writes one NumPy statement per distinct subexpression (so ``P`` is computed once
however often the closed form uses it), turns products with a ones matrix into row or column sums
and broadcasts, and reads the sizes from the arguments' shapes. Leading batch axes broadcast.

A building block brings its own NumPy rule, copied in as a helper; other node types add a rule
with ``@numpy_source.register(TheirClass)``.

>>> import sympy as sp
>>> n, m = sp.symbols("n m", integer=True, positive=True)
>>> X = sp.MatrixSymbol("X", n, m)
>>> print(to_numpy_source(X * sp.OneMatrix(m, 1), [X], name="row_sums"))
import numpy as np
<BLANKLINE>
def row_sums(X):
    n = X.shape[-2]
    m = X.shape[-1]
    t0 = np.sum(X, axis=-1, keepdims=True)
    return t0
"""

from __future__ import annotations

import inspect
import textwrap
from functools import singledispatch
from typing import Sequence

import sympy as sp
from sympy.matrices.expressions.hadamard import HadamardProduct
from sympy.printing.numpy import NumPyPrinter

from symformer.blocks.base import Block
from symformer.errors import UsageError

class _Writer:
    """Collects one statement per distinct subexpression."""

    def __init__(self, names: dict):
        self.names = names
        self.lines: list = []
        self.memo: dict = {}
        self.helpers: dict = {}  # helper name -> its source

    def value(self, expr) -> str:
        """The name (or literal) holding ``expr``, writing its statement on first use."""
        if expr in self.names:
            return self.names[expr]
        if expr in self.memo:
            return self.memo[expr]
        if not getattr(expr, "is_Matrix", False):
            return self.scalar(expr)
        code = numpy_source(expr, self)
        name = f"t{len(self.lines)}"
        self.lines.append(f"{name} = {code}")
        self.memo[expr] = name
        return name

    def scalar(self, expr) -> str:
        expr = sp.sympify(expr)
        unknown = expr.free_symbols - set(self.names)
        if unknown:
            raise UsageError(f"the closed form uses {sorted(map(str, unknown))}, which are neither arguments nor sizes of them")
        return "(" + _ScalarPrinter().doprint(expr.xreplace({s: sp.Symbol(self.names[s]) for s in expr.free_symbols})) + ")"


class _ScalarPrinter(NumPyPrinter):
    def _print_Integer(self, expr):
        return f"{int(expr)}"


@singledispatch
def numpy_source(expr, writer: _Writer) -> str:
    """The NumPy expression of one node, its arguments already named; dispatches on the SymPy class."""
    raise UsageError(f"symformer cannot print {type(expr).__name__} ({expr}) as NumPy code; register a numpy_source rule")


@numpy_source.register(sp.MatMul)
def _(expr, writer):
    scalars = [a for a in expr.args if not a.is_Matrix]
    code = None
    for factor in (a for a in expr.args if a.is_Matrix):
        if isinstance(factor, sp.OneMatrix) and code is not None:
            rows, cols = factor.shape
            # X 1 (a column of ones) is a row sum; X 1^T with X a column is a broadcast, never a matmul
            code = (f"np.sum({code}, axis=-1, keepdims=True)" if cols == 1 and rows != 1
                    else f"np.broadcast_to({code}, np.shape({code})[:-1] + ({writer.scalar(cols)},))" if rows == 1
                    else f"np.broadcast_to(np.sum({code}, axis=-1, keepdims=True), np.shape({code})[:-1] + ({writer.scalar(cols)},))")
        elif isinstance(factor, sp.OneMatrix):
            code = ("ONES", factor)  # resolved against the next factor
        elif isinstance(code, tuple):
            rows, _ = code[1].shape
            value = writer.value(factor)
            summed = f"np.sum({value}, axis=-2, keepdims=True)"
            code = summed if rows == 1 else f"np.broadcast_to({summed}, np.shape({value})[:-2] + ({writer.scalar(rows)}, np.shape({value})[-1]))"
        else:
            code = writer.value(factor) if code is None else f"({code} @ {writer.value(factor)})"
    if isinstance(code, tuple):
        raise UsageError(f"a product of ones matrices alone ({expr}) is not worth generating code for")
    if scalars:
        code = f"{writer.scalar(sp.Mul(*scalars))} * {code}"
    return code


@numpy_source.register(sp.MatAdd)
def _(expr, writer):
    parts = []
    for term in expr.args:
        coefficient, _ = term.as_coeff_mmul()
        if coefficient == -1:  # a difference, not a product with -1
            parts.append(f"- {writer.value(-term)}")
        else:
            parts.append(f"+ {writer.value(term)}")
    text = " ".join(parts)
    return text[2:] if text.startswith("+ ") else text


@numpy_source.register(sp.Transpose)
def _(expr, writer):
    return f"np.swapaxes({writer.value(expr.arg)}, -1, -2)"


@numpy_source.register(HadamardProduct)
def _(expr, writer):
    return " * ".join(writer.value(a) for a in expr.args)


@numpy_source.register(sp.ZeroMatrix)
def _(expr, writer):
    return f"np.zeros(({writer.scalar(expr.rows)}, {writer.scalar(expr.cols)}))"


@numpy_source.register(sp.Identity)
def _(expr, writer):
    return f"np.eye({writer.scalar(expr.rows)})"


@numpy_source.register(sp.OneMatrix)
def _(expr, writer):
    return f"np.ones(({writer.scalar(expr.rows)}, {writer.scalar(expr.cols)}))"


@numpy_source.register(Block)
def _(expr, writer):
    """A block's own NumPy rule, copied into the generated module as a helper function."""
    helper = "_" + "".join("_" + c.lower() if c.isupper() else c for c in type(expr).__name__).lstrip("_")
    if helper not in writer.helpers:
        source = textwrap.dedent(inspect.getsource(type(expr).numpy_function))
        source = source.replace("@staticmethod\n", "").replace("def numpy_function(", f"def {helper}(", 1)
        writer.helpers[helper] = "\n" + source
    arguments = []
    for argument in expr.numpy_arguments():
        if isinstance(argument, str):
            arguments.append(repr(argument))
        elif getattr(argument, "is_Matrix", False):
            arguments.append(writer.value(argument))
        else:
            arguments.append(writer.scalar(argument))
    return f"{helper}({', '.join(arguments)})"


def _argument_names(args: Sequence) -> tuple[dict, list]:
    """Identifiers of the arguments, and statements reading each size symbol from a shape."""
    names, sizes = {}, []
    for arg in args:
        name = str(arg.name if hasattr(arg, "name") else arg)
        if not name.isidentifier():
            raise UsageError(f"the argument {arg} has no Python name; rename it")
        names[arg] = name
    for arg in args:
        if isinstance(arg, sp.MatrixSymbol):
            for axis, extent in zip((-2, -1), arg.shape):
                if isinstance(extent, sp.Symbol) and extent not in names:
                    names[extent] = str(extent)
                    sizes.append(f"{extent} = {names[arg]}.shape[{axis}]")
    return names, sizes


def to_numpy_source(expr, args: Sequence, name: str = "generated") -> str:
    """Python source of ``def name(*args)`` computing ``expr`` (or a tuple of expressions) with NumPy.

    ``args`` are the MatrixSymbols and Symbols the function takes, in order; sizes are read from
    the matrices' shapes.
    """
    if not name.isidentifier():
        raise UsageError(f"the function name {name!r} is not a Python identifier")
    outputs = list(expr) if isinstance(expr, (tuple, list)) else [expr]
    names, sizes = _argument_names(args)
    writer = _Writer(names)
    results = [writer.value(sp.sympify(e)) for e in outputs]
    body = sizes + writer.lines + [f"return {', '.join(results) if len(results) > 1 else results[0]}"]
    helpers = "".join(writer.helpers[h] for h in sorted(writer.helpers))
    signature = ", ".join(names[a] for a in args)
    return "import numpy as np\n" + helpers + f"\ndef {name}({signature}):\n" + "\n".join("    " + line for line in body)


def compile_numpy(expr, args: Sequence, name: str = "generated"):
    """:func:`to_numpy_source`, compiled: a function of NumPy arrays, its source in ``.source``.

    >>> import numpy as np, sympy as sp
    >>> from symformer.blocks import RowSoftmax
    >>> S = sp.MatrixSymbol("S", sp.Symbol("n", integer=True), sp.Symbol("m", integer=True))
    >>> f = compile_numpy(RowSoftmax(S), [S])
    >>> f(np.array([[0.0, np.log(3.0)]])).round(6).tolist()
    [[0.25, 0.75]]
    """
    source = to_numpy_source(expr, args, name)
    namespace: dict = {}
    exec(compile(source, f"<symformer generated {name}>", "exec"), namespace)
    function = namespace[name]
    function.source = source
    return function
