"""Time what site/ adds to `symformer build` of the built-in course, and weigh it.

Targets (on a 2-core machine): the full build with the site takes less than 15 s more than the same
build with --no-site; the site weighs less than 5 MB; a rebuild with nothing changed rewrites
nothing. Each run is the real command line in a fresh process with its own verdict cache, the two
cold builds side by side in one run, so they share the machine's load.

    SYMFORMER_KATEX=path/to/node_modules/katex python benchmarks/bench_site.py [--no-pdf]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ADDED_SECONDS = 15.0
SITE_BYTES = 5_000_000


def run(arguments: list, cache: Path) -> tuple:
    env = {**os.environ, "SYMFORMER_CACHE_DIR": str(cache)}
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, "-m", "symformer", "build", "--allow-unverified", *arguments], env=env,
                               capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"symformer build {' '.join(arguments)} failed:\n{completed.stderr}")
    phase = re.search(r"site (\d+\.\d+) s", completed.stderr)
    if phase is None:
        sys.exit(f"no site was built (is KaTeX installed?):\n{completed.stderr[-400:]}")
    return seconds, float(phase.group(1))


def main(extra: list) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        env = {**os.environ, "SYMFORMER_CACHE_DIR": str(scratch / "cache-a")}
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "symformer", "build", "--allow-unverified", "--no-site", *extra,
                        "-o", str(scratch / "a")], env=env, check=True, capture_output=True)
        without = time.perf_counter() - started
        with_site, phase = run([*extra, "-o", str(scratch / "b")], scratch / "cache-b")
        site = scratch / "b" / "site"
        files = [p for p in site.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        stamps = {p: p.stat().st_mtime_ns for p in files}
        warm, warm_phase = run([*extra, "-o", str(scratch / "b")], scratch / "cache-b")
        rewritten = sum(1 for p in files if p.stat().st_mtime_ns != stamps[p])
        pages = len(list(site.glob("*.html")))
        formulas = sum(p.read_text().count('<span class="katex">') for p in site.glob("*.html"))
    kind = "no LaTeX" if "--no-pdf" in extra else "with LaTeX"
    print(f"symformer build of the built-in course ({kind}) on {os.cpu_count()} cores")
    print(f"{'measure':<34}{'value':>12}{'target':>12}")
    print(f"{'cold build, --no-site (s)':<34}{without:>12.2f}")
    print(f"{'cold build, with site (s)':<34}{with_site:>12.2f}")
    print(f"{'site added, wall clock (s)':<34}{with_site - without:>12.2f}{ADDED_SECONDS:>12.0f}")
    print(f"{'site phase alone (s)':<34}{phase:>12.2f}{ADDED_SECONDS:>12.0f}")
    print(f"{'warm rebuild (s)':<34}{warm:>12.2f}")
    print(f"{'warm site phase (s)':<34}{warm_phase:>12.2f}")
    print(f"{'site files rewritten when warm':<34}{rewritten:>12d}{0:>12d}")
    print(f"{'site size (MB)':<34}{size / 1e6:>12.2f}{SITE_BYTES / 1e6:>12.0f}")
    print(f"{'site files / pages / formulas':<34}{f'{len(files)}/{pages}/{formulas}':>12}")


if __name__ == "__main__":
    main(sys.argv[1:])
