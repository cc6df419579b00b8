"""Verify a derivation: every step and claim by the strongest method that succeeds, plus float64.

For an identity ``lhs == rhs`` the methods run in this order:

1. ``symbolic, all sizes``: a proof in index notation for symbolic sizes (see ``index``), for every
   size at or above its floor (1 when declared positive, else 0) and every index in its range;
2. ``symbolic, each size``: both sides expanded at every concrete size of the declared proof
   ranges, all free index values enumerated, every sum written out term by term (an empty one is
   0), and the difference reduced to 0 exactly;
3. ``50-digit identity``: where 1 or 2 did not close, both sides at random rational points in
   50-digit arithmetic, difference below 1e-40 (evidence, not a proof, and labelled so);
4. ``float64``: always, at the declared realistic size and at every size's smallest, boundary and
   largest proof size, with a ``Derivative`` evaluated by central differences rather than by SymPy.

A Property (a fact that is not an equation) runs its general argument at the symbolic sizes where it
has one (``symbolic, all sizes``: proved only when its Witness holds), its exact witness at every
proof size (``symbolic, each size``), then its numeric witness (``float64``); a general argument that
does not hold, raises or times out proves nothing, and one the exact witness contradicts fails.

A non-finite value is never evidence of equality (see ``agreement``); samples respect what each
input is declared to be. Central differences are judged against their own rounding error
eps |f| / h, and a near miss is looked at again by Richardson extrapolation before it rejects.

Symbolic methods run under a time bound; a timeout falls back to the next method and says so.
A method that finds a difference fails the check with a counterexample: the sizes, the index
values, the inputs and both sides' values. For a derivation with a Jacobian or Gradient result,
its final expression is also compared with the independent NumPy reference and with finite
differences of the forward function. Code from the derivation's file (witnesses, forward,
reference, domains) runs under the time bound too; its failures are errors naming the check.
"""


from __future__ import annotations

import inspect
import itertools
import time
import zlib
from typing import Callable, Mapping

import numpy as np
import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixElement

from symformer.engine.agreement import AGREE, DIFFER, UNUSABLE, compare_exact, compare_float, nonfinite_reason
from symformer.engine.domains import default_domain, domain_of, violated_assumption
from symformer.engine.evaluate import FD_STEP, evaluate
from symformer.engine.display import display_checks
from symformer.engine.index import equal_in_general
from symformer.engine.indexform import Untranslatable, general_entries
from symformer.engine.model import Claim, Derivation, Gradient, Jacobian, Property, Witness, _free_symbols
from symformer.engine.projection import project_large_gradients
from symformer.engine.realise import exactly_equal_at, values_at
from symformer.engine.results import (
    FAILED, HOLDS, INCONCLUSIVE, PROVED, SKIPPED, TIMEOUT, CheckResult, Counterexample, MethodResult, Report, VerifyConfig,
)
from symformer.engine.timebound import TimeBoundExceeded, run_bounded
from symformer.errors import DerivationError
from symformer.reference.finite_differences import central_difference, directional_difference


# Entry point -------------------------------------------------------------------------------


def verify(derivation: Derivation, config: VerifyConfig = VerifyConfig()) -> Report:
    """Verify every step, claim and the final result of ``derivation``.

    >>> from symformer import catalog
    >>> report = verify(catalog()["softmax-jacobian"])
    >>> report.ok
    True
    """
    started = time.perf_counter()
    context = _Context(derivation, config)
    report = Report(derivation.slug, derivation.title, derivation.topic, source=derivation.source)
    previous = derivation.lhs
    for number, step in enumerate(derivation.steps, start=1):
        report.checks.append(context.check_identity("step", f"step {number}", previous, step.expr))
        previous = step.expr
    for claim in derivation.claims:
        label = f"claim {claim.statement!r}"
        if isinstance(claim, Claim):
            report.checks.append(context.check_identity("claim", label, claim.lhs, claim.rhs, claim.indices))
        else:
            report.checks.append(context.check_property(label, claim))
    report.checks += display_checks(derivation, context.check_identity)  # the page shows what was verified
    if derivation.result is not None:
        report.checks.append(context.check_result(derivation.result, previous))
    report.seconds = time.perf_counter() - started
    return report


#: The least number of random points of a 50-digit check, over all its sizes.
MIN_EXACT_POINTS = 12
#: Random points of a float64 check without size symbols.
SCALAR_FLOAT64_POINTS = 8
#: Entries of the float64 plan that run whatever the time bound (the numeric and the smallest sizes).
REQUIRED_FLOAT64 = 2
#: Entries of the plan that witness a check a symbolic method has proved: the numeric size, then the
#: smallest, the boundary and the largest sizes of every symbol at once.
WITNESS_FLOAT64 = 4
#: The float64 plan's time: the time bound, but never less than this (its evaluations are cheap).
MIN_FLOAT64_SECONDS = 1.0
#: A call of the derivation's own code (a witness, a forward, a reference) may take the time bound,
#: but never less than this: honest numeric witnesses (Monte Carlo, a tokenizer run) take seconds.
MIN_USER_SECONDS = 10.0
#: A central difference's rounding error, in units of eps |f| / h (the evaluation of f rounds too).
FD_ROUNDING = 8.0
#: A float64 failure within this many tolerances is looked at again with Richardson extrapolation.
NEAR_TOLERANCE = 100.0
#: The relative step of that second look: ten times FD_STEP, so ten times less rounding.
RICHARDSON_STEP = 1e-4
#: The relative step of the final result's central differences (PyTorch gradcheck's).
RESULT_FD_STEP = 1e-6


# The work ----------------------------------------------------------------------------------


class _Context:
    """What the checks of one derivation share: its inputs, sizes and random streams."""

    def __init__(self, derivation: Derivation, config: VerifyConfig):
        self.d = derivation
        self.config = config
        expressions = [derivation.lhs, *(s.expr for s in derivation.steps)]
        for claim in derivation.claims:
            if isinstance(claim, Claim):
                expressions += [claim.lhs, claim.rhs]
        expanded = [derivation.expand(e) for e in expressions]
        self.bases = sorted({a.base for e in expanded for a in e.atoms(sp.Indexed)}, key=str)
        self.matrices = sorted({m for e in expanded for m in e.atoms(sp.MatrixSymbol)}, key=str)
        labels = {b.label for b in self.bases}
        bound = set(derivation.sizes) | set(derivation.indices) | labels
        for claim in derivation.claims:
            if isinstance(claim, Claim) and claim.indices:
                bound |= set(claim.indices)
        self.scalars = sorted({s for e in expanded for s in e.free_symbols if isinstance(s, sp.Symbol)} - bound, key=str)
        for kind, things, name_of in (("bases", self.bases, lambda b: str(b.label)), ("matrices", self.matrices, str)):
            by_name: dict = {}
            for thing in things:
                by_name.setdefault(name_of(thing), []).append(thing)
            for name, same in by_name.items():
                if len(same) > 1:  # one name, two inputs: their entries would share stand-ins and samples
                    shapes = " and ".join(sorted(str(tuple(t.shape) if t.shape is not None else "no shape") for t in same))
                    raise DerivationError(f"derivation {derivation.slug!r}: two inputs are named {name} (shapes {shapes}); "
                                          "give each its own name")
        for base in self.bases:
            if base.shape is None:
                raise DerivationError(
                    f"derivation {derivation.slug!r}: IndexedBase {base} has no shape; "
                    f"declare it as IndexedBase({str(base)!r}, shape=(n,))"
                )
        declared = set(derivation.sizes) | set(derivation.indices)
        for claim in derivation.claims:
            if isinstance(claim, Claim) and claim.indices:
                declared |= set(claim.indices)
        for expr in expanded:
            _check_indices_declared(derivation.slug, expr, declared)
        self.size_symbols = list(derivation.sizes)
        # a size is a count: at least 1 when declared positive, else at least 0 ("proved for all n" means these)
        self.floors = {s: 1 if s.is_positive else 0 for s in self.size_symbols}
        self.small = self._size_combinations()
        self.numeric = {s: spec.numeric for s, spec in derivation.sizes.items()}
        self.float64_plan = self._float64_plan()
        self.realised: dict = {}  # (expression, sizes) -> explicit form, see realise.realise

    # sizes and inputs ----------------------------------------------------------------------
    def _size_combinations(self) -> list:
        if not self.size_symbols:
            return [{}]
        ranges = [self.d.sizes[s].prove for s in self.size_symbols]
        combos = [dict(zip(self.size_symbols, values)) for values in itertools.product(*ranges)]
        combos.sort(key=lambda c: (sum(c.values()), tuple(c.values())))
        return combos[: self.config.max_size_combinations]

    def _describe_sizes(self, combos: list) -> str:
        """The sizes in ``combos`` in words; a set that is not a full grid is listed, never widened to one."""
        if not self.size_symbols:
            return ""
        values = {symbol: sorted({c[symbol] for c in combos}) for symbol in self.size_symbols}
        grid = 1
        for options in values.values():
            grid *= len(options)
        if grid != len({tuple(c[s] for s in self.size_symbols) for c in combos}):
            shown = "; ".join(", ".join(f"{s} = {c[s]}" for s in self.size_symbols) for c in combos[:4])
            more = f" and {len(combos) - 4} more" if len(combos) > 4 else ""
            return f"{len(combos)} size combinations ({shown}{more})"
        parts = []
        for symbol, options in values.items():
            if len(options) == 1:
                parts.append(f"{symbol} = {options[0]}")
            elif len(options) > 2 and options == list(range(options[0], options[-1] + 1)):
                parts.append(f"{symbol} = {options[0]}..{options[-1]}")
            else:
                parts.append(f"{symbol} in {{{', '.join(map(str, options))}}}")
        return ", ".join(parts)

    def _float64_plan(self) -> list:
        """The (sizes, point) pairs float64 evaluates, most telling first.

        Every size symbol's smallest, boundary (the next smallest) and largest declared proof size, in
        every combination, and the numeric size: the numeric size and the all-smallest sizes always,
        the rest while the time bound lasts (at least ``MIN_FLOAT64_SECONDS``). Without sizes, several
        random points. The combinations are a search for a counterexample the symbolic methods did not
        settle; after a proof only the first ``WITNESS_FLOAT64`` run.
        """
        if not self.size_symbols:
            return [({}, point) for point in range(SCALAR_FLOAT64_POINTS)]
        edges = {}
        for symbol in self.size_symbols:
            values = sorted(set(self.d.sizes[symbol].prove))
            edges[symbol] = sorted({values[0], values[min(1, len(values) - 1)], values[-1]})
        lowest = {s: v[0] for s, v in edges.items()}
        diagonals = [{s: v[min(k, len(v) - 1)] for s, v in edges.items()} for k in (1, 2)]
        grid = [dict(zip(edges, combo)) for combo in itertools.product(*edges.values())]
        grid.sort(key=lambda c: (sum(c.values()), tuple(c.values())))
        plan, seen = [], set()
        for sizes in [self.numeric, lowest, *diagonals, *grid]:
            key = tuple(sizes[s] for s in self.size_symbols)
            if key not in seen:
                seen.add(key)
                plan.append((sizes, 0))
        return plan

    def _plan_after(self, result) -> list:
        """The whole float64 plan where no symbolic method proved the check; where one did, the numeric size
        and the smallest, boundary and largest sizes together (a second witness, not a search)."""
        if any(m.status == PROVED for m in result.methods):
            return self.float64_plan[:WITNESS_FLOAT64]
        return self.float64_plan

    def _rng(self, label: str, salt: str = "") -> np.random.Generator:
        key = zlib.crc32(f"{self.d.slug}/{label}/{salt}".encode())
        return np.random.default_rng([self.config.seed, key])

    def _domain(self, thing):
        # a Symbol or IndexedBase declared positive=True (or integer=True) is sampled so unless a domain says otherwise
        default = default_domain(thing)
        name = str(thing.label) if isinstance(thing, sp.IndexedBase) else str(thing)
        spec = self.d.domains.get(thing, self.d.domains.get(name))
        return domain_of(spec, default)

    def _shape_at(self, shape, sizes) -> tuple:
        out = []
        concrete = {symbol: sp.Integer(value) for symbol, value in sizes.items()}
        for extent in shape:
            value = sp.sympify(extent).xreplace(concrete)
            if not value.is_Integer:
                raise DerivationError(f"derivation {self.d.slug!r}: the extent {extent} is not fixed by the declared sizes")
            out.append(int(value))
        return tuple(out)

    def sample(self, rng, sizes, exact: bool = False) -> dict:
        """Random inputs: arrays for IndexedBase/MatrixSymbol, numbers for scalar symbols."""
        values = {}
        for thing in [*self.bases, *self.matrices, *self.scalars]:
            domain = self._domain(thing)
            shape = self._shape_at(thing.shape, sizes) if not isinstance(thing, sp.Symbol) else ()
            sampler = domain.exact if exact else domain.sample
            value = self._user_call("the inputs", f"the domain {domain.name!r} of {thing}", sampler, rng, shape)
            if np.shape(value) != shape:
                raise DerivationError(f"derivation {self.d.slug!r}: the domain {domain.name!r} gave {thing} the shape "
                                      f"{np.shape(value)} instead of {shape}")
            broken = violated_assumption(thing, value)
            if broken:
                assumption, example = broken.split(":", 1)
                raise DerivationError(f"derivation {self.d.slug!r}: the domain {domain.name!r} gave {thing} the value "
                                      f"{example}, but {thing} is declared {assumption}; give it a domain that respects "
                                      f"the declaration, or drop the declaration")
            values[thing] = value if shape else np.asarray(value, dtype=object if exact else None)[()]
        return values

    def _free(self, lhs, rhs, extra) -> dict:
        """The declared indices (the derivation's and the claim's own) that either side uses freely."""
        indices = {**self.d.indices, **(extra or {})}
        used = _free_symbols(lhs) | _free_symbols(rhs)
        return {i: bound for i, bound in indices.items() if i in used}

    # identities ----------------------------------------------------------------------------
    def check_identity(self, kind, label, lhs, rhs, extra_indices=None) -> CheckResult:
        result = CheckResult(kind, label)
        lhs_e, rhs_e = self.d.expand(lhs), self.d.expand(rhs)
        free = self._free(lhs_e, rhs_e, extra_indices)
        proved = False
        if self.size_symbols:
            ranges = {i: (1, bound) for i, bound in free.items()}
            if _has_matrices(lhs_e) or _has_matrices(rhs_e):
                proved = self._prove_matrices_general(result, lhs_e, rhs_e, ranges)
            else:
                proved = self._prove_general(result, lhs_e, rhs_e, ranges)
        unproved_sizes = [] if proved else self._prove_each_size(result, lhs_e, rhs_e, free)
        if unproved_sizes and result.failure is None:
            self._high_precision(result, label, lhs_e, rhs_e, free, unproved_sizes)
        if result.failure is None:
            self._float64(result, label, lhs_e, rhs_e, free)
        return result

    def _prove_matrices_general(self, result, lhs, rhs, ranges) -> bool:
        """A matrix-level identity for every size: its general entries, by the index-notation prover."""
        if any(_has_matrices(sp.sympify(bound)) for bound in ranges.values()) or any(
                isinstance(e, MatrixElement) and not (e.i.is_Integer and e.j.is_Integer) for e in (lhs, rhs)):
            return False
        if ranges and any(a.has(*ranges) for e in (lhs, rhs) for a in e.atoms(MatrixElement)):
            return False  # a declared index inside a matrix entry: its base (0 or 1) is the derivation's own
        started = time.perf_counter()
        try:
            left, right, entry_ranges = general_entries(lhs, rhs, self.floors)
        except Untranslatable as exc:
            result.methods.append(MethodResult("symbolic, all sizes", INCONCLUSIVE, f"not in index notation: {exc}",
                                               seconds=time.perf_counter() - started))
            return False
        return self._prove_general(result, left, right, {**ranges, **entry_ranges})

    def _prove_general(self, result, lhs, rhs, ranges) -> bool:
        started = time.perf_counter()
        chain = [] if self.config.explain else None
        try:
            ok = run_bounded(lambda: equal_in_general(lhs, rhs, ranges, self.floors, explain=chain), self.config.time_bound)
        except TimeBoundExceeded:
            result.methods.append(MethodResult("symbolic, all sizes", TIMEOUT,
                                               f"no proof within {self.config.time_bound:g} s", seconds=time.perf_counter() - started))
            return False
        except Exception as exc:  # SymPy may raise on exotic forms; that is "not proved", not a verdict
            result.methods.append(MethodResult("symbolic, all sizes", INCONCLUSIVE, f"SymPy raised {type(exc).__name__}: {exc}",
                                               seconds=time.perf_counter() - started))
            return False
        seconds = time.perf_counter() - started
        if ok:
            names = ", ".join(map(str, self.size_symbols))
            rewrites = None if chain is None else [rewrite.to_dict() for rewrite in chain]
            result.methods.append(MethodResult("symbolic, all sizes", PROVED, f"proved for all {names}", seconds=seconds,
                                               rewrites=rewrites))
            return True
        result.methods.append(MethodResult("symbolic, all sizes", INCONCLUSIVE, "the normal forms differ", seconds=seconds))
        return False

    def _prove_each_size(self, result, lhs, rhs, free) -> list:
        """Prove at each small size; return the sizes left unproved (in order)."""
        started = time.perf_counter()
        proved, left = [], list(self.small)
        deadline = started + self.config.time_bound
        note = ""
        while left:
            sizes = left[0]
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                note = f"; {self._describe_sizes([sizes]) or 'the check'} not reached within {self.config.time_bound:g} s"
                break
            try:
                verdict = run_bounded(lambda: exactly_equal_at(self, lhs, rhs, free, sizes), remaining)
            except TimeBoundExceeded:
                note = f"; {self._describe_sizes([sizes]) or 'the check'} timed out after {self.config.time_bound:g} s"
                break
            except DerivationError as exc:  # the derivation reads an entry that does not exist: its error, not a fallback
                raise DerivationError(f"derivation {self.d.slug!r}, {result.label}: {exc}") from None
            except Exception as exc:
                note = f"; SymPy raised {type(exc).__name__} at {self._describe_sizes([sizes]) or 'the check'}"
                break
            if verdict is not True:
                note = f"; not reduced to 0 at {self._describe_sizes([sizes]) or 'the check'}"
                break
            proved.append(left.pop(0))
        seconds = time.perf_counter() - started
        if proved and not left:
            where = self._describe_sizes(proved)
            detail = f"proved for {where}" if where else "proved"
            result.methods.append(MethodResult("symbolic, each size", PROVED, detail, seconds=seconds))
        elif proved:
            result.methods.append(MethodResult("symbolic, each size", INCONCLUSIVE,
                                               f"proved for {self._describe_sizes(proved)}{note}", seconds=seconds))
        else:
            result.methods.append(MethodResult("symbolic, each size", TIMEOUT if "timed out" in note or "not reached" in note else INCONCLUSIVE,
                                               note.lstrip("; ") or "not reduced to 0", seconds=seconds))
        return left

    def _high_precision(self, result, label, lhs, rhs, free, sizes_left) -> None:
        started = time.perf_counter()
        digits, tolerance = self.config.digits, self.config.identity_tolerance
        checked, unwitnessed = [], []
        worst = 0.0

        # at least MIN_EXACT_POINTS points in all: a scalar identity such as log(xy) = log x + log y fails
        # only where both x and y are negative, a quarter of the samples
        points = max(self.config.high_precision_points, -(-MIN_EXACT_POINTS // max(1, len(sizes_left))))

        def sweep():
            nonlocal worst
            for sizes in sizes_left:
                witnessed = attempts = 0
                # a point where some entry says nothing (NaN) is replaced by another, a few times
                while witnessed < points and attempts < points + 2:
                    rng = self._rng(label, f"exact/{attempts}/{sorted(map(str, sizes.items()))}")
                    attempts += 1
                    inputs = self.sample(rng, sizes, exact=True)
                    usable, finite = True, False
                    for indices, left_value, right_value in values_at(self, lhs, rhs, free, sizes, inputs, digits):
                        verdict, error = compare_exact(left_value, right_value, tolerance)
                        if verdict == DIFFER:
                            worst = max(worst, error)
                            return Counterexample(dict(sizes), indices, _plain_inputs(inputs), left_value, right_value)
                        if verdict == AGREE:
                            worst, finite = max(worst, error), True
                        usable = usable and verdict != UNUSABLE
                    witnessed += usable and finite
                (checked if witnessed else unwitnessed).append(sizes)
            return None

        try:
            counterexample = run_bounded(sweep, self.config.time_bound)
        except TimeBoundExceeded:
            counterexample = None
            if not checked:
                result.methods.append(MethodResult("50-digit identity", TIMEOUT, f"not finished within {self.config.time_bound:g} s",
                                                   seconds=time.perf_counter() - started))
                return
        except DerivationError as exc:
            raise DerivationError(f"derivation {self.d.slug!r}, {label}: {exc}") from None
        except Exception as exc:  # SymPy refusing a form is "not checked", not a verdict; float64 still runs
            result.methods.append(MethodResult("50-digit identity", INCONCLUSIVE, f"SymPy raised {type(exc).__name__}: {exc}",
                                               seconds=time.perf_counter() - started))
            return
        seconds = time.perf_counter() - started
        if counterexample is not None:
            result.methods.append(MethodResult("50-digit identity", FAILED,
                                               f"the sides differ by {worst:.3g} (relative) at {digits} digits", worst, seconds))
            result.counterexample = counterexample
            return
        missing = (f"; not witnessed at {self._describe_sizes(unwitnessed) or 'the check'}: "
                   "a side is NaN or no entry is finite on both sides") if unwitnessed else ""
        if not checked:
            result.methods.append(MethodResult("50-digit identity", INCONCLUSIVE, f"could not be checked{missing}", None, seconds))
            return
        where = self._describe_sizes(checked)
        detail = f"identity checked at {digits} digits" + (f" for {where}" if where else "") + " (not a proof)" + missing
        result.methods.append(MethodResult("50-digit identity", HOLDS, detail, worst, seconds))

    def _float64(self, result, label, lhs, rhs, free) -> None:
        started = time.perf_counter()
        uses_fd = lhs.has(sp.Derivative) or rhs.has(sp.Derivative)
        rtol, atol = (self.config.fd_rtol, self.config.fd_atol) if uses_fd else (self.config.rtol, self.config.atol)
        worst = 0.0
        checked, unchecked = [], {}
        reexamined = False
        plan = self._plan_after(result)
        budget = max(self.config.time_bound, MIN_FLOAT64_SECONDS)
        deadline = started + budget
        for number, (sizes, point) in enumerate(plan):
            if number >= REQUIRED_FLOAT64 and time.perf_counter() > deadline:
                break
            reason = None
            for attempt in range(3):  # where an entry says nothing (NaN, overflow), sample elsewhere
                salt = f"float64/{sorted(map(str, sizes.items()))}" + (f"/point {point}" if point else "") + \
                    (f"/again {attempt}" if attempt else "")
                rng = self._rng(label, salt)
                inputs = self.sample(rng, sizes)
                ranges = {i: (1, int(sp.sympify(bound).subs(sizes))) for i, bound in free.items()}
                scale: dict = {}
                left, right = self._float64_sides(label, lhs, rhs, inputs, sizes, ranges, FD_STEP, scale)
                tolerance = _fd_atol(atol, scale, FD_STEP) if uses_fd else atol
                differ, unusable, witnessed = compare_float(left, right, rtol, tolerance)
                if uses_fd and differ.any() and _near(left, right, differ, rtol, tolerance):
                    # central differences round at about eps |f| / h: look again with Richardson extrapolation
                    # of larger steps before rejecting
                    left, right, tolerance = self._richardson(label, lhs, rhs, inputs, sizes, ranges, atol)
                    differ, unusable, witnessed = compare_float(left, right, rtol, tolerance)
                    reexamined = reexamined or not differ.any()
                finite = np.isfinite(left) & np.isfinite(right)
                worst = max(worst, float(np.abs(left[finite] - right[finite]).max(initial=0.0)))
                if differ.any():
                    position = tuple(int(p) for p in np.argwhere(differ)[0])
                    indices = {str(i): ranges[i][0] + position[n] for n, i in enumerate(ranges)}
                    error = float(np.abs(left[position] - right[position]))
                    used = float(np.max(tolerance)) if np.ndim(tolerance) else float(tolerance)
                    result.methods.append(MethodResult(
                        "float64", FAILED,
                        f"the sides differ by {error:.3g} at {self._describe_sizes([sizes]) or 'the check'} "
                        f"(rtol {rtol:g}, atol {used:.3g})", worst, time.perf_counter() - started))
                    result.counterexample = Counterexample(dict(sizes), indices, _plain_inputs(inputs),
                                                           _scalar(left[position]), _scalar(right[position]))
                    return
                if witnessed and not unusable.any():
                    checked.append(sizes)
                    break
                reason = nonfinite_reason(left, right) if unusable.any() else "no entry is finite on both sides"
            else:
                unchecked[self._describe_sizes([sizes]) or "the check"] = reason
        how = " (derivatives by central differences" + (", re-examined by Richardson extrapolation" if reexamined else "") + ")" \
            if uses_fd else ""
        missing = "; not finite at " + "; ".join(f"{where} ({why})" for where, why in unchecked.items()) if unchecked else ""
        skipped = len(plan) - len(checked) - sum(1 for _ in unchecked)
        if skipped > 0 and self.size_symbols:
            missing += f"; {skipped} of {len(plan)} size combinations not reached within {budget:g} s"
        seconds = time.perf_counter() - started
        if not checked:
            result.methods.append(MethodResult("float64", INCONCLUSIVE, f"could not be checked: the values are not finite{missing}",
                                               None, seconds))
            return
        where = self._describe_sizes([self.numeric] if self.numeric in checked else checked)
        result.methods.append(MethodResult("float64", HOLDS, (f"checked numerically at {where}" if where else "checked numerically")
                                           + how + missing, worst, seconds))

    def _float64_sides(self, label, lhs, rhs, inputs, sizes, ranges, fd_step=FD_STEP, scale=None):
        values = {**inputs, **sizes}
        try:
            with np.errstate(all="ignore"):  # NaN and inf are results here, judged by compare_float
                projected = project_large_gradients(lhs, rhs, values, sizes, self._rng(label, "directions"),
                                                    fd_step=fd_step, scale=scale)
                left, right = projected if projected else (evaluate(lhs, values, ranges, fd_step, scale),
                                                           evaluate(rhs, values, ranges, fd_step, scale))
        except DerivationError as exc:
            raise DerivationError(f"derivation {self.d.slug!r}, {label}: {exc}") from None
        except (KeyboardInterrupt, TimeBoundExceeded):
            raise
        except Exception as exc:  # NumPy or SymPy refusing an input: this derivation's error, not the run's
            raise DerivationError(f"derivation {self.d.slug!r}, {label}: the float64 evaluation raised "
                                  f"{type(exc).__name__}: {exc}") from None
        if left.shape != right.shape:
            raise DerivationError(f"derivation {self.d.slug!r}, {label}: the sides evaluate to shapes {left.shape} and {right.shape}")
        return left, right

    def _richardson(self, label, lhs, rhs, inputs, sizes, ranges, atol):
        """Both sides with every derivative by Richardson extrapolation of central differences at steps 2h, h.

        (4 D(h) - D(2h)) / 3 cancels the h^2 term of the truncation error; with h = 10 FD_STEP the
        rounding error eps |f| / h is ten times smaller. Returns the sides and their tolerance.
        """
        step = RICHARDSON_STEP
        scale: dict = {}
        coarse = self._float64_sides(label, lhs, rhs, inputs, sizes, ranges, 2 * step, scale)
        fine = self._float64_sides(label, lhs, rhs, inputs, sizes, ranges, step, scale)
        left, right = ((4 * f - c) / 3 for f, c in zip(fine, coarse))
        return left, right, 2 * _fd_atol(atol, scale, step)

    # properties ----------------------------------------------------------------------------
    def check_property(self, label, claim: Property) -> CheckResult:
        """The general argument (when the Property has one), the exact witness at each size, then float64.

        A general argument that holds is the method "symbolic, all sizes"; one that does not hold,
        raises or runs past the time bound proves nothing and leaves the verdict to the others. The
        exact witness still runs at every proof size after a general proof: two symbolic witnesses
        that disagree fail the check.
        """
        result = CheckResult("claim", label)
        if claim.general is not None:
            self._general_argument(result, label, claim)
        started = time.perf_counter()
        proved, note, timed_out = [], "", False
        for sizes in self.small:
            try:
                witness = self._witness(label, "exact", claim.exact, dict(sizes), seconds=self.config.time_bound)
            except TimeBoundExceeded:
                note, timed_out = f"; timed out at {self._describe_sizes([sizes]) or 'the check'} after {self.config.time_bound:g} s", True
                break
            if witness is None:
                continue
            if not witness.holds:
                result.methods.append(MethodResult("symbolic, each size", FAILED,
                                                   f"fails at {self._describe_sizes([sizes]) or 'the check'}: {witness.detail}",
                                                   witness.error, time.perf_counter() - started))
                result.counterexample = Counterexample(dict(sizes), {}, {}, witness.detail, "the property")
                return result
            proved.append(sizes)
        if proved:
            where = self._describe_sizes(proved)
            result.methods.append(MethodResult("symbolic, each size", PROVED if not note else INCONCLUSIVE,
                                               (f"proved for {where}" if where else "proved") + note, seconds=time.perf_counter() - started))
        elif timed_out:
            result.methods.append(MethodResult("symbolic, each size", TIMEOUT, note.lstrip("; "), seconds=time.perf_counter() - started))
        started = time.perf_counter()
        worst = None
        checked = []
        seconds = self._user_seconds()
        deadline = started + max(self.config.time_bound, MIN_FLOAT64_SECONDS)
        for number, (sizes, point) in enumerate(self._plan_after(result)):
            if number >= REQUIRED_FLOAT64 and time.perf_counter() > deadline:
                break
            rng = self._rng(label, f"property/{sorted(map(str, sizes.items()))}" + (f"/point {point}" if point else ""))
            try:
                witness = self._witness(label, "numeric", claim.numeric, rng, dict(sizes), seconds=seconds)
            except TimeBoundExceeded:
                raise DerivationError(f"derivation {self.d.slug!r}, {label}: the numeric witness did not return within "
                                      f"{seconds:g} s at {self._describe_sizes([sizes]) or 'the check'}; "
                                      "make it faster or give it smaller sizes") from None
            if witness is None:
                continue
            if witness.error is not None:
                worst = witness.error if worst is None else max(worst, witness.error)
            if not witness.holds:
                result.methods.append(MethodResult("float64", FAILED,
                                                   f"fails at {self._describe_sizes([sizes]) or 'the check'}: {witness.detail}",
                                                   worst, time.perf_counter() - started))
                result.counterexample = result.counterexample or Counterexample(dict(sizes), {}, {}, witness.detail, "the property")
                return result
            checked.append(sizes)
        if checked:
            where = self._describe_sizes([self.numeric] if self.numeric in checked else checked[-1:])
            result.methods.append(MethodResult("float64", HOLDS, f"checked numerically at {where}" if where else "checked numerically",
                                               worst, time.perf_counter() - started))
        return result

    def _user_seconds(self) -> float:
        return max(self.config.time_bound, MIN_USER_SECONDS)

    def _general_argument(self, result, label, claim: Property) -> None:
        """Run ``claim.general`` at the symbolic sizes under the time bound and record what it showed."""
        started = time.perf_counter()
        bound = self.config.time_bound
        sizes = {symbol: symbol for symbol in self.size_symbols}

        def record(status, detail):
            result.methods.append(MethodResult("symbolic, all sizes", status, detail, seconds=time.perf_counter() - started))

        try:
            witness = run_bounded(lambda: claim.general(sizes), bound)
        except TimeBoundExceeded:
            return record(TIMEOUT, f"the general argument timed out after {bound:g} s")
        except KeyboardInterrupt:
            raise
        except SystemExit as exc:
            raise DerivationError(f"derivation {self.d.slug!r}, {label}: the general witness called sys.exit({exc.code}); "
                                  "user code must return, not exit") from None
        except Exception as exc:  # SymPy refusing a form is "not proved", never a pass
            return record(INCONCLUSIVE, f"the general argument raised {type(exc).__name__}: {exc}")
        witness = self._validated(label, "general", witness)
        if witness is None:
            return record(SKIPPED, "no general argument")
        if not witness.holds:
            return record(INCONCLUSIVE, f"the general argument does not hold: {witness.detail}" if witness.detail
                          else "the general argument does not hold")
        names = ", ".join(map(str, self.size_symbols))
        because = f" (general argument: {witness.detail})" if witness.detail else ""
        record(PROVED, (f"proved for all {names}" if names else "proved") + because)

    def _witness(self, label, which, function, *args, seconds):
        """A Property's witness, run as user code; None or a Witness whose ``holds`` is a bool."""
        return self._validated(label, which, self._user_call(label, f"the {which} witness", function, *args, seconds=seconds))

    def _validated(self, label, which, witness):
        """None, or the Witness a witness returned with ``holds`` a bool and ``error`` a finite float or None."""
        if witness is None:
            return None
        where = f"derivation {self.d.slug!r}, {label}: the {which} witness"
        if not isinstance(witness, Witness):
            raise DerivationError(f"{where} returned {type(witness).__name__}; return Witness(holds, detail) or None")
        if not isinstance(witness.holds, (bool, np.bool_)):
            raise DerivationError(f"{where}'s Witness.holds is {type(witness.holds).__name__}; it must be True or False")
        error = witness.error
        if error is not None:
            try:
                error = abs(complex(error))
            except (TypeError, ValueError):
                raise DerivationError(f"{where}'s Witness.error is {type(witness.error).__name__}; give a number or None") from None
        return Witness(bool(witness.holds), str(witness.detail), None if error is None or not np.isfinite(error) else float(error))

    def _user_call(self, label, what, function, *args, seconds=None, **kwargs):
        """Call code from the derivation's file; its failures become errors naming the check and the cause.

        With ``seconds``, under that time bound (TimeBoundExceeded reaches the caller). KeyboardInterrupt
        still stops the run.
        """
        where = f"derivation {self.d.slug!r}, {label}: {what}"
        try:
            if seconds is None:
                return function(*args, **kwargs)
            return run_bounded(lambda: function(*args, **kwargs), seconds)
        except (KeyboardInterrupt, TimeBoundExceeded):
            raise
        except SystemExit as exc:
            raise DerivationError(f"{where} called sys.exit({exc.code}); user code must return, not exit") from None
        except Exception as exc:
            raise DerivationError(f"{where} raised {type(exc).__name__}: {exc}") from None

    # final result --------------------------------------------------------------------------
    def check_result(self, spec: Jacobian | Gradient, final_expr) -> CheckResult:
        result = CheckResult("result", "final result against NumPy and finite differences")
        sizes = self.numeric
        rng = self._rng("result")
        inputs = self.sample(rng, sizes)
        named = {_name(k): v for k, v in inputs.items()}
        if spec.wrt not in named:
            raise DerivationError(f"derivation {self.d.slug!r}: the result differentiates with respect to {spec.wrt!r}, "
                                  f"which is not an input; inputs are {sorted(named)}")
        ranges = {i: (1, int(sp.sympify(self.d.indices[i]).subs(sizes))) for i in spec.indices}
        started = time.perf_counter()
        label = "final result"
        try:
            derived = evaluate(self.d.expand(final_expr), {**inputs, **sizes}, ranges)
        except DerivationError as exc:
            raise DerivationError(f"derivation {self.d.slug!r}, {label}: {exc}") from None
        reference = self._user_array(label, "the reference", lambda: _call(spec.reference, named))
        if reference.shape != derived.shape:
            raise DerivationError(f"derivation {self.d.slug!r}: the NumPy reference has shape {reference.shape}, "
                                  f"the derived result {derived.shape}")
        differ, unusable, witnessed = compare_float(derived, reference, self.config.rtol * 1e3, self.config.atol * 1e3)
        finite = np.isfinite(derived) & np.isfinite(reference)
        error = float(np.max(np.abs(derived[finite] - reference[finite]), initial=0.0))
        close = not differ.any()
        where = self._describe_sizes([sizes])
        if close and (unusable.any() or not witnessed):
            result.methods.append(MethodResult("NumPy reference", INCONCLUSIVE,
                                               f"could not be compared at {where}: {nonfinite_reason(derived, reference)}",
                                               None, time.perf_counter() - started))
            return result
        result.methods.append(MethodResult("NumPy reference", HOLDS if close else FAILED,
                                           f"matches the independent NumPy implementation at {where}" if close
                                           else f"differs from the NumPy implementation by {error:.3g} at {where}",
                                           error, time.perf_counter() - started))
        if not close:
            position = tuple(int(p) for p in np.argwhere(differ)[0])
            result.counterexample = Counterexample(dict(sizes), {"entry": position}, _plain_inputs(inputs),
                                                   _scalar(derived[position]), _scalar(reference[position]))
            return result
        started = time.perf_counter()
        x = np.asarray(named[spec.wrt], dtype=float)

        def forward(value):
            return self._user_array(label, "the forward", lambda: _call(spec.forward, {**named, spec.wrt: value}), bounded=False)

        bound = 4 * self._user_seconds()
        try:
            return run_bounded(lambda: self._finite_differences(result, spec, derived, x, forward, where, sizes, inputs), bound)
        except TimeBoundExceeded:
            raise DerivationError(f"derivation {self.d.slug!r}, {label}: the forward did not finish its finite differences "
                                  f"within {bound:g} s; make it faster or give the result a smaller numeric size") from None

    def _user_array(self, label, what, call, bounded: bool = True) -> np.ndarray:
        """An array returned by user code (a reference, a forward), as float64 or complex."""
        seconds = self._user_seconds() if bounded else None
        try:
            value = self._user_call(label, what, call, seconds=seconds)
        except TimeBoundExceeded:
            raise DerivationError(f"derivation {self.d.slug!r}, {label}: {what} did not return within {seconds:g} s") from None
        try:
            array = np.asarray(value)
            return array.astype(complex) if np.iscomplexobj(array) else array.astype(float)
        except (TypeError, ValueError):
            raise DerivationError(f"derivation {self.d.slug!r}, {label}: {what} returned {type(value).__name__}, "
                                  "not an array of numbers") from None

    def _finite_differences(self, result, spec, derived, x, forward, where, sizes, inputs) -> CheckResult:
        started = time.perf_counter()
        rtol = self.config.fd_rtol
        value = forward(x)
        scale = {"function": float(np.abs(value[np.isfinite(value)]).max(initial=0.0))}
        if x.size <= 1024:
            how = "every coordinate"
            closed = derived

            def numeric(step):
                return central_difference(forward, x, h=step)
        else:
            how = "4 random directions"
            directions = self._rng("result", "directions").standard_normal((4,) + x.shape)
            closed = np.array([np.tensordot(derived, v, axes=v.ndim) for v in directions])

            def numeric(step):
                return np.array([directional_difference(forward, x, v, h=step) for v in directions])

        differences = numeric(RESULT_FD_STEP)
        tolerance = _fd_atol(self.config.fd_atol, scale, RESULT_FD_STEP)
        differ, _, _ = compare_float(differences, closed, rtol, tolerance)
        reexamined = ""
        if differ.any() and _near(differences, closed, differ, rtol, tolerance):
            # rounding of eps |f| / h: look again with Richardson extrapolation of larger steps
            differences = (4 * numeric(RICHARDSON_STEP) - numeric(2 * RICHARDSON_STEP)) / 3
            tolerance = 2 * _fd_atol(self.config.fd_atol, scale, RICHARDSON_STEP)
            differ, _, _ = compare_float(differences, closed, rtol, tolerance)
            reexamined = ", re-examined by Richardson extrapolation" if not differ.any() else ""
        finite = np.isfinite(differences) & np.isfinite(closed)
        fd_error = float(np.max(np.abs(differences[finite] - closed[finite]), initial=0.0))
        close = not differ.any()
        if close and not finite.all():
            result.methods.append(MethodResult("finite differences", INCONCLUSIVE,
                                               f"could not be compared at {where}: {nonfinite_reason(differences, closed)}",
                                               None, time.perf_counter() - started))
            return result
        result.methods.append(MethodResult("finite differences", HOLDS if close else FAILED,
                                           f"central differences along {how} agree at {where}{reexamined}" if close
                                           else f"central differences along {how} differ by {fd_error:.3g} at {where}",
                                           fd_error, time.perf_counter() - started))
        if not close:
            result.counterexample = Counterexample(dict(sizes), {}, _plain_inputs(inputs), "derived", "finite differences")
        return result


def _check_indices_declared(slug: str, expr, declared: set, bound: frozenset = frozenset()) -> None:
    """Every symbol in an index position is a declared index, a size or a summation dummy.

    An undeclared one would be sampled as a real number, so x[j] would read an arbitrary entry.
    """
    if isinstance(expr, (sp.Sum, sp.Product)):
        for _, *limits in expr.limits:
            for limit in limits:
                _check_indices_declared(slug, limit, declared, bound)
        _check_indices_declared(slug, expr.function, declared, bound | {symbol for symbol, *_ in expr.limits})
        return
    if isinstance(expr, (sp.Indexed, MatrixElement)):
        base = expr.base if isinstance(expr, sp.Indexed) else expr.parent
        shape = getattr(base, "shape", None) or ()
        for axis, index in enumerate(expr.indices):
            for symbol in sorted(sp.sympify(index).free_symbols - declared - bound, key=str):
                extent = shape[axis] if isinstance(expr, sp.Indexed) and axis < len(shape) else "..."
                raise DerivationError(
                    f"derivation {slug!r}: {expr} uses the index {symbol}, which has no declared range; "
                    f"add it to the derivation's indices (indices={{{symbol}: {extent}}}) or sum over it")
    if isinstance(expr, sp.Basic):
        for arg in expr.args:
            _check_indices_declared(slug, arg, declared, bound)


def _call(function: Callable, named: Mapping):
    """Call ``function`` with the inputs it names (all of them if it takes ``**kwargs``)."""
    parameters = inspect.signature(function).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return function(**named)
    wanted = {p.name for p in parameters}
    missing = wanted - set(named)
    if missing:
        raise DerivationError(f"{function.__name__} takes {sorted(missing)}, which are not inputs of the derivation; "
                              f"inputs are {sorted(named)}")
    return function(**{k: v for k, v in named.items() if k in wanted})


def _fd_atol(atol: float, scale: dict, step: float) -> float:
    """The absolute tolerance of a central difference: the configured one, or its rounding error if larger.

    f(x + h) - f(x - h) is computed with an error of a few eps |f|, so the difference quotient carries
    an error of about eps |f| / h: a function of size 10^4 rounds at 10^-7 for h = 10^-5 whatever its
    derivative is.
    """
    return max(atol, FD_ROUNDING * np.finfo(float).eps * scale.get("function", 0.0) / step)


def _near(left, right, differ, rtol, atol) -> bool:
    """The worst difference is within NEAR_TOLERANCE times the tolerance: worth a second, more accurate look."""
    excess = np.abs(left[differ] - right[differ]) / (atol + rtol * np.abs(right[differ]))
    return bool(excess.max(initial=0.0) < NEAR_TOLERANCE)


def _scalar(value):
    """A NumPy entry as a Python number (complex where it has an imaginary part)."""
    value = complex(value) if np.iscomplexobj(value) else float(value)
    return value.real if isinstance(value, complex) and value.imag == 0 else value


def _name(thing) -> str:
    return str(thing.label) if isinstance(thing, sp.IndexedBase) else str(thing)


def _plain_inputs(inputs) -> dict:
    out = {}
    for thing, value in inputs.items():
        array = np.asarray(value)
        out[_name(thing)] = array.astype(float).round(6).tolist() if array.dtype != object else np.vectorize(str, otypes=[object])(array).tolist() if array.ndim else str(value)
    return out


def _has_matrices(expr) -> bool:
    return bool(getattr(expr, "is_Matrix", False)) or expr.has(sp.MatrixExpr, MatrixElement)
