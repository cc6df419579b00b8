"""Time `symformer build` of the built-in course: cold without LaTeX, cold with it, warm rebuild.

Targets (on a 2-core machine): cold without compiling < 30 s, cold with compiling < 90 s,
warm rebuild with nothing changed < 5 s. Each run is the real command line in a fresh process, with
its own verdict cache, so "cold" means nothing cached and "warm" means the previous run's cache and
output folder are reused.

    python benchmarks/bench_build.py [PATH ...]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"cold, no LaTeX": 30.0, "cold, with LaTeX": 90.0, "warm, nothing changed": 5.0}


def run(arguments: list, cache: Path) -> float:
    env = {**os.environ, "SYMFORMER_CACHE_DIR": str(cache)}
    started = time.perf_counter()
    # --allow-unverified: a derivation another author is still fixing must not stop the timing
    completed = subprocess.run([sys.executable, "-m", "symformer", "build", "--allow-unverified", *arguments], env=env,
                               capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"symformer build {' '.join(arguments)} failed:\n{completed.stderr}")
    return seconds


def main(paths: list) -> None:
    has_latex = shutil.which("pdflatex") is not None
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        times = {"cold, no LaTeX": run([*paths, "-o", str(scratch / "a"), "--no-pdf"], scratch / "cache-a")}
        if has_latex:
            times["cold, with LaTeX"] = run([*paths, "-o", str(scratch / "b")], scratch / "cache-b")
            times["warm, nothing changed"] = run([*paths, "-o", str(scratch / "b")], scratch / "cache-b")
        else:
            times["warm, nothing changed"] = run([*paths, "-o", str(scratch / "a"), "--no-pdf"], scratch / "cache-a")
    print(f"symformer build of {' '.join(paths) or 'the built-in course'} on {os.cpu_count()} cores")
    print(f"{'run':<24}{'seconds':>9}{'target':>9}{'ratio':>8}")
    for name, seconds in times.items():
        target = TARGETS[name]
        print(f"{name:<24}{seconds:>9.2f}{target:>9.0f}{seconds / target:>8.2f}")
    if not has_latex:
        print("no pdflatex: the run with LaTeX was skipped")


if __name__ == "__main__":
    main(sys.argv[1:])
