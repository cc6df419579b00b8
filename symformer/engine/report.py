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


def check_code(check: dict) -> str:
    if not check["ok"]:
        return "x"
    for method in check["methods"]:
        if method["status"] in ("proved", "holds"):
            return METHOD_CODES.get(method["method"], "?")
    return "?"


def weakest_level(report: dict) -> str:
    """The level the whole derivation reaches: that of its weakest check."""
    if report.get("error"):
        return "error"
    if not report["ok"]:
        return "FAILED"
    order = "ASHFR"
    codes = [check_code(c) for c in report["checks"] if c["kind"] != "result"]
    weakest = max(codes, key=order.index, default="A")
    levels = [c["level"] for c in report["checks"] if c["kind"] != "result" and check_code(c) == weakest]
    return levels[0] if levels else "verified"


def format_table(reports: list) -> str:
    rows = [("derivation", "steps", "methods", "max error", "time", "result")]
    for report in reports:
        steps = sum(1 for c in report["checks"] if c["kind"] == "step")
        codes = "".join(check_code(c) for c in report["checks"])
        error = report.get("max_error")
        seconds = "cached" if report.get("cached") else f"{report['seconds']:.2f}s"
        verdict = "error" if report.get("error") else ("ok" if report["ok"] else "FAILED")
        shown = "-" if error is None else f"{error:.1e}" if isinstance(error, (int, float)) else str(error)  # "inf" as text
        rows.append((report["slug"], str(steps), codes, shown, seconds, verdict))
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
                lines.append("  counterexample: " + example_text(example))
    return "\n".join(lines)


def example_text(example: dict) -> str:
    """A counterexample (as in ``Counterexample.to_dict()``) in one line."""
    parts = []
    if example["sizes"]:
        parts.append("at " + ", ".join(f"{k} = {v}" for k, v in example["sizes"].items()))
    if example["indices"]:
        parts.append("index " + ", ".join(f"{k} = {v}" for k, v in example["indices"].items()))
    inputs = "; ".join(f"{k} = {_short(v)}" for k, v in example["inputs"].items())
    if inputs:
        parts.append("inputs " + inputs)
    parts.append(f"left side = {_short(example['lhs'])}, right side = {_short(example['rhs'])}")
    return "; ".join(parts)


def _short(value) -> str:
    if isinstance(value, list):
        flat = value
        while flat and isinstance(flat[0], list):
            flat = [v for row in flat for v in row]
        shown = ", ".join(_short(v) for v in flat[:6])
        return f"[{shown}{', ...' if len(flat) > 6 else ''}]"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
