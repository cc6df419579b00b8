"""Time `symformer build` of the built-in course: cold, warm in the same folder, and into a new folder.

Targets on a 2-core machine: cold build with LaTeX < 60 s, warm rebuild with nothing changed < 3 s,
a build into a new folder with a warm cache < 5 s with LaTeX (verdicts, figures, worked examples and
the compiled PDFs come from the cache; the .tex files are written anew), and the same without
compiling for reference. Each run is the real command line in a fresh process with its own cache folder, so
"cold" means nothing cached. The machine may be shared: the table also gives each run's time as a
ratio of the cold build measured in the same run, which moves less than the seconds do.

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

TARGETS = {"cold, with LaTeX": 60.0, "warm, same folder": 3.0, "new folder, warm cache": None,
           "new folder, warm cache, with LaTeX": 5.0, "cold, no LaTeX": None}


def run(arguments: list, cache: Path) -> tuple:
    """Wall-clock and CPU seconds (this process's children) of one build."""
    env = {**os.environ, "SYMFORMER_CACHE_DIR": str(cache)}
    before = os.times()
    started = time.perf_counter()
    # --allow-unverified: a derivation another author is still fixing must not stop the timing
    completed = subprocess.run([sys.executable, "-m", "symformer", "build", "--allow-unverified", *arguments], env=env,
                               capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = os.times()
    if completed.returncode != 0:
        sys.exit(f"symformer build {' '.join(arguments)} failed:\n{completed.stderr}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return seconds, cpu


def main(paths: list) -> None:
    has_latex = shutil.which("pdflatex") is not None
    times = {}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        cache = scratch / "cache"
        if has_latex:
            times["cold, with LaTeX"] = run([*paths, "-o", str(scratch / "a")], cache)
            times["warm, same folder"] = run([*paths, "-o", str(scratch / "a")], cache)
            times["new folder, warm cache"] = run([*paths, "-o", str(scratch / "b"), "--no-pdf"], cache)
            times["new folder, warm cache, with LaTeX"] = run([*paths, "-o", str(scratch / "c")], cache)
        times["cold, no LaTeX"] = run([*paths, "-o", str(scratch / "d"), "--no-pdf"], scratch / "cache-d")
        if not has_latex:  # the targets of the LaTeX runs, measured without it
            times["warm, same folder"] = run([*paths, "-o", str(scratch / "d"), "--no-pdf"], scratch / "cache-d")
            times["new folder, warm cache"] = run([*paths, "-o", str(scratch / "e"), "--no-pdf"], scratch / "cache-d")
    reference = times.get("cold, with LaTeX", times["cold, no LaTeX"])[0]
    print(f"symformer build of {' '.join(paths) or 'the built-in course'} on {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'run':<36}{'seconds':>9}{'CPU s':>8}{'target':>8}{'of target':>11}{'of cold':>9}")
    for name, (seconds, cpu) in times.items():
        target = TARGETS[name]
        shown = f"{target:>8.0f}{seconds / target:>11.2f}" if target else f"{'-':>8}{'-':>11}"
        print(f"{name:<36}{seconds:>9.2f}{cpu:>8.2f}{shown}{seconds / reference:>9.2f}")
    if not has_latex:
        print("no pdflatex: the runs with LaTeX were skipped")


if __name__ == "__main__":
    main(sys.argv[1:])
