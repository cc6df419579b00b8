"""Time the index-notation prover on the general attention gradients, before and after, and tensorgrad beside it.

Each row is one proof "for all sizes" of the course (dQ, dK, dV of attention; dV and dK of a
grouped-query group; the grouped-query backward end to end): the seconds of ``equal_in_general``
with SymPy's cache emptied before each run, the best of three runs in each of three rounds, a fresh
process per engine and round so that neither warms the other's caches, the engines taking turns so
that a change in the machine's load falls on both. "before" is the engine of another checkout (a git worktree
of main, given with ``--before``), "after" this one; both run in the same invocation, side by side.
The last row times tensorgrad 0.3.0 deriving and fully simplifying the same dQ, when a Python with
tensorgrad is given with ``--tensorgrad-python`` (a separate venv: tensorgrad pulls in torch).

    git worktree add --detach /tmp/symformer-main main
    python benchmarks/bench_prover.py --before /tmp/symformer-main --tensorgrad-python /tmp/tgvenv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

RUNS = 3
#: Rounds in which the two engines take turns; each row reports the best of ROUNDS x RUNS.
ROUNDS = 3
#: (derivation, check): the general attention gradients of the course, in index notation.
PROOFS = [
    ("attention-backward-q-general", "step 1", "dQ"),
    ("attention-backward-kv-general", "step 1", "dK"),
    ("attention-backward-kv-general", "claim", "dV"),
    ("grouped-query-kv-gradient", "step 1", "grouped dV"),
    ("grouped-query-kv-gradient", "claim", "grouped dK"),
    ("grouped-query-attention-backward", "step 1", "grouped dV, end to end"),
]

# Runs inside the measured checkout: prints one JSON line per proof.
_MEASURE = r"""
import json, sys, time
import sympy as sp
from sympy.core.cache import clear_cache
from symformer import catalog
from symformer.engine.model import Claim, _free_symbols
from symformer.engine.index import equal_in_general

RUNS, proofs = int(sys.argv[1]), json.loads(sys.argv[2])
course = catalog()
for slug, which, _ in proofs:
    d = course[slug]
    if which == "step 1":
        lhs, rhs, extra = d.lhs, d.steps[0].expr, None
    else:
        claim = next(c for c in d.claims if isinstance(c, Claim))
        lhs, rhs, extra = claim.lhs, claim.rhs, claim.indices
    lhs, rhs = d.expand(lhs), d.expand(rhs)
    used = _free_symbols(lhs) | _free_symbols(rhs)
    ranges = {i: (1, b) for i, b in {**d.indices, **(extra or {})}.items() if i in used}
    floors = {s: 1 if s.is_positive else 0 for s in d.sizes}
    times, verdict = [], None
    for _ in range(RUNS):
        clear_cache()
        started = time.perf_counter()
        try:
            verdict = "proved" if equal_in_general(lhs, rhs, ranges, floors) else "not proved"
        except Exception as exc:
            verdict = f"not proved ({type(exc).__name__})"
        times.append(time.perf_counter() - started)
    print(json.dumps({"slug": slug, "check": which, "seconds": min(times), "verdict": verdict}))
"""

_WHICH_ENGINE = r"""
import symformer.engine.index
print("engine", symformer.engine.index.__file__)
"""

_TENSORGRAD = r"""
import sys, time
import sympy as sp
import tensorgrad as tg
import tensorgrad.functions as F

best = None
for _ in range(int(sys.argv[1])):
    sp.core.cache.clear_cache()
    started = time.perf_counter()
    seq, key, hs, dv = sp.symbols("seq key hs dv")
    Q, K = tg.Variable("Q", seq, hs), tg.Variable("K", key, hs)
    V, dO = tg.Variable("V", key, dv), tg.Variable("dO", seq, dv)
    output = F.dot(F.softmax(F.dot(Q, K, dim="hs"), dim="key"), V, dim="key")
    dQ = F.sum(dO * output).grad(Q).full_simplify()
    seconds = time.perf_counter() - started
    assert set(dQ.edges) == {"seq", "hs"}, dQ.edges
    best = seconds if best is None else min(best, seconds)
print(best)
"""


def _measure(checkout: Path) -> dict:
    environment = {**os.environ, "PYTHONPATH": str(checkout)}
    # run from the checkout: python -c puts the working folder first on the path, before PYTHONPATH
    done = subprocess.run([sys.executable, "-c", _MEASURE + _WHICH_ENGINE, str(RUNS), json.dumps(PROOFS)], env=environment,
                          cwd=checkout, capture_output=True, text=True, check=True)
    engine = next(line for line in done.stdout.splitlines() if line.startswith("engine "))
    if not engine.endswith(str(checkout / "symformer" / "engine" / "index.py")):
        raise SystemExit(f"measured the wrong engine: {engine}")
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {(row["slug"], row["check"]): row for row in rows}


def _tensorgrad(python: str | None) -> str:
    if not python:
        return "not run: give --tensorgrad-python, a Python with tensorgrad 0.3.0 installed"
    try:
        done = subprocess.run([python, "-c", _TENSORGRAD, str(RUNS)], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"could not run: {exc}"
    if done.returncode != 0:
        return "could not run: " + (done.stderr.strip().splitlines() or ["no output"])[-1]
    return f"{float(done.stdout.strip()):.3f} s"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the engine to compare with (main)")
    parser.add_argument("--tensorgrad-python", help="a Python interpreter with tensorgrad 0.3.0")
    args = parser.parse_args(argv)
    after_checkout = Path(__file__).resolve().parent.parent
    # the engines take turns, so that a change in the machine's load falls on both alike
    before, after = {}, {}
    for _ in range(ROUNDS):
        for measured, checkout in ((before, args.before.resolve()), (after, after_checkout)):
            for key, row in _measure(checkout).items():
                if key not in measured or row["seconds"] < measured[key]["seconds"]:
                    measured[key] = row
    header = ("proof", "before (s)", "before", "after (s)", "after", "before / after")
    rows = [header]
    for slug, which, name in PROOFS:
        old, new = before[(slug, which)], after[(slug, which)]
        ratio = f"{old['seconds'] / new['seconds']:.1f}x" if new["seconds"] > 0 else "-"
        rows.append((f"{name} ({slug}, {which})", f"{old['seconds']:.3f}", old["verdict"], f"{new['seconds']:.3f}",
                     new["verdict"], ratio))
    widths = [max(len(row[k]) for row in rows) for k in range(len(header))]
    for number, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if number == 0:
            print("  ".join("-" * width for width in widths))
    print(f"\ntensorgrad 0.3.0, derive and full_simplify attention's dQ (best of {RUNS}): "
          f"{_tensorgrad(args.tensorgrad_python)}")
    print(f"before: {args.before.resolve()}; after: {after_checkout}; best of {ROUNDS} rounds of {RUNS} runs, the engines "
          "taking turns, SymPy's cache emptied before each run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
