"""What every exporter reads: a derivation with its verdict, the figures drawn for it, its citations."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

from symformer.engine.model import Claim, Derivation
from symformer.notation.printer import to_latex


@dataclass
class Entry:
    """One derivation as exported: its verification report dict and the figure files made for it.

    ``figures`` holds ``(stem, caption)`` pairs, ``stem`` relative to the build folder without the
    extension (``figures/softmax-jacobian-eigenvalues``), so notes and slides pick .pdf or .png.
    """

    derivation: Derivation
    report: dict | None = None
    figures: list = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return bool(self.report) and bool(self.report.get("ok"))

    def step_levels(self) -> list:
        """One proof level per step, in the words of the report ("proved for all n", ...)."""
        return [c["level"] for c in self._checks("step")] or [None] * len(self.derivation.steps)

    def claim_levels(self) -> list:
        checks = self._checks("claim")
        return [c["level"] for c in checks] if len(checks) == len(self.derivation.claims) else [None] * len(self.derivation.claims)

    def result_level(self) -> str | None:
        checks = self._checks("result")
        return checks[0]["level"] if checks else None

    def problem(self) -> str:
        """Why the derivation is not verified, for the visible mark in the PDF."""
        if self.report is None:
            return "not verified"
        if self.report.get("error"):
            return self.report["error"]
        failed = [c["label"] for c in self.report["checks"] if not c["ok"]]
        return "failed: " + ", ".join(failed) if failed else ""

    def _checks(self, kind: str) -> list:
        if not self.report:
            return []
        return [c for c in self.report.get("checks", []) if c["kind"] == kind]


def citations(derivation: Derivation) -> list:
    """Every source the derivation names, in order of first mention, without repeats."""
    found = list(derivation.cite)
    found += [s.cite for s in derivation.steps if s.cite]
    found += [c.cite for c in derivation.claims if getattr(c, "cite", None)]
    return list(dict.fromkeys(found))


def citation_key(text: str) -> str:
    """A key for a free-text citation: readable, stable, and distinct for distinct texts.

    >>> citation_key("Dao et al. 2022, FlashAttention, appendix B.2")
    'dao-et-al-2022-60d65c72'
    """
    words = re.findall(r"[A-Za-z0-9]+", text)
    return "-".join(words[:4]).lower() + f"-{zlib.crc32(text.encode()):08x}"


def is_claim(item) -> bool:
    return isinstance(item, Claim)


def claim_formula(claim, style) -> str | None:
    """The LaTeX of what a claim states: its hand-written form, else lhs = rhs; None for a property without one."""
    if getattr(claim, "latex", None):
        return claim.latex
    if is_claim(claim):
        return f"{to_latex(claim.lhs, style)} = {to_latex(claim.rhs, style)}"
    return None
