"""Write a derivation: differentiate an expression one rule at a time, as a student would on paper.

``derive(expression, wrt)`` returns an ordinary :class:`Derivation` whose ``lhs`` is the unevaluated
derivative and whose steps each apply one rule: linearity, a sum term by term, the product or quotient
rule, the chain rule through one kind of function. The rule is applied to every unevaluated derivative
where it fits, and the derivatives it leaves behind stay unevaluated (``Derivative`` nodes), so each
row reads like the row a person writes. The elementary derivatives that finish a rule
(``d z_k / d z_j = delta_kj``, a constant's derivative is 0) are taken in the same row and named in
its justification. When no derivative is left, the Kronecker deltas are contracted, the display
names of ``definitions`` are recognised again (``e^{z_i} / sum_k e^{z_k}`` becomes ``p_i``), and the
result is tidied.

Nothing here is trusted: the rewriting only proposes rows, and the derivation it returns is checked
by :func:`symformer.verify` like any hand-written one (each row against the previous by the method
ladder, and numerically with every derivative taken by central differences). A display name that is
differentiated inside the expression (``d sigma / d x_j`` in LayerNorm) is derived on its own from its
definition, and that derivative is attached as a :class:`Claim`, so it is verified too.

Rules are a table: each entry recognises one form of ``d f / d x`` and returns the rewritten form.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Mapping

import sympy as sp
from sympy import Derivative, KroneckerDelta, Sum

from symformer.engine.model import Claim, Derivation, Size, Step, expand_definitions
from symformer.errors import DerivationError

MAX_ROWS = 30  # a runaway rewrite stops here with an error rather than looping


# The rules --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One rule of differentiation: ``apply(deriver, f, x)`` rewrites d f / d x, or returns None."""

    name: str
    why: str
    apply: Callable


def _d(f, x):
    return Derivative(f, x, evaluate=False)


def _linearity(dv, f, x):
    if isinstance(f, sp.Add) and not isinstance(x, sp.MatrixSymbol):  # a sum of matrix derivatives has no shape here
        return sp.Add(*(_d(t, x) for t in f.args))
    if isinstance(f, sp.Mul) and not isinstance(x, sp.MatrixSymbol):  # for a matrix, d/dX keeps its scalar
        constant, varying = dv.split(f, x)
        if constant != 1 and varying != 1:
            return constant * _d(varying, x)
    return None


def _term_by_term(dv, f, x):
    if isinstance(f, Sum):
        return Sum(_d(f.function, x), *f.limits)
    return None


def _quotient(dv, f, x):
    if not isinstance(f, sp.Mul):
        return None
    numerator, denominator = sp.fraction(f)
    if dv.depends(denominator, x) and dv.depends(numerator, x) and numerator != 1:
        return (_d(numerator, x) * denominator - numerator * _d(denominator, x)) / denominator**2
    return None


def _product(dv, f, x):
    if not isinstance(f, sp.Mul):
        return None
    factors = [a for a in f.args if dv.depends(a, x)]
    if len(factors) < 2:
        return None
    rest = sp.Mul(*(a for a in f.args if not dv.depends(a, x)))
    terms = [sp.Mul(*(factors[:n] + [_d(g, x)] + factors[n + 1:])) for n, g in enumerate(factors)]
    return rest * sp.Add(*terms)


def _outer_derivative(f):
    """(f'(u), u) for a function of one argument, the outer derivative written in u."""
    u = f.args[0] if f.args else None
    table = {
        sp.exp: lambda u: sp.exp(u),
        sp.log: lambda u: 1 / u,
        sp.sin: lambda u: sp.cos(u),
        sp.cos: lambda u: -sp.sin(u),
        sp.tanh: lambda u: 1 - sp.tanh(u) ** 2,
        sp.erf: lambda u: 2 / sp.sqrt(sp.pi) * sp.exp(-u**2),
    }
    if f.func in table and len(f.args) == 1:
        return table[f.func](u), u
    return None


_CHAIN_WORDS = {
    sp.exp: r"$\partial e^{u} = e^{u}\, \partial u$",
    sp.log: r"$\partial \log u = \partial u / u$",
    sp.sin: r"$\partial \sin u = \cos u\, \partial u$",
    sp.cos: r"$\partial \cos u = -\sin u\, \partial u$",
    sp.tanh: r"$\partial \tanh u = (1 - \tanh^2 u)\, \partial u$",
    sp.erf: r"$\partial \operatorname{erf} u = \frac{2}{\sqrt{\pi}} e^{-u^2}\, \partial u$",
}


def _chain_function(func):
    def apply(dv, f, x):
        if f.func is not func:
            return None
        outer, u = _outer_derivative(f)
        return outer * _d(u, x)

    return apply


def _power(dv, f, x):
    if isinstance(f, sp.Pow) and not dv.depends(f.exp, x) and dv.depends(f.base, x):
        if f.exp == sp.Rational(1, 2):
            return _d(f.base, x) / (2 * f)
        return f.exp * f.base ** (f.exp - 1) * _d(f.base, x)
    return None


def _trace_parts(dv, f, x):
    """(scalar, the factors of tr(M_1 ... M_n), the positions of X or X^T) when only those depend on X."""
    outside = sp.Integer(1)
    if isinstance(x, sp.MatrixSymbol) and isinstance(f, sp.Mul):  # tau tr(...): the scalar stays inside d/dX
        traces = [a for a in f.args if isinstance(a, sp.Trace)]
        if len(traces) != 1 or dv.depends(f / traces[0], x):
            return None
        outside, f = f / traces[0], traces[0]
    if not (isinstance(x, sp.MatrixSymbol) and isinstance(f, sp.Trace)):
        return None
    scalar, factors = _matmul_factors(f.arg)
    scalar = scalar * outside
    positions = [n for n, m in enumerate(factors) if m == x or m == x.T]
    if not positions or any(dv.depends(m, x) for n, m in enumerate(factors) if n not in positions):
        return None
    return scalar, factors, positions


def _cyclic_rest(factors, n, x):
    """B with tr(M_1 .. X .. M_n) = tr(B^T X), by moving the factors after X to the front."""
    after = factors[n + 1:] + factors[:n]
    rest = sp.MatMul(*after).doit() if after else sp.Identity(x.shape[1])
    return rest if factors[n] == x.T else rest.T


def _trace_terms(dv, f, x):
    """Each term of f (a trace, a scalar times one, or a sum of such) as (scalar, factors, positions).

    Terms free of X are dropped (their gradient is 0); None when some term is not of this form.
    """
    if not isinstance(x, sp.MatrixSymbol):
        return None
    terms = []
    for term in sp.Add.make_args(f):
        if not dv.depends(term, x):
            continue
        parts = _trace_parts(dv, term, x)
        if parts is None:
            return None
        terms.append(parts)
    return terms or None


def _in_gradient_form(parts) -> bool:
    scalar, factors, positions = parts
    return positions == [1] and len(factors) == 2 and isinstance(factors[0], sp.Transpose)


def _trace_cyclic(dv, f, x):
    terms = _trace_terms(dv, f, x)
    if terms is None or any(len(t[2]) != 1 for t in terms) or all(_in_gradient_form(t) for t in terms):
        return None
    rewritten = []
    for scalar, factors, (n,) in terms:
        b = _cyclic_rest(factors, n, x).doit()
        rewritten.append(scalar * sp.Trace(sp.MatMul(sp.Transpose(b), x)))
    return _d(sp.Add(*rewritten), x)  # a scalar times d/dX would lose the shape: it stays inside


def _trace_gradient(dv, f, x):
    terms = _trace_terms(dv, f, x)
    if terms is None or not all(_in_gradient_form(t) for t in terms):
        return None
    return sp.MatAdd(*(scalar * _cyclic_rest(factors, n, x) for scalar, factors, (n,) in terms)).doit()


def _trace_product(dv, f, x):
    terms = _trace_terms(dv, f, x)
    if terms is None or all(len(t[2]) == 1 for t in terms):
        return None
    return sp.MatAdd(*(scalar * _cyclic_rest(factors, n, x) for scalar, factors, positions in terms for n in positions))


def _matmul_factors(m):
    """(scalar, matrix factors) of a product, nested products flattened."""
    if isinstance(m, sp.MatMul):
        scalar, factors = sp.Integer(1), []
        for a in m.args:
            if getattr(a, "is_Matrix", False):
                inner_scalar, inner = _matmul_factors(a)
                scalar, factors = scalar * inner_scalar, factors + inner
            else:
                scalar = scalar * a
        return scalar, factors
    return sp.Integer(1), [m]


def _open_matrix_names(dv, f, x):
    """A named matrix (S = tau Q K^T) that depends on X is written out inside the trace."""
    if not isinstance(x, sp.MatrixSymbol):
        return None
    names = {m: dv.definitions[m] for m in f.atoms(sp.MatrixSymbol) if m in dv.definitions and dv.depends(m, x)}
    if not names:
        return None
    return _d(f.xreplace(names), x)


LINEARITY_AND_SUMS = (r"linearity: constant factors come out and every sum, $\sum_k$ among them, is differentiated "
                      r"term by term")

RULES = [
    Rule("linearity", r"linearity: constant factors come out, a sum is differentiated term by term", _linearity),
    Rule("term by term", r"differentiate the sum term by term: $\partial \sum_k f_k = \sum_k \partial f_k$", _term_by_term),
    Rule("matrix definition", "write out the definition of the named matrix", _open_matrix_names),
    Rule("trace cyclic", r"the trace is cyclic: $\operatorname{tr}(A B) = \operatorname{tr}(B A)$ and "
                         r"$\operatorname{tr}(M) = \operatorname{tr}(M^{\top})$, to bring the variable to the right", _trace_cyclic),
    Rule("trace gradient", r"the gradient of a trace: $\partial \operatorname{tr}(B^{\top} X) / \partial X = B$", _trace_gradient),
    Rule("trace product", r"product rule through the trace: each occurrence of the variable in turn, the others held "
                          r"fixed, each by $\partial \operatorname{tr}(B^{\top} X) / \partial X = B$ (the trace is cyclic)",
         _trace_product),
    Rule("quotient rule", r"quotient rule: $\partial (f/g) = (\partial f\, g - f\, \partial g) / g^2$", _quotient),
    Rule("product rule", r"product rule: $\partial (f g) = \partial f\, g + f\, \partial g$", _product),
    *(Rule(f"chain rule through {func.__name__}", f"chain rule: {words}", _chain_function(func))
      for func, words in _CHAIN_WORDS.items()),
    Rule("power rule", r"chain rule through the power: $\partial u^{a} = a u^{a-1}\, \partial u$ "
                       r"($\partial \sqrt{u} = \partial u / (2 \sqrt{u})$)", _power),
]


# The engine -------------------------------------------------------------------------------


class _Deriver:
    def __init__(self, wrt, definitions: Mapping, indices: Mapping):
        self.wrt = wrt
        self.definitions = dict(definitions)
        self.indices = dict(indices)
        self.lemmas: list = []  # (display-name derivative, its closed form), attached as claims
        self.contracted = False  # whether the last contraction used a Kronecker delta

    # what depends on what
    def expanded(self, e):
        return expand_definitions(e, self.definitions)

    def depends(self, e, x) -> bool:
        e = self.expanded(e)
        if isinstance(x, sp.Indexed):
            return any(a.base == x.base for a in e.atoms(sp.Indexed))
        if isinstance(x, sp.MatrixSymbol):
            return e.has(x)
        return x in e.free_symbols

    def split(self, f, x):
        constant = sp.Mul(*(a for a in f.args if not self.depends(a, x)))
        varying = sp.Mul(*(a for a in f.args if self.depends(a, x)))
        return constant, varying

    def is_name(self, f) -> bool:
        base = f.base if isinstance(f, sp.Indexed) else f
        return base in self.definitions

    # elementary derivatives, taken in the row of whatever rule produced them
    def elementary(self, f, x):
        """(value, words) for d f / d x when it needs no rule, else None."""
        if not self.depends(f, x):
            return sp.Integer(0) if not getattr(x, "is_Matrix", False) else sp.ZeroMatrix(*x.shape), "constant"
        if f == x:
            return sp.Integer(1), "identity"
        if isinstance(f, sp.Indexed) and isinstance(x, sp.Indexed) and f.base == x.base:
            return sp.Mul(*(KroneckerDelta(a, b) for a, b in zip(f.indices, x.indices))), "delta"
        return None

    def finish_elementary(self, e):
        found = set()

        def visit(node):
            if isinstance(node, Derivative) and len(node.variables) == 1:
                done = self.elementary(node.expr, node.variables[0])
                if done is not None:
                    found.add(done[1])
                    return done[0]
                return node
            if not node.args or isinstance(node, (sp.Indexed, sp.Symbol)):
                return node
            new = [visit(a) for a in node.args]
            return node.func(*new) if new != list(node.args) else node

        return visit(e), found

    # one row: the first rule of the table that fits some derivative, applied wherever it fits
    def next_row(self, e):
        derivatives = _derivatives(e)
        if not derivatives:
            return None
        plain = [node for node in derivatives if not self.is_name(node.expr)]
        for rule in RULES:
            mapping = {}
            for node in plain:
                new = rule.apply(self, node.expr, node.variables[0])
                if new is not None:
                    mapping[node] = new
            if mapping:
                e = _replace(e, mapping)
                if rule.name in ("linearity", "term by term"):
                    # constants out and sums term by term, as far as they go: one row of linearity
                    e, used = self._close_under(RULES[:2], e)
                    if used == {"linearity", "term by term"}:
                        return e, LINEARITY_AND_SUMS
                if rule.name == "matrix definition":
                    opened = sorted({m for node in mapping for m in node.expr.atoms(sp.MatrixSymbol) if m in self.definitions},
                                    key=str)
                    shown = ", ".join(f"${_tex(m)} = {_tex(self.definitions[m])}$" for m in opened)
                    return e, f"write out the definition {shown}"
                return e, rule.why
        if len(plain) < len(derivatives):
            return self._name_row(e, derivatives)
        raise DerivationError(f"no rule differentiates {derivatives[0].expr} with respect to {derivatives[0].variables[0]}; "
                              "write it with exp, log, powers, sqrt, sin, cos, tanh, erf, sums and products")

    def _close_under(self, rules, e):
        """Apply ``rules`` until none fits; return the result and the names of the rules that were used."""
        used = set()
        for _ in range(MAX_ROWS):
            mapping = {}
            for node in _derivatives(e):
                if self.is_name(node.expr):
                    continue
                for rule in rules:
                    new = rule.apply(self, node.expr, node.variables[0])
                    if new is not None:
                        mapping[node] = new
                        used.add(rule.name)
                        break
            if not mapping:
                return e, used
            e = _replace(e, mapping)
        return e, used

    def _name_row(self, e, derivatives):
        """d (display name) / d x: derived on its own from the definition, and cited as a claim."""
        mapping, shown = {}, []
        for node in derivatives:
            f, x = node.expr, node.variables[0]
            if not self.is_name(f):
                continue
            closed = self.lemma(f, x)
            mapping[node] = closed
            shown.append(rf"$\partial {_tex(f)} / \partial {_tex(x)} = {_tex(closed)}$")
        words = ", ".join(shown)
        names = []
        for node in derivatives:
            if self.is_name(node.expr) and _base(node.expr) not in names:
                names.append(_base(node.expr))
        of = " and ".join(f"${_tex(n)}$" for n in names)
        if len(names) > 1:
            return _replace(e, mapping), f"differentiate the definitions of {of} (claims below): {words}"
        return _replace(e, mapping), f"differentiate the definition of {of} (claim below): {words}"

    def lemma(self, f, x):
        body = self.expanded_once(f)
        inner = _Deriver(x, self.definitions, self.indices)
        rows = inner.rows(_d(body, x))
        closed = rows[-1][0]
        for lemma in inner.lemmas:
            if lemma not in self.lemmas:
                self.lemmas.append(lemma)
        self.lemmas.append((_d(f, x), closed))
        return closed

    def expanded_once(self, f):
        if isinstance(f, sp.Indexed):
            return _fresh_dummies(self.definitions[f.base], set(f.indices) | set(self.indices))(*f.indices)
        return self.definitions[f]

    # the whole chain
    def rows(self, lhs) -> list:
        rows, e = [], lhs
        if isinstance(lhs, Derivative) and self.is_name(lhs.expr):
            e = _d(self.expanded_once(lhs.expr), lhs.variables[0])
            rows.append((e, rf"write out the definition of ${_tex(lhs.expr)}$"))
        while True:
            row = self.next_row(e)
            if row is None:
                break
            e, why = row
            e, found = self.finish_elementary(e)
            why += _elementary_words(found, self.wrt)
            rows.append((e, why))
            if len(rows) > MAX_ROWS:
                raise DerivationError(f"the derivative of {lhs.expr} does not close after {MAX_ROWS} rules")
        for transform, why in ((self.contract_row, None),
                               (self.fold, None),
                               (self.tidy, "collect the terms")):
            new = transform(e)
            if isinstance(new, tuple):
                new, why = new
            if new != e and str(new) != str(e):  # a row that reads the same as the one before says nothing
                rows.append((new, why))
                e = new
        return rows

    # after the last derivative
    def contract_row(self, e):
        """The contraction as a row, its justification naming what happened."""
        self.contracted = False
        new = self.contract(e)
        if self.contracted:
            return new, (r"the Kronecker delta picks one term of each sum: $\sum_k f_k \delta_{kj} = f_j$; "
                         r"factors that do not depend on the summation index leave the sum")
        return new, "split the sums term by term; factors that do not depend on the summation index leave the sum"

    def contract(self, e):
        def visit(node):
            if not node.args or isinstance(node, (sp.Indexed, sp.Symbol)):
                return node
            node = node.func(*[visit(a) for a in node.args]) if not isinstance(node, Sum) else \
                Sum(visit(node.function), *node.limits)
            if isinstance(node, Sum):
                inner = self._contract_sum(Sum(node.function, node.limits[0]))
                for limit in node.limits[1:]:
                    inner = visit(Sum(inner, limit))
                return inner
            return node

        out = visit(e)
        return out

    def _contract_sum(self, s):
        k, low, high = s.limits[0]
        terms = sp.Add.make_args(sp.expand_mul(s.function))
        out = []
        for term in terms:
            factors = list(sp.Mul.make_args(term))
            delta = next((g for g in factors if isinstance(g, KroneckerDelta) and k in g.args
                          and len(set(g.args) - {k}) == 1 and low == 1 and self._runs_to(next(iter(set(g.args) - {k})), high)),
                         None)
            if delta is not None:
                other = next(iter(set(delta.args) - {k}))
                factors.remove(delta)
                self.contracted = True
                out.append(_substitute_free(sp.Mul(*factors), k, other))
                continue
            fixed = sp.Mul(*(g for g in factors if k not in _free(g)))
            varying = sp.Mul(*(g for g in factors if k in _free(g)))
            out.append(fixed * (Sum(varying, (k, low, high)) if varying != 1 else (high - low + 1)))
        return sp.Add(*out)

    def _runs_to(self, index, high) -> bool:
        bound = self.indices.get(index)
        return bound is not None and sp.simplify(sp.sympify(bound) - high) == 0

    def fold(self, e):
        """Recognise display names again: their definitions, or the part of one they are solved for."""
        names = []
        out = e
        for name in reversed(list(self.definitions)):
            new = self._fold_one(out, name)
            if new != out:
                names.append(name)
                out = new
        if not names:
            return e
        out = self.tidy(out)
        shown = [self._definition_tex(n) for n in reversed(names)]
        if all(shown):
            return out, f"recognise the definition{'s' if len(shown) > 1 else ''} {', '.join(shown)}"
        names_tex = ", ".join(f"${_tex(n)}$" for n in reversed(names))
        return out, f"recognise {names_tex} from {'its definition' if len(names) == 1 else 'their definitions'}"

    def _definition_tex(self, name) -> str | None:
        """``$p_{a} = ...$`` when it is short enough to read in a justification, else None."""
        body = self.definitions[name]
        if isinstance(name, sp.IndexedBase):
            text = f"{_tex(name[body.variables])} = {_tex(body.expr)}"
        else:
            text = f"{_tex(name)} = {_tex(body)}"
        return f"${text}$" if len(text) <= 90 else None

    def _fold_one(self, e, name):
        body = self.definitions[name]
        present = {_canonical(node) for node in sp.preorder_traversal(e)}
        if isinstance(name, sp.IndexedBase):
            # one template with placeholder slots; each choice of indices is a cheap xreplace of it, and a choice
            # whose characteristic part (e^{z_t}, x_t) does not occur in e is skipped before anything is built
            symbols = sorted({s for s in _all_symbols(e) if s.is_integer and s not in self.sizes_in(e)}, key=str)
            body = _fresh_dummies(body, _all_symbols(e) | set(self.indices))
            slots = [sp.Symbol(f"_slot{n}", integer=True) for n in range(len(body.variables))]
            template = body(*slots)
            template_kernels = _kernels(template, set(slots))
            allowed = _slot_values(template, slots, e)
            instances = []
            for t in itertools.product(*(sorted(allowed[slot], key=str) if allowed[slot] is not None else symbols
                                         for slot in slots)):
                chosen = dict(zip(slots, t))
                kernels = [k.xreplace(chosen) for k in template_kernels]
                kernels = [k for k in kernels if _canonical(k) in present]
                if kernels:
                    instances.append((name[t], template.xreplace(chosen), kernels))
        else:
            instances = [(name, body, [k for k in _kernels(body, set()) if _canonical(k) in present] or [body])]
        out = e
        for display, instance, kernels in instances:  # where the whole definition appears, write its name
            if _canonical(instance) in present:
                out = _replace_canonical(out, instance, lambda: display)
        if out != e:
            return out
        for display, instance, kernels in instances:
            # solve the definition for the one part of it that appears in e: e^{z_t} = p_t S, e^{-x} = 1/sigma - 1
            for kernel in kernels:
                if _canonical(kernel) not in present or kernel == instance:
                    continue
                solved = _invert(display, instance, kernel)
                if solved is None:
                    continue
                keep = [s for s in instance.atoms(Sum) if not s.has(kernel) and not kernel.has(s)]  # the normaliser S stays
                shielded, restore = _shield(out, keep)
                candidate = _replace_canonical(shielded, kernel, lambda: solved).xreplace(restore)
                if candidate != out:
                    candidate = _cancel_keeping_sums(self.contract(_unify_sums(candidate)))
                    if _size(candidate) < _size(out):
                        out = candidate
        if out != e:
            return out
        if isinstance(body, sp.Pow) and not isinstance(name, sp.IndexedBase):  # sigma^-3, and sigma^2 as the radicand
            def power(node):
                if isinstance(node, sp.Pow) and _canonical(node.base) == _canonical(body.base):
                    return name ** (node.exp / body.exp)
                if _canonical(node) == _canonical(body.base):
                    return name ** (1 / body.exp)
                return None
            candidate = _walk_replace(e, power)
            if candidate != e:
                return candidate
        return e

    def sizes_in(self, e) -> set:
        return {s for b in self.indices.values() for s in sp.sympify(b).free_symbols}

    def tidy(self, e):
        if e.has(Derivative) or getattr(e, "is_Matrix", False):
            if getattr(e, "is_Matrix", False):
                return _tidy_matrix(e)
            return e
        candidates = []
        for make in (sp.factor_terms, _factor_keeping_sums, lambda v: v, _cancel_keeping_sums,
                     lambda v: sp.factor_terms(sp.expand(v))):
            try:
                candidates.append(_absorb_sign(make(e)))
            except (sp.PolynomialError, TypeError, ValueError, NotImplementedError):
                continue
        return min(candidates, key=_size)


# Helpers ----------------------------------------------------------------------------------


def _derivatives(e) -> list:
    """The outermost unevaluated derivatives of e, in reading order."""
    found = []

    def visit(node):
        if isinstance(node, Derivative):
            found.append(node)
            return
        for a in node.args:
            if isinstance(a, sp.Basic):
                visit(a)

    visit(e)
    seen = []
    for d in found:
        if d not in seen:
            seen.append(d)
    return seen


def _replace(e, mapping):
    if not mapping:
        return e
    return _walk_replace(e, lambda node: mapping.get(node) if isinstance(node, Derivative) else None)


def _walk_replace(e, function):
    new = function(e)
    if new is not None:
        return new
    if not e.args or isinstance(e, (sp.Symbol, sp.Indexed, sp.MatrixSymbol)):
        return e
    args = [_walk_replace(a, function) if isinstance(a, sp.Basic) else a for a in e.args]
    return e.func(*args) if args != list(e.args) else e


def _replace_matches(e, pattern, make):
    canonical = _canonical(pattern)

    def function(node):
        if node.func is not pattern.func:
            return None
        match = node.match(pattern) if pattern.has(sp.Wild) else ({} if _canonical(node) == canonical else None)
        if match is None or (pattern.has(sp.Wild) and not all(isinstance(v, (sp.Symbol, sp.Integer)) for v in match.values())):
            return None
        return make(match)

    return _walk_replace(e, function)


def _kernels(instance, slots):
    """The parts of a definition that carry its argument: e^{z_a} in softmax, e^{-x} in the sigmoid, x_a."""
    found = []
    for node in sp.preorder_traversal(instance):
        if isinstance(node, (sp.exp, sp.erf, sp.tanh)) and (not slots or (_free(node) & slots)):
            found.append(node)
        elif isinstance(node, sp.Indexed) and slots and set(node.indices) & slots:
            found.append(node)
        elif isinstance(node, Sum) and not slots:
            found.append(node)
    return found


def _fresh_dummies(body, taken):
    """A definition whose own summation indices cannot collide with the indices of the expression."""
    renamed, taken = {}, {str(t) for t in taken} | {str(v) for v in body.variables}
    spare = (name for name in "klmrstuvwgh" if name not in taken)
    for s in body.atoms(Sum):
        for limit in s.limits:
            if limit[0] not in renamed:
                keep = str(limit[0]) not in taken
                renamed[limit[0]] = limit[0] if keep else sp.Symbol(next(spare), integer=True)
                taken.add(str(renamed[limit[0]]))
    return sp.Lambda(body.variables, body.expr.xreplace(renamed)) if renamed else body


def _slot_values(template, slots, e) -> dict:
    """For each slot of a definition, the indices that stand in that place in e (None: any index).

    In softmax P_{rs} = e^{tau sum_c Q_{rc} K_{sc}} / ..., slot r can only be an index that e writes as the row
    of Q, so only those choices are tried.
    """
    allowed = {slot: None for slot in slots}
    in_e = list(e.atoms(sp.Indexed))
    for atom in template.atoms(sp.Indexed):
        for position, index in enumerate(atom.indices):
            if index in allowed:
                values = {a.indices[position] for a in in_e if a.base == atom.base and len(a.indices) > position}
                allowed[index] = values if allowed[index] is None else allowed[index] & values
    return allowed


def _substitute_free(e, old, new):
    """e with the free occurrences of the index ``old`` replaced by ``new``; a sum that binds ``old`` is left alone."""
    if isinstance(e, Sum) and any(limit[0] == old for limit in e.limits):
        return e
    if e == old:
        return new
    if not e.args or isinstance(e, sp.Symbol):
        return e
    args = [_substitute_free(a, old, new) if isinstance(a, sp.Basic) else a for a in e.args]
    return e.func(*args) if args != list(e.args) else e


def _all_symbols(e) -> set:
    return {a for a in sp.preorder_traversal(e) if isinstance(a, sp.Symbol)}


def _replace_canonical(e, target, make):
    canonical = _canonical(target)

    def function(node):
        if node.func is target.func and _canonical(node) == canonical:
            return make()
        return None

    return _walk_replace(e, function)


def _shield(e, sums):
    """Replace the sums that equal one of ``sums`` by placeholders, so that a substitution leaves them alone."""
    wanted = {_canonical(s) for s in sums}
    found = {s: sp.Dummy("sum") for s in e.atoms(Sum) if _canonical(s) in wanted}
    return e.xreplace(found), {v: k for k, v in found.items()}


def _invert(display, instance, kernel):
    """Solve ``display = instance`` for ``kernel``, when the instance is (a u + b) / (c u + d) in u = kernel.

    That covers the definitions a course names (softmax e^{z_i} / S, the sigmoid 1 / (1 + e^{-x}),
    x-hat (x_i - mu) / sigma, the mean S / H); anything else is not folded back.
    """
    u = sp.Dummy("u")
    numerator, denominator = sp.fraction(sp.together(instance.xreplace({kernel: u})))
    parts = []
    for poly in (numerator, denominator):
        poly = sp.expand(poly)
        a, b = poly.coeff(u, 1), poly.coeff(u, 0)
        if a.has(u) or b.has(u) or sp.expand(a * u + b - poly) != 0:
            return None
        parts += [a, b]
    a, b, c, d = parts
    denominator = c * display - a
    if denominator == 0:
        return None
    return (b - d * display) / denominator


def _unify_sums(e):
    """Sums that differ only in the name of their index become one object, so that they cancel."""
    first = {}
    for s in sorted(e.atoms(Sum), key=sp.default_sort_key):
        first.setdefault(_canonical(s), s)
    return e.xreplace({s: first[_canonical(s)] for s in e.atoms(Sum)})


@lru_cache(maxsize=65536)
def _canonical(e):
    """e with each sum's dummy renamed by its depth, so that sums over k and over l compare equal."""
    def visit(node, depth):
        if isinstance(node, Sum):
            function, limits = node.function, []
            for n, (k, low, high) in enumerate(node.limits):
                fixed = sp.Symbol(f"_dummy{depth}_{n}", integer=True)
                function = function.xreplace({k: fixed})
                limits.append((fixed, low, high))
            return Sum(visit(function, depth + 1), *limits)
        if not node.args or isinstance(node, (sp.Symbol, sp.Indexed)):
            return node
        return node.func(*[visit(a, depth) if isinstance(a, sp.Basic) else a for a in node.args])

    return visit(sp.sympify(e), 0)


def _shield_sums(e):
    """Replace each Sum by a placeholder, so that a substitution does not reach inside it."""
    e = _unify_sums(e)
    sums = {s: sp.Dummy("sum") for s in e.atoms(Sum)}
    return e.xreplace(sums), {v: k for k, v in sums.items()}


def _cancel_keeping_sums(e):
    shielded, restore = _shield_sums(e)
    return sp.cancel(shielded).xreplace(restore)


def _factor_keeping_sums(e):
    shielded, restore = _shield_sums(e)
    return sp.factor(shielded).xreplace(restore)


def _absorb_sign(e):
    """-p (q - 1) reads better as p (1 - q): move a leading -1 into a factor that is a sum."""
    if isinstance(e, sp.Mul) and e.args and e.args[0] == -1:
        rest = list(e.args[1:])
        for n, factor in enumerate(rest):
            if isinstance(factor, sp.Add):
                rest[n] = sp.expand(-factor)
                return sp.Mul(*rest, evaluate=False) if len(rest) > 1 else rest[0]
    return e


def _tidy_matrix(e):
    """Collect a common factor: A X + A^T X = (A + A^T) X, X A + X A^T = X (A + A^T), X + X = 2 X."""
    e = e.doit()
    if not isinstance(e, sp.MatAdd) or len(e.args) < 2:
        return e
    factors = [_matmul_factors(a) for a in e.args]
    if any(len(f) < 2 or s != 1 for s, f in factors):
        return e
    if all(f[-1] == factors[0][1][-1] for _, f in factors):
        return sp.MatMul(sp.MatAdd(*(sp.MatMul(*f[:-1]) for _, f in factors)), factors[0][1][-1])
    if all(f[0] == factors[0][1][0] for _, f in factors):
        return sp.MatMul(factors[0][1][0], sp.MatAdd(*(sp.MatMul(*f[1:]) for _, f in factors)))
    return e


def _size(e) -> int:
    return sp.count_ops(e) if not getattr(e, "is_Matrix", False) else len(str(e))


def _free(e) -> set:
    from symformer.engine.model import _free_symbols

    return _free_symbols(e)


def _base(f):
    return f.base if isinstance(f, sp.Indexed) else f


def _tex(e) -> str:
    from symformer.notation.printer import to_latex

    return to_latex(e)


def _elementary_words(found, wrt) -> str:
    words = []
    if "delta" in found:
        words.append(r"$\partial z_k / \partial z_j = \delta_{kj}$".replace("z", _tex(_base_of(wrt))))
    if "identity" in found:
        words.append(rf"$\partial {_tex(wrt)} / \partial {_tex(wrt)} = 1$")
    if "constant" in found:
        words.append("what does not depend on it has derivative 0")
    return ("; " + ", ".join(words)) if words else ""


def _base_of(x):
    return x.base.label if isinstance(x, sp.Indexed) else x


# The public entry point ---------------------------------------------------------------------


def derive(expression, wrt, *, sizes=None, indices=None, definitions=None, slug=None, title=None, topic=None) -> Derivation:
    """Differentiate ``expression`` with respect to ``wrt``, one rule per step, into a Derivation.

    ``expression`` is a SymPy scalar, an index-notation expression or a trace of matrices; ``wrt`` a
    Symbol, an entry such as ``z[j]`` or a MatrixSymbol. ``definitions`` maps display names to what
    they stand for (as in :class:`Derivation`); they are written out where differentiated and
    recognised again at the end. The result is not yet verified: pass it to :func:`symformer.verify`.

    >>> import sympy as sp
    >>> from symformer import derive, verify
    >>> x, s = sp.Symbol("x", real=True), sp.Symbol("sigma", positive=True)
    >>> d = derive(s, x, definitions={s: 1 / (1 + sp.exp(-x))})
    >>> d.steps[-1].expr
    sigma*(1 - sigma)
    >>> verify(d).ok
    True
    """
    definitions = dict(definitions or {})
    expression, wrt = sp.sympify(expression), sp.sympify(wrt)
    if not isinstance(wrt, (sp.Symbol, sp.Indexed, sp.MatrixSymbol)):
        raise DerivationError(f"derive: differentiate with respect to a Symbol, an entry such as z[j] or a MatrixSymbol, "
                              f"not {wrt}")
    shapes = [a.base.shape for a in expand_definitions(expression, definitions).atoms(sp.Indexed)]
    if isinstance(wrt, sp.Indexed):
        shapes.append(wrt.base.shape)
    if any(shape is None for shape in shapes):
        raise DerivationError("derive: every IndexedBase needs a shape, like IndexedBase('z', shape=(n,))")
    sizes = dict(sizes) if sizes is not None else _default_sizes(expression, wrt, definitions)
    indices = dict(indices) if indices is not None else _default_indices(expression, wrt, definitions)
    deriver = _Deriver(wrt, definitions, indices)
    lhs = Derivative(expression, wrt, evaluate=False)
    if not deriver.depends(expression, wrt):
        raise DerivationError(f"derive: {expression} does not depend on {wrt}; its derivative is 0")
    rows = deriver.rows(lhs)
    claims = []
    for lemma_lhs, closed in deriver.lemmas:
        # a claim's own free indices (k in d p_k / d z_j) are declared with the derivation's, so every check
        # that reads the claim (its identity, its display) knows their range
        for index, bound in _default_indices(lemma_lhs, wrt, definitions).items():
            indices.setdefault(index, bound)
        name_of = _base_of(_base(lemma_lhs.expr))
        claims.append(Claim(f"the derivative of {name_of} by {_base_of(lemma_lhs.variables[0])}, from its definition",
                            lemma_lhs, closed, why="derived from the definition, one rule at a time",
                            latex=f"{_tex(lemma_lhs)} = {_tex(closed)}"))
    name = re.sub(r"[^a-z0-9]+", "-", f"derivative of {_base_of(_head(expression))} by {_base_of(wrt)}".lower()).strip("-")
    return Derivation(
        slug=slug or name,
        title=title or rf"The derivative of ${_tex(expression)}$ with respect to ${_tex(wrt)}$",
        topic=topic or "Derived",
        lhs=lhs,
        steps=[Step(e, why) for e, why in rows],
        claims=claims,
        sizes=sizes,
        indices=indices,
        definitions=definitions,
        intro="Derived by symformer one rule at a time, then verified like any hand-written derivation.",
    )


def _head(e):
    for node in sp.preorder_traversal(e):
        if isinstance(node, (sp.Indexed, sp.MatrixSymbol)) or (isinstance(node, sp.Symbol) and not node.is_integer):
            return node
    return e


def _default_sizes(expression, wrt, definitions) -> dict:
    found = {}
    expanded = expand_definitions(expression, definitions)
    things = [a.base.shape for a in expanded.atoms(sp.Indexed)] + [m.shape for m in expanded.atoms(sp.MatrixSymbol)]
    if isinstance(wrt, sp.Indexed):
        things.append(wrt.base.shape)
    for shape in things:
        for extent in shape:
            for symbol in sp.sympify(extent).free_symbols:
                if symbol.is_integer:
                    found.setdefault(symbol, Size(prove=range(1, 4), numeric=8))
    return found


def _default_indices(expression, wrt, definitions) -> dict:
    """Each free index, running to the extent of the slot it sits in."""
    found = {}
    items = [*expression.atoms(sp.Indexed)] + ([wrt] if isinstance(wrt, sp.Indexed) else [])
    free = _free(Derivative(expression, wrt, evaluate=False) if not isinstance(expression, Derivative) else expression)
    for item in items:
        for index, extent in zip(item.indices, item.base.shape):
            if isinstance(index, sp.Symbol) and index in free:
                found.setdefault(index, extent)
    return found
