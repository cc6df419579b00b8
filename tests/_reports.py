"""Verification reports of the built-in course, computed once per test session and shared.

Many test files assert on the same derivations' reports; verifying each derivation once keeps the
suite's time proportional to the course, not to the number of files that look at it.
"""

from functools import cache

from symformer import catalog, verify


@cache
def catalog_report(slug: str):
    return verify(catalog()[slug])
