"""The ``derive`` subcommand: an expression and its declarations in, a verified derivation out.

``symformer derive "log(Sum(exp(z[k]), (k, 1, n)))" --wrt "z[j]" --declare "n size 1..6; j, k index n; z vector n real"``

The expression is SymPy syntax (``--syntax sympy``) or, where the LaTeX reader is installed,
LaTeX (``--syntax latex``: ``\\log \\sum_k e^{z_k}``, ``--wrt z_j``); a definition's left side is always
written ``p[a]`` or ``sigma``. Declarations say what each name is, as
``symformer check`` reads them: ``n size 1..6 numeric 32``, ``i, j index n``, ``z vector n real``,
``Q array N d real`` (index notation, 2-D), ``X matrix N N`` (a MatrixSymbol), ``x scalar real``;
``--define "p[a] = exp(z[a]) / Sum(exp(z[k]), (k, 1, n))"`` names a display form. Exit codes:
0 derived and verified, 1 verification failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from dataclasses import dataclass, field

import sympy as sp

from symformer.errors import DerivationError, UsageError

FORMATS = ("text", "latex", "beamer", "md", "json")
KINDS = ("size", "index", "vector", "array", "matrix", "scalar")
ASSUMPTIONS = {"real": {"real": True}, "positive": {"positive": True}, "": {"real": True}}


@dataclass
class Context:
    """What the declarations made: each name's SymPy object, and the sizes with their proof ranges.

    The LaTeX reader builds the same kind of context, so one ``derive`` call serves both syntaxes.
    """

    names: dict = field(default_factory=dict)
    sizes: dict = field(default_factory=dict)
    indices: dict = field(default_factory=dict)


def parse_declarations(text: str, context: Context | None = None) -> Context:
    """Read ``"n size 1..6 numeric 32; i, j index n; z vector n real"`` into a :class:`Context`.

    >>> ctx = parse_declarations("n size 1..4; i, j index n; z vector n real")
    >>> ctx.names["z"].shape, sorted(ctx.indices, key=str)
    ((n,), [i, j])
    """
    from symformer.engine.model import Size

    context = context or Context()
    for clause in filter(None, (c.strip() for c in text.split(";"))):
        words = clause.replace(",", " , ").split()
        kind_at = next((n for n, w in enumerate(words) if w in KINDS), None)
        if kind_at is None or kind_at == 0:
            raise UsageError(f"--declare: cannot read {clause!r}; write NAMES KIND ..., KIND one of {', '.join(KINDS)}")
        names = [w for w in words[:kind_at] if w != ","]
        kind, rest = words[kind_at], words[kind_at + 1:]
        for name in names:
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
                raise UsageError(f"--declare: {name!r} is not a name (letters, digits and _)")
        if kind == "size":
            prove, numeric = _size_words(clause, rest)
            for name in names:
                symbol = sp.Symbol(name, integer=True, positive=True)
                context.names[name], context.sizes[symbol] = symbol, Size(prove=prove, numeric=numeric)
        elif kind == "index":
            bound = _extent(clause, rest[0] if rest else "", context) if len(rest) == 1 else None
            if bound is None:
                raise UsageError(f"--declare: {clause!r}: an index runs to one declared size, as in 'i, j index n'")
            for name in names:
                symbol = sp.Symbol(name, integer=True)
                context.names[name], context.indices[symbol] = symbol, bound
        else:
            arity = {"vector": 1, "array": 2, "matrix": 2, "scalar": 0}[kind]
            extents, assumption = rest[:arity], " ".join(rest[arity:])
            if len(extents) != arity or assumption not in ASSUMPTIONS:
                shape = " ".join(["SIZE"] * arity)
                raise UsageError(f"--declare: {clause!r}: write 'NAME {kind} {shape} [real|positive]'".replace("  ", " "))
            shape = tuple(_extent(clause, e, context) for e in extents)
            for name in names:
                if kind == "scalar":
                    context.names[name] = sp.Symbol(name, **ASSUMPTIONS[assumption])
                elif kind == "matrix":
                    context.names[name] = sp.MatrixSymbol(name, *shape)
                else:
                    context.names[name] = sp.IndexedBase(name, shape=shape, **ASSUMPTIONS[assumption])
    return context


def _size_words(clause, rest):
    prove, numeric = (1, 2, 3, 4), 16
    words = list(rest)
    if words and re.fullmatch(r"\d+\.\.\d+", words[0]):
        low, high = map(int, words.pop(0).split(".."))
        if low > high:
            raise UsageError(f"--declare: {clause!r}: the range {low}..{high} is empty")
        prove = tuple(range(low, high + 1))
    if words[:1] == ["numeric"] and len(words) == 2 and words[1].isdigit():
        numeric = int(words[1])
        words = []
    if words:
        raise UsageError(f"--declare: {clause!r}: write 'n size LOW..HIGH [numeric N]'")
    return prove, numeric


def _extent(clause, word, context):
    if word.isdigit():
        return sp.Integer(int(word))
    symbol = context.names.get(word)
    if symbol is None or symbol not in context.sizes:
        raise UsageError(f"--declare: {clause!r}: {word!r} is not a declared size; declare it first, as in '{word} size 1..4'")
    return symbol


def read_expression(text: str, context: Context, what: str, syntax: str = "sympy"):
    """SymPy syntax (or LaTeX, through the reader) with the declared names; an undeclared name is an error."""
    if syntax == "latex":
        return _read_latex(text, context, what)
    from sympy.parsing.sympy_parser import parse_expr, standard_transformations

    local = {**context.names, "delta": sp.KroneckerDelta, "tr": sp.Trace}
    try:
        expr = parse_expr(text, local_dict=local, transformations=standard_transformations, evaluate=True)
    except Exception as exc:  # SyntaxError, TypeError, ...: all mean the text is not an expression
        raise UsageError(f"{what}: cannot read {text!r} as SymPy syntax ({type(exc).__name__}: {exc})") from None
    declared = set(context.names.values()) | {v.label for v in context.names.values() if isinstance(v, sp.IndexedBase)}
    for symbol in sorted(_plain_symbols(expr), key=str):
        if symbol not in declared:
            raise UsageError(f"{what}: {symbol} is not declared; add it to --declare, e.g. '{symbol} scalar real' "
                             f"or '{symbol} index n'")
    return expr


def latex_available() -> bool:
    """Whether the LaTeX reader (symformer.notation.reader) is installed beside this command."""
    return importlib.util.find_spec("symformer.notation.reader") is not None


def _read_latex(text: str, context: Context, what: str):
    if not latex_available():
        raise UsageError("--syntax latex: LaTeX input needs the reader (symformer.notation.reader), which is not "
                         "installed here; write the expression in SymPy syntax with --syntax sympy")
    from symformer.errors import SymformerError
    from symformer.notation.printer import to_latex
    from symformer.notation.reader import Notation, read_latex

    notation = Notation()
    for name, value in context.names.items():
        if isinstance(value, sp.IndexedBase):
            notation.add_base(to_latex(value.label), value)
        elif value in context.indices:
            notation.add_index(value, context.indices[value])
        else:
            notation.add_symbol(to_latex(value), value)
    try:
        return read_latex(text, notation)
    except SymformerError as exc:
        raise UsageError(f"{what}: cannot read '{text}' as LaTeX: {exc}") from None


def _plain_symbols(expr) -> set:
    found = set()
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Symbol) and not isinstance(node, sp.Dummy):
            found.add(node)
    return found


def read_definition(text: str, context: Context, syntax: str = "sympy"):
    """``p[a] = exp(z[a]) / S`` becomes (p, Lambda(a, ...)); ``sigma = 1 / (1 + exp(-x))`` (sigma, ...)."""
    if "=" not in text:
        raise UsageError(f"--define: write NAME = EXPRESSION or NAME[i] = EXPRESSION, not {text!r}")
    left, right = (part.strip() for part in text.split("=", 1))
    match = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)(?:\[([A-Za-z0-9_,\s]+)\])?", left)
    if not match:
        raise UsageError(f"--define: {left!r} is not a name or an entry such as p[a]")
    name, slots = match.group(1), match.group(2)
    body = read_expression(right, context, f"--define {name}", syntax)
    if slots is None:
        symbol = context.names.get(name)
        if not isinstance(symbol, sp.Symbol) or symbol in context.sizes:
            raise UsageError(f"--define: declare {name} first, as in '{name} scalar real'")
        return symbol, body
    base = context.names.get(name)
    if not isinstance(base, sp.IndexedBase):
        raise UsageError(f"--define: declare {name} first, as in '{name} vector n'")
    variables = [context.names.get(s.strip()) for s in slots.split(",")]
    if any(v is None or v not in context.indices for v in variables):
        raise UsageError(f"--define: the slots of {left!r} must be declared indices")
    return base, sp.Lambda(tuple(variables), body)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``derive`` to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "derive",
        help="derive an expression one rule at a time, verify it and print the derivation",
        description="Differentiate an expression step by step (one rule per step), then verify every step.",
    )
    parser.add_argument("expression", help="the expression, in SymPy syntax: Sum(exp(z[k]), (k, 1, n)), x / (1 + exp(-x))")
    parser.add_argument("--wrt", required=True, help="what to differentiate by: x, z[j], Q[a, b], X")
    parser.add_argument("--declare", action="append", default=[], metavar="DECLARATIONS",
                        help="'n size 1..6 numeric 32; i, j index n; z vector n real; X matrix n n; x scalar real'")
    parser.add_argument("--define", action="append", default=[], metavar="NAME=EXPR",
                        help="a display name and what it stands for: 'p[a] = exp(z[a]) / Sum(exp(z[k]), (k, 1, n))'")
    parser.add_argument("--syntax", choices=("sympy", "latex"), default="sympy",
                        help="the syntax of the expression, --wrt and the right sides of --define (default sympy; "
                             "latex needs the reader)")
    parser.add_argument("--format", choices=FORMATS, default="text", help="what to print (default text)")
    parser.add_argument("--slug", default=None, help="the derivation's name (default: made from the expression)")
    parser.add_argument("--title", default=None, help="the derivation's title")
    parser.add_argument("--allow-unverified", action="store_true", help="print the derivation even if a step fails")
    parser.set_defaults(run=run_derive)


def run_derive(args) -> int:
    from symformer.engine.derive import derive
    from symformer.engine.verify import verify

    if args.syntax == "latex" and not latex_available():
        raise UsageError("--syntax latex: LaTeX input needs the reader (symformer.notation.reader), which is not "
                         "installed here; write the expression in SymPy syntax with --syntax sympy")
    context = Context()
    for text in args.declare:
        parse_declarations(text, context)
    definitions = dict(read_definition(text, context, args.syntax) for text in args.define)
    expression = read_expression(args.expression, context, "the expression", args.syntax)
    wrt = read_expression(args.wrt, context, "--wrt", args.syntax)
    try:
        derivation = derive(expression, wrt, sizes=context.sizes, definitions=definitions, slug=args.slug, title=args.title)
    except DerivationError as exc:
        raise UsageError(f"derive: {exc}") from None
    report = verify(derivation)
    if not report.ok and not args.allow_unverified and args.format != "json":
        from symformer.engine.report import format_failures

        print(format_failures([report.to_dict()]), file=sys.stderr)
        print(f"error: the derived steps of {derivation.slug} failed verification (use --allow-unverified to see them)",
              file=sys.stderr)
        return 1
    sys.stdout.write(_render(derivation, report, args.format))
    return 0 if report.ok else 1


def _render(derivation, report, format: str) -> str:
    if format == "text":
        from symformer.notation.text import derivation_to_text

        verdict = "verified" if report.ok else "NOT verified"
        return derivation_to_text(derivation) + f"\n\n{len(derivation.steps)} steps, {verdict} ({report.seconds:.2f} s)\n"
    if format == "latex":
        from symformer.notation.chain import derivation_to_latex

        return derivation_to_latex(derivation) + "\n"
    if format == "json":
        from symformer.notation.printer import to_latex
        from symformer.notation.text import expression_to_text

        document = {
            "ok": report.ok, "slug": derivation.slug, "title": derivation.title,
            "lhs": {"text": expression_to_text(derivation.lhs), "latex": to_latex(derivation.lhs)},
            "steps": [{"text": expression_to_text(s.expr), "latex": to_latex(s.expr), "why": s.why} for s in derivation.steps],
            "claims": [{"statement": c.statement, "latex": c.latex} for c in derivation.claims],
            "report": report.to_dict(),
        }
        return json.dumps(document, indent=2) + "\n"
    from symformer.export import Entry, exporter

    return exporter(format).write(Entry(derivation, report.to_dict()), _style())


def _style():
    from symformer.notation.printer import DEFAULT_STYLE

    return DEFAULT_STYLE
