"""A Property's general argument: proved for all sizes only when the machine decided every piece.

A general witness that holds labels the property "proved for all n (general argument: ...)" in the
report, its JSON, the text of ``show`` and ``list`` and the LaTeX of the notes and slides; one that
does not hold, raises, runs past the time bound or has nothing to say leaves the per-size label;
one that returns something other than a Witness is the derivation's error.
"""

import json
import re

import pytest
import sympy as sp
from sympy import IndexedBase, KroneckerDelta, Lambda, Sum, exp

from symformer import (
    Derivation, DerivationError, Property, Size, Step, VerifyConfig, Witness, all_hold, catalog, identity_for_all,
    nonnegative_terms, positive_terms, verify,
)
from symformer.cli import main
from symformer.engine.report import check_code, format_levels, weakest_level
from symformer.export import Entry, to_beamer
from symformer.export.notes import to_notes
from symformer.notation.levels import level_latex

n = sp.Symbol("n", integer=True, positive=True)
m = sp.Symbol("m", integer=True, nonnegative=True)  # may be 0
i, j, k, a = sp.symbols("i j k a", integer=True)
z = IndexedBase("z", shape=(n,), real=True)
x = IndexedBase("x", shape=(n,), real=True)
w = IndexedBase("w", shape=(n,), positive=True)
p = IndexedBase("p", shape=(n,))
SOFTMAX = {p: Lambda(a, exp(z[a]) / Sum(exp(z[k]), (k, 1, n)))}
MEAN = Sum(p[k] * x[k], (k, 1, n))
# x^T J x for the softmax Jacobian J = diag(p) - p p^T, and the weighted sum of squares it equals
FORM = Sum(Sum(x[i] * p[i] * (KroneckerDelta(i, j) - p[j]) * x[j], (j, 1, n)), (i, 1, n))
SQUARES = Sum(p[i] * (x[i] - MEAN) ** 2, (i, 1, n))
#: The course's general arguments take a fraction of a second; a loaded machine must not turn them into timeouts.
ROOMY = VerifyConfig(time_bound=30.0)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "cache"))


def _jacobian(size):
    weights = [sp.Rational(r, size * (size + 1) // 2) for r in range(1, size + 1)]
    return sp.Matrix(size, size, lambda r, c: weights[r] * (int(r == c) - weights[c]))


def _psd_exact(sizes):
    return Witness(bool(_jacobian(sizes[n]).is_positive_semidefinite), "J at p = (1, 2, ..., n) / (n (n + 1) / 2)")


def _definite_exact(sizes):
    return Witness(bool(_jacobian(sizes[n]).is_positive_definite), "J at p = (1, 2, ..., n) / (n (n + 1) / 2)")


def _numeric(rng, sizes):
    return Witness(True, "not the subject here")


def _psd_general(sizes):
    return all_hold(identity_for_all(FORM, SQUARES, definitions=SOFTMAX, what="x^T J x = sum_i p_i (x_i - m)^2"),
                    nonnegative_terms(SQUARES, definitions=SOFTMAX, what="each term is >= 0"))


def _definite_general(sizes):
    # false: x = 1 makes every term 0; positive_terms cannot show the sum > 0
    return all_hold(identity_for_all(FORM, SQUARES, definitions=SOFTMAX, what="x^T J x = sum_i p_i (x_i - m)^2"),
                    positive_terms(SQUARES, definitions=SOFTMAX, what="each term is > 0"))


def _derivation(*claims, slug="general-demo"):
    return Derivation(
        slug=slug, title="The softmax Jacobian", topic="Demo", lhs=p[i] * (KroneckerDelta(i, j) - p[j]),
        steps=[Step(p[i] * KroneckerDelta(i, j) - p[i] * p[j], "distribute")], definitions=SOFTMAX,
        claims=list(claims), sizes={n: Size(prove=range(1, 5), numeric=16)}, indices={i: n, j: n},
    )


def _claim(report, statement):
    return next(c for c in report.checks if c.label == f"claim {statement!r}")


def _status(check, method):
    return [m.status for m in check.methods if m.method == method]


# A general witness that proves ------------------------------------------------------------------

def test_a_general_argument_that_holds_proves_for_all_sizes_and_the_other_witnesses_still_run():
    report = verify(_derivation(Property("J is positive semidefinite", _psd_exact, _numeric, general=_psd_general)))
    check = _claim(report, "J is positive semidefinite")
    assert report.ok
    assert check.level == ("proved for all n (general argument: x^T J x = sum_i p_i (x_i - m)^2 (index prover); "
                           "each term is >= 0 (term by term))")
    assert [(m.method, m.status) for m in check.methods] == [
        ("symbolic, all sizes", "proved"), ("symbolic, each size", "proved"), ("float64", "holds")]
    assert check.methods[1].detail == "proved for n = 1..4"
    assert check_code(check.to_dict()) == "A"


def test_the_new_level_reads_the_same_in_json_text_and_latex():
    derivation = _derivation(Property("J is positive semidefinite", _psd_exact, _numeric, general=_psd_general))
    report = verify(derivation).to_dict()
    level = "proved for all n (general argument: x^T J x = sum_i p_i (x_i - m)^2 (index prover); each term is >= 0 (term by term))"
    assert json.loads(json.dumps(report))["checks"][1]["level"] == level
    assert format_levels(report).splitlines()[2] == f"  {level}  claim 'J is positive semidefinite'"
    typeset = r"proved for all $n$ (general argument)"  # the argument's ASCII words stay off the page
    assert level_latex(level) == typeset
    assert typeset in to_notes(Entry(derivation, report))
    assert typeset in to_beamer(Entry(derivation, report))


def test_the_course_softmax_jacobian_is_psd_and_of_rank_n_minus_1_for_all_n():
    report = verify(catalog()["softmax-jacobian"], ROOMY)
    psd = _claim(report, "$J$ is positive semidefinite")
    rank = next(c for c in report.checks if "the rank of $J$" in c.label)
    for check in (psd, rank):
        assert check.level.startswith("proved for all n (general argument: ")
        assert _status(check, "symbolic, each size") == ["proved"] and _status(check, "float64") == ["holds"]
    assert weakest_level(report.to_dict()).endswith("proved for all n")


@pytest.mark.parametrize("slug, statement", [
    ("scaled-dot-product-attention", "every weight is positive"),
    ("scaled-dot-product-attention", "each output row is a convex combination of the value rows"),
    ("cauchy-schwarz", r"$|u \cdot v| \le \|u\|\, \|v\|$"),
    ("layernorm-jacobian", "the rank of $J$"),
    ("rmsnorm-jacobian", "unlike LayerNorm, the Jacobian does not send the ones vector to zero"),
    ("rmsnorm-jacobian", "the Jacobian has full rank"),
    ("dot-product-variance", "sampled with mean-0, variance-1 components"),
    ("mlm-loss-gradient", "with no chosen position the loss is defined as 0"),
    ("alibi-row-constant", "attention with the paper's biases equals attention with BLOOM's m_k j"),
    ("sinusoidal-rotation-every-d", "assembled in $2h$ dimensions"),
    ("rope-relative-score-every-d", "the NumPy reference rope scores equal"),
    ("embedding-gradient", "repeated tokens accumulate"),
], ids=lambda value: value[:24])
def test_course_properties_about_every_size_are_proved_for_all_sizes(slug, statement):
    derivation = catalog()[slug]
    claim = next(c for c in derivation.claims if isinstance(c, Property) and c.statement.startswith(statement))
    assert claim.general is not None
    report = verify(derivation, ROOMY)
    check = _claim(report, claim.statement)
    assert report.ok
    names = ", ".join(map(str, derivation.sizes))
    assert check.level.startswith(f"proved for all {names} (general argument: ")


def test_symformer_list_shows_the_new_level(capsys):
    assert main(["verify", "softmax-jacobian", "--quiet"]) == 0  # list reads the verdicts of the default settings
    capsys.readouterr()
    assert main(["list"]) == 0
    line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith("softmax-jacobian "))
    assert line.endswith("proved for all n")


# General witnesses that do not prove --------------------------------------------------------------

def test_a_false_general_argument_is_not_a_pass_and_the_exact_witness_rejects_the_claim():
    # J 1 = 0, so J is never positive definite: the general argument cannot close, the exact witness fails at n = 1
    report = verify(_derivation(Property("J is positive definite", _definite_exact, _numeric, general=_definite_general)))
    check = _claim(report, "J is positive definite")
    assert not report.ok and check.level == "FAILED (symbolic, each size)"
    assert _status(check, "symbolic, all sizes") == ["inconclusive"]
    assert check.methods[0].detail == ("the general argument does not hold: each term is > 0: "
                                       "positivity of a term is not decided")


def test_a_general_argument_that_does_not_hold_leaves_the_per_size_label():
    general = lambda sizes: positive_terms(SQUARES, definitions=SOFTMAX, what="x^T J x > 0")  # noqa: E731
    check = _claim(verify(_derivation(Property("J is positive semidefinite", _psd_exact, _numeric, general=general))),
                   "J is positive semidefinite")
    assert check.ok and check.level == "proved for n = 1..4"
    assert check_code(check.to_dict()) == "S"


def test_a_general_argument_that_holds_for_a_false_property_is_caught_by_the_exact_witness():
    # two symbolic witnesses that disagree fail the check: an unsound argument cannot ship a false label
    lying = lambda sizes: Witness(True, "trust me")  # noqa: E731
    report = verify(_derivation(Property("J is positive definite", _definite_exact, _numeric, general=lying)))
    check = _claim(report, "J is positive definite")
    assert not check.ok and check.level == "FAILED (symbolic, each size)"


def _raises(sizes):
    raise ValueError("no closed form")


def test_a_general_argument_that_raises_is_inconclusive():
    check = _claim(verify(_derivation(Property("J is positive semidefinite", _psd_exact, _numeric, general=_raises))),
                   "J is positive semidefinite")
    assert check.ok and check.level == "proved for n = 1..4"
    assert check.methods[0].status == "inconclusive"
    assert check.methods[0].detail == "the general argument raised ValueError: no closed form"


def _hangs(sizes):
    while True:
        pass


def test_a_general_argument_that_hangs_times_out_and_falls_back_to_each_size():
    report = verify(_derivation(Property("J is positive semidefinite", _psd_exact, _numeric, general=_hangs)),
                    VerifyConfig(time_bound=0.5))
    check = _claim(report, "J is positive semidefinite")
    assert check.ok and check.level == "proved for n = 1..4"
    assert (check.methods[0].method, check.methods[0].status) == ("symbolic, all sizes", "timeout")
    assert check.methods[0].detail == "the general argument timed out after 0.5 s"


def test_a_general_argument_with_nothing_to_say_is_skipped():
    check = _claim(verify(_derivation(Property("J is positive semidefinite", _psd_exact, _numeric,
                                               general=lambda sizes: None))), "J is positive semidefinite")
    assert check.level == "proved for n = 1..4"
    assert (check.methods[0].status, check.methods[0].detail) == ("skipped", "no general argument")


def test_a_general_witness_that_returns_no_witness_is_the_derivations_error():
    derivation = _derivation(Property("J is positive semidefinite", _psd_exact, _numeric, general=lambda sizes: True))
    with pytest.raises(DerivationError, match=re.escape(
            "derivation 'general-demo', claim 'J is positive semidefinite': the general witness returned bool; "
            "return Witness(holds, detail) or None")):
        verify(derivation)


def test_a_general_witness_that_is_not_a_function_is_refused_when_the_derivation_is_made():
    with pytest.raises(DerivationError, match="claim 'J is positive semidefinite': general must be a function returning "
                                              "a Witness or None, not str"):
        _derivation(Property("J is positive semidefinite", _psd_exact, _numeric, general="by inspection"))


def test_a_general_witness_is_called_with_the_symbolic_sizes():
    seen = []
    _derivation_checked = verify(_derivation(Property("J is positive semidefinite", _psd_exact, _numeric,
                                                      general=lambda sizes: seen.append(dict(sizes)))))
    assert _derivation_checked.ok and seen == [{n: n}]


# The helpers decide, and never assert ------------------------------------------------------------

def test_identity_for_all_proves_true_identities_and_refuses_false_ones():
    assert identity_for_all(Sum(p[i], (i, 1, n)), 1, definitions=SOFTMAX).holds
    # without sum p = 1 the variance identity is false: x^T (diag(w) - w w^T) x != sum w_i (x_i - sum w_k x_k)^2
    raw = {p: Lambda(a, w[a])}
    wrong = identity_for_all(FORM, SQUARES, definitions=raw, what="the variance form for unnormalised weights")
    assert wrong == Witness(False, "the variance form for unnormalised weights: not proved by the index prover")


@pytest.mark.parametrize("expr, ranges, nonnegative, positive", [
    (Sum((x[i] - Sum(x[k], (k, 1, n)) / n) ** 2, (i, 1, n)), {}, True, False),  # a variance: >= 0, may be 0
    (Sum(x[i] ** 2 - x[i], (i, 1, n)), {}, False, False),  # x_i^2 - x_i < 0 at x_i = 1/2
    (-Sum(x[i] ** 2, (i, 1, n)), {}, False, False),
    (Sum(w[i], (i, 1, n)), {}, True, True),  # n >= 1: never empty
    (Sum(w[i], (i, 1, m)), {}, True, False),  # m may be 0: the empty sum is 0
    (Sum(w[i], (i, 2, n)), {}, True, False),  # empty at n = 1
    (w[i] / Sum(w[k], (k, 1, n)), {i: n}, True, True),
    (exp(z[i]) / Sum(exp(z[k]), (k, 1, n)), {i: n}, True, True),
    (Sum(n - k, (k, 1, n)), {}, True, False),  # n - k >= 0 for k in 1..n (0 at k = n)
    (Sum(n - k, (k, 1, n + 1)), {}, False, False),  # n - k = -1 at k = n + 1
    (x[i] * Sum(x[k] ** 2, (k, 1, n)), {i: n}, False, False),
    (exp(-Sum(w[k], (k, 1, sp.oo))), {}, False, False),  # the series may diverge, and exp(-oo) = 0
], ids=lambda value: str(value)[:30])
def test_the_sign_helpers_read_signs_term_by_term(expr, ranges, nonnegative, positive):
    assert nonnegative_terms(expr, ranges).holds is nonnegative
    assert positive_terms(expr, ranges).holds is positive


def test_all_hold_needs_every_piece_and_names_the_ones_that_failed():
    assert all_hold(Witness(True, "a"), Witness(True, "b"), summary="a, b") == Witness(True, "a, b")
    assert all_hold(Witness(True, "a"), Witness(False, "b failed"), Witness(False, "c failed")) == \
        Witness(False, "b failed; c failed")
    assert not all_hold().holds and not all_hold(True).holds


def test_without_sizes_a_general_argument_is_labelled_proved_without_claiming_sizes():
    t = sp.Symbol("t", real=True)
    squares = Derivation(
        slug="square-nonnegative", title="t", topic="Demo", lhs=sp.Derivative(t**2, t), steps=[Step(2 * t, "power rule")],
        claims=[Property("t^2 >= 0", exact=lambda sizes: Witness(bool((t**2).is_nonnegative), "t real"),
                         numeric=_numeric, general=lambda sizes: nonnegative_terms(t**2, what="t^2 >= 0"))])
    check = _claim(verify(squares), "t^2 >= 0")
    assert check.level == "proved (general argument: t^2 >= 0 (term by term))"
