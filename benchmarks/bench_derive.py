"""Time `symformer.derive` on each course target (target: under 1 s each), and tensorgrad beside it.

Each row derives one target from scratch (the matching caches emptied first) and reports the best of
three runs, the number of rows and whether the result verifies (verification is not timed). If
tensorgrad 0.3.0 is installed, the last rows time its derivative and full simplification of
attention's dQ in the same process, the expression symformer derives as ``attention-dq``.

    python benchmarks/bench_derive.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

TARGET_SECONDS = 1.0
RUNS = 3

# The targets are the test suite's table, so the benchmark times exactly what the tests check.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def _timed(function) -> tuple[float, float, object]:
    """(first run, best of RUNS, result): the first run pays SymPy's own caches, later runs do not."""
    from symformer.engine import derive as engine

    times, result = [], None
    for _ in range(RUNS):
        engine._canonical.cache_clear()
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return times[0], min(times), result


def _tensorgrad_dq():
    from sympy import symbols
    from tensorgrad import Variable
    import tensorgrad.functions as F

    seq, key, seq_k = symbols("seq key seq_k")
    Q, K = Variable("Q", seq=seq, key=key), Variable("K", seq_k=seq_k, key=key)
    dP = Variable("dP", seq=seq, seq_k=seq_k)
    loss = dP @ F.softmax(Q @ K, dim="seq_k")
    return loss.grad(Q).full_simplify()


def main() -> None:
    from test_derive import TARGETS

    from symformer import verify

    rows = []
    for name, make in TARGETS.items():
        first, best, derivation = _timed(make)
        rows.append((name, first, best, len(derivation.steps), verify(derivation).ok))
    width = max(len(r[0]) for r in rows)
    print(f"{'target':<{width}}  {'first (s)':>9}  {'best (s)':>8}  {'rows':>4}  verified  under {TARGET_SECONDS:g} s")
    for name, first, best, count, ok in rows:
        print(f"{name:<{width}}  {first:>9.3f}  {best:>8.3f}  {count:>4}  {'yes' if ok else 'NO':<8}  "
              f"{'yes' if first < TARGET_SECONDS else 'NO'}")
    try:
        import tensorgrad  # noqa: F401
        from importlib.metadata import version
    except ImportError:
        print("\ntensorgrad is not installed: pip install tensorgrad==0.3.0 to time it beside symformer")
        return
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        _tensorgrad_dq()
        best = min(best, time.perf_counter() - started)
    first, ours = next((r[1], r[2]) for r in rows if r[0] == "attention-dq")
    print(f"\nattention dQ, same process, best of {RUNS}: symformer derive {ours:.3f} s (first {first:.3f} s; "
          f"its rows verified separately); tensorgrad {version('tensorgrad')} grad + full_simplify {best:.3f} s "
          f"(no steps, no verification)")


if __name__ == "__main__":
    main()
