"""Time `symformer verify` over the whole built-in catalog as a cold process: wall time and peak memory.

Each row is a fresh `python -m symformer verify` process; "cold" rows start from an empty verdict
cache, "warm" reuses the cache the previous row filled. The engine's target, set when the course
was the softmax family alone: cold under 10 s on a 2-core machine. The whole course is timed too,
and so is the adversarial suite of tests/adversarial (one process, the settings of its test), with
its counts: wrong derivations rejected, correct ones accepted, false proof labels.

    python benchmarks/bench_verify.py
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

TARGET_SECONDS = 10.0
SOFTMAX_FAMILY = ["softmax-jacobian", "log-softmax-jacobian", "softmax-temperature", "cross-entropy-gradient",
                  "cross-entropy-gradient-probability-targets", "softmax-max-subtraction"]


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


ADVERSARIAL = """
import json, sys, time
sys.path.insert(0, "tests")
from adversarial import cases
from adversarial._common import false_labels
from symformer import VerifyConfig, verify
config = VerifyConfig(time_bound=1.0)
started = time.perf_counter()
wrong = [verify(c.derivation, config) for c in cases("WRONG")]
right = [verify(c.derivation, config) for c in cases("CORRECT")]
false = sum(1 for c, r in zip(cases("WRONG"), wrong) for check in r.checks if false_labels(c.derivation, check))
print(json.dumps({"seconds": time.perf_counter() - started, "wrong": len(wrong), "rejected": sum(not r.ok for r in wrong),
                  "correct": len(right), "accepted": sum(r.ok for r in right), "false labels": false}))
"""


def adversarial() -> dict:
    """The adversarial suite in one fresh process: its seconds and counts."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", ADVERSARIAL], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": root})
    if done.returncode != 0:
        sys.exit(f"the adversarial suite did not run:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as zero, tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
        family = run(["verify", "--quiet", *SOFTMAX_FAMILY], zero)
        rows.append(("cold, 1 process", *run(["verify", "--quiet", "--jobs", "1"], one)))
        rows.append(("cold, 2 processes", *run(["verify", "--quiet", "--jobs", "2"], two)))
        rows.append(("warm (cached)", *run(["verify", "--quiet"], two)))
    count = subprocess.run([sys.executable, "-m", "symformer", "list"], capture_output=True, text=True).stdout.count("\n")
    base = rows[0][1]
    print(f"symformer verify over the built-in catalog ({count} derivations), {os.cpu_count()} cores")
    print(f"{'run':<20} {'wall s':>8} {'vs 1 proc':>10} {'peak MiB':>9} {'exit':>5}")
    for name, seconds, peak, code in rows:
        print(f"{name:<20} {seconds:8.2f} {seconds / base:9.2f}x {peak:9.0f} {code:5d}")
    print(f"{'softmax family':<20} {family[0]:8.2f} {family[0] / base:9.2f}x {family[1]:9.0f} {family[2]:5d}")
    for what, seconds in (("softmax family", family[0]), ("whole course", min(rows[0][1], rows[1][1]))):
        verdict = "met" if seconds < TARGET_SECONDS else "NOT met"
        print(f"target: {what} cold under {TARGET_SECONDS:.0f} s -> {verdict} ({seconds:.2f} s)")
    suite = adversarial()
    print(f"{'adversarial suite':<20} {suite['seconds']:8.2f} {suite['seconds'] / base:9.2f}x  "
          f"wrong rejected {suite['rejected']}/{suite['wrong']}, correct accepted {suite['accepted']}/{suite['correct']}, "
          f"false labels {suite['false labels']}")


if __name__ == "__main__":
    main()
