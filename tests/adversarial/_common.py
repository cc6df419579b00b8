"""What every case module shares: the Case record and a one-step derivation."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import sympy as sp

from symformer import Derivation, Size, Step

n = sp.Symbol("n", integer=True, positive=True)
i, j, k, l, a, b, c, e, r, s, t, u, w = sp.symbols("i j k l a b c e r s t u w", integer=True)
SMALL = {n: Size(prove=range(1, 5), numeric=12)}


@dataclass(frozen=True)
class Case:
    """A derivation of the suite; ``fails`` names the checks of a wrong one that must fail ("step 2", "claim '...'")."""

    derivation: Derivation
    fails: tuple = ()
    mistake: str = ""

    @property
    def slug(self) -> str:
        return self.derivation.slug


def wrong(derivation: Derivation, *fails: str, mistake: str) -> Case:
    return Case(derivation, tuple(fails) or ("step 1",), mistake)


def correct(derivation: Derivation) -> Case:
    return Case(derivation)


def chain(slug: str, lhs, *steps, sizes=None, topic: str = "Adversarial", **extra) -> Derivation:
    """A derivation whose steps are (expression, why) pairs or bare expressions."""
    rows = [Step(s[0], s[1]) if isinstance(s, tuple) else Step(s, "the instructor's step") for s in steps]
    return Derivation(slug=slug, title=slug, topic=topic, lhs=lhs, steps=rows, sizes=SMALL if sizes is None else sizes, **extra)


def false_labels(derivation: Derivation, check) -> list:
    """The proof labels of a failing check that claim more than holds.

    "proved for all n" on a check that fails anywhere is false, and so is "proved for n = 1..3" when
    the counterexample lies in that range; "proved for n = 1..3" on an identity that fails only at
    n = 12 is true.
    """
    if check.ok:
        return []
    grid = {tuple(combo) for combo in itertools.product(*(size.prove for size in derivation.sizes.values()))}
    example = check.counterexample
    at = tuple(example.sizes.get(symbol) for symbol in derivation.sizes) if example else None
    false = []
    for method in check.methods:
        if method.status != "proved":
            continue
        if method.method != "symbolic, each size" or example is None or at in grid:
            false.append(f"{check.label}: {method.method} says {method.detail!r}")
    return false
