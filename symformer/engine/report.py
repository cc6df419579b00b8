"""Plain-text renderings of verification reports (the dicts of ``Report.to_dict()``)."""

from __future__ import annotations

#: One letter per method, strongest first; the table shows the strongest that established each check.
METHOD_CODES = {
    "symbolic, all sizes": "A",
    "symbolic, each size": "S",
    "50-digit identity": "H",
    "float64": "F",
    "NumPy reference": "R",
    "finite differences": "R",
}
LEGEND = ("methods, one letter per step then claim: A proved for all sizes, S proved at each size of the range, "
          "H 50-digit identity (not a proof), F float64 only, R NumPy reference and finite differences, x failed")


def verdict_word(report: dict) -> str:
    """ok, FAILED, or error (the derivation could not be verified at all)."""
    return "error" if report.get("error") else ("ok" if report["ok"] else "FAILED")


def check_code(check: dict) -> str:
    if not check["ok"]:
        return "x"
    for method in check["methods"]:
        if method["status"] in ("proved", "holds"):
            return METHOD_CODES.get(method["method"], "?")
    return "?"


def weakest_level(report: dict) -> str:
    """The level the whole derivation reaches, which is that of its weakest check, saying so.

    >>> step = {"kind": "step", "ok": True, "level": "proved for all n",
    ...         "methods": [{"method": "symbolic, all sizes", "status": "proved"}]}
    >>> claim = {"kind": "claim", "ok": True, "level": "proved for n = 1..6",
    ...          "methods": [{"method": "symbolic, each size", "status": "proved"}]}
    >>> weakest_level({"ok": True, "checks": [step, step, claim]})
    'weakest of 3 checks: proved for n = 1..6'
    >>> weakest_level({"ok": True, "checks": [step, step]})
    'every check: proved for all n'
    """
    if report.get("error"):
        return "error"
    if not report["ok"]:
        return "FAILED"
    order = "ASHFR"
    checks = [c for c in report["checks"] if c["kind"] != "result"]
    codes = [check_code(c) for c in checks]
    weakest = max(codes, key=order.index, default="A")
    levels = [c["level"] for c in checks if check_code(c) == weakest]
    if not levels:
        return "verified"
    if len(set(c["level"] for c in checks)) == 1:
        return f"every check: {levels[0]}"
    return f"weakest of {len(checks)} checks: {levels[0]}"


def format_levels(report: dict) -> str:
    """Each check's level on its own line, under the derivation's weakest one (what ``show`` prints).

    >>> step = {"kind": "step", "label": "step 1", "ok": True, "level": "proved for all n",
    ...         "methods": [{"method": "symbolic, all sizes", "status": "proved"}]}
    >>> print(format_levels({"ok": True, "checks": [step]}))
    Verified: every check: proved for all n
      proved for all n  step 1
    """
    lines = [f"Verified: {weakest_level(report)}"]
    width = max((len(c["level"]) for c in report["checks"]), default=0)
    for check in report["checks"]:
        lines.append(f"  {check['level']:<{width}}  {check['label']}")
    return "\n".join(lines)


def format_rewrites(reports: list) -> str:
    """For each check proved for all sizes, the chain of named rewrites of its proof (``verify --explain``).

    >>> rewrite = {"rewrite": "count the terms of the sum over k", "before": "Sum(1, (k, 1, n))", "after": "n"}
    >>> method = {"method": "symbolic, all sizes", "status": "proved", "rewrites": [rewrite]}
    >>> print(format_rewrites([{"slug": "count", "checks": [{"label": "step 1", "level": "proved for all n", "methods": [method]}]}]))
    count, step 1: proved for all n
      1. count the terms of the sum over k
           Sum(1, (k, 1, n))
         = n
    """
    lines = []
    for report in reports:
        for check in report["checks"]:
            for method in check["methods"]:
                if method["method"] != "symbolic, all sizes" or method["status"] != "proved":
                    continue
                lines.append(f"{report['slug']}, {check['label']}: {check['level']}")
                rewrites = method.get("rewrites")
                if not rewrites:
                    lines.append("  (no rewrites recorded)")
                for number, rewrite in enumerate(rewrites or [], start=1):
                    lines += [f"  {number}. {rewrite['rewrite']}", f"       {rewrite['before']}", f"     = {rewrite['after']}"]
    return "\n".join(lines)


def format_table(reports: list) -> str:
    rows = [("derivation", "steps", "methods", "max error", "time", "result")]
    for report in reports:
        steps = sum(1 for c in report["checks"] if c["kind"] == "step")
        codes = "".join(check_code(c) for c in report["checks"])
        error = report.get("max_error")
        seconds = "cached" if report.get("cached") else f"{report['seconds']:.2f}s"
        shown = "-" if error is None else f"{error:.1e}" if isinstance(error, (int, float)) else str(error)  # "inf" as text
        rows.append((report["slug"], str(steps), codes, shown, seconds, verdict_word(report)))
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    passed = sum(1 for r in reports if r["ok"])
    lines.append("")
    lines.append(f"{passed} passed, {len(reports) - passed} failed")
    lines.append(LEGEND)
    return "\n".join(lines)


def format_failures(reports: list) -> str:
    lines = []
    for report in reports:
        if report.get("error"):
            lines.append(f"derivation {report['slug']!r}: {report['error']}")
        for check in report["checks"]:
            if check["ok"]:
                continue
            failed = next((m for m in check["methods"] if m["status"] == "failed"), None)
            how = f"{failed['method']}: {failed['detail']}" if failed else "no method could establish it"
            lines.append(f"derivation {report['slug']!r}, {check['label']}: {how}")
            example = check.get("counterexample")
            if example:
                lines.append("  counterexample: " + example_text(example).replace("\n", "\n  "))
    return "\n".join(lines)


def example_text(example: dict) -> str:
    """A counterexample (as in ``Counterexample.to_dict()``): sizes and indices on the first line, then
    each input, with matrices shown as matrices. Matrix entries are numbered from 1, like the indices.

    >>> print(example_text({"sizes": {"n": 2}, "indices": {"entry": [0, 1]},
    ...                     "inputs": {"X": [["-577/1000", "1/2"], ["3/2", "2"]]}, "lhs": 0.25, "rhs": 1.0}))
    at n = 2; entry (1, 2)
      X = [-0.577  0.5]
          [   1.5    2]
      left side = 0.25, right side = 1
    """
    head = []
    if example["sizes"]:
        head.append("at " + ", ".join(f"{k} = {v}" for k, v in example["sizes"].items()))
    indices = {k: v for k, v in example["indices"].items() if k != "entry"}
    if indices:
        head.append("index " + ", ".join(f"{k} = {v}" for k, v in indices.items()))
    if "entry" in example["indices"]:  # the checks record positions 0-based, as NumPy does
        head.append("entry (" + ", ".join(str(int(p) + 1) for p in example["indices"]["entry"]) + ")")
    lines = ["; ".join(head)] if head else []
    for name, value in example["inputs"].items():
        lines.extend(_named_value(name, value))
    lines.append(f"left side = {_short(example['lhs'])}, right side = {_short(example['rhs'])}")
    if not head:
        return "\n  ".join(lines)
    return lines[0] + "".join("\n  " + line for line in lines[1:])


#: The largest matrix shown whole; larger ones show this corner and say their shape.
_SHOWN = 6


def _named_value(name: str, value) -> list:
    if isinstance(value, list) and value and isinstance(value[0], list) and not any(isinstance(v, list) for row in value for v in row):
        rows = [[_short(v) for v in row[:_SHOWN]] + (["..."] if len(row) > _SHOWN else []) for row in value[:_SHOWN]]
        if len(value) > _SHOWN:
            rows.append(["..."] * len(rows[0]))
        widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
        text = ["[" + "  ".join(cell.rjust(w) for cell, w in zip(row, widths)) + "]" for row in rows]
        shape = f" ({len(value)} x {len(value[0])}, top-left corner)" if len(value) > _SHOWN or len(value[0]) > _SHOWN else ""
        prefix = f"{name} = "
        return [prefix + text[0] + shape] + [" " * len(prefix) + row for row in text[1:]]
    return [f"{name} = {_short(value)}"]


def _short(value) -> str:
    if isinstance(value, list):
        flat = value
        while flat and isinstance(flat[0], list):
            flat = [v for row in flat for v in row]
        shown = ", ".join(_short(v) for v in flat[:6])
        return f"[{shown}{', ...' if len(flat) > 6 else ''}]"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str) and "/" in value:
        return _decimal(value)
    return str(value)


def _decimal(text: str) -> str:
    """An exact rational such as -577/1000 as -0.577 when its decimal is exact and short, else as given."""
    from fractions import Fraction

    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        return text
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        return text
    shown = f"{float(value):.6g}"
    return shown if Fraction(shown) == value else text
