"""Check a derivation written in LaTeX: each chain of a homework or a set of notes becomes a
:class:`Derivation` and is verified by the normal ladder.

The reading is the notation layer's (``notation.reader.document``); here a chain's first part is the
left side and every later part a step, in the file's declared sizes, indices, domains and
definitions. A step whose shape or free indices cannot match the left side (a forgotten transpose
with N != M) fails on its own line before any verification. A step the ladder cannot settle (every
symbolic method timed out and no numeric check ran) is "could not be verified", never "wrong".
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

import sympy as sp

from symformer.engine.model import Derivation, Size, Step, _free_symbols, _shape, expand_definitions
from symformer.engine.results import FAILED, HOLDS, INCONCLUSIVE, PROVED, TIMEOUT, CheckResult, MethodResult, VerifyConfig
from symformer.engine.verify import verify
from symformer.errors import DerivationError, LatexError, UsageError
from symformer.notation.reader.document import Document, read_document

HOLD, FAIL, UNVERIFIED = "holds", "fails", "could not be verified"


@dataclass
class StepVerdict:
    """The verdict on one step of a chain, with where it is in the file."""

    number: int
    line: int
    column: int
    latex: str
    why: str
    verdict: str  # holds, fails, could not be verified
    level: str
    detail: str = ""
    methods: list = field(default_factory=list)
    counterexample: dict | None = None

    def to_dict(self) -> dict:
        return {"step": self.number, "line": self.line, "column": self.column, "latex": self.latex, "why": self.why,
                "verdict": self.verdict, "level": self.level, "detail": self.detail, "methods": self.methods,
                "counterexample": self.counterexample}


@dataclass
class ChainVerdict:
    number: int
    line: int
    lhs: str
    steps: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(s.verdict != FAIL for s in self.steps)

    def to_dict(self) -> dict:
        return {"chain": self.number, "line": self.line, "lhs": self.lhs, "ok": self.ok,
                "seconds": round(self.seconds, 3), "steps": [s.to_dict() for s in self.steps]}


@dataclass
class FileVerdict:
    path: str
    chains: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.chains)

    def first_failure(self):
        for chain in self.chains:
            for step in chain.steps:
                if step.verdict == FAIL:
                    return chain, step
        return None

    def to_dict(self) -> dict:
        first = self.first_failure()
        return {"file": self.path, "ok": self.ok, "chains": [c.to_dict() for c in self.chains],
                "first_failure": None if first is None else {"chain": first[0].number, "step": first[1].number,
                                                             "line": first[1].line}}


def check_file(path: str | Path, config: VerifyConfig = VerifyConfig()) -> FileVerdict:
    """Read ``path`` (.tex or .md) and verify each of its chains.

    A file that cannot be read or parsed raises :class:`UsageError` (a :class:`LatexError` names the
    line and column).

    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> name = os.path.join(folder, "square.tex")
    >>> with open(name, "w") as file:
    ...     _ = file.write("% symformer: x scalar\\n\\\\begin{align*}\\n(x+1)^2 &= x^2 + 2x + 1\\n\\\\end{align*}\\n")
    >>> verdict = check_file(name)
    >>> verdict.ok, verdict.chains[0].steps[0].line, verdict.chains[0].steps[0].level
    (True, 3, 'proved')
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    try:
        document = read_document(text, str(path), functions={"softmax": softmax})
    except LatexError as exc:
        raise LatexError(f"{path}: {exc}", exc.line, exc.column) from None
    return check_document(document, config)


def softmax(argument):
    r"""``\operatorname{softmax}`` in a checked file: of a vector, its entries (``\operatorname{softmax}(z)_i``);
    of a matrix, the row-wise softmax of the course."""
    if isinstance(argument, sp.IndexedBase) and argument.shape is not None and len(argument.shape) == 1:
        t, k = sp.Dummy("t", integer=True), sp.Symbol("k_softmax", integer=True)
        return sp.Lambda(t, sp.exp(argument[t]) / sp.Sum(sp.exp(argument[k]), (k, 1, argument.shape[0])))
    if getattr(argument, "is_Matrix", False):
        from symformer.blocks import RowSoftmax

        return RowSoftmax(argument)
    raise LatexError("softmax takes a declared vector (z vector n) or a matrix")


def check_document(document: Document, config: VerifyConfig = VerifyConfig()) -> FileVerdict:
    verdict = FileVerdict(document.path)
    if not document.chains:
        raise UsageError(f"{document.path}: no chain of equations found; write them in align*, aligned, equation "
                         "or \\[ \\] (.tex), or $$ ... $$ (.md)")
    for number, chain in enumerate(document.chains, start=1):
        verdict.chains.append(_check_chain(document, number, chain, config))
    return verdict


def _slug(path: str, number: int) -> str:
    stem = re.sub(r"[^a-z0-9]+", "-", Path(path).stem.lower()).strip("-") or "file"
    return f"{stem}-chain-{number}"


def _check_chain(document: Document, number: int, chain, config: VerifyConfig) -> ChainVerdict:
    import time

    started = time.perf_counter()
    declared = document.declarations
    lhs_part, step_parts = chain.parts[0], chain.parts[1:]
    result = ChainVerdict(number, lhs_part.line, lhs_part.latex)
    if not step_parts and not chain.unchecked:
        return result
    if lhs_part.problem:
        result.steps = [StepVerdict(0, lhs_part.line, lhs_part.column, lhs_part.latex, "", FAIL, "FAILED (shape)",
                                    f"the left side: {lhs_part.problem}")]
        return result
    sizes = {s: Size(prove=r, numeric=n) for s, (r, n) in declared.sizes.items()}
    definitions = dict(declared.definitions)
    lhs = lhs_part.value
    lhs_e = expand_definitions(lhs, definitions)
    lhs_shape = _shape(lhs_e)
    lhs_free = {i for i in declared.indices if i in _free_symbols(lhs_e)}
    verdicts: dict = {}
    usable = []
    for position, part in enumerate(step_parts, start=1):
        if part.problem:
            verdicts[position] = StepVerdict(position, part.line, part.column, part.latex, part.why, FAIL,
                                             "FAILED (shape)", part.problem)
            continue
        expr_e = expand_definitions(part.value, definitions)
        problem = None
        if _shape(expr_e) != lhs_shape:
            problem = (f"its shape {_shape_words(_shape(expr_e))} differs from {_shape_words(lhs_shape)} of the left "
                       "side; check the transposes and products")
        else:
            free = {i for i in declared.indices if i in _free_symbols(expr_e)}
            if not free <= lhs_free:
                problem = (f"its free indices {sorted(map(str, free))} are not those of the left side "
                           f"{sorted(map(str, lhs_free))}")
        if problem:
            verdicts[position] = StepVerdict(position, part.line, part.column, part.latex, part.why, FAIL,
                                             "FAILED (shape)", problem)
        else:
            usable.append((position, part))
    # each usable step is compared with the usable step before it (or the left side)
    if usable:
        used = _symbols_used([lhs_e, *(expand_definitions(p.value, definitions) for _, p in usable)])
        indices = {i: b for i, b in declared.indices.items() if i in used}
        wanted = used | {s for b in indices.values() for s in sp.sympify(b).free_symbols}
        sizes = {s: spec for s, spec in sizes.items() if s in wanted}
        derivation = Derivation(
            slug=_slug(document.path, number), title=f"{Path(document.path).name}, chain {number}",
            topic="checked file", lhs=lhs,
            steps=[Step(p.value, p.why or "(no justification given)") for _, p in usable],
            sizes=sizes, indices=indices, definitions=definitions,
            domains={k: v for k, v in declared.domains.items()},
        )
        try:
            step_checks = [c for c in verify(derivation, config).checks if c.kind == "step"]
        except Exception:  # noqa: BLE001 - one step the verifier cannot take: verify the steps one by one
            step_checks = _one_by_one(derivation, config)
        for (position, part), check in zip(usable, step_checks):
            verdicts[position] = _step_verdict(position, part, check)
        _recheck_after_failures(derivation, usable, verdicts, lhs_part, config)
    result.steps = [verdicts[p] for p in sorted(verdicts)]
    for line, column, latex, relation in chain.unchecked:
        result.steps.append(StepVerdict(len(result.steps) + 1, line, column, latex, "", UNVERIFIED, UNVERIFIED,
                                        f"only '=' steps are checked; this one is '{relation}'"))
    result.steps.sort(key=lambda s: (s.line, s.column))
    result.seconds = time.perf_counter() - started
    return result


def _recheck_after_failures(derivation, usable, verdicts, lhs_part, config) -> None:
    """A step after a wrong one is compared with the last right expression, so one planted error is one
    failing line: in a = b = c' = d with c' wrong, d = b still holds and is reported so."""
    good_expr, good_line, wrong_line = derivation.lhs, lhs_part.line, None
    for position, part in usable:
        verdict = verdicts[position]
        if verdict.verdict == FAIL and wrong_line is not None:
            single = dataclasses.replace(derivation, slug=f"{derivation.slug}-recheck-{position}", lhs=good_expr,
                                         steps=[Step(part.value, part.why or "(no justification given)")])
            try:
                check = next(c for c in verify(single, config).checks if c.kind == "step")
            except Exception:  # noqa: BLE001 - no second opinion; the first verdict stands
                check = None
            if check is not None and check.ok:
                verdicts[position] = _step_verdict(position, part, check)
                verdicts[position].level += f" (against line {good_line}; line {wrong_line} is the wrong one)"
                verdict = verdicts[position]
        if verdict.verdict == FAIL:
            wrong_line = wrong_line or part.line
        else:
            good_expr, good_line, wrong_line = part.value, part.line, None


def _symbols_used(expressions) -> set:
    """Every symbol the expressions use, the sizes in the shapes of their arrays and matrices included."""
    used = set()
    for expression in expressions:
        used |= _free_symbols(expression)
        for array in expression.atoms(sp.IndexedBase, sp.MatrixSymbol):
            for extent in (array.shape or ()):
                used |= sp.sympify(extent).free_symbols
    return used


def _one_by_one(derivation: Derivation, config: VerifyConfig) -> list:
    checks, previous = [], derivation.lhs
    for number, step in enumerate(derivation.steps, start=1):
        single = dataclasses.replace(derivation, slug=f"{derivation.slug}-step-{number}", lhs=previous, steps=[step])
        try:
            checks.append(next(c for c in verify(single, config).checks if c.kind == "step"))
        except DerivationError as exc:
            check = CheckResult("step", f"step {number}")
            check.methods.append(MethodResult("evaluation", INCONCLUSIVE, str(exc)))
            checks.append(check)
        except Exception as exc:  # noqa: BLE001 - SymPy failing on an exotic form is "not verified", never a crash
            check = CheckResult("step", f"step {number}")
            check.methods.append(MethodResult("verification", INCONCLUSIVE, f"SymPy raised {type(exc).__name__}: {exc}"))
            checks.append(check)
        previous = step.expr
    return checks


def _step_verdict(position, part, check) -> StepVerdict:
    methods = [m.to_dict() for m in check.methods]
    statuses = [m.status for m in check.methods]
    if FAILED in statuses:
        failed = check.failure
        return StepVerdict(position, part.line, part.column, part.latex, part.why, FAIL, check.level,
                           f"{failed.method}: {failed.detail}", methods,
                           check.counterexample.to_dict() if check.counterexample else None)
    if PROVED in statuses or HOLDS in statuses:
        level = check.level
        if PROVED not in statuses:  # right as far as it was checked: say which proof did not finish
            stopped = [f"{m.method} {'timed out' if m.status == TIMEOUT else 'did not close'}" for m in check.methods
                       if m.status in (TIMEOUT, INCONCLUSIVE)]
            if stopped:
                level += f" (not proved: {', '.join(stopped)})"
        return StepVerdict(position, part.line, part.column, part.latex, part.why, HOLD, level, "", methods)
    timed_out = [m for m in check.methods if m.status == TIMEOUT]
    how = "; ".join(f"{m.method} timed out ({m.detail})" for m in timed_out) or \
        "; ".join(f"{m.method}: {m.detail}" for m in check.methods) or "no method settled it"
    return StepVerdict(position, part.line, part.column, part.latex, part.why, UNVERIFIED, UNVERIFIED, how, methods)


def _shape_words(shape) -> str:
    return "scalar" if not shape else " x ".join(map(str, shape))

