"""What the page shows is what was verified: hand-written display forms read back and proved equal.

A derivation may show a step, its left-hand side or a claim in a hand-written form (``latex=``,
``lhs_latex=``) instead of the printer's. Each such form is read back with the LaTeX reader in the
derivation's own notation: every name the printer would write for its expressions, plus what its
``notation`` declares (``d_{model}`` is ``h d``, ``R`` is the rotation function). Every part of
the form (a form may be a chain ``a = b``) must then be proved equal to the verified expression by
the same ladder of methods as a step. A form that cannot be read fails with the reader's message; one
that differs fails with the counterexample.

A claim's statement is prose with ``$...$`` mathematics. Each span is read back; a span that is an
equation ``a = b`` (not a condition such as ``i = 0``) must have every part equal to the claim's
left-hand side, so a statement cannot say more, or other, than what was proved.
"""

from __future__ import annotations

import sympy as sp

from symformer.engine.model import Claim, Derivation
from symformer.engine.results import FAILED, CheckResult, MethodResult
from symformer.errors import DerivationError, LatexError
from symformer.notation.printer import DEFAULT_STYLE, Style
from symformer.notation.reader import Notation, name_key, read_chain
from symformer.notation.reader.context import from_expressions


def notation_of(derivation: Derivation, style: Style = DEFAULT_STYLE) -> Notation:
    r"""The names a derivation's formulas use: what the printer writes for them, and its ``notation``.

    >>> from symformer import catalog
    >>> from symformer.notation.reader import read_latex
    >>> d = catalog()["softmax-jacobian"]
    >>> read_latex(r"p_i (\delta_{ij} - p_j)", notation_of(d)) == d.steps[-1].expr
    True
    """
    expressions = [derivation.lhs, *(s.expr for s in derivation.steps)]
    for claim in derivation.claims:
        if isinstance(claim, Claim):
            expressions += [claim.lhs, claim.rhs]
    for name, value in derivation.definitions.items():
        expressions += [name, value.expr if isinstance(value, sp.Lambda) else value]
    notation = from_expressions([e for e in expressions if isinstance(e, sp.Basic)], style)
    for index, upper in derivation.indices.items():
        notation.add_index(index, upper)
    for claim in derivation.claims:
        for index, upper in (getattr(claim, "indices", None) or {}).items():
            notation.add_index(index, upper)
    for latex, meaning in derivation.notation.items():
        declare(notation, latex, meaning, f"derivation {derivation.slug!r}")
    return notation


def declare(notation: Notation, latex: str, meaning, where: str) -> None:
    """Add one declared name: a function (a callable), an indexed base, a name or a whole phrase."""
    try:
        if callable(meaning) and not isinstance(meaning, sp.Basic):
            notation.add_function(latex, meaning)
        elif isinstance(meaning, sp.IndexedBase):
            notation.add_base(latex, meaning)
        else:
            try:
                notation.add_symbol(latex, sp.sympify(meaning))
            except LatexError:
                notation.add_phrase(latex, meaning)
    except LatexError as exc:
        raise DerivationError(f"{where}: the notation {latex!r} cannot be read: {exc}") from None


def display_forms(derivation: Derivation) -> list:
    """(label, LaTeX, the expression it shows) for every hand-written form of ``derivation``."""
    forms = []
    if derivation.lhs_latex:
        forms.append(("display of the left-hand side", derivation.lhs_latex, derivation.lhs))
    for number, step in enumerate(derivation.steps, start=1):
        if step.latex:
            forms.append((f"display of step {number}", step.latex, step.expr))
    for claim in derivation.claims:
        if isinstance(claim, Claim) and claim.latex:
            forms.append((f"display of claim {claim.statement!r}", claim.latex, claim.lhs))
    return forms


def display_checks(derivation: Derivation, check_identity) -> list:
    """One check per part of every hand-written form and claim statement, by ``check_identity(kind, label, lhs, rhs)``.

    ``check_identity`` is the verifier's ladder for one identity; it returns a ``CheckResult``.
    """
    forms = display_forms(derivation)
    spans = any("$" in claim.statement for claim in derivation.claims)
    if not forms and not spans:
        return []
    notation = notation_of(derivation)
    checks = []
    for label, latex, shown in forms:
        checks += _check_form(derivation, notation, label, latex, shown, check_identity)
    return checks + statement_checks(derivation, check_identity, notation)


def _check_form(derivation, notation, label, latex, shown, check_identity) -> list:
    shape = tuple(shown.shape) if getattr(shown, "is_Matrix", False) else None
    try:
        parts = read_chain(latex, notation, expected_shape=shape)
    except LatexError as exc:
        return [_unreadable(label, latex, exc)]
    checks = []
    for number, part in enumerate(parts, start=1):
        where = label if len(parts) == 1 else f"{label}, part {number} of {len(parts)}"
        try:
            checks.append(check_identity("display", where, part, shown))
        except DerivationError as exc:
            checks.append(_unreadable(where, latex, exc))
    return checks


def _unreadable(label: str, latex: str, exc) -> CheckResult:
    result = CheckResult("display", label)
    result.methods.append(MethodResult("read back", FAILED, f"{latex!r} cannot be read back: {exc}"))
    return result


# Claim statements --------------------------------------------------------------------------------------


def statement_spans(statement: str) -> list:
    """The ``$...$`` mathematics of a statement, in order."""
    pieces = statement.split("$")
    if len(pieces) % 2 == 0:
        raise DerivationError(f"the statement {statement!r} has an unpaired '$'")
    return [pieces[n] for n in range(1, len(pieces), 2)]


def statement_checks(derivation: Derivation, check_identity, notation: Notation | None = None) -> list:
    """Checks of the claims' statements: every span reads back; an equation in a Claim's statement equals the claim.

    A span that is only a name (``$a$``) may name something the derivation never uses. An equation whose
    first part is a lone symbol set to something else (``$T = 1$``, ``$N = M$``) is a condition, read but
    not compared. Parts identical to the claim's verified sides need no further check.
    """
    checks = []
    for claim in derivation.claims:
        spans = statement_spans(claim.statement)
        if not spans:
            continue
        notation = notation or notation_of(derivation)
        label = f"statement of claim {claim.statement!r}"
        for span in spans:
            checks += _check_span(derivation, notation, claim, label, span, check_identity)
    return checks


def _check_span(derivation, notation, claim, label, span, check_identity) -> list:
    from symformer.notation.reader import read_relations

    is_claim = isinstance(claim, Claim)
    shape = tuple(claim.lhs.shape) if is_claim and getattr(claim.lhs, "is_Matrix", False) else None
    try:
        parts, relations = read_relations(span, notation, shape)
    except LatexError as exc:
        if _is_bare_name(span):
            return []  # a name mentioned in prose
        return [_unreadable(label, f"${span}$", exc)]
    if not is_claim or len(parts) < 2 or any(r != "=" for r in relations):
        return []
    if _is_condition(parts, claim):
        return []
    checks = []
    for number, part in enumerate(parts, start=1):
        if part == claim.lhs or part == claim.rhs:
            continue  # the very expression the claim's check verified
        where = f"{label}, ${span}$" + (f" part {number}" if len(parts) > 1 else "")
        try:
            checks.append(check_identity("display", where, part, claim.lhs, claim.indices))
        except TypeError:  # a ladder that takes no claim indices
            checks.append(check_identity("display", where, part, claim.lhs))
        except DerivationError as exc:
            checks.append(_unreadable(where, f"${span}$", exc))
    return checks


def _is_bare_name(span: str) -> bool:
    try:
        name_key(span)
        return True
    except LatexError:
        return False


def _is_condition(parts, claim) -> bool:
    first = parts[0]
    atom = isinstance(first, (sp.Symbol, sp.MatrixSymbol, sp.Indexed, sp.IndexedBase))
    return atom and first != claim.lhs and first != claim.rhs
