"""The derivation model: what an instructor writes on a slide, as data the machine can check.

A :class:`Derivation` starts from an expression (``lhs``) and rewrites it through a chain of
:class:`Step` objects; each step claims that its expression equals the previous one and says why.
:class:`Claim` objects state further identities the derivation establishes ("J 1 = 0"), and
:class:`Property` objects state facts that are not equations ("J is positive semidefinite"),
each with a symbolic and a numeric witness. A :class:`Jacobian` or :class:`Gradient` result ties the
final expression to an independent NumPy implementation and to finite differences.

Expressions use SymPy: index notation (``IndexedBase`` with a shape, ``Sum``, ``KroneckerDelta``,
1-based indices, symbolic sizes), or matrix expressions (``MatrixSymbol``). Display names are
expanded through ``definitions`` before checking, so a step can read ``p_i (delta_ij - p_j)``.

>>> import sympy as sp
>>> n = sp.Symbol("n", integer=True, positive=True)
>>> i, k = sp.symbols("i k", integer=True)
>>> x = sp.IndexedBase("x", shape=(n,), real=True)
>>> d = Derivation(
...     slug="sum-of-squares-gradient", title="Gradient of a sum of squares", topic="Demo",
...     lhs=sp.Derivative(sp.Sum(x[k] ** 2, (k, 1, n)), x[i]),
...     steps=[Step(sp.Sum(2 * x[k] * sp.KroneckerDelta(k, i), (k, 1, n)), "chain rule, term by term"),
...            Step(2 * x[i], "only the term k = i survives")],
...     sizes={n: Size(prove=range(1, 4), numeric=32)}, indices={i: n})
>>> d
<Derivation 'sum-of-squares-gradient': Gradient of a sum of squares, 2 steps, 0 claims>
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import sympy as sp
from sympy.core.function import Application

from symformer.errors import DerivationError

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Size:
    """A size symbol's values: exact proofs run at every size in ``prove``, float64 at ``numeric``."""

    prove: Sequence[int] = (1, 2, 3, 4)
    numeric: int = 64

    def __post_init__(self):
        object.__setattr__(self, "prove", tuple(int(v) for v in self.prove))
        if not self.prove or min(self.prove) < 0 or self.numeric < 0:
            raise DerivationError("a Size needs at least one non-negative proof size and a non-negative numeric size")


@dataclass(frozen=True)
class Step:
    """One row of the chain: ``expr`` equals the previous row, because ``why``."""

    expr: Any
    why: str
    cite: str | None = None
    latex: str | None = None  # a hand-written display form, when SymPy's is not the one on the slide


@dataclass(frozen=True)
class Claim:
    """An identity the derivation establishes: ``lhs == rhs`` (for every value of the free indices)."""

    statement: str
    lhs: Any
    rhs: Any
    why: str = ""
    cite: str | None = None
    indices: Mapping | None = None  # extra free indices (symbol -> size) used only by this claim
    latex: str | None = None  # a hand-written display form of the identity, when SymPy's is too long


@dataclass(frozen=True)
class Witness:
    """The outcome of one witness of a :class:`Property` at one size."""

    holds: bool
    detail: str = ""
    error: float | None = None  # the margin or deviation, when the witness measures one


@dataclass(frozen=True)
class Property:
    """A fact that is not an equation, with two witnesses.

    ``exact(sizes)`` must decide the fact exactly at concrete sizes (SymPy, integers, rationals) and
    return a :class:`Witness`; ``numeric(rng, sizes)`` checks it in float64 on seeded random inputs and
    returns a :class:`Witness`. Either may return None for a size where it has nothing to say.

    ``general(sizes)``, optional, is called once with each size symbol mapped to itself and decides
    the fact for every size at once (see ``symformer.engine.general`` for helpers that return
    Witnesses); when its Witness holds, the property is labelled "proved for all n". None from it
    means it has no general argument.
    """

    statement: str
    exact: Callable[[Mapping], Witness | None]
    numeric: Callable[[Any, Mapping], Witness | None]
    why: str = ""
    cite: str | None = None
    latex: str | None = None
    general: Callable[[Mapping], Witness | None] | None = None


@dataclass(frozen=True)
class _Result:
    """What the final expression is the derivative of, and the independent implementation to compare.

    ``forward(**inputs)`` and ``reference(**inputs)`` take the derivation's inputs by name (as NumPy
    arrays; each takes only the names it lists); ``wrt`` names the input differentiated; ``indices``
    gives the free index symbols of the final expression, in array order. ``reference`` must be an
    implementation independent of SymPy.
    """

    forward: Callable
    reference: Callable
    wrt: str
    indices: tuple = ()


class Jacobian(_Result):
    """The final expression, indexed by (output index, input index), is the Jacobian of ``forward``."""


class Gradient(_Result):
    """The final expression is the gradient of the scalar ``forward`` with respect to ``wrt``."""


@dataclass(frozen=True)
class Figure:
    """A figure that belongs to a derivation: ``make()`` returns a matplotlib Figure."""

    name: str
    make: Callable
    caption: str


@dataclass
class Derivation:
    """A chain of justified steps and the claims it establishes. See the module docstring."""

    slug: str
    title: str
    topic: str
    lhs: Any
    steps: Sequence[Step]
    claims: Sequence[Claim | Property] = ()
    sizes: Mapping = field(default_factory=dict)
    indices: Mapping = field(default_factory=dict)
    definitions: Mapping = field(default_factory=dict)
    domains: Mapping = field(default_factory=dict)
    result: Jacobian | Gradient | None = None
    intro: str = ""
    outro: str = ""
    cite: Sequence[str] = ()
    figures: Sequence[Figure] = ()
    lhs_latex: str | None = None
    source: str | None = None  # the file it was found in, filled in by discovery
    # what the names of the hand-written display forms mean: LaTeX -> expression, or -> a function
    notation: Mapping = field(default_factory=dict)

    def __post_init__(self):
        self.steps = tuple(self.steps)
        self.claims = tuple(self.claims)
        self.cite = tuple(self.cite)
        self.figures = tuple(self.figures)
        self.sizes = dict(self.sizes)
        self.indices = dict(self.indices)
        self.definitions = dict(self.definitions)
        self.domains = dict(self.domains)
        self.notation = dict(self.notation)
        self.lhs = sp.sympify(self.lhs)
        self.steps = tuple(
            s if isinstance(s.expr, sp.Basic) else Step(sp.sympify(s.expr), s.why, s.cite, s.latex) for s in self.steps
        )
        _validate(self)

    # Display ------------------------------------------------------------------------------
    def _repr_latex_(self) -> str:
        from symformer.notation.chain import derivation_to_latex

        return "$$" + derivation_to_latex(self, environment="aligned") + "$$"

    def __repr__(self) -> str:
        return f"<Derivation {self.slug!r}: {self.title}, {len(self.steps)} steps, {len(self.claims)} claims>"

    # What the checks need -----------------------------------------------------------------
    def expand(self, expr):
        """``expr`` with every display name replaced by its definition (repeatedly)."""
        return expand_definitions(expr, self.definitions)

    def free_indices(self, expr) -> list:
        """The declared index symbols ``expr`` uses freely, in declaration order."""
        free = _free_symbols(self.expand(expr))
        return [i for i in self.indices if i in free]


def expand_definitions(expr, definitions: Mapping):
    """Replace display names by their definitions until none is left.

    A definition maps an IndexedBase to a ``Lambda`` of its indices, or a Symbol or MatrixSymbol
    to an expression.
    """
    expr = sp.sympify(expr)
    for _ in range(20):
        before = expr
        indexed = {b: f for b, f in definitions.items() if isinstance(b, sp.IndexedBase)}
        if indexed:
            expr = expr.replace(
                lambda e: isinstance(e, sp.Indexed) and e.base in indexed,
                lambda e: indexed[e.base](*e.indices),
            )
        plain = {b: f for b, f in definitions.items() if not isinstance(b, sp.IndexedBase)}
        if plain:
            expr = expr.xreplace(plain)
        if expr == before:
            return expr
    raise DerivationError("the definitions refer to each other in a cycle")


def _free_symbols(expr) -> set:
    """Free symbols, index symbols among them: z[j] and d/dz[j] free j, a Sum over j binds it.

    SymPy's own ``free_symbols`` drops j from ``Derivative(f, z[j])``, which leaves j free.
    """
    if isinstance(expr, sp.Symbol):
        return {expr}
    if isinstance(expr, (sp.Sum, sp.Product)):
        free = _free_symbols(expr.function)
        for symbol, *bounds in expr.limits:
            free = (free - {symbol}) | set().union(*(_free_symbols(b) for b in bounds))
        return free
    if isinstance(expr, sp.Derivative):
        return _free_symbols(expr.expr) | set().union(*(_free_symbols(v) for v, _ in expr.variable_count))
    if not isinstance(expr, sp.Basic):
        return set()
    return set().union(*(_free_symbols(arg) for arg in expr.args))


def _validate(d: Derivation) -> None:
    where = f"derivation {d.slug!r}"
    if not isinstance(d.slug, str) or not SLUG.match(d.slug):
        raise DerivationError(f"{where}: the slug must be lowercase words joined by '-', like 'softmax-jacobian'")
    if not d.steps:
        raise DerivationError(f"{where}: a derivation needs at least one step")
    for symbol in d.sizes:
        if not (isinstance(symbol, sp.Symbol) and symbol.is_integer):
            raise DerivationError(f"{where}: size {symbol} must be a Symbol declared integer=True")
        if not isinstance(d.sizes[symbol], Size):
            raise DerivationError(f"{where}: size {symbol} must map to a Size(prove=..., numeric=...)")
    for index, bound in d.indices.items():
        if not isinstance(index, sp.Symbol):
            raise DerivationError(f"{where}: index {index} must be a Symbol")
        if not (sp.sympify(bound).free_symbols <= set(d.sizes)):
            raise DerivationError(f"{where}: index {index} runs to {bound}, which uses undeclared sizes")

    lhs = d.expand(d.lhs)
    _check_ranks(lhs, f"{where}, left-hand side")
    _check_evaluable(lhs, f"{where}, left-hand side")
    _check_declared_indices(d, lhs, f"{where}, left-hand side")
    lhs_shape, lhs_free = _shape(lhs), set(d.free_indices(d.lhs))
    for number, step in enumerate(d.steps, start=1):
        if not isinstance(step.why, str) or not step.why.strip():
            raise DerivationError(f"{where}, step {number}: every step needs a justification (why=...)")
        expr = d.expand(step.expr)
        _check_evaluable(expr, f"{where}, step {number}")
        _check_declared_indices(d, expr, f"{where}, step {number}")
        if _shape(expr) != lhs_shape:
            raise DerivationError(
                f"{where}, step {number}: its shape {_shape_text(_shape(expr))} differs from "
                f"{_shape_text(lhs_shape)} of the left-hand side; check the transposes and products"
            )
        step_free = set(d.free_indices(step.expr))
        if step_free != lhs_free and not (step_free < lhs_free):
            raise DerivationError(
                f"{where}, step {number}: free indices {sorted(map(str, step_free))} differ from "
                f"{sorted(map(str, lhs_free))} of the left-hand side"
            )
        _check_ranks(expr, f"{where}, step {number}")
    for claim in d.claims:
        if isinstance(claim, Claim):
            lhs_c, rhs_c = d.expand(claim.lhs), d.expand(claim.rhs)
            for side in (lhs_c, rhs_c):
                _check_evaluable(side, f"{where}, claim {claim.statement!r}")
                _check_declared_indices(d, side, f"{where}, claim {claim.statement!r}", claim.indices or {})
            if _shape(lhs_c) != _shape(rhs_c):
                raise DerivationError(
                    f"{where}, claim {claim.statement!r}: the sides have shapes {_shape_text(_shape(lhs_c))} "
                    f"and {_shape_text(_shape(rhs_c))}"
                )
            _check_ranks(lhs_c, f"{where}, claim {claim.statement!r}")
            _check_ranks(rhs_c, f"{where}, claim {claim.statement!r}")
        elif not isinstance(claim, Property):
            raise DerivationError(f"{where}: claims must be Claim or Property objects, not {type(claim).__name__}")
        else:
            for name in ("exact", "numeric", "general"):
                function = getattr(claim, name)
                if not callable(function) and not (name == "general" and function is None):
                    raise DerivationError(f"{where}, claim {claim.statement!r}: {name} must be a function "
                                          f"returning a Witness or None, not {type(function).__name__}")


def _shape(expr):
    if isinstance(expr, sp.Derivative) and len(expr.variables) == 1 and getattr(expr.variables[0], "is_Matrix", False):
        return tuple(expr.variables[0].shape)  # a scalar's gradient with respect to a whole matrix
    return tuple(expr.shape) if getattr(expr, "is_Matrix", False) else ()


def _shape_text(shape) -> str:
    return "scalar" if not shape else " x ".join(str(s) for s in shape)


def _check_products(expr, where: str) -> None:
    """Every matrix product and sum inside ``expr`` fits: SymPy accepts N x d times M x d while N, M, d are symbols."""
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.MatMul):
            factors = [f for f in node.args if getattr(f, "is_Matrix", False)]
            for left, right in zip(factors, factors[1:]):
                if sp.simplify(left.shape[1] - right.shape[0]) != 0:
                    raise DerivationError(f"{where}: in {node}, {left} ({_shape_text(left.shape)}) cannot multiply "
                                          f"{right} ({_shape_text(right.shape)}); check the transposes")
        elif isinstance(node, sp.MatAdd):
            shapes = {tuple(a.shape) for a in node.args}
            if len(shapes) > 1:
                raise DerivationError(f"{where}: {node} adds matrices of shapes "
                                      f"{', '.join(_shape_text(s) for s in sorted(shapes, key=str))}")


def _check_ranks(expr, where: str) -> None:
    if expr.has(sp.MatMul, sp.MatAdd):
        _check_products(expr, where)
    for indexed in expr.atoms(sp.Indexed):
        shape = indexed.base.shape
        if shape is not None and len(shape) != len(indexed.indices):
            raise DerivationError(
                f"{where}: {indexed} has {len(indexed.indices)} indices but {indexed.base} is declared "
                f"with shape {tuple(shape)}"
            )


def _check_declared_indices(d: Derivation, expr, where: str, extra: Mapping | None = None) -> None:
    """Every index used freely (inside ``x[i]`` or a KroneckerDelta, not bound by a Sum) is declared."""
    declared = {**d.indices, **dict(extra or {})}
    free = _free_symbols(expr)
    runs_to: dict = {}  # index -> the size it runs to, read off the shape of the array it indexes
    for indexed in sp.preorder_traversal(expr):
        if isinstance(indexed, sp.Indexed):
            shape = indexed.base.shape or ()
            for position, index in enumerate(indexed.indices):
                if isinstance(index, sp.Symbol) and index in free:
                    runs_to.setdefault(index, shape[position] if position < len(shape) else None)
        elif isinstance(indexed, sp.KroneckerDelta):
            for index in indexed.args:
                if isinstance(index, sp.Symbol) and index in free:
                    runs_to.setdefault(index, None)
    missing = [i for i in sorted(runs_to, key=str) if i not in declared and i not in d.sizes]
    if not missing:
        return
    size = next(iter(d.sizes), None)
    bounds = {i: runs_to[i] if runs_to[i] is not None else (size if size is not None else "n") for i in missing}
    line = "indices={" + ", ".join(f"{k}: {v}" for k, v in {**d.indices, **bounds}.items()) + "}"
    names = ", ".join(map(str, missing))
    raise DerivationError(
        f"{where}: the free {'index' if len(missing) == 1 else 'indices'} {names} "
        f"{'is' if len(missing) == 1 else 'are'} not declared; add {line} to the Derivation "
        f"(each free index and the size it runs to, 1..size)"
    )


def evaluable_functions() -> list:
    """The names of the functions the numeric evaluator can compute, read from its rules.

    >>> "erf" in evaluable_functions() and "gamma" not in evaluable_functions()
    True
    """
    from symformer.engine import evaluate

    by_ufunc = [name for name, ufunc in evaluate._UFUNC_NAMES.items() if ufunc and hasattr(evaluate.np, ufunc)]
    by_rule = [cls.__name__ for cls in evaluate.numpy_rule.registry
               if isinstance(cls, type) and issubclass(cls, Application)
               and not issubclass(cls, sp.logic.boolalg.BooleanFunction) and cls is not sp.Function]
    return sorted(set(by_ufunc) | set(by_rule), key=str.lower)


def _evaluable(function_class: type) -> bool:
    from symformer.engine.evaluate import _UFUNC_NAMES, np, numpy_rule

    if numpy_rule.dispatch(function_class) is not numpy_rule.dispatch(object):
        return True  # its own rule (singledispatch caches the lookup)
    ufunc = _UFUNC_NAMES.get(function_class.__name__)
    return bool(ufunc) and hasattr(np, ufunc)


def _check_evaluable(expr, where: str) -> None:
    """A function the numeric witness cannot compute would leave every check without its second witness."""
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Function) and not _evaluable(type(node)):
            name = type(node).__name__
            raise DerivationError(
                f"{where}: the function {name} cannot be evaluated numerically, so no step using it can be "
                f"checked; write it with the supported functions ({', '.join(evaluable_functions())}) "
                f"or a definition built from them"
            )
