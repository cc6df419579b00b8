"""Time `symformer verify` over the whole built-in catalog as a cold process: wall time and peak memory.

Each row is a fresh `python -m symformer verify` process; "cold" rows start from an empty verdict
cache, "warm" reuses the cache the previous row filled. Target at the engine stage: cold under 10 s
on a 2-core machine.

    python benchmarks/bench_verify.py
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time

TARGET_SECONDS = 10.0


def run(argv: list, cache: str) -> tuple[float, float, int]:
    """Wall seconds, peak resident MiB of the slowest child, exit code."""
    env = {**os.environ, "SYMFORMER_CACHE_DIR": cache}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "symformer", *argv], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
    if done.returncode not in (0, 1):
        sys.exit(f"symformer {' '.join(argv)} exited {done.returncode}:\n{done.stderr}")
    return seconds, peak, done.returncode


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
        rows.append(("cold, 1 process", *run(["verify", "--quiet", "--jobs", "1"], one)))
        rows.append(("cold, 2 processes", *run(["verify", "--quiet", "--jobs", "2"], two)))
        rows.append(("warm (cached)", *run(["verify", "--quiet"], two)))
    count = subprocess.run([sys.executable, "-m", "symformer", "list"], capture_output=True, text=True).stdout.count("\n")
    base = rows[0][1]
    print(f"symformer verify over the built-in catalog ({count} derivations), {os.cpu_count()} cores")
    print(f"{'run':<20} {'wall s':>8} {'vs 1 proc':>10} {'peak MiB':>9} {'exit':>5}")
    for name, seconds, peak, code in rows:
        print(f"{name:<20} {seconds:8.2f} {seconds / base:9.2f}x {peak:9.0f} {code:5d}")
    best_cold = min(rows[0][1], rows[1][1])
    verdict = "met" if best_cold < TARGET_SECONDS else "NOT met"
    print(f"target: cold under {TARGET_SECONDS:.0f} s -> {verdict} ({best_cold:.2f} s)")


if __name__ == "__main__":
    main()
