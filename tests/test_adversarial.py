"""The adversarial suite: every wrong derivation rejected at the check it gets wrong, never with a false
proof label, and every correct one accepted.

A proof label is false when it claims an identity at sizes where the identity fails: "proved for all
n" on a check that fails anywhere, or "proved for n = 1..3" on a check whose counterexample lies in
that range. "proved for n = 1..3" on an identity that fails only at n = 12 is true, and allowed.
"""

import pytest

from symformer import VerifyConfig, verify

from adversarial import cases
from adversarial._common import false_labels

WRONG, CORRECT = cases("WRONG"), cases("CORRECT")
# short: the suite runs in CI; every correct case is proved or checked well within it
CONFIG = VerifyConfig(time_bound=1.0)


def test_the_suite_covers_the_course():
    assert len(WRONG) >= 60 and len(CORRECT) >= 20
    assert len({case.slug for case in WRONG + CORRECT}) == len(WRONG) + len(CORRECT)


@pytest.mark.parametrize("case", WRONG, ids=[case.slug for case in WRONG])
def test_a_wrong_derivation_is_rejected_where_it_is_wrong(case):
    report = verify(case.derivation, CONFIG)
    assert not report.ok, f"{case.slug} ({case.mistake}) was accepted: {[c.level for c in report.checks]}"
    failing = {check.label for check in report.checks if not check.ok}
    assert set(case.fails) <= failing, f"{case.slug}: expected {case.fails} to fail, failing: {sorted(failing)}"
    assert [label for check in report.checks for label in false_labels(case.derivation, check)] == []


@pytest.mark.parametrize("case", CORRECT, ids=[case.slug for case in CORRECT])
def test_a_correct_derivation_is_accepted(case):
    report = verify(case.derivation, CONFIG)
    assert report.ok, report.describe_failures()
