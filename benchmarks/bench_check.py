"""Time `symformer check` on LaTeX files as cold processes: the 20-step file and the examples.

Each row is a fresh `python -m symformer check FILE` process (reading, verifying every step, printing),
so the times include Python's start and the imports. Target: the 20-step file under 5 s on 2 cores.
The planted-error files are slower than their correct twins: a step after the wrong one is checked
again against the last right expression.

    python benchmarks/bench_check.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 5.0
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FILES = ["twenty-steps.tex", "softmax-homework.tex", "softmax-homework-wrong.tex", "softmax-homework.md",
         "softmax-homework-wrong.md", "attention-backward.tex", "attention-backward-wrong.tex"]


def run(path: Path) -> tuple:
    """Wall seconds, exit code and step count of one cold `symformer check`."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "SYMFORMER_CACHE_DIR": cache}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "symformer", "check", str(path), "--format", "json"], env=env,
                              capture_output=True, text=True)
        seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.exit(f"symformer check {path} exited {done.returncode}:\n{done.stderr}")
    import json

    steps = sum(len(c["steps"]) for f in json.loads(done.stdout)["files"] for c in f["chains"])
    return seconds, done.returncode, steps


def main() -> None:
    rows = [(name, *run(EXAMPLES / name)) for name in FILES]
    print(f"symformer check, cold processes, {os.cpu_count()} cores; target: twenty-steps.tex under {TARGET_SECONDS:g} s")
    print(f"{'file':<30} {'steps':>5} {'wall s':>8} {'s/step':>7} {'exit':>5}")
    for name, seconds, code, steps in rows:
        print(f"{name:<30} {steps:5d} {seconds:8.2f} {seconds / max(steps, 1):7.2f} {code:5d}")
    twenty = rows[0][1]
    print(f"twenty-steps.tex: {twenty:.2f} s, {'within' if twenty < TARGET_SECONDS else 'OVER'} the {TARGET_SECONDS:g} s target")


if __name__ == "__main__":
    main()
