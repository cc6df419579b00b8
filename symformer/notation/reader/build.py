"""A parse tree to SymPy, in a declared symbol context (:class:`Notation`).

LaTeX does not say which letters are matrices, which are indexed vectors and which are functions;
the notation does. A name is looked up with its scripts: ``W^{O}_{1}`` may be one matrix, ``M^{q}_{ij}``
an entry of the indexed ``M^{q}``, ``\\omega_{l}`` an entry of ``\\omega``, ``\\mu_{k}^{2}`` the square of the
symbol ``\\mu_{k}``. Adjacent letters are joined when together they name something (``dP``, ``PE``).
A function name takes the bracket that follows it as its arguments, otherwise the factors up to the
next function (``\\sin \\omega (p + k)`` is ``\\sin(\\omega (p + k))``); so does
``\\frac{\\partial}{\\partial x}``. ``\\sum`` takes the rest of its term. ``\\mathbf{1}`` and ``I`` take their
sizes from their neighbours.

Anything that has no meaning in the notation is refused with a :class:`LatexError` that names it and its
line and column: an undeclared symbol, an entry of a scalar, prose inside a formula.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import sympy as sp
from lark import Token, Tree

from symformer.errors import LatexError, LatexShapeError


# The notation ------------------------------------------------------------------------------------


@dataclass
class Notation:
    r"""What the names of a formula mean: symbols, indexed bases, functions, and whole phrases.

    Keys are LaTeX as written (``"d_{model}"``, ``"\\omega"``, ``"dP"``); they are read with the same
    grammar, so ``\omega_i`` and ``\omega_{i}`` are one name. ``indices`` gives each index symbol its
    upper limit, for ``\sum_k`` without limits.

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> k = sp.Symbol("k", integer=True)
    >>> x = sp.IndexedBase("x", shape=(n,))
    >>> notation = Notation()
    >>> notation.add_base("x", x); notation.add_symbol("n", n); notation.add_index(k, n)
    >>> from symformer.notation.reader import read_latex
    >>> read_latex(r"\sum_k x_k^2", notation)
    Sum(x[k]**2, (k, 1, n))
    """

    symbols: dict = field(default_factory=dict)  # name key -> Symbol, MatrixSymbol, Indexed or a constant
    bases: dict = field(default_factory=dict)  # name key -> IndexedBase
    functions: dict = field(default_factory=dict)  # name key -> callable of SymPy arguments
    phrases: dict = field(default_factory=dict)  # phrase key -> expression
    indices: dict = field(default_factory=dict)  # index Symbol -> upper limit (lower limit 1)
    undefined_functions: bool = False  # \operatorname{f}(x) without a declaration reads as Function("f")(x)

    def add_symbol(self, latex: str, value) -> None:
        self.symbols[name_key(latex)] = value

    def add_base(self, latex: str, base: sp.IndexedBase) -> None:
        self.bases[name_key(latex)] = base

    def add_function(self, latex: str, function: Callable) -> None:
        self.functions[name_key(latex)] = function

    def add_phrase(self, latex: str, value) -> None:
        from symformer.notation.reader.parse import parse

        self.phrases[canonical(_chain_expr(parse(latex)))] = sp.sympify(value)

    def add_index(self, index: sp.Symbol, upper) -> None:
        self.indices[index] = upper
        self.symbols.setdefault(name_key(str(index)), index)

    def known(self, key: str) -> bool:
        return key in self.symbols or key in self.bases or key in self.functions


def name_key(latex: str) -> str:
    r"""The key of a name: its letters and scripts, however they are braced.

    >>> name_key(r"\omega_i") == name_key(r"\omega_{i}")
    True
    >>> name_key("dP")
    'd P'
    """
    from symformer.notation.reader.parse import parse

    hterm = _single_hterm(parse(latex))
    if hterm is None:
        raise LatexError(f"{latex!r} is not a name (a letter or symbol with optional scripts)")
    atoms = []
    for item in hterm.children:
        if not (isinstance(item, Tree) and item.data == "factor" and _is_name_primary(item.children[0])):
            raise LatexError(f"{latex!r} is not a name (a letter or symbol with optional scripts)")
        atoms.append(item)
    bases = [_primary_key(a.children[0]) for a in atoms]
    sub, sup = _scripts(atoms[-1])
    for a in atoms[:-1]:
        if any(isinstance(c, Tree) and c.data == "script" for c in a.children[1:]):
            raise LatexError(f"{latex!r}: only the last letter of a name may carry scripts")
    return _key(" ".join(bases), sub, sup)


def _single_hterm(tree):
    expr = _chain_expr(tree)
    if expr is None or len(expr.children) != 1:
        return None
    term = expr.children[0]
    if len(term.children) != 1:
        return None
    return term.children[0]


def _chain_expr(tree):
    chain = tree.children[0] if tree.data == "start" else tree
    exprs = [c for c in chain.children if isinstance(c, Tree)]
    if len(exprs) != 1 or len(chain.children) != 1:
        return None
    return exprs[0]


def _key(base: str, sub, sup) -> str:
    text = base
    if sub is not None:
        text += "_{" + canonical(sub) + "}"
    if sup is not None:
        text += "^{" + canonical(sup) + "}"
    return text


# Canonical text of a tree: one spelling per meaning ----------------------------------------------------


def canonical(node) -> str:
    """Tokens joined by spaces; script arguments always braced, so ``x_i`` and ``x_{i}`` agree."""
    if isinstance(node, Token):
        return node.value
    if node.data == "braced":
        return canonical(node.children[1])
    if node.data == "circ_mark":
        return "\\circ"
    if node.data == "arg":
        return canonical(node.children[0])
    if node.data == "script":
        return node.children[0].value + "{" + canonical(node.children[1]) + "}"
    return " ".join(canonical(c) for c in node.children)


def _is_name_primary(primary) -> bool:
    if isinstance(primary, Token):
        return False
    if primary.data in ("letter", "greek"):
        return True
    if primary.data == "font":
        return True
    return False


def _primary_key(primary) -> str:
    if primary.data == "font":
        return primary.children[0].value + "{" + canonical(primary.children[2]) + "}"
    return primary.children[0].value


def _scripts(factor):
    sub = sup = None
    for child in factor.children[1:]:
        if isinstance(child, Tree) and child.data == "script":
            if child.children[0].value == "_":
                if sub is not None:
                    raise _error(child, "two subscripts on one name")
                sub = child.children[1]
            else:
                if sup is not None:
                    raise _error(child, "two superscripts on one name; brace the first, {x^{a}}^{b}")
                sup = child.children[1]
    return sub, sup


def _position(node):
    if isinstance(node, Token):
        return node.line, node.column
    meta = getattr(node, "meta", None)
    if meta is not None and not getattr(meta, "empty", True):
        return meta.line, meta.column
    for child in getattr(node, "children", []):
        found = _position(child)
        if found[0] is not None:
            return found
    return None, None


def _error(node, message: str, kind=LatexError) -> LatexError:
    line, column = _position(node)
    where = f"line {line}, column {column}: " if line is not None else ""
    return kind(where + message, line, column)


def _shape_error(node, message: str) -> LatexShapeError:
    return _error(node, message, LatexShapeError)


# Values on the way --------------------------------------------------------------------------------------


@dataclass
class _Atom:
    """A name not yet looked up: its base letters, scripts and tree."""

    bases: list
    sub: Any
    sup: Any
    node: Any
    primes: int = 0


@dataclass
class _Head:
    """Something applied to what follows: a function or a derivative operator."""

    kind: str  # "function" or "derivative"
    apply: Callable
    name: str
    sup: Any
    sub: Any
    node: Any


@dataclass
class _Group:
    """A bracket: arguments of the function before it, or a parenthesised factor."""

    kind: str
    items: list
    scripts: list
    node: Any


@dataclass
class _Row:
    """The transpose of an indexed vector, waiting for the vector of its inner product."""

    vector: Any


@dataclass
class _Op:
    symbol: str
    node: Any


# Placeholder sizes of \mathbf{1} and I, fixed by their neighbours --------------------------------------------


class _Free(sp.Dummy):
    """A size not yet known."""


class _Soft(_Free):
    """A size that is 1 unless a neighbour says otherwise: the columns of \\mathbf{1}."""


def _free():
    return _Free("size", integer=True, positive=True)


def _soft():
    return _Soft("one", integer=True, positive=True)


def _is_free(x) -> bool:
    return isinstance(x, _Free)


def _unify(a, b):
    """a and b with the free sizes of each fixed by the other's shape (when both are matrices)."""
    if not (_is_matrix(a) and _is_matrix(b)):
        return a, b
    mapping_a, mapping_b = {}, {}
    for x, y in zip(a.shape, b.shape):
        if _is_free(x) and not _is_free(y):
            mapping_a[x] = y
        elif _is_free(y) and not _is_free(x):
            mapping_b[y] = x
        elif _is_free(x) and _is_free(y) and x != y:
            if isinstance(y, _Soft) and not isinstance(x, _Soft):
                mapping_b[y] = x
            else:
                mapping_a[x] = y
    return (a.xreplace(mapping_a) if mapping_a else a), (b.xreplace(mapping_b) if mapping_b else b)


def _is_matrix(value) -> bool:
    return bool(getattr(value, "is_Matrix", False))


# The builder ----------------------------------------------------------------------------------------------


class Builder:
    """Turns parse trees into SymPy in one :class:`Notation`."""

    def __init__(self, notation: Notation):
        self.n = notation
        self._fresh = 0

    # chains ------------------------------------------------------------------------------------------
    def chain(self, node, relations_out=None) -> list:
        """The parts of ``a = b = c`` as SymPy; other relations are refused unless ``relations_out``
        (a list) is given to receive them."""
        parts, relations = [], []
        for child in node.children:
            if isinstance(child, Token):
                relations.append(child)
            else:
                parts.append(child)
        if len(relations) >= len(parts) and relations:
            raise _error(relations[0], f"'{relations[0].value}' needs a formula on each side")
        for relation in relations:
            if relation.value != "=" and relations_out is None:
                raise _error(relation, f"only '=' chains are checked, not '{relation.value}'; write inequalities "
                                       "as a claim in words")
        if relations_out is not None:
            relations_out.extend(r.value for r in relations)
        return [self.expr(p) for p in parts]

    def single(self, node):
        parts = self.chain(node)
        if len(parts) != 1:
            raise _error(node, "expected one expression here, found a chain of equations")
        return parts[0]

    # sums, products, Hadamard products -------------------------------------------------------------------
    def expr(self, node):
        phrase = self._phrase(node)
        if phrase is not None:
            return phrase
        total, sign = None, 1
        for child in node.children:
            if isinstance(child, Token):  # SIGN
                sign = -1 if child.value == "-" else 1
                continue
            value = self.term(child)
            if sign < 0:
                value = sp.Derivative(-value.expr, *value.variables) if _is_gradient(value) else -value
            total = value if total is None else self._add(total, value, child)
            sign = 1
        return total

    def _add(self, a, b, node):
        if _is_gradient(a) and _is_gradient(b) and a.variables == b.variables:
            return sp.Derivative(a.expr + b.expr, *a.variables)  # d/dX f + d/dX g, one gradient of one shape
        if _is_matrix(a) != _is_matrix(b):
            if not _is_matrix(a) and a == 0:
                return b
            if not _is_matrix(b) and b == 0:
                return a
            raise _shape_error(node, "a matrix and a scalar are added")
        if _is_matrix(a):
            a, b = _unify(a, b)
            if a.shape != b.shape:
                raise _shape_error(node, f"matrices of shapes {_shape_text(a)} and {_shape_text(b)} are added")
            return sp.MatAdd(a, b).doit(deep=False) if isinstance(a, sp.ImmutableMatrix) and isinstance(b, sp.ImmutableMatrix) else a + b
        return a + b

    def term(self, node):
        phrase = self._phrase(node)
        if phrase is not None:
            return phrase
        factors = [self.hterm(c) for c in node.children if not isinstance(c, Token)]
        if len(factors) == 1:
            return factors[0]
        result = factors[0]
        for other in factors[1:]:
            if not (_is_matrix(result) and _is_matrix(other)):
                raise _shape_error(node, "\\odot multiplies two matrices of one shape")
            result, other = _unify(result, other)
            if result.shape != other.shape:
                raise _shape_error(node, f"\\odot of shapes {_shape_text(result)} and {_shape_text(other)}")
            result = sp.HadamardProduct(result, other)
        return result

    def hterm(self, node):
        phrase = self._phrase(node)
        if phrase is not None:
            return phrase
        pieces = []
        for item in self._phrases_in(node.children):
            if not isinstance(item, (Tree, Token)):
                pieces.append(item)  # a declared phrase, already a value
            elif isinstance(item, Token):  # MULOP
                pieces.append(_Op(item.value, item))
            elif item.data == "bigop":
                pieces.append(self.bigop(item))
            else:
                pieces.append(self.factor(item))
        pieces = self._names(pieces)
        pieces = self._applications(pieces, node)
        return self._multiply(pieces, node)

    def _phrase(self, node):
        if not self.n.phrases:
            return None
        return self.n.phrases.get(canonical(node))

    def _phrases_in(self, children):
        """The items, with each run whose text is a declared phrase (``P(\\text{...})``) replaced by its value."""
        if not self.n.phrases:
            return list(children)
        out, i = [], 0
        while i < len(children):
            for j in range(len(children), i, -1):
                key = " ".join(canonical(c) for c in children[i:j])
                if key in self.n.phrases:
                    out.append(self.n.phrases[key])
                    i = j
                    break
            else:
                out.append(children[i])
                i += 1
        return out

    # names ---------------------------------------------------------------------------------------------
    def _names(self, pieces):
        """Join adjacent letters that together name something, then look every name up."""
        out, i = [], 0
        while i < len(pieces):
            piece = pieces[i]
            if not isinstance(piece, _Atom):
                out.append(piece)
                i += 1
                continue
            joined = None
            j = i
            while j + 1 < len(pieces) and isinstance(pieces[j], _Atom) and pieces[j].sub is None and \
                    pieces[j].sup is None and not pieces[j].primes and isinstance(pieces[j + 1], _Atom):
                j += 1
                run = pieces[i:j + 1]
                base = " ".join(" ".join(p.bases) for p in run)
                if self._names_something(base, run[-1]):
                    joined = (j, _Atom([base], run[-1].sub, run[-1].sup, run[-1].node, run[-1].primes))
            if joined is not None:
                out.append(self.resolve(joined[1]))
                i = joined[0] + 1
            else:
                out.append(self.resolve(piece))
                i += 1
        return out

    def _names_something(self, base, last) -> bool:
        sub, sup = last.sub, last.sup
        keys = {_key(base, sub, sup), _key(base, None, sup), _key(base, sub, None), _key(base, None, None)}
        return any(self.n.known(k) for k in keys)

    def resolve(self, atom: _Atom):
        """The value of a name with its scripts (see the module docstring for the order of the look-ups)."""
        if atom.primes:
            plain = self.resolve(_Atom(atom.bases, atom.sub, atom.sup, atom.node))
            if not isinstance(plain, _Head):
                raise _error(atom.node, "primes (x') are read only on functions (f'(x)); give the quantity its own name")
            return _Head("function", _derivative_of(plain.apply, atom.primes), plain.name + "'" * atom.primes, plain.sup,
                         plain.sub, atom.node)
        base = " ".join(atom.bases)
        sub, sup = atom.sub, atom.sup
        n = self.n
        if sub is not None and sup is not None and _key(base, sub, sup) in n.symbols:
            return n.symbols[_key(base, sub, sup)]
        if sub is not None and sup is not None and _key(base, None, sup) in n.bases:
            return self._entry(n.bases[_key(base, None, sup)], sub, atom.node)
        for key, entry in ((_key(base, sub, None), None), (_key(base, None, None), sub)):
            head = None
            if key in n.functions:
                head = _Head("function", n.functions[key], key, sup, entry, atom.node)
                return head
            if key in n.symbols:
                value = n.symbols[key]
                if entry is not None:
                    value = self._entry_of_value(value, entry, atom.node, base)
                return self._superscript(value, sup, atom.node) if sup is not None else value
            if key in n.bases:
                if entry is None:
                    value = n.bases[key]  # a whole indexed vector: only inner products, norms and arguments take it
                    if sup is not None:
                        return self._superscript(value, sup, atom.node)
                    return value
                value = self._entry(n.bases[key], entry, atom.node)
                return self._superscript(value, sup, atom.node) if sup is not None else value
        builtin = self._builtin(base, sub, sup, atom.node)
        if builtin is not None:
            return builtin
        shown = _key(base, sub, sup).replace(" ", "")
        raise _error(atom.node, f"unknown symbol {shown}; declare it (% symformer: {base.replace(' ', '')} ...)")

    def _builtin(self, base, sub, sup, node):
        if base == "\\delta" and sub is not None:
            indices = self.indices(sub, 2)
            if len(indices) != 2:
                raise _error(node, "\\delta takes two indices, \\delta_{ij}")
            value = sp.KroneckerDelta(*indices)
            return self._superscript(value, sup, node) if sup is not None else value
        if base in ("e", "\\mathrm{e}") and sub is None:
            if sup is None:
                return sp.E
            exponent = self.script_value(sup)
            if _is_matrix(exponent):
                raise _error(node, "e to a matrix is not read; exponentiate entries in index notation, e^{S_{ij}}")
            return sp.exp(exponent)
        if base == "I" and sub is not None:  # I_n
            value = sp.Identity(self.script_value(sub))
            return self._superscript(value, sup, node) if sup is not None else value
        if base in ("\\mathbf{0}", "\\boldsymbol{0}") and sub is None and sup is None:
            return sp.S.Zero  # beside a matrix, the chain makes it the zero matrix of that shape
        if base == "\\pi" and sub is None:
            return self._superscript(sp.pi, sup, node) if sup is not None else sp.pi
        if base == "I" and sub is None:
            value = sp.Identity(_free())
            return self._superscript(value, sup, node) if sup is not None else value
        if base in ("\\mathbf{1}", "\\mathbb{1}", "\\mathbf{1}") and base != "\\mathbb{1}":
            rows = self.script_value(sub) if sub is not None else _free()
            value = sp.OneMatrix(rows, _soft())
            return self._superscript(value, sup, node) if sup is not None else value
        return None

    def _entry(self, base: sp.IndexedBase, sub, node):
        rank = len(base.shape) if base.shape is not None else None
        indices = self.indices(sub, rank)
        if rank is not None and len(indices) != rank:
            raise _error(node, f"{base} has {rank} index{'es' if rank != 1 else ''}, found {len(indices)}")
        return base[tuple(indices)] if len(indices) > 1 else base[indices[0]]

    def _entry_of_value(self, value, sub, node, name):
        if isinstance(value, sp.Lambda):  # a named entry: J_{ij} declared as Lambda((i, j), ...)
            indices = self.indices(sub, len(value.variables))
            if len(indices) != len(value.variables):
                raise _error(node, f"{name} takes {len(value.variables)} indices, found {len(indices)}")
            return value(*indices)
        if isinstance(value, sp.ImmutableMatrix):
            indices = self.indices(sub, 2 if value.cols > 1 and value.rows > 1 else 1)
            return _explicit_entry(value, indices, node)
        if isinstance(value, sp.Symbol) and value.is_integer:
            raise _error(node, f"{name} is an index or a size and takes no subscript")
        raise _error(node, f"{name} is not indexed; declare it as a vector or array to write {name}_{{...}}")

    def indices(self, sub, rank=None) -> list:
        """The indices of a subscript: ``ij`` is two when the base has two, ``2j-1`` is one."""
        inner = sub.children[1] if isinstance(sub, Tree) and sub.data == "braced" else sub
        if isinstance(sub, Tree) and sub.data == "arg":
            inner = sub.children[0]
        if isinstance(inner, Token):
            return [self._index_token(inner)]
        chains = [c for c in inner.children if isinstance(c, Tree)]
        if len(chains) > 1:
            return [self.single(c) for c in chains]
        hterm = _single_hterm(Tree("start", [chains[0]]))
        simple = hterm is not None and all(
            isinstance(c, Tree) and c.data == "factor" and len(c.children) == 1
            and isinstance(c.children[0], Tree) and c.children[0].data in ("letter", "greek", "number")
            for c in hterm.children)
        if simple and rank == 1 and len(hterm.children) > 1 and all(
                c.children[0].data != "number" for c in hterm.children):
            return [self._index_token(c.children[0].children[0]) for c in hterm.children]  # z_{ij}: two indices
        if simple and rank not in (None, 1) and len(hterm.children) >= 1:
            tokens = [c.children[0].children[0] for c in hterm.children]
            if len(tokens) < rank:  # H_{12}: digits split to reach the rank
                tokens = [t2 for t in tokens for t2 in (_digits(t) if t.type == "NUMBER" else [t])]
            return [self._index_token(t) for t in tokens]
        return [self.single(chains[0])]

    def _index_token(self, token):
        if token.type == "NUMBER":
            return sp.Integer(token.value) if "." not in token.value else sp.Rational(token.value)
        key = token.value
        if key in self.n.symbols:
            return self.n.symbols[key]
        raise _error(token, f"unknown index {key}; declare it (% symformer: {key.lstrip(chr(92))} index n)")

    # scripts ---------------------------------------------------------------------------------------------
    def script_value(self, arg):
        if arg.data == "hadamard_exponent":
            raise _error(arg, "^{\\circ k} needs a matrix before it")
        if arg.data == "braced":
            return self.single(arg.children[1].children[0]) if len(arg.children[1].children) == 1 else \
                self._tuple_error(arg)
        token = arg.children[0]
        if token.type == "NUMBER":
            if len(token.value) > 1 and "." not in token.value:
                raise _error(token, f"write x^{{{token.value}}} with braces: x^{token.value} means x^{token.value[0]} "
                                    f"{token.value[1:]}")
            return _number(token.value)
        return self.resolve(_Atom([token.value], None, None, token))

    def _tuple_error(self, node):
        raise _error(node, "a list with commas is only read as function arguments")

    def _superscript(self, value, sup, node):
        if sup.data == "hadamard_exponent":
            if not _is_matrix(value):
                raise _error(sup, "^{\\circ k} needs a matrix before it")
            return sp.HadamardPower(value, self.expr(sup.children[2]))
        text = canonical(sup)
        if isinstance(value, sp.IndexedBase) and text in ("\\top", "\\intercal", "T"):
            return self._row(value, sup, node)
        if text in ("\\top", "\\intercal") or (text == "T" and _is_matrix(value) and not self.n.known("T")) or \
                (text == "T" and _is_matrix(value)):
            if not _is_matrix(value):
                raise _error(sup, "a transpose needs a matrix; an entry in index notation is a scalar")
            return _transpose(value)
        exponent = self.script_value(sup)
        if _is_matrix(value):
            if exponent == -1:
                return sp.Inverse(value)
            if not (exponent.is_Integer and exponent > 0):
                raise _error(sup, f"a matrix power needs a positive whole exponent, not {exponent}")
            return sp.MatPow(value, exponent)
        if isinstance(value, sp.IndexedBase):
            raise _error(node, f"{value} is written in index notation; write its entries {value}_{{i}}")
        return sp.Pow(value, exponent)

    def _row(self, value, sup, node):
        """q^\top of an indexed vector: only an inner product q^\top k can follow it."""
        if value.shape is None or len(value.shape) != 1:
            raise _error(node, f"{value} is written in index notation; write its entries {value}_{{i}}")
        return _Row(value)

    def _apply_scripts(self, value, scripts, node):
        for script in scripts:
            if script.children[0].value == "^":
                value = self._superscript(value, script.children[1], node)
            else:
                if isinstance(value, sp.ImmutableMatrix):
                    rank = 2 if value.rows > 1 and value.cols > 1 else 1
                    value = _explicit_entry(value, self.indices(script.children[1], rank), script)
                elif isinstance(value, sp.Lambda):  # entries of a function's value: softmax(z)_i
                    indices = self.indices(script.children[1], len(value.variables))
                    value = value(*indices)
                else:
                    raise _error(script, "a subscript on a bracket needs an explicit matrix before it")
        return value

    # factors ---------------------------------------------------------------------------------------------
    def factor(self, node):
        primary = node.children[0]
        scripts = [c for c in node.children[1:] if isinstance(c, Tree)]
        primes = sum(1 for c in node.children[1:] if isinstance(c, Token) and c.type == "PRIME")
        if any(isinstance(c, Token) and c.type == "PERCENT" for c in node.children[1:]):
            plain = Tree("factor", [c for c in node.children if not (isinstance(c, Token) and c.type == "PERCENT")])
            value = self.factor(plain)
            return self._value(self.resolve(value) if isinstance(value, _Atom) else value) / 100
        bangs = sum(1 for c in node.children[1:] if isinstance(c, Token) and c.type == "BANG")
        if bangs:
            if bangs > 1:
                raise _error(node, "a double factorial n!! is not read; write it as a product")
            plain = Tree("factor", [c for c in node.children if not (isinstance(c, Token) and c.type == "BANG")])
            value = self._value(self.resolve(self.factor(plain)) if isinstance(self.factor(plain), _Atom) else
                                self.factor(plain))
            return sp.factorial(value)
        if isinstance(primary, Tree) and primary.data == "font" and primary.children[0].value in _WRAPPERS:
            # \underbrace{x}_{\text{why}}: the formula counts, the brace and its note do not
            chains = [c for c in primary.children[2].children if isinstance(c, Tree)]
            if len(chains) != 1:
                raise _error(primary, f"{primary.children[0].value} takes one formula")
            return self.single(chains[0])
        if isinstance(primary, Tree) and primary.data == "font" and primary.children[0].value in ("\\mathrm", "\\text") \
                and self._named_function(canonical(primary.children[2]).replace(" ", "")) is not None:
            name = canonical(primary.children[2]).replace(" ", "")  # \mathrm{softmax}(z) as \operatorname{softmax}(z)
            sub, sup = _scripts(node)
            head = _Head("function", self._named_function(name), name, sup, None, primary)
            return head
        if isinstance(primary, Tree) and primary.data in ("letter", "greek", "font", "symbol"):
            if primary.data == "symbol":
                value = self._symbol(primary)
                return self._apply_scripts(value, scripts, node)
            if primary.data == "font" and primary.children[0].value == "\\mathbb" and \
                    canonical(primary.children[2]) in ("E",) and not self.n.known(_primary_key(primary)):
                raise _error(primary, "\\mathbb{E}[...] has no meaning of its own here; declare what it stands for "
                                      "(% symformer: \\mathbb{E}[q \\cdot k] := ...)")
            sub, sup = _scripts(node)
            return _Atom([_primary_key(primary)], sub, sup, node, primes)
        if primes:
            raise _error(node, "primes (x') are not read; give the quantity its own name")
        kind = primary.data
        if kind == "number":
            return self._apply_scripts(_number(primary.children[0].value), scripts, node)
        if kind == "func":
            sub = sup = None
            for script in scripts:
                if script.children[0].value == "^":
                    sup = script.children[1]
                else:
                    sub = script.children[1]
            return self._function_head(primary.children[0], sup, sub)
        if kind in ("paren", "bracket", "brace"):
            return _Group(kind, [c for c in primary.children[1].children if isinstance(c, Tree)], scripts, node)
        if kind == "binom":
            top, bottom = (self.script_value(a) for a in primary.children[1:3])
            return self._apply_scripts(sp.binomial(top, bottom), scripts, node)
        if kind == "frac":
            return self._apply_scripts(self.frac(primary), scripts, node)
        if kind == "sqrt":
            parts = [c for c in primary.children if isinstance(c, Tree)]
            radicand = self.script_value(parts[-1])
            value = sp.root(radicand, self.expr(parts[0])) if len(parts) == 2 else sp.sqrt(radicand)
            return self._apply_scripts(value, scripts, node)
        if kind == "angle":
            return self._apply_scripts(self.inner(primary), scripts, node)
        if kind in ("abs", "norm"):
            if kind == "norm":  # \|x\|_2 is the Euclidean norm, the only one read
                two = [s for s in scripts if s.children[0].value == "_" and canonical(s.children[1]) == "2"]
                scripts = [s for s in scripts if s not in two]
            return self._apply_scripts(self.bars(primary, kind), scripts, node)
        if kind == "curly":
            raise _error(primary, "\\{ ... \\} is a set; only formulas are read")
        if kind == "environment":
            return self._apply_scripts(self.environment(primary), scripts, node)
        if kind == "text":
            words = primary.children[0].value
            name = words[words.index("{") + 1:-1].strip()
            if self._named_function(name) is not None:  # \text{softmax}(z): an operator name written as text
                sub, sup = _scripts(node)
                return _Head("function", self._named_function(name), name, sup, None, primary)
            raise _error(primary, f"prose {primary.children[0].value} inside a formula; put a justification after "
                                  "'&&' or in a '% why:' comment")
        if kind == "dots":
            raise _error(primary, "\\dots has no value; write the sum or product with its limits")
        if kind == "partial":
            raise _error(primary, "\\partial outside \\frac{\\partial f}{\\partial x}")
        raise _error(primary, f"cannot read {canonical(primary)!r} here")

    def _named_function(self, name):
        if name in self.n.functions:
            return self.n.functions[name]
        return _BUILTIN_FUNCTIONS.get(name) if len(name) > 1 else None

    def _symbol(self, primary):
        name = primary.children[0].value
        if name == "\\infty":
            return sp.oo
        if self.n.known(name):
            return self.n.symbols[name]
        raise _error(primary, f"{name} stands alone; it is read only as a superscript (^{{\\top}})")

    def _function_head(self, token, sup, sub):
        name = token.value
        plain = name[len("\\operatorname{"):-1] if name.startswith("\\operatorname") else name.lstrip("\\")
        for key in (name, plain):
            if key in self.n.functions:
                return _Head("function", self.n.functions[key], plain, sup, sub, token)
        builtin = _BUILTIN_FUNCTIONS.get(plain)
        if builtin is None and self.n.undefined_functions and name.startswith("\\operatorname"):
            builtin = sp.Function(plain)
        if builtin is None:
            raise _error(token, f"unknown function {name}; declare it (% symformer: {plain}(x) := ...)")
        if sub is not None and sub.data == "circ_mark" and plain in _ELEMENTWISE:  # \exp_{\circ}(S), entry by entry
            scalar = builtin

            def elementwise(matrix):
                if not _is_matrix(matrix):
                    raise LatexError(f"{name}_{{\\circ}} applies a function entry by entry to a matrix")
                return matrix.applyfunc(scalar)

            return _Head("function", elementwise, plain, sup, None, token)
        if plain in ("log", "ln") and sub is not None:
            base = self.script_value(sub)
            return _Head("function", lambda x: sp.log(x, base), plain, sup, None, token)
        if sub is not None:
            raise _error(token, f"{name} takes no subscript")
        return _Head("function", builtin, plain, sup, None, token)

    def frac(self, node):
        top, bottom = node.children[1], node.children[2]
        top_items = _arg_items(top)
        if top_items and _is_partial(top_items[0]):
            return self._derivative(node, top, bottom, _is_partial)
        bottom_items = _arg_items(bottom)
        if top_items and bottom_items and self._is_d(top_items[0]) and self._is_d(bottom_items[0]):
            return self._derivative(node, top, bottom, self._is_d)
        numerator, denominator = self.script_value(top), self.script_value(bottom)
        if _is_matrix(denominator):
            raise _error(bottom, "a matrix in a denominator; write the inverse, X^{-1}")
        return numerator / denominator if _is_matrix(numerator) else numerator * sp.Pow(denominator, -1)

    def _is_d(self, item) -> bool:
        """The d of d/dx: an upright d, or a plain d where d names nothing else."""
        if not (isinstance(item, Tree) and item.data == "factor" and isinstance(item.children[0], Tree)):
            return False
        primary = item.children[0]
        if primary.data == "font" and _primary_key(primary) == "\\mathrm{d}":
            return True
        return primary.data == "letter" and primary.children[0].value == "d" and not self.n.known("d")

    def _derivative(self, node, top, bottom, is_d=None):
        is_d = is_d or _is_partial
        top_items = _arg_items(top)
        order = self._partial_order(top_items[0])
        variables = []
        items = _arg_items(bottom)
        if not items or not is_d(items[0]):
            raise _error(bottom, "the denominator of a partial derivative is \\partial x (one \\partial per variable)")
        groups, current = [], None
        for item in items:
            if is_d(item):
                current = []
                groups.append(current)
            else:
                current.append(item)
        for group in groups:
            if not group:
                raise _error(bottom, "\\partial with no variable after it")
            value = self._multiply(self._applications(self._names([self.factor(g) if isinstance(g, Tree) else
                                                                    _Op(g.value, g) for g in group]), bottom), bottom)
            if isinstance(value, sp.Pow) and value.exp.is_Integer and value.exp > 0:
                variables += [value.base] * int(value.exp)
            else:
                variables.append(value)
        if len(variables) != order:
            raise _error(bottom, f"\\partial^{order} on top, {len(variables)} variables below")
        rest = top_items[1:]
        if not rest:
            return _Head("derivative", lambda f: sp.Derivative(f, *variables), "derivative", None, None, node)
        function = self._multiply(self._applications(self._names([self.factor(r) if r.data == "factor" else
                                                                   self.bigop(r) for r in rest]), top), top)
        return sp.Derivative(function, *variables)

    def _partial_order(self, item) -> int:
        scripts = [c for c in item.children[1:] if isinstance(c, Tree)]
        if not scripts:
            return 1
        value = self.script_value(scripts[0].children[1])
        if not (value.is_Integer and value > 0):
            raise _error(item, "the order of a derivative is a whole number")
        return int(value)

    def inner(self, node):
        items = [c for c in node.children[1].children if isinstance(c, Tree)]
        if len(items) != 2:
            raise _error(node, "\\langle a, b \\rangle takes two vectors")
        a, b = (self.single(c) for c in items)
        return self._dot(a, b, node)

    def _dot(self, a, b, node):
        if isinstance(a, sp.IndexedBase) and isinstance(b, sp.IndexedBase):
            if a.shape != b.shape or len(a.shape) != 1:
                raise _error(node, f"the inner product of {a} and {b} needs two vectors of one length")
            k = self.fresh_index()
            return sp.Sum(a[k] * b[k], (k, 1, a.shape[0]))
        if _is_matrix(a) and _is_matrix(b):
            a, b = _unify(a, b)
            if a.shape != b.shape or a.shape[1] != 1:
                raise _shape_error(node, f"the inner product of shapes {_shape_text(a)} and {_shape_text(b)}; both must "
                                   "be columns of one length")
            return sp.MatMul(_transpose(a), b)
        raise _error(node, "an inner product needs two vectors (declared vectors, or column matrices)")

    def fresh_index(self):
        taken = {str(s) for s in self.n.symbols.values() if isinstance(s, sp.Symbol)}
        while True:
            self._fresh += 1
            name = f"k{self._fresh}"
            if name not in taken:
                return sp.Symbol(name, integer=True)

    def bars(self, node, kind):
        items = [c for c in node.children[1].children if isinstance(c, Tree)]
        if len(items) != 1:
            raise _error(node, "a list inside bars")
        value = self.single(items[0])
        if isinstance(value, sp.IndexedBase):
            if len(value.shape) != 1:
                raise _error(node, f"the norm of {value} needs a vector")
            k = self.fresh_index()
            return sp.sqrt(sp.Sum(value[k] ** 2, (k, 1, value.shape[0])))
        if kind == "norm":
            if not _is_matrix(value) or value.shape[1] != 1:
                raise _error(node, "\\| x \\| needs a vector")
            return sp.sqrt(sp.MatMul(_transpose(value), value))
        if _is_matrix(value):
            return sp.Determinant(value)
        return sp.Abs(value)

    def environment(self, node):
        begin = node.children[0].value
        name = begin[begin.index("{") + 1:-1]
        if name not in ("matrix", "pmatrix", "bmatrix", "Bmatrix", "vmatrix", "smallmatrix"):
            raise _error(node, f"the environment {name} is not read inside a formula; use pmatrix for a matrix")
        rows = []
        for row in node.children[1].children:
            if isinstance(row, Token):
                continue
            cells = [self.single(cell.children[0]) for cell in row.children if isinstance(cell, Tree)]
            rows.append(cells)
        if len({len(r) for r in rows}) != 1:
            raise _error(node, "the rows of the matrix have different lengths")
        if any(_is_matrix(cell) for row in rows for cell in row):
            blocks = sp.BlockMatrix(rows)
            if all(isinstance(cell, sp.ImmutableMatrix) for row in rows for cell in row):
                return sp.ImmutableMatrix(blocks.as_explicit())  # columns written out side by side
            return blocks
        matrix = sp.ImmutableMatrix(rows)
        return sp.Determinant(matrix) if name == "vmatrix" else matrix

    # big operators -----------------------------------------------------------------------------------------
    def bigop(self, node):
        operator = node.children[0]
        scripts = [c for c in node.children[1:] if isinstance(c, Tree) and c.data == "script"]
        sign = next((c for c in node.children[1:] if isinstance(c, Token) and c.type == "SIGN"), None)
        sub = next((s.children[1] for s in scripts if s.children[0].value == "_"), None)
        sup = next((s.children[1] for s in scripts if s.children[0].value == "^"), None)
        if sub is None:
            raise _error(operator, f"{operator.value} needs its index below it ({operator.value}_{{k=1}}^{{n}} or "
                                   f"{operator.value}_k with k declared)")
        bound = self._bind_new_indices(sub) if sup is not None else []  # \sum_{i=1}^{n} i needs no declaration
        try:
            limits = self._limits(sub, sup, operator)
            body = self.hterm(node.children[-1])
        finally:
            for key in bound:
                del self.n.symbols[key]
        if sign is not None and sign.value == "-":
            body = -body
        cls = sp.Sum if operator.value == "\\sum" else sp.Product
        return cls(body, *limits)

    def _bind_new_indices(self, sub) -> list:
        """Declare, for the sum's own body, an index letter written with both limits but declared nowhere."""
        if sub.data != "braced":
            return []
        added = []
        for chain in (c for c in sub.children[1].children if isinstance(c, Tree)):
            parts = [c for c in chain.children if isinstance(c, Tree)]
            hterm = _single_hterm(Tree("start", [Tree("chain", [parts[0]])])) if len(parts) == 2 else None
            if hterm is None or len(hterm.children) != 1:
                continue
            factor = hterm.children[0]
            if not (isinstance(factor, Tree) and factor.data == "factor" and len(factor.children) == 1
                    and isinstance(factor.children[0], Tree) and factor.children[0].data in ("letter", "greek")):
                continue
            key = factor.children[0].children[0].value
            if not self.n.known(key):
                self.n.symbols[key] = sp.Symbol(key.lstrip("\\"), integer=True)
                added.append(key)
        return added

    def _limits(self, sub, sup, operator):
        if sub.data == "braced":
            chains = [c for c in sub.children[1].children if isinstance(c, Tree)]
        else:
            chains = [Tree("chain", [Tree("expr", [Tree("term", [Tree("hterm", [Tree("factor", [
                Tree("letter" if sub.children[0].type == "LETTER" else "greek", [sub.children[0]])])])])])])]
        limits = []
        for chain in chains:
            parts = [c for c in chain.children if isinstance(c, Tree)]
            relation = next((c for c in chain.children if isinstance(c, Token)), None)
            if relation is not None and relation.value != "=":
                raise _error(relation, f"{operator.value} over {canonical(chain)} is not read; write the sum over all "
                                       "values with its limits, minus the terms to leave out")
            index_tree = parts[0]
            index = self.expr(index_tree)
            if not isinstance(index, sp.Symbol):
                raise _error(chain, f"the index of {operator.value} must be one letter, not {index}")
            if len(parts) == 2:
                low = self.expr(parts[1])
            elif len(parts) == 1:
                low = None
            else:
                raise _error(chain, f"{operator.value}_{{k=a}} has one lower limit")
            if sup is not None and len(chains) == 1:
                high = self.script_value(sup)
            elif index in self.n.indices:
                high = self.n.indices[index]
            else:
                raise _error(chain, f"{operator.value}_{index} has no upper limit: write {operator.value}_{{{index}=1}}^{{n}}"
                                    f" or declare {index} as an index (% symformer: {index} index n)")
            limits.append((index, 1 if low is None else low, high))
        return limits

    # applications and products -----------------------------------------------------------------------------------
    def _applications(self, pieces, node):
        out, i = [], 0
        while i < len(pieces):
            piece = pieces[i]
            if not isinstance(piece, _Head):
                out.append(piece)
                i += 1
                continue
            following = pieces[i + 1] if i + 1 < len(pieces) else None
            if isinstance(following, _Group) and following.kind in ("paren", "bracket", "brace"):
                arguments = [self.single(c) for c in following.items]
                value = self._apply(piece, arguments)
                value = self._apply_scripts(value, following.scripts, following.node)
                i += 2
            else:
                j = i + 1
                while j < len(pieces) and not isinstance(pieces[j], (_Head, _Op)):
                    j += 1
                if j == i + 1:
                    if j < len(pieces) and isinstance(pieces[j], _Head):  # \sin \cos x: the rest is the argument
                        inner = self._applications(pieces[j:], node)
                        out.append(self._apply(piece, [self._multiply(inner, node)]))
                        return out
                    raise _error(piece.node, f"{piece.name} has no argument")
                argument = self._multiply(pieces[i + 1:j], node)
                value = self._apply(piece, [argument])
                i = j
            out.append(value)
        return out

    def _apply(self, head: _Head, arguments):
        if head.apply in _SCALAR_FUNCTIONS and any(_is_matrix(a) for a in arguments):
            raise _error(head.node, f"{head.name} of a matrix is not read; apply it to entries in index notation")
        try:
            value = head.apply(*arguments)
        except LatexError:
            raise
        except Exception as exc:  # a function of the notation refusing its arguments
            raise _error(head.node, f"{head.name} cannot take {', '.join(map(str, arguments))}: {exc}") from None
        if head.sup is not None:
            value = self._superscript(value, head.sup, head.node)
        return value

    def _multiply(self, pieces, node):
        values, operators = [], []
        pending = None
        for piece in pieces:
            if isinstance(piece, _Op):
                if pending is not None or not values:
                    raise _error(piece.node, f"{piece.symbol} needs something on both sides")
                pending = piece
                continue
            value = self._value(piece)
            values.append(value)
            operators.append(pending.symbol if pending is not None else "")
            pending = None
        if pending is not None:
            raise _error(pending.node, f"{pending.symbol} needs something after it")
        if not values:
            raise _error(node, "an empty product")
        # left to right: juxtaposition, \cdot, \times and * multiply; / divides by the next factor
        groups = [[values[0]]]
        for operator, value in zip(operators[1:], values[1:]):
            if operator == "/":
                numerator = self._product(groups.pop(), node)
                if _is_matrix(value):
                    raise _error(node, "division by a matrix; write the inverse, X^{-1}")
                groups.append([numerator / value if _is_matrix(numerator) else numerator * sp.Pow(value, -1)])
            elif operator == "\\cdot" and (isinstance(value, sp.IndexedBase) or
                                            isinstance(groups[-1][-1], sp.IndexedBase)):
                groups[-1][-1] = self._dot(groups[-1][-1], value, node)
            else:
                groups[-1].append(value)
        return self._product([g for group in groups for g in group], node)

    def _inner_products(self, values, node):
        out = []
        for value in values:
            if out and isinstance(out[-1], _Row):
                out[-1] = self._dot(out[-1].vector, value, node)
            else:
                out.append(value)
        if out and isinstance(out[-1], _Row):
            raise _error(node, f"{out[-1].vector}^\\top of an indexed vector must be followed by a vector: "
                               f"{out[-1].vector}^\\top y")
        return out

    def _value(self, piece):
        if isinstance(piece, _Group):
            if len(piece.items) != 1:
                raise _error(piece.node, "a list with commas is only read as function arguments")
            value = self.single(piece.items[0])
            return self._apply_scripts(value, piece.scripts, piece.node)
        if isinstance(piece, _Head):
            raise _error(piece.node, f"{piece.name} has no argument")
        return piece

    def _product(self, values, node):
        values = self._inner_products(values, node)
        if len(values) == 1:
            return values[0]
        for value in values:
            if isinstance(value, sp.IndexedBase):
                raise _error(node, f"{value} is written in index notation; write its entries {value}_{{i}}, or "
                                   f"an inner product {value} \\cdot y")
        if not any(_is_matrix(v) for v in values):
            gradient = _matrix_gradient(values)
            return gradient if gradient is not None else sp.Mul(*values)
        matrices = [v for v in values if _is_matrix(v)]
        scalars = [v for v in values if not _is_matrix(v)]
        for position in range(len(matrices) - 1):
            left, right = matrices[position], matrices[position + 1]
            if _is_free(left.shape[1]) and not _is_free(right.shape[0]):
                left = left.xreplace({left.shape[1]: right.shape[0]})
            elif _is_free(right.shape[0]):
                right = right.xreplace({right.shape[0]: left.shape[1]})
            if left.shape[1] != right.shape[0]:
                raise _shape_error(node, f"the product of shapes {_shape_text(left)} and {_shape_text(right)} is not defined;"
                                   " check the transposes")
            matrices[position], matrices[position + 1] = left, right
        return sp.MatMul(*scalars, *matrices) if len(matrices) > 1 or scalars else matrices[0]


def _is_gradient(value) -> bool:
    return isinstance(value, sp.Derivative) and len(value.variables) == 1 and getattr(value.variables[0], "is_Matrix", False)


def _matrix_gradient(values):
    """tau d/dQ f is d/dQ (tau f): a scalar factor moves inside a gradient with respect to a whole matrix, so the
    product keeps the gradient's shape (SymPy would call tau times a Derivative a scalar)."""
    gradients = [v for v in values if isinstance(v, sp.Derivative) and len(v.variables) == 1
                 and getattr(v.variables[0], "is_Matrix", False)]
    if len(gradients) != 1:
        return None
    gradient = gradients[0]
    others = [v for v in values if v is not gradient]
    variable = gradient.variables[0]
    if any(v.has(variable) for v in others):
        return None
    return sp.Derivative(sp.Mul(*others) * gradient.expr, variable)


def _derivative_of(function, order: int):
    """f' for a function of one argument: the derivative of f, evaluated where it is applied."""
    variable = sp.Dummy("x", real=True)
    derivative = sp.diff(function(variable), variable, order)

    def apply(*arguments):
        if len(arguments) != 1:
            raise LatexError("a derivative f'(x) takes one argument")
        return derivative.xreplace({variable: arguments[0]})

    return apply


_WRAPPERS = ("\\underbrace", "\\overbrace", "\\boxed")


def _explicit_entry(matrix, indices, node):
    try:
        position = [int(i) - 1 for i in indices]
    except TypeError:
        raise _error(node, "an entry of an explicit matrix needs number indices") from None
    if len(position) == 1:
        flat = list(matrix)
        if not 0 <= position[0] < len(flat):
            raise _error(node, f"entry {indices[0]} is outside the vector of length {len(flat)}")
        return flat[position[0]]
    if not (0 <= position[0] < matrix.rows and 0 <= position[1] < matrix.cols):
        raise _error(node, f"entry {tuple(indices)} is outside the {matrix.rows} x {matrix.cols} matrix")
    return matrix[position[0], position[1]]


def _transpose(value):
    if isinstance(value, sp.OneMatrix):
        return sp.OneMatrix(value.cols, value.rows)
    if isinstance(value, sp.ImmutableMatrix):
        return sp.Transpose(value)
    return sp.Transpose(value)


def _arg_items(arg):
    """The items of a \\frac argument's single term (for spotting \\partial), or []."""
    if arg.data != "braced":
        return [arg.children[0]] if isinstance(arg.children[0], Tree) else []
    hterm = _single_hterm(Tree("start", [arg.children[1].children[0]])) if len(arg.children[1].children) == 1 else None
    return list(hterm.children) if hterm is not None else []


def _is_partial(item) -> bool:
    return isinstance(item, Tree) and item.data == "factor" and isinstance(item.children[0], Tree) and \
        item.children[0].data == "partial"


def _digits(token):
    return [Token.new_borrow_pos("NUMBER", d, token) for d in token.value]


def _number(text: str):
    return sp.Rational(text) if "." in text else sp.Integer(text)


def _shape_text(matrix) -> str:
    return " x ".join(str(s) if not _is_free(s) else "?" for s in matrix.shape)


def _trace(x):
    return sp.Trace(x)


def _diag(x):
    if isinstance(x, sp.IndexedBase) and x.shape is not None and len(x.shape) == 1:
        a, b = sp.Dummy("a", integer=True), sp.Dummy("b", integer=True)
        return sp.Lambda((a, b), x[a] * sp.KroneckerDelta(a, b))  # diag(p)_{ij} = p_i delta_ij
    if not (_is_matrix(x) and x.shape[1] == 1):
        raise LatexError("diag takes a column vector")
    return sp.DiagMatrix(x)


_SCALAR_FUNCTIONS = {sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc, sp.sinh, sp.cosh, sp.tanh, sp.coth, sp.asin,
                     sp.acos, sp.atan, sp.exp, sp.log, sp.erf}

_ELEMENTWISE = {"exp", "log", "tanh", "sin", "cos", "erf"}

_BUILTIN_FUNCTIONS = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "cot": sp.cot, "sec": sp.sec, "csc": sp.csc, "sinh": sp.sinh,
    "cosh": sp.cosh, "tanh": sp.tanh, "coth": sp.coth, "arcsin": sp.asin, "arccos": sp.acos, "arctan": sp.atan,
    "exp": sp.exp, "log": sp.log, "ln": sp.log, "det": sp.Determinant, "max": sp.Max, "min": sp.Min,
    "erf": sp.erf, "tr": _trace, "Tr": _trace, "trace": _trace, "diag": _diag,
}
