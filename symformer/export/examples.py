r"""Lecture material computed from the derivations: worked numeric examples and tables of shapes.

A :class:`WorkedExample` substitutes small exact inputs (integers, fractions) into what a
derivation derived, evaluates it exactly with SymPy, and computes the same quantities with the
NumPy reference it names; the two must agree, or the build stops. The slide and the notes then
show the inputs and the numbers. A :class:`ShapesTable` lists the matrices of some derivations
with their shapes, read from their ``MatrixSymbol`` objects, and what each one is.

Course files declare both at module level, next to the derivation they belong to; declaring one
registers it for that derivation (as exporters register their format).

>>> import sympy as sp
>>> from symformer import Derivation, Step
>>> x = sp.Symbol("x")
>>> square = Derivation("twice", "Twice", "Demo", lhs=x + x, steps=[Step(2 * x, "collect")])
>>> example = WorkedExample(square, {"x": 3}, [("2x", None, lambda x: 2 * x)])
>>> [q.exact for q in example.evaluate()]
[6.0]
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from fractions import Fraction
from typing import Any, Mapping, Sequence

import numpy as np
import sympy as sp

from symformer.engine import cache as _cache
from symformer.engine.model import Claim, Derivation
from symformer.engine.results import VerifyConfig
from symformer.errors import DerivationError, SymformerError
from symformer.export.content_cache import load as load_kept, store as keep
from symformer.notation.printer import DEFAULT_STYLE, Style, step_latex, to_latex

#: Relative and absolute tolerance between the exact value and the NumPy reference (float64 on small inputs).
RTOL, ATOL = 1e-9, 1e-12

_EXAMPLES: dict = {}  # slug -> the examples declared for derivations of that slug, in order
_TABLES: dict = {}


@dataclass
class Quantity:
    """One evaluated quantity: its LaTeX name, the exact values (floats of the exact result), NumPy's."""

    name: str
    exact: list
    reference: list
    error: float


@dataclass
class WorkedExample:
    """Small exact inputs, the quantities to show, and the NumPy reference of each.

    ``inputs`` maps the names the derivation uses (``"z"``, ``"Q"``, ``"tau"``) to numbers, lists or
    nested lists of integers, Fractions or strings like ``"1/2"``; ``sizes`` maps size names to
    values (inferred from the inputs' shapes where left out). Each of ``shows`` is ``(name,
    expression, reference)``: ``expression`` None means the derivation's final step; ``reference``
    is called with the inputs (and sizes) it names, as NumPy arrays.
    """

    derivation: Derivation
    inputs: Mapping[str, Any]
    shows: Sequence[tuple]
    sizes: Mapping[str, int] = field(default_factory=dict)
    title: str = ""
    text: str = ""  # one sentence under the numbers, LaTeX prose

    def __post_init__(self):
        # a copy of a course file declares its own example for its own derivation object
        _EXAMPLES.setdefault(self.derivation.slug, []).append(self)

    def exact_inputs(self) -> dict:
        return {name: _exact(value) for name, value in self.inputs.items()}

    def size_values(self) -> dict:
        """Size symbol -> value: the given ones, and those an input's shape fixes."""
        symbols = {str(s): s for s in self.derivation.sizes}
        out = {symbols[name]: int(value) for name, value in self.sizes.items() if name in symbols}
        unknown = [name for name in self.sizes if name not in symbols]
        if unknown:
            raise DerivationError(f"derivation {self.derivation.slug!r}, worked example: no size named "
                                  f"{', '.join(unknown)}; the sizes are {', '.join(symbols) or 'none'}")
        for thing in _things(self.derivation):
            value = self.inputs.get(_name(thing))
            shape = getattr(thing, "shape", None)
            if value is None or shape is None:
                continue
            for extent, actual in zip(shape, np.shape(np.asarray(value, dtype=object))):
                if isinstance(extent, sp.Symbol) and extent in self.derivation.sizes:
                    out.setdefault(extent, int(actual))
        return out

    def evaluate(self) -> list:
        """Every quantity exactly and by its NumPy reference; raises if the two disagree.

        The numbers are kept in the cache folder (``examples/``) under a key of everything they
        depend on (the derivation and its file, the inputs, the references' code), bound to that key
        by a digest as verdicts are; an example evaluated once is not evaluated again.
        """
        if getattr(self, "_quantities", None) is None:
            key = self._key()
            stored = _load_numbers(key) if key else None
            if stored is not None:
                self._quantities = stored
            else:
                self._quantities = self._evaluate()
                if key:
                    _store_numbers(key, self._quantities)
        return self._quantities

    def _key(self) -> str | None:
        try:
            parts = [_cache.content_hash(self.derivation, VerifyConfig()), repr(sorted(self.inputs.items())),
                     repr(sorted(self.sizes.items())), _code_digest()]
            for name, expression, reference in self.shows:
                parts += [name, sp.srepr(expression) if expression is not None else "final step",
                          inspect.getsource(reference)]
        except (OSError, TypeError):  # a reference without source (built in C, made at run time): no caching
            return None
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def _evaluate(self) -> list:
        d = self.derivation
        sizes = self.size_values()
        exact_inputs = self.exact_inputs()
        quantities = []
        for name, expression, reference in self.shows:
            expression = d.steps[-1].expr if expression is None else expression
            exact = _exact_value(d, expression, sizes, exact_inputs)
            arguments = {**{n: np.asarray(_float(v)) for n, v in exact_inputs.items()},
                         **{str(s): v for s, v in sizes.items()}}
            try:
                wanted = inspect.signature(reference).parameters
                numeric = np.asarray(reference(**{k: arguments[k] for k in wanted if k in arguments}), dtype=float)
            except Exception as exc:
                raise SymformerError(f"derivation {d.slug!r}, worked example, {name}: the NumPy reference raised "
                                     f"{type(exc).__name__}: {exc}") from exc
            exact_array = np.asarray(exact, dtype=float)
            if exact_array.shape != numeric.shape and exact_array.size == numeric.size:
                numeric = numeric.reshape(exact_array.shape)
            if exact_array.shape != numeric.shape:
                raise SymformerError(f"derivation {d.slug!r}, worked example, {name}: the derived result has shape "
                                     f"{exact_array.shape}, the NumPy reference {numeric.shape}")
            finite = np.isfinite(exact_array)
            same_infinities = np.array_equal(np.isfinite(numeric), finite) and np.array_equal(exact_array[~finite], numeric[~finite])
            error = float(np.max(np.abs(exact_array[finite] - numeric[finite]), initial=0.0))
            if not same_infinities or not np.allclose(exact_array[finite], numeric[finite], rtol=RTOL, atol=ATOL):
                raise SymformerError(
                    f"derivation {d.slug!r}, worked example, {name}: the derived result gives {exact_array.tolist()} "
                    f"but the NumPy reference gives {numeric.tolist()} at {dict(self.inputs)}; the derivation or the "
                    "reference is wrong, or the example names the wrong reference")
            quantities.append(Quantity(name, exact_array.tolist(), numeric.tolist(), error))
        return quantities


def _load_numbers(key: str) -> list | None:
    """The quantities kept for ``key``, or None when there are none that can be trusted (then they are evaluated)."""
    rows = load_kept("examples", key)
    if not isinstance(rows, list):
        return None
    try:
        quantities = [Quantity(**row) for row in rows]
    except TypeError:
        return None
    if not all(isinstance(q.name, str) and isinstance(q.error, float) for q in quantities):
        return None
    return quantities


def _store_numbers(key: str, quantities: list) -> None:
    keep("examples", key, [vars(q) for q in quantities])


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """The source of what an example's numbers depend on beyond its file: the references and this module."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent.parent
    for path in sorted((package / "reference").rglob("*.py")) + [Path(__file__).resolve()]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def worked_example(derivation) -> WorkedExample | None:
    """The worked example declared beside ``derivation`` (in the same file), if any.

    >>> from symformer import catalog
    >>> worked_example(catalog()["softmax-jacobian"]).inputs
    {'z': [1, 2, 3]}
    """
    declared = _EXAMPLES.get(derivation.slug, [])
    for example in reversed(declared):
        if example.derivation is derivation:
            return example
    for example in reversed(declared):
        if example.derivation.source is not None and example.derivation.source == derivation.source:
            return example
    return None


def _exact(value):
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_exact(v) for v in value]
    if isinstance(value, str):
        if value in ("-inf", "-oo"):
            return -sp.oo
        return sp.Rational(value)
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, float):
        return sp.nsimplify(value, rational=True)
    return sp.sympify(value)


def _float(value):
    if isinstance(value, list):
        return [_float(v) for v in value]
    return float(value)


def _name(thing) -> str:
    if isinstance(thing, sp.IndexedBase):
        return str(thing.label)
    return str(getattr(thing, "name", thing))


def _things(derivation) -> list:
    """The IndexedBase, MatrixSymbol and plain symbols a derivation's expressions hold."""
    exprs = [derivation.lhs, *(s.expr for s in derivation.steps), *derivation.definitions.values()]
    found = {}
    for expr in exprs:
        expr = sp.sympify(expr)
        for atom in expr.atoms(sp.Indexed):
            found.setdefault(str(atom.base.label), atom.base)
        for atom in expr.atoms(sp.MatrixSymbol):
            found.setdefault(atom.name, atom)
    return list(found.values())


def _exact_value(derivation, expression, sizes: dict, inputs: dict):
    """``expression`` of ``derivation`` at concrete sizes and exact inputs, as nested lists of SymPy numbers."""
    where = f"derivation {derivation.slug!r}, worked example"
    expr = derivation.expand(expression)
    free = derivation.free_indices(expression)
    concrete = {s: sp.Integer(v) for s, v in sizes.items()}
    matrices = {}
    for atom in sp.sympify(expr).atoms(sp.MatrixSymbol):
        if atom.name in inputs:
            rows = inputs[atom.name]
            rows = rows if isinstance(rows, list) else [[rows]]
            rows = [r if isinstance(r, list) else [r] for r in rows]
            matrices[atom] = sp.ImmutableMatrix(rows)
    expr = expr.xreplace(matrices) if matrices else expr
    expr = expr.xreplace(concrete) if concrete else expr
    scalars = {sp.Symbol(n): v for n, v in inputs.items() if not isinstance(v, list)}
    ranges = []
    for index in free:
        bound = sp.sympify(derivation.indices[index]).xreplace(concrete)
        if not bound.is_Integer:
            raise DerivationError(f"{where}: the index {index} runs to {derivation.indices[index]}, which the sizes do not fix")
        ranges.append(range(1, int(bound) + 1))
    values = []
    for point in itertools.product(*ranges):
        entry = expr.xreplace(dict(zip(free, map(sp.Integer, point)))) if free else expr
        values.append(_reduce(entry, inputs, scalars, where))
    if not free:
        return values[0]
    shape = [len(r) for r in ranges]
    return np.array(values, dtype=object).reshape(shape).tolist()


def _unroll(expr):
    """Sums with integer limits written out term by term, innermost first: no simplification, which
    SymPy's ``doit`` attempts at great cost."""
    if isinstance(expr, sp.Sum):
        terms = [_unroll(expr.function)]
        for index, low, high in expr.limits:
            if not (low.is_Integer and high.is_Integer):
                return expr.doit()
            terms = [t.xreplace({index: sp.Integer(v)}) for t in terms for v in range(int(low), int(high) + 1)]
        return sp.Add(*[_unroll(t) for t in terms])
    if not getattr(expr, "args", ()) or isinstance(expr, (sp.MatrixBase, sp.Indexed)):
        return expr
    args = [_unroll(a) for a in expr.args]
    return expr.func(*args) if args != list(expr.args) else expr


def _reduce(entry, inputs: dict, scalars: dict, where: str):
    entry = _unroll(entry)
    if getattr(entry, "is_Matrix", False):
        entry = sp.ImmutableMatrix(entry.doit().as_explicit())
        entry = entry.applyfunc(_unroll)
    elif entry.has(sp.Derivative, sp.Product):
        entry = entry.doit()
    table = {}
    for atom in sp.sympify(entry).atoms(sp.Indexed):
        name = str(atom.base.label)
        if name not in inputs:
            raise DerivationError(f"{where}: no input named {name!r}; give it in inputs")
        value = inputs[name]
        try:
            for position in atom.indices:
                value = value[int(position) - 1]
        except (IndexError, TypeError):
            raise DerivationError(f"{where}: {atom} lies outside the input {name!r}") from None
        table[atom] = value
    table.update({s: v for s, v in scalars.items()})
    by_name = {str(k): v for k, v in table.items() if isinstance(k, sp.Symbol)}
    entry = entry.xreplace(table)
    leftover = {s: by_name[str(s)] for s in sp.sympify(entry).free_symbols if str(s) in by_name}
    if leftover:
        entry = entry.xreplace(leftover)
    if getattr(entry, "is_Matrix", False):
        entry = sp.ImmutableMatrix(entry).applyfunc(lambda e: sp.nsimplify(e) if e.is_Float else e)
        return [[_number(entry[r, c], where) for c in range(entry.cols)] for r in range(entry.rows)]
    return _number(entry, where)


def _number(value, where: str):
    value = sp.sympify(value)
    if value in (sp.oo, -sp.oo):
        return float(value)
    number = sp.N(value, 30)
    if not number.is_number:
        missing = ", ".join(sorted(str(s) for s in number.free_symbols))
        raise DerivationError(f"{where}: the result still holds {missing}; give a value for each in inputs or sizes")
    return float(number)


# --- shapes -------------------------------------------------------------------------------------


@dataclass
class ShapesTable:
    """The matrices of ``derivations`` with their shapes, shown before ``before`` (default: the first)."""

    derivations: Sequence[Derivation]
    title: str = "Shapes"
    before: Derivation | None = None

    def __post_init__(self):
        self.derivations = tuple(self.derivations)
        self.before = self.before or self.derivations[0]
        _TABLES[self.before.slug] = self

    def rows(self, style: Style = DEFAULT_STYLE) -> list:
        r"""``(symbol, shape, what)`` rows, all LaTeX: inputs, the forward pass, the incoming gradient,
        the backward pass, then the gradients each derivation derives (``dX`` has the shape of ``X``)."""
        shapes, defined, uses, gradients = {}, {}, {}, {}
        for d in self.derivations:
            for expr in [d.lhs, *(s.expr for s in d.steps), *d.definitions.keys(), *d.definitions.values()]:
                for atom in sorted(sp.sympify(expr).atoms(sp.MatrixSymbol), key=lambda m: m.name):
                    shapes.setdefault(atom.name, atom)
            for key, value in d.definitions.items():
                if isinstance(key, sp.MatrixSymbol):
                    forms = defined.setdefault(key.name, [])
                    if to_latex(value, style) not in forms:
                        forms.append(to_latex(value, style))
                    uses.setdefault(key.name, set()).update(a.name for a in sp.sympify(value).atoms(sp.MatrixSymbol))
            candidates = [(d.lhs, step_latex(d.steps[-1], style))]
            candidates += [(c.lhs, c.latex or to_latex(c.rhs, style)) for c in d.claims if isinstance(c, Claim)]
            for lhs, result in candidates:
                if isinstance(lhs, sp.Derivative) and isinstance(lhs.variables[0], sp.MatrixSymbol):
                    variable = lhs.variables[0]
                    gradients.setdefault(variable.name, (variable, result))
        # defined matrices after what their definitions use; inputs in the order those definitions name them
        ordered, pending = [], [n for n in shapes if n in defined]
        while pending:
            ready = [n for n in pending if not (uses[n] & set(pending) - {n})] or pending[:1]
            ordered += ready
            pending = [n for n in pending if n not in ready]
        mentions = " ".join(" ".join(defined[n]) for n in ordered)
        position = {n: mentions.find(_symbol(n)) if _symbol(n) in mentions else len(mentions) for n in shapes}
        inputs = sorted((n for n in shapes if n not in defined and not n.startswith("d")), key=lambda n: position[n])
        upstream = [n for n in shapes if n not in defined and n.startswith("d")]
        backward = set()
        for name in ordered:  # a matrix is of the backward pass when its definition reaches a gradient
            if uses[name] & (set(upstream) | backward):
                backward.add(name)
        order = [(name, shapes[name], "input") for name in inputs]
        order += [(name, shapes[name], f"${_symbol(name)} = {' = '.join(defined[name])}$") for name in ordered
                  if name not in backward]
        for name in upstream:
            source = name[1:]
            what = rf"given: $\partial L / \partial {_symbol(source)}$" if source in shapes else "given"
            order.append((name, shapes[name], what))
        order += [(name, shapes[name], f"${_symbol(name)} = {' = '.join(defined[name])}$") for name in ordered
                  if name in backward]
        for name, (variable, result) in gradients.items():
            if name in shapes and f"d{name}" not in shapes:
                order.append((f"d{name}", variable, rf"$\partial L / \partial {_symbol(name)} = {result}$"))
        return [(_symbol(name), _shape_latex(symbol.shape, style), what) for name, symbol, what in order]


def shapes_table(derivation) -> ShapesTable | None:
    r"""The shapes table shown before ``derivation`` (the same object), if any.

    >>> from symformer import catalog
    >>> [row[:2] for row in shapes_table(catalog()["attention-backward-v"]).rows()][:2]
    [('Q', 'N \\times d_{k}'), ('K', 'M \\times d_{k}')]
    """
    table = _TABLES.get(derivation.slug)
    return table if table is not None and table.before is derivation else None


def _symbol(name: str) -> str:
    return to_latex(sp.MatrixSymbol(name, 1, 1)) if name else name


def _shape_latex(shape, style: Style) -> str:
    return " \\times ".join(to_latex(sp.sympify(extent), style) for extent in shape)


# --- numbers as LaTeX ---------------------------------------------------------------------------


def number_latex(value: float, digits: int = 4) -> str:
    r"""A number as a slide shows it: integers whole, others to ``digits`` significant digits.

    >>> [number_latex(v) for v in (2359296.0, 0.0900306, -0.02204, float("-inf"), 0.0)]
    ['2\\,359\\,296', '0.09003', '-0.02204', '-\\infty', '0']
    """
    if value == float("-inf"):
        return r"-\infty"
    if value == float("inf"):
        return r"\infty"
    if abs(value - round(value)) < 1e-12 * max(1.0, abs(value)):
        whole = f"{int(round(value)):,}".replace(",", r"\,")
        return whole if whole != "-0" else "0"
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \cdot 10^{{{int(exponent)}}}"
    return text


def exact_latex(value) -> str:
    r"""An exact input as LaTeX: ``\frac{1}{2}`` for a fraction.

    >>> exact_latex(sp.Rational(-1, 2))
    '- \\frac{1}{2}'
    """
    return to_latex(value)


def array_latex(values, formatter=number_latex) -> str:
    r"""A scalar, a vector as a tuple, a matrix as a ``pmatrix``, a three-way array as a tuple of matrices.

    >>> array_latex([1.0, 2.0])
    '\\left(1, 2\\right)'

    A three-way array (heads of matrices) is the tuple of its matrices:

    >>> array_latex([[[1.0, 0.0]], [[0.0, 2.0]]])
    '\\left(\\begin{pmatrix} 1 & 0 \\end{pmatrix}, \\begin{pmatrix} 0 & 2 \\end{pmatrix}\\right)'
    """
    if not isinstance(values, list):
        return formatter(values)
    if values and isinstance(values[0], list) and values[0] and isinstance(values[0][0], list):
        return r"\left(" + ", ".join(array_latex(v, formatter) for v in values) + r"\right)"  # a matrix per head
    if values and isinstance(values[0], list):
        if len(values) == 1 and len(values[0]) == 1:
            return formatter(values[0][0])
        rows = [" & ".join(formatter(v) for v in row) for row in values]
        return r"\begin{pmatrix} " + r" \\ ".join(rows) + r" \end{pmatrix}"
    return r"\left(" + ", ".join(formatter(v) for v in values) + r"\right)"


__all__ = ["Quantity", "ShapesTable", "WorkedExample", "array_latex", "exact_latex", "number_latex", "shapes_table",
           "worked_example"]
