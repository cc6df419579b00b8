"""What verification returns: the verdict on each method, each check and each derivation.

A :class:`CheckResult` holds the methods tried on one step, claim or final result, strongest first;
its ``level`` is the wording the exports print beside the step. Nothing here computes a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import sympy as sp

PROVED, HOLDS, FAILED, INCONCLUSIVE, TIMEOUT, SKIPPED = "proved", "holds", "failed", "inconclusive", "timeout", "skipped"

@dataclass(frozen=True)
class VerifyConfig:
    """Knobs of the checks. Tolerances are never looser than PyTorch gradcheck's (rtol 1e-3, atol 1e-5)."""

    time_bound: float = 4.0  # seconds for each symbolic method of each check
    seed: int = 0
    digits: int = 50
    identity_tolerance: float = 1e-40
    rtol: float = 1e-9  # float64, both sides evaluated in closed form
    atol: float = 1e-12
    fd_rtol: float = 1e-5  # float64 where one side is a finite difference
    fd_atol: float = 1e-7
    max_size_combinations: int = 48
    high_precision_points: int = 2
    explain: bool = False  # keep the chain of rewrites of each proof for all sizes


@dataclass(frozen=True)
class Counterexample:
    """Concrete values at which the two sides differ."""

    sizes: Mapping
    indices: Mapping
    inputs: Mapping
    lhs: Any
    rhs: Any

    def __str__(self) -> str:
        from symformer.engine.report import example_text

        return example_text(self.to_dict())

    def to_dict(self) -> dict:
        return {
            "sizes": {str(k): v for k, v in self.sizes.items()},
            "indices": {str(k): v for k, v in self.indices.items()},
            "inputs": {str(k): _jsonable(v) for k, v in self.inputs.items()},
            "lhs": _jsonable(self.lhs),
            "rhs": _jsonable(self.rhs),
        }


@dataclass
class MethodResult:
    method: str
    status: str
    detail: str = ""
    max_error: float | None = None
    seconds: float = 0.0
    #: the named rewrites of a proof for all sizes (name, before and after as SymPy text and LaTeX), when they were kept
    rewrites: list | None = None

    def to_dict(self) -> dict:
        data = {"method": self.method, "status": self.status, "detail": self.detail,
                "max_error": _jsonable(self.max_error), "seconds": round(self.seconds, 4)}
        if self.rewrites is not None:
            data["rewrites"] = [dict(r) for r in self.rewrites]
        return data


@dataclass
class CheckResult:
    """The verdict on one step, claim or final result."""

    kind: str  # "step", "claim" or "result"
    label: str
    methods: list = field(default_factory=list)
    counterexample: Counterexample | None = None

    @property
    def ok(self) -> bool:
        statuses = [m.status for m in self.methods]
        return FAILED not in statuses and any(s in (PROVED, HOLDS) for s in statuses)

    @property
    def failure(self) -> MethodResult | None:
        return next((m for m in self.methods if m.status == FAILED), None)

    @property
    def level(self) -> str:
        """How the result was established, in the words an export shows."""
        if not self.ok:
            failed = self.failure
            return f"FAILED ({failed.method})" if failed else "not established"
        for method in self.methods:
            if method.status == PROVED:
                return method.detail
        for method in self.methods:
            if method.status == HOLDS:
                return method.detail
        return "not established"

    @property
    def max_error(self) -> float | None:
        errors = [m.max_error for m in self.methods if m.max_error is not None and m.method != "50-digit identity"]
        return max(errors) if errors else None

    def to_dict(self) -> dict:
        return {
            "kind": self.kind, "label": self.label, "ok": self.ok, "level": self.level,
            "max_error": _jsonable(self.max_error), "methods": [m.to_dict() for m in self.methods],
            "counterexample": self.counterexample.to_dict() if self.counterexample else None,
        }


@dataclass
class Report:
    """The verdict on a whole derivation."""

    slug: str
    title: str
    topic: str
    checks: list = field(default_factory=list)
    seconds: float = 0.0
    source: str | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def max_error(self) -> float | None:
        errors = [c.max_error for c in self.checks if c.max_error is not None]
        return max(errors) if errors else None

    def failures(self) -> list:
        return [c for c in self.checks if not c.ok]

    def describe_failures(self) -> str:
        """One line per failed check naming the derivation, the check and the method, then its counterexample."""
        from symformer.engine.report import format_failures

        return format_failures([self.to_dict()])

    def to_dict(self) -> dict:
        return {"slug": self.slug, "title": self.title, "topic": self.topic, "ok": self.ok,
                "seconds": round(self.seconds, 3), "max_error": _jsonable(self.max_error), "source": self.source,
                "checks": [c.to_dict() for c in self.checks]}



# Reading a report back (from the cache) ------------------------------------------------------

STATUSES = (PROVED, HOLDS, FAILED, INCONCLUSIVE, TIMEOUT, SKIPPED)
_REPORT_KEYS = {"slug", "title", "topic", "ok", "seconds", "max_error", "source", "checks"}
_CHECK_KEYS = {"kind", "label", "ok", "level", "max_error", "methods", "counterexample"}
_METHOD_KEYS = {"method", "status", "detail", "max_error", "seconds"}
_EXAMPLE_KEYS = {"sizes", "indices", "inputs", "lhs", "rhs"}
_REWRITE_KEYS = {"rewrite", "before", "after", "before_latex", "after_latex"}


class _Malformed(Exception):
    pass


def report_from_dict(data) -> Report | None:
    """The Report a dict of ``Report.to_dict()`` describes, or None when it is not one.

    Every field must have its type, every status must be known, and the dict must agree with
    itself: each check's ``ok`` and ``level``, and the report's ``ok`` and ``max_error``, are
    recomputed from the methods and must equal what the dict says.

    >>> report = Report("s", "t", "T", [CheckResult("step", "step 1", [MethodResult("float64", HOLDS, "checked numerically")])])
    >>> report_from_dict(report.to_dict()) is not None
    True
    >>> report_from_dict({**report.to_dict(), "ok": "false"}) is None
    True
    """
    try:
        report = _report(data)
        return report if report.to_dict() == data else None
    except _Malformed:
        return None


def _require(condition) -> None:
    if not condition:
        raise _Malformed


def _fields(data, keys) -> dict:
    _require(isinstance(data, dict) and set(data) == keys)
    return data


def _number_or_none(value):
    _require(value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
             or value in ("inf", "-inf", "nan"))
    return float(value) if isinstance(value, str) else value


def _text(value) -> str:
    _require(isinstance(value, str))
    return value


def _report(data) -> Report:
    data = _fields(data, _REPORT_KEYS)
    _require(isinstance(data["ok"], bool) and isinstance(data["checks"], list))
    _require(data["source"] is None or isinstance(data["source"], str))
    seconds = _number_or_none(data["seconds"])
    _require(seconds is not None)
    _number_or_none(data["max_error"])
    checks = [_check(c) for c in data["checks"]]
    return Report(_text(data["slug"]), _text(data["title"]), _text(data["topic"]), checks, seconds, data["source"])


def _check(data) -> CheckResult:
    data = _fields(data, _CHECK_KEYS)
    # any kind of check (step, claim, result, or one an exporter adds) reads back; its verdict is recomputed below
    _require(isinstance(data["kind"], str) and data["kind"] and isinstance(data["ok"], bool) and isinstance(data["methods"], list))
    _text(data["label"]), _text(data["level"]), _number_or_none(data["max_error"])
    methods = [_method(m) for m in data["methods"]]
    example = data["counterexample"]
    if example is not None:
        example = _fields(example, _EXAMPLE_KEYS)
        _require(all(isinstance(example[k], dict) for k in ("sizes", "indices", "inputs")))
        example = Counterexample(example["sizes"], example["indices"], example["inputs"], example["lhs"], example["rhs"])
    return CheckResult(data["kind"], data["label"], methods, example)


def _method(data) -> MethodResult:
    data = _fields(data, _METHOD_KEYS | ({"rewrites"} if isinstance(data, dict) and "rewrites" in data else set()))
    _require(data["status"] in STATUSES)
    seconds = _number_or_none(data["seconds"])
    _require(seconds is not None)
    rewrites = data.get("rewrites")
    if rewrites is not None:
        _require(isinstance(rewrites, list))
        for rewrite in rewrites:
            _fields(rewrite, _REWRITE_KEYS)
            for key in _REWRITE_KEYS:
                _text(rewrite[key])
    return MethodResult(_text(data["method"]), data["status"], _text(data["detail"]), _number_or_none(data["max_error"]), seconds,
                        rewrites)


def _jsonable(value):
    """A value as strict JSON: numbers stay numbers, complex numbers and non-finite floats become text.

    >>> _jsonable(complex(1, -2)), _jsonable(float("-inf")), _jsonable(sp.Rational(1, 4)), _jsonable([sp.I, 2])
    ('(1-2j)', '-inf', 0.25, ['1j', 2])
    """
    if isinstance(value, sp.Basic):
        if value.is_extended_real is not False:
            try:
                return _jsonable(float(value))
            except TypeError:
                pass
        try:
            return _jsonable(complex(value))
        except TypeError:
            return str(value)
    if isinstance(value, (np.generic,)):
        return _jsonable(value.item())
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else str(value)
    if isinstance(value, complex):
        return _jsonable(value.real) if value.imag == 0 else str(value)
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
