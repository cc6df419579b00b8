"""What the page shows is what was verified.

Every hand-written display form of the course (``lhs_latex=``, ``Step(latex=...)``, ``Claim(latex=...)``)
is read back and proved equal to the expression it stands for; a wrong one fails naming the
derivation and the step. And the round trip: every formula the exporters print from an expression,
read back in the derivation's notation, is that expression (the same SymPy object, or proved equal
by the verifier's ladder).
"""

import dataclasses

import pytest
import sympy as sp

from symformer import Step, catalog, verify
from symformer.engine.display import display_forms, notation_of
from symformer.engine.model import Claim, Derivation
from symformer.notation.printer import to_latex
from symformer.notation.reader import read_latex

from _reports import catalog_report

COURSE = catalog()
WITH_FORMS = [d.slug for d in COURSE.values() if display_forms(d)]
ALL_FORMS = [(d.slug, label) for d in COURSE.values() for label, _, _ in display_forms(d)]


def test_the_course_has_at_least_its_nineteen_hand_written_display_forms():
    # each one is read back and proved equal by the test below
    assert len(ALL_FORMS) >= 19


@pytest.mark.parametrize("slug", WITH_FORMS)
def test_every_display_form_is_read_back_and_proved_equal(slug):
    report = catalog_report(slug)
    checks = [c for c in report.checks if c.kind == "display" and c.label.startswith("display of")]
    labels = {c.label.split(", part ")[0] for c in checks}
    assert labels == {label for s, label in ALL_FORMS if s == slug}
    for check in checks:
        assert check.ok, f"{slug}, {check.label}: {check.level}: {[m.detail for m in check.methods]}"
        assert any(m.status == "proved" for m in check.methods), f"{slug}, {check.label} only {check.level}"


def _softmax_with_step_display(latex):
    d = COURSE["softmax-jacobian"]
    steps = list(d.steps)
    steps[-1] = dataclasses.replace(steps[-1], latex=latex)
    return dataclasses.replace(d, steps=steps, source=None)


def test_a_wrong_display_over_a_correct_step_fails_naming_the_step():
    # p_i (delta_ij - p_j) is verified; the slide would show p_i (delta_ij + p_j)
    report = verify(_softmax_with_step_display(r"p_i(\delta_{ij} + p_j)"))
    assert not report.ok
    (failed,) = report.failures()
    assert failed.kind == "display" and failed.label == "display of step 5"
    assert failed.counterexample is not None
    assert "softmax-jacobian" in report.describe_failures() and "display of step 5" in report.describe_failures()


def test_the_right_display_of_the_same_step_passes():
    report = verify(_softmax_with_step_display(r"p_i \left(\delta_{ij} - p_j\right)"))
    assert report.ok
    (check,) = [c for c in report.checks if c.kind == "display"]
    assert check.level == "proved for all n"


def test_an_unreadable_display_fails_with_the_readers_message():
    report = verify(_softmax_with_step_display(r"p_i \left(\delta_{ij} - p_j"))
    (failed,) = report.failures()
    assert failed.methods[0].method == "read back"
    assert "expected ')' to close the '(' of line 1, column 5" in failed.methods[0].detail


def test_a_display_naming_an_undeclared_symbol_fails_naming_it():
    report = verify(_softmax_with_step_display(r"q_i \left(\delta_{ij} - q_j\right)"))
    (failed,) = report.failures()
    assert "unknown symbol q_{i}" in failed.methods[0].detail


def test_a_wrong_left_hand_side_display_fails():
    d = dataclasses.replace(COURSE["multi-head-weight-count"], lhs_latex=r"h\, d_{model} (2 d_k + d_v) + d_v\, d_{model}",
                            source=None)
    (failed,) = verify(d).failures()
    assert failed.label == "display of the left-hand side"


def test_a_display_chain_is_checked_part_by_part():
    # the first part is right, the second forgets the 2
    d = dataclasses.replace(COURSE["sinusoidal-wavelengths"], lhs_latex=r"\lambda_i = \frac{\pi}{\omega_i}", source=None)
    failures = verify(d).failures()
    assert [f.label for f in failures] == ["display of the left-hand side, part 2 of 2"]


# The round trip ------------------------------------------------------------------------------------


def _printed(d):
    """(what, expression) for every formula the exporters print from an expression of ``d``."""
    out = [("lhs", d.lhs)] if not d.lhs_latex else []
    out += [(f"step {n}", s.expr) for n, s in enumerate(d.steps, start=1) if not s.latex]
    for claim in d.claims:
        if isinstance(claim, Claim) and not claim.latex:
            out += [(f"claim {claim.statement!r} lhs", claim.lhs), (f"claim {claim.statement!r} rhs", claim.rhs)]
    return out


ROUND_TRIP = [(d.slug, what) for d in COURSE.values() for what, _ in _printed(d)]


def _proved_equal(d, left, right) -> bool:
    """The verifier's ladder on left = right, in d's sizes and domains."""
    probe = Derivation(slug="round-trip", title="round trip", topic="test", lhs=left, steps=[Step(right, "read back")],
                       sizes=d.sizes, indices=d.indices, definitions=d.definitions, domains=d.domains)
    report = verify(probe)
    return report.ok and any(m.status == "proved" for c in report.checks for m in c.methods)


def test_the_round_trip_covers_every_printed_formula_of_the_course():
    assert len(ROUND_TRIP) >= 200


@pytest.mark.parametrize("slug", sorted({s for s, _ in ROUND_TRIP}))
def test_every_printed_formula_reads_back_as_what_was_printed(slug):
    d = COURSE[slug]
    notation = notation_of(d)
    for what, expr in _printed(d):
        text = to_latex(expr)
        shape = tuple(expr.shape) if getattr(expr, "is_Matrix", False) else None
        back = read_latex(text, notation, expected_shape=shape)
        assert back == expr or _proved_equal(d, expr, back), f"{slug}, {what}: {text!r} read back as {back}"


def test_round_trip_reads_back_the_same_objects_not_look_alikes():
    d = COURSE["softmax-jacobian"]
    back = read_latex(to_latex(d.steps[-1].expr), notation_of(d))
    assert back == d.steps[-1].expr
    assert {b.shape for b in back.atoms(sp.IndexedBase)} == {b.shape for b in d.steps[-1].expr.atoms(sp.IndexedBase)}


# Claim statements ------------------------------------------------------------------------------------


def test_no_claim_statement_is_ascii_pseudo_mathematics():
    # what used to be typed by hand: x^T J x, E[q . k], dS o [B = -inf], sqrt(d_k), 10000^(2/d)
    for d in COURSE.values():
        for claim in d.claims:
            prose = "".join(claim.statement.split("$")[0::2])
            for ascii_math in ("^T", "^(", " . ", "sqrt(", "sum_", " o [", "-inf", "<=", ">=", "_hat", "x^", "|u|"):
                assert ascii_math not in prose, f"{d.slug}: {claim.statement!r} writes {ascii_math!r} outside $...$"


def test_every_statement_span_of_the_course_reads_back():
    from symformer.engine.display import statement_checks

    failures = []
    for d in COURSE.values():
        checks = statement_checks(d, lambda kind, label, lhs, rhs, *extra: _ok(label))
        failures += [c.label for c in checks if not c.ok]
    assert not failures


def _ok(label):
    from symformer.engine.results import PROVED, CheckResult, MethodResult

    check = CheckResult("display", label)
    check.methods.append(MethodResult("test", PROVED, "stub"))
    return check


def _with_statement(slug, position, statement):
    d = COURSE[slug]
    claims = list(d.claims)
    claims[position] = dataclasses.replace(claims[position], statement=statement)
    return dataclasses.replace(d, claims=claims, source=None)


def test_a_statement_that_says_other_than_its_claim_fails():
    # the claim proves sum_j J_ij = 0; the statement would say the rows sum to one
    d = _with_statement("softmax-jacobian", 1, r"each row sums to one: $\sum_j J_{ij} = 1$")
    failures = verify(d).failures()
    statement = r"each row sums to one: $\sum_j J_{ij} = 1$"
    assert [f.label for f in failures] == [f"statement of claim {statement!r}, " + r"$\sum_j J_{ij} = 1$ part 2"]
    assert failures[0].counterexample is not None


def test_a_statement_whose_mathematics_cannot_be_read_fails():
    d = _with_statement("softmax-jacobian", 1, r"each row sums to zero: $\sum_j J_{ij} = $")
    (failed,) = verify(d).failures()
    assert failed.methods[0].method == "read back" and "needs a formula on each side" in failed.methods[0].detail


def test_a_condition_in_a_statement_is_read_not_compared():
    d = _with_statement("softmax-temperature", 0, r"at $T = 1$ it is the softmax Jacobian")
    assert verify(d).ok


def test_a_statement_naming_an_undeclared_symbol_in_a_formula_fails():
    d = _with_statement("softmax-jacobian", 1, r"each row sums to zero: $\sum_j K_{ij} = 0$")
    (failed,) = verify(d).failures()
    assert "unknown symbol K_{ij}" in failed.methods[0].detail
